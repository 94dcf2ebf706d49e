package rdb

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/testredis"
)

// fetchedMsg is the message of q's task id as fetched.
func fetchedMsg(t *testing.T, r redis.UniversalClient, q, id string) TaskMessage {
	t.Helper()
	raw, err := r.HGet(context.Background(), TaskKey(q, id), "msg").Bytes()
	must(t, err)
	m, err := DecodeTaskMessage(raw)
	must(t, err)
	return m
}

func TestRetryLater(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		fetchedUntil(t, c, "q", testNow.Add(time.Minute), "a", "b")
		m := fetchedMsg(t, r, "q", "a")
		at := testNow.Add(2500 * time.Millisecond)
		ok, err := c.RetryLater(ctx, "q", m, "retry: 503", at, []byte(`{"status_code":503}`), 3, time.Hour, testNow)
		must(t, err)
		if !ok {
			t.Fatal("RetryLater of an active task: not moved")
		}
		// As asynq sees it: in the retry set, its error and due time, the
		// same id, its retried count not raised (not a failure).
		info, err := asynq.NewInspectorFromRedisClient(r).GetTaskInfo("q", "a")
		must(t, err)
		if info.State != asynq.TaskStateRetry || info.LastErr != "retry: 503" || info.Retried != 0 || info.NextProcessAt.Unix() != at.Unix() {
			t.Fatalf("asynq's view: state %v, last error %q, retried %d, next %v", info.State, info.LastErr, info.Retried, info.NextProcessAt)
		}
		if score := r.ZScore(ctx, RetryKey("q"), "a").Val(); score != float64(at.UnixMilli())/1000 {
			t.Fatalf("retry score %v, want %v (milliseconds kept)", score, float64(at.UnixMilli())/1000)
		}
		if n := r.ZScore(ctx, LeaseKey("q"), "a").Err(); n != redis.Nil {
			t.Fatalf("lease left: %v", n)
		}
		if active := r.LRange(ctx, ActiveKey("q"), 0, -1).Val(); len(active) != 1 || active[0] != "b" {
			t.Fatalf("active %v, want [b]", active)
		}
		// Again (a reply lost): the task is no longer active, nothing moves
		// and no try is added twice.
		ok, err = c.RetryLater(ctx, "q", m, "retry: 503", at, []byte(`{"status_code":503}`), 3, time.Hour, testNow)
		must(t, err)
		if ok {
			t.Fatal("RetryLater of a task no longer active: moved")
		}
		tries, err := c.Tries(ctx, "q", "a")
		must(t, err)
		if len(tries) != 1 || tries[0] != `{"status_code":503}` {
			t.Fatalf("tries %v", tries)
		}
		if ttl := r.TTL(ctx, TriesKey("q", "a")).Val(); ttl <= 0 || ttl > time.Hour {
			t.Fatalf("tries TTL %v", ttl)
		}
		// A message changed by another worker's recoverer: left alone.
		mb := fetchedMsg(t, r, "q", "b")
		must(t, r.HSet(ctx, TaskKey("q", "b"), "msg", mb.WithLeaseExpired(testNow)).Err())
		ok, err = c.RetryLater(ctx, "q", mb, "x", at, []byte(`{}`), 3, time.Hour, testNow)
		must(t, err)
		if ok || r.LLen(ctx, ActiveKey("q")).Val() != 1 {
			t.Fatal("RetryLater moved a task whose message changed")
		}
		must(t, c.DropTries(ctx, "q", "a"))
		if r.Exists(ctx, TriesKey("q", "a")).Val() != 0 {
			t.Fatal("DropTries left the history")
		}
	})
}

func TestRetryLaterKeepsTheLatestTries(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		for i := range 5 {
			fetchedUntil(t, c, "q", testNow.Add(time.Minute), "a")
			ok, err := c.RetryLater(ctx, "q", fetchedMsg(t, r, "q", "a"), "x", testNow, []byte{byte('0' + i)}, 3, time.Hour, testNow)
			must(t, err)
			if !ok {
				t.Fatalf("try %d not moved", i)
			}
			must(t, r.Del(ctx, RetryKey("q"), TaskKey("q", "a")).Err()) // the next try's task anew
		}
		tries, err := c.Tries(ctx, "q", "a")
		must(t, err)
		if len(tries) != 3 || tries[0] != "2" || tries[2] != "4" {
			t.Fatalf("tries %v, want the latest 3", tries)
		}
	})
}

func TestAddTry(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		for i, tt := range []struct {
			seen int
			want bool
		}{{0, true}, {0, false}, {1, true}, {5, false}} {
			ok, err := c.AddTry(ctx, "q", "a", []byte{byte('a' + i)}, tt.seen, 10, time.Hour)
			must(t, err)
			if ok != tt.want {
				t.Fatalf("AddTry %d with %d seen: %v, want %v", i, tt.seen, ok, tt.want)
			}
		}
		if tries, _ := c.Tries(ctx, "q", "a"); len(tries) != 2 || tries[0] != "a" || tries[1] != "c" {
			t.Fatalf("tries %v", tries)
		}
	})
}

// TestForward checks that Forward moves due tasks of both sets to pending
// as asynq's forwarder does: a task another app scheduled with asynq's
// Client (ProcessIn) and one RetryLater moved, the same ids, pending in
// asynq's view; and that it says when the next one is due.
func TestForward(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		cl := asynq.NewClientFromRedisClient(r)
		now := time.Now()
		_, err := cl.Enqueue(asynq.NewTask("other", nil), asynq.Queue("q"), asynq.TaskID("sched"), asynq.ProcessAt(now.Add(10*time.Second)))
		must(t, err)
		fetchedUntil(t, c, "q", now.Add(time.Minute), "a")
		_, err = c.RetryLater(ctx, "q", fetchedMsg(t, r, "q", "a"), "x", now.Add(3*time.Second), []byte(`{}`), 3, time.Hour, now)
		must(t, err)

		moved, next, err := c.Forward(ctx, "q", now)
		must(t, err)
		if moved != 0 || next.UnixMilli() != now.Add(3*time.Second).UnixMilli() {
			t.Fatalf("nothing due: moved %d, next %v, want 0 and %v", moved, next, now.Add(3*time.Second))
		}
		moved, next, err = c.Forward(ctx, "q", now.Add(3*time.Second))
		must(t, err)
		if moved != 1 || next.Unix() != now.Add(10*time.Second).Unix() {
			t.Fatalf("the retry due: moved %d, next %v", moved, next)
		}
		moved, next, err = c.Forward(ctx, "q", now.Add(11*time.Second))
		must(t, err)
		if moved != 1 || !next.IsZero() {
			t.Fatalf("the scheduled due: moved %d, next %v", moved, next)
		}
		in := asynq.NewInspectorFromRedisClient(r)
		for _, id := range []string{"a", "sched"} {
			info, err := in.GetTaskInfo("q", id)
			must(t, err)
			if info.State != asynq.TaskStatePending {
				t.Fatalf("%s: state %v, want pending", id, info.State)
			}
		}
		if p := r.LRange(ctx, PendingKey("q"), 0, -1).Val(); len(p) != 2 {
			t.Fatalf("pending %v", p)
		}
		_ = cl.Close()
	})
}
