package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/reqfleet/reqfleet/outcomes"
)

// A job by its id: pending before a worker runs, then done with its
// outcome, in the queue asked; 404 for an id no batch holds.
func TestGetJob(t *testing.T) {
	e := setup(t, nil)
	a := e.do(t, "POST", "/v1/jobs?queue=other", "application/x-ndjson",
		fmt.Sprintf(`{"url": %q, "id": "j1"}`+"\n"+`{"url": "http://127.0.0.1:1/", "id": "j2", "timeout": 5}`, e.target.URL+"/j1"))
	if a.code != http.StatusAccepted {
		t.Fatalf("POST: %d %s", a.code, a.body)
	}
	rec := decode[Receipt](t, a)

	get := func(path string) outcomes.JobStatus {
		t.Helper()
		a := e.do(t, "GET", path, "", "")
		if a.code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, a.code, a.body)
		}
		return decode[outcomes.JobStatus](t, a)
	}
	if st := get("/v1/jobs/j1?queue=other"); st.State != outcomes.StatePending || st.Batch != rec.Batch || st.Attempt != 1 || st.Outcome != nil {
		t.Errorf("before a worker: %+v", st)
	}
	if a := e.do(t, "GET", "/v1/jobs/j1", "", ""); a.code != http.StatusNotFound {
		t.Errorf("in another queue: %d %s", a.code, a.body)
	}

	e.startWorker(t)
	e.waitBatch(t, rec.Batch, "other")
	for _, tc := range []struct {
		path, kind string
		check      func(map[string]any) bool
	}{
		{"/v1/jobs/j1?queue=other", "response", func(o map[string]any) bool { return o["status_code"] == 200.0 && o["body"] == "ok /j1" }},
		{"/v1/jobs/j1?queue=other&batch=" + rec.Batch, "response", func(o map[string]any) bool { return o["id"] == "j1" }},
		{"/v1/jobs/j2?queue=other", "exception", func(o map[string]any) bool {
			ex, _ := o["exception"].(map[string]any)
			return ex["type"] == "ConnectionError"
		}},
	} {
		st := get(tc.path)
		var o map[string]any
		if err := json.Unmarshal(st.Outcome, &o); err != nil || st.State != outcomes.StateDone || st.Kind != tc.kind || !tc.check(o) {
			t.Errorf("GET %s: %+v %s", tc.path, st, st.Outcome)
		}
	}
	if a := e.do(t, "GET", "/v1/jobs/j1?queue=other&batch=nope", "", ""); a.code != http.StatusNotFound {
		t.Errorf("in another batch: %d %s", a.code, a.body)
	}
}
