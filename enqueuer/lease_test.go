package enqueuer

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/tasks"
)

// sealOrphans runs a sweeper's seal until batch is sealed, and returns its
// total.
func (v *env) sealOrphans(t *testing.T, batch string) int64 {
	t.Helper()
	store := rdb.New(v.rdb)
	var total int64 = -1
	testkit.WaitUntil(t, 10*time.Second, func() bool {
		sealed, err := store.SealOrphans(context.Background(), testQueue, time.Hour, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range sealed {
			if o.ID == batch {
				total = o.Total
			}
		}
		return total >= 0
	}, "the sweep to seal batch "+batch)
	return total
}

// An enqueue killed mid-way (its context cancelled, never sealed, its
// progress never written to the hash's accepted) leaves a batch that the
// sweep seals once the lease runs out, with total = every job queued.
func TestKilledEnqueueIsSealed(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			v := newEnv(t, be.start, func(c *Config) { c.BatchLease = 300 * time.Millisecond })
			v.e.flushEvery, v.e.flushInterval = 1<<40, time.Hour // accepted's increments lost, as in the issue
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			b, err := v.e.NewBatch(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Alive, the enqueuer keeps renewing its lease: no sweep seals it.
			first := v.rdb.ZScore(ctx, rdb.OpenBatchesKey(testQueue), b.ID()).Val()
			testkit.WaitUntil(t, 10*time.Second, func() bool {
				return v.rdb.ZScore(ctx, rdb.OpenBatchesKey(testQueue), b.ID()).Val() > first+150
			}, "the lease to be renewed")
			if sealed, err := rdb.New(v.rdb).SealOrphans(ctx, testQueue, time.Hour, 0, 100); err != nil || len(sealed) != 0 {
				t.Fatalf("a live batch sealed: %v, %v", sealed, err)
			}
			jobs := func(yield func(tasks.Job, error) bool) {
				for i := range 100_000 {
					if i == 3000 {
						cancel() // the kill: mid-way, with calls in flight
					}
					if !yield(tasks.Job{URL: "https://example.com/", ID: strconv.Itoa(i)}, nil) {
						return
					}
				}
			}
			n, err := b.AddMany(ctx, jobs)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("AddMany: %d, %v", n, err)
			}
			v.e.Close() // no Seal: the process is gone, and so are its renewals
			queued := v.rdb.LLen(context.Background(), rdb.PendingKey(testQueue)).Val()
			if h := v.hash(t, b.ID()); h[rdb.BatchSealed] != "" || h[rdb.BatchAccepted] != "0" || h[rdb.BatchQueued] != strconv.FormatInt(queued, 10) {
				t.Fatalf("before the sweep: %v, %d queued", h, queued)
			}
			total := v.sealOrphans(t, b.ID())
			if total != queued || total == 0 || total != int64(b.Accepted()) {
				t.Fatalf("total %d, %d queued, %d accepted by AddMany", total, queued, b.Accepted())
			}
			h := v.hash(t, b.ID())
			if h[rdb.BatchTotal] != strconv.FormatInt(queued, 10) || h[rdb.BatchSealed] != "1" || h[rdb.BatchOrphaned] != "1" {
				t.Fatalf("after the sweep: %v", h)
			}
		})
	}
}

// A batch whose lease ran out while its enqueuer lived (Redis away for
// longer) refuses its later jobs: its total stays what was queued.
func TestLeaseLost(t *testing.T) {
	v := newMini(t)
	ctx := context.Background()
	b, err := v.e.NewBatch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Add(ctx, tasks.Job{URL: "https://example.com/"}); err != nil {
		t.Fatal(err)
	}
	if err := v.rdb.ZAdd(ctx, rdb.OpenBatchesKey(testQueue), redis.Z{Score: 1, Member: b.ID()}).Err(); err != nil {
		t.Fatal(err)
	}
	if total := v.sealOrphans(t, b.ID()); total != 1 {
		t.Fatalf("total %d, want 1", total)
	}
	_, err = b.Add(ctx, tasks.Job{URL: "https://example.com/"})
	if !errors.Is(err, ErrLeaseLost) || !errors.Is(err, ErrEnqueue) {
		t.Fatalf("Add after the fleet sealed the batch: %v", err)
	}
	if n := v.rdb.LLen(ctx, rdb.PendingKey(testQueue)).Val(); n != 1 {
		t.Fatalf("%d queued, want 1", n)
	}
	if err := b.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	if h := v.hash(t, b.ID()); h[rdb.BatchTotal] != "1" {
		t.Fatalf("after Seal: %v", h)
	}
}

