package enqueuer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/tasks"
)

// The fast path must leave Redis exactly as asynq's Client does: the same
// message bytes, the same task hash and pending list, the same TaskInfo,
// tasks that a plain asynq.Server runs, and the same id conflicts. Each
// test runs on a real redis-server and on miniredis.

// enqueuePair enqueues the same task (but for its id) through asynq's Client
// and through the fast path, as an Enqueuer of each kind would.
func enqueuePair(t *testing.T, rdb redis.UniversalClient, queue string, maxRetry int, timeout time.Duration, payload []byte) (clientID, fastID string) {
	t.Helper()
	ctx := context.Background()
	clientID, fastID = "B:1:via-client", "B:1:via-fastxx" // the same length: only the bytes of the id differ
	c := asynq.NewClientFromRedisClient(rdb)
	if _, err := c.EnqueueContext(ctx, asynq.NewTask(tasks.TypeRequest, payload),
		asynq.Queue(queue), asynq.MaxRetry(maxRetry), asynq.Timeout(timeout), asynq.Retention(0), asynq.TaskID(clientID)); err != nil {
		t.Fatal(err)
	}
	f := newFastEnqueuer(rdb, queue, maxRetry, timeout)
	existed, err := f.enqueue(ctx, fastID, payload)
	if err != nil || existed {
		t.Fatalf("fast enqueue: existed %v, %v", existed, err)
	}
	return clientID, fastID
}

func TestFastEncodesAsAsynq(t *testing.T) {
	testredis.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		for _, tc := range []struct {
			name     string
			maxRetry int
			timeout  time.Duration
			payload  []byte
		}{
			{"defaults", DefaultMaxRetry, DefaultTaskTimeout, []byte(`{"batch":"B","attempt":1,"job":{"id":"x","method":"GET","url":"http://a/"}}`)},
			{"no retry, 1s", 0, time.Second, []byte(`{"x":1}`)},
			{"long payload", 3, time.Hour, bytes.Repeat([]byte("p"), 70000)},
			{"empty payload", 1, time.Minute, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				q := "compat"
				rdb.FlushAll(ctx)
				cid, fid := enqueuePair(t, rdb, q, tc.maxRetry, tc.timeout, tc.payload)

				// The message: the fast path's bytes are asynq's, but for the id.
				cmsg := rdb.HGet(ctx, reqrdb.TaskKey(q, cid), "msg").Val()
				fmsg := rdb.HGet(ctx, reqrdb.TaskKey(q, fid), "msg").Val()
				want := bytes.Replace([]byte(cmsg), []byte(cid), []byte(fid), 1)
				if !bytes.Equal([]byte(fmsg), want) {
					t.Fatalf("msg differs:\nfast   %x\nclient %x", fmsg, want)
				}
				// The hash: the same fields.
				ch, fh := rdb.HGetAll(ctx, reqrdb.TaskKey(q, cid)).Val(), rdb.HGetAll(ctx, reqrdb.TaskKey(q, fid)).Val()
				if len(ch) != len(fh) || fh["state"] != "pending" || fh["pending_since"] == "" {
					t.Fatalf("hash fields: client %v, fast %v", keysOf(ch), keysOf(fh))
				}
				// The pending list, in enqueue order (LPUSH: newest first).
				if got := rdb.LRange(ctx, reqrdb.PendingKey(q), 0, -1).Val(); fmt.Sprint(got) != fmt.Sprint([]string{fid, cid}) {
					t.Fatalf("pending = %v", got)
				}
				// The queue is registered.
				if !rdb.SIsMember(ctx, reqrdb.AllQueues, q).Val() {
					t.Fatal("queue not in asynq:queues")
				}
				// Inspector sees the same task.
				insp := asynq.NewInspectorFromRedisClient(rdb)
				ci, err := insp.GetTaskInfo(q, cid)
				if err != nil {
					t.Fatal(err)
				}
				fi, err := insp.GetTaskInfo(q, fid)
				if err != nil {
					t.Fatal(err)
				}
				if fi.ID != fid || fi.Queue != ci.Queue || fi.Type != ci.Type || !bytes.Equal(fi.Payload, ci.Payload) ||
					fi.State != asynq.TaskStatePending || fi.State != ci.State || fi.MaxRetry != ci.MaxRetry ||
					fi.Retried != ci.Retried || fi.Timeout != ci.Timeout || fi.Deadline != ci.Deadline ||
					fi.Retention != ci.Retention || fi.Group != ci.Group || fi.LastErr != ci.LastErr {
					t.Fatalf("task info differs:\nfast   %+v\nclient %+v", fi, ci)
				}
				qi, err := insp.GetQueueInfo(q)
				if err != nil || qi.Pending != 2 || qi.Size != 2 {
					t.Fatalf("queue info %+v, %v", qi, err)
				}
			})
		}
	})
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestFastConflictsAsAsynq(t *testing.T) {
	testredis.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		q := "conflict"
		c := asynq.NewClientFromRedisClient(rdb)
		f := newFastEnqueuer(rdb, q, 1, time.Minute)
		opts := []asynq.Option{asynq.Queue(q), asynq.MaxRetry(1), asynq.Timeout(time.Minute), asynq.Retention(0)}

		// Client first, then the fast path: existed.
		if _, err := c.Enqueue(asynq.NewTask(tasks.TypeRequest, []byte("a")), append(opts, asynq.TaskID("A"))...); err != nil {
			t.Fatal(err)
		}
		if existed, err := f.enqueue(ctx, "A", []byte("other")); err != nil || !existed {
			t.Fatalf("fast over client: existed %v, %v", existed, err)
		}
		// Fast first, then the Client: ErrTaskIDConflict.
		if existed, err := f.enqueue(ctx, "B", []byte("b")); err != nil || existed {
			t.Fatalf("fast: existed %v, %v", existed, err)
		}
		if _, err := c.Enqueue(asynq.NewTask(tasks.TypeRequest, []byte("b")), append(opts, asynq.TaskID("B"))...); !errors.Is(err, asynq.ErrTaskIDConflict) {
			t.Fatalf("client over fast: %v, want ErrTaskIDConflict", err)
		}
		// Fast over fast: existed, nothing changed.
		if existed, err := f.enqueue(ctx, "B", []byte("changed")); err != nil || !existed {
			t.Fatalf("fast over fast: existed %v, %v", existed, err)
		}
		if n := rdb.LLen(ctx, reqrdb.PendingKey(q)).Val(); n != 2 {
			t.Fatalf("pending %d, want 2", n)
		}
		info, err := asynq.NewInspectorFromRedisClient(rdb).GetTaskInfo(q, "B")
		if err != nil || string(info.Payload) != "b" {
			t.Fatalf("task B = %+v, %v", info, err)
		}
	})
}

