package inbox

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

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/reqfleet/reqfleet/enqueuer"
	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/outcomes"
	"github.com/reqfleet/reqfleet/tasks"
	"github.com/reqfleet/reqfleet/worker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const queue = "q"

func target(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok "+r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newEnqueuer(t *testing.T, rdb redis.UniversalClient) *enqueuer.Enqueuer {
	t.Helper()
	e, err := enqueuer.New(enqueuer.Config{Redis: rdb, Queue: queue})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// startWorker runs a real worker on the queue until the test ends.
func startWorker(t *testing.T, rdb redis.UniversalClient) {
	t.Helper()
	w, err := worker.New(worker.Config{Redis: rdb, Queues: map[string]int{queue: 1}, Concurrency: 4, TaskCheckInterval: 10 * time.Millisecond})
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
}

func newForwarder(t *testing.T, rdb redis.UniversalClient, mod func(*Config)) *Forwarder {
	t.Helper()
	cfg := Config{Redis: rdb, Enqueuer: newEnqueuer(t, rdb), Poll: 10 * time.Millisecond, Lease: time.Second}
	if mod != nil {
		mod(&cfg)
	}
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// running is a forwarder started with Start, stopped at the end of the
// test.
type running struct{ f *Forwarder }

func start(t *testing.T, f *Forwarder) *running {
	t.Helper()
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := &running{f: f}
	t.Cleanup(func() { r.stop(t) })
	return r
}

// wait waits for Run to return by itself (a hook's crash) and returns its error.
func (r *running) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.f.life.Done():
		return r.stop(t)
	case <-time.After(wait):
		t.Fatal("forwarder did not stop by itself")
		return nil
	}
}

// stop stops the forwarder and returns Run's error.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	err := r.f.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("forwarder did not stop")
	}
	return err
}

// push LPUSHes raw entries, as redis-cli or any client would.
func push(t *testing.T, rdb redis.UniversalClient, entries ...string) {
	t.Helper()
	args := []any{"LPUSH", reqrdb.InboxKey(queue)}
	for _, e := range entries {
		args = append(args, e)
	}
	if err := rdb.Do(context.Background(), args...).Err(); err != nil {
		t.Fatal(err)
	}
}

// wait bounds every wait of these tests.
const wait = 20 * time.Second

