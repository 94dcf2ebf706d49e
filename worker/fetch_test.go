package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/startstop"
	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/tasks"
)

// newTestFetcher is a fetcher with small defaults, stopped at the end of the
// test. It is not started.
func newTestFetcher(t *testing.T, rdb redis.UniversalClient, cfg fetcherConfig, exec execFunc) *fetcher {
	t.Helper()
	if cfg.queues == nil {
		cfg.queues = map[string]int{"q": 1}
	}
	cfg.concurrency = max(cfg.concurrency, 1)
	cfg.batch = max(cfg.batch, 4)
	switch {
	case cfg.minPrefetch < 0: // Config.Prefetch's default: following the rate
		cfg = cfg.withPrefetch(0)
	case cfg.prefetch == 0:
		cfg.prefetch, cfg.minPrefetch = cfg.batch, cfg.batch // room for the tests that call fetch themselves
	default:
		cfg.minPrefetch = cfg.prefetch // fixed
	}
	if cfg.interval == 0 {
		cfg.interval = 10 * time.Millisecond
	}
	if cfg.shutdown == 0 {
		cfg.shutdown = 50 * time.Millisecond
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	cfg.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	f := newFetcher(cfg, rdb, exec)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := f.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return f
}

// startFetcher starts f; newTestFetcher stops it at the end of the test.
func startFetcher(t *testing.T, f *fetcher) {
	t.Helper()
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// enqueueRaw enqueues a task of reqfleet's type with asynq's Client.
func enqueueRaw(t *testing.T, rdb redis.UniversalClient, queue, id string, payload []byte, opts ...asynq.Option) {
	t.Helper()
	opts = append([]asynq.Option{asynq.Queue(queue), asynq.TaskID(id), asynq.MaxRetry(25)}, opts...)
	if _, err := asynq.NewClientFromRedisClient(rdb).Enqueue(asynq.NewTask(tasks.TypeRequest, payload), opts...); err != nil {
		t.Fatal(err)
	}
}

// enqueueJobs enqueues n jobs of batch B as reqfleet does, ids 0 to n-1.
func enqueueJobs(t *testing.T, rdb redis.UniversalClient, queue string, n int) {
	t.Helper()
	for i := range n {
		tk := tasks.Task{Batch: "B", Attempt: 1, Job: job(fmt.Sprint(i), "http://x/")}
		b, err := tk.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		enqueueRaw(t, rdb, queue, tk.TaskID(), b)
	}
}

// finishing runs no request: it records a 200 response for each job.
func finishing(rdb redis.UniversalClient) execFunc {
	rec := &recorder{rdb: rdb, ttl: time.Hour}
	return func(ctx context.Context, queue string, t tasks.Task, _ time.Time, a *ack, _ func()) error {
		_, err := rec.finish(ctx, queue, t, &tasks.Response{ID: t.Job.ID, Batch: t.Batch, Request: t.Job, StatusCode: 200, Attempt: t.Attempt}, a)
		return err
	}
}

func queueInfo(t *testing.T, rdb redis.UniversalClient, q string) *asynq.QueueInfo {
	t.Helper()
	qi, err := asynq.NewInspectorFromRedisClient(rdb).GetQueueInfo(q)
	if err != nil {
		t.Fatal(err)
	}
	return qi
}

func waitOutcomes(t *testing.T, rdb redis.UniversalClient, q string, n int64) {
	t.Helper()
	testkit.WaitUntil(t, testWait, func() error {
		if got := rdb.LLen(context.Background(), reqrdb.ResultsKey(q)).Val(); got < n {
			return fmt.Errorf("%d results, want %d", got, n)
		}
		return nil
	}, "the outcomes")
}

// Jobs the fetcher takes are finished as asynq finishes them: nothing left
// pending, active, leased or stored, and asynq's processed counters raised,
// with never more jobs running than runners nor held than runners + batch.
func TestFetcherFinishesInAsynqLayout(t *testing.T) {
	testredis.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		const jobs, runners, batch, prefetch = 60, 3, 4, 2
		enqueueJobs(t, rdb, "q", jobs)
		var running, peak, peakHeld atomic.Int64
		finish := finishing(rdb)
		f := newTestFetcher(t, rdb, fetcherConfig{concurrency: runners, batch: batch, prefetch: prefetch}, func(ctx context.Context, q string, tk tasks.Task, s time.Time, a *ack, sent func()) error {
			n := running.Add(1)
			defer running.Add(-1)
			raise(&peak, n)
			raise(&peakHeld, rdb.LLen(ctx, reqrdb.ActiveKey("q")).Val())
			return finish(ctx, q, tk, s, a, sent)
		})
		startFetcher(t, f)
		waitOutcomes(t, rdb, "q", jobs)
		if p := peak.Load(); p > runners {
			t.Errorf("%d jobs ran at once, runners %d", p, runners)
		}
		if p := peakHeld.Load(); p > runners+prefetch {
			t.Errorf("%d jobs held at once, at most %d", p, runners+prefetch)
		}
		qi := queueInfo(t, rdb, "q")
		if qi.Pending != 0 || qi.Active != 0 || qi.Archived != 0 || qi.Retry != 0 || qi.Processed != jobs || qi.ProcessedTotal != jobs || qi.Failed != 0 {
			t.Fatalf("queue after: %+v", qi)
		}
		if n := rdb.ZCard(ctx, reqrdb.LeaseKey("q")).Val(); n != 0 {
			t.Fatalf("%d leases left", n)
		}
		if keys, _ := rdb.Keys(ctx, reqrdb.TaskKeyPrefix("q")+"*").Result(); len(keys) != 0 {
			t.Fatalf("task hashes left: %v", keys)
		}
		if ttl := rdb.TTL(ctx, reqrdb.ProcessedKey("q", time.Now())).Val(); ttl < 80*24*time.Hour {
			t.Fatalf("daily processed counter expires in %v, want about 90 days", ttl)
		}
	})
}

