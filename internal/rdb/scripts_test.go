package rdb

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/testredis"
)

// Each script against miniredis and a real redis-server.

var testNow = time.Date(2026, 11, 25, 20, 13, 0, 0, time.UTC)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestNewBatch(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		ok, err := c.NewBatch(ctx, "q", "B1", "tok", testNow, time.Hour, 0)
		must(t, err)
		if !ok {
			t.Fatal("new batch not created")
		}
		h := r.HGetAll(ctx, BatchKey("q", "B1")).Val()
		if h[BatchCreated] != strconv.FormatInt(testNow.UnixMilli(), 10) || h[BatchAccepted] != "0" || h[BatchOwner] != "tok" || len(h) != 3 {
			t.Fatalf("batch hash %v", h)
		}
		if ttl := r.PTTL(ctx, BatchKey("q", "B1")).Val(); ttl <= 0 || ttl > time.Hour {
			t.Fatalf("batch TTL %v", ttl)
		}
		if s := r.ZScore(ctx, BatchesKey("q"), "B1").Val(); s != float64(testNow.UnixMilli()) {
			t.Fatalf("batches score %v", s)
		}
		if ok, err := c.NewBatch(ctx, "q", "B1", "other", testNow, time.Hour, 0); err != nil || ok {
			t.Fatalf("taken id: created %v, %v", ok, err)
		}
		// Run again by its creator (its reply lost): created, nothing changed.
		if ok, err := c.NewBatch(ctx, "q", "B1", "tok", testNow.Add(time.Second), time.Hour, 0); err != nil || !ok {
			t.Fatalf("run again: created %v, %v", ok, err)
		}
		if h := r.HGet(ctx, BatchKey("q", "B1"), BatchCreated).Val(); h != strconv.FormatInt(testNow.UnixMilli(), 10) {
			t.Fatalf("run again: created %s", h)
		}
	})
}

func TestMoveToRetrying(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		must(t, r.RPush(ctx, ExceptionsKey("q"), "e1", "e2").Err())
		must(t, r.HSet(ctx, BatchKey("q", "B"), BatchDone, 2, BatchExceptions, 2).Err())
		tests := []struct {
			name, batch, entry string
			want               Moved
		}{
			{"moved", "B", "e1", MovedNow},
			{"again", "B", "e1", MovedBefore},
			{"expired batch", "gone", "e2", MovedNow},
			{"neither", "B", "e3", MovedElsewhere},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, err := c.MoveToRetrying(ctx, "q", tc.batch, tc.entry, "", testNow, time.Hour)
				must(t, err)
				if got != tc.want {
					t.Fatalf("moved %d, want %d", got, tc.want)
				}
			})
		}
		if h := r.HGetAll(ctx, BatchKey("q", "B")).Val(); h[BatchDone] != "1" || h[BatchExceptions] != "1" {
			t.Fatalf("batch B %v", h)
		}
		if h := r.HGetAll(ctx, BatchKey("q", "gone")).Val(); h[BatchRevived] != "1" || h[BatchSealed] != "1" || h[BatchTotal] != "1" || h[BatchAccepted] != "1" {
			t.Fatalf("revived batch %v", h)
		}
		if got := r.LRange(ctx, RetryingKey("q"), 0, -1).Val(); !slices.Equal(got, []string{"e1", "e2"}) {
			t.Fatalf("retrying %v", got)
		}
	})
}

