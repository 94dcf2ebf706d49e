// Package inbox lets any program enqueue reqfleet jobs without Go or asynq:
// it pushes a job, one JSON object in the shape of requests' keyword
// arguments, onto the Redis list reqfleet:{QUEUE}:inbox with a plain LPUSH,
// and a Forwarder moves it into the queue.
//
// Nothing is lost and nothing is sent twice, whenever a forwarder dies:
//
//   - A forwarder takes entries with one Lua script that pops them from the
//     inbox and pushes them onto reqfleet:{QUEUE}:inbox:processing, each
//     stamped with the batch it goes to and a sequence number unique in the
//     queue ("BATCH\nSEQ\nRAW"). A job without an id gets "inbox-SEQ", so the
//     task id of its attempt (batch:1:id) is fixed from then on.
//   - It enqueues each job in that batch (enqueuer.Batch.Add), then removes
//     the entry from the processing list.
//   - An entry that is not a job (not JSON, an unknown key, no url, ...) is
//     moved, by one Lua script, from the processing list to the queue's
//     exceptions list as an InvalidJob exception whose message holds the
//     error and the entry's text.
//   - On start a forwarder first finishes what a dead one left in the
//     processing list: an entry whose task asynq still holds, or whose
//     outcome its batch has recorded, was enqueued and is only removed; any
//     other is stamped again with the new batch and enqueued.
//
// One forwarder of a queue works at a time: it holds a lease
// (reqfleet:{QUEUE}:inbox:lease, renewed every third of Config.Lease), and
// the move script refuses a forwarder that lost it. Every worker may run one;
// the others wait to take over.
//
// Batches: a forwarder puts the jobs it moves in a batch of its own, created
// with the first job and sealed after Config.BatchEvery (a minute) or
// Config.BatchMax jobs, and when it stops, so that `reqfleet wait` works on
// it. A job whose id is taken in the current batch goes to the next one. A
// forwarder killed mid-batch leaves that batch unsealed: its jobs still run
// and their outcomes land, but waiting for it never ends; it expires after
// the enqueuer's BatchTTL. An InvalidJob exception is counted in the batch
// it names, the one the forwarder fills, as a job done with an exception
// (rdb.BatchRejected, in the total once sealed), in the same step as its
// entry leaves the processing list.
package inbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/enqueuer"
	"github.com/reqfleet/reqfleet/internal/parallel"
	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/startstop"
	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/tasks"
)

// Defaults of Config's zero fields.
const (
	DefaultChunk       = 100
	DefaultConcurrency = 16
	DefaultPoll        = 200 * time.Millisecond
	DefaultBatchEvery  = time.Minute
	DefaultBatchMax    = 100_000
	DefaultLease       = 15 * time.Second
	DefaultMaxEntry    = enqueuer.DefaultMaxLine
)

// DefaultRecoverEvery is Config.RecoverEvery's default.
const DefaultRecoverEvery = 30 * time.Second

// ErrConfig: a Config field is missing or out of range.
var ErrConfig = errors.New("invalid inbox config")

// errLeaseLost: another forwarder holds the lease now.
var errLeaseLost = errors.New("inbox lease lost")

// Config configures a Forwarder. Zero fields take the defaults above.
type Config struct {
	Redis       redis.UniversalClient // required; not closed
	Enqueuer    *enqueuer.Enqueuer    // required; its queue is the inbox's queue; not closed
	Chunk       int                   // entries taken per round trip; default 100
	Concurrency int                   // entries enqueued at once; default 16
	Poll        time.Duration         // how often an empty inbox is looked at; default 200ms
	BatchEvery  time.Duration         // a batch is sealed this long after it was made; default 1m
	BatchMax    int                   // ... or once it holds this many jobs; default 100000
	Lease       time.Duration         // how long a silent forwarder keeps the inbox; default 15s, at least 1s
	MaxEntry    int                   // longest entry taken as a job, in bytes; default 16 MiB
	Name        string                // the worker named in InvalidJob exceptions; default "inbox@host:pid"
	Logger      *slog.Logger          // default: discard
	Now         func() time.Time      // clock; default time.Now

	// RecoverEvery is how often, while forwarding, the processing list is
	// finished again, as after a failed Redis call: entries a take put
	// there whose reply never came back (a take run twice) are not left
	// for the next forwarder; default 30s.
	RecoverEvery time.Duration
}

