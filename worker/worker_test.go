package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/httpexec"
	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/tasks"
)

// fleet is a worker on a Redis with an asynq client to feed it.
type fleet struct {
	rdb    redis.UniversalClient
	client *asynq.Client
	w      *Worker
}

func newFleet(t *testing.T, rdb redis.UniversalClient, cfg Config) *fleet {
	t.Helper()
	cfg.Redis = rdb
	if cfg.Queues == nil {
		cfg.Queues = map[string]int{"q": 1}
	}
	if cfg.TaskCheckInterval == 0 {
		cfg.TaskCheckInterval = 10 * time.Millisecond
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := asynq.NewClientFromRedisClient(rdb)
	f := &fleet{rdb: rdb, client: c, w: w}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := w.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return f
}

func miniRedis(t *testing.T) redis.UniversalClient {
	t.Helper()
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func (f *fleet) enqueue(t *testing.T, task tasks.Task, taskID string) {
	t.Helper()
	b, err := task.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if taskID == "" {
		taskID = task.TaskID()
	}
	if _, err := f.client.Enqueue(asynq.NewTask(tasks.TypeRequest, b), asynq.Queue("q"), asynq.TaskID(taskID), asynq.MaxRetry(5)); err != nil {
		t.Fatal(err)
	}
}

// waitDone waits until the batch has n outcomes.
func (f *fleet) waitDone(t *testing.T, batch string, n int) {
	t.Helper()
	testkit.WaitUntil(t, testWait, func() error {
		if done, _ := f.rdb.HGet(context.Background(), reqrdb.BatchKey("q", batch), reqrdb.BatchDone).Int(); done < n {
			return fmt.Errorf("batch %s: %d outcomes, want %d", batch, done, n)
		}
		return nil
	}, "the batch's outcomes")
}

// testWait bounds every wait of the worker's tests: a failing test fails
// in seconds, with what it waited for.
const testWait = 20 * time.Second

// paths are the two ways a worker runs its jobs: the fetcher (the
// default) and asynq's own processor (Config.AsynqProcessor, the fallback).
var paths = []struct {
	name           string
	asynqProcessor bool
}{{"fetcher", false}, {"asynq_processor", true}}

// forEachPath runs fn as a subtest for each path, with the path's Config
// for fn to fill in.
func forEachPath(t *testing.T, fn func(t *testing.T, cfg Config)) {
	t.Helper()
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) { fn(t, Config{AsynqProcessor: p.asynqProcessor}) })
	}
}

func job(id, url string) tasks.Job { return tasks.Job{ID: id, Method: "GET", URL: url} }

func TestWorkerRecordsEveryOutcomeKind(t *testing.T) {
	forEachPath(t, func(t *testing.T, cfg Config) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/404":
				http.NotFound(w, r)
			case "/500":
				w.WriteHeader(500)
			default:
				fmt.Fprint(w, "hello")
			}
		}))
		t.Cleanup(srv.Close)
		cfg.Concurrency = 4
		f := newFleet(t, miniRedis(t), cfg)
		if err := f.w.Start(); err != nil {
			t.Fatal(err)
		}
		jobs := map[string]string{
			"ok": srv.URL + "/", "404": srv.URL + "/404", "500": srv.URL + "/500",
			"noscheme": "example.com/x", "ftp": "ftp://example.com/", "refused": "http://127.0.0.1:1/",
		}
		for id, u := range jobs {
			f.enqueue(t, tasks.Task{Batch: "B", Attempt: 1, Job: job(id, u)}, "")
		}
		f.waitDone(t, "B", len(jobs))

		ctx := context.Background()
		status := map[string]int{}
		for _, line := range f.rdb.LRange(ctx, reqrdb.ResultsKey("q"), 0, -1).Val() {
			r, err := tasks.DecodeResponse([]byte(line))
			if err != nil {
				t.Fatal(err)
			}
			status[r.ID] = r.StatusCode
			if r.Worker != f.w.Name() || r.Attempt != 1 || r.Batch != "B" || r.Request.URL != jobs[r.ID] {
				t.Errorf("response %s: worker %q attempt %d batch %q request %q", r.ID, r.Worker, r.Attempt, r.Batch, r.Request.URL)
			}
		}
		types := map[string]string{}
		for _, line := range f.rdb.LRange(ctx, reqrdb.ExceptionsKey("q"), 0, -1).Val() {
			e, err := tasks.DecodeException([]byte(line))
			if err != nil {
				t.Fatal(err)
			}
			types[e.ID] = e.Exception.Type
		}
		wantStatus := map[string]int{"ok": 200, "404": 404, "500": 500}
		wantTypes := map[string]string{"noscheme": tasks.MissingSchema, "ftp": tasks.InvalidSchema, "refused": tasks.ConnectionError}
		if fmt.Sprint(status) != fmt.Sprint(wantStatus) || fmt.Sprint(types) != fmt.Sprint(wantTypes) {
			t.Fatalf("responses %v exceptions %v; want %v and %v", status, types, wantStatus, wantTypes)
		}
	})
}

