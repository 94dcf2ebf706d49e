package enqueuer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/tasks"
)

// typeByURL makes the worker's outcome depend on the job's URL: ".../r"
// responds, ".../<type>" raises that exception type.
func typeByURL(task tasks.Task) string {
	typ := task.Job.URL[strings.LastIndexByte(task.Job.URL, '/')+1:]
	if typ == "r" {
		return ""
	}
	return typ
}

// seed enqueues batches of jobs, one per type (in order, "r" for a
// response), and plays the worker. It returns the batch ids and the
// exceptions recorded.
func seed(t *testing.T, v *env, batches int, types ...string) ([]string, []tasks.Exception) {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for b := range batches {
		var urls []string
		for i, typ := range types {
			urls = append(urls, fmt.Sprintf("http://h/%d/%d/%s", b, i, typ))
		}
		rec, err := v.e.EnqueueMany(ctx, FromURLs(urls))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.Batch)
		v.work(t, typeByURL)
	}
	return ids, v.exceptions(t)
}

func (v *env) exceptions(t *testing.T) []tasks.Exception {
	t.Helper()
	var out []tasks.Exception
	for _, line := range v.list(t, rdb.ExceptionsKey(testQueue)) {
		e, err := tasks.DecodeException([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// checkQueued checks that exactly the next attempts of excs are queued.
func checkQueued(t *testing.T, v *env, excs []tasks.Exception) {
	t.Helper()
	want := make(map[string]tasks.Exception)
	for _, e := range excs {
		want[fmt.Sprintf("%s:%d:%s", e.Batch, e.Attempt+1, e.ID)] = e
	}
	p := v.pending(t)
	if len(p) != len(excs) {
		t.Errorf("%d tasks queued, want %d", len(p), len(excs))
	}
	for _, task := range p {
		e, ok := want[task.TaskID()]
		if !ok {
			t.Errorf("task %s queued, not wanted", task.TaskID())
			continue
		}
		delete(want, task.TaskID())
		got, _ := json.Marshal(task.Job)
		exp, _ := json.Marshal(e.Request)
		if string(got) != string(exp) {
			t.Errorf("task %s: job %s, want %s", task.TaskID(), got, exp)
		}
	}
	for id := range want {
		t.Errorf("task %s not queued", id)
	}
}

// checkCounters checks each batch's done and exceptions counts against its
// lists: responses plus exceptions still listed.
func checkCounters(t *testing.T, v *env, batches []string, jobsPerBatch, responsesPerBatch int) {
	t.Helper()
	left := make(map[string]int)
	for _, e := range v.exceptions(t) {
		left[e.Batch]++
	}
	for _, b := range batches {
		wantHash(t, v.hash(t, b), map[string]int{
			rdb.BatchTotal:      jobsPerBatch,
			rdb.BatchResponses:  responsesPerBatch,
			rdb.BatchExceptions: left[b],
			rdb.BatchDone:       responsesPerBatch + left[b],
		})
	}
}

var retryTypes = []string{"r", tasks.ConnectionError, tasks.ReadTimeout, "r", tasks.ConnectionError}

func TestRetryAll(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		for _, be := range backends {
			t.Run(be.name, func(t *testing.T) {
				v := newEnv(t, be.start, nil, path)
				v.e.retryChunk = 2
				batches, excs := seed(t, v, 2, retryTypes...)
				if len(excs) != 6 {
					t.Fatalf("%d exceptions seeded", len(excs))
				}
				var listed []string
				rep, err := v.e.Retry(context.Background(), RetryOptions{OnEntry: func(e tasks.Exception) { listed = append(listed, e.ID) }})
				if err != nil {
					t.Fatal(err)
				}
				if rep != (RetryReport{Retried: 6}) || len(listed) != 6 {
					t.Fatalf("report %+v, %d listed", rep, len(listed))
				}
				checkQueued(t, v, excs)
				if l := v.list(t, rdb.RetryingKey(testQueue)); len(l) != 0 {
					t.Errorf("retrying list %q", l)
				}
				checkCounters(t, v, batches, 5, 2)

				// The retries fail again: a second retry makes attempt 3.
				v.work(t, typeByURL)
				excs2 := v.exceptions(t)
				if rep, err := v.e.Retry(context.Background(), RetryOptions{}); err != nil || rep.Retried != 6 {
					t.Fatalf("second retry: %+v %v", rep, err)
				}
				checkQueued(t, v, excs2)
				for _, task := range v.pending(t) {
					if task.Attempt != 3 {
						t.Errorf("task %s: attempt %d", task.TaskID(), task.Attempt)
					}
				}
			})
		}
	})
}

func TestRetryFilters(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		tests := []struct {
			name string
			opts func(batches []string) RetryOptions
			want func(batches []string, e tasks.Exception) bool
		}{
			{"batch", func(b []string) RetryOptions { return RetryOptions{Batch: b[1]} },
				func(b []string, e tasks.Exception) bool { return e.Batch == b[1] }},
			{"type", func(b []string) RetryOptions { return RetryOptions{Type: tasks.ConnectionError} },
				func(b []string, e tasks.Exception) bool { return e.Exception.Type == tasks.ConnectionError }},
			{"batch and type", func(b []string) RetryOptions { return RetryOptions{Batch: b[0], Type: tasks.ReadTimeout} },
				func(b []string, e tasks.Exception) bool {
					return e.Batch == b[0] && e.Exception.Type == tasks.ReadTimeout
				}},
			{"no match", func(b []string) RetryOptions { return RetryOptions{Type: "NoSuchError"} },
				func(b []string, e tasks.Exception) bool { return false }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				v := newMini(t, nil, path)
				v.e.retryChunk = 3
				batches, excs := seed(t, v, 3, retryTypes...)
				before := v.list(t, rdb.ExceptionsKey(testQueue))
				var moved, kept []tasks.Exception
				var keptLines []string
				for i, e := range excs {
					if tt.want(batches, e) {
						moved = append(moved, e)
					} else {
						kept = append(kept, e)
						keptLines = append(keptLines, before[i])
					}
				}
				rep, err := v.e.Retry(context.Background(), tt.opts(batches))
				if err != nil {
					t.Fatal(err)
				}
				if rep != (RetryReport{Retried: len(moved), Skipped: len(kept)}) {
					t.Errorf("report %+v, want %d retried, %d skipped", rep, len(moved), len(kept))
				}
				checkQueued(t, v, moved)
				if got := v.list(t, rdb.ExceptionsKey(testQueue)); !slices.Equal(got, keptLines) {
					t.Errorf("left in place:\n%q\nwant\n%q", got, keptLines)
				}
				checkCounters(t, v, batches, 5, 2)
			})
		}
	})
}