func llen(t *testing.T, rdb redis.UniversalClient, key string) int64 {
	t.Helper()
	n, err := rdb.LLen(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func responses(t *testing.T, rdb redis.UniversalClient) []tasks.Response {
	t.Helper()
	r, err := outcomes.NewReader(rdb, queue)
	if err != nil {
		t.Fatal(err)
	}
	var out []tasks.Response
	for resp, err := range r.Responses(context.Background(), outcomes.ReadOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, resp)
	}
	return out
}

func exceptions(t *testing.T, rdb redis.UniversalClient) []tasks.Exception {
	t.Helper()
	r, err := outcomes.NewReader(rdb, queue)
	if err != nil {
		t.Fatal(err)
	}
	var out []tasks.Exception
	for e, err := range r.Exceptions(context.Background(), outcomes.ReadOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// exactlyOnce checks that every id has one response, and nothing else.
func exactlyOnce(t *testing.T, rdb redis.UniversalClient, ids []string) {
	t.Helper()
	testkit.WaitUntil(t, wait, func() bool { return len(responses(t, rdb)) >= len(ids) }, "every job's response")
	// Let a double, if any, land too.
	testkit.WaitUntil(t, wait, func() bool {
		r, _ := outcomes.NewReader(rdb, queue)
		st, err := r.Stats(context.Background(), 0)
		return err == nil && st.Pending+st.Active+st.Retry+st.Scheduled == 0
	}, "the queue to drain")
	count := map[string]int{}
	for _, r := range responses(t, rdb) {
		count[r.ID]++
	}
	for _, id := range ids {
		if count[id] != 1 {
			t.Errorf("job %s: %d responses, want 1", id, count[id])
		}
		delete(count, id)
	}
	if len(count) > 0 {
		t.Errorf("responses of unexpected jobs: %v", count)
	}
	if n := llen(t, rdb, reqrdb.InboxKey(queue)) + llen(t, rdb, reqrdb.InboxProcessingKey(queue)); n != 0 {
		t.Errorf("%d entries left in the inbox and processing lists", n)
	}
}

// A JSON job LPUSHed by any client is picked up and run; a line that is not
// a job lands as an InvalidJob exception holding its text.
func TestLPUSHedJobsRun(t *testing.T) {
	testredis.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		srv := target(t)
		startWorker(t, rdb)
		f := newForwarder(t, rdb, nil)
		run := start(t, f)
		push(t, rdb,
			fmt.Sprintf(`{"url": %q, "id": "job-1", "meta": {"from": "redis-cli"}}`, srv.URL+"/a"),
			fmt.Sprintf(`{"url": %q, "method": "post", "json": {"x": 1}}`, srv.URL+"/b"),
			`this is not json`,
			fmt.Sprintf(`{"url": %q, "id": "bad-1", "files": {"f": "x"}}`, srv.URL+"/c"),
		)
		testkit.WaitUntil(t, wait, func() bool {
			return len(responses(t, rdb)) == 2 && len(exceptions(t, rdb)) == 2
		}, "two responses and two exceptions")
		byID := map[string]tasks.Response{}
		for _, r := range responses(t, rdb) {
			byID[r.ID] = r
		}
		if r, ok := byID["job-1"]; !ok || r.StatusCode != 200 || r.Body != "ok /a" || string(r.Request.Meta) != `{"from":"redis-cli"}` {
			t.Errorf("job-1: %+v", r)
		}
		var gen tasks.Response
		for id, r := range byID {
			if strings.HasPrefix(id, "inbox-") {
				gen = r
			}
		}
		if gen.Request.Method != "POST" || gen.Body != "ok /b" {
			t.Errorf("job without id: %+v", byID)
		}
		// Before the seal the batch adds up: the entries that are not jobs
		// are done in it, and what it holds is known (not 4/0).
		r, _ := outcomes.NewReader(rdb, queue)
		open, err := r.Batch(context.Background(), byID["job-1"].Batch)
		if err != nil || open.Sealed || open.Done != 4 || open.Expected() != 4 || open.Rejected != 2 || open.Exceptions != 2 {
			t.Errorf("open batch %+v (expected %d), %v; want 4/4 done, 2 rejected", open, open.Expected(), err)
		}
		excs := map[string]tasks.Exception{}
		for _, e := range exceptions(t, rdb) {
			if e.Exception.Type != tasks.InvalidJob || e.Batch != byID["job-1"].Batch || e.Attempt != 1 {
				t.Errorf("exception %+v, want an InvalidJob of batch %s", e, byID["job-1"].Batch)
			}
			excs[e.ID] = e
		}
		if e := excs["bad-1"]; !strings.Contains(e.Exception.Message, `"files"`) || !strings.Contains(e.Exception.Message, `{"url": "`+srv.URL+`/c"`) {
			t.Errorf("exception of bad-1: %+v", e)
		}
		delete(excs, "bad-1")
		for id, e := range excs {
			if !strings.HasPrefix(id, "inbox-") || !strings.Contains(e.Exception.Message, "entry: this is not json") {
				t.Errorf("exception of the line that is not JSON: %+v", e)
			}
		}
		if err := run.stop(t); err != nil {
			t.Fatal(err)
		}
		// Stopping sealed the batch: it is complete, its InvalidJob
		// exceptions counted.
		st, err := r.Batch(context.Background(), byID["job-1"].Batch)
		if err != nil || !st.Complete() || st.Total != 4 || st.Done != 4 || st.Responses != 2 || st.Exceptions != 2 {
			t.Fatalf("batch %+v, %v", st, err)
		}
		if n := llen(t, rdb, reqrdb.InboxProcessingKey(queue)) + llen(t, rdb, reqrdb.InboxKey(queue)); n != 0 {
			t.Fatalf("%d entries left", n)
		}
		if n, _ := rdb.Exists(context.Background(), reqrdb.InboxLeaseKey(queue)).Result(); n != 0 {
			t.Fatal("lease not released")
		}
	})
}

// An entry that is not a job, left in the processing list by a dead
// forwarder under its batch, is counted once, in the batch of the
// forwarder that finishes it, which then adds up.
func TestRejectedLeftByDeadForwarder(t *testing.T) {
	testredis.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		if err := rdb.LPush(ctx, reqrdb.InboxProcessingKey(queue), "DEAD\n7\nnot a job").Err(); err != nil {
			t.Fatal(err)
		}
		run := start(t, newForwarder(t, rdb, nil))
		testkit.WaitUntil(t, wait, func() bool { return len(exceptions(t, rdb)) == 1 }, "the InvalidJob exception")
		if err := run.stop(t); err != nil {
			t.Fatal(err)
		}
		excs := exceptions(t, rdb)
		if len(excs) != 1 || excs[0].Batch == "DEAD" || excs[0].ID != "inbox-7" {
			t.Fatalf("exceptions %+v", excs)
		}
		r, _ := outcomes.NewReader(rdb, queue)
		st, err := r.Batch(ctx, excs[0].Batch)
		if err != nil || !st.Complete() || st.Total != 1 || st.Done != 1 || st.Exceptions != 1 || st.Rejected != 1 {
			t.Fatalf("batch %+v, %v", st, err)
		}
		if n := llen(t, rdb, reqrdb.InboxProcessingKey(queue)); n != 0 {
			t.Fatalf("%d entries left", n)
		}
	})
}

