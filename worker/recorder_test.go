package worker

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/tasks"
)

// backends runs fn against miniredis and against a real redis-server.
var backends = testredis.Each

func TestRecordOnce(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		rec := recorder{rdb: rdb, ttl: time.Hour}
		job := tasks.Job{ID: "j1", Method: "GET", URL: "http://x/"}
		t1 := tasks.Task{Batch: "B", Attempt: 1, Job: job}
		resp := &tasks.Response{ID: "j1", Batch: "B", Request: job, StatusCode: 200, Attempt: 1}

		tests := []struct {
			name      string
			task      tasks.Task
			out       tasks.Outcome
			wantFresh bool
		}{
			{"first outcome", t1, resp, true},
			{"same attempt again (asynq ran the job twice)", t1, resp, false},
			{"same attempt, other kind", t1, &tasks.Exception{ID: "j1", Batch: "B", Request: job, Attempt: 1}, false},
			{"next attempt (retry)", tasks.Task{Batch: "B", Attempt: 2, Job: job}, &tasks.Exception{ID: "j1", Batch: "B", Request: job, Attempt: 2}, true},
			{"id with a colon stays apart", tasks.Task{Batch: "B", Attempt: 1, Job: tasks.Job{ID: "1:j1", URL: "u", Method: "GET"}}, resp, true},
		}
		for _, tc := range tests {
			fresh, err := rec.record(ctx, "q", tc.task, tc.out)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if fresh != tc.wantFresh {
				t.Fatalf("%s: fresh = %v, want %v", tc.name, fresh, tc.wantFresh)
			}
		}
		if n := rdb.LLen(ctx, reqrdb.ResultsKey("q")).Val(); n != 2 {
			t.Fatalf("results = %d, want 2", n)
		}
		if n := rdb.LLen(ctx, reqrdb.ExceptionsKey("q")).Val(); n != 1 {
			t.Fatalf("exceptions = %d, want 1", n)
		}
		h := rdb.HGetAll(ctx, reqrdb.BatchKey("q", "B")).Val()
		if h["done"] != "3" || h["responses"] != "2" || h["exceptions"] != "1" {
			t.Fatalf("batch counters = %v", h)
		}
		for _, k := range []string{reqrdb.BatchKey("q", "B"), reqrdb.SeenKey("q", "B")} {
			if ttl := rdb.TTL(ctx, k).Val(); ttl <= 0 || ttl > time.Hour {
				t.Fatalf("TTL of %s = %v, want (0, 1h]", k, ttl)
			}
		}
		line := rdb.LIndex(ctx, reqrdb.ResultsKey("q"), 0).Val()
		got, err := tasks.DecodeResponse([]byte(line))
		if err != nil || got.ID != "j1" || got.StatusCode != 200 {
			t.Fatalf("stored response = %+v, %v", got, err)
		}
	})
}

// A request reused from the batcher's pool keeps nothing of its last use:
// an outcome without an ack must not finish the last outcome's task.
func TestFillClearsTheLastUse(t *testing.T) {
	tk, o := outcome("j2")
	req := &recordReq{ack: ack{id: "B:1:j1", uniqueKey: "u"}, queue: "old"}
	if err := fill(req, "q", tk, o, nil); err != nil {
		t.Fatal(err)
	}
	if req.ack != (ack{}) || req.queue != "q" || req.member != tk.OutcomeKey() {
		t.Fatalf("filled %+v", req)
	}
}

// lingerBatcher starts a batcher of one flusher whose groups of from or
// more outcomes linger up to linger until they hold to, its lingering
// signal live; stopped at the end of the test.
func lingerBatcher(t *testing.T, rdb redis.UniversalClient, max, from, to int, linger time.Duration) *batcher {
	t.Helper()
	b := newBatcher(&recorder{rdb: rdb, ttl: time.Hour}, 1, max, linger, to)
	b.lingerFrom = from
	b.lingering.Init(t)
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopBatcher(t, b) })
	return b
}