func (c *Config) validate() error {
	if c.Redis == nil || c.Enqueuer == nil {
		return fmt.Errorf("%w: Redis and Enqueuer are required", ErrConfig)
	}
	if c.Chunk < 0 || c.Concurrency < 0 || c.Poll < 0 || c.BatchEvery < 0 || c.BatchMax < 0 || c.Lease < 0 || c.MaxEntry < 0 || c.RecoverEvery < 0 {
		return fmt.Errorf("%w: sizes and durations must not be negative", ErrConfig)
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Chunk, DefaultChunk)
	def(&c.Concurrency, DefaultConcurrency)
	def(&c.BatchMax, DefaultBatchMax)
	def(&c.MaxEntry, DefaultMaxEntry)
	defDur(&c.Poll, DefaultPoll)
	defDur(&c.BatchEvery, DefaultBatchEvery)
	defDur(&c.Lease, DefaultLease)
	defDur(&c.RecoverEvery, DefaultRecoverEvery)
	if c.Lease < time.Second {
		return fmt.Errorf("%w: Lease %v: must be at least 1s", ErrConfig, c.Lease)
	}
	if c.Name == "" {
		host, _ := os.Hostname()
		c.Name = "inbox@" + host + ":" + strconv.Itoa(os.Getpid())
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Forwarder moves the jobs of a queue's inbox into the queue.
type Forwarder struct {
	cfg   Config
	queue string
	log   *slog.Logger
	insp  *asynq.Inspector
	store *rdb.Client // the inbox's scripts
	token string

	// The batch the forwarder fills; made with its first job. Changed only
	// between chunks, by the Run goroutine.
	batch     *enqueuer.Batch
	batchMade time.Time

	hooks hooks

	life        startstop.Base
	runErr      error // Run's, once it returned under Start
	testSignals testSignals
}

// testSignals are signalled in tests only (testkit.Signal).
type testSignals struct {
	leaseLost testkit.Signal[struct{}] // forwarding stopped: another forwarder took the lease
	standby   testkit.Signal[struct{}] // an attempt at the lease found it held by another
}

// hooks let tests stop a run where a crash matters. A hook that returns an
// error ends Run with it at once, as if the process died there: no seal,
// no lease released.
type hooks struct {
	beforeEnqueue func(tasks.Job) error // taken and stamped, not enqueued
	afterEnqueue  func(tasks.Job) error // enqueued, still in the processing list
}

// crash is a hook's error: Run returns it without cleaning up.
type crash struct{ err error }

func (c *crash) Error() string { return "inbox: stopped by a hook: " + c.err.Error() }
func (c *crash) Unwrap() error { return c.err }

// New makes a Forwarder of cfg.Enqueuer's queue; Run starts it.
func New(cfg Config) (*Forwarder, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var tok [12]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, err
	}
	q := cfg.Enqueuer.Queue()
	return &Forwarder{
		cfg:   cfg,
		queue: q,
		log:   cfg.Logger.With("component", "inbox", "queue", q),
		insp:  asynq.NewInspectorFromRedisClient(cfg.Redis),
		store: rdb.New(cfg.Redis),
		token: cfg.Name + "/" + hex.EncodeToString(tok[:]),
	}, nil
}

// Queue is the queue whose inbox the forwarder empties.
func (f *Forwarder) Queue() string { return f.queue }

// Run forwards the inbox until ctx ends, then seals its batch, gives the
// lease up and returns nil. While another forwarder holds the lease it
// waits, trying every third of the lease. Redis errors are logged and
// tried again; Run returns an error only for a hook's crash.
func (f *Forwarder) Run(ctx context.Context) error {
	f.log.LogAttrs(ctx, slog.LevelDebug, "inbox forwarder started")
	for {
		held, err := f.acquire(ctx)
		if err != nil && ctx.Err() == nil {
			f.log.LogAttrs(ctx, slog.LevelWarn, "inbox lease: redis call failed", slog.Any("err", err))
		}
		if !held && err == nil {
			f.testSignals.standby.Signal(struct{}{})
		}
		if held {
			var c *crash
			err := f.lead(ctx)
			if errors.As(err, &c) {
				return err
			}
			if errors.Is(err, errLeaseLost) {
				f.testSignals.leaseLost.Signal(struct{}{})
			}
		}
		if sleep(ctx, f.cfg.Lease/3) != nil {
			return nil
		}
	}
}

// Start runs the forwarder (Run) in the background until Stop or ctx
// ends.
func (f *Forwarder) Start(ctx context.Context) error {
	return f.life.Start(ctx, func(ctx context.Context) { f.runErr = f.Run(ctx) })
}

// Stop ends the forwarding started by Start and waits for it (the chunk in
// hand, the seal, the lease given up), bounded by ctx: when ctx ends first
// it returns ctx's error, the forwarder finishing in the background, and
// may be called again. Once the forwarder has stopped it returns Run's
// error (a hook's crash), if any.
func (f *Forwarder) Stop(ctx context.Context) error {
	if err := f.life.Stop(ctx); err != nil {
		return err
	}
	return f.runErr
}

func (f *Forwarder) acquire(ctx context.Context) (bool, error) {
	return f.store.InboxAcquire(ctx, f.queue, f.token, f.cfg.Lease)
}

// lead forwards while the lease is held: first what dead forwarders left,
// then the inbox. A Redis error is logged and, after a pause, the
// processing list is finished again and forwarding goes on. It returns nil
// when ctx ends (the chunk in hand is finished first), errLeaseLost when
// another forwarder took the lease, or a hook's crash.
func (f *Forwarder) lead(parent context.Context) (err error) {
	f.log.LogAttrs(parent, slog.LevelInfo, "inbox lease taken: forwarding")
	// Forwarding ends with the lease, not with parent: a chunk taken is
	// finished before a shutdown.
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(parent))
	var wg sync.WaitGroup
	wg.Go(func() { f.renew(ctx, cancel) })
	defer func() {
		cancel(nil)
		wg.Wait()
		var c *crash
		if errors.As(err, &c) {
			return // as if dead: nothing is cleaned up
		}
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(parent), 10*time.Second)
		defer ccancel()
		if serr := f.sealBatch(cctx); serr != nil {
			f.log.LogAttrs(cctx, slog.LevelWarn, "inbox batch not sealed", slog.Any("err", serr))
		}
		if _, rerr := f.store.InboxRelease(cctx, f.queue, f.token); rerr != nil {
			f.log.LogAttrs(cctx, slog.LevelWarn, "inbox lease not released", slog.Any("err", rerr))
		}
	}()
	// wait sleeps d unless parent ends or the lease is lost.
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-parent.Done():
		case <-ctx.Done():
		}
		return false
	}
	pause := f.cfg.Poll
	needRecover := true
	var recovered time.Time
	for parent.Err() == nil && ctx.Err() == nil {
		var n int
		var err error
		if needRecover || time.Since(recovered) >= f.cfg.RecoverEvery {
			err = f.recover(ctx)
			needRecover, recovered = err != nil, time.Now()
		}
		if err == nil {
			err = f.rotate(ctx, false)
		}
		if err == nil {
			n, err = f.step(ctx)
		}
		var c *crash
		switch {
		case errors.As(err, &c):
			return err
		case errors.Is(err, errLeaseLost):
			cancel(errLeaseLost)
		case err != nil && ctx.Err() == nil:
			f.log.LogAttrs(ctx, slog.LevelWarn, "inbox forwarding failed, trying again", slog.Any("err", err), slog.Duration("in", pause))
			needRecover = true
			wait(pause)
			pause = min(2*pause, 5*time.Second)
		case err == nil:
			pause = f.cfg.Poll
			if n == 0 {
				wait(f.cfg.Poll)
			}
		}
	}
	if cause := context.Cause(ctx); parent.Err() == nil && cause != nil {
		f.log.LogAttrs(parent, slog.LevelWarn, "inbox lease lost: another forwarder has it", slog.Any("cause", cause))
		return errLeaseLost
	}
	return nil
}

