package rdb

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/internal/testredis"
)

// A batch's lease, its queued count and the sealing of an orphan.
func TestSealOrphans(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		enc := NewMessageEncoder("q", "request", 25, time.Minute)
		for _, id := range []string{"B", "C", "D", "E"} {
			ok, err := c.NewBatch(ctx, "q", id, "tok", testNow, time.Hour, time.Hour)
			must(t, err)
			if !ok {
				t.Fatalf("batch %s not created", id)
			}
		}
		if n := r.ZCard(ctx, OpenBatchesKey("q")).Val(); n != 4 {
			t.Fatalf("%d open batches, want 4", n)
		}
		if s := r.ZScore(ctx, OpenBatchesKey("q"), "B").Val(); s < float64(time.Now().Add(50*time.Minute).UnixMilli()) {
			t.Fatalf("lease of B until %v, want an hour from now", time.UnixMilli(int64(s)))
		}
		enqueue := func(ids []string, batches []string) []Enqueued {
			t.Helper()
			msgs := make([][]byte, len(ids))
			for i, id := range ids {
				msgs[i] = enc.Encode(id, nil)
			}
			res, err := c.EnqueueMany(ctx, "q", testNow, ids, msgs, batches)
			must(t, err)
			return res
		}
		// B: two jobs counted (one sent twice), one retry not counted;
		// C: one job, sealed by its enqueuer; D: dropped; E: alive.
		got := enqueue([]string{"B:1:a", "B:1:b", "B:1:a", "B:2:x", "C:1:a"}, []string{"B", "B", "B", "", "C"})
		if want := []Enqueued{EnqueuedNow, EnqueuedNow, EnqueuedExisted, EnqueuedNow, EnqueuedNow}; !slices.Equal(got, want) {
			t.Fatalf("enqueued %v, want %v", got, want)
		}
		if q := r.HGet(ctx, BatchKey("q", "B"), BatchQueued).Val(); q != "2" {
			t.Fatalf("B queued %q, want 2", q)
		}
		for range 2 { // counted: queued, whatever the enqueuer's count; run again, the same
			if n, err := c.SealBatch(ctx, "q", "C", 7, true, time.Hour); err != nil || n != 1 {
				t.Fatalf("SealBatch C: %d, %v", n, err)
			}
		}
		must(t, c.DropBatch(ctx, "q", "D"))

		if o, err := c.SealOrphans(ctx, "q", time.Hour, 0, 100); err != nil || len(o) != 0 {
			t.Fatalf("leases held: sealed %v, %v", o, err)
		}
		// The leases of B and D run out (their enqueuers die).
		must(t, r.ZAdd(ctx, OpenBatchesKey("q"), redis.Z{Score: 1, Member: "B"}, redis.Z{Score: 1, Member: "D"}).Err())
		steps := []struct {
			name string
			want []Orphan
		}{
			{"B sealed", []Orphan{{ID: "B", Total: 2}}},
			{"again: nothing", []Orphan{}},
		}
		for _, s := range steps {
			o, err := c.SealOrphans(ctx, "q", 30*time.Minute, 0, 100)
			must(t, err)
			if !slices.Equal(o, s.want) {
				t.Fatalf("%s: sealed %v, want %v", s.name, o, s.want)
			}
		}
		h := r.HGetAll(ctx, BatchKey("q", "B")).Val()
		if h[BatchTotal] != "2" || h[BatchAccepted] != "2" || h[BatchSealed] != "1" || h[BatchOrphaned] != "1" {
			t.Fatalf("B %v", h)
		}
		if ttl := r.PTTL(ctx, BatchKey("q", "B")).Val(); ttl <= 0 || ttl > 30*time.Minute {
			t.Fatalf("B's TTL %v", ttl)
		}
		if open := r.ZRange(ctx, OpenBatchesKey("q"), 0, -1).Val(); !slices.Equal(open, []string{"E"}) {
			t.Fatalf("open %v, want E", open)
		}
		// Sealed by the sweep: B's new jobs are refused, its retries not.
		got = enqueue([]string{"B:1:c", "B:2:y", "E:1:a"}, []string{"B", "", "E"})
		if want := []Enqueued{EnqueuedRefused, EnqueuedNow, EnqueuedNow}; !slices.Equal(got, want) {
			t.Fatalf("after the seal: enqueued %v, want %v", got, want)
		}
		if r.Exists(ctx, TaskKey("q", "B:1:c")).Val() != 0 || r.HGet(ctx, BatchKey("q", "B"), BatchTotal).Val() != "2" {
			t.Fatal("a refused job was queued or counted")
		}
		open, err := c.RenewBatches(ctx, "q", []string{"B", "E", "C"}, 2*time.Hour)
		must(t, err)
		if !slices.Equal(open, []bool{false, true, false}) {
			t.Fatalf("renewed %v", open)
		}
		if s := r.ZScore(ctx, OpenBatchesKey("q"), "E").Val(); s < float64(time.Now().Add(110*time.Minute).UnixMilli()) {
			t.Fatalf("E's lease until %v, want two hours from now", time.UnixMilli(int64(s)))
		}
	})
}

// A lease runs out on Redis' clock.
func TestBatchLeaseRunsOut(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		_, err := c.NewBatch(ctx, "q", "B", "tok", testNow, time.Hour, 200*time.Millisecond)
		must(t, err)
		start := time.Now()
		var sealed []Orphan
		testkit.WaitUntil(t, 10*time.Second, func() bool {
			var err error
			sealed, err = c.SealOrphans(ctx, "q", time.Hour, 0, 10)
			must(t, err)
			return len(sealed) > 0
		}, "the lease of B to run out")
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Fatalf("sealed after %v, before its 200ms lease ran out", d)
		}
		if !slices.Equal(sealed, []Orphan{{ID: "B", Total: 0}}) {
			t.Fatalf("sealed %v", sealed)
		}
	})
}

// With a grace, a lease seen run out is sealed only when not renewed for
// grace after: a renewal in between (the enqueuer back) keeps the batch.
func TestSealOrphansGrace(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		_, err := c.NewBatch(ctx, "q", "B", "tok", testNow, time.Hour, time.Hour)
		must(t, err)
		expire := func() { must(t, r.ZAdd(ctx, OpenBatchesKey("q"), redis.Z{Score: 1, Member: "B"}).Err()) }
		expire()
		if o, err := c.SealOrphans(ctx, "q", time.Hour, time.Hour, 10); err != nil || len(o) != 0 {
			t.Fatalf("first sighting: sealed %v, %v", o, err)
		}
		if r.HGet(ctx, BatchKey("q", "B"), BatchSuspect).Val() == "" {
			t.Fatal("no sighting kept")
		}
		open, err := c.RenewBatches(ctx, "q", []string{"B"}, time.Hour)
		must(t, err)
		if !open[0] || r.HExists(ctx, BatchKey("q", "B"), BatchSuspect).Val() {
			t.Fatalf("renewed %v: the sighting should be gone", open)
		}
		expire()
		start := time.Now()
		var sealed []Orphan
		testkit.WaitUntil(t, 10*time.Second, func() bool {
			sealed, err = c.SealOrphans(ctx, "q", time.Hour, 200*time.Millisecond, 10)
			must(t, err)
			return len(sealed) > 0
		}, "the sweep to seal B after the grace")
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Fatalf("sealed after %v, within the 200ms grace", d)
		}
		if !slices.Equal(sealed, []Orphan{{ID: "B", Total: 0}}) {
			t.Fatalf("sealed %v", sealed)
		}
	})
}