// EnqueueMany writes what asynq's Client writes; Fetch takes it as
// asynq's dequeue does.
func TestEnqueueManyFetchRequeue(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		enc := NewMessageEncoder("q", "request", 25, 10*time.Minute)
		must(t, c.PublishQueue(ctx, "q"))
		existed, err := c.EnqueueMany(ctx, "q", testNow, []string{"a", "b", "a"}, [][]byte{enc.Encode("a", []byte("pa")), enc.Encode("b", nil), enc.Encode("a", nil)}, make([]string, 3))
		must(t, err)
		if !slices.Equal(existed, []Enqueued{EnqueuedNow, EnqueuedNow, EnqueuedExisted}) {
			t.Fatalf("existed %v", existed)
		}
		info, err := asynq.NewInspectorFromRedisClient(r).GetTaskInfo("q", "a")
		must(t, err)
		if info.State != asynq.TaskStatePending || string(info.Payload) != "pa" || info.MaxRetry != 25 || info.Timeout != 10*time.Minute {
			t.Fatalf("asynq sees %+v", info)
		}
		msgs, err := c.Fetch(ctx, "q", testNow.Add(LeaseDuration), 5)
		must(t, err)
		if len(msgs) != 2 {
			t.Fatalf("fetched %d, want 2", len(msgs))
		}
		m, err := DecodeTaskMessage([]byte(msgs[0]))
		must(t, err)
		if m.ID != "a" || string(m.Payload) != "pa" {
			t.Fatalf("first fetched %+v", m)
		}
		if st := r.HGet(ctx, TaskKey("q", "a"), "state").Val(); st != "active" {
			t.Fatalf("state %q", st)
		}
		if s := r.ZScore(ctx, LeaseKey("q"), "a").Val(); s != float64(testNow.Add(LeaseDuration).Unix()) {
			t.Fatalf("lease %v", s)
		}
		must(t, c.ExtendLeases(ctx, "q", []string{"a", "gone"}, testNow.Add(time.Hour)))
		if s := r.ZScore(ctx, LeaseKey("q"), "a").Val(); s != float64(testNow.Add(time.Hour).Unix()) {
			t.Fatalf("extended lease %v", s)
		}
		if r.ZScore(ctx, LeaseKey("q"), "gone").Err() != redis.Nil {
			t.Fatal("ExtendLeases added a lease")
		}
		must(t, c.Requeue(ctx, "q", []string{"b", "a", "never"}))
		if got := r.LRange(ctx, PendingKey("q"), 0, -1).Val(); !slices.Equal(got, []string{"b", "a"}) {
			t.Fatalf("pending %v, want a at the head (the right end)", got)
		}
		if n := r.LLen(ctx, ActiveKey("q")).Val() + r.ZCard(ctx, LeaseKey("q")).Val(); n != 0 {
			t.Fatalf("%d active or leased after requeue", n)
		}
		// Paused: nothing taken. An id without a hash: dropped.
		must(t, r.Set(ctx, PausedKey("q"), 1, 0).Err())
		if msgs, err := c.Fetch(ctx, "q", testNow, 5); err != nil || len(msgs) != 0 {
			t.Fatalf("paused queue: %d, %v", len(msgs), err)
		}
		must(t, r.Del(ctx, PausedKey("q"), TaskKey("q", "a"), TaskKey("q", "b")).Err())
		if msgs, err := c.Fetch(ctx, "q", testNow, 5); err != nil || len(msgs) != 0 {
			t.Fatalf("ids without hashes: %d, %v", len(msgs), err)
		}
		if n := r.LLen(ctx, ActiveKey("q")).Val(); n != 0 {
			t.Fatalf("%d ids left active", n)
		}
	})
}

// fetched enqueues and fetches task id of queue q.
func fetched(t *testing.T, c *Client, q, id string) TaskMessage {
	t.Helper()
	ctx := context.Background()
	enc := NewMessageEncoder(q, "request", 25, time.Minute)
	must(t, c.PublishQueue(ctx, q))
	_, err := c.EnqueueMany(ctx, q, testNow, []string{id}, [][]byte{enc.Encode(id, []byte(`{}`))}, []string{""})
	must(t, err)
	msgs, err := c.Fetch(ctx, q, testNow.Add(LeaseDuration), 1)
	must(t, err)
	if len(msgs) != 1 {
		t.Fatalf("fetched %d", len(msgs))
	}
	m, err := DecodeTaskMessage([]byte(msgs[0]))
	must(t, err)
	return m
}

