package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/startstop"
	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/tasks"
)

// The fetcher runs jobs without asynq's processor, which takes one task a
// Redis call and finishes it with another: it takes up to FetchBatch tasks
// in one call and finishes each in the call that records its outcome
// (internal/rdb's RecordMany), so a job costs Redis a fraction of a call
// instead of two. It keeps asynq v0.26.0's layout and rules (internal/rdb:
// its scripts fetch, requeue, archive, recorded_before), so that
// asynq's servers, Inspector and asynqmon see the same queues:
//
//   - a task taken moves from the pending list to the active list under a
//     lease in the lease set (Config.Lease, 5s; asynq's is 30s), as
//     dequeueCmd; a paused queue is skipped;
//   - every Config.LeaseRenew (1s) the leases of the tasks held are
//     extended, as asynq's heartbeater (every 5s); a worker that dies stops
//     extending them, and the lease recoverer of every worker (recover.go)
//     requeues its tasks within a second or so of their lease's end;
//     asynq's recoverer (in the asynq server each worker still runs) is the
//     safety net;
//   - fencing: the fetcher knows until when each lease it holds is valid
//     (the expiry it last set, by a call answered before the lease it
//     replaced ended), and starts a job's request only while more than
//     Lease/5 of it is left: a worker cut off from Redis stops starting
//     requests for its jobs before another worker can recover them; such a
//     job is let go without being sent;
//   - a task whose payload is not a job is archived as asynq does with
//     SkipRetry (the sweeper then records it, archive.go);
//   - at shutdown, tasks taken but not started, and those still running when
//     ShutdownTimeout ends, go back to the head of the pending list, as
//     asynq's requeue;
//   - a task whose context ends (asynq's task timeout or deadline), or whose
//     outcome cannot be recorded, is let go: its lease runs out and the
//     recoverer retries it, the record's dedupe keeping one outcome; a task
//     so retried whose outcome was recorded after all is finished without
//     sending its request again.
//
// Tasks with a retention are finished without one: reqfleet's outcome is in
// its lists. internal/rdb's tests and fetch_test.go check all of it
// against asynq.

// DefaultFetchBatch is Config.FetchBatch's default.
const DefaultFetchBatch = 32

// fetchedTask is a task the fetcher holds.
type fetchedTask struct {
	queue string
	msg   rdb.TaskMessage
	seq   uint64 // the order taken (the fetch loop's count)
}

// fetcherConfig is what the fetcher takes from the worker's Config.
type fetcherConfig struct {
	queues      map[string]int
	strict      bool
	concurrency int            // sessions: jobs sending their request at once (runners: twice that)
	batch       int            // most tasks a Redis call
	prefetch    int            // most tasks held beyond the sessions, waiting for one
	minPrefetch int            // fewest, when the prefetch follows the rate (< prefetch)
	interval    time.Duration  // idle poll
	shutdown    time.Duration  // ShutdownTimeout
	identity    serverIdentity // in asynq's server list
	beat        time.Duration  // how often the server entry is written [stateWriteEvery]
	extendEvery time.Duration  // how often the leases are extended [rdb.LeaseExtendEvery]
	lease       time.Duration  // a lease's length [rdb.LeaseDuration]
	margin      time.Duration  // lease left below which a request is not started [lease/5]
	now         func() time.Time
	log         *slog.Logger
}

// PrefetchWindow is how much work a worker holds ahead by default: the
// jobs its sessions finish in that time (Config.Prefetch).
const PrefetchWindow = 10 * time.Millisecond

// prefetchEvery is how often the finishing rate is measured again.
const prefetchEvery = 100 * time.Millisecond

// withPrefetch sets the prefetch from Config.Prefetch: none (negative), a
// fixed one (positive), or (0) one that follows the rate between a quarter
// of the sessions and all of them, at most a batch.
func (c fetcherConfig) withPrefetch(p int) fetcherConfig {
	switch {
	case p < 0:
		c.prefetch, c.minPrefetch = 0, 0
	case p > 0:
		c.prefetch, c.minPrefetch = p, p
	default:
		c.prefetch, c.minPrefetch = min(c.concurrency, c.batch), min(c.concurrency/4, c.batch)
	}
	return c
}

