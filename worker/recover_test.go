package worker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/tasks"
)

var recoverNow = time.Unix(2_000_000_000, 0)

func testRecoverer(rdb redis.UniversalClient, maxCrashes int) *leaseRecoverer {
	return newLeaseRecoverer(reqrdb.New(rdb), map[string]int{"q": 1}, 10*time.Millisecond, maxCrashes, time.Hour, "rec",
		func() time.Time { return recoverNow }, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// heldBy enqueues job id (asynq MaxRetry maxRetry) and takes it as a
// worker would, under a lease until lease, after retried lease expiries;
// started: marked as started, as the fetcher marks a job run again.
func heldBy(t *testing.T, rdb redis.UniversalClient, id string, maxRetry, retried int, lease time.Time, started bool) {
	t.Helper()
	ctx := context.Background()
	tk := tasks.Task{Batch: "B", Attempt: 1, Job: job(id, "http://x/")}
	enqueueRaw(t, rdb, "q", id, payload(t, tk), asynq.MaxRetry(maxRetry))
	c := reqrdb.New(rdb)
	msgs, err := c.Fetch(ctx, "q", lease, 1)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("fetch: %d, %v", len(msgs), err)
	}
	m, err := reqrdb.DecodeTaskMessage([]byte(msgs[0]))
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.HSet(ctx, reqrdb.TaskKey("q", id), "msg", m.WithRetried(retried)).Err(); err != nil {
		t.Fatal(err)
	}
	if started {
		if ok, err := c.MarkStarted(ctx, "q", id, "w1"); !ok || err != nil {
			t.Fatalf("mark started: %v, %v", ok, err)
		}
	}
}

// The lease recoverer requeues a lost worker's job at once, retried+1;
// records it as WorkerCrashed the MaxCrashes-th time, and as WorkerLost
// when its asynq retries are used up; leaves a live lease alone. A job
// run again counts a loss only if it was marked as started: only held, it
// goes back as it was (suspects.go).
func TestLeaseRecoverer(t *testing.T) {
	past := recoverNow.Add(-time.Second)
	tests := []struct {
		name              string
		maxRetry, retried int
		lease             time.Time
		started           bool
		wantState         asynq.TaskState // 0: finished, with exception wantExc
		wantExc           string
		wantRetried       int
	}{
		{"first loss: requeued", 25, 0, past, false, asynq.TaskStatePending, "", 1},
		{"first loss, started: requeued", 25, 0, past, true, asynq.TaskStatePending, "", 1},
		{"second loss, started: requeued", 25, 1, past, true, asynq.TaskStatePending, "", 2},
		{"second loss, only held: back as it was", 25, 1, past, false, asynq.TaskStatePending, "", 1},
		{"third loss, started: WorkerCrashed", 25, 2, past, true, 0, tasks.WorkerCrashed, 0},
		{"third loss, only held: back as it was", 25, 2, past, false, asynq.TaskStatePending, "", 2},
		{"no asynq retries: WorkerLost", 0, 0, past, false, 0, tasks.WorkerLost, 0},
		{"asynq retries used up, started: WorkerLost", 1, 1, past, true, 0, tasks.WorkerLost, 0},
		{"asynq retries used up, only held: back as it was", 1, 1, past, false, asynq.TaskStatePending, "", 1},
		{"live lease: left alone", 25, 0, recoverNow.Add(time.Second), false, asynq.TaskStateActive, "", 0},
		{"ends now: left alone", 25, 0, recoverNow, false, asynq.TaskStateActive, "", 0},
		{"live lease, started: left alone", 25, 1, recoverNow.Add(time.Second), true, asynq.TaskStateActive, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			backends(t, func(t *testing.T, rdb redis.UniversalClient) {
				heldBy(t, rdb, "j", tt.maxRetry, tt.retried, tt.lease, tt.started)
				before := rdb.HGet(context.Background(), reqrdb.TaskKey("q", "j"), "msg").Val()
				r := testRecoverer(rdb, 3)
				n := r.round(context.Background())
				info, err := asynq.NewInspectorFromRedisClient(rdb).GetTaskInfo("q", "j")
				if tt.wantState == 0 {
					exc := exceptionsOf(t, rdb)
					if err == nil || len(exc) != 1 || exc[0].Exception.Type != tt.wantExc || exc[0].ID != "j" || exc[0].Request.URL != "http://x/" || n != 1 {
						t.Fatalf("task %+v (%v), exceptions %+v, recovered %d; want it finished as one %s", info, err, exc, n, tt.wantExc)
					}
					if done := rdb.HGet(context.Background(), reqrdb.BatchKey("q", "B"), reqrdb.BatchDone).Val(); done != "1" {
						t.Fatalf("batch done %q", done)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if info.State != tt.wantState || info.Retried != tt.wantRetried {
					t.Fatalf("state %v retried %d, want %v %d", info.State, info.Retried, tt.wantState, tt.wantRetried)
				}
				if tt.wantState != asynq.TaskStatePending {
					return
				}
				if tt.retried > 0 && !tt.started {
					if after := rdb.HGet(context.Background(), reqrdb.TaskKey("q", "j"), "msg").Val(); after != before {
						t.Fatal("a job only held went back with another message")
					}
				} else if info.LastErr != reqrdb.LeaseExpiredMsg {
					t.Fatalf("last error %q", info.LastErr)
				}
				if rdb.HExists(context.Background(), reqrdb.TaskKey("q", "j"), reqrdb.StartedField).Val() {
					t.Fatal("requeued with its started mark")
				}
			})
		})
	}
}

// Several workers' recoverers at once: one outcome.
func TestLeaseRecoverersAtOnce(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		heldBy(t, rdb, "j", 25, 2, recoverNow.Add(-time.Second), true)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { testRecoverer(rdb, 3).round(context.Background()) })
		}
		wg.Wait()
		if exc := exceptionsOf(t, rdb); len(exc) != 1 || exc[0].Exception.Type != tasks.WorkerCrashed {
			t.Fatalf("exceptions %+v", exc)
		}
	})
}