// renew keeps the lease, every third of its length, and ends ctx with
// errLeaseLost when another forwarder has it or it could not be renewed in
// time.
func (f *Forwarder) renew(ctx context.Context, cancel context.CancelCauseFunc) {
	every := f.cfg.Lease / 3
	last := time.Now()
	for sleep(ctx, every) == nil {
		renewed, err := f.store.InboxRenew(ctx, f.queue, f.token, f.cfg.Lease)
		switch {
		case err == nil && renewed:
			last = time.Now()
		case err == nil:
			cancel(errLeaseLost)
			return
		case time.Since(last) >= f.cfg.Lease-every/2:
			cancel(fmt.Errorf("%w: %w", errLeaseLost, err))
			return
		}
	}
}

// step takes one chunk from the inbox and forwards it; n is how many
// entries it took.
func (f *Forwarder) step(ctx context.Context) (n int, err error) {
	if f.batch == nil {
		waiting, err := f.cfg.Redis.LLen(ctx, rdb.InboxKey(f.queue)).Result()
		if err != nil || waiting == 0 {
			return 0, err
		}
		if err := f.newBatch(ctx); err != nil {
			return 0, err
		}
	}
	entries, err := f.store.InboxTake(ctx, f.queue, f.token, f.batch.ID(), f.cfg.Chunk)
	if err != nil {
		if errors.Is(err, rdb.ErrInboxLeaseLost) {
			return 0, errLeaseLost
		}
		return 0, fmt.Errorf("take from inbox: %w", err)
	}
	if len(entries) == 0 {
		return 0, nil
	}
	return len(entries), f.forward(ctx, entries, false)
}

