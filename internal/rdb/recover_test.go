package rdb

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/testredis"
)

// fetchedUntil enqueues and fetches the tasks ids of q under a lease
// until lease.
func fetchedUntil(t *testing.T, c *Client, q string, lease time.Time, ids ...string) {
	t.Helper()
	ctx := context.Background()
	enc := NewMessageEncoder(q, "request", 25, time.Minute)
	must(t, c.PublishQueue(ctx, q))
	msgs := make([][]byte, len(ids))
	for i, id := range ids {
		msgs[i] = enc.Encode(id, []byte(`{}`))
	}
	_, err := c.EnqueueMany(ctx, q, testNow, ids, msgs, make([]string, len(ids)))
	must(t, err)
	got, err := c.Fetch(ctx, q, lease, len(ids))
	must(t, err)
	if len(got) != len(ids) {
		t.Fatalf("fetched %d of %d", len(got), len(ids))
	}
}

func TestExpiredLeases(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		fetchedUntil(t, c, "q", testNow, "a", "b", "c") // leases end at testNow
		fetchedUntil(t, c, "q", testNow.Add(time.Minute), "live")
		must(t, r.ZAdd(ctx, LeaseKey("q"), redis.Z{Score: float64(testNow.Unix()), Member: "nohash"}).Err())
		must(t, r.LPush(ctx, ActiveKey("q"), "nohash").Err())

		tests := []struct {
			name string
			now  time.Time
			n    int
			want int
		}{
			{"at the lease's end: not yet", testNow, 10, 0},
			{"a millisecond past", testNow.Add(time.Millisecond), 10, 3},
			{"bounded", testNow.Add(time.Second), 2, 2},
		}
		for _, tt := range tests {
			got, err := c.ExpiredLeases(ctx, "q", tt.now, tt.n)
			must(t, err)
			if len(got) != tt.want {
				t.Fatalf("%s: %d expired, want %d", tt.name, len(got), tt.want)
			}
			for _, e := range got {
				m, err := DecodeTaskMessage([]byte(e.Msg))
				must(t, err)
				if m.ID != e.ID || e.ID == "live" {
					t.Fatalf("%s: listed %q with message of %q", tt.name, e.ID, m.ID)
				}
			}
		}
		if r.ZScore(ctx, LeaseKey("q"), "nohash").Err() != redis.Nil || slices.Contains(r.LRange(ctx, ActiveKey("q"), 0, -1).Val(), "nohash") {
			t.Fatal("an id without a task hash was kept")
		}
	})
}