func jobLines(srv *httptest.Server, n int, withIDs bool) (lines, ids []string) {
	for i := range n {
		if withIDs {
			id := fmt.Sprintf("j%d", i)
			ids = append(ids, id)
			lines = append(lines, fmt.Sprintf(`{"url": %q, "id": %q}`, srv.URL+"/"+id, id))
		} else {
			lines = append(lines, fmt.Sprintf(`{"url": %q}`, srv.URL+fmt.Sprintf("/n%d", i)))
		}
	}
	return lines, ids
}

var errKilled = errors.New("killed")

// A forwarder killed after it took entries and before it enqueued them:
// the next one finishes them, each job exactly once.
func TestKilledBeforeEnqueue(t *testing.T) {
	rdb := testredis.Start(t).Client(t)
	srv := target(t)
	startWorker(t, rdb)
	lines, ids := jobLines(srv, 20, true)
	noID, _ := jobLines(srv, 5, false)
	push(t, rdb, append(lines, noID...)...)

	var calls atomic.Int32
	f1 := newForwarder(t, rdb, func(c *Config) { c.Chunk = 10; c.Concurrency = 2 })
	f1.hooks.beforeEnqueue = func(tasks.Job) error {
		if calls.Add(1) > 4 {
			return errKilled
		}
		return nil
	}
	if err := start(t, f1).wait(t); !errors.Is(err, errKilled) {
		t.Fatalf("killed forwarder returned %v", err)
	}
	if n := llen(t, rdb, reqrdb.InboxProcessingKey(queue)); n == 0 {
		t.Fatal("nothing left in the processing list: the test kills too late")
	}
	// The next forwarder waits for the dead one's lease to expire.
	start(t, newForwarder(t, rdb, nil))
	testkit.WaitUntil(t, wait, func() bool { return len(responses(t, rdb)) >= 25 }, "25 responses")
	for _, r := range responses(t, rdb) {
		if strings.HasPrefix(r.ID, "inbox-") {
			ids = append(ids, r.ID)
		}
	}
	exactlyOnce(t, rdb, ids)
}

