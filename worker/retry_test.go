package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/tasks"
)

// hitLog records when each path of a test server was hit.
type hitLog struct {
	mu   sync.Mutex
	hits map[string][]time.Time
}

func (h *hitLog) add(path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hits == nil {
		h.hits = map[string][]time.Time{}
	}
	h.hits[path] = append(h.hits[path], time.Now())
	return len(h.hits[path])
}

func (h *hitLog) of(path string) []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Time(nil), h.hits[path]...)
}

// retryJob is a job of the test server with the retry policy given.
func retryJob(t *testing.T, id, method, url, policy string) tasks.Job {
	t.Helper()
	j, err := tasks.DecodeJob(fmt.Appendf(nil, `{"id": %q, "method": %q, "url": %q, "timeout": [1, 0.3], "retries": %s}`, id, method, url, policy))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// outcomesOf reads the queue's results and exceptions by job id.
func outcomesOf(t *testing.T, f *fleet) (map[string]tasks.Response, map[string]tasks.Exception) {
	t.Helper()
	ctx := context.Background()
	rs, es := map[string]tasks.Response{}, map[string]tasks.Exception{}
	for _, line := range f.rdb.LRange(ctx, reqrdb.ResultsKey("q"), 0, -1).Val() {
		r, err := tasks.DecodeResponse([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := rs[r.ID]; dup {
			t.Fatalf("two responses for %s", r.ID)
		}
		rs[r.ID] = r
	}
	for _, line := range f.rdb.LRange(ctx, reqrdb.ExceptionsKey("q"), 0, -1).Val() {
		e, err := tasks.DecodeException([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := es[e.ID]; dup {
			t.Fatalf("two exceptions for %s", e.ID)
		}
		es[e.ID] = e
	}
	return rs, es
}

// TestWorkerRetries runs jobs with retry policies on both paths: one whose
// endpoint fails twice lands as its response after 3 tries, with its
// history; one whose endpoint always fails lands as its last 503 once its
// policy is used up; a POST is not retried on a read error (urllib3's
// allowed_methods); a 429 with Retry-After: 1 is tried again no sooner
// than a second later. Only the final outcomes are recorded, each once,
// and the tries' histories are gone.
func TestWorkerRetries(t *testing.T) {
	forEachPath(t, func(t *testing.T, cfg Config) {
		var log hitLog
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := log.add(r.URL.Path)
			switch r.URL.Path {
			case "/flaky":
				if n <= 2 {
					w.WriteHeader(503)
					return
				}
				fmt.Fprint(w, "ok")
			case "/down":
				w.WriteHeader(503)
			case "/slow":
				select { // past the job's read timeout
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			case "/limited":
				if n == 1 {
					w.Header().Set("Retry-After", "1")
					w.WriteHeader(429)
					return
				}
				fmt.Fprint(w, "ok")
			}
		}))
		t.Cleanup(srv.Close)
		cfg.Concurrency = 4
		f := newFleet(t, miniRedis(t), cfg)
		if err := f.w.Start(); err != nil {
			t.Fatal(err)
		}
		for _, j := range []tasks.Job{
			retryJob(t, "flaky", "GET", srv.URL+"/flaky", `{"total": 3, "status_forcelist": [503]}`),
			retryJob(t, "down", "GET", srv.URL+"/down", `{"total": 2, "status_forcelist": [503]}`),
			retryJob(t, "post", "POST", srv.URL+"/slow", `3`),
			retryJob(t, "limited", "GET", srv.URL+"/limited", `3`),
		} {
			f.enqueue(t, tasks.Task{Batch: "B", Attempt: 1, Job: j}, "")
		}
		// While it waits for its retry, asynq sees the job as its own
		// retries, on both paths alike: the same task, state retry, its
		// error message, its retried count (the crash count) unchanged.
		insp := asynq.NewInspectorFromRedisClient(f.rdb)
		testkit.WaitUntil(t, testWait, func() error {
			info, err := insp.GetTaskInfo("q", "B:1:limited")
			if err != nil {
				return err
			}
			if info.State != asynq.TaskStateRetry || info.LastErr != "retry 1: status 429" || info.Retried != 0 {
				return fmt.Errorf("state %v, last error %q, retried %d", info.State, info.LastErr, info.Retried)
			}
			return nil
		}, "the 429 job in asynq's retry state")
		f.waitDone(t, "B", 4)
		rs, es := outcomesOf(t, f)
		if len(rs) != 3 || len(es) != 1 {
			t.Fatalf("%d responses and %d exceptions, want 3 and 1", len(rs), len(es))
		}
		tries := func(h []tasks.Try) string {
			s := ""
			for _, tr := range h {
				s += fmt.Sprintf("%d%s ", tr.StatusCode, tr.Exception)
			}
			return s
		}
		if r := rs["flaky"]; r.StatusCode != 200 || tries(r.Retries) != "503 503 200 " || len(log.of("/flaky")) != 3 {
			t.Fatalf("flaky: %d after %d hits, history %q", r.StatusCode, len(log.of("/flaky")), tries(r.Retries))
		}
		if r := rs["down"]; r.StatusCode != 503 || tries(r.Retries) != "503 503 503 " || len(log.of("/down")) != 3 {
			t.Fatalf("down: %d after %d hits, history %q", r.StatusCode, len(log.of("/down")), tries(r.Retries))
		}
		if e := es["post"]; e.Exception.Type != tasks.ReadTimeout || e.Retries != nil || len(log.of("/slow")) != 1 {
			t.Fatalf("post: %s after %d hits, history %+v", e.Exception.Type, len(log.of("/slow")), e.Retries)
		}
		hits := log.of("/limited")
		if r := rs["limited"]; r.StatusCode != 200 || tries(r.Retries) != "429 200 " || len(hits) != 2 || hits[1].Sub(hits[0]) < time.Second {
			t.Fatalf("limited: %d, history %q, hits %v", r.StatusCode, tries(r.Retries), hits)
		}
		for _, tr := range rs["flaky"].Retries {
			if tr.At.IsZero() {
				t.Fatalf("a try without its time: %+v", rs["flaky"].Retries)
			}
		}
		b, _ := json.Marshal(rs["flaky"].Retries[0])
		if want := `{"status_code":503,"at":"`; string(b[:len(want)]) != want {
			t.Fatalf("a try as JSON: %s", b)
		}
		// Every task is finished and every history dropped.
		ctx := context.Background()
		testkit.WaitUntil(t, testWait, func() error {
			if keys := f.rdb.Keys(ctx, reqrdb.TriesKey("q", "*")).Val(); len(keys) > 0 {
				return fmt.Errorf("histories left: %v", keys)
			}
			qi, err := asynq.NewInspectorFromRedisClient(f.rdb).GetQueueInfo("q")
			if err == nil && qi.Size != 0 {
				err = fmt.Errorf("%d tasks left in the queue", qi.Size)
			}
			return err
		}, "the queue and the histories to empty")
	})
}

// TestAsynqRetryDelay checks what asynq's processor is told: a policy's
// retry is no failure (the retried count, the crash count, stays) and
// waits its delay plus a second (asynq truncates its score to the second:
// never early); anything else is a crash's quick retry.
func TestAsynqRetryDelay(t *testing.T) {
	rl := fmt.Errorf("wrapped: %w", &retryLaterError{delay: 2 * time.Second, msg: "retry 1: status 429"})
	if isFailure(rl) || !isFailure(fmt.Errorf("record outcome: boom")) {
		t.Fatal("isFailure: a policy's retry must not be a failure, anything else must")
	}
	if d := asynqRetryDelay(0, rl, nil); d != 3*time.Second {
		t.Fatalf("a policy's 2s retry waits %v, want 3s", d)
	}
	if d := asynqRetryDelay(0, &retryLaterError{}, nil); d != 0 {
		t.Fatalf("a policy's retry at once waits %v", d)
	}
	if d := asynqRetryDelay(1, fmt.Errorf("lease lost"), nil); d != retryDelay(1, nil, nil) {
		t.Fatalf("a crash's retry waits %v, want %v", d, retryDelay(1, nil, nil))
	}
}
