package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/startstop"
	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/tasks"
)

// Recovery in seconds. The fetcher holds its jobs under short leases
// (Config.Lease, 5s, renewed every Config.LeaseRenew, 1s: fetch.go), and
// every worker runs a lease recoverer that, every Config.RecoverEvery (1s,
// jittered), takes the tasks of its queues whose lease has ended and,
// each only if still expired, active and unchanged (rdb.RecoverLeases,
// one atomic script a queue and round):
//
//   - puts it back at the head of its queue, retried+1 and error_msg
//     "lease expired", as asynq's recoverer and retry would (at once, not
//     after a retry delay); its next run finishes it without sending its
//     request again if its outcome was recorded after all (fetch.go's
//     recordedBefore);
//   - or, run again (retried > 0) and only held when its worker was lost
//     (not marked as started: suspects.go), puts it back as it was;
//   - or, once its workers died while running it Config.MaxCrashes times
//     (its retried count), records it as a WorkerCrashed exception and
//     finishes it in the same script, exactly once (the batch's seen set),
//     so that a job that kills its worker does not walk through the fleet;
//   - or, its asynq retries used up (retried >= the task's MaxRetry, e.g.
//     `enqueue --max-retry 0`), records it as WorkerLost, as the archive
//     sweeper would once asynq archived it.
//
// asynq's own recoverer (a minute, for leases 30s past their end) stays as
// the safety net, and recovers tasks not of reqfleet's type. The lease
// scores are wall-clock seconds of the worker that took or renewed the
// task, compared with the recovering worker's clock: clocks are assumed
// in step (NTP) well within the fencing margin (Lease/5).

// recoverBatch is the most tasks a queue's round takes.
const recoverBatch = 100

// leaseRecoverer is a worker's recovery of the expired leases of its queues.
type leaseRecoverer struct {
	store      *rdb.Client
	queues     []string
	every      time.Duration
	maxCrashes int
	ttl        time.Duration // the batch keys' expiry
	worker     string        // recorded in the exceptions
	now        func() time.Time
	log        *slog.Logger
	rng        *rand.Rand // the loop's only

	life   startstop.Base
	rounds testkit.Signal[int] // tests: a round is done, with how many tasks it recovered
}

