package enqueuer

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/redisretry"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/tasks"
)

const testQueue = "q1"

// testNow is the tests' clock.
var testNow = time.Date(2026, 11, 25, 20, 13, 0, 0, time.UTC)

// env is an Enqueuer on a Redis of its own.
type env struct {
	rdb  *redis.Client
	mr   *miniredis.Miniredis // nil on a real redis-server
	e    *Enqueuer
	insp *asynq.Inspector
}

// backend starts a Redis for a test.
type backend struct {
	name  string
	start func(t testing.TB) (*redis.Client, *miniredis.Miniredis)
}

func miniBackend(t testing.TB) (*redis.Client, *miniredis.Miniredis) {
	t.Helper()
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr(), PoolSize: 32})
	t.Cleanup(func() { c.Close() })
	return c, mr
}

func realBackend(t testing.TB) (*redis.Client, *miniredis.Miniredis) {
	t.Helper()
	s := testredis.Start(t)
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), PoolSize: 32})
	t.Cleanup(func() { c.Close() })
	return c, nil
}

var backends = []backend{{"miniredis", miniBackend}, {"redis-server", realBackend}}

// newEnv returns an Enqueuer of testQueue with the tests' clock, short
// backoffs, and cfg's changes.
func newEnv(t testing.TB, start func(testing.TB) (*redis.Client, *miniredis.Miniredis), mods ...func(*Config)) *env {
	t.Helper()
	rdb, mr := start(t)
	cfg := Config{Redis: rdb, Queue: testQueue, Now: func() time.Time { return testNow }}
	for _, mod := range mods {
		if mod != nil {
			mod(&cfg)
		}
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if (e.fast == nil) != cfg.AsynqClient {
		t.Fatalf("fast path %v with AsynqClient %v", e.fast != nil, cfg.AsynqClient)
	}
	e.retry = redisretry.Policy{For: 50 * time.Millisecond, First: time.Millisecond, Max: 2 * time.Millisecond}
	t.Cleanup(func() { e.Close() })
	insp := asynq.NewInspectorFromRedisClient(rdb)
	return &env{rdb: rdb, mr: mr, e: e, insp: insp}
}

func newMini(t testing.TB, mods ...func(*Config)) *env {
	t.Helper()
	return newEnv(t, miniBackend, mods...)
}

// enqueuePaths are the two ways an Enqueuer writes tasks: the fast path
// (the default) and asynq's Client (Config.AsynqClient).
var enqueuePaths = []struct {
	name        string
	asynqClient bool
}{{"fast_path", false}, {"asynq_client", true}}

// forEachEnqueuePath runs fn as a subtest for each path; fn passes path to
// newEnv or newMini, after its own changes to the Config.
func forEachEnqueuePath(t *testing.T, fn func(t *testing.T, path func(*Config))) {
	t.Helper()
	for _, p := range enqueuePaths {
		t.Run(p.name, func(t *testing.T) { fn(t, func(c *Config) { c.AsynqClient = p.asynqClient }) })
	}
}

// pending lists the queue's pending tasks, decoded, in enqueue order.
func (v *env) pending(t testing.TB) []tasks.Task {
	t.Helper()
	var out []tasks.Task
	for page := 1; ; page++ {
		infos, err := v.insp.ListPendingTasks(testQueue, asynq.PageSize(500), asynq.Page(page))
		if errors.Is(err, asynq.ErrQueueNotFound) { // nothing ever enqueued
			return nil
		}
		if err != nil {
			t.Fatalf("list pending: %v", err)
		}
		for _, info := range infos {
			if info.Type != tasks.TypeRequest {
				t.Fatalf("task %s: type %q", info.ID, info.Type)
			}
			task, err := tasks.DecodeTask(info.Payload)
			if err != nil {
				t.Fatalf("task %s: %v", info.ID, err)
			}
			if info.ID != task.TaskID() {
				t.Fatalf("task id %q, want %q", info.ID, task.TaskID())
			}
			out = append(out, task)
		}
		if len(infos) < 500 {
			break
		}
	}
	return out // oldest first
}

// hash returns a batch's hash.
func (v *env) hash(t testing.TB, batch string) map[string]string {
	t.Helper()
	h, err := v.rdb.HGetAll(context.Background(), rdb.BatchKey(testQueue, batch)).Result()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// list returns a Redis list.
func (v *env) list(t testing.TB, key string) []string {
	t.Helper()
	l, err := v.rdb.LRange(context.Background(), key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// wantHash checks some fields of a batch hash.
func wantHash(t testing.TB, got map[string]string, want map[string]int) {
	t.Helper()
	for k, w := range want {
		if got[k] != strconv.Itoa(w) {
			t.Errorf("batch hash %s = %q, want %d (hash %v)", k, got[k], w, got)
		}
	}
}

// jobsOf yields the jobs without error.
func jobsOf(jobs ...tasks.Job) func(func(tasks.Job, error) bool) {
	return func(yield func(tasks.Job, error) bool) {
		for _, j := range jobs {
			if !yield(j, nil) {
				return
			}
		}
	}
}

// nJobs yields n GET jobs of http://h/<i>.
func nJobs(n int) func(func(tasks.Job, error) bool) {
	return func(yield func(tasks.Job, error) bool) {
		for i := range n {
			if !yield(tasks.Job{URL: "http://h/" + strconv.Itoa(i)}, nil) {
				return
			}
		}
	}
}

// work plays the worker: it takes every pending task off the queue and
// records an exception of type typ(task) for it, or a response when typ
// returns "".
func (v *env) work(t testing.TB, typ func(tasks.Task) string) []tasks.Task {
	t.Helper()
	ctx := context.Background()
	ts := v.pending(t)
	if _, err := v.insp.DeleteAllPendingTasks(testQueue); err != nil {
		t.Fatal(err)
	}
	store := rdb.New(v.rdb)
	for _, task := range ts {
		var line []byte
		var err error
		ty := typ(task)
		if ty != "" {
			line, err = json.Marshal(tasks.Exception{ID: task.Job.ID, Batch: task.Batch, Request: task.Job,
				Exception: tasks.ExceptionInfo{Type: ty, Message: "boom"}, Attempt: task.Attempt,
				Worker: "w1", FinishedAt: testNow})
		} else {
			line, err = json.Marshal(tasks.Response{ID: task.Job.ID, Batch: task.Batch, Request: task.Job,
				StatusCode: 200, Reason: "OK", Attempt: task.Attempt, Worker: "w1", FinishedAt: testNow})
		}
		if err != nil {
			t.Fatal(err)
		}
		rec := rdb.Record{Queue: testQueue, Batch: task.Batch, Member: task.OutcomeKey(), Line: line, Exception: ty != ""}
		if _, err := store.RecordMany(ctx, testNow, 0, []rdb.Record{rec}); err != nil { // the worker's record script
			t.Fatal(err)
		}
	}
	return ts
}