// recover finishes the processing list: entries left by a dead forwarder,
// or by this one when a Redis call failed.
func (f *Forwarder) recover(ctx context.Context) error {
	key := rdb.InboxProcessingKey(f.queue)
	n, err := f.cfg.Redis.LLen(ctx, key).Result()
	if err != nil || n == 0 {
		return err
	}
	f.log.LogAttrs(ctx, slog.LevelInfo, "finishing entries left in the processing list", slog.Int64("entries", n))
	// Read from the tail (the oldest) in chunks; finished entries leave the
	// list and restamped ones go to its head, so the tail holds the rest.
	for left := n; left > 0; {
		chunk, err := f.cfg.Redis.LRange(ctx, key, -min(left, int64(f.cfg.Chunk)), -1).Result()
		if err != nil {
			return err
		}
		if len(chunk) == 0 {
			return nil
		}
		if f.batch == nil {
			if err := f.newBatch(ctx); err != nil {
				return err
			}
		}
		if err := f.forward(ctx, chunk, true); err != nil {
			return err
		}
		left -= int64(len(chunk))
		if err := f.rotate(ctx, false); err != nil {
			return err
		}
	}
	return nil
}

// entry is a stamped processing-list entry.
type entry struct {
	stamped string // as in the list
	batch   string
	seq     string
	raw     string
}

func parseEntry(s string) (entry, bool) {
	batch, rest, ok1 := strings.Cut(s, "\n")
	seq, raw, ok2 := strings.Cut(rest, "\n")
	if !ok1 || !ok2 || batch == "" || seq == "" {
		return entry{stamped: s, raw: s}, false
	}
	return entry{stamped: s, batch: batch, seq: seq, raw: raw}, true
}

func stamp(batch, seq, raw string) string { return batch + "\n" + seq + "\n" + raw }

