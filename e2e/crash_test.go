package e2e

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/tasks"
)

// workerPaths are the two ways a worker runs its jobs: the fetcher (the
// default) and asynq's own processor (--asynq-processor).
var workerPaths = []struct {
	name string
	args []string
}{{"fetcher", nil}, {"asynq_processor", []string{"--asynq-processor"}}}

// TestWorkerKilledMidBatch, on both paths: three worker processes; one is killed with
// SIGKILL while it holds jobs of three batches:
//
//   - held-a (queue qa, asynq's default 25 retries): asynq finds the dead
//     worker's jobs once their lease has expired and runs them again;
//   - held-b (queue qb, --max-retry 0): asynq archives them ("task lease
//     expired"), the sweeper makes them WorkerLost exceptions, and `retry`
//     brings them back as attempt 2;
//   - bulk (queue qa, 300 jobs of 100ms): the victim was working on some
//     of them too.
//
// Every batch completes with one entry per job; the time from the kill to
// each batch's completion is logged (crash recovery time).
func TestWorkerKilledMidBatch(t *testing.T) {
	needBinary(t)
	t.Parallel()
	for _, path := range workerPaths {
		t.Run(path.name, func(t *testing.T) {
			t.Parallel() // mostly waiting for asynq's lease and recoverer
			srv := testredis.Start(t)
			rdb := srv.Client(t)
			tg := newTarget(t)
			queues := slices.Clip(append([]string{"--queues", "qa:1,qb:1"}, path.args...))

			victim := startWorker(t, "victim", srv.URL(), append(queues, "-c", "6")...)
			fileA, idsA := writeJobs(t, "held-a", 2, func(i int) string { return fmt.Sprintf("%s/hold/a%d", tg.URL, i) })
			fileB, idsB := writeJobs(t, "held-b", 2, func(i int) string { return fmt.Sprintf("%s/hold/b%d", tg.URL, i) })
			recA := enqueue(t, srv.URL(), fileA, "--queue", "qa")
			recB := enqueue(t, srv.URL(), fileB, "--queue", "qb", "--max-retry", "0")
			// The victim, alone, takes all four.
			testkit.WaitUntil(t, time.Minute, func() bool { return tg.holding.Load() == 4 }, "the victim holds the 4 held jobs")

			startWorker(t, "w1", srv.URL(), append(queues, "-c", "4")...)
			startWorker(t, "w2", srv.URL(), append(queues, "-c", "4")...)
			fileC, idsC := writeJobs(t, "bulk", 300, func(i int) string { return fmt.Sprintf("%s/delay/100/c%d", tg.URL, i) })
			recC := enqueue(t, srv.URL(), fileC, "--queue", "qa")
			testkit.WaitUntil(t, 2*time.Minute, func() bool {
				return batchStatus(t, rdb, "qa", recC.Batch).Done >= 60
			}, "a fifth of the bulk batch done")

			victim.signal(t, syscall.SIGKILL)
			killed := time.Now()
			if code := victim.wait(t, 10*time.Second); code != -1 {
				t.Logf("victim exit code %d", code)
			}
			tg.releaseOnce() // the jobs run again will be answered at once

			// The fetcher: a 5s lease, taken back by the lease recoverer of
			// each worker (every second) as it ends: 5-7s. asynq's processor:
			// its 30s lease, taken back by the same as it ends: 30-35s.
			const limit = 4 * time.Minute
			waitBatch(t, rdb, "qa", recC.Batch, limit)
			tookC := time.Since(killed)
			waitBatch(t, rdb, "qa", recA.Batch, limit)
			tookA := time.Since(killed)
			waitBatch(t, rdb, "qb", recB.Batch, limit)
			tookB := time.Since(killed)
			t.Logf("crash recovery: bulk batch complete %v after the SIGKILL, held-a (asynq retry) %v, held-b (archived -> WorkerLost) %v",
				tookC.Round(time.Second), tookA.Round(time.Second), tookB.Round(time.Second))

			wantAll(t, checkBatch(t, rdb, "qa", recC.Batch, idsC), "a response of attempt 1", isResponse(1))
			wantAll(t, checkBatch(t, rdb, "qa", recA.Batch, idsA), "a response of attempt 1 (asynq ran it again)", isResponse(1))
			wantAll(t, checkBatch(t, rdb, "qb", recB.Batch, idsB), "a WorkerLost exception of attempt 1", func(e entry) bool {
				return e.kind == "exception" && e.typ == tasks.WorkerLost && e.attempt == 1
			})

			// retry brings the lost jobs back; this time they are answered.
			r := mustCLI(t, time.Minute, nil, "retry", "--redis", srv.URL(), "--queue", "qb", "--type", tasks.WorkerLost)
			if !strings.Contains(r.stderr, "retried 2 exceptions") {
				t.Fatalf("retry said %q", r.stderr)
			}
			waitBatch(t, rdb, "qb", recB.Batch, time.Minute)
			wantAll(t, checkBatch(t, rdb, "qb", recB.Batch, idsB), "a response of attempt 2", isResponse(2))
			if a := queueInfo(t, rdb, "qb").Archived + queueInfo(t, rdb, "qa").Archived; a != 0 {
				t.Fatalf("%d tasks left in asynq's archive", a)
			}
		})
	}
}

