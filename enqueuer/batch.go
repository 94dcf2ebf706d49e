package enqueuer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
	"github.com/google/uuid"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/tasks"
)

// batchIDLayout is the time part of a batch id, UTC to the second.
const batchIDLayout = "20060102T150405"

// Batch is a set of jobs enqueued together, counted in the batch hash. Its
// methods are safe for concurrent use; Seal waits for Add and AddMany calls
// in progress, and refuses those that come after it.
type Batch struct {
	e   *Enqueuer
	id  string
	key string

	// Add and AddMany hold sealMu for reading while they run, Seal for
	// writing: the total it writes is then every job accepted.
	sealMu      sync.RWMutex
	sealing     bool // no more jobs
	sealedRedis bool // Seal's write succeeded

	idsMu sync.Mutex
	ids   idSet // xxhash of the user-supplied ids

	accepted  atomic.Int64 // jobs enqueued
	sent      atomic.Int64 // jobs sent to Redis, accepted or not
	pending   atomic.Int64 // of which not yet added to the hash's accepted
	flushMu   sync.Mutex
	lastFlush atomic.Int64 // unix ns of the last HINCRBY accepted
}

// NewBatch creates an empty batch with a new id, time-sortable and readable:
// 20261125T201300-1f2e3d4c (UTC, and 32 random bits). Its hash gets the
// created time and accepted = 0, and expires after BatchTTL even if never
// sealed; the id is added to the queue's batches set, scored by created.
func (e *Enqueuer) NewBatch(ctx context.Context) (*Batch, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	for range 5 { // ids clash only with the same second and 32 random bits; then take another
		now := e.cfg.Now()
		var rnd [4 + 8]byte // the id's random part, then the creator's token
		if _, err := rand.Read(rnd[:]); err != nil {
			return nil, fmt.Errorf("new batch id: %w", err)
		}
		id := now.UTC().Format(batchIDLayout) + "-" + hex.EncodeToString(rnd[:4])
		token := hex.EncodeToString(rnd[4:])
		key := rdb.BatchKey(e.cfg.Queue, id)
		var created bool
		lease := e.cfg.BatchLease
		if e.fast == nil {
			lease = 0 // asynq's Client queues jobs uncounted: see Config.BatchLease
		}
		err := e.withRetry(ctx, "create batch", func() error {
			var err error
			created, err = e.store.NewBatch(ctx, e.cfg.Queue, id, token, now, e.cfg.BatchTTL, lease)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrEnqueue, err)
		}
		if created {
			b := &Batch{e: e, id: id, key: key}
			b.lastFlush.Store(now.UnixNano())
			if lease > 0 {
				e.leases.hold(e, id)
			}
			e.log.LogAttrs(ctx, slog.LevelDebug, "batch created", slog.String("batch", id))
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w: no free batch id", ErrEnqueue)
}

// ID is the batch id.
func (b *Batch) ID() string { return b.id }

// Accepted is how many jobs the batch has accepted (enqueued) so far.
func (b *Batch) Accepted() int { return int(b.accepted.Load()) }

// Add enqueues one job and returns its task. An empty job.ID gets a UUID;
// an id already used in this batch is refused (ErrDuplicateID), and so is a
// job the worker would refuse (ErrInvalidJob). An empty method is GET.
func (b *Batch) Add(ctx context.Context, job tasks.Job) (tasks.Task, error) {
	if err := b.e.checkOpen(); err != nil {
		return tasks.Task{}, err
	}
	b.sealMu.RLock()
	defer b.sealMu.RUnlock()
	if b.sealing {
		return tasks.Task{}, fmt.Errorf("batch %s: %w", b.id, ErrSealed)
	}
	t, payload, err := b.build(job)
	if err == nil {
		err = b.claim(job.ID)
	}
	if err != nil {
		return tasks.Task{}, fmt.Errorf("batch %s: %w", b.id, err)
	}
	b.sent.Add(1)
	if err := b.send(ctx, t, payload); err != nil {
		b.forget(t.Job.ID, job.ID != "")
		return tasks.Task{}, b.enqueueErr(0, err)
	}
	b.noteAccepted(ctx)
	return t, nil
}

// build gives the job its id and method and checks it as the worker will.
// It returns the task as the worker will read it, and its payload.
func (b *Batch) build(job tasks.Job) (tasks.Task, []byte, error) {
	if job.ID == "" {
		job.ID = uuid.NewString()
	}
	if job.Method == "" {
		job.Method = "GET"
	}
	payload, err := tasks.Task{Batch: b.id, Attempt: 1, Job: job}.Marshal()
	if err != nil {
		return tasks.Task{}, nil, fmt.Errorf("%w: %w", ErrInvalidJob, err)
	}
	t, err := tasks.DecodeTask(payload)
	if err != nil {
		return tasks.Task{}, nil, fmt.Errorf("%w: %w", ErrInvalidJob, err)
	}
	return t, payload, nil
}

// claim takes a user-supplied id for the batch, refusing one taken. The
// batch keeps the ids' 64-bit hashes (8 to 16 bytes an id): two different
// ids are taken for one with a chance of about n²/2^65 in a batch of n ids
// (1 in 37 million for a million). Generated ids (UUIDs) are not kept.
func (b *Batch) claim(id string) error {
	if id == "" {
		return nil
	}
	b.idsMu.Lock()
	defer b.idsMu.Unlock()
	if !b.ids.add(xxhash.Sum64String(id)) {
		return fmt.Errorf("id %q: %w", id, ErrDuplicateID)
	}
	return nil
}

// forget releases the id of a job that was not enqueued, so that it may be
// added again.
func (b *Batch) forget(id string, userID bool) {
	if !userID {
		return
	}
	b.idsMu.Lock()
	b.ids.remove(xxhash.Sum64String(id))
	b.idsMu.Unlock()
}

// send enqueues a prepared task. A task id conflict means the task is
// queued already: the batch's ids are unique and its id is new, so only
// this process's own earlier attempt (whose reply was lost) can have put it
// there, and it counts as accepted.
func (b *Batch) send(ctx context.Context, t tasks.Task, payload []byte) error {
	existed, err := b.e.enqueueTask(ctx, t, payload, true)
	if existed {
		b.e.log.LogAttrs(ctx, slog.LevelDebug, "task was already queued",
			slog.String("batch", b.id), slog.String("id", t.Job.ID))
	}
	return err
}

func (b *Batch) enqueueErr(calls int, err error) error {
	if calls > 0 {
		return fmt.Errorf("%w: batch %s: %d jobs accepted by this call, %d in all: %w",
			ErrEnqueue, b.id, calls, b.accepted.Load(), err)
	}
	return fmt.Errorf("%w: batch %s: %d jobs accepted: %w", ErrEnqueue, b.id, b.accepted.Load(), err)
}

// noteAccepted counts a job, adding to the hash's accepted every
// flushEvery jobs or flushInterval at most.
func (b *Batch) noteAccepted(ctx context.Context) {
	b.accepted.Add(1)
	p := b.pending.Add(1)
	if p >= b.e.flushEvery || b.e.cfg.Now().UnixNano()-b.lastFlush.Load() >= int64(b.e.flushInterval) {
		b.flush(ctx, false)
	}
}

// flush adds the pending count to the hash's accepted. Unless wait, it
// leaves the work to a flush already running. A failed flush keeps the
// count pending: accepted is progress only, Seal writes the exact count.
func (b *Batch) flush(ctx context.Context, wait bool) {
	if wait {
		b.flushMu.Lock()
	} else if !b.flushMu.TryLock() {
		return
	}
	defer b.flushMu.Unlock()
	n := b.pending.Swap(0)
	b.lastFlush.Store(b.e.cfg.Now().UnixNano())
	if n == 0 {
		return
	}
	if err := b.e.cfg.Redis.HIncrBy(ctx, b.key, rdb.BatchAccepted, n).Err(); err != nil {
		b.pending.Add(n)
		if ctx.Err() != nil {
			return
		}
		b.e.log.LogAttrs(ctx, slog.LevelWarn, "batch progress not written",
			slog.String("batch", b.id), slog.Any("err", err))
	}
}

// AddMany enqueues the jobs of an iterator, Concurrency at a time, reading
// it as it goes. It stops at the first error of the iterator, or the first
// job that Add would refuse (a *JobError): every job before it is enqueued,
// none after it. It returns how many jobs this call accepted, and with an
// error says why it stopped; a Redis failure wraps ErrEnqueue.
//
// The iterator is read on the calling goroutine, where ids are claimed;
// the workers check and encode the jobs, and enqueue a job once every job
// before it has passed its check.
func (b *Batch) AddMany(ctx context.Context, jobs iter.Seq2[tasks.Job, error]) (int, error) {
	if err := b.e.checkOpen(); err != nil {
		return 0, err
	}
	b.sealMu.RLock()
	defer b.sealMu.RUnlock()
	if b.sealing {
		return 0, fmt.Errorf("batch %s: %w", b.id, ErrSealed)
	}

	type item struct {
		index int
		job   tasks.Job
	}
	wctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var (
		work    = make(chan item, b.e.cfg.Concurrency)
		order   = newGate()
		wg      sync.WaitGroup
		calls   atomic.Int64
		failMu  sync.Mutex
		failErr error
	)
	for range b.e.cfg.Concurrency {
		wg.Go(func() {
			for it := range work {
				t, payload, err := b.build(it.job)
				if err != nil {
					err = &JobError{Index: it.index, ID: it.job.ID, Err: err}
				}
				if !order.pass(it.index, err) || wctx.Err() != nil {
					b.forget(it.job.ID, it.job.ID != "")
					continue
				}
				b.sent.Add(1)
				if err := b.send(wctx, t, payload); err != nil {
					b.forget(it.job.ID, it.job.ID != "")
					failMu.Lock()
					if failErr == nil {
						failErr = err
					}
					failMu.Unlock()
					stop(err)
					continue
				}
				calls.Add(1)
				b.noteAccepted(wctx)
			}
		})
	}

	index := 0
	for job, err := range jobs {
		index++
		if err == nil {
			if err = b.claim(job.ID); err != nil {
				err = &JobError{Index: index, ID: job.ID, Err: err}
			}
		}
		if err != nil {
			order.pass(index, err)
			break
		}
		if wctx.Err() != nil || order.stopped(index) {
			b.forget(job.ID, job.ID != "")
			break
		}
		select {
		case work <- item{index, job}:
			continue
		case <-wctx.Done():
		}
		b.forget(job.ID, job.ID != "")
		break
	}
	close(work)
	wg.Wait()
	if ctx.Err() == nil {
		b.flush(ctx, true)
	}

	n := int(calls.Load())
	inputErr := order.err()
	switch {
	case ctx.Err() != nil:
		return n, fmt.Errorf("batch %s: stopped after %d jobs accepted: %w", b.id, n, context.Cause(ctx))
	case failErr != nil:
		return n, errors.Join(b.enqueueErr(n, failErr), inputErr)
	case inputErr != nil:
		return n, fmt.Errorf("%w; %d jobs before it were enqueued in batch %s", inputErr, n, b.id)
	}
	return n, nil
}

// gate keeps AddMany's promise while its workers check jobs in parallel:
// job k (1-based) passes once jobs 1 to k have passed their checks, and no
// job at or after the first one that failed passes.
type gate struct {
	mu      sync.Mutex
	cond    sync.Cond
	good    map[int]bool // checked good, above prefix
	prefix  int          // jobs 1 to prefix are checked good
	stop    int          // the first job that failed, or MaxInt
	stopErr error
}

func newGate() *gate {
	g := &gate{good: make(map[int]bool), stop: math.MaxInt}
	g.cond.L = &g.mu
	return g
}

// pass records job k's check (err nil when good) and reports whether k may
// be enqueued, waiting for the checks of the jobs before it. Those never
// wait: the work channel hands jobs out in order, so each job before k is
// held by a worker that checks it first.
func (g *gate) pass(k int, err error) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		if k < g.stop {
			g.stop, g.stopErr = k, err
		}
		g.cond.Broadcast()
		return false
	}
	g.good[k] = true
	for g.good[g.prefix+1] {
		delete(g.good, g.prefix+1)
		g.prefix++
	}
	g.cond.Broadcast()
	for g.prefix < k && k < g.stop {
		g.cond.Wait()
	}
	return k < g.stop
}