// fetcher takes tasks, many a call, and runs them on runners: twice
// concurrency, so that while a runner records its job's outcome another
// sends the next request on the session it gave back. Slots (one per
// session) bound the jobs sending their requests to concurrency. Credits
// bound the tasks held before their requests are over (waiting for a
// runner or a slot, or sending) to concurrency + prefetch: a job gives its
// credit back once its request is over, before its outcome is recorded, so
// that outcomes being recorded do not hold back the next fetch; they are at
// most concurrency more, one per runner without a slot. With a prefetch, a
// call is made once half a batch of credits (or the prefetch, if fewer) is
// free, or sooner when the runners have nothing left waiting, so that they
// rarely wait for a call and calls take several tasks; without one, as
// soon as a request is over. A prefetch that follows the rate keeps the
// credits it does not allow now parked with the loop.
type fetcher struct {
	cfg   fetcherConfig
	rdb   redis.UniversalClient
	store *rdb.Client // rdb, for reqfleet's scripts
	exec  execFunc
	admit *admitter     // per-host limits (admit.go)
	nudge chan struct{} // the releaser moved jobs to pending: poll now (release.go); nil: none

	credits chan struct{}
	slots   chan struct{} // one per session: taken by a job before it starts
	jobs    chan fetchedTask
	quit    chan struct{} // closed: take no more tasks
	abort   context.Context
	cancel  context.CancelFunc // ends the jobs in flight
	rng     *rand.Rand         // the fetch loop's only

	// alone: a job run again after a lost worker (a suspect: it may be what
	// kills workers) holds it locked, any other job read-locked, each from
	// its admission until its outcome is recorded: a suspect runs with no
	// other job running or waiting for its record, so that if its worker is
	// lost again, no other job was running with it (suspects.go).
	alone     sync.RWMutex
	aloneWait testkit.Signal[string] // tests: a suspect waits to run alone, with its task id

	finished atomic.Int64 // jobs whose credits were given back
	// The fetch loop's only: credits held back from the prefetch, and the
	// finishing rate measured last (jobs/s) and since when.
	parked  int
	taken   uint64 // tasks taken: the seq of the last
	rate    float64
	rateAt  time.Time
	rateFin int64

	life    startstop.Base
	wg      sync.WaitGroup // the fetch loop and the runners
	beat    sync.WaitGroup // the heartbeat (leases, server entry)
	stateMu sync.Mutex     // one server entry write at a time: the last snapshot taken is the last written

	mu       sync.Mutex
	held     map[string]map[string]*runningTask // queue -> id -> the tasks whose leases to extend (start set: running)
	leftover []fetchedTask                      // to requeue at shutdown
}

// execFunc runs task t of queue, a fetched task (a), from start: it sends
// the request, calls sent once the request is over (its session free for
// the next job) and records the outcome.
type execFunc func(ctx context.Context, queue string, t tasks.Task, start time.Time, a *ack, sent func()) error

func newFetcher(cfg fetcherConfig, client redis.UniversalClient, exec execFunc) *fetcher {
	abort, cancel := context.WithCancel(context.Background())
	cfg.lease = cmp.Or(cfg.lease, rdb.LeaseDuration)
	cfg.extendEvery = cmp.Or(cfg.extendEvery, rdb.LeaseExtendEvery)
	cfg.margin = cmp.Or(cfg.margin, cfg.lease/5)
	f := &fetcher{
		cfg: cfg, rdb: client, store: rdb.New(client), exec: exec,
		credits: make(chan struct{}, cfg.concurrency+cfg.prefetch),
		slots:   make(chan struct{}, cfg.concurrency),
		jobs:    make(chan fetchedTask, cfg.concurrency+cfg.prefetch),
		quit:    make(chan struct{}),
		abort:   abort, cancel: cancel,
		rng:  rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		held: make(map[string]map[string]*runningTask),
	}
	for range cap(f.credits) {
		f.credits <- struct{}{}
	}
	for range cap(f.slots) {
		f.slots <- struct{}{}
	}
	return f
}