// A runner that gave its session back (sent) records its outcome while
// another runner sends the next request: with every first outcome's record
// held up, twice as many jobs as sessions are under way, and the credits of
// the outcomes being recorded do not hold back the next fetch. (That no
// more requests than sessions are sent at once is
// TestFetcherFinishesInAsynqLayout's.)
func TestFetcherRecordsWhileNextJobSends(t *testing.T) {
	testredis.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		const jobs, sessions = 12, 2
		enqueueJobs(t, rdb, "q", jobs)
		var recording atomic.Int64
		gate := make(chan struct{})
		finish := finishing(rdb)
		f := newTestFetcher(t, rdb, fetcherConfig{concurrency: sessions, batch: 4, prefetch: 1}, func(ctx context.Context, q string, tk tasks.Task, s time.Time, a *ack, sent func()) error {
			sent()
			recording.Add(1)
			defer recording.Add(-1)
			select { // a slow record: held until the gate opens
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
			return finish(ctx, q, tk, s, a, sent)
		})
		startFetcher(t, f)
		testkit.WaitUntil(t, testWait, func() error {
			if n := recording.Load(); n < 2*sessions {
				return fmt.Errorf("%d outcomes being recorded at once, want %d", n, 2*sessions)
			}
			return nil
		}, "a runner per session recording while the others send")
		close(gate)
		waitOutcomes(t, rdb, "q", jobs)
		if qi := queueInfo(t, rdb, "q"); qi.Pending != 0 || qi.Active != 0 || qi.Processed != jobs {
			t.Fatalf("queue after: %+v", qi)
		}
	})
}

func raise(peak *atomic.Int64, n int64) {
	for {
		p := peak.Load()
		if n <= p || peak.CompareAndSwap(p, n) {
			return
		}
	}
}

// A paused queue is not taken from; resumed, it is.
func TestFetcherSkipsPausedQueue(t *testing.T) {
	testredis.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		insp := asynq.NewInspectorFromRedisClient(rdb)
		enqueueJobs(t, rdb, "q", 3)
		if err := insp.PauseQueue("q"); err != nil {
			t.Fatal(err)
		}
		f := newTestFetcher(t, rdb, fetcherConfig{}, nil)
		if got, err := f.fetch(4); err != nil || got != 0 {
			t.Fatalf("fetched %d from a paused queue, %v", got, err)
		}
		if err := insp.UnpauseQueue("q"); err != nil {
			t.Fatal(err)
		}
		if got, err := f.fetch(4); err != nil || got != 3 {
			t.Fatalf("fetched %d of 3, %v", got, err)
		}
		if qi := queueInfo(t, rdb, "q"); qi.Active != 3 || qi.Pending != 0 {
			t.Fatalf("after fetch: %d active, %d pending", qi.Active, qi.Pending)
		}
	})
}