// A forwarder killed after it enqueued a job and before it dropped the
// entry: the next one finds the task (queued or done) and does not enqueue
// it again.
func TestKilledAfterEnqueue(t *testing.T) {
	for _, workerFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("job done before recovery %v", workerFirst), func(t *testing.T) {
			rdb := testredis.Start(t).Client(t)
			srv := target(t)
			lines, ids := jobLines(srv, 10, true)
			noID, _ := jobLines(srv, 3, false)
			push(t, rdb, append(lines, noID...)...)

			var calls atomic.Int32
			f1 := newForwarder(t, rdb, func(c *Config) { c.Concurrency = 1 })
			f1.hooks.afterEnqueue = func(tasks.Job) error {
				if calls.Add(1) == 6 {
					return errKilled
				}
				return nil
			}
			if err := start(t, f1).wait(t); !errors.Is(err, errKilled) {
				t.Fatalf("killed forwarder returned %v", err)
			}
			if workerFirst {
				startWorker(t, rdb)
				testkit.WaitUntil(t, wait, func() bool { return len(responses(t, rdb)) >= 6 }, "the enqueued jobs to run")
			}
			start(t, newForwarder(t, rdb, nil))
			if !workerFirst {
				testkit.WaitUntil(t, wait, func() bool { return llen(t, rdb, reqrdb.InboxProcessingKey(queue)) == 0 }, "the processing list to empty")
				startWorker(t, rdb)
			}
			testkit.WaitUntil(t, wait, func() bool { return len(responses(t, rdb)) >= 13 }, "13 responses")
			for _, r := range responses(t, rdb) {
				if strings.HasPrefix(r.ID, "inbox-") {
					ids = append(ids, r.ID)
				}
			}
			exactlyOnce(t, rdb, ids)
		})
	}
}

// Several forwarders (one per worker) share an inbox: one works at a time,
// and every job runs once.
func TestForwardersShareAnInbox(t *testing.T) {
	rdb := testredis.Start(t).Client(t)
	srv := target(t)
	startWorker(t, rdb)
	for range 3 {
		start(t, newForwarder(t, rdb, nil))
	}
	lines, ids := jobLines(srv, 150, true)
	for i := 0; i < len(lines); i += 10 {
		push(t, rdb, lines[i:i+10]...)
		time.Sleep(5 * time.Millisecond)
	}
	exactlyOnce(t, rdb, ids)
}

// batchesOf counts the responses of each batch.
func batchesOf(t *testing.T, rdb redis.UniversalClient) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, r := range responses(t, rdb) {
		out[r.Batch]++
	}
	return out
}

// checkComplete checks that each batch is complete with its responses.
func checkComplete(t *testing.T, rdb redis.UniversalClient, batches map[string]int) {
	t.Helper()
	reader, _ := outcomes.NewReader(rdb, queue)
	for b, n := range batches {
		st, err := reader.Batch(context.Background(), b)
		if err != nil || !st.Complete() || st.Total != int64(n) {
			t.Errorf("batch %s: %+v, %v (%d responses)", b, st, err, n)
		}
	}
}

// A job whose id is taken in the forwarder's batch goes to the next batch.
func TestDuplicateIDGoesToNextBatch(t *testing.T) {
	rdb := testredis.Start(t).Client(t)
	srv := target(t)
	startWorker(t, rdb)
	run := start(t, newForwarder(t, rdb, nil))
	lines, _ := jobLines(srv, 7, true)
	dup := fmt.Sprintf(`{"url": %q, "id": "j1"}`, srv.URL+"/again")
	push(t, rdb, append(lines, dup)...)
	testkit.WaitUntil(t, wait, func() bool { return len(responses(t, rdb)) == 8 }, "8 responses")
	if err := run.stop(t); err != nil {
		t.Fatal(err)
	}
	j1 := map[string]string{}
	for _, r := range responses(t, rdb) {
		if r.ID == "j1" {
			j1[r.Batch] = r.Body
		}
	}
	batches := batchesOf(t, rdb)
	if len(j1) != 2 || len(batches) != 2 {
		t.Fatalf("j1 ran in batches %v; batches %v", j1, batches)
	}
	checkComplete(t, rdb, batches)
}

// BatchMax seals full batches (checked between chunks); every batch completes.
func TestBatchMax(t *testing.T) {
	rdb := testredis.Start(t).Client(t)
	srv := target(t)
	startWorker(t, rdb)
	run := start(t, newForwarder(t, rdb, func(c *Config) { c.BatchMax = 3; c.Chunk = 1 }))
	lines, _ := jobLines(srv, 7, true)
	push(t, rdb, lines...)
	testkit.WaitUntil(t, wait, func() bool { return len(responses(t, rdb)) == 7 }, "7 responses")
	if err := run.stop(t); err != nil {
		t.Fatal(err)
	}
	batches := batchesOf(t, rdb)
	if len(batches) != 3 {
		t.Fatalf("batches %v, want 3, 3 and 1 jobs", batches)
	}
	checkComplete(t, rdb, batches)
}