// Start takes and runs tasks until Stop, or until ctx ends, which
// shut it down as Stop says.
func (f *fetcher) Start(ctx context.Context) error {
	return f.life.Start(ctx, func(ctx context.Context) {
		f.wg.Go(f.loop)
		for range 2 * f.cfg.concurrency {
			f.wg.Go(f.runner)
		}
		f.beat.Go(f.heartbeat)
		<-ctx.Done()
		f.shutdown()
	})
}

// Stop takes no more tasks, gives the jobs in flight until the shutdown
// timeout to finish, then cancels them, and puts every task taken but not
// finished back on its queue. It is bounded by ctx: when ctx ends first,
// the jobs in flight are cancelled at once and Stop returns ctx's error,
// the rest of the shutdown (the requeue, the server entry) going on in the
// background; Stop may be called again to wait for it.
func (f *fetcher) Stop(ctx context.Context) error {
	err := f.life.Stop(ctx)
	if err != nil {
		f.cancel()
	}
	return err
}

func (f *fetcher) shutdown() {
	close(f.quit)
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	timer := time.NewTimer(f.cfg.shutdown)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
	case <-f.abort.Done(): // Stop's ctx ended
	}
	f.cancel()
	<-done
	f.requeueLeftovers()
	f.beat.Wait()
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.cfg.identity.clearServerState(cctx, f.rdb); err != nil {
		f.cfg.log.Warn("clearing the worker's entry in asynq's server list failed; it expires", "err", err)
	}
}

// loop takes credits, then tasks, until quit.
func (f *fetcher) loop() {
	defer close(f.jobs)
	errDelay := 100 * time.Millisecond
	idle := f.cfg.interval // the next empty poll's wait
	for {
		n := f.takeCredits()
		if n == 0 {
			return
		}
		got, err := f.fetch(n)
		for range n - got {
			f.credits <- struct{}{}
		}
		var wait time.Duration
		switch {
		case err != nil:
			f.cfg.log.Warn("taking jobs failed", "err", err)
			wait, errDelay = errDelay, min(2*errDelay, 5*time.Second)
		case got == 0:
			// Just emptied: poll again soon, then less and less often, up
			// to every half to one and a half of the interval, so that a
			// steady trickle of jobs waits little and an idle worker costs
			// Redis little.
			errDelay = 100 * time.Millisecond
			if idle < f.cfg.interval {
				wait, idle = idle, 2*idle
			} else {
				wait = f.cfg.interval/2 + time.Duration(f.rng.Int64N(int64(f.cfg.interval)+1))
			}
		default:
			errDelay, idle = 100*time.Millisecond, time.Millisecond
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-f.nudge:
				t.Stop()
			case <-f.quit:
				t.Stop()
				return
			}
		}
	}
}

// takeCredits waits for a call's worth of credits (see fetcher), then takes
// whatever else is free, up to a batch. 0: quit.
func (f *fetcher) takeCredits() int {
	p := f.prefetchNow()
	n := 0
	// The credits of the prefetch not allowed now stay parked; those
	// allowed again are taken at once.
	if hold := f.cfg.prefetch - p; f.parked > hold {
		n, f.parked = f.parked-hold, hold
	} else {
		f.parked += f.takeFree(hold - f.parked)
	}
	enough := max(min((f.cfg.batch+1)/2, p), 1)
	for n < f.cfg.batch {
		if n > 0 && (n >= enough || len(f.jobs) == 0) {
			return n + f.takeFree(f.cfg.batch-n)
		}
		select {
		case <-f.quit:
			for range n {
				f.credits <- struct{}{}
			}
			return 0
		default:
		}
		select {
		case <-f.credits:
			n++
		case <-f.quit:
			for range n {
				f.credits <- struct{}{}
			}
			return 0
		}
	}
	return n
}

// prefetchNow is the prefetch allowed now: fixed, or the jobs the runners
// finish in PrefetchWindow at the rate measured over the last
// prefetchEvery or more, between minPrefetch and prefetch.
func (f *fetcher) prefetchNow() int {
	if f.cfg.minPrefetch >= f.cfg.prefetch {
		return f.cfg.prefetch
	}
	now := f.cfg.now()
	if el := now.Sub(f.rateAt); el >= prefetchEvery {
		fin := f.finished.Load()
		if !f.rateAt.IsZero() {
			f.rate = float64(fin-f.rateFin) / el.Seconds()
		}
		f.rateAt, f.rateFin = now, fin
	}
	return max(min(int(f.rate*PrefetchWindow.Seconds()), f.cfg.prefetch), f.cfg.minPrefetch)
}