// An id on the pending list without its task hash is dropped, not left on
// the active list for good.
func TestFetcherDropsOrphanIDs(t *testing.T) {
	testredis.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		enqueueJobs(t, rdb, "q", 1)
		rdb.LPush(ctx, reqrdb.PendingKey("q"), "ghost")
		f := newTestFetcher(t, rdb, fetcherConfig{}, nil)
		if got, err := f.fetch(4); err != nil || got != 1 {
			t.Fatalf("fetched %d, %v; want the one real task", got, err)
		}
		if ids := rdb.LRange(ctx, reqrdb.ActiveKey("q"), 0, -1).Val(); len(ids) != 1 || ids[0] == "ghost" {
			t.Fatalf("active list %v", ids)
		}
		if n := rdb.ZCard(ctx, reqrdb.LeaseKey("q")).Val(); n != 1 {
			t.Fatalf("%d leases, want 1", n)
		}
	})
}

// At shutdown the task running past the shutdown timeout and those taken
// but not started go back to the head of the queue, in the order taken.
func TestFetcherRequeuesAtShutdown(t *testing.T) {
	testredis.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		enqueueJobs(t, rdb, "q", 5)
		var started testkit.Signal[struct{}]
		started.Init(t)
		f := newTestFetcher(t, rdb, fetcherConfig{concurrency: 1, batch: 8, prefetch: 8}, func(ctx context.Context, _ string, _ tasks.Task, _ time.Time, _ *ack, _ func()) error {
			started.Signal(struct{}{}) // once: the others are never started
			<-ctx.Done()
			return ctx.Err()
		})
		startFetcher(t, f)
		started.WaitOrTimeout()
		if err := f.Stop(ctx); err != nil {
			t.Error(err)
		}
		qi := queueInfo(t, rdb, "q")
		if qi.Pending != 5 || qi.Active != 0 || qi.Retry != 0 || qi.Archived != 0 {
			t.Fatalf("after shutdown: %+v", qi)
		}
		if n := rdb.ZCard(ctx, reqrdb.LeaseKey("q")).Val(); n != 0 {
			t.Fatalf("%d leases left", n)
		}
		for i := range 5 {
			id := tasks.Task{Batch: "B", Attempt: 1, Job: tasks.Job{ID: fmt.Sprint(i)}}.TaskID()
			if got := rdb.RPop(ctx, reqrdb.PendingKey("q")).Val(); got != id {
				t.Fatalf("next task %d is %q, want %q", i, got, id)
			}
			if st := rdb.HGet(ctx, reqrdb.TaskKey("q", id), "state").Val(); st != "pending" {
				t.Fatalf("task %s state %q", id, st)
			}
		}
	})
}

// A task that is not a job is archived with the reason, as asynq archives a
// SkipRetry task: counted processed and failed.
func TestFetcherArchivesNonJobs(t *testing.T) {
	testredis.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		enqueueRaw(t, rdb, "q", "bad", []byte(`{"batch":"B","attempt":1,"job":{"url":"x","bogus":1}}`))
		if _, err := asynq.NewClientFromRedisClient(rdb).Enqueue(asynq.NewTask("other", nil), asynq.Queue("q"), asynq.TaskID("foreign")); err != nil {
			t.Fatal(err)
		}
		var ran atomic.Int32
		f := newTestFetcher(t, rdb, fetcherConfig{}, func(context.Context, string, tasks.Task, time.Time, *ack, func()) error {
			ran.Add(1)
			return nil
		})
		startFetcher(t, f)
		insp := asynq.NewInspectorFromRedisClient(rdb)
		testkit.WaitUntil(t, testWait, func() error {
			if n := queueInfo(t, rdb, "q").Archived; n < 2 {
				return fmt.Errorf("%d archived, want 2", n)
			}
			return nil
		}, "the non-jobs archived")
		for _, id := range []string{"bad", "foreign"} {
			info, err := insp.GetTaskInfo("q", id)
			if err != nil {
				t.Fatal(err)
			}
			if info.State != asynq.TaskStateArchived || info.LastErr == "" {
				t.Fatalf("task %s: state %v, last error %q", id, info.State, info.LastErr)
			}
		}
		if qi := queueInfo(t, rdb, "q"); qi.Failed != 2 || qi.Processed != 2 || qi.Active != 0 {
			t.Fatalf("queue after: %+v", qi)
		}
		if n := ran.Load(); n != 0 {
			t.Fatalf("ran %d non-jobs", n)
		}
	})
}

