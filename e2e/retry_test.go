package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/outcomes"
	"github.com/reqfleet/reqfleet/tasks"
)

// recorder is a loopback target that records every request it gets:
//
//	/flaky    cuts the connection off twice, then answers 200
//	/slow     answers after 5s (past the jobs' read timeout)
//	/limited  answers 429 with Retry-After: 2 once, then 200
//	/down     cuts the connection off, always
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string][]time.Time // by method and path
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	rc := &recorder{hits: map[string][]time.Time{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		key := r.Method + " " + r.URL.Path
		rc.hits[key] = append(rc.hits[key], time.Now())
		n := len(rc.hits[key])
		rc.mu.Unlock()
		switch r.URL.Path {
		case "/flaky":
			if n <= 2 {
				cutOff(w)
				return
			}
		case "/down":
			cutOff(w)
			return
		case "/slow":
			select {
			case <-r.Context().Done():
				return
			case <-time.After(5 * time.Second):
			}
		case "/limited":
			if n == 1 {
				w.Header().Set("Retry-After", "2")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(rc.Close)
	return rc
}

// cutOff closes the connection halfway through the status line: requests'
// ConnectionError (urllib3's ProtocolError, a read error), and not one
// that a client sends again on another connection (bytes came back).
func cutOff(w http.ResponseWriter) {
	if c, buf, err := http.NewResponseController(w).Hijack(); err == nil {
		_, _ = buf.WriteString("HTTP/1.1 5")
		_ = buf.Flush()
		_ = c.Close()
	}
}

func (rc *recorder) of(key string) []time.Time {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]time.Time(nil), rc.hits[key]...)
}

// TestRetries: three worker processes (on each path: the fetcher, and
// asynq's processor) and a recording target. A job with "retries": 3
// whose endpoint fails twice lands as its response after 3 tries, with its
// retries history; a POST is not retried on a read error by default
// (urllib3's allowed_methods): an exception after 1 try; a 429 with
// Retry-After: 2 is tried again no sooner than 2s later and lands as its
// 200 with its history. One outcome each, and the batch completes.
func TestRetries(t *testing.T) {
	needBinary(t)
	t.Parallel()
	for _, path := range []struct {
		name string
		args []string
	}{{"fetcher", nil}, {"asynq_processor", []string{"--asynq-processor"}}} {
		t.Run(path.name, func(t *testing.T) {
			t.Parallel()
			srv := testredis.Start(t)
			rdb := srv.Client(t)
			rc := newRecorder(t)
			for i := range 3 {
				startWorker(t, fmt.Sprintf("w%d", i), srv.URL(), append([]string{"-c", "2"}, path.args...)...)
			}
			file := filepath.Join(t.TempDir(), "jobs.jsonl")
			jobs := fmt.Sprintf(`{"id": "flaky", "url": "%[1]s/flaky", "retries": 3}
{"id": "post", "method": "POST", "url": "%[1]s/slow", "data": "x", "timeout": [2, 0.5], "retries": 3}
{"id": "limited", "url": "%[1]s/limited", "retries": 3}
{"id": "down", "url": "%[1]s/down", "retries": 1}
`, rc.URL)
			if err := os.WriteFile(file, []byte(jobs), 0o600); err != nil {
				t.Fatal(err)
			}
			rec := enqueue(t, srv.URL(), file)
			waitBatch(t, rdb, "default", rec.Batch, time.Minute)
			entries := checkBatch(t, rdb, "default", rec.Batch, []string{"flaky", "post", "limited", "down"})

			r, err := outcomes.NewReader(rdb, "default")
			if err != nil {
				t.Fatal(err)
			}
			resp := map[string]tasks.Response{}
			for x, err := range r.Responses(context.Background(), outcomes.ReadOptions{Batch: rec.Batch}) {
				if err != nil {
					t.Fatal(err)
				}
				resp[x.ID] = x
			}
			history := func(tries []tasks.Try) string {
				var s []string
				for _, tr := range tries {
					if tr.Exception != "" {
						s = append(s, tr.Exception)
					} else {
						s = append(s, fmt.Sprint(tr.StatusCode))
					}
				}
				return strings.Join(s, " ")
			}
			if f := resp["flaky"]; f.StatusCode != 200 || history(f.Retries) != "ConnectionError ConnectionError 200" || len(rc.of("GET /flaky")) != 3 {
				t.Errorf("flaky: %d after %d tries at the target, history %q", f.StatusCode, len(rc.of("GET /flaky")), history(f.Retries))
			}
			if e := entries["post"]; e.kind != "exception" || e.typ != tasks.ReadTimeout || len(rc.of("POST /slow")) != 1 {
				t.Errorf("post: %+v after %d tries at the target, want a ReadTimeout after 1", e, len(rc.of("POST /slow")))
			}
			hits := rc.of("GET /limited")
			if l := resp["limited"]; l.StatusCode != 200 || history(l.Retries) != "429 200" || len(hits) != 2 || hits[1].Sub(hits[0]) < 2*time.Second {
				t.Errorf("limited: %d, history %q, tries at the target %v", l.StatusCode, history(l.Retries), hits)
			} else {
				t.Logf("429 with Retry-After: 2: tried again %v later", hits[1].Sub(hits[0]).Round(time.Millisecond))
			}
			for _, x := range resp {
				for _, tr := range x.Retries {
					if tr.At.IsZero() {
						t.Errorf("%s: a try without its time: %+v", x.ID, x.Retries)
					}
				}
			}
			if e := entries["down"]; e.kind != "exception" || e.typ != tasks.ConnectionError || len(rc.of("GET /down")) != 2 {
				t.Fatalf("down: %+v after %d tries, want a ConnectionError after 2", e, len(rc.of("GET /down")))
			}
			// What the policy left goes back with `reqfleet retry`, as
			// attempt 2 with a budget of its own: 2 more tries.
			mustCLI(t, time.Minute, nil, "retry", "--redis", srv.URL(), "--type", tasks.ConnectionError)
			waitBatch(t, rdb, "default", rec.Batch, time.Minute)
			var down []tasks.Exception
			for x, err := range r.Exceptions(context.Background(), outcomes.ReadOptions{Batch: rec.Batch}) {
				if err != nil {
					t.Fatal(err)
				}
				if x.ID == "down" {
					down = append(down, x)
				}
			}
			if len(down) != 1 || down[0].Attempt != 2 || len(down[0].Retries) != 2 || len(rc.of("GET /down")) != 4 {
				t.Fatalf("down retried: %+v after %d tries at the target, want attempt 2 after 2 more tries", down, len(rc.of("GET /down")))
			}
		})
	}
}

// TestRetryOutlivesItsWorker: a job waiting for its retry (a 429 with
// Retry-After: 2) is in Redis, not in a worker: its worker SIGKILLed
// between tries, another worker started later runs the retry, and the job
// lands once, as its 200 with its history.
func TestRetryOutlivesItsWorker(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := testredis.Start(t)
	rdb := srv.Client(t)
	rc := newRecorder(t)
	victim := startWorker(t, "victim", srv.URL(), "-c", "2")
	file := filepath.Join(t.TempDir(), "jobs.jsonl")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(`{"id": "limited", "url": "%s/limited", "retries": 3}`+"\n", rc.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := enqueue(t, srv.URL(), file)
	testkit.WaitUntil(t, time.Minute, func() bool { return queueInfo(t, rdb, "default").Retry == 1 }, "the job waiting for its retry")
	victim.signal(t, syscall.SIGKILL)
	victim.wait(t, 10*time.Second)
	startWorker(t, "heir", srv.URL(), "-c", "2")
	waitBatch(t, rdb, "default", rec.Batch, time.Minute)
	wantAll(t, checkBatch(t, rdb, "default", rec.Batch, []string{"limited"}), "its 200", isResponse(1))
	r, err := outcomes.NewReader(rdb, "default")
	if err != nil {
		t.Fatal(err)
	}
	for x, err := range r.Responses(context.Background(), outcomes.ReadOptions{Batch: rec.Batch}) {
		if err != nil {
			t.Fatal(err)
		}
		if len(x.Retries) != 2 || x.Retries[0].StatusCode != 429 || x.Worker != "heir" || len(rc.of("GET /limited")) != 2 {
			t.Fatalf("the job after its worker's death: %+v, %d tries at the target", x, len(rc.of("GET /limited")))
		}
	}
}