func TestRecordMany(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		m := fetched(t, c, "q", "B:1:j1")
		must(t, r.Set(ctx, "uniq", m.ID, 0).Err())
		recs := []Record{
			{Queue: "q", Batch: "B", Member: "1:j1", Line: []byte(`{"id":"j1"}`), TaskID: m.ID, UniqueKey: "uniq"},
			{Queue: "q", Batch: "B", Member: "1:j2", Line: []byte(`{"id":"j2"}`), Exception: true},
			{Queue: "q", Batch: "B", Member: "1:j1", Line: []byte(`{"id":"j1"}`)},
		}
		fresh, err := c.RecordMany(ctx, testNow, time.Hour, recs)
		must(t, err)
		if !slices.Equal(fresh, []bool{true, true, false}) {
			t.Fatalf("fresh %v", fresh)
		}
		if h := r.HGetAll(ctx, BatchKey("q", "B")).Val(); h[BatchDone] != "2" || h[BatchResponses] != "1" || h[BatchExceptions] != "1" {
			t.Fatalf("batch %v", h)
		}
		if r.LLen(ctx, ResultsKey("q")).Val() != 1 || r.LLen(ctx, ExceptionsKey("q")).Val() != 1 {
			t.Fatal("lists")
		}
		if ttl := r.TTL(ctx, SeenKey("q", "B")).Val(); ttl <= 0 {
			t.Fatalf("seen TTL %v", ttl)
		}
		if r.Exists(ctx, TaskKey("q", m.ID), "uniq").Val() != 0 || r.LLen(ctx, ActiveKey("q")).Val() != 0 || r.ZCard(ctx, LeaseKey("q")).Val() != 0 {
			t.Fatal("task not finished as asynq's done")
		}
		if r.Get(ctx, ProcessedKey("q", testNow)).Val() != "1" || r.Get(ctx, ProcessedTotalKey("q")).Val() != "1" {
			t.Fatal("processed counters")
		}
		// On a pipeline, the same answers.
		p := r.Pipeline()
		cmd := c.QueueRecordMany(ctx, p, testNow, 0, recs[1:])
		_, perr := p.Exec(ctx)
		fresh, err = cmd.Result(ctx, perr)
		must(t, err)
		if !slices.Equal(fresh, []bool{false, false}) {
			t.Fatalf("pipelined fresh %v", fresh)
		}
	})
}

func TestRecordedBefore(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		m := fetched(t, c, "q", "B:1:j1")
		ok, err := c.RecordedBefore(ctx, "q", "B", "1:j1", m.ID, "", testNow)
		must(t, err)
		if ok || r.LLen(ctx, ActiveKey("q")).Val() != 1 {
			t.Fatal("not recorded, yet finished")
		}
		must(t, r.SAdd(ctx, SeenKey("q", "B"), "1:j1").Err())
		ok, err = c.RecordedBefore(ctx, "q", "B", "1:j1", m.ID, "", testNow)
		must(t, err)
		if !ok || r.LLen(ctx, ActiveKey("q")).Val() != 0 || r.Exists(ctx, TaskKey("q", m.ID)).Val() != 0 || r.Get(ctx, ProcessedTotalKey("q")).Val() != "1" {
			t.Fatal("recorded, not finished as asynq's done")
		}
	})
}

func TestArchive(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		m := fetched(t, c, "q", "t1")
		ok, err := c.Archive(ctx, "q", m, "bad payload", testNow)
		must(t, err)
		if !ok {
			t.Fatal("not archived")
		}
		info, err := asynq.NewInspectorFromRedisClient(r).GetTaskInfo("q", "t1")
		must(t, err)
		if info.State != asynq.TaskStateArchived || info.LastErr != "bad payload" || !info.LastFailedAt.Equal(testNow) {
			t.Fatalf("asynq sees %+v", info)
		}
		if r.Get(ctx, FailedKey("q", testNow)).Val() != "1" || r.Get(ctx, FailedTotalKey("q")).Val() != "1" {
			t.Fatal("failed counters")
		}
		if ok, err := c.Archive(ctx, "q", m, "again", testNow); err != nil || ok {
			t.Fatalf("archived a task not active: %v, %v", ok, err)
		}
	})
}