// takeFree takes up to most credits without waiting.
func (f *fetcher) takeFree(most int) int {
	for n := 0; n < most; n++ {
		select {
		case <-f.credits:
		default:
			return n
		}
	}
	return most
}

// queueOrder is the order to try the queues in: by priority with
// StrictPriority, else a random order weighted by priority, as asynq's.
func (f *fetcher) queueOrder() []string {
	qs := make([]string, 0, len(f.cfg.queues))
	for q := range f.cfg.queues {
		qs = append(qs, q)
	}
	slices.Sort(qs)
	if len(qs) == 1 {
		return qs
	}
	if f.cfg.strict {
		slices.SortStableFunc(qs, func(a, b string) int { return f.cfg.queues[b] - f.cfg.queues[a] })
		return qs
	}
	// Draw without replacement, each queue with its priority's weight.
	out := make([]string, 0, len(qs))
	for len(qs) > 0 {
		total := 0
		for _, q := range qs {
			total += f.cfg.queues[q]
		}
		r := f.rng.IntN(total)
		for i, q := range qs {
			if r -= f.cfg.queues[q]; r < 0 {
				out = append(out, q)
				qs = slices.Delete(qs, i, i+1)
				break
			}
		}
	}
	return out
}

// fetch takes up to n tasks from the queues in order and hands them to the
// runners; it returns how many.
func (f *fetcher) fetch(n int) (int, error) {
	got := 0
	for _, q := range f.queueOrder() {
		if got == n {
			break
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		expiry := f.cfg.now().Add(f.cfg.lease)
		msgs, err := f.store.Fetch(ctx, q, expiry, n-got)
		cancel()
		if err != nil {
			// Tasks the call took are active under a lease nobody extends:
			// the recoverer retries them, as after a worker's crash.
			return got, fmt.Errorf("queue %s: %w", q, err)
		}
		for _, raw := range msgs {
			m, err := rdb.DecodeTaskMessage([]byte(raw))
			if err != nil {
				// Not asynq's message: nothing can finish it (asynq would
				// fail as well); its lease runs out and asynq's recoverer
				// deals with it.
				f.cfg.log.Error("task message undecodable, left to asynq's recoverer", "queue", q, "err", err)
				continue
			}
			f.hold(q, &m, leaseEnd(expiry))
			f.taken++
			f.jobs <- fetchedTask{queue: q, msg: m, seq: f.taken}
			got++
		}
	}
	return got, nil
}

// leaseEnd is when a lease set to expiry ends: its score is whole
// seconds, and the recoverer takes it once that is past.
func leaseEnd(expiry time.Time) time.Time { return time.Unix(expiry.Unix(), 0) }

func (f *fetcher) hold(q string, m *rdb.TaskMessage, validUntil time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := f.held[q]
	if ids == nil {
		ids = make(map[string]*runningTask)
		f.held[q] = ids
	}
	ids[m.ID] = &runningTask{queue: q, msg: m, validUntil: validUntil}
}

// running marks a held task as running, for the server list.
func (f *fetcher) running(q, id string, start, deadline time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.held[q][id]; r != nil {
		r.start, r.deadline = start, deadline
	}
}

// leaseLeft is how long the task's lease is known to hold; 0 when it is
// not held or may be lost.
func (f *fetcher) leaseLeft(q, id string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.held[q][id]
	if r == nil || r.lost {
		return 0
	}
	return max(r.validUntil.Sub(f.cfg.now()), 0)
}

// renewed raises the leases of ids, set to end at validUntil by a call
// answered at answered: a lease that had ended by then may have been
// recovered by another worker (the call may have extended the other
// worker's), so it is lost for good.
func (f *fetcher) renewed(q string, ids []string, validUntil, answered time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		r := f.held[q][id]
		switch {
		case r == nil || r.lost:
		case !answered.Before(r.validUntil):
			r.lost = true
		case validUntil.After(r.validUntil):
			r.validUntil = validUntil
		}
	}
}

// release stops extending the task's lease.
func (f *fetcher) release(q, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.held[q], id)
}

