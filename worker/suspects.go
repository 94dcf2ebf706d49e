package worker

import (
	"context"
	"time"
)

// Suspects. A worker lost while it held jobs (killed, crashed, cut off)
// leaves their leases to run out, and the lease recoverer puts each back
// with its retried count raised: one of them may be what killed it (a
// response that blows the worker up), the others were only there with it.
// Once its workers are lost Config.MaxCrashes times while it runs, a job
// is recorded as a WorkerCrashed exception (recover.go), so that a job
// that kills workers does not walk through the fleet. To count only the
// job that was running, not those held beside it:
//
//   - a job run again (retried > 0: a suspect) runs alone in its worker:
//     it waits for the jobs running to finish and their outcomes to be
//     recorded, and no other job starts until its own outcome is recorded
//     (fetcher.alone);
//   - before its request goes out, its task is marked as started
//     (rdb.MarkStarted, one Redis call: suspects are few);
//   - when its worker is lost again, recovery raises its retried count
//     only if it is marked; a suspect only held (waiting for its turn) is
//     put back as it was.
//
// A job held by a lost worker for the first time is counted, since what
// ran is not known then; from then on it is a suspect and runs alone. An
// innocent job therefore counts one crash at most, whatever it shared a
// worker with, and the job that kills its workers counts one a run.

// markStartedTimeout bounds the mark's Redis call.
const markStartedTimeout = 10 * time.Second

// markStarted marks a suspect's task as started before its request goes
// out. If the mark cannot be written (Redis away) or the task is no longer
// active, the job is not sent: it is let go to recovery, which puts it back
// unmarked, as it was.
func (f *fetcher) markStarted(j fetchedTask) bool {
	ctx, cancel := context.WithTimeout(context.Background(), markStartedTimeout)
	defer cancel()
	ok, err := f.store.MarkStarted(ctx, j.queue, j.msg.ID, f.cfg.identity.id)
	if err != nil || !ok {
		f.cfg.log.Warn("marking a job run again as started failed; not started, let go to recovery", "queue", j.queue, "task", j.msg.ID, "active", ok, "err", err)
		f.release(j.queue, j.msg.ID)
		return false
	}
	return true
}