func TestWriteServerState(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		started := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
		info := ServerInfo{Host: "h", PID: 7, ServerID: "s1", Concurrency: 3, Queues: map[string]int{"q": 2}, StrictPriority: true,
			Status: "active", Started: started, ActiveWorkers: 1}
		w := WorkerInfo{TaskID: "t1", TaskType: "request", Payload: []byte("p"), Queue: "q", Started: started, Deadline: started.Add(time.Hour)}
		must(t, c.WriteServerState(ctx, info, []WorkerInfo{w}, time.Now(), 10*time.Second))
		servers, err := asynq.NewInspectorFromRedisClient(r).Servers()
		must(t, err)
		if len(servers) != 1 {
			t.Fatalf("%d servers", len(servers))
		}
		s := servers[0]
		if s.ID != "s1" || s.Host != "h" || s.PID != 7 || s.Concurrency != 3 || !s.StrictPriority || s.Queues["q"] != 2 ||
			s.Status != "active" || !s.Started.Equal(started) || len(s.ActiveWorkers) != 1 || s.ActiveWorkers[0].TaskID != "t1" ||
			!s.ActiveWorkers[0].Deadline.Equal(started.Add(time.Hour)) {
			t.Fatalf("asynq sees %+v", s)
		}
		must(t, c.ClearServerState(ctx, "h", 7, "s1"))
		if servers, err := asynq.NewInspectorFromRedisClient(r).Servers(); err != nil || len(servers) != 0 {
			t.Fatalf("after clear: %d servers, %v", len(servers), err)
		}
	})
}

func TestPop(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		must(t, r.RPush(ctx, ResultsKey("q"), "a", "b", "a").Err())
		taken, err := c.Pop(ctx, ResultsKey("q"), []string{"a", "c", "a", "a"})
		must(t, err)
		if !slices.Equal(taken, []bool{true, false, true, false}) {
			t.Fatalf("taken %v", taken)
		}
		if got := r.LRange(ctx, ResultsKey("q"), 0, -1).Val(); !slices.Equal(got, []string{"b"}) {
			t.Fatalf("left %v", got)
		}
	})
}

func TestInbox(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		must(t, r.LPush(ctx, InboxKey("q"), "j1", "j2", "j3").Err())
		if _, err := c.InboxTake(ctx, "q", "tok", "B", 2); !errors.Is(err, ErrInboxLeaseLost) {
			t.Fatalf("take without the lease: %v", err)
		}
		ok, err := c.InboxAcquire(ctx, "q", "tok", time.Minute)
		must(t, err)
		if !ok {
			t.Fatal("lease not taken")
		}
		if ok, _ := c.InboxAcquire(ctx, "q", "other", time.Minute); ok {
			t.Fatal("lease taken twice")
		}
		got, err := c.InboxTake(ctx, "q", "tok", "B", 2)
		must(t, err)
		if !slices.Equal(got, []string{"B\n1\nj1", "B\n2\nj2"}) {
			t.Fatalf("taken %q", got)
		}
		steps := []struct {
			name string
			do   func() (bool, error)
			want bool
		}{
			{"restamp", func() (bool, error) { return c.InboxRestamp(ctx, "q", "B\n1\nj1", "C\n1\nj1") }, true},
			{"restamp gone", func() (bool, error) { return c.InboxRestamp(ctx, "q", "B\n1\nj1", "C\n1\nj1") }, false},
			{"reject", func() (bool, error) { return c.InboxReject(ctx, "q", "B\n2\nj2", "B", []byte(`{"exception":{}}`)) }, true},
			{"reject gone", func() (bool, error) { return c.InboxReject(ctx, "q", "B\n2\nj2", "B", []byte(`x`)) }, false},
			{"renew other", func() (bool, error) { return c.InboxRenew(ctx, "q", "other", time.Hour) }, false},
			{"renew", func() (bool, error) { return c.InboxRenew(ctx, "q", "tok", time.Hour) }, true},
			{"release other", func() (bool, error) { return c.InboxRelease(ctx, "q", "other") }, false},
			{"release", func() (bool, error) { return c.InboxRelease(ctx, "q", "tok") }, true},
		}
		for _, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				got, err := s.do()
				must(t, err)
				if got != s.want {
					t.Fatalf("%s = %v, want %v", s.name, got, s.want)
				}
			})
		}
		if got := r.LRange(ctx, InboxProcessingKey("q"), 0, -1).Val(); !slices.Equal(got, []string{"C\n1\nj1"}) {
			t.Fatalf("processing %q", got)
		}
		if got := r.LRange(ctx, ExceptionsKey("q"), 0, -1).Val(); !slices.Equal(got, []string{`{"exception":{}}`}) {
			t.Fatalf("exceptions %q", got)
		}
		if r.Exists(ctx, InboxLeaseKey("q")).Val() != 0 {
			t.Fatal("lease left")
		}
	})
}

