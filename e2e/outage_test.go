package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/enqueuer"
	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/tasks"
)

// outage keeps Redis away for d: the channel wait is the outage itself.
func outage(d time.Duration) { <-time.After(d) }

// TestRedisRestartMidBatch: the test's redis-server (with an append-only
// file, so a restart keeps the queue) is stopped and started again while
// two workers are busy; they keep trying and finish the batch, with no
// outcome twice.
func TestRedisRestartMidBatch(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := testredis.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	rdb := srv.Client(t)
	tg := newTarget(t)
	w1 := startWorker(t, "w1", srv.URL(), "-c", "4")
	w2 := startWorker(t, "w2", srv.URL(), "-c", "4")
	file, ids := writeJobs(t, "restart", 300, func(i int) string { return fmt.Sprintf("%s/delay/50/%d", tg.URL, i) })
	rec := enqueue(t, srv.URL(), file)
	testkit.WaitUntil(t, time.Minute, func() bool { return batchStatus(t, rdb, "default", rec.Batch).Done >= 60 }, "60 jobs done")

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	outage(3 * time.Second)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	took := waitBatch(t, rdb, "default", rec.Batch, 3*time.Minute)
	t.Logf("batch complete %v after Redis came back", took.Round(100*time.Millisecond))
	wantAll(t, checkBatch(t, rdb, "default", rec.Batch, ids), "a response of attempt 1", isResponse(1))
	for _, w := range []*proc{w1, w2} {
		if !w.running() {
			t.Fatalf("%s exited during the outage", w.name)
		}
	}
}

// TestRedisUnreachableUnderLoad: Redis stops answering (SIGSTOP: the
// connections stay open, nothing comes back, as with a network that drops
// packets) for a few seconds while enqueue reads its input and two workers
// run jobs. enqueue keeps trying and accepts every line; the workers finish
// the batch.
func TestRedisUnreachableUnderLoad(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := testredis.Start(t)
	rdb := srv.Client(t)
	tg := newTarget(t)
	startWorker(t, "w1", srv.URL(), "-c", "4")
	startWorker(t, "w2", srv.URL(), "-c", "4")

	const n = 300
	_, ids := writeJobs(t, "paused", n, func(int) string { return "" })
	enq := startPiped(t, "enqueue", nil, "enqueue", "--redis", srv.URL(), "--json", "-")
	write := func(from, to int) {
		for i := from; i < to; i++ {
			line, _ := json.Marshal(map[string]string{"id": ids[i], "url": fmt.Sprintf("%s/delay/20/%d", tg.URL, i)})
			if _, err := enq.stdin.Write(append(line, '\n')); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(0, n/2)
	testkit.WaitUntil(t, time.Minute, func() bool { return tg.served.Load() >= 50 }, "jobs of the first half answered")

	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	write(n/2, n)
	enq.stdin.Close()
	outage(5 * time.Second)
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}

	if code := enq.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("enqueue: exit %d\n%s", code, enq.stderr.String())
	}
	noPanic(t, enq.stderr.String())
	var rec enqueuer.Receipt
	if err := json.Unmarshal([]byte(enq.stdout.String()), &rec); err != nil || rec.Accepted != n {
		t.Fatalf("enqueue printed %q (%v), want %d accepted", enq.stdout.String(), err, n)
	}
	waitBatch(t, rdb, "default", rec.Batch, 3*time.Minute)
	wantAll(t, checkBatch(t, rdb, "default", rec.Batch, ids), "a response of attempt 1", isResponse(1))
}