func (f *fetcher) runner() {
	for j := range f.jobs {
		f.run(j)
	}
}

// run runs one task and finishes it. It gives the task's credit back, and
// its slot if it took one, once its request is over or, at the latest,
// when it returns.
func (f *fetcher) run(j fetchedTask) {
	slot, credit := false, true
	sent := func() {
		if slot {
			slot = false
			f.slots <- struct{}{}
		}
		if credit { // the fetch loop may take another
			credit = false
			f.finished.Add(1)
			f.credits <- struct{}{}
		}
	}
	defer sent()
	select {
	case <-f.quit:
		f.giveBack(j) // taken, not started
		return
	default:
	}
	start := time.Now()
	if j.msg.Type != tasks.TypeRequest {
		f.archive(j, fmt.Sprintf("handler not found for task %q", j.msg.Type))
		return
	}
	t, err := tasks.DecodeTask(j.msg.Payload)
	if err != nil {
		f.archive(j, err.Error())
		return
	}
	suspect := j.msg.Retried > 0
	if suspect && f.recordedBefore(j, t) {
		return
	}
	// A session's slot before the lease check and the per-host admission,
	// so that a job waiting for one holds no host's slot.
	select {
	case <-f.slots:
		slot = true
	case <-f.quit:
		f.giveBack(j) // taken, not started
		return
	}
	if left := f.leaseLeft(j.queue, j.msg.ID); left <= f.cfg.margin {
		// Fenced: its lease could not be renewed (Redis away) and may soon
		// be another worker's; not sent, let go to the lease recoverer.
		f.cfg.log.Warn("job's lease about to end, not renewed; not started, let go to recovery", "queue", j.queue, "task", j.msg.ID, "lease_left", left)
		f.release(j.queue, j.msg.ID)
		return
	}
	ad, ok := f.admitJob(j, t) // per-host limits: parked, its runner free (admit.go)
	if !ok {
		return
	}
	defer ad.leave()
	// Admitted, so that a suspect waiting for its host holds no other job
	// up; until its outcome is recorded.
	if suspect {
		f.aloneWait.Signal(j.msg.ID)
		f.alone.Lock()
		defer f.alone.Unlock()
	} else {
		f.alone.RLock()
		defer f.alone.RUnlock()
	}
	select {
	case <-f.quit: // it waited for a suspect, or for the jobs beside one
		f.giveBack(j)
		return
	default:
	}
	if suspect && !f.markStarted(j) {
		return
	}
	ctx := f.abort
	dl := j.msg.ContextDeadline(f.cfg.now())
	if !dl.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl)
		defer cancel()
	}
	f.running(j.queue, j.msg.ID, start, dl)
	err = f.exec(ctx, j.queue, t, start, &ack{id: j.msg.ID, uniqueKey: j.msg.UniqueKey, msg: &j.msg, throttled: ad.waited()}, sent)
	switch {
	case err == nil:
		f.release(j.queue, j.msg.ID)
	case f.abort.Err() != nil:
		f.giveBack(j) // shutting down
	default:
		// Its deadline passed, or its outcome could not be recorded: its
		// lease runs out and asynq's recoverer retries it.
		f.cfg.log.Warn("job let go to asynq's recoverer", "queue", j.queue, "task", j.msg.ID, "err", err)
		f.release(j.queue, j.msg.ID)
	}
}

// recordedBefore finishes a task that asynq runs again (its worker was
// lost) if that worker had recorded its outcome, so that its request is
// not sent twice. On an error it says no: the task runs, and the record's
// dedupe keeps one outcome.
func (f *fetcher) recordedBefore(j fetchedTask, t tasks.Task) bool {
	q, now := j.queue, f.cfg.now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	before, err := f.store.RecordedBefore(ctx, q, t.Batch, t.OutcomeKey(), j.msg.ID, j.msg.UniqueKey, now)
	if err != nil {
		f.cfg.log.Warn("checking a rerun job's outcome failed; running it", "queue", q, "task", j.msg.ID, "err", err)
		return false
	}
	if before {
		f.release(q, j.msg.ID)
		f.cfg.log.Info("outcome recorded before its worker was lost; not sent again", "queue", q, "batch", t.Batch, "id", t.Job.ID, "attempt", t.Attempt)
		return true
	}
	return false
}