func TestRecoverLeases(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		now := testNow.Add(time.Second)
		fetchedUntil(t, c, "q", testNow, "rq", "rec", "dup", "changed", "renewed")
		fetchedUntil(t, c, "q", testNow, "uniq")
		must(t, r.Set(ctx, "lock", "uniq", 0).Err())
		must(t, r.SAdd(ctx, SeenKey("q", "B"), "1:dup").Err())
		exp, err := c.ExpiredLeases(ctx, "q", now, 10)
		must(t, err)
		msgs := map[string]string{}
		for _, e := range exp {
			msgs[e.ID] = e.Msg
		}
		if len(msgs) != 6 {
			t.Fatalf("listed %v", msgs)
		}
		// Meanwhile: another recoverer changed one, the holder renewed another.
		must(t, r.HSet(ctx, TaskKey("q", "changed"), "msg", "other").Err())
		must(t, c.ExtendLeases(ctx, "q", []string{"renewed"}, now.Add(time.Minute)))

		m, err := DecodeTaskMessage([]byte(msgs["rq"]))
		must(t, err)
		rec := func(id, member, unique string) Recovery {
			return Recovery{ID: id, Msg: msgs[id], Record: Record{Queue: "q", Batch: "B", Member: member, Line: []byte(`{"id":"` + id + `"}`), Exception: true, TaskID: id, UniqueKey: unique,
				Detail: ExcField("WorkerLost"), Host: "h:1"}}
		}
		rs := []Recovery{
			{ID: "rq", Msg: msgs["rq"], Requeue: m.WithLeaseExpired(now)},
			rec("rec", "1:rec", ""),
			rec("dup", "1:dup", ""),
			rec("changed", "1:changed", ""),
			{ID: "renewed", Msg: msgs["renewed"], Requeue: []byte("x")},
			rec("uniq", "1:uniq", "lock"),
			{ID: "gone", Msg: "m", Requeue: []byte("x")},
		}
		got, err := c.RecoverLeases(ctx, "q", now, time.Hour, rs)
		must(t, err)
		want := []Recovered{RecoveredRequeued, RecoveredRecorded, RecoveredDuplicate, RecoveredNone, RecoveredNone, RecoveredRecorded, RecoveredNone}
		if !slices.Equal(got, want) {
			t.Fatalf("recovered %v, want %v", got, want)
		}
		// Again: nothing left to do.
		got, err = c.RecoverLeases(ctx, "q", now, time.Hour, rs)
		must(t, err)
		if !slices.Equal(got, make([]Recovered, len(rs))) {
			t.Fatalf("second run %v", got)
		}

		info, err := asynq.NewInspectorFromRedisClient(r).GetTaskInfo("q", "rq")
		must(t, err)
		if info.State != asynq.TaskStatePending || info.Retried != 1 || info.LastErr != LeaseExpiredMsg {
			t.Fatalf("requeued task as asynq sees it: state %v, retried %d, last error %q", info.State, info.Retried, info.LastErr)
		}
		if p := r.LRange(ctx, PendingKey("q"), 0, -1).Val(); !slices.Equal(p, []string{"rq"}) {
			t.Fatalf("pending %v", p)
		}
		if a := r.LRange(ctx, ActiveKey("q"), 0, -1).Val(); len(a) != 2 || !slices.Contains(a, "changed") || !slices.Contains(a, "renewed") {
			t.Fatalf("active %v", a)
		}
		if r.Exists(ctx, TaskKey("q", "rec"), TaskKey("q", "dup"), TaskKey("q", "uniq"), "lock").Val() != 0 {
			t.Fatal("recorded tasks not finished")
		}
		if ex := r.LRange(ctx, ExceptionsKey("q"), 0, -1).Val(); !slices.Equal(ex, []string{`{"id":"rec"}`, `{"id":"uniq"}`}) {
			t.Fatalf("exceptions %v", ex)
		}
		if h := r.HGetAll(ctx, BatchKey("q", "B")).Val(); h[BatchDone] != "2" || h[BatchExceptions] != "2" || h["exc:WorkerLost"] != "2" {
			t.Fatalf("batch %v", h)
		}
		if ttl := r.TTL(ctx, SeenKey("q", "B")).Val(); ttl <= 0 {
			t.Fatalf("seen TTL %v", ttl)
		}
		if h := r.HGetAll(ctx, HostsKey("q")).Val(); len(h) != 1 || h["h:1 exc:WorkerLost"] != "2" {
			t.Fatalf("hosts %v", h)
		}
		// Every task recovered counts as failed, as asynq's recoverer's
		// retry counts it, recorded or requeued.
		if r.Get(ctx, ProcessedTotalKey("q")).Val() != "4" || r.Get(ctx, FailedTotalKey("q")).Val() != "4" ||
			r.Get(ctx, ProcessedKey("q", now)).Val() != "4" || r.Get(ctx, FailedKey("q", now)).Val() != "4" {
			t.Fatal("processed and failed counters")
		}
	})
}

// MarkStarted marks an active task only; ExpiredLeases lists the mark;
// a requeue, by recovery or by Requeue, clears it.
func TestMarkStarted(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		fetchedUntil(t, c, "q", testNow, "run", "held", "back")
		_, err := c.EnqueueMany(ctx, "q", testNow, []string{"pending"}, [][]byte{NewMessageEncoder("q", "request", 25, time.Minute).Encode("pending", []byte(`{}`))}, []string{""})
		must(t, err)
		for _, tt := range []struct {
			id   string
			want bool
		}{{"run", true}, {"back", true}, {"pending", false}, {"gone", false}} {
			ok, err := c.MarkStarted(ctx, "q", tt.id, "w1")
			must(t, err)
			if ok != tt.want {
				t.Fatalf("mark %s: %v, want %v", tt.id, ok, tt.want)
			}
		}
		if r.HExists(ctx, TaskKey("q", "pending"), StartedField).Val() || r.Exists(ctx, TaskKey("q", "gone")).Val() != 0 {
			t.Fatal("marked a task not active")
		}
		must(t, c.Requeue(ctx, "q", []string{"back"}))
		if r.HExists(ctx, TaskKey("q", "back"), StartedField).Val() {
			t.Fatal("requeued with its mark")
		}
		exp, err := c.ExpiredLeases(ctx, "q", testNow.Add(time.Second), 10)
		must(t, err)
		started := map[string]string{}
		for _, e := range exp {
			started[e.ID] = e.Started
		}
		if !maps.Equal(started, map[string]string{"run": "w1", "held": ""}) {
			t.Fatalf("listed %v", started)
		}
		var rs []Recovery
		for _, e := range exp {
			rs = append(rs, Recovery{ID: e.ID, Msg: e.Msg, Requeue: []byte(e.Msg)})
		}
		res, err := c.RecoverLeases(ctx, "q", testNow.Add(time.Second), time.Hour, rs)
		must(t, err)
		if !slices.Equal(res, []Recovered{RecoveredRequeued, RecoveredRequeued}) {
			t.Fatalf("recovered %v", res)
		}
		if r.HExists(ctx, TaskKey("q", "run"), StartedField).Val() {
			t.Fatal("recovered with its mark")
		}
	})
}