// TestEnqueueRedisGoneForGood: Redis goes away mid-file and stays away past
// --redis-retry-for: enqueue fails with one line that says how many jobs
// were accepted, and exactly those are in the batch once Redis is back.
func TestEnqueueRedisGoneForGood(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := testredis.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	rdb := srv.Client(t)
	const n = 200
	_, ids := writeJobs(t, "gone", n, func(int) string { return "" })
	enq := startPiped(t, "enqueue", nil, "enqueue", "--redis", srv.URL(), "--redis-retry-for", "3s", "-")
	for i := range n / 2 {
		fmt.Fprintf(enq.stdin, "{\"id\":%q,\"url\":\"http://127.0.0.1:1/%d\"}\n", ids[i], i)
	}
	testkit.WaitUntil(t, time.Minute, func() bool { return queueInfo(t, rdb, "default").Pending >= n/2 }, "the first half queued")
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	for i := n / 2; i < n; i++ {
		fmt.Fprintf(enq.stdin, "{\"id\":%q,\"url\":\"http://127.0.0.1:1/%d\"}\n", ids[i], i)
	}
	enq.stdin.Close()
	if code := enq.wait(t, time.Minute); code != 1 {
		t.Fatalf("enqueue: exit %d, want 1\n%s", code, enq.stderr.String())
	}
	stderr := enq.stderr.String()
	noPanic(t, stderr)
	last := lastLine(stderr)
	t.Logf("enqueue said: %s", last)
	if !strings.Contains(last, "Redis unavailable") || !strings.Contains(last, fmt.Sprintf("%d jobs accepted", n/2)) {
		t.Fatalf("last line of stderr %q: want Redis unavailable and %d jobs accepted", last, n/2)
	}
	// Redis back: exactly the accepted jobs are queued, once each.
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	pending := pendingTasks(t, rdb, "default")
	seen := map[string]bool{}
	for _, task := range pending {
		if seen[task.Job.ID] {
			t.Fatalf("job %s queued twice", task.Job.ID)
		}
		seen[task.Job.ID] = true
	}
	if len(pending) != n/2 {
		t.Fatalf("%d jobs queued, enqueue said %d", len(pending), n/2)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestRetryKilledHalfway: `reqfleet retry` is killed (SIGKILL) while it
// re-enqueues a long exceptions list, then run again: every exception is
// re-enqueued exactly once, as attempt 2, and the batch completes with one
// entry per job.
func TestRetryKilledHalfway(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := testredis.Start(t)
	rdb := srv.Client(t)
	const n = 3000
	file, ids := writeJobs(t, "refused", n, func(i int) string { return fmt.Sprintf("http://127.0.0.1:1/%d", i) })
	w := startWorker(t, "w1", srv.URL(), "-c", "16")
	rec := enqueue(t, srv.URL(), file)
	waitBatch(t, rdb, "default", rec.Batch, 3*time.Minute)
	wantAll(t, checkBatch(t, rdb, "default", rec.Batch, ids), "a ConnectionError of attempt 1", func(e entry) bool {
		return e.kind == "exception" && e.typ == tasks.ConnectionError && e.attempt == 1
	})
	w.signal(t, syscall.SIGTERM)
	if code := w.wait(t, time.Minute); code != 0 {
		t.Fatalf("worker exit %d", code)
	}

	// No worker now: what retry enqueues stays in the queue to be counted.
	retry := start(t, "retry", nil, "retry", "--redis", srv.URL())
	testkit.WaitUntil(t, time.Minute, func() bool {
		return !retry.running() || queueInfo(t, rdb, "default").Pending >= n/10
	}, "retry under way")
	retry.signal(t, syscall.SIGKILL)
	retry.wait(t, 10*time.Second)
	at := queueInfo(t, rdb, "default").Pending
	if at >= n {
		t.Fatalf("retry finished (%d queued) before it was killed: make the list longer", at)
	}
	retrying, _ := rdb.LLen(t.Context(), reqrdb.RetryingKey("default")).Result()
	t.Logf("killed retry with %d of %d re-enqueued, %d in the retrying list", at, n, retrying)

	r := mustCLI(t, 2*time.Minute, nil, "retry", "--redis", srv.URL())
	t.Logf("rerun: %s", strings.TrimSpace(r.stderr))
	pending := pendingTasks(t, rdb, "default")
	seen := map[string]bool{}
	for _, task := range pending {
		if task.Attempt != 2 || task.Batch != rec.Batch || seen[task.Job.ID] {
			t.Fatalf("queued %s attempt %d of batch %s (seen before: %v)", task.Job.ID, task.Attempt, task.Batch, seen[task.Job.ID])
		}
		seen[task.Job.ID] = true
	}
	if len(pending) != n {
		t.Fatalf("%d re-enqueued, want %d", len(pending), n)
	}
	for _, key := range []string{reqrdb.ExceptionsKey("default"), reqrdb.RetryingKey("default")} {
		if l := rdb.LLen(t.Context(), key).Val(); l != 0 {
			t.Fatalf("%s holds %d entries, want 0", key, l)
		}
	}

	startWorker(t, "w2", srv.URL(), "-c", "16")
	waitBatch(t, rdb, "default", rec.Batch, 3*time.Minute)
	wantAll(t, checkBatch(t, rdb, "default", rec.Batch, ids), "a ConnectionError of attempt 2", func(e entry) bool {
		return e.kind == "exception" && e.typ == tasks.ConnectionError && e.attempt == 2
	})
}