// giveBack keeps the task for the requeue at shutdown.
func (f *fetcher) giveBack(j fetchedTask) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.leftover = append(f.leftover, j)
}

// requeueLeftovers puts the tasks given back on the head of their queues.
// If Redis is away they stay active, and their leases run out.
func (f *fetcher) requeueLeftovers() {
	f.mu.Lock()
	// RPUSH puts a task where the next is taken: the last taken goes
	// first, so that the first taken is taken first again. (Runners give
	// tasks back in any order: one waiting for a session at once, one
	// running when it is cancelled.)
	slices.SortFunc(f.leftover, func(a, b fetchedTask) int { return cmp.Compare(a.seq, b.seq) })
	byQueue := map[string][]string{}
	for _, j := range slices.Backward(f.leftover) {
		byQueue[j.queue] = append(byQueue[j.queue], j.msg.ID)
		delete(f.held[j.queue], j.msg.ID)
	}
	f.leftover = nil
	f.mu.Unlock()
	for q, ids := range byQueue {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := f.store.Requeue(ctx, q, ids)
		cancel()
		if err != nil {
			f.cfg.log.Warn("putting unfinished jobs back failed; asynq's recoverer will", "queue", q, "jobs", len(ids), "err", err)
		}
	}
}

// archive does what asynq does with a task whose handler returns SkipRetry.
func (f *fetcher) archive(j fetchedTask, reason string) {
	defer f.release(j.queue, j.msg.ID)
	q, now := j.queue, f.cfg.now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := f.store.Archive(ctx, q, j.msg, reason, now) // a task no longer active is left alone
	if err != nil {
		f.cfg.log.Warn("archiving a task failed; asynq's recoverer will retry it", "queue", q, "task", j.msg.ID, "err", err)
		return
	}
	f.cfg.log.Error("task archived", "queue", q, "task", j.msg.ID, "reason", reason)
}

// heartbeat writes the fetcher's entry in asynq's server list at once and
// every second (asynq's servers: every 5s; `reqfleet stats` shows the jobs
// running a second late at most), and, on a loop of its own (a slow state
// write does not hold the renewals up), extends the leases of the tasks
// held every extendEvery, until the fetch loop and the runners are done.
func (f *fetcher) heartbeat() {
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	f.beat.Go(func() { every(f.cfg.extendEvery, done, f.extendOnce) })
	f.writeState()
	every(cmp.Or(f.cfg.beat, stateWriteEvery), done, f.writeState)
}

// every runs fn every d until done.
func every(d time.Duration, done <-chan struct{}, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			fn()
		case <-done:
			return
		}
	}
}

// stateWriteEvery is how often the fetcher's server entry is written.
const stateWriteEvery = time.Second

func (f *fetcher) writeState() {
	f.stateMu.Lock()
	defer f.stateMu.Unlock()
	f.mu.Lock()
	var running []runningTask
	for _, ids := range f.held {
		for _, r := range ids {
			if !r.start.IsZero() {
				running = append(running, *r)
			}
		}
	}
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.cfg.identity.writeServerState(ctx, f.rdb, f.cfg.now(), "active", running); err != nil {
		f.cfg.log.Warn("writing the worker's entry in asynq's server list failed", "err", err)
	}
}

func (f *fetcher) extendOnce() {
	if f.admit != nil {
		f.admit.renew() // the host slots held, one call (admit.go)
	}
	f.mu.Lock()
	byQueue := make(map[string][]string, len(f.held))
	for q, ids := range f.held {
		for id, r := range ids {
			if !r.lost { // a lost lease may be another worker's now: not extended
				byQueue[q] = append(byQueue[q], id)
			}
		}
	}
	f.mu.Unlock()
	for q, ids := range byQueue {
		expiry := f.cfg.now().Add(f.cfg.lease)
		ctx, cancel := context.WithTimeout(context.Background(), f.cfg.lease)
		err := f.store.ExtendLeases(ctx, q, ids, expiry)
		cancel()
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				f.cfg.log.Warn("extending job leases failed", "queue", q, "jobs", len(ids), "err", err)
			}
			continue
		}
		f.renewed(q, ids, leaseEnd(expiry), f.cfg.now())
	}
}