func newLeaseRecoverer(store *rdb.Client, queues map[string]int, every time.Duration, maxCrashes int, ttl time.Duration, worker string, now func() time.Time, log *slog.Logger) *leaseRecoverer {
	qs := make([]string, 0, len(queues))
	for q := range queues {
		qs = append(qs, q)
	}
	slices.Sort(qs)
	return &leaseRecoverer{store: store, queues: qs, every: every, maxCrashes: maxCrashes, ttl: ttl, worker: worker,
		now: now, log: log.With("component", "lease-recoverer"), rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
}

// Start recovers at once and then every half to one and a half of every,
// until Stop or ctx ends.
func (r *leaseRecoverer) Start(ctx context.Context) error {
	return r.life.Start(ctx, func(ctx context.Context) {
		for {
			n := r.round(ctx)
			r.rounds.Signal(n)
			t := time.NewTimer(r.every/2 + time.Duration(r.rng.Int64N(int64(r.every)+1)))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	})
}

// Stop ends the rounds and waits for the one in progress, or until ctx
// ends (then it returns ctx's error; the round finishes in the background).
func (r *leaseRecoverer) Stop(ctx context.Context) error {
	if r == nil {
		return nil
	}
	return r.life.Stop(ctx)
}

// round recovers the expired tasks of every queue, logging what failed (the
// next round tries again); it returns how many it requeued or recorded.
func (r *leaseRecoverer) round(ctx context.Context) int {
	total := 0
	for _, q := range r.queues {
		n, err := r.recoverQueue(ctx, q)
		total += n
		if err != nil && ctx.Err() == nil {
			r.log.Warn("recovering expired leases failed; trying again next round", "queue", q, "err", err)
		}
	}
	return total
}

func (r *leaseRecoverer) recoverQueue(ctx context.Context, q string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	now := r.now()
	exp, err := r.store.ExpiredLeases(ctx, q, now, recoverBatch)
	if err != nil || len(exp) == 0 {
		return 0, err
	}
	rs := make([]rdb.Recovery, 0, len(exp))
	kinds := make([]string, 0, len(exp))
	for _, e := range exp {
		rec, kind, ok := r.decide(q, e, now)
		if ok {
			rs = append(rs, rec)
			kinds = append(kinds, kind)
		}
	}
	if len(rs) == 0 {
		return 0, nil
	}
	res, err := r.store.RecoverLeases(ctx, q, now, r.ttl, rs)
	if err != nil {
		return 0, fmt.Errorf("recover %d tasks: %w", len(rs), err)
	}
	n := 0
	for i, v := range res {
		switch v {
		case rdb.RecoveredRequeued:
			n++
			r.log.Info("job's lease expired (its worker lost); back on the queue", "queue", q, "task", rs[i].ID)
		case rdb.RecoveredRecorded:
			n++
			r.log.Warn("job's lease expired; recorded as an exception, not run again", "queue", q, "task", rs[i].ID, "exception", kinds[i])
		case rdb.RecoveredDuplicate:
			n++
			r.log.Info("job's lease expired; its outcome was recorded before, finished", "queue", q, "task", rs[i].ID)
		}
	}
	return n, nil
}

// decide is what to do with an expired task; false: leave it to asynq's
// recoverer (not a reqfleet job, or its message undecodable).
func (r *leaseRecoverer) decide(q string, e rdb.Expired, now time.Time) (rdb.Recovery, string, bool) {
	m, err := rdb.DecodeTaskMessage([]byte(e.Msg))
	if err != nil || m.Type != tasks.TypeRequest {
		return rdb.Recovery{}, "", false
	}
	rec := rdb.Recovery{ID: e.ID, Msg: e.Msg}
	var typ, msg string
	switch {
	case m.Retried > 0 && e.Started == "":
		// Run again after a lost worker, it runs alone and is marked before
		// its request (suspects.go): not marked, it was only held beside
		// what ran, and goes back as it was.
		rec.Requeue = []byte(e.Msg)
		return rec, "", true
	case m.Retried >= m.Retry:
		typ = tasks.WorkerLost
		msg = "the job's worker was lost before it recorded an outcome (" + rdb.LeaseExpiredMsg + ", after " + strconv.Itoa(m.Retried) + " asynq retries)"
	case m.Retried+1 >= r.maxCrashes:
		typ = tasks.WorkerCrashed
		msg = "the job's worker was lost while holding it " + strconv.Itoa(m.Retried+1) + " times (" + rdb.LeaseExpiredMsg + "); not run again"
	default:
		rec.Requeue = m.WithLeaseExpired(now)
		return rec, "", true
	}
	t, err := tasks.DecodeTask(m.Payload)
	if err != nil {
		// Not a job: requeued, the fetcher archives it and the sweeper
		// records it as InvalidJob.
		rec.Requeue = m.WithLeaseExpired(now)
		return rec, "", true
	}
	line, err := json.Marshal(&tasks.Exception{
		ID: t.Job.ID, Batch: t.Batch, Request: t.Job,
		Exception: tasks.ExceptionInfo{Type: typ, Message: msg},
		Attempt:   t.Attempt, Worker: r.worker, FinishedAt: now,
	})
	if err != nil {
		return rdb.Recovery{}, "", false
	}
	rec.Record = rdb.Record{Queue: q, Batch: t.Batch, Member: t.OutcomeKey(), Line: line, Exception: true, TaskID: e.ID, UniqueKey: m.UniqueKey,
		Detail: rdb.ExcField(typ), Host: hostOf(t.Job.URL)}
	return rec, typ, true
}