// stopped reports whether job k will not pass.
func (g *gate) stopped(k int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return k >= g.stop
}

// err is the error of the first job that failed.
func (g *gate) err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stopErr
}

// Seal closes the batch: later jobs are refused, and its hash gets
// total = accepted = the jobs queued (on the fast path the count Redis
// kept as it queued them, which also holds a job whose reply was lost;
// else the jobs accepted), sealed = 1, and expires BatchTTL from now. The batch is complete when its done count reaches total. Seal
// waits for Add and AddMany calls in progress. Sealing again does nothing;
// a failed Seal may be called again. Seal works after the Enqueuer's Close
// (while Config.Redis is open), so that what was accepted is never left
// unsealed.
func (b *Batch) Seal(ctx context.Context) error {
	b.sealMu.Lock()
	defer b.sealMu.Unlock()
	b.sealing = true
	if b.sealedRedis {
		return nil
	}
	n := b.accepted.Load()
	total := n
	err := b.e.withRetry(ctx, "seal batch", func() (err error) {
		total, err = b.e.store.SealBatch(ctx, b.e.cfg.Queue, b.id, n, b.e.fast != nil, b.e.cfg.BatchTTL)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: batch %s not sealed (%d jobs accepted): %w", ErrEnqueue, b.id, n, err)
	}
	b.e.leases.release(b.id)
	b.sealedRedis = true
	b.pending.Store(0)
	if total != n {
		b.e.log.LogAttrs(ctx, slog.LevelWarn, "batch sealed with more jobs queued than accepted (replies lost)",
			slog.String("batch", b.id), slog.Int64("total", total), slog.Int64("accepted", n))
	}
	b.e.log.LogAttrs(ctx, slog.LevelInfo, "batch sealed", slog.String("batch", b.id), slog.Int64("total", total))
	return nil
}

// Enqueue enqueues one job as a batch of its own, sealed.
func (e *Enqueuer) Enqueue(ctx context.Context, job tasks.Job) (tasks.Task, error) {
	b, err := e.NewBatch(ctx)
	if err != nil {
		return tasks.Task{}, err
	}
	t, addErr := b.Add(ctx, job)
	sealErr := b.seal(ctx)
	if addErr != nil || sealErr != nil {
		return tasks.Task{}, errors.Join(addErr, sealErr)
	}
	return t, nil
}

// Receipt is what EnqueueMany enqueued.
type Receipt struct {
	Batch    string `json:"batch"`    // the batch id
	Accepted int    `json:"accepted"` // jobs enqueued: the batch's total
}

// EnqueueMany enqueues the jobs as a new batch (NewBatch, AddMany, Seal).
// Whatever stops AddMany (a bad input line, a refused job, a Redis failure,
// ctx), the batch is sealed with the jobs accepted, and the Receipt says
// which batch and how many alongside the error; but when it stopped before
// any job was sent (a bad first line), the batch is deleted and the
// Receipt is empty: a failed EnqueueMany leaves no empty batch behind.
func (e *Enqueuer) EnqueueMany(ctx context.Context, jobs iter.Seq2[tasks.Job, error]) (Receipt, error) {
	b, err := e.NewBatch(ctx)
	if err != nil {
		return Receipt{}, err
	}
	n, addErr := b.AddMany(ctx, jobs)
	if addErr != nil && b.sent.Load() == 0 {
		return Receipt{}, errors.Join(addErr, b.drop(ctx))
	}
	sealErr := b.seal(ctx)
	return Receipt{Batch: b.id, Accepted: n}, errors.Join(addErr, sealErr)
}

// drop deletes a batch that no job was sent to, and refuses later jobs.
// Like seal, it works after ctx ended, within sealTimeout.
func (b *Batch) drop(ctx context.Context) error {
	b.sealMu.Lock()
	defer b.sealMu.Unlock()
	b.sealing = true
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), b.e.sealTimeout)
		defer cancel()
	}
	err := b.e.withRetry(ctx, "drop empty batch", func() error {
		return b.e.store.DropBatch(ctx, b.e.cfg.Queue, b.id)
	})
	if err != nil {
		return fmt.Errorf("%w: empty batch %s not deleted: %w", ErrEnqueue, b.id, err)
	}
	b.e.leases.release(b.id) // its id left in the open batches: the next sweep takes it off
	return nil
}

// seal seals the batch even when ctx has ended (on Ctrl-C the jobs already
// queued still make a batch that completes), within sealTimeout.
func (b *Batch) seal(ctx context.Context) error {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), b.e.sealTimeout)
		defer cancel()
	}
	return b.Seal(ctx)
}