// Sealed or dropped, a batch leaves the open batches; the asynq client
// path takes no lease.
func TestSealEndsLease(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		v := newMini(t, path)
		ctx := context.Background()
		rec, err := v.e.EnqueueMany(ctx, nJobs(3))
		if err != nil || rec.Accepted != 3 {
			t.Fatalf("%+v, %v", rec, err)
		}
		if n := v.rdb.ZCard(ctx, rdb.OpenBatchesKey(testQueue)).Val(); n != 0 {
			t.Fatalf("%d open batches after the seal", n)
		}
		if v.e.fast == nil {
			return
		}
		if q := v.hash(t, rec.Batch)[rdb.BatchQueued]; q != "3" {
			t.Fatalf("queued %q, want 3", q)
		}
	})
}

// Seal writes the jobs queued, counted by Redis as it queued them, even
// one whose reply this enqueuer lost (and so did not count).
func TestSealCountsQueued(t *testing.T) {
	v := newMini(t)
	ctx := context.Background()
	b, err := v.e.NewBatch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Add(ctx, tasks.Job{URL: "https://example.com/", ID: "a"}); err != nil {
		t.Fatal(err)
	}
	// A job queued by a call whose reply was lost, and not sent again.
	lost := tasks.Task{Batch: b.ID(), Attempt: 1, Job: tasks.Job{URL: "https://example.com/", ID: "lost", Method: "GET"}}
	enc := rdb.NewMessageEncoder(testQueue, tasks.TypeRequest, 25, time.Minute)
	if _, err := rdb.New(v.rdb).EnqueueMany(ctx, testQueue, testNow, []string{lost.TaskID()},
		[][]byte{enc.Encode(lost.TaskID(), nil)}, []string{b.ID()}); err != nil {
		t.Fatal(err)
	}
	if err := b.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	if h := v.hash(t, b.ID()); h[rdb.BatchTotal] != "2" || h[rdb.BatchAccepted] != "2" || b.Accepted() != 1 {
		t.Fatalf("sealed %v, %d accepted in memory", h, b.Accepted())
	}
}

// Redis away for longer than the lease (a restart): once it is back the
// enqueuer renews at once, within the sweepers' grace, and keeps its batch.
func TestLeaseRidesOutOutage(t *testing.T) {
	v := newMini(t, func(c *Config) { c.BatchLease = 300 * time.Millisecond })
	ctx := context.Background()
	b, err := v.e.NewBatch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leaseMs := func() float64 {
		s, err := v.mr.ZScore(rdb.OpenBatchesKey(testQueue), b.ID()) // miniredis' own view: no SetError
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	v.mr.SetError("LOADING Redis is loading the dataset in memory")
	testkit.WaitUntil(t, 10*time.Second, func() bool { return leaseMs() < float64(time.Now().UnixMilli()) }, "the lease to run out")
	v.mr.SetError("")
	store := rdb.New(v.rdb)
	if sealed, err := store.SealOrphans(ctx, testQueue, time.Hour, 5*time.Second, 100); err != nil || len(sealed) != 0 {
		t.Fatalf("sealed within the grace: %v, %v", sealed, err)
	}
	testkit.WaitUntil(t, 10*time.Second, func() bool {
		return leaseMs() > float64(time.Now().UnixMilli()) && !v.rdb.HExists(ctx, rdb.BatchKey(testQueue, b.ID()), rdb.BatchSuspect).Val()
	}, "the lease renewed once Redis is back")
	if sealed, err := store.SealOrphans(ctx, testQueue, time.Hour, 0, 100); err != nil || len(sealed) != 0 {
		t.Fatalf("a renewed batch sealed: %v, %v", sealed, err)
	}
	if _, err := b.Add(ctx, tasks.Job{URL: "https://example.com/"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Seal(ctx); err != nil {
		t.Fatal(err)
	}
}