// A plain asynq.Server runs what the fast path enqueued, with its options
// (max retry, timeout) as the Client's.
func TestFastTasksRunOnAsynqServer(t *testing.T) {
	srv := testredis.Start(t)
	rdb := srv.Client(t)
	ctx := context.Background()
	q := "served"
	e, err := New(Config{Redis: rdb, Queue: q, MaxRetry: 2, TaskTimeout: 7 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	const n = 300
	jobs := make([]tasks.Job, n)
	for i := range jobs {
		jobs[i] = tasks.Job{ID: fmt.Sprint(i), URL: "http://x/"}
	}
	rec, err := e.EnqueueMany(ctx, jobsOf(jobs...))
	if err != nil || rec.Accepted != n {
		t.Fatalf("%+v, %v", rec, err)
	}

	got := make(chan string, n)
	type seen struct {
		retry    int
		deadline time.Time
	}
	first := make(chan seen, 1)
	as := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 8, Queues: map[string]int{q: 1},
		TaskCheckInterval: 10 * time.Millisecond, LogLevel: asynq.ErrorLevel})
	if err := as.Start(asynq.HandlerFunc(func(ctx context.Context, at *asynq.Task) error {
		tk, err := tasks.DecodeTask(at.Payload())
		if err != nil {
			return err
		}
		r, _ := asynq.GetMaxRetry(ctx)
		d, _ := ctx.Deadline()
		select {
		case first <- seen{r, d}:
		default:
		}
		got <- tk.Job.ID
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	defer as.Shutdown()
	ids := map[string]bool{}
	timeout := time.After(20 * time.Second)
	for len(ids) < n {
		select {
		case id := <-got:
			ids[id] = true
		case <-timeout:
			t.Fatalf("%d of %d tasks ran", len(ids), n)
		}
	}
	s := <-first
	if s.retry != 2 {
		t.Errorf("max retry %d, want 2", s.retry)
	}
	if left := time.Until(s.deadline); left <= 0 || left > 7*time.Second {
		t.Errorf("deadline in %v, want the 7s task timeout", left)
	}
}

// Many callers at once share calls, each gets its own answer, and none is
// lost or doubled.
func TestFastGroupCommit(t *testing.T) {
	testredis.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		f := newFastEnqueuer(rdb, "g", 1, time.Minute)
		const callers, each = 40, 50
		errs := make(chan error, callers)
		for c := range callers {
			go func() {
				for i := range each {
					id := fmt.Sprintf("%d-%d", c, i%(each/2)) // every id twice
					existed, err := f.enqueue(ctx, id, []byte(id))
					if err != nil {
						errs <- err
						return
					}
					if existed != (i >= each/2) {
						errs <- fmt.Errorf("%s: existed %v", id, existed)
						return
					}
				}
				errs <- nil
			}()
		}
		for range callers {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if n := rdb.LLen(ctx, reqrdb.PendingKey("g")).Val(); n != callers*each/2 {
			t.Fatalf("pending %d, want %d", n, callers*each/2)
		}
	})
}

// A task still waiting for its group when its context ends is withdrawn.
func TestFastWithdrawsOnCancel(t *testing.T) {
	srv := testredis.Start(t)
	rdb := srv.Client(t)
	f := newFastEnqueuer(rdb, "w", 1, time.Minute)
	if err := f.publish(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Hold every flusher slot, so the next caller waits.
	f.mu.Lock()
	f.inflight = fastMaxInflight
	f.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := f.enqueue(ctx, "X", []byte("x"))
		done <- err
	}()
	testkit.WaitUntil(t, 10*time.Second, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.waiting) == 1
	}, "the caller waiting for its group")
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the canceled caller did not return")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.waiting) != 0 || rdb.Exists(context.Background(), reqrdb.TaskKey("w", "X")).Val() != 0 {
		t.Fatal("a withdrawn task was enqueued")
	}
}