// forward enqueues the entries in the current batch, Concurrency at a time.
// Entries whose id the batch has taken go to the next batch. Recovering, an
// entry that was enqueued already is only removed.
func (f *Forwarder) forward(ctx context.Context, stamped []string, recovering bool) error {
	for len(stamped) > 0 {
		var (
			mu       sync.Mutex
			deferred []string
		)
		err := parallel.ForEach(ctx, f.cfg.Concurrency, stamped, func(ctx context.Context, s string) error {
			later, err := f.forwardOne(ctx, s, recovering)
			if later != "" {
				mu.Lock()
				deferred = append(deferred, later)
				mu.Unlock()
			}
			return err
		})
		if err != nil {
			return err
		}
		if len(deferred) == 0 {
			return nil
		}
		// Ids taken in this batch: seal it, and stamp them for the next.
		if err := f.rotate(ctx, true); err != nil {
			return err
		}
		if err := f.newBatch(ctx); err != nil {
			return err
		}
		stamped = stamped[:0:0]
		for _, s := range deferred {
			e, _ := parseEntry(s)
			re := stamp(f.batch.ID(), e.seq, e.raw)
			ok, err := f.store.InboxRestamp(ctx, f.queue, s, re)
			if err != nil {
				return fmt.Errorf("restamp inbox entry: %w", err)
			}
			if ok {
				stamped = append(stamped, re)
			}
		}
		recovering = false // stamped anew: nobody enqueued them in this batch
	}
	return nil
}

// forwardOne forwards one entry. later is the entry, when its id is taken
// in the current batch and it must wait for the next one.
func (f *Forwarder) forwardOne(ctx context.Context, stamped string, recovering bool) (later string, err error) {
	e, ok := parseEntry(stamped)
	if !ok {
		return "", f.reject(ctx, e, errors.New("not a stamped inbox entry"))
	}
	job, err := f.decode(e.raw)
	if err != nil {
		return "", f.reject(ctx, e, err)
	}
	if job.ID == "" {
		job.ID = "inbox-" + e.seq
	}
	if recovering {
		done, err := f.enqueued(ctx, tasks.Task{Batch: e.batch, Attempt: 1, Job: job})
		if err != nil {
			return "", err
		}
		if done {
			return "", f.remove(ctx, e.stamped)
		}
		if e.batch != f.batch.ID() {
			// Stamp it with the batch it goes to before enqueuing, so that a
			// crash after the enqueue finds it there.
			re := stamp(f.batch.ID(), e.seq, e.raw)
			ok, err := f.store.InboxRestamp(ctx, f.queue, e.stamped, re)
			if err != nil {
				return "", fmt.Errorf("restamp inbox entry: %w", err)
			}
			if !ok {
				return "", nil // gone: finished by another forwarder
			}
			e.stamped, e.batch = re, f.batch.ID()
		}
	}
	if h := f.hooks.beforeEnqueue; h != nil {
		if err := h(job); err != nil {
			return "", &crash{err}
		}
	}
	if _, err := f.batch.Add(ctx, job); err != nil {
		switch {
		case errors.Is(err, enqueuer.ErrDuplicateID):
			return e.stamped, nil
		case errors.Is(err, enqueuer.ErrInvalidJob):
			return "", f.reject(ctx, e, err)
		}
		return "", fmt.Errorf("enqueue inbox job: %w", err)
	}
	if h := f.hooks.afterEnqueue; h != nil {
		if err := h(job); err != nil {
			return "", &crash{err}
		}
	}
	return "", f.remove(ctx, e.stamped)
}

// decode reads an inbox entry as a job, as `reqfleet enqueue` reads a line.
func (f *Forwarder) decode(raw string) (tasks.Job, error) {
	if len(raw) > f.cfg.MaxEntry {
		return tasks.Job{}, fmt.Errorf("%w: %d bytes, more than %d", enqueuer.ErrLineTooLong, len(raw), f.cfg.MaxEntry)
	}
	return tasks.DecodeJob([]byte(strings.TrimSpace(raw)))
}

