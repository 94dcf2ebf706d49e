package server

import (
	"testing"

	"github.com/hibiken/asynq"

	"github.com/reqfleet/reqfleet/tasks"
)

// TestEnqueueRetries checks that ?retries=&retry_on=&retry_backoff= gives
// the jobs without a policy of their own that policy, and leaves a job's
// own alone.
func TestEnqueueRetries(t *testing.T) {
	e := setup(t, nil)
	body := `{"url": "https://example.com/", "id": "plain"}` + "\n" + `{"url": "https://example.com/", "id": "own", "retries": 7}`
	a := e.do(t, "POST", "/v1/jobs?retries=3&retry_on=503,ReadTimeout&retry_backoff=0.5", "application/x-ndjson", body)
	if a.code != 202 {
		t.Fatalf("%d %s", a.code, a.body)
	}
	rec := decode[Receipt](t, a)
	insp := asynq.NewInspectorFromRedisClient(e.rdb)
	defer insp.Close()
	tasksOf, err := insp.ListPendingTasks("default")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*tasks.Retry{}
	for _, ti := range tasksOf {
		tk, err := tasks.DecodeTask(ti.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if tk.Batch == rec.Batch {
			got[tk.Job.ID] = tk.Job.Retries
		}
	}
	p := got["plain"]
	if p == nil || p.Total.N != 3 || len(p.StatusForcelist) != 1 || p.StatusForcelist[0] != 503 || p.BackoffFactor != 0.5 ||
		len(p.Exceptions) != 1 || p.Exceptions[0] != tasks.ReadTimeout {
		t.Fatalf("the API's policy: %+v", p)
	}
	if own := got["own"]; own == nil || own.Total.N != 7 || own.StatusForcelist != nil {
		t.Fatalf("the job's own policy: %+v", own)
	}
}
