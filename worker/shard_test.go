package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/tasks"
)

func TestShardCount(t *testing.T) {
	for _, tc := range []struct{ shards, conc, want int }{
		{0, 1, 1}, {0, 2, 1}, {0, 8, 1}, {0, 15, 1}, {0, 16, 2}, {0, 32, 4}, {0, 64, 8}, {0, 1000, 8},
		{3, 64, 3}, {5, 2, 2}, {1, 64, 1},
	} {
		if got := shardCount(tc.shards, tc.conc); got != tc.want {
			t.Errorf("shardCount(%d, %d) = %d, want %d", tc.shards, tc.conc, got, tc.want)
		}
	}
	for _, tc := range []struct {
		conc, shards int
		want         []int
	}{{5, 1, []int{5}}, {5, 2, []int{3, 2}}, {64, 4, []int{16, 16, 16, 16}}, {10, 4, []int{3, 3, 2, 2}}, {3, 3, []int{1, 1, 1}}} {
		if got := shardConcurrencies(tc.conc, tc.shards); !slices.Equal(got, tc.want) {
			t.Errorf("shardConcurrencies(%d, %d) = %v, want %v", tc.conc, tc.shards, got, tc.want)
		}
	}
}

func TestShardCheckInterval(t *testing.T) {
	var idlePolls float64
	for i := range 8 {
		d := shardCheckInterval(50*time.Millisecond, i)
		if want := time.Duration(i+1) * 50 * time.Millisecond; d != want {
			t.Errorf("shard %d polls every %v, want %v", i, d, want)
		}
		idlePolls += float64(time.Second / d)
	}
	if idlePolls > 60 { // 20 a second for the first, 2.7 shards' worth in all
		t.Errorf("8 idle shards poll %.0f times a second", idlePolls)
	}
}

// Several shards share one pool: every job gets one outcome, and never more
// jobs run at once than there are sessions.
func TestShardsShareTheSessions(t *testing.T) {
	for _, asynqProcessor := range []bool{false, true} {
		t.Run(fmt.Sprintf("asynq_processor=%v", asynqProcessor), func(t *testing.T) {
			testShardsShareTheSessions(t, asynqProcessor)
		})
	}
}

// testShardsShareTheSessions: the fetcher's runners and the asynq servers,
// or the asynq servers alone, never run more jobs at once than sessions.
func testShardsShareTheSessions(t *testing.T, asynqProcessor bool) {
	testredis.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		var running, peak atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			select { // a job that takes a while, so that jobs overlap
			case <-time.After(2 * time.Millisecond):
			case <-r.Context().Done():
			}
			running.Add(-1)
		}))
		t.Cleanup(srv.Close)
		const sessions, jobs = 5, 120
		f := newFleet(t, rdb, Config{Concurrency: sessions, Shards: 3, AsynqProcessor: asynqProcessor})
		for i := range jobs {
			f.enqueue(t, tasks.Task{Batch: "B", Attempt: 1, Job: job(fmt.Sprint(i), srv.URL)}, "")
		}
		if err := f.w.Start(); err != nil {
			t.Fatal(err)
		}
		wantShards := 0 // the fetcher runs no asynq server
		if asynqProcessor {
			wantShards = 3
		}
		if n := len(f.w.servers); n != wantShards {
			t.Fatalf("%d shards, want %d", n, wantShards)
		}
		if (f.w.fetch == nil) != asynqProcessor {
			t.Fatalf("fetcher running: %v, with AsynqProcessor %v", f.w.fetch != nil, asynqProcessor)
		}
		f.waitDone(t, "B", jobs)
		if p := peak.Load(); p > sessions {
			t.Fatalf("%d jobs at once, sessions %d", p, sessions)
		}
		if n := f.rdb.LLen(context.Background(), reqrdb.ResultsKey("q")).Val(); n != jobs {
			t.Fatalf("%d results, want %d", n, jobs)
		}
	})
}

// outcome is a response of job id in batch B.
func outcome(id string) (tasks.Task, tasks.Outcome) {
	j := tasks.Job{ID: id, Method: "GET", URL: "http://x/"}
	return tasks.Task{Batch: "B", Attempt: 1, Job: j}, &tasks.Response{ID: id, Batch: "B", Request: j, StatusCode: 200, Attempt: 1}
}

// startBatcher starts a batcher, stopped at the end of the test.
func startBatcher(t *testing.T, rec *recorder, flushers, max int) *batcher {
	t.Helper()
	b := newBatcher(rec, flushers, max, 0, max)
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopBatcher(t, b) })
	return b
}

func stopBatcher(t *testing.T, b *batcher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Stop(ctx); err != nil {
		t.Error(err)
	}
}