// asynq delivers at least once: the same attempt of a job run twice (here
// enqueued under two asynq ids, as a recovered job would be) is sent twice
// but recorded once.
func TestWorkerJobRunTwiceRecordsOnce(t *testing.T) {
	forEachPath(t, func(t *testing.T, cfg Config) {
		var hits atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
		t.Cleanup(srv.Close)
		var observed atomic.Int32
		cfg.Concurrency = 2
		cfg.OnOutcome = func(q string, o tasks.Outcome, _ time.Duration) {
			if q == "q" && o.Kind() == "response" {
				observed.Add(1)
			}
		}
		f := newFleet(t, miniRedis(t), cfg)
		task := tasks.Task{Batch: "B", Attempt: 1, Job: job("j", srv.URL)}
		f.enqueue(t, task, "first")
		f.enqueue(t, task, "second")
		f.enqueue(t, tasks.Task{Batch: "B", Attempt: 1, Job: job("marker", srv.URL)}, "")
		if err := f.w.Start(); err != nil {
			t.Fatal(err)
		}
		f.waitDone(t, "B", 2)
		// Both runs are over once the queue is empty.
		insp := asynq.NewInspectorFromRedisClient(f.rdb)
		testkit.WaitUntil(t, testWait, func() error {
			qi, err := insp.GetQueueInfo("q")
			if err == nil && (qi.Pending != 0 || qi.Active != 0) {
				err = fmt.Errorf("%d pending, %d active", qi.Pending, qi.Active)
			}
			return err
		}, "the queue to empty")
		if hits.Load() != 3 {
			t.Fatalf("server hit %d times, want 3 (the job twice, the marker once)", hits.Load())
		}
		if n := f.rdb.LLen(context.Background(), reqrdb.ResultsKey("q")).Val(); n != 2 {
			t.Fatalf("%d results, want 2: one per job", n)
		}
		if done := f.rdb.HGet(context.Background(), reqrdb.BatchKey("q", "B"), "done").Val(); done != "2" {
			t.Fatalf("done = %s, want 2", done)
		}
		// OnOutcome comes after its record, which empties the queue: a
		// shutdown waits for the runs still calling it.
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := f.w.Shutdown(sctx); err != nil {
			t.Fatal(err)
		}
		if n := observed.Load(); n != 2 {
			t.Fatalf("OnOutcome called %d times, want 2: once per recorded outcome", n)
		}
	})
}