// The leases of the tasks held are extended to 30s from now; a task let go
// (its deadline passed) is no longer extended, and stays active for asynq's
// recoverer.
func TestFetcherLeases(t *testing.T) {
	testredis.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		enqueueRaw(t, rdb, "q", "held", mustMarshal(t, "held"))
		enqueueRaw(t, rdb, "q", "late", mustMarshal(t, "late"), asynq.Deadline(time.Unix(1_000_000, 0)))
		var mu sync.Mutex
		now := time.Unix(2_000_000_000, 0)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		release := make(chan struct{})
		var started testkit.Signal[string]
		started.Init(t)
		f := newTestFetcher(t, rdb, fetcherConfig{concurrency: 2, now: clock}, func(ctx context.Context, _ string, tk tasks.Task, _ time.Time, _ *ack, _ func()) error {
			started.Signal(tk.Job.ID)
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		startFetcher(t, f)
		started.WaitOrTimeout()
		started.WaitOrTimeout()
		// The late task's deadline passed: it is let go at once.
		testkit.WaitUntil(t, testWait, func() error {
			f.mu.Lock()
			defer f.mu.Unlock()
			if _, held := f.held["q"]["late"]; held {
				return errors.New("the late task is still held")
			}
			return nil
		}, "the late task let go")
		mu.Lock()
		now = now.Add(time.Hour)
		mu.Unlock()
		f.extendOnce()
		want := float64(now.Add(reqrdb.LeaseDuration).Unix())
		if got := rdb.ZScore(ctx, reqrdb.LeaseKey("q"), "held").Val(); got != want {
			t.Fatalf("held task's lease %v, want %v", got, want)
		}
		if got := rdb.ZScore(ctx, reqrdb.LeaseKey("q"), "late").Val(); got >= want {
			t.Fatalf("let-go task's lease extended to %v", got)
		}
		if qi := queueInfo(t, rdb, "q"); qi.Active != 2 {
			t.Fatalf("%d active, want both (one left to asynq's recoverer)", qi.Active)
		}
		close(release)
	})
}

