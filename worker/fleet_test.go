package worker

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/tasks"
)

// TestFleetBeat: a worker process is one row in the fleet list, in each
// mode, with its sessions and the outcomes it recorded; gone at shutdown.
func TestFleetBeat(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	defer target.Close()
	for _, mode := range []string{"fetcher", "asynq-processor"} {
		t.Run(mode, func(t *testing.T) {
			rs := testredis.Start(t)
			r := rs.Client(t)
			w, err := New(Config{Redis: r, Queues: map[string]int{"q": 1}, Concurrency: 3, Shards: 2,
				AsynqProcessor: mode != "fetcher", ForceAsynqLayout: true, TaskCheckInterval: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Start(); err != nil {
				t.Fatal(err)
			}
			stopped := false
			t.Cleanup(func() {
				if !stopped {
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					defer cancel()
					_ = w.Shutdown(ctx)
				}
			})
			for i := range 3 {
				tk := tasks.Task{Batch: "B", Attempt: 1, Job: job(fmt.Sprint(i), target.URL)}
				b, err := tk.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				enqueueRaw(t, r, "q", tk.TaskID(), b)
			}
			store := rdb.New(r)
			var got []rdb.FleetWorker
			testkit.WaitUntil(t, 15*time.Second, func() bool {
				got, err = store.FleetWorkers(context.Background(), time.Now())
				return err == nil && len(got) == 1 && got[0].Done == 3
			}, "one fleet row with 3 jobs done")
			if g := got[0]; g.Sessions != 3 || g.Mode != mode || g.Name != w.Name() || g.Busy < 0 || g.Busy > 3 {
				t.Fatalf("row %+v", g)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := w.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			stopped = true
			if got, _ := store.FleetWorkers(context.Background(), time.Now()); len(got) != 0 {
				t.Fatalf("after shutdown %+v", got)
			}
		})
	}
}
