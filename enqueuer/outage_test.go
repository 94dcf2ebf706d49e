package enqueuer

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/redisretry"
	"github.com/reqfleet/reqfleet/tasks"
)

// TestEnqueueManyRidesOutAnOutage: Redis fails with an error that passes
// (LOADING, as a restarting Redis says) for a while mid-batch; EnqueueMany
// keeps trying with backoff and enqueues every job once.
func TestEnqueueManyRidesOutAnOutage(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		v := newMini(t, func(c *Config) { c.Concurrency = 4 }, path)
		v.e.retry = redisretry.Policy{For: 10 * time.Second, First: time.Millisecond, Max: 5 * time.Millisecond}
		var failures atomic.Int64
		back := make(chan struct{})
		v.e.hooks.onBackoff = func(error) {
			if failures.Add(1) == 20 { // down long enough for many tries
				close(back)
			}
		}
		go func() {
			select {
			case <-back:
				v.mr.SetError("")
			case <-t.Context().Done(): // the test failed before
			}
		}()
		const n = 300
		jobs := func(yield func(tasks.Job, error) bool) {
			for i := range n {
				if i == 100 {
					v.mr.SetError("LOADING Redis is loading the dataset in memory")
				}
				if !yield(tasks.Job{ID: "j" + strconv.Itoa(i), URL: "http://h/" + strconv.Itoa(i)}, nil) {
					return
				}
			}
		}
		rec, err := v.e.EnqueueMany(context.Background(), jobs)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Accepted != n || len(v.pending(t)) != n || failures.Load() < 20 {
			t.Fatalf("receipt %+v, %d pending, %d failures", rec, len(v.pending(t)), failures.Load())
		}
		wantHash(t, v.hash(t, rec.Batch), map[string]int{rdb.BatchTotal: n, rdb.BatchSealed: 1})
	})
}

// TestRedisDownTooLong: past RedisRetryFor the error says so, in one line,
// wrapping ErrRedisUnavailable (and ErrEnqueue).
func TestRedisDownTooLong(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		v := newMini(t, nil, path)
		v.mr.SetError("LOADING down for good")
		start := time.Now()
		_, err := v.e.NewBatch(context.Background())
		if !errors.Is(err, ErrRedisUnavailable) || !errors.Is(err, ErrEnqueue) {
			t.Fatalf("err = %v, want ErrRedisUnavailable and ErrEnqueue", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("gave up after %v, RedisRetryFor is 50ms", d)
		}
	})
}

// TestRedisPermanentErrorFailsAtOnce: an error that cannot pass is not
// tried again.
func TestRedisPermanentErrorFailsAtOnce(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		v := newMini(t, nil, path)
		v.e.retry.For = time.Hour
		var tries atomic.Int64
		v.e.hooks.onBackoff = func(error) { tries.Add(1) }
		v.mr.SetError("NOAUTH Authentication required.")
		_, err := v.e.NewBatch(context.Background())
		if err == nil || errors.Is(err, ErrRedisUnavailable) || tries.Load() != 0 {
			t.Fatalf("err = %v after %d retries, want a failure at once", err, tries.Load())
		}
	})
}