// The heartbeat extends the leases of the tasks held on its own.
func TestFetcherHeartbeatExtendsLeases(t *testing.T) {
	rdb := miniRedis(t)
	ctx := context.Background()
	enqueueRaw(t, rdb, "q", "held", mustMarshal(t, "held"))
	var mu sync.Mutex
	now := time.Unix(2_000_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	release := make(chan struct{})
	var started testkit.Signal[struct{}]
	started.Init(t)
	f := newTestFetcher(t, rdb, fetcherConfig{now: clock, beat: 2 * time.Millisecond, extendEvery: 10 * time.Millisecond},
		func(ctx context.Context, _ string, _ tasks.Task, _ time.Time, _ *ack, _ func()) error {
			started.Signal(struct{}{})
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	startFetcher(t, f)
	started.WaitOrTimeout()
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	want := float64(now.Add(reqrdb.LeaseDuration).Unix())
	testkit.WaitUntil(t, testWait, func() error {
		if got := rdb.ZScore(ctx, reqrdb.LeaseKey("q"), "held").Val(); got != want {
			return fmt.Errorf("lease %v, want %v", got, want)
		}
		return nil
	}, "the extended lease")
	close(release)
}

// A job asynq runs again after its worker was lost is not sent again when
// that worker had recorded its outcome: it is only finished. One whose
// outcome was not recorded runs.
func TestFetcherRerunOfRecordedJob(t *testing.T) {
	testredis.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		rec := &recorder{rdb: rdb, ttl: time.Hour}
		for _, id := range []string{"recorded", "lost"} {
			tk := tasks.Task{Batch: "B", Attempt: 1, Job: job(id, "http://x/")}
			enqueueRaw(t, rdb, "q", tk.TaskID(), mustMarshal(t, id))
			// As asynq's recoverer leaves it: retried once.
			raw, err := rdb.HGet(ctx, reqrdb.TaskKey("q", tk.TaskID()), "msg").Bytes()
			if err != nil {
				t.Fatal(err)
			}
			m, err := reqrdb.DecodeTaskMessage(raw)
			if err != nil {
				t.Fatal(err)
			}
			rdb.HSet(ctx, reqrdb.TaskKey("q", tk.TaskID()), "msg", m.WithRetried(1))
			if id == "recorded" {
				if _, err := rec.record(ctx, "q", tk, &tasks.Response{ID: id, Batch: "B", Request: tk.Job, StatusCode: 200, Attempt: 1}); err != nil {
					t.Fatal(err)
				}
			}
		}
		ran := make(chan string, 2)
		finish := finishing(rdb)
		f := newTestFetcher(t, rdb, fetcherConfig{}, func(ctx context.Context, q string, tk tasks.Task, s time.Time, a *ack, sent func()) error {
			ran <- tk.Job.ID
			return finish(ctx, q, tk, s, a, sent)
		})
		startFetcher(t, f)
		if id := <-ran; id != "lost" {
			t.Fatalf("ran %q again", id)
		}
		testkit.WaitUntil(t, testWait, func() error {
			if qi := queueInfo(t, rdb, "q"); qi.Processed != 2 || qi.Active != 0 {
				return fmt.Errorf("%d processed, %d active; want 2 and 0", qi.Processed, qi.Active)
			}
			return nil
		}, "both tasks finished")
		select {
		case id := <-ran:
			t.Fatalf("ran %q too", id)
		default:
		}
		if n := rdb.LLen(ctx, reqrdb.ResultsKey("q")).Val(); n != 2 {
			t.Fatalf("%d results, want 2", n)
		}
		if keys := rdb.Keys(ctx, reqrdb.TaskKeyPrefix("q")+"*").Val(); len(keys) != 0 {
			t.Fatalf("task hashes left: %v", keys)
		}
	})
}

func mustMarshal(t *testing.T, id string) []byte {
	t.Helper()
	b, err := tasks.Task{Batch: "B", Attempt: 1, Job: job(id, "http://x/")}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Queues are tried by priority with StrictPriority, else in a random order
// weighted by priority, each queue once.
func TestQueueOrder(t *testing.T) {
	queues := map[string]int{"high": 6, "mid": 3, "low": 1}
	f := &fetcher{cfg: fetcherConfig{queues: queues, strict: true}, rng: rand.New(rand.NewPCG(1, 2))}
	if got := f.queueOrder(); fmt.Sprint(got) != "[high mid low]" {
		t.Fatalf("strict order %v", got)
	}
	f.cfg.strict = false
	first := map[string]int{}
	const draws = 10000
	for range draws {
		order := f.queueOrder()
		if len(order) != 3 || order[0] == order[1] || order[1] == order[2] || order[0] == order[2] {
			t.Fatalf("order %v", order)
		}
		first[order[0]]++
	}
	for q, p := range queues {
		want := draws * p / 10
		if d := first[q] - want; d < -draws/25 || d > draws/25 {
			t.Errorf("%s first %d times of %d, want about %d", q, first[q], draws, want)
		}
	}
}

// The record script finishes a fetched task with its outcome; a duplicate
// outcome still finishes it; a task no longer active is left alone.
func TestRecordFinishesFetchedTasks(t *testing.T) {
	testredis.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		enqueueJobs(t, rdb, "q", 3)
		f := newTestFetcher(t, rdb, fetcherConfig{}, nil)
		if got, err := f.fetch(3); err != nil || got != 3 {
			t.Fatalf("fetched %d, %v", got, err)
		}
		var fetched []fetchedTask
		for range 3 {
			fetched = append(fetched, <-f.jobs)
		}
		rec := &recorder{rdb: rdb, ttl: time.Hour}
		b := startBatcher(t, rec, 1, 8)
		finish := func(j fetchedTask) bool {
			t.Helper()
			tk, err := tasks.DecodeTask(j.msg.Payload)
			if err != nil {
				t.Fatal(err)
			}
			fresh, err := b.finish(ctx, "q", tk, &tasks.Response{ID: tk.Job.ID, Batch: "B", Request: tk.Job, StatusCode: 200, Attempt: 1}, &ack{id: j.msg.ID})
			if err != nil {
				t.Fatal(err)
			}
			return fresh
		}
		// 0: recorded before (a run elsewhere); 1: fresh; 2: moved away by the recoverer.
		tk0, _ := tasks.DecodeTask(fetched[0].msg.Payload)
		if _, err := rec.record(ctx, "q", tk0, &tasks.Response{ID: tk0.Job.ID, Batch: "B", Request: tk0.Job, StatusCode: 200, Attempt: 1}); err != nil {
			t.Fatal(err)
		}
		rdb.LRem(ctx, reqrdb.ActiveKey("q"), 0, fetched[2].msg.ID)
		rdb.ZRem(ctx, reqrdb.LeaseKey("q"), fetched[2].msg.ID)
		rdb.ZAdd(ctx, reqrdb.RetryKey("q"), redis.Z{Score: 1, Member: fetched[2].msg.ID})
		if fresh := finish(fetched[0]); fresh {
			t.Fatal("duplicate outcome recorded")
		}
		if fresh := finish(fetched[1]); !fresh {
			t.Fatal("outcome not recorded")
		}
		if fresh := finish(fetched[2]); !fresh {
			t.Fatal("outcome of a task the recoverer took not recorded")
		}
		for i, want := range []bool{false, false, true} {
			exists := rdb.Exists(ctx, reqrdb.TaskKey("q", fetched[i].msg.ID)).Val() == 1
			if exists != want {
				t.Errorf("task %d hash exists %v, want %v", i, exists, want)
			}
		}
		if n := rdb.LLen(ctx, reqrdb.ActiveKey("q")).Val(); n != 0 {
			t.Fatalf("%d active left", n)
		}
		if n := rdb.ZCard(ctx, reqrdb.LeaseKey("q")).Val(); n != 0 {
			t.Fatalf("%d leases left", n)
		}
		if qi := queueInfo(t, rdb, "q"); qi.Processed != 2 || qi.Retry != 1 {
			t.Fatalf("processed %d (want 2), retry %d (want 1)", qi.Processed, qi.Retry)
		}
		if n := rdb.LLen(ctx, reqrdb.ResultsKey("q")).Val(); n != 3 {
			t.Fatalf("%d results, want 3", n)
		}
	})
}