// One session per goroutine: with one session, a cookie set by the first job
// is sent by the second; the session's default header and auth come from the
// initializer and auth generator.
func TestWorkerSessionStateAndHooks(t *testing.T) {
	forEachPath(t, func(t *testing.T, cfg Config) {
		var seen testkit.Signal[string]
		seen.Init(t)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/set" {
				http.SetCookie(w, &http.Cookie{Name: "flavour", Value: "oatmeal", Path: "/"})
				return
			}
			user, pass, _ := r.BasicAuth()
			c, _ := r.Cookie("flavour")
			v := ""
			if c != nil {
				v = c.Value
			}
			seen.Signal(fmt.Sprintf("cookie=%s header=%s auth=%s:%s", v, r.Header.Get("X-Team"), user, pass))
		}))
		t.Cleanup(srv.Close)
		cfg.Concurrency = 1
		cfg.Initializer = func(s *httpexec.Session) (*httpexec.Session, error) {
			s.Header = http.Header{"X-Team": {"blue"}}
			return s, nil
		}
		cfg.AuthGenerator = func(s *httpexec.Session) (*httpexec.Session, error) {
			s.Auth = &tasks.Auth{User: "u", Password: "p"}
			return s, nil
		}
		f := newFleet(t, miniRedis(t), cfg)
		// The second job is enqueued once the first is done: a worker runs
		// its jobs in no set order (its asynq server may take one too).
		f.enqueue(t, tasks.Task{Batch: "B", Attempt: 1, Job: job("set", srv.URL+"/set")}, "")
		if err := f.w.Start(); err != nil {
			t.Fatal(err)
		}
		f.waitDone(t, "B", 1)
		f.enqueue(t, tasks.Task{Batch: "B", Attempt: 1, Job: job("get", srv.URL+"/get")}, "")
		if got, want := seen.WaitOrTimeout(), "cookie=oatmeal header=blue auth=u:p"; got != want {
			t.Fatalf("second job sent %q, want %q", got, want)
		}
		f.waitDone(t, "B", 2)
	})
}

// On shutdown a job in flight past the shutdown timeout goes back to the
// queue with no outcome; the next worker finishes it.
func TestWorkerShutdownHandsBackInFlight(t *testing.T) {
	forEachPath(t, func(t *testing.T, cfg Config) {
		var block atomic.Bool
		block.Store(true)
		var started testkit.Signal[struct{}]
		started.Init(t)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("block") == "1" && block.Load() {
				started.Signal(struct{}{})
				<-r.Context().Done() // until the worker gives up on it
			}
		}))
		t.Cleanup(srv.Close)
		rdb := miniRedis(t)
		cfg.Concurrency, cfg.ShutdownTimeout = 1, 50*time.Millisecond
		f := newFleet(t, rdb, cfg)
		f.enqueue(t, tasks.Task{Batch: "B", Attempt: 1, Job: job("slow", srv.URL+"/?block=1")}, "")
		if err := f.w.Start(); err != nil {
			t.Fatal(err)
		}
		started.WaitOrTimeout()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := f.w.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if n := rdb.HGet(ctx, reqrdb.BatchKey("q", "B"), "done").Val(); n != "" {
			t.Fatalf("an aborted job recorded an outcome: done = %s", n)
		}
		qi, err := asynq.NewInspectorFromRedisClient(rdb).GetQueueInfo("q")
		if err != nil {
			t.Fatal(err)
		}
		if qi.Pending != 1 {
			t.Fatalf("pending = %d, want the job back in the queue", qi.Pending)
		}
		// The next worker gets it; this time the server answers.
		block.Store(false)
		cfg.ShutdownTimeout = 0
		f2 := newFleet(t, rdb, cfg)
		if err := f2.w.Start(); err != nil {
			t.Fatal(err)
		}
		f2.waitDone(t, "B", 1)
	})
}

// A payload that is not a job is archived at once, never retried, whatever
// the path, and the sweeper records it as an InvalidJob exception.
func TestWorkerBadPayloadIsNotRetried(t *testing.T) {
	t.Run("handler", func(t *testing.T) {
		f := newFleet(t, miniRedis(t), Config{Concurrency: 1})
		err := f.w.process(context.Background(), "q", []byte(`{"batch":"B","attempt":1,"job":{"url":"x","bogus":1}}`))
		if !errors.Is(err, asynq.SkipRetry) || !errors.Is(err, tasks.ErrUnknownField) {
			t.Fatalf("err = %v, want SkipRetry wrapping ErrUnknownField", err)
		}
	})
	forEachPath(t, func(t *testing.T, cfg Config) {
		rdb := miniRedis(t)
		cfg.Concurrency, cfg.Sweep = 1, SweepConfig{Interval: 20 * time.Millisecond}
		f := newFleet(t, rdb, cfg)
		if _, err := f.client.Enqueue(asynq.NewTask(tasks.TypeRequest, []byte(`{"batch":"B","attempt":1,"job":{"id":"j","url":"x","bogus":1}}`)),
			asynq.Queue("q"), asynq.MaxRetry(25)); err != nil {
			t.Fatal(err)
		}
		if err := f.w.Start(); err != nil {
			t.Fatal(err)
		}
		f.waitDone(t, "B", 1)
		excs := exceptionsOf(t, rdb)
		if len(excs) != 1 || excs[0].Exception.Type != tasks.InvalidJob || excs[0].ID != "j" || excs[0].Attempt != 1 {
			t.Fatalf("exceptions %+v", excs)
		}
		if qi := queueInfo(t, rdb, "q"); qi.Retry != 0 || qi.Pending != 0 || qi.Active != 0 {
			t.Fatalf("queue %+v: the bad payload was retried", qi)
		}
	})
}