// recordAsync records outcome id through b in a goroutine; its result
// comes on the channel.
func recordAsync(ctx context.Context, b *batcher, id string) <-chan error {
	done := make(chan error, 1)
	go func() {
		tk, o := outcome(id)
		fresh, err := b.record(ctx, "q", tk, o)
		if err == nil && !fresh {
			err = fmt.Errorf("outcome %s: not new", id)
		}
		done <- err
	}()
	return done
}

// A group under load lingers for more outcomes, up to its linger or until
// it holds lingerTo (full, or fewer), and not below lingerFrom; Stop ends a
// linger at once. Each outcome is still recorded, once.
func TestBatcherLingers(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		from   int
		to     int // lingerTo; 0: max
		linger time.Duration
		late   int  // outcomes sent once the first group lingers
		stop   bool // Stop the batcher while it lingers
		calls  int32
	}{
		{name: "until full", max: 4, from: 1, linger: time.Hour, late: 3, calls: 1},
		{name: "until it holds lingerTo", max: 8, from: 1, to: 4, linger: time.Hour, late: 3, calls: 1},
		{name: "until its linger ends", max: 4, from: 1, linger: 20 * time.Millisecond, calls: 1},
		{name: "until Stop", max: 4, from: 1, linger: time.Hour, stop: true, calls: 1},
		{name: "not below lingerFrom", max: 4, from: 2, linger: time.Hour, calls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			backends(t, func(t *testing.T, rdb redis.UniversalClient) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				// Load the scripts first: a script's first call is two.
				tk, o := outcome("warm-up")
				if _, err := (&recorder{rdb: rdb, ttl: time.Hour}).record(ctx, "w", tk, o); err != nil {
					t.Fatal(err)
				}
				var calls atomic.Int32
				rdb.AddHook(countScripts{&calls})
				to := tt.to
				if to == 0 {
					to = tt.max
				}
				b := lingerBatcher(t, rdb, tt.max, tt.from, to, tt.linger)
				first := recordAsync(ctx, b, "first")
				if tt.from == 1 {
					if n := b.lingering.WaitOrTimeout(); n != 1 {
						t.Fatalf("lingers with %d outcomes, want 1", n)
					}
				}
				var late []<-chan error
				for i := range tt.late {
					late = append(late, recordAsync(ctx, b, fmt.Sprint("late", i)))
				}
				if tt.stop {
					stopBatcher(t, b)
				}
				for _, c := range append(late, first) {
					if err := <-c; err != nil {
						t.Fatal(err)
					}
				}
				if n := calls.Load(); n != tt.calls {
					t.Errorf("%d script calls, want %d", n, tt.calls)
				}
				if n := rdb.LLen(ctx, reqrdb.ResultsKey("q")).Val(); n != int64(1+tt.late) {
					t.Errorf("%d results, want %d", n, 1+tt.late)
				}
				select {
				case n := <-b.lingering.C():
					t.Errorf("a group of %d lingered", n)
				default:
				}
			})
		})
	}
}

// A worker's record groups linger until they hold half its sessions (each
// waiting outcome holds one of the fetcher's spare runners), at most a
// record batch; with asynq's processor, whose sessions wait for their own
// records, they never linger.
func TestWorkerLingerShape(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		linger time.Duration
		to     int
	}{
		{"fetcher", Config{Concurrency: 64}, DefaultRecordLinger, 32},
		{"fetcher, small record batch", Config{Concurrency: 64, RecordBatch: 16}, DefaultRecordLinger, 16},
		{"fetcher, 16 sessions", Config{Concurrency: 16, RecordLinger: 5 * time.Millisecond}, 5 * time.Millisecond, 8},
		{"fetcher, no linger", Config{Concurrency: 16, RecordLinger: -1}, 0, 8},
		{"asynq processor", Config{Concurrency: 16, AsynqProcessor: true}, 0, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFleet(t, miniRedis(t), tc.cfg)
			if err := f.w.Start(); err != nil {
				t.Fatal(err)
			}
			if b := f.w.batch; b == nil || b.linger != tc.linger || b.lingerTo != tc.to {
				t.Fatalf("batcher %+v, want linger %v to %d outcomes", b, tc.linger, tc.to)
			}
		})
	}
}
