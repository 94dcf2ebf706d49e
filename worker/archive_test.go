package worker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/startstop"
	"github.com/reqfleet/reqfleet/tasks"
)

var sweepNow = time.Date(2026, 11, 25, 20, 13, 0, 0, time.UTC)

func testSweeper(rdb redis.UniversalClient, name string) *sweeper {
	cfg := SweepConfig{}
	_ = cfg.validate()
	rec := recorder{rdb: rdb, ttl: time.Hour}
	return newSweeper(cfg, asynq.NewInspectorFromRedisClient(rdb), rec.record, map[string]int{"q": 1}, name,
		func() time.Time { return sweepNow }, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// archive puts a task with the payload in queue q's archive, as asynq's
// recoverer does with a job whose worker died and whose retries are used up.
func archive(t *testing.T, rdb redis.UniversalClient, typ, id string, payload []byte) {
	t.Helper()
	c := asynq.NewClientFromRedisClient(rdb)
	if _, err := c.Enqueue(asynq.NewTask(typ, payload), asynq.Queue("q"), asynq.TaskID(id), asynq.MaxRetry(0)); err != nil {
		t.Fatal(err)
	}
	if err := asynq.NewInspectorFromRedisClient(rdb).ArchiveTask("q", id); err != nil {
		t.Fatal(err)
	}
}

func archivedCount(t *testing.T, rdb redis.UniversalClient) int {
	t.Helper()
	qi, err := asynq.NewInspectorFromRedisClient(rdb).GetQueueInfo("q")
	if err != nil {
		t.Fatal(err)
	}
	return qi.Archived
}

func exceptionsOf(t *testing.T, rdb redis.UniversalClient) []tasks.Exception {
	t.Helper()
	var out []tasks.Exception
	for _, line := range rdb.LRange(context.Background(), reqrdb.ExceptionsKey("q"), 0, -1).Val() {
		e, err := tasks.DecodeException([]byte(line))
		if err != nil {
			t.Fatalf("exception %s: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

func payload(t *testing.T, task tasks.Task) []byte {
	t.Helper()
	b, err := task.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSweepRecordsWorkerLost(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		j := tasks.Job{ID: "j1", Method: "POST", URL: "http://x/", Auth: &tasks.Auth{User: "u", Password: "p"}}
		task := tasks.Task{Batch: "B", Attempt: 2, Job: j}
		archive(t, rdb, tasks.TypeRequest, task.TaskID(), payload(t, task))
		archive(t, rdb, "someone:else", "foreign", []byte("x"))

		if n := testSweeper(rdb, "w1").sweep(ctx); n != 1 {
			t.Fatalf("sweep recorded %d, want 1", n)
		}
		excs := exceptionsOf(t, rdb)
		if len(excs) != 1 {
			t.Fatalf("exceptions %+v", excs)
		}
		e := excs[0]
		if e.Exception.Type != tasks.WorkerLost || e.ID != "j1" || e.Batch != "B" || e.Attempt != 2 ||
			e.Worker != "w1" || !e.FinishedAt.Equal(sweepNow) || e.Request.Auth == nil || e.Request.Auth.Password != "p" {
			t.Fatalf("exception %+v", e)
		}
		if h := rdb.HGetAll(ctx, reqrdb.BatchKey("q", "B")).Val(); h["done"] != "1" || h["exceptions"] != "1" {
			t.Fatalf("batch hash %v", h)
		}
		// Ours is gone from the archive; the foreign task is left alone.
		if n := archivedCount(t, rdb); n != 1 {
			t.Fatalf("%d archived, want the foreign one", n)
		}
		// Nothing left to do.
		if n := testSweeper(rdb, "w1").sweep(ctx); n != 0 || len(exceptionsOf(t, rdb)) != 1 {
			t.Fatalf("second sweep recorded %d", n)
		}
	})
}

// Several workers sweep the same archive at once: one entry per job.
func TestSweepersAtOnce(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		const n = 60
		for i := range n {
			task := tasks.Task{Batch: "B", Attempt: 1, Job: tasks.Job{ID: "j" + itoa(i), Method: "GET", URL: "http://x/"}}
			archive(t, rdb, tasks.TypeRequest, task.TaskID(), payload(t, task))
		}
		var wg sync.WaitGroup
		counts := make([]int, 4)
		for i := range counts {
			s := testSweeper(rdb, "w"+itoa(i))
			wg.Go(func() { counts[i] = s.sweep(context.Background()) })
		}
		wg.Wait()
		total := 0
		for _, c := range counts {
			total += c
		}
		excs := exceptionsOf(t, rdb)
		ids := map[string]bool{}
		for _, e := range excs {
			ids[e.ID] = true
		}
		if total != n || len(excs) != n || len(ids) != n {
			t.Fatalf("recorded %v (%d), %d exceptions, %d ids; want %d each", counts, total, len(excs), len(ids), n)
		}
		if a := archivedCount(t, rdb); a != 0 {
			t.Fatalf("%d left in the archive", a)
		}
	})
}

// asynq archived a job whose outcome was recorded (its lease ran out while
// Redis was away, say): no second entry, and the archive is cleared.
func TestSweepJobAlreadyRecorded(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		j := tasks.Job{ID: "j1", Method: "GET", URL: "http://x/"}
		task := tasks.Task{Batch: "B", Attempt: 1, Job: j}
		rec := recorder{rdb: rdb, ttl: time.Hour}
		if _, err := rec.record(ctx, "q", task, &tasks.Response{ID: "j1", Batch: "B", Request: j, StatusCode: 200, Attempt: 1}); err != nil {
			t.Fatal(err)
		}
		archive(t, rdb, tasks.TypeRequest, task.TaskID(), payload(t, task))
		if n := testSweeper(rdb, "w1").sweep(ctx); n != 0 {
			t.Fatalf("sweep recorded %d, want 0", n)
		}
		if len(exceptionsOf(t, rdb)) != 0 || archivedCount(t, rdb) != 0 {
			t.Fatalf("exceptions %v, %d archived", exceptionsOf(t, rdb), archivedCount(t, rdb))
		}
		if h := rdb.HGetAll(ctx, reqrdb.BatchKey("q", "B")).Val(); h["done"] != "1" || h["responses"] != "1" {
			t.Fatalf("batch hash %v", h)
		}
	})
}

// Payloads that are not jobs become InvalidJob exceptions: counted in their
// batch when it can be read, so the batch still completes.
func TestSweepInvalidPayloads(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		archive(t, rdb, tasks.TypeRequest, "bad-field", []byte(`{"batch":"B","attempt":3,"job":{"id":"j9","url":"http://x/","bogus":1}}`))
		archive(t, rdb, tasks.TypeRequest, "garbage", []byte(`not json at all`))
		if n := testSweeper(rdb, "w1").sweep(ctx); n != 2 {
			t.Fatalf("sweep recorded %d, want 2", n)
		}
		got := map[string]tasks.Exception{}
		for _, e := range exceptionsOf(t, rdb) {
			got[e.ID] = e
		}
		for _, tc := range []struct{ id, batch string }{{"j9", "B"}, {"asynq:garbage", ""}} {
			e, ok := got[tc.id]
			if !ok || e.Exception.Type != tasks.InvalidJob || e.Batch != tc.batch || e.Request.URL != "" {
				t.Errorf("exception %q: %+v (found %v)", tc.id, e, ok)
			}
		}
		if e := got["j9"]; e.Attempt != 3 {
			t.Errorf("j9 attempt %d, want 3", e.Attempt)
		}
		if h := rdb.HGetAll(ctx, reqrdb.BatchKey("q", "B")).Val(); h["done"] != "1" || h["exceptions"] != "1" {
			t.Fatalf("batch hash %v", h)
		}
		if a := archivedCount(t, rdb); a != 0 {
			t.Fatalf("%d left in the archive", a)
		}
	})
}

