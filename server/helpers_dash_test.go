package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/internal/testkit"
)

// flaky is a target that, while failing, drops every connection unanswered
// (a ConnectionError), and answers 200 otherwise; /404 answers 404.
type flaky struct {
	*httptest.Server
	failing atomic.Bool
}

func newFlaky(t *testing.T) *flaky {
	t.Helper()
	f := &flaky{}
	f.failing.Store(true)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/fail") && f.failing.Load() {
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				c.Close()
			}
			return
		}
		if r.URL.Path == "/404" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, "ok "+r.URL.Path)
	}))
	t.Cleanup(f.Close)
	return f
}

// postBatch enqueues JSONL jobs and returns the batch id.
func (e *env) postBatch(t *testing.T, queue string, jobs ...string) string {
	t.Helper()
	a := e.do(t, "POST", "/v1/jobs?queue="+queue, "application/x-ndjson", strings.Join(jobs, "\n"))
	if a.code != http.StatusAccepted {
		t.Fatalf("POST jobs: %d %s", a.code, a.body)
	}
	return decode[Receipt](t, a).Batch
}

// waitDone waits for a batch to have done outcomes.
func (e *env) waitDone(t *testing.T, queue, batch string, done int64) BatchStatus {
	t.Helper()
	var st BatchStatus
	testkit.WaitUntil(t, 30*time.Second, func() error {
		a := e.do(t, "GET", "/v1/batches/"+batch+"?queue="+queue, "", "")
		st = decode[BatchStatus](t, a)
		if !st.Complete || st.Done != done {
			return fmt.Errorf("%+v", st)
		}
		return nil
	}, fmt.Sprintf("batch %s complete with %d outcomes", batch, done))
	return st
}

// do runs one request through h, from the same origin.
func do(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