// enqueued reports whether the task was enqueued: asynq holds it, or its
// outcome is recorded. asynq is asked first: a task that finishes between
// the two calls has its outcome recorded before asynq lets it go.
func (f *Forwarder) enqueued(ctx context.Context, t tasks.Task) (bool, error) {
	_, err := f.insp.GetTaskInfo(f.queue, t.TaskID())
	switch {
	case err == nil:
		return true, nil
	case !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound):
		return false, fmt.Errorf("look for task %s: %w", t.TaskID(), err)
	}
	seen, err := f.cfg.Redis.SIsMember(ctx, rdb.SeenKey(f.queue, t.Batch), t.OutcomeKey()).Result()
	if err != nil {
		return false, fmt.Errorf("look for outcome of %s: %w", t.TaskID(), err)
	}
	return seen, nil
}

func (f *Forwarder) remove(ctx context.Context, stamped string) error {
	if err := f.cfg.Redis.LRem(ctx, rdb.InboxProcessingKey(f.queue), 1, stamped).Err(); err != nil {
		return fmt.Errorf("remove forwarded inbox entry: %w", err)
	}
	return nil
}

// maxShown bounds the entry text kept in the message of an InvalidJob
// exception for an entry longer than MaxEntry.
const maxShown = 4096

// reject moves an entry that is not a job to the exceptions list.
func (f *Forwarder) reject(ctx context.Context, e entry, why error) error {
	text := e.raw
	if len(text) > f.cfg.MaxEntry {
		text = text[:maxShown] + "..."
	}
	id := "inbox-" + e.seq
	var v struct {
		ID string `json:"id"`
	}
	if json.Unmarshal([]byte(e.raw), &v) == nil && v.ID != "" && len(v.ID) <= tasks.MaxIDLen {
		id = v.ID
	}
	// It is counted in the batch the forwarder fills (its own, open): the
	// entry may be stamped with a dead forwarder's batch, sealed since.
	batch := e.batch
	if f.batch != nil {
		batch = f.batch.ID()
	}
	exc := tasks.Exception{
		ID:    id,
		Batch: batch,
		Exception: tasks.ExceptionInfo{
			Type:    tasks.InvalidJob,
			Message: fmt.Sprintf("inbox entry is not a job: %v; entry: %s", why, text),
		},
		Attempt:    1,
		Worker:     f.cfg.Name,
		FinishedAt: f.cfg.Now().UTC(),
	}
	line, err := json.Marshal(&exc)
	if err != nil {
		return fmt.Errorf("encode InvalidJob exception: %w", err)
	}
	if _, err := f.store.InboxReject(ctx, f.queue, e.stamped, exc.Batch, line); err != nil {
		return fmt.Errorf("record InvalidJob exception: %w", err)
	}
	// The entry itself is not logged: it may hold credentials.
	f.log.LogAttrs(ctx, slog.LevelWarn, "inbox entry is not a job: recorded as an InvalidJob exception",
		slog.String("id", id), slog.String("batch", batch), slog.Any("err", why))
	return nil
}

func (f *Forwarder) newBatch(ctx context.Context) error {
	b, err := f.cfg.Enqueuer.NewBatch(ctx)
	if err != nil {
		return err
	}
	f.batch, f.batchMade = b, f.cfg.Now()
	f.log.LogAttrs(ctx, slog.LevelInfo, "inbox batch started", slog.String("batch", b.ID()))
	return nil
}

// rotate seals the current batch when it is old or full enough, or now.
func (f *Forwarder) rotate(ctx context.Context, now bool) error {
	if f.batch == nil {
		return nil
	}
	if !now && f.cfg.Now().Sub(f.batchMade) < f.cfg.BatchEvery && f.batch.Accepted() < f.cfg.BatchMax {
		return nil
	}
	return f.sealBatch(ctx)
}

func (f *Forwarder) sealBatch(ctx context.Context) error {
	if f.batch == nil {
		return nil
	}
	if err := f.batch.Seal(ctx); err != nil {
		return err
	}
	f.log.LogAttrs(ctx, slog.LevelInfo, "inbox batch sealed", slog.String("batch", f.batch.ID()), slog.Int("jobs", f.batch.Accepted()))
	f.batch = nil
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