// Prefetch defaults to one that follows the rate, between a quarter of the
// sessions and all of them, neither more than a fetch batch, so that few
// sessions (slow jobs, typically) hold no jobs ahead; a negative one is
// none, a positive one fixed.
func TestPrefetchDefault(t *testing.T) {
	rdb := miniRedis(t)
	for _, tc := range []struct {
		cfg      Config
		min, max int
	}{
		{Config{Concurrency: 1}, 0, 1},
		{Config{Concurrency: 3}, 0, 3},
		{Config{Concurrency: 8}, 2, 8},
		{Config{Concurrency: 64}, 16, DefaultFetchBatch},
		{Config{Concurrency: 512}, DefaultFetchBatch, DefaultFetchBatch},
		{Config{Concurrency: 512, FetchBatch: 100}, 100, 100},
		{Config{Concurrency: 64, Prefetch: 5}, 5, 5},
		{Config{Concurrency: 64, Prefetch: -1}, 0, 0},
		{Config{Concurrency: 64, Prefetch: -7}, 0, 0},
	} {
		tc.cfg.Redis = rdb
		if err := tc.cfg.validate(); err != nil {
			t.Fatal(err)
		}
		fc := fetcherConfig{concurrency: tc.cfg.Concurrency, batch: tc.cfg.FetchBatch}.withPrefetch(tc.cfg.Prefetch)
		if fc.minPrefetch != tc.min || fc.prefetch != tc.max {
			t.Errorf("Concurrency %d, FetchBatch %d, Prefetch %d: prefetch %d to %d, want %d to %d",
				tc.cfg.Concurrency, tc.cfg.FetchBatch, tc.cfg.Prefetch, fc.minPrefetch, fc.prefetch, tc.min, tc.max)
		}
	}
}

