package outcomes

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/redisretry"
)

func TestBatchStatusAndWait(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		r := newReader(t, rdb)
		if _, err := r.Batch(ctx, "nope"); !errors.Is(err, ErrNoBatch) {
			t.Fatalf("missing batch: err = %v, want ErrNoBatch", err)
		}
		key := reqrdb.BatchKey("q1", "B")
		created := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
		rdb.HSet(ctx, key, reqrdb.BatchCreated, created.UnixMilli(), reqrdb.BatchAccepted, 3)
		rdb.ZAdd(ctx, reqrdb.BatchesKey("q1"), redis.Z{Score: float64(created.UnixMilli()), Member: "B"})

		st, err := r.Batch(ctx, "B")
		if err != nil {
			t.Fatal(err)
		}
		if st.Complete() || st.Expected() != 3 || !st.Created.Equal(created) {
			t.Fatalf("open batch: %+v", st)
		}

		progress := make(chan BatchStatus, 100)
		waited := make(chan error, 1)
		go func() {
			_, err := r.Wait(ctx, "B", 2*time.Millisecond, func(s BatchStatus) { progress <- s })
			waited <- err
		}()
		<-progress // Wait is polling
		rdb.HSet(ctx, key, reqrdb.BatchDone, 3, reqrdb.BatchResponses, 2, reqrdb.BatchExceptions, 1)
		<-progress
		select {
		case err := <-waited:
			t.Fatalf("Wait returned %v before the batch was sealed", err)
		default:
		}
		rdb.HSet(ctx, key, reqrdb.BatchTotal, 3, reqrdb.BatchSealed, 1)
		if err := <-waited; err != nil {
			t.Fatal(err)
		}
		list, err := r.Batches(ctx, 10)
		if err != nil || len(list) != 1 || !list[0].Complete() || list[0].Responses != 2 || list[0].Exceptions != 1 || list[0].Orphaned {
			t.Fatalf("Batches = %+v, %v", list, err)
		}
		rdb.HSet(ctx, key, reqrdb.BatchOrphaned, 1) // sealed by a sweep
		if st, err := r.Batch(ctx, "B"); err != nil || !st.Orphaned {
			t.Fatalf("orphaned batch: %+v, %v", st, err)
		}
	})
}

func TestWaitEndsWithContext(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		r := newReader(t, rdb)
		rdb.HSet(context.Background(), reqrdb.BatchKey("q1", "B"), reqrdb.BatchAccepted, 1)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := r.Wait(ctx, "B", time.Millisecond, nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

// Wait rides out Redis failing for a while with an error that passes, and
// gives up with redisretry.ErrUnavailable when it lasts too long.
func TestWaitRedisOutage(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { rdb.Close() })
	r := newReader(t, rdb)
	ctx := context.Background()
	key := reqrdb.BatchKey("q1", "B")
	rdb.HSet(ctx, key, reqrdb.BatchAccepted, 1, reqrdb.BatchTotal, 1, reqrdb.BatchSealed, 1)

	t.Run("back in time", func(t *testing.T) {
		m.SetError("LOADING Redis is loading the dataset in memory")
		progress := make(chan BatchStatus, 100)
		waited := make(chan error, 1)
		go func() {
			_, err := r.Wait(ctx, "B", time.Millisecond, func(s BatchStatus) { progress <- s })
			waited <- err
		}()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for range 5 { // Wait tries while Redis fails
			select {
			case s := <-progress:
				t.Fatalf("progress %+v while Redis failed", s)
			case err := <-waited:
				t.Fatalf("Wait returned %v while Redis failed", err)
			case <-tick.C:
			}
		}
		m.SetError("")
		rdb.HSet(ctx, key, reqrdb.BatchDone, 1)
		if err := <-waited; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("too long", func(t *testing.T) {
		r.SetRedisRetryFor(30 * time.Millisecond)
		m.SetError("LOADING for good")
		defer m.SetError("")
		if _, err := r.Wait(ctx, "B", time.Millisecond, nil); !errors.Is(err, redisretry.ErrUnavailable) {
			t.Fatalf("err = %v, want redisretry.ErrUnavailable", err)
		}
	})
}

func TestExpected(t *testing.T) {
	tests := []struct {
		name string
		st   BatchStatus
		want int64
	}{
		{"sealed: the total", BatchStatus{Sealed: true, Total: 5, Accepted: 9, Queued: 9, Rejected: 1}, 5},
		{"open, accepted written", BatchStatus{Accepted: 3}, 3},
		{"open, queued ahead of accepted (an inbox batch)", BatchStatus{Accepted: 0, Queued: 1}, 1},
		{"open, with entries rejected", BatchStatus{Accepted: 2, Queued: 2, Rejected: 2, Done: 4}, 4},
	}
	for _, tc := range tests {
		if got := tc.st.Expected(); got != tc.want {
			t.Errorf("%s: Expected() = %d, want %d", tc.name, got, tc.want)
		}
	}
}