// mirrors are the lua/ scripts that mirror one of asynq's (its Go name).
var mirrors = map[string]string{
	"fetch": "dequeueCmd", "record_many": "doneCmd", "record_new": "doneCmd", "recorded_before": "doneCmd", "requeue": "requeueCmd",
	"archive": "archiveCmd", "enqueue_many": "enqueueCmd", "write_server_state": "writeServerStateCmd",
	"retry": "retryCmd", "forward": "forwardCmd",
}

// Every lua/ file is embedded and named, and starts with its header.
func TestScriptFiles(t *testing.T) {
	files, err := filepath.Glob("lua/*.lua")
	must(t, err)
	if len(files) != len(scriptsByName) {
		t.Fatalf("%d lua files, %d scripts", len(files), len(scriptsByName))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".lua")
		t.Run(name, func(t *testing.T) {
			if Script(name) == nil {
				t.Fatalf("%s is not in scriptsByName", f)
			}
			b, err := os.ReadFile(f)
			must(t, err)
			text := string(b)
			if !strings.HasPrefix(text, "-- ") || !strings.Contains(text, "-- KEYS[") || !strings.Contains(text, "-- ARGV[") || !strings.Contains(text, "-- Output:") {
				t.Fatalf("%s lacks its KEYS/ARGV/Output header", f)
			}
			if m := mirrors[name]; m != "" && !strings.Contains(text, "-- mirrors asynq "+AsynqVerified+" "+m+"; differs: ") {
				t.Fatalf("%s does not say it mirrors asynq %s %s and how it differs", f, AsynqVerified, m)
			}
			// What Redis gets: the same lines, each comment line empty.
			code := scriptCode(text)
			if h := sha1.Sum([]byte(code)); Script(name).Hash() != hex.EncodeToString(h[:]) {
				t.Fatalf("%s: the script is not its code", f)
			}
			sent, file := strings.Split(code, "\n"), strings.Split(text, "\n")
			if len(sent) != len(file) {
				t.Fatalf("%s: %d lines sent, %d in the file", f, len(sent), len(file))
			}
			comments := 0
			for i, l := range file {
				switch {
				case strings.HasPrefix(strings.TrimSpace(l), "--") && !strings.HasPrefix(strings.TrimSpace(l), "--["):
					comments++
					if sent[i] != "" {
						t.Fatalf("%s:%d: comment sent: %q", f, i+1, sent[i])
					}
				case sent[i] != l:
					t.Fatalf("%s:%d: sent %q", f, i+1, sent[i])
				}
			}
			if comments == 0 {
				t.Fatalf("%s: no comment line met", f)
			}
		})
	}
	// Redis takes every one of them.
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		for name, s := range scriptsByName {
			if err := s.Load(context.Background(), r).Err(); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}

// benchQueue is a Redis of the benchmark's own with queue q published, a
// Client on it and an encoder of q's messages.
func benchQueue(b *testing.B) (*redis.Client, *Client, *MessageEncoder) {
	b.Helper()
	srv := testredis.Start(b)
	r := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	b.Cleanup(func() { r.Close() })
	c := New(r)
	if err := c.PublishQueue(context.Background(), "q"); err != nil {
		b.Fatal(err)
	}
	return r, c, NewMessageEncoder("q", "request", 25, time.Minute)
}

