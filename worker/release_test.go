package worker

import (
	"context"
	"fmt"
	"testing"
	"time"

	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/limits"
	"github.com/reqfleet/reqfleet/tasks"
)

// Jobs parked by a worker that died, whose releaser died holding the
// release lock, come back: the lock's lease ends and a live worker's
// releaser hands them back, with their wait in throttled_ms.
func TestParkedJobsSurviveDeadReleaser(t *testing.T) {
	r := testredis.Start(t).Client(t)
	tg := newTarget(t, 0)
	setLimit(t, r, "127.0.0.1", limits.Limit{Rate: 100})
	ctx, store := context.Background(), reqrdb.New(r)
	fs := limitedFleet(t, r, 1, Config{Concurrency: 2})
	_ = fs[0].w.Shutdown(ctx) // the jobs are fed by hand first; a new worker takes over below
	for i := range 3 {
		fs[0].enqueue(t, tasks.Task{Batch: "B", Attempt: 1, Job: job(fmt.Sprint(i), tg.url("127.0.0.1", "/"))}, "")
	}
	now := time.Now()
	msgs, err := store.Fetch(ctx, "q", now.Add(time.Minute), 3)
	if err != nil || len(msgs) != 3 {
		t.Fatalf("fetched %d: %v", len(msgs), err)
	}
	for _, raw := range msgs {
		m, err := reqrdb.DecodeTaskMessage([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := store.Park(ctx, "q", "127.0.0.1", m.ID, now, now); err != nil || !ok {
			t.Fatalf("park: %v %v", ok, err)
		}
	}
	if err := r.Set(ctx, reqrdb.ParkLockKey("q", "127.0.0.1"), "dead", 1500*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	live := limitedFleet(t, r, 1, Config{Concurrency: 2})
	live[0].waitDone(t, "B", 3)
	if d := time.Since(now); d < 1500*time.Millisecond {
		t.Errorf("released %v after the park, before the dead releaser's lock ended", d)
	}
	for id, resp := range responses(t, r) {
		if resp.ThrottledMS < 1400 {
			t.Errorf("job %s: throttled_ms %d, want its wait (1.5s or more)", id, resp.ThrottledMS)
		}
	}
	if n := r.LLen(ctx, reqrdb.ParkKey("q", "127.0.0.1")).Val(); n != 0 {
		t.Errorf("%d jobs still parked", n)
	}
}
