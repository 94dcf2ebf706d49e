package worker

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/startstop"
	"github.com/reqfleet/reqfleet/internal/testkit"
)

// The releaser hands parked jobs back as their host's limit allows. Every
// worker runs one; it reads each queue's parked set (rdb.DueParked: one
// call a queue, and it sleeps until the soonest due host, at most
// releaseIdle), and for a host due:
//
//  1. takes the queue+host release lock (a short lease: ParkClaim, which
//     lists the oldest parked ids), so that one releaser at a time works
//     on a host's park in a queue; the others' claims fail, one call each;
//  2. asks the host for a slot for each (rdb.HostAdmit, leased for
//     2*Lease: a job admitted but not taken by then frees it), and keeps
//     as many as the rate has tokens now (a peek: each job takes its
//     token when it starts, admit.go);
//  3. moves the ids admitted back to the head of the pending list (any
//     worker takes them next, its admission finding their slot held),
//     gives the extra slots up, sets when the host is due next (the
//     rate's RetryAfter, the pause's end, the first slot lease to end, or
//     now when more wait), and gives the lock up (ParkRelease, one script).
//
// A releaser that dies holding the lock loses it within releaseLock; the
// jobs stay parked, in Redis, for the next; the slots it took expire with
// their leases.

// Timings of the releaser.
const (
	releaseIdle  = time.Second     // the longest a releaser sleeps
	releaseLock  = 2 * time.Second // the release lock's lease
	releaseBatch = 64              // the most jobs a release moves
	releaseHosts = 32              // the most hosts a queue's round looks at
)

type releaser struct {
	a      *admitter
	store  *rdb.Client
	queues []string
	token  string
	lease  time.Duration // a released job's slot: 2*lease
	now    func() time.Time
	log    *slog.Logger

	nudge chan struct{} // the fetcher's: jobs were released, take them now

	life   startstop.Base
	rounds testkit.Signal[int] // tests: a round is done, with how many jobs it released
}

func newReleaser(a *admitter, store *rdb.Client, queues map[string]int, lease time.Duration, now func() time.Time, log *slog.Logger) *releaser {
	qs := make([]string, 0, len(queues))
	for q := range queues {
		qs = append(qs, q)
	}
	slices.Sort(qs)
	return &releaser{a: a, store: store, queues: qs, token: uuid.NewString(), lease: lease, now: now,
		log: log.With("component", "releaser"), nudge: make(chan struct{}, 1)}
}

// Start releases until Stop or ctx ends.
func (r *releaser) Start(ctx context.Context) error {
	return r.life.Start(ctx, func(ctx context.Context) {
		for {
			n, next := r.round(ctx)
			r.rounds.Signal(n)
			wait := max(next.Sub(r.now()), 0)
			if wait == 0 {
				if ctx.Err() != nil {
					return
				}
				continue
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-r.a.wake:
				t.Stop()
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
	})
}

// Stop ends the releaser, bounded by ctx.
func (r *releaser) Stop(ctx context.Context) error { return r.life.Stop(ctx) }

// round releases what is due in every queue; it returns how many jobs it
// released and when it should look again.
func (r *releaser) round(ctx context.Context) (int, time.Time) {
	now := r.now()
	next := now.Add(releaseIdle)
	released := 0
	for _, q := range r.queues {
		if ctx.Err() != nil {
			return released, now
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		due, err := r.store.DueParked(cctx, q, releaseHosts)
		cancel()
		if err != nil {
			r.log.Warn("reading the parked hosts failed", "queue", q, "err", err)
			continue
		}
		for _, d := range due {
			r.a.setParkMode(q+" "+d.Key, r.now())
			at := d.At
			if !at.After(now) {
				var n int
				n, at = r.release(ctx, q, d.Key)
				released += n
			}
			next = earliest(next, at)
		}
	}
	return released, next
}

// release releases host key's parked jobs of queue as its limit allows:
// how many, and when the host is due next (as far as this releaser knows).
func (r *releaser) release(ctx context.Context, queue, key string) (int, time.Time) {
	ctx, cancel := context.WithTimeout(ctx, releaseLock)
	defer cancel()
	now := r.now()
	retryLater := now.Add(releaseLock)      // another releaser holds it, or a call failed
	_, l, _ := r.a.table.Load().Lookup(key) // a key looks itself up; gone: no limit, only a pause
	if r.a.auto.applies(l) {
		l = r.a.auto.effective(ctx, key, l)
	}
	n := releaseBatch
	if rl := l.RateLimit(); rl.Rate > 0 {
		n = min(n, rl.Burst) // GCRA lets a burst through at once, at most
	}
	ids, ok, err := r.store.ParkClaim(ctx, queue, key, r.token, releaseLock, n)
	if err != nil {
		r.log.Warn("claiming parked jobs failed", "queue", queue, "host", key, "err", err)
		return 0, retryLater
	}
	if !ok {
		return 0, retryLater
	}
	members := make([]string, len(ids))
	for i, id := range ids {
		members[i] = rdb.SlotMember(queue, id)
	}
	adm, err := r.store.HostAdmit(ctx, key, members, l.Concurrency, false, now.Add(2*r.lease), now)
	if err != nil {
		r.log.Warn("admitting parked jobs failed", "queue", queue, "host", key, "err", err)
		return 0, retryLater // the lock expires
	}
	next := now
	// The ids with a slot (taken now, or held from a round cut short), in
	// order; as many go as the rate has tokens now. The tokens themselves
	// are taken when each job starts (admit.go), so that the limit holds
	// when requests start, not when jobs are released.
	var got []string
	for i, c := range adm.Codes {
		if c != rdb.AdmitRefused {
			got = append(got, ids[i])
		}
	}
	out := got
	if rl := l.RateLimit(); rl.Rate > 0 && len(got) > 0 {
		avail, wait, err := r.a.rate.Peek(ctx, key, rl)
		if err != nil {
			r.log.Warn("reading the rate's tokens failed", "queue", queue, "host", key, "err", err)
			wait = rl.Period / time.Duration(rl.Rate)
		}
		if avail < len(got) {
			next = now.Add(rl.Period / time.Duration(rl.Rate))
			if avail == 0 {
				next = now.Add(max(wait, time.Millisecond))
			}
			out = got[:avail]
			extra := make([]string, 0, len(got)-avail)
			for _, id := range got[avail:] {
				extra = append(extra, rdb.SlotMember(queue, id))
			}
			if err := r.store.ReleaseSlots(ctx, key, extra...); err != nil {
				r.log.Warn("giving extra slots up failed; their leases end them", "host", key, "err", err)
			}
		}
	}
	switch {
	case !adm.PausedUntil.IsZero():
		next = adm.PausedUntil
	case !adm.FirstSlotEnd.IsZero():
		next = latest(next, earliest(adm.FirstSlotEnd, now.Add(r.lease)))
	case len(ids) == n && next.Equal(now) && n < releaseBatch:
		// All admitted, at most a burst: the next are due once the rate
		// allows another.
		next = now.Add(l.RateLimit().Period / time.Duration(max(l.RateLimit().Rate, 1)))
	}
	moved, err := r.store.ParkRelease(ctx, queue, key, r.token, out, next, r.now())
	if err != nil {
		r.log.Warn("releasing parked jobs failed; they stay parked", "queue", queue, "host", key, "err", err)
		return 0, retryLater
	}
	if moved > 0 {
		// This worker takes them at once (another may first): a released
		// job starts within a fetch of its token.
		select {
		case r.nudge <- struct{}{}:
		default:
		}
	}
	return moved, next
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