// BenchmarkRecordManyActive records outcomes of fetched tasks, 64 a call,
// the oldest taken first, with 1k and 64k tasks active: the cost of a
// record must not grow with the active list (its LREM scans from the tail,
// where the oldest tasks are).
//
//	go test -run XXX -bench RecordManyActive ./internal/rdb/
func BenchmarkRecordManyActive(b *testing.B) {
	for _, active := range []int{1 << 10, 1 << 16} {
		b.Run(strconv.Itoa(active), func(b *testing.B) {
			r, c, enc := benchQueue(b)
			ctx := context.Background()
			next := 0
			var held []string // in fetch order
			take := func(n int) {
				ids, msgs := make([]string, n), make([][]byte, n)
				for i := range ids {
					ids[i] = "t" + strconv.Itoa(next)
					msgs[i] = enc.Encode(ids[i], []byte(`{}`))
					next++
				}
				if _, err := c.EnqueueMany(ctx, "q", testNow, ids, msgs, make([]string, n)); err != nil {
					b.Fatal(err)
				}
				for len(ids) > 0 {
					got, err := c.Fetch(ctx, "q", testNow.Add(time.Hour), min(len(ids), 1000))
					if err != nil || len(got) == 0 {
						b.Fatal(len(got), err)
					}
					held = append(held, ids[:len(got)]...)
					ids = ids[len(got):]
				}
			}
			take(active)
			const group = 64
			recs := make([]Record, group)
			var scriptUsec int64 // the record calls' time in Redis
			b.ResetTimer()
			for done := 0; done < b.N; done += group {
				for i := range recs {
					recs[i] = Record{Queue: "q", Batch: "B", Member: held[i], Line: []byte(`{"id":"x"}`), TaskID: held[i]}
				}
				u0 := evalUsec(b, r)
				if _, err := c.RecordMany(ctx, testNow, time.Hour, recs); err != nil {
					b.Fatal(err)
				}
				scriptUsec += evalUsec(b, r) - u0
				held = held[group:]
				b.StopTimer()
				take(group)
				b.StartTimer()
			}
			b.ReportMetric(float64(scriptUsec)/float64(b.N), "redis-us/record")
			if n := r.LLen(ctx, ActiveKey("q")).Val(); n != int64(active) {
				b.Fatalf("active %d, want %d", n, active)
			}
		})
	}
}

// evalUsec is the time Redis has spent in EVALSHA and EVAL calls so far,
// in µs (INFO commandstats).
func evalUsec(b *testing.B, r *redis.Client) int64 {
	return int64(infoSum(b, r, "commandstats", func(name, v string) float64 {
		if name != "cmdstat_evalsha" && name != "cmdstat_eval" {
			return 0
		}
		for f := range strings.SplitSeq(v, ",") {
			if u, ok := strings.CutPrefix(f, "usec="); ok {
				n, _ := strconv.ParseFloat(u, 64)
				return n
			}
		}
		return 0
	}))
}

// infoSum is the sum of what val makes of each "name:value" line of the
// INFO section.
func infoSum(b *testing.B, r *redis.Client, section string, val func(name, v string) float64) float64 {
	txt, err := r.Info(context.Background(), section).Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for line := range strings.SplitSeq(txt, "\r\n") {
		if name, v, ok := strings.Cut(line, ":"); ok {
			total += val(name, v)
		}
	}
	return total
}

