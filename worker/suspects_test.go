package worker

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/tasks"
)

// A job run again after a lost worker (retried > 0) runs alone: it waits
// for the jobs running to finish and be recorded, none starts beside it,
// and its task is marked as started before its request; the others are
// not marked.
func TestFetcherRunsSuspectsAlone(t *testing.T) {
	testredis.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		const normal, sessions = 3, 4
		enqueueJobs(t, rdb, "q", normal+1)
		suspect := tasks.Task{Batch: "B", Attempt: 1, Job: job(fmt.Sprint(normal), "http://x/")}.TaskID()
		raw, err := rdb.HGet(ctx, reqrdb.TaskKey("q", suspect), "msg").Bytes()
		if err != nil {
			t.Fatal(err)
		}
		m, err := reqrdb.DecodeTaskMessage(raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := rdb.HSet(ctx, reqrdb.TaskKey("q", suspect), "msg", m.WithRetried(1)).Err(); err != nil {
			t.Fatal(err)
		}

		var inFlight atomic.Int64 // jobs between the start of their exec and its end (their record)
		gate := make(chan struct{})
		suspectRan := make(chan error, 1)
		finish := finishing(rdb)
		f := newTestFetcher(t, rdb, fetcherConfig{concurrency: sessions, batch: 8, prefetch: 4, identity: serverIdentity{id: "w-test"}},
			func(ctx context.Context, q string, tk tasks.Task, s time.Time, a *ack, sent func()) error {
				mark := rdb.HGet(ctx, reqrdb.TaskKey(q, a.id), reqrdb.StartedField).Val()
				if a.id == suspect {
					if n := inFlight.Load(); n != 0 || mark != "w-test" {
						suspectRan <- fmt.Errorf("the suspect ran beside %d jobs, marked %q", n, mark)
					} else {
						suspectRan <- nil
					}
					return finish(ctx, q, tk, s, a, sent)
				}
				inFlight.Add(1)
				defer inFlight.Add(-1)
				if mark != "" {
					return fmt.Errorf("job %s marked %q", a.id, mark)
				}
				select {
				case <-gate:
				case <-ctx.Done():
					return ctx.Err()
				}
				return finish(ctx, q, tk, s, a, sent)
			})
		f.aloneWait.Init(t)
		startFetcher(t, f)
		if id := f.aloneWait.WaitOrTimeout(); id != suspect {
			t.Fatalf("waiting to run alone: %s, want %s", id, suspect)
		}
		testkit.WaitUntil(t, testWait, func() error {
			if n := inFlight.Load(); n != normal {
				return fmt.Errorf("%d jobs running, want %d", n, normal)
			}
			return nil
		}, "the other jobs running, the suspect waiting")
		close(gate)
		select {
		case err := <-suspectRan:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(testWait):
			t.Fatal("the suspect did not run")
		}
		waitOutcomes(t, rdb, "q", normal+1)
		if qi := queueInfo(t, rdb, "q"); qi.Active != 0 || qi.Processed != normal+1 {
			t.Fatalf("queue after: %+v", qi)
		}
	})
}