func TestLeaseRecovererStartStop(t *testing.T) {
	rdb := miniRedis(t)
	heldBy(t, rdb, "j", 25, 0, recoverNow.Add(-time.Second), false)
	r := testRecoverer(rdb, 3)
	r.rounds.Init(t)
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := r.rounds.WaitOrTimeout(); n != 1 {
		t.Fatalf("first round recovered %d", n)
	}
	r.rounds.WaitOrTimeout() // and again
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if qi := queueInfo(t, rdb, "q"); qi.Pending != 1 {
		t.Fatalf("queue %+v", qi)
	}
}

// Fencing: a job whose lease could not be renewed is not started once
// less than the margin is left, nor once a renewal came too late.
func TestFetcherFencing(t *testing.T) {
	tests := []struct {
		name    string
		advance time.Duration // from the fetch
		renew   time.Duration // a renewal answered this long after the fetch; 0 none
		wantRun bool
	}{
		{"fresh lease", 0, 0, true},
		{"margin left", 3 * time.Second, 0, true},
		{"margin gone", 4500 * time.Millisecond, 0, false},
		{"lease ended", time.Minute, 0, false},
		{"renewed in time", 4500 * time.Millisecond, 3 * time.Second, true},
		{"renewed too late", 6 * time.Second, 5500 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb := miniRedis(t)
			enqueueJobs(t, rdb, "q", 1)
			var mu sync.Mutex
			now := recoverNow // whole seconds: the lease ends 5s after the fetch
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			set := func(d time.Duration) { mu.Lock(); now = recoverNow.Add(d); mu.Unlock() }
			var ran testkit.Signal[string]
			ran.Init(t)
			f := newTestFetcher(t, rdb, fetcherConfig{now: clock, lease: 5 * time.Second, extendEvery: time.Hour}, func(context.Context, string, tasks.Task, time.Time, *ack, func()) error {
				ran.Signal("ran")
				return nil
			})
			if got, err := f.fetch(1); err != nil || got != 1 {
				t.Fatalf("fetched %d, %v", got, err)
			}
			j := <-f.jobs
			<-f.credits // the fetch loop's part: a credit per job taken, which run gives back
			if tt.renew > 0 {
				set(tt.renew)
				f.extendOnce()
			}
			set(tt.advance)
			f.run(j)
			select {
			case <-ran.C():
				if !tt.wantRun {
					t.Fatal("a fenced job was started")
				}
			default:
				if tt.wantRun {
					t.Fatal("the job was not started")
				}
				if left := f.leaseLeft("q", j.msg.ID); left != 0 {
					t.Fatalf("fenced job still held, %v left", left)
				}
			}
		})
	}
}

func TestConfigLeases(t *testing.T) {
	rdb := miniRedis(t)
	tests := []struct {
		cfg  Config
		ok   bool
		want string
	}{
		{Config{Redis: rdb}, true, "5s 1s 1s 3"},
		{Config{Redis: rdb, Lease: 30 * time.Second}, true, "30s 1s 1s 3"},
		{Config{Redis: rdb, Lease: 3 * time.Second}, true, "3s 600ms 1s 3"},
		{Config{Redis: rdb, Lease: time.Second}, false, ""},
		{Config{Redis: rdb, LeaseRenew: 3 * time.Second}, false, ""},
		{Config{Redis: rdb, MaxCrashes: -1}, false, ""},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			err := tt.cfg.validate()
			if (err == nil) != tt.ok {
				t.Fatalf("validate() = %v, want ok=%v", err, tt.ok)
			}
			if got := fmt.Sprint(tt.cfg.Lease, " ", tt.cfg.LeaseRenew, " ", tt.cfg.RecoverEvery, " ", tt.cfg.MaxCrashes); tt.ok && got != tt.want {
				t.Fatalf("defaults %s, want %s", got, tt.want)
			}
		})
	}
}