// TestFetchMatchesDequeue runs asynq's own dequeueCmd (from the linked
// module's source) as many times as Fetch takes tasks, on the same state,
// and diffs what each leaves: the pending and active lists in order, the
// leases, the task hashes and the messages returned in order.
func TestFetchMatchesDequeue(t *testing.T) {
	text, ok := asynqScript(asynqRDBSource(t), "dequeueCmd")
	if !ok {
		t.Fatal("asynq has no dequeueCmd")
	}
	dequeue := redis.NewScript(text)
	enc := NewMessageEncoder("q", "request", 25, time.Minute)
	lease := testNow.Add(LeaseDuration)
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		setup := func(t *testing.T) {
			t.Helper()
			must(t, r.FlushAll(ctx).Err())
			must(t, c.PublishQueue(ctx, "q"))
			ids := []string{"t1", "t2", "t3", "t4", "t5"}
			msgs := make([][]byte, len(ids))
			for i, id := range ids {
				msgs[i] = enc.Encode(id, []byte(`{"n":`+strconv.Itoa(i)+`}`))
			}
			_, err := c.EnqueueMany(ctx, "q", testNow, ids, msgs, make([]string, len(ids)))
			must(t, err)
			must(t, r.LPush(ctx, ActiveKey("q"), "running").Err())
			must(t, r.ZAdd(ctx, LeaseKey("q"), redis.Z{Score: 1, Member: "running"}).Err())
		}
		state := func(t *testing.T) string {
			t.Helper()
			var b strings.Builder
			fmt.Fprintln(&b, "pending", r.LRange(ctx, PendingKey("q"), 0, -1).Val())
			fmt.Fprintln(&b, "active", r.LRange(ctx, ActiveKey("q"), 0, -1).Val())
			fmt.Fprintln(&b, "lease", r.ZRangeWithScores(ctx, LeaseKey("q"), 0, -1).Val())
			for i := 1; i <= 5; i++ {
				h := r.HGetAll(ctx, TaskKey("q", "t"+strconv.Itoa(i))).Val()
				keys := slices.Sorted(maps.Keys(h))
				fmt.Fprint(&b, "t", i)
				for _, k := range keys {
					fmt.Fprintf(&b, " %s=%q", k, h[k])
				}
				fmt.Fprintln(&b)
			}
			return b.String()
		}
		for _, take := range []int{1, 2, 5, 8} {
			t.Run(strconv.Itoa(take), func(t *testing.T) {
				setup(t)
				var want []string
				for range take {
					msg, err := dequeue.Run(ctx, r, []string{PendingKey("q"), PausedKey("q"), ActiveKey("q"), LeaseKey("q")},
						lease.Unix(), TaskKeyPrefix("q")).Text()
					if errors.Is(err, redis.Nil) {
						break
					}
					must(t, err)
					want = append(want, msg)
				}
				asynqState := state(t)
				setup(t)
				got, err := c.Fetch(ctx, "q", lease, take)
				must(t, err)
				if !slices.Equal(got, want) {
					t.Errorf("messages differ from asynq's: %d against %d", len(got), len(want))
				}
				if s := state(t); s != asynqState {
					t.Errorf("state after Fetch(%d):\n%s\nafter asynq's dequeueCmd %d times:\n%s", take, s, take, asynqState)
				}
			})
		}
	})
}

// BenchmarkFetchRecord is a worker's steady state as Redis sees it:
// tasks fetched fetch at a time and their outcomes recorded record at a
// time, the oldest first, with about active tasks held: a worker of 64
// sessions holds 64 to 192 (sessions, prefetch, outcomes being recorded);
// under load `reqfleet bench` saw about 20 tasks a fetch and 11 outcomes a
// record before records left the sessions' path, and sees about 26 and 30
// since (with the record linger). It reports Redis' own CPU per job (INFO's
// used_cpu_user+sys), the figure `reqfleet bench` reports, less the polls
// and heartbeats of a fleet, and the scripts' time in it.
//
//	go test -run XXX -bench FetchRecord -benchtime 20000x ./internal/rdb/
func BenchmarkFetchRecord(b *testing.B) {
	for _, bc := range []struct{ active, fetch, record int }{{64, 8, 8}, {160, 20, 11}, {160, 26, 30}, {160, 64, 30}, {160, 26, 64}, {160, 64, 64}, {320, 64, 30}} {
		b.Run(fmt.Sprintf("active=%d/fetch=%d/record=%d", bc.active, bc.fetch, bc.record), func(b *testing.B) {
			benchFetchRecord(b, bc.active, bc.fetch, bc.record, 64, pushLinesOver)
		})
	}
}