func TestRetryDryRun(t *testing.T) {
	v := newMini(t, nil)
	batches, _ := seed(t, v, 2, retryTypes...)
	ctx := context.Background()
	// One entry left in the retrying list by a dead run.
	if err := v.rdb.RPush(ctx, rdb.RetryingKey(testQueue), mustJSON(t, tasks.Exception{ID: "dead", Batch: batches[0],
		Request: tasks.Job{ID: "dead", Method: "GET", URL: "http://h/dead"}, Attempt: 1})).Err(); err != nil {
		t.Fatal(err)
	}
	before := v.list(t, rdb.ExceptionsKey(testQueue))
	hashes := []map[string]string{v.hash(t, batches[0]), v.hash(t, batches[1])}
	var listed []string
	rep, err := v.e.Retry(ctx, RetryOptions{DryRun: true, Type: tasks.ConnectionError,
		OnEntry: func(e tasks.Exception) { listed = append(listed, e.ID) }})
	if err != nil {
		t.Fatal(err)
	}
	if rep != (RetryReport{Retried: 4, Recovered: 1, Skipped: 2}) || len(listed) != 5 || listed[0] != "dead" {
		t.Fatalf("report %+v, listed %q", rep, listed)
	}
	if n := len(v.pending(t)); n != 0 {
		t.Errorf("%d tasks queued by a dry run", n)
	}
	if got := v.list(t, rdb.ExceptionsKey(testQueue)); !slices.Equal(got, before) {
		t.Errorf("exceptions changed")
	}
	if got := v.list(t, rdb.RetryingKey(testQueue)); len(got) != 1 {
		t.Errorf("retrying list %q", got)
	}
	for i, b := range batches {
		if h := v.hash(t, b); fmt.Sprint(h) != fmt.Sprint(hashes[i]) {
			t.Errorf("batch hash changed: %v, was %v", h, hashes[i])
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRetryInvalid: entries that are not exceptions, or have no request,
// stay where they are.
func TestRetryInvalid(t *testing.T) {
	v := newMini(t, nil)
	batches, excs := seed(t, v, 1, retryTypes...)
	ctx := context.Background()
	bad := []string{"not json", mustJSON(t, tasks.Exception{ID: "x", Batch: batches[0], Attempt: 1,
		Exception: tasks.ExceptionInfo{Type: tasks.InvalidJob}})}
	if err := v.rdb.LPush(ctx, rdb.ExceptionsKey(testQueue), bad[0], bad[1]).Err(); err != nil {
		t.Fatal(err)
	}
	rep, err := v.e.Retry(ctx, RetryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep != (RetryReport{Retried: 3, Invalid: 2}) {
		t.Fatalf("report %+v", rep)
	}
	checkQueued(t, v, excs)
	if got := v.list(t, rdb.ExceptionsKey(testQueue)); !sameElems(got, bad) {
		t.Errorf("exceptions %q", got)
	}
}

// TestRetryKilled stops a run at the points where a crash matters, then
// runs again: every exception is queued exactly once, nothing is left in
// the retrying list and the counters are right.
func TestRetryKilled(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		died := errors.New("killed")
		tests := []struct {
			name        string
			at          string // "move" or "enqueue"
			nth         int64  // the hook call that dies
			concurrency int
			real        bool
		}{
			{"after move, first", "move", 1, 1, false},
			{"after move, midway", "move", 4, 1, false},
			{"after enqueue, first", "enqueue", 1, 1, false},
			{"after enqueue, midway", "enqueue", 4, 1, false},
			{"after move, concurrent", "move", 3, 4, false},
			{"after enqueue, concurrent", "enqueue", 3, 4, false},
			{"after enqueue, redis-server", "enqueue", 4, 4, true},
			{"after move, redis-server", "move", 2, 4, true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				start := miniBackend
				if tt.real {
					start = realBackend
				}
				v := newEnv(t, start, func(c *Config) { c.Concurrency = tt.concurrency }, path)
				v.e.retryChunk = 2
				batches, excs := seed(t, v, 2, retryTypes...)
				var calls atomic.Int64
				hook := func(tasks.Exception) error {
					if calls.Add(1) == tt.nth {
						return died
					}
					return nil
				}
				if tt.at == "move" {
					v.e.hooks.afterMove = hook
				} else {
					v.e.hooks.afterEnqueue = hook
				}
				ctx := context.Background()
				rep1, err := v.e.Retry(ctx, RetryOptions{})
				if !errors.Is(err, died) {
					t.Fatalf("first run: %v", err)
				}
				if rep1.Retried >= len(excs) {
					t.Fatalf("first run retried %d of %d", rep1.Retried, len(excs))
				}
				// Nothing lost: each exception is still listed, being retried
				// or queued.
				where := make(map[string]int)
				for _, e := range v.exceptions(t) {
					where[e.ID]++
				}
				for _, line := range v.list(t, rdb.RetryingKey(testQueue)) {
					e, _ := tasks.DecodeException([]byte(line))
					where[e.ID]++
				}
				queued := make(map[string]bool)
				for _, task := range v.pending(t) {
					queued[task.Job.ID] = true
				}
				for _, e := range excs {
					if where[e.ID] == 0 && !queued[e.ID] || where[e.ID] > 1 {
						t.Errorf("exception %s: listed %d times, queued %v", e.ID, where[e.ID], queued[e.ID])
					}
				}

				v.e.hooks = hooks{}
				rep2, err := v.e.Retry(ctx, RetryOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if n := rep1.Retried + rep2.Retried + rep2.Recovered; n != len(excs) {
					t.Errorf("runs %+v then %+v: %d in all, want %d", rep1, rep2, n, len(excs))
				}
				if tt.concurrency == 1 && rep2.Recovered != 1 {
					t.Errorf("second run recovered %d, want 1", rep2.Recovered)
				}
				checkQueued(t, v, excs)
				if l := v.list(t, rdb.RetryingKey(testQueue)); len(l) != 0 {
					t.Errorf("retrying list %q", l)
				}
				if l := v.list(t, rdb.ExceptionsKey(testQueue)); len(l) != 0 {
					t.Errorf("exceptions list %q", l)
				}
				checkCounters(t, v, batches, 5, 2)
			})
		}
	})
}

// TestRetryRecoverRan: a retried attempt whose outcome is recorded already
// (it ran after the dead run enqueued it) is not enqueued again.
func TestRetryRecoverRan(t *testing.T) {
	v := newMini(t, nil)
	batches, excs := seed(t, v, 1, tasks.ConnectionError, tasks.ConnectionError)
	v.e.hooks.afterEnqueue = func(tasks.Exception) error { return errors.New("killed") }
	ctx := context.Background()
	if _, err := v.e.Retry(ctx, RetryOptions{}); err == nil {
		t.Fatal("not killed")
	}
	v.e.hooks = hooks{}
	// The worker runs whatever was queued: responses this time.
	ran := v.work(t, func(tasks.Task) string { return "" })
	if len(ran) == 0 {
		t.Fatal("nothing queued by the killed run")
	}
	rep, err := v.e.Retry(ctx, RetryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Recovered+rep.Retried != 2 || rep.Recovered < 1 {
		t.Fatalf("report %+v", rep)
	}
	// Only the attempts that had not run are queued.
	var notRan []tasks.Exception
	for _, e := range excs {
		if !slices.ContainsFunc(ran, func(t tasks.Task) bool { return t.Job.ID == e.ID }) {
			notRan = append(notRan, e)
		}
	}
	checkQueued(t, v, notRan)
	wantHash(t, v.hash(t, batches[0]), map[string]int{rdb.BatchDone: len(ran), rdb.BatchResponses: len(ran),
		rdb.BatchExceptions: 0})
}

// TestRetryRedisDown: a Redis failure ends the run with ErrEnqueue, and a
// rerun finishes.
func TestRetryRedisDown(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		v := newMini(t, func(c *Config) { c.Concurrency = 1 }, path)
		batches, excs := seed(t, v, 1, retryTypes...)
		var moves atomic.Int64
		v.e.hooks.afterMove = func(tasks.Exception) error {
			if moves.Add(1) == 2 {
				v.mr.SetError("LOADING down")
			}
			return nil
		}
		ctx := context.Background()
		if _, err := v.e.Retry(ctx, RetryOptions{}); !errors.Is(err, ErrEnqueue) {
			t.Fatalf("err %v, want ErrEnqueue", err)
		}
		v.mr.SetError("")
		v.e.hooks = hooks{}
		if _, err := v.e.Retry(ctx, RetryOptions{}); err != nil {
			t.Fatal(err)
		}
		checkQueued(t, v, excs)
		checkCounters(t, v, batches, 5, 2)
	})
}

// TestRetryLostReply: the move runs but its reply is lost, and the move is
// sent again: the entry is finished once, the counters taken back once.
func TestRetryLostReply(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		v := newMini(t, nil, path)
		batches, excs := seed(t, v, 1, retryTypes...)
		move := rdb.Script("move_to_retrying")
		if err := move.Load(context.Background(), v.rdb).Err(); err != nil { // EVALSHA from the start
			t.Fatal(err)
		}
		var lost atomic.Int64
		v.rdb.AddHook(lostReplyHook{match: scriptArg(move.Hash()), seen: new(sync.Map), n: &lost})
		rep, err := v.e.Retry(context.Background(), RetryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if lost.Load() == 0 || rep.Retried != len(excs) {
			t.Fatalf("%d replies lost, report %+v", lost.Load(), rep)
		}
		checkQueued(t, v, excs)
		if l := v.list(t, rdb.RetryingKey(testQueue)); len(l) != 0 {
			t.Errorf("retrying list %q", l)
		}
		checkCounters(t, v, batches, 5, 2)
	})
}