// TestPrefetchFollowsRate: the prefetch is what the runners finish in
// PrefetchWindow, measured every prefetchEvery, within its bounds, and the
// credits it does not allow stay parked: the tasks held never pass the
// runners and the prefetch allowed.
func TestPrefetchFollowsRate(t *testing.T) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC) // the fetch loop's clock: only this test's goroutine reads it
	const runners = 64
	f := newTestFetcher(t, miniRedis(t), fetcherConfig{concurrency: runners, batch: 32, minPrefetch: -1, now: func() time.Time { return now }}, nil)
	if f.cfg.minPrefetch != 16 || f.cfg.prefetch != 32 {
		t.Fatalf("prefetch %d to %d", f.cfg.minPrefetch, f.cfg.prefetch)
	}
	held := 0 // credits taken by the loop, as tasks held
	take := func(t *testing.T, wantPrefetch int) {
		t.Helper()
		n := f.takeCredits()
		held += n
		if limit := runners + wantPrefetch; held > limit {
			t.Fatalf("%d held, more than %d runners and a prefetch of %d", held, runners, wantPrefetch)
		}
		if free, parked := len(f.credits), f.parked; free+parked+held != runners+32 || parked != 32-wantPrefetch {
			t.Fatalf("credits: %d free, %d parked, %d held; want %d parked", free, parked, held, 32-wantPrefetch)
		}
	}
	finish := func(n int) {
		for range n {
			f.finished.Add(1)
			f.credits <- struct{}{}
			held--
		}
	}
	for _, step := range []struct {
		name         string
		finished     int
		after        time.Duration
		wantPrefetch int
	}{
		{"no rate yet: the least", 0, 0, 16},
		{"within prefetchEvery: not measured again", 60, prefetchEvery / 2, 16},
		{"2,500 jobs/s: 25 in 10 ms", 190, prefetchEvery / 2, 25},
		{"50,000 jobs/s: at most a batch", 5000, prefetchEvery, 32},
		{"1,000 jobs/s: the least again", 100, prefetchEvery, 16},
	} {
		t.Run(step.name, func(t *testing.T) {
			k := min(step.finished, held) // the held ones finish, the rest as if taken and finished between
			finish(k)
			f.finished.Add(int64(step.finished - k))
			now = now.Add(step.after)
			take(t, step.wantPrefetch)
			if got := f.prefetchNow(); got != step.wantPrefetch {
				t.Fatalf("prefetch %d, want %d", got, step.wantPrefetch)
			}
		})
	}
}

// withFailure is read back by asynq as the error and time of the failure.
func TestWithFailureAsAsynqReadsIt(t *testing.T) {
	testredis.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		enqueueRaw(t, rdb, "w", "t1", []byte("not a job"))
		at := time.Unix(1_900_000_000, 0)
		f := newTestFetcher(t, rdb, fetcherConfig{queues: map[string]int{"w": 1}, now: func() time.Time { return at }}, nil)
		got, err := f.fetch(1)
		if err != nil || got != 1 {
			t.Fatalf("fetched %d, %v", got, err)
		}
		j := <-f.jobs
		f.archive(j, "bad payload")
		info, err := asynq.NewInspectorFromRedisClient(rdb).GetTaskInfo("w", "t1")
		if err != nil {
			t.Fatal(err)
		}
		if info.State != asynq.TaskStateArchived || info.LastErr != "bad payload" || !info.LastFailedAt.Equal(at) || string(info.Payload) != "not a job" {
			t.Fatalf("archived task: state %v, last error %q at %v, payload %q", info.State, info.LastErr, info.LastFailedAt, info.Payload)
		}
		raw, _ := rdb.HGet(ctx, reqrdb.TaskKey("w", "t1"), "msg").Bytes()
		if m, err := reqrdb.DecodeTaskMessage(raw); err != nil || m.ID != "t1" || m.Retry != 25 {
			t.Fatalf("archived message decodes to %+v, %v", m, err)
		}
	})
}

// Stop is bounded by its ctx: when it ends before the shutdown timeout,
// the jobs in flight are cancelled and Stop returns ctx's error; Stop again
// waits for the rest of the shutdown, which hands the job back.
func TestFetcherStopBoundedByCtx(t *testing.T) {
	rdb := miniRedis(t)
	enqueueJobs(t, rdb, "q", 1)
	var started testkit.Signal[struct{}]
	started.Init(t)
	f := newTestFetcher(t, rdb, fetcherConfig{shutdown: time.Hour}, func(ctx context.Context, _ string, _ tasks.Task, _ time.Time, _ *ack, _ func()) error {
		started.Signal(struct{}{})
		<-ctx.Done()
		return ctx.Err()
	})
	startFetcher(t, f)
	if err := f.Start(context.Background()); !errors.Is(err, startstop.ErrStarted) {
		t.Fatalf("second Start: %v", err)
	}
	started.WaitOrTimeout()
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if err := f.Stop(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop past its ctx: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("Stop took %v with a 50ms ctx", d)
	}
	long, cancel2 := context.WithTimeout(context.Background(), testWait)
	defer cancel2()
	if err := f.Stop(long); err != nil {
		t.Fatalf("Stop again: %v", err)
	}
	if qi := queueInfo(t, rdb, "q"); qi.Pending != 1 || qi.Active != 0 {
		t.Fatalf("after Stop: %d pending, %d active; want the job handed back", qi.Pending, qi.Active)
	}
}
