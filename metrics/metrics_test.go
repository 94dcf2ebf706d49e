package metrics

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/reqfleet/reqfleet/enqueuer"
	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/tasks"
	"github.com/reqfleet/reqfleet/worker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func resp(url string, code int) *tasks.Response {
	return &tasks.Response{ID: "a", Batch: "b", Attempt: 1, StatusCode: code, Request: tasks.Job{Method: "GET", URL: url}}
}

func exc(url, typ string) *tasks.Exception {
	return &tasks.Exception{ID: "a", Batch: "b", Attempt: 1, Exception: tasks.ExceptionInfo{Type: typ}, Request: tasks.Job{Method: "GET", URL: url}}
}

func TestJobs(t *testing.T) {
	m := NewJobs(2)
	m.Observe("q", resp("https://user:secret@Example.com/a?token=x", 200), 20*time.Millisecond)
	m.Observe("q", resp("https://example.com/b", 200), 30*time.Millisecond)
	m.Observe("q", resp("https://example.com/c", 404), time.Second)
	m.Observe("q", exc("http://127.0.0.1:1/", tasks.ConnectionError), 2*time.Second)
	m.Observe("q", exc("http://third.example/", tasks.ReadTimeout), time.Second) // past the cap of 2 hosts
	m.Observe("q", exc("no scheme", tasks.MissingSchema), 0)
	m.Observe("q", nil, 0) // not an outcome: ignored
	resent := resp("https://example.com/d", 200)
	resent.ConnectionRetries = 1
	m.Observe("q", resent, time.Millisecond)
	resentExc := exc("http://127.0.0.1:1/", tasks.ConnectionError)
	resentExc.ConnectionRetries = 1
	m.Observe("q", resentExc, time.Millisecond)

	want := `
# HELP reqfleet_jobs_total Jobs whose outcome this worker recorded. outcome is response or exception; code is the HTTP status of a response, exception the type of an exception (requests' names); host is the request URL's host[:port], "other" past the cap of distinct hosts.
# TYPE reqfleet_jobs_total counter
reqfleet_jobs_total{code="",exception="ConnectionError",host="127.0.0.1:1",outcome="exception",queue="q"} 2
reqfleet_jobs_total{code="",exception="MissingSchema",host="invalid",outcome="exception",queue="q"} 1
reqfleet_jobs_total{code="",exception="ReadTimeout",host="other",outcome="exception",queue="q"} 1
reqfleet_jobs_total{code="200",exception="",host="example.com",outcome="response",queue="q"} 3
reqfleet_jobs_total{code="404",exception="",host="example.com",outcome="response",queue="q"} 1
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "reqfleet_jobs_total"); err != nil {
		t.Fatal(err)
	}
	wantResends := `
# HELP reqfleet_connection_retries_total Requests sent once more on a fresh connection because a reused kept-alive connection closed before any byte of the answer (idempotent methods, or a job with an Idempotency-Key); host as in jobs_total.
# TYPE reqfleet_connection_retries_total counter
reqfleet_connection_retries_total{host="127.0.0.1:1",queue="q"} 1
reqfleet_connection_retries_total{host="example.com",queue="q"} 1
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(wantResends), "reqfleet_connection_retries_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m, "reqfleet_job_duration_seconds"); n != 2 {
		t.Fatalf("duration series: %d, want 2 (response, exception)", n)
	}

	// Observe is safe for concurrent use (run with -race).
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 100 {
				m.Observe("q", resp("https://example.com/", 200+i), time.Millisecond)
			}
		})
	}
	wg.Wait()
}

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestQueues(t *testing.T) {
	testredis.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		e, err := enqueuer.New(enqueuer.Config{Redis: rdb, Queue: "q"})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		jobs := enqueuer.FromURLs([]string{"http://127.0.0.1:1/a", "http://127.0.0.1:1/b", "http://127.0.0.1:1/c"})
		if _, err := e.EnqueueMany(ctx, jobs); err != nil {
			t.Fatal(err)
		}
		rdb.RPush(ctx, reqrdb.ResultsKey("q"), "{}", "{}")
		rdb.RPush(ctx, reqrdb.ExceptionsKey("q"), "{}")
		rdb.LPush(ctx, reqrdb.InboxKey("q"), "{}", "{}", "{}", "{}")

		qc, err := NewQueues(QueuesConfig{Redis: rdb, Queues: []string{"q", "empty"}})
		if err != nil {
			t.Fatal(err)
		}
		reg, err := NewRegistry(qc, NewJobs(0))
		if err != nil {
			t.Fatal(err)
		}
		text := scrape(t, Handler(reg, nil))
		for _, want := range []string{
			"reqfleet_redis_up 1",
			`reqfleet_queue_tasks{queue="q",state="pending"} 3`,
			`reqfleet_queue_tasks{queue="empty",state="pending"} 0`,
			`reqfleet_list_length{list="results",queue="q"} 2`,
			`reqfleet_list_length{list="exceptions",queue="q"} 1`,
			`reqfleet_list_length{list="inbox",queue="q"} 4`,
			`reqfleet_list_length{list="inbox_processing",queue="q"} 0`,
			`reqfleet_batches{queue="q",state="running"} 1`,
			`reqfleet_batch_jobs_outstanding{queue="q"} 3`,
			`reqfleet_workers{queue="q"} 0`,
		} {
			if !strings.Contains(text, want+"\n") {
				t.Errorf("scrape lacks %q:\n%s", want, text)
			}
		}
		if !strings.Contains(text, "\ngo_goroutines ") {
			t.Errorf("scrape lacks the Go collector:\n%s", text)
		}
	})
}

// A worker process counts once, however many entries it has in asynq's
// server list; its slots are its sessions.
func TestQueuesCountsWorkerProcesses(t *testing.T) {
	for _, cfg := range []worker.Config{
		{Concurrency: 6},
		{Concurrency: 6, Shards: 3, AsynqProcessor: true},
	} {
		t.Run(fmt.Sprintf("asynq_processor=%v", cfg.AsynqProcessor), func(t *testing.T) {
			rdb := testredis.Start(t).Client(t)
			cfg.Redis, cfg.Queues = rdb, map[string]int{"q": 1}
			w, err := worker.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := w.Shutdown(ctx); err != nil {
					t.Error(err)
				}
			})
			qc, err := NewQueues(QueuesConfig{Redis: rdb, Queues: []string{"q"}})
			if err != nil {
				t.Fatal(err)
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(qc)
			testkit.WaitUntil(t, 20*time.Second, func() error {
				text := scrape(t, Handler(reg, nil))
				if strings.Contains(text, `reqfleet_workers{queue="q"} 1`+"\n") && strings.Contains(text, `reqfleet_worker_slots{queue="q"} 6`+"\n") {
					return nil
				}
				return fmt.Errorf("scraped:\n%s", text)
			}, "1 worker with 6 slots")
		})
	}
}

// Redis away: the scrape still answers, with reqfleet_redis_up 0.
func TestQueuesRedisDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer rdb.Close()
	qc, err := NewQueues(QueuesConfig{Redis: rdb, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(qc)
	if text := scrape(t, Handler(reg, nil)); !strings.Contains(text, "reqfleet_redis_up 0\n") {
		t.Fatalf("scrape:\n%s", text)
	}
}