// lostReplyHook runs the first command that match picks for each key and
// then fails it, as a connection lost before the reply would.
type lostReplyHook struct {
	match func(cmd redis.Cmder) (key any, ok bool)
	seen  *sync.Map
	n     *atomic.Int64
}

// scriptArg picks the EVALSHA of a script, keyed by its first ARGV.
func scriptArg(hash string) func(redis.Cmder) (any, bool) {
	return func(cmd redis.Cmder) (any, bool) {
		args := cmd.Args()
		if cmd.Name() != "evalsha" || len(args) < 7 || args[1] != hash {
			return nil, false
		}
		return args[6], true
	}
}

func (h lostReplyHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h lostReplyHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h lostReplyHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil {
			return err
		}
		key, ok := h.match(cmd)
		if !ok {
			return nil
		}
		if _, loaded := h.seen.LoadOrStore(key, true); loaded {
			return nil
		}
		h.n.Add(1)
		cmd.SetErr(&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET})
		return cmd.Err()
	}
}

// TestRetryBounded: exceptions recorded while Retry runs (a retried job
// that failed again at once) are left for the next run.
func TestRetryBounded(t *testing.T) {
	v := newMini(t, func(c *Config) { c.Concurrency = 1 })
	v.e.retryChunk = 1
	_, excs := seed(t, v, 1, tasks.ConnectionError, tasks.ConnectionError)
	ctx := context.Background()
	v.e.hooks.afterEnqueue = func(e tasks.Exception) error {
		e.Attempt++
		return v.rdb.RPush(ctx, rdb.ExceptionsKey(testQueue), mustJSON(t, e)).Err()
	}
	rep, err := v.e.Retry(ctx, RetryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Retried != 2 {
		t.Fatalf("report %+v", rep)
	}
	left := v.exceptions(t)
	if len(left) != 2 || left[0].Attempt != 2 || left[1].Attempt != 2 {
		t.Fatalf("left %+v, want the 2 new exceptions", left)
	}
	checkQueued(t, v, excs)
}

// A batch whose counters expired (BatchTTL) comes back to life on retry:
// sealed, one job per retried exception, so waiting for it ends.
func TestRetryExpiredBatchIsRevived(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			v := newEnv(t, be.start, nil)
			batches, excs := seed(t, v, 1, retryTypes...)
			if err := v.rdb.Del(context.Background(), rdb.BatchKey(testQueue, batches[0])).Err(); err != nil {
				t.Fatal(err)
			}
			if rep, err := v.e.Retry(context.Background(), RetryOptions{}); err != nil || rep.Retried != len(excs) {
				t.Fatalf("retry: %+v %v", rep, err)
			}
			h := v.hash(t, batches[0])
			if h["sealed"] != "1" || h["revived"] != "1" {
				t.Fatalf("revived batch hash = %v", h)
			}
			wantHash(t, h, map[string]int{rdb.BatchTotal: len(excs)})
			if h[rdb.BatchDone] != "" {
				t.Fatalf("done = %q before any retried job ran", h[rdb.BatchDone])
			}
			if ttl := v.rdb.TTL(context.Background(), rdb.BatchKey(testQueue, batches[0])).Val(); ttl <= 0 {
				t.Fatalf("revived batch has no expiry: %v", ttl)
			}
			checkQueued(t, v, excs)
			v.work(t, func(tasks.Task) string { return "" })
			wantHash(t, v.hash(t, batches[0]), map[string]int{rdb.BatchTotal: len(excs), rdb.BatchDone: len(excs), rdb.BatchResponses: len(excs)})
		})
	}
}