// The batcher records many outcomes in few calls, each exactly once, and
// tells each caller whether its outcome was new.
func TestBatcherGroupsAndDedupes(t *testing.T) {
	testredis.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		var calls atomic.Int32
		rdb.AddHook(countScripts{&calls})
		rec := recorder{rdb: rdb, ttl: time.Hour}
		b := startBatcher(t, &rec, 1, 16)
		const n = 200
		fresh := make([]atomic.Int32, n)
		var wg sync.WaitGroup
		for i := range 2 * n { // every outcome twice, from two goroutines
			wg.Go(func() {
				queue := "q"
				if i%n%2 == 1 {
					queue = "r" // two queues: groups of both, pipelined
				}
				tk, o := outcome(fmt.Sprint(i % n))
				ok, err := b.record(ctx, queue, tk, o)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					fresh[i%n].Add(1)
				}
			})
		}
		wg.Wait()
		for i := range fresh {
			if fresh[i].Load() != 1 {
				t.Fatalf("outcome %d reported new %d times", i, fresh[i].Load())
			}
		}
		for _, q := range []string{"q", "r"} {
			if l := rdb.LLen(ctx, reqrdb.ResultsKey(q)).Val(); l != n/2 {
				t.Fatalf("queue %s: %d results, want %d", q, l, n/2)
			}
			h := rdb.HGetAll(ctx, reqrdb.BatchKey(q, "B")).Val()
			if h["done"] != fmt.Sprint(n/2) || h["responses"] != fmt.Sprint(n/2) {
				t.Fatalf("queue %s: counters %v", q, h)
			}
			for _, k := range []string{reqrdb.BatchKey(q, "B"), reqrdb.SeenKey(q, "B")} {
				if ttl := rdb.TTL(ctx, k).Val(); ttl <= 0 || ttl > time.Hour {
					t.Fatalf("TTL of %s = %v", k, ttl)
				}
			}
		}
		if c := calls.Load(); c >= 2*n {
			t.Errorf("%d script calls for %d records: no grouping", c, 2*n)
		}
		t.Logf("%d records in %d script calls", 2*n, calls.Load())

		// Stopped, it records one by one, still exactly once.
		stopBatcher(t, b)
		tk, o := outcome("late")
		if ok, err := b.record(ctx, "q", tk, o); err != nil || !ok {
			t.Fatalf("after close: %v %v", ok, err)
		}
		if ok, err := b.record(ctx, "q", tk, o); err != nil || ok {
			t.Fatalf("after close, again: %v %v", ok, err)
		}
	})
}

// A group whose reply is lost (the call ran, the caller saw an error) is
// tried again by each caller, and the dedupe keeps every outcome to one
// record and the counters exact.
func TestBatchedRecordRetriedWithoutDoubles(t *testing.T) {
	testredis.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		lose := &loseReplies{left: 3}
		rdb.AddHook(lose)
		w, err := New(Config{Redis: rdb, Queues: map[string]int{"q": 1}, Concurrency: 1})
		if err != nil {
			t.Fatal(err)
		}
		w.batch = startBatcher(t, &w.rec, 2, 8)
		defer w.pool.close()
		const n = 40
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				tk, o := outcome(fmt.Sprint(i))
				if err := w.record(ctx, "q", tk, o, time.Now(), nil); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if lose.lost.Load() == 0 {
			t.Fatal("no reply was lost: the test tests nothing")
		}
		lines := rdb.LRange(ctx, reqrdb.ResultsKey("q"), 0, -1).Val()
		ids := map[string]int{}
		for _, l := range lines {
			r, err := tasks.DecodeResponse([]byte(l))
			if err != nil {
				t.Fatal(err)
			}
			ids[r.ID]++
		}
		if len(lines) != n || len(ids) != n {
			t.Fatalf("%d results of %d ids, want %d once each", len(lines), len(ids), n)
		}
		if done := rdb.HGet(ctx, reqrdb.BatchKey("q", "B"), "done").Val(); done != fmt.Sprint(n) {
			t.Fatalf("done = %s, want %d", done, n)
		}
	})
}

// countScripts counts EVALSHA and EVAL calls, piped or not.
type countScripts struct{ n *atomic.Int32 }

func (c countScripts) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c countScripts) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if isScript(cmd) {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (c countScripts) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if isScript(cmd) {
				c.n.Add(1)
			}
		}
		return next(ctx, cmds)
	}
}

func isScript(cmd redis.Cmder) bool {
	name := strings.ToLower(cmd.Name())
	return name == "evalsha" || name == "eval"
}

// loseReplies runs the first `left` record-many script calls and then
// fails them, as a connection lost after Redis ran the script would.
type loseReplies struct {
	mu   sync.Mutex
	left int
	lost atomic.Int32
}

var errLost = &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset (test)")}

func (l *loseReplies) DialHook(next redis.DialHook) redis.DialHook { return next }
func (l *loseReplies) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil || !isScript(cmd) || len(cmd.Args()) < 4 {
			return err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.left == 0 {
			return nil
		}
		l.left--
		l.lost.Add(1)
		cmd.SetErr(errLost)
		return errLost
	}
}
func (l *loseReplies) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