func TestRetryDelay(t *testing.T) {
	for n, want := range map[int]time.Duration{
		-1: 2 * time.Second, 0: 2 * time.Second, 1: 4 * time.Second, 2: 8 * time.Second,
		3: 16 * time.Second, 4: 30 * time.Second, 25: 30 * time.Second, 1000: 30 * time.Second,
	} {
		if got := retryDelay(n, nil, nil); got != want {
			t.Errorf("retryDelay(%d) = %v, want %v", n, got, want)
		}
	}
}

func itoa(i int) string { return string(rune('a'+i/26)) + string(rune('a'+i%26)) }

// The sweeper sweeps at Start and every Interval until Stop; Stop may be
// called again, and ends the sweeps.
func TestSweeperStartStop(t *testing.T) {
	rdb := miniRedis(t)
	s := testSweeper(rdb, "w1")
	s.cfg.Interval = 5 * time.Millisecond
	s.swept.Init(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); !errors.Is(err, startstop.ErrStarted) {
		t.Fatalf("second Start: %v", err)
	}
	s.swept.WaitOrTimeout() // at once
	task := tasks.Task{Batch: "B", Attempt: 1, Job: tasks.Job{ID: "j1", URL: "http://x/"}}
	archive(t, rdb, tasks.TypeRequest, task.TaskID(), payload(t, task))
	// Sweeps that ended before now may have signalled already: drop those,
	// then one sweep may be under way from before the archive, so the
	// second one signalled after this point began after it.
	for len(s.swept.C()) > 0 {
		<-s.swept.C()
	}
	s.swept.WaitOrTimeout() // perhaps begun before the archive
	s.swept.WaitOrTimeout()
	if excs := exceptionsOf(t, rdb); len(excs) != 1 || excs[0].ID != "j1" {
		t.Fatalf("exceptions %+v", excs)
	}
	for range 2 {
		if err := s.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for len(s.swept.C()) > 0 {
		<-s.swept.C()
	}
	archive(t, rdb, tasks.TypeRequest, "t2", payload(t, tasks.Task{Batch: "B", Attempt: 1, Job: tasks.Job{ID: "j2", URL: "http://x/"}}))
	s.swept.RequireEmpty() // stopped: Stop waited for the last sweep
	if n := archivedCount(t, rdb); n != 1 {
		t.Fatalf("%d archived after Stop, want 1 left alone", n)
	}
}