// benchFetchRecord is BenchmarkFetchRecord's steady state, about active
// tasks held, perFetch taken a fetch and perRecord outcomes a record, each
// outcome's line with a body of body bytes, a call's lines pushed by RPUSH
// from pushOver bytes.
func benchFetchRecord(b *testing.B, active, perFetch, perRecord, body, pushOver int) {
	r, c, enc := benchQueue(b)
	c.pushOver = pushOver
	ctx := context.Background()
	const batch = "20261202T160313-051a600b"
	jobID := func(i int) string { return fmt.Sprintf("14c45104-9a32-4660-b91a-%012d", i) }
	n := b.N + active + perFetch + perRecord // held reaches active+perRecord
	const chunk = 1000
	for s := 0; s < n; s += chunk {
		e := min(s+chunk, n)
		ids, msgs := make([]string, e-s), make([][]byte, e-s)
		for i := range ids {
			ids[i] = batch + ":1:" + jobID(s+i)
			msgs[i] = enc.Encode(ids[i], []byte(`{"batch":"`+batch+`","attempt":1,"job":{"id":"`+jobID(s+i)+`","url":"http://127.0.0.1:40000/"}}`))
		}
		if _, err := c.EnqueueMany(ctx, "q", testNow, ids, msgs, make([]string, len(ids))); err != nil {
			b.Fatal(err)
		}
	}
	line := []byte(`{"request":{"batch":"` + batch + `","attempt":1,"job":{"id":"` + jobID(0) + `","url":"http://127.0.0.1:40000/"}},"status_code":200,"reason":"OK","headers":{"Content-Length":"64","Content-Type":"text/plain","Date":"Wed, 02 Dec 2026 16:00:00 GMT"},"encoding":"utf-8","elapsed":0.000123,"url":"http://127.0.0.1:40000/","history":[],"cookies":{},"text":"` + strings.Repeat("x", body) + `"}`)
	var held []string
	fetch := func(k int) {
		got, err := c.Fetch(ctx, "q", testNow.Add(time.Hour), k)
		if err != nil || len(got) != k {
			b.Fatal(len(got), err)
		}
		for _, m := range got {
			tm, err := DecodeTaskMessage([]byte(m))
			if err != nil {
				b.Fatal(err)
			}
			held = append(held, tm.ID)
		}
	}
	for len(held) < active {
		fetch(perFetch)
	}
	recs := make([]Record, perRecord)
	cpu0, usec0 := redisCPUUsec(b, r), evalUsec(b, r)
	b.ResetTimer()
	done := 0
	for ; done < b.N; done += perRecord {
		for len(held) < active+perRecord {
			fetch(perFetch)
		}
		for i := range recs {
			id := held[i]
			recs[i] = Record{Queue: "q", Batch: batch, Member: id[len(batch)+1:], Line: line, TaskID: id,
				Detail: "code:200", Host: "127.0.0.1:40000"}
		}
		if _, err := c.RecordMany(ctx, testNow, time.Hour, recs); err != nil {
			b.Fatal(err)
		}
		held = held[perRecord:]
	}
	b.StopTimer()
	b.ReportMetric(float64(redisCPUUsec(b, r)-cpu0)/float64(done), "redis-cpu-us/job")
	b.ReportMetric(float64(evalUsec(b, r)-usec0)/float64(done), "script-us/job")
}

// redisCPUUsec is Redis' CPU so far (INFO cpu: used_cpu_user and
// used_cpu_sys), in µs.
func redisCPUUsec(b *testing.B, r *redis.Client) int64 {
	return int64(1e6 * infoSum(b, r, "cpu", func(name, v string) float64 {
		if name != "used_cpu_user" && name != "used_cpu_sys" {
			return 0
		}
		f, _ := strconv.ParseFloat(v, 64)
		return f
	}))
}