// A job whose worker was lost mid-job (taken under a lease that ran out,
// never finished) is run again by asynq's recoverer and recorded once, also
// when the lost worker had recorded its outcome before it died.
func TestWorkerCrashRecovery(t *testing.T) {
	forEachPath(t, func(t *testing.T, cfg Config) {
		for _, recorded := range []bool{false, true} {
			t.Run(fmt.Sprintf("recorded_before=%v", recorded), func(t *testing.T) {
				t.Parallel() // each waits for asynq's recoverer and forwarder, about 7s
				cfg := cfg
				var hits atomic.Int32
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
				t.Cleanup(srv.Close)
				rdb := miniRedis(t)
				ctx := context.Background()
				cfg.Concurrency = 2
				f := newFleet(t, rdb, cfg)
				task := tasks.Task{Batch: "B", Attempt: 1, Job: job("j", srv.URL)}
				f.enqueue(t, task, "")
				// The lost worker took it two minutes ago; nobody extended
				// its lease since.
				lost := newTestFetcher(t, rdb, fetcherConfig{now: func() time.Time { return time.Now().Add(-2 * time.Minute) }}, nil)
				if got, err := lost.fetch(1); err != nil || got != 1 {
					t.Fatalf("the lost worker took %d, %v", got, err)
				}
				if recorded {
					rec := recorder{rdb: rdb, ttl: time.Hour}
					if _, err := rec.record(ctx, "q", task, &tasks.Response{ID: "j", Batch: "B", Request: task.Job, StatusCode: 200, Attempt: 1}); err != nil {
						t.Fatal(err)
					}
				}
				if err := f.w.Start(); err != nil {
					t.Fatal(err)
				}
				testkit.WaitUntil(t, testWait, func() error {
					if qi := queueInfo(t, rdb, "q"); qi.Processed-qi.Failed != 1 || qi.Pending+qi.Active+qi.Retry+qi.Archived != 0 {
						return fmt.Errorf("queue %+v", qi)
					}
					return nil
				}, "the lost job run again and finished")
				if n := rdb.LLen(ctx, reqrdb.ResultsKey("q")).Val(); n != 1 {
					t.Fatalf("%d results, want 1", n)
				}
				if done := rdb.HGet(ctx, reqrdb.BatchKey("q", "B"), "done").Val(); done != "1" {
					t.Fatalf("done = %s, want 1", done)
				}
				if !recorded && hits.Load() != 1 {
					t.Fatalf("sent %d times, want once", hits.Load())
				}
				t.Logf("sent %d times", hits.Load())
			})
		}
	})
}

func TestConfigValidate(t *testing.T) {
	rdb := miniRedis(t)
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Redis: rdb}, true},
		{"no redis", Config{}, false},
		{"bad queue", Config{Redis: rdb, Queues: map[string]int{"a{b}": 1}}, false},
		{"zero priority", Config{Redis: rdb, Queues: map[string]int{"a": 0}}, false},
		{"negative concurrency", Config{Redis: rdb, Concurrency: -1}, false},
		{"negative fetch batch", Config{Redis: rdb, FetchBatch: -1}, false},
		{"asynq processor", Config{Redis: rdb, AsynqProcessor: true}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.validate()
			if (err == nil) != tc.ok {
				t.Fatalf("validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
			if err == nil && (tc.cfg.Concurrency < 1 || tc.cfg.Shards < 1 || tc.cfg.FetchBatch < 1 || !strings.Contains(tc.cfg.Name, ":")) {
				t.Fatalf("defaults not filled: %+v", tc.cfg)
			}
		})
	}
}