func TestConfig(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	enq, err := enqueuer.New(enqueuer.Config{Redis: rdb})
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []Config{
		{},
		{Redis: rdb},
		{Redis: rdb, Enqueuer: enq, Lease: 10 * time.Millisecond},
		{Redis: rdb, Enqueuer: enq, Chunk: -1},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
	f, err := New(Config{Redis: rdb, Enqueuer: enq})
	if err != nil || f.Queue() != "default" || f.cfg.Chunk != DefaultChunk || f.cfg.Lease != DefaultLease {
		t.Fatalf("defaults: %+v, %v", f.cfg, err)
	}
}

// A forwarder whose lease another one took stops taking entries, and takes
// over again once the lease is free.
func TestLeaseLost(t *testing.T) {
	rdb := testredis.Start(t).Client(t)
	srv := target(t)
	startWorker(t, rdb)
	f := newForwarder(t, rdb, nil)
	f.testSignals.leaseLost.Init(t)
	f.testSignals.standby.Init(t)
	start(t, f)
	ctx := context.Background()
	testkit.WaitUntil(t, wait, func() bool { return rdb.Exists(ctx, reqrdb.InboxLeaseKey(queue)).Val() == 1 }, "the lease")
	if err := rdb.Set(ctx, reqrdb.InboxLeaseKey(queue), "someone else", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	f.testSignals.leaseLost.WaitOrTimeout() // a renewal (every third of the 1s lease) found it lost
	for len(f.testSignals.standby.C()) > 0 {
		<-f.testSignals.standby.C()
	}
	lines, ids := jobLines(srv, 5, true)
	push(t, rdb, lines...)
	// Two tries at the lease after the push, standing by in between.
	f.testSignals.standby.WaitOrTimeout()
	f.testSignals.standby.WaitOrTimeout()
	if n := llen(t, rdb, reqrdb.InboxKey(queue)); n != 5 {
		t.Fatalf("a forwarder without the lease took entries: %d left of 5", n)
	}
	if err := rdb.Del(ctx, reqrdb.InboxLeaseKey(queue)).Err(); err != nil {
		t.Fatal(err)
	}
	exactlyOnce(t, rdb, ids)
}

// emptyTakeHook makes the first take that moved entries answer none, as
// when go-redis ran the take again after a read timeout and the second run
// found the inbox empty: the entries sit in the processing list, unseen.
type emptyTakeHook struct{ fired *atomic.Bool }

func (emptyTakeHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h emptyTakeHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if c, ok := cmd.(*redis.Cmd); ok && err == nil && (cmd.Name() == "evalsha" || cmd.Name() == "eval") &&
			strings.Contains(fmt.Sprint(cmd.Args()), reqrdb.InboxKey(queue)) {
			if v, ok := c.Val().([]any); ok && len(v) > 0 && h.fired.CompareAndSwap(false, true) {
				c.SetVal([]any{})
			}
		}
		return err
	}
}

func (emptyTakeHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// Entries left in the processing list while the forwarder runs (a take
// whose reply was lost) are forwarded by its periodic recovery, each job
// once, without waiting for another forwarder.
func TestPeriodicRecovery(t *testing.T) {
	rdb := testredis.Start(t).Client(t)
	srv := target(t)
	startWorker(t, rdb)
	var fired atomic.Bool
	rdb.AddHook(emptyTakeHook{fired: &fired})
	f := newForwarder(t, rdb, func(c *Config) { c.RecoverEvery = 100 * time.Millisecond })
	start(t, f)
	lines, ids := jobLines(srv, 10, true)
	push(t, rdb, lines...)
	testkit.WaitUntil(t, 30*time.Second, fired.Load, "the take's reply lost")
	exactlyOnce(t, rdb, ids)
}