// TestWorkerSIGTERM: a worker told to stop (SIGTERM) finishes its jobs in
// flight within --shutdown-timeout and exits 0; with a shutdown timeout
// shorter than its jobs, they go back to the queue for another worker. No
// job is lost or recorded twice.
func TestWorkerSIGTERM(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := testredis.Start(t)
	rdb := srv.Client(t)
	tg := newTarget(t)

	t.Run("in flight finish", func(t *testing.T) {
		w1 := startWorker(t, "w1", srv.URL(), "-c", "4")
		startWorker(t, "w2", srv.URL(), "-c", "4")
		file, ids := writeJobs(t, "term", 200, func(i int) string { return fmt.Sprintf("%s/delay/150/%d", tg.URL, i) })
		rec := enqueue(t, srv.URL(), file)
		testkit.WaitUntil(t, time.Minute, func() bool { return batchStatus(t, rdb, "default", rec.Batch).Done >= 40 }, "40 jobs done")
		w1.signal(t, syscall.SIGTERM)
		if code := w1.wait(t, 45*time.Second); code != 0 {
			t.Fatalf("SIGTERM: exit %d", code)
		}
		if !strings.Contains(w1.stderr.String(), "worker stopped") {
			t.Fatalf("no graceful stop in the log:\n%s", w1.stderr.String())
		}
		waitBatch(t, rdb, "default", rec.Batch, 2*time.Minute)
		wantAll(t, checkBatch(t, rdb, "default", rec.Batch, ids), "a response of attempt 1", isResponse(1))
	})

	t.Run("past the shutdown timeout, back to the queue", func(t *testing.T) {
		w := startWorker(t, "slow", srv.URL(), "--queue", "slow", "-c", "2", "--shutdown-timeout", "1s")
		file, ids := writeJobs(t, "slow", 2, func(i int) string { return fmt.Sprintf("%s/hold/s%d", tg.URL, i) })
		rec := enqueue(t, srv.URL(), file, "--queue", "slow")
		testkit.WaitUntil(t, time.Minute, func() bool { return tg.holding.Load() == 2 }, "both jobs in flight")
		w.signal(t, syscall.SIGTERM)
		if code := w.wait(t, 30*time.Second); code != 0 {
			t.Fatalf("SIGTERM: exit %d", code)
		}
		if qi := queueInfo(t, rdb, "slow"); qi.Pending != 2 || qi.Active != 0 {
			t.Fatalf("after the shutdown: %d pending, %d active; want both jobs back in the queue", qi.Pending, qi.Active)
		}
		if st := batchStatus(t, rdb, "slow", rec.Batch); st.Done != 0 {
			t.Fatalf("aborted jobs recorded outcomes: %+v", st)
		}
		tg.releaseOnce()
		startWorker(t, "next", srv.URL(), "--queue", "slow", "-c", "2")
		waitBatch(t, rdb, "slow", rec.Batch, time.Minute)
		wantAll(t, checkBatch(t, rdb, "slow", rec.Batch, ids), "a response of attempt 1", isResponse(1))
	})
}
