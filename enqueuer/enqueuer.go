// Package enqueuer puts request jobs on reqfleet's queue: the producing half
// of the distributed form of requests_toolbelt's threaded Pool.
//
// Jobs (tasks.Job, in the shape of requests' keyword arguments) are added to
// a batch and enqueued as asynq tasks of type tasks.TypeRequest; workers run
// them and record responses and exceptions in Redis lists. A batch's hash
// (internal/rdb.BatchKey) counts what was accepted and, once sealed, the total that
// its outcomes must reach. Retry re-enqueues the exceptions list.
//
// Sizing: AddMany and Retry run Config.Concurrency enqueue calls at once.
// The fast path (the default) sends them to Redis in groups over at most
// two connections at a time. With Config.AsynqClient each is its own call
// on Config.Redis, so that client's connection pool (go-redis PoolSize, by
// default 10 per CPU) should be at least Concurrency, or calls wait for a
// connection.
package enqueuer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/redisretry"
	"github.com/reqfleet/reqfleet/tasks"
)

// Defaults of Config's zero fields, and of the readers' maxLine.
const (
	DefaultQueue       = "default"
	DefaultMaxRetry    = 25
	DefaultTaskTimeout = 10 * time.Minute
	DefaultConcurrency = 16
	DefaultBatchTTL    = 7 * 24 * time.Hour
	DefaultMaxLine     = 16 << 20
	DefaultBatchLease  = 15 * time.Second
	// DefaultRedisRetryFor is Config.RedisRetryFor's default.
	DefaultRedisRetryFor = redisretry.DefaultFor
)

// Config configures an Enqueuer. Zero fields take the defaults above.
type Config struct {
	Redis       redis.UniversalClient // required; not closed by Close
	Queue       string                // default "default"; see tasks.ValidateQueue
	MaxRetry    int                   // asynq retries, for crash recovery only; default 25, negative for none
	TaskTimeout time.Duration         // asynq task timeout; default 10m
	Concurrency int                   // parallel enqueue calls; default 256 on the fast path, 16 with AsynqClient
	BatchTTL    time.Duration         // lifetime of a sealed batch's hash; default 7 days
	// BatchLease is how long an open batch outlives its enqueuer: the
	// Enqueuer renews each open batch's lease every BatchLease/3 until
	// Seal (or Close); once it has run out (the process was killed), the
	// workers' sweepers seal the batch with the jobs queued for it, so
	// that waiting for it ends. Default 15s; at least 100ms. The asynq
	// client path (AsynqClient) does not count the jobs it queues in the
	// same step: its batches take no lease, and a killed enqueue's batch
	// stays open.
	BatchLease time.Duration
	// RedisRetryFor is how long a Redis call that fails with an error that
	// passes (connection refused or lost, LOADING, ...) is tried again, with
	// capped exponential backoff, before the operation fails with
	// ErrRedisUnavailable; default 2m, negative for no retry. Other errors
	// (a wrong password, say) fail at once.
	RedisRetryFor time.Duration
	// AsynqClient enqueues through asynq's Client, one Redis call a job,
	// instead of the fast path (fast.go), which writes the same task hash and
	// pending list as asynq v0.26.0, many jobs a call. New takes it, with
	// one warning, when the linked asynq is not the version internal/rdb's
	// layout was verified against (rdb.LayoutVerified), unless
	// ForceAsynqLayout.
	AsynqClient bool
	Logger      *slog.Logger     // default: discard
	Now         func() time.Time // clock; default time.Now

	// ForceAsynqLayout keeps the fast path whatever asynq is linked.
	ForceAsynqLayout bool
	// layoutVerified is rdb.LayoutVerified; tests inject a version.
	layoutVerified func() (linked string, ok bool)
}

// validate fills the defaults in and checks the fields.
func (c *Config) validate() error {
	if c.Redis == nil {
		return fmt.Errorf("%w: Redis is required", ErrConfig)
	}
	if c.Queue == "" {
		c.Queue = DefaultQueue
	}
	if err := tasks.ValidateQueue(c.Queue); err != nil {
		return fmt.Errorf("%w: Queue: %w", ErrConfig, err)
	}
	switch {
	case c.MaxRetry == 0:
		c.MaxRetry = DefaultMaxRetry
	case c.MaxRetry < 0:
		c.MaxRetry = 0
	}
	switch {
	case c.TaskTimeout == 0:
		c.TaskTimeout = DefaultTaskTimeout
	case c.TaskTimeout < time.Second:
		// asynq keeps the timeout in whole seconds: below one it would be
		// no timeout at all.
		return fmt.Errorf("%w: TaskTimeout %v: must be at least 1s", ErrConfig, c.TaskTimeout)
	}
	c.guardLayout()
	switch {
	case c.Concurrency == 0 && !c.AsynqClient:
		c.Concurrency = DefaultFastConcurrency
	case c.Concurrency == 0:
		c.Concurrency = DefaultConcurrency
	case c.Concurrency < 0:
		return fmt.Errorf("%w: Concurrency %d: must be above 0", ErrConfig, c.Concurrency)
	}
	switch {
	case c.BatchTTL == 0:
		c.BatchTTL = DefaultBatchTTL
	case c.BatchTTL < time.Second:
		return fmt.Errorf("%w: BatchTTL %v: must be at least 1s", ErrConfig, c.BatchTTL)
	}
	switch {
	case c.BatchLease == 0:
		c.BatchLease = DefaultBatchLease
	case c.BatchLease < 100*time.Millisecond:
		return fmt.Errorf("%w: BatchLease %v: must be at least 100ms", ErrConfig, c.BatchLease)
	}
	if c.RedisRetryFor == 0 {
		c.RedisRetryFor = DefaultRedisRetryFor
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// guardLayout falls back to asynq's Client when the linked asynq is not the
// one the fast path's layout was verified against, unless
// ForceAsynqLayout, with one warning.
func (c *Config) guardLayout() {
	if c.AsynqClient || c.ForceAsynqLayout {
		return
	}
	c.AsynqClient = rdb.LayoutMismatch(c.layoutVerified, c.Logger, "the enqueue fast path's",
		"enqueuing through asynq's Client (ForceAsynqLayout, --force-asynq-layout, keeps the fast path)")
}

// Enqueuer enqueues jobs on one queue. It is safe for concurrent use.
type Enqueuer struct {
	cfg    Config
	log    *slog.Logger
	client *asynq.Client
	fast   *fastEnqueuer  // nil with Config.AsynqClient
	opts   []asynq.Option // every task's options but its TaskID
	closed atomic.Bool

	store *rdb.Client // reqfleet's scripts: batches, retry

	leases leases // the open batches' leases, renewed until Seal or Close

	outage outage // Redis failing: logged once when it starts and once when it ends

	// Tunables, changed by tests.
	retry         redisretry.Policy // how a failing Redis call is tried again
	flushEvery    int64             // HINCRBY accepted after this many jobs at most
	flushInterval time.Duration     // ... or when this long passed since the last
	retryChunk    int               // exceptions read per LRANGE by Retry
	sealTimeout   time.Duration     // EnqueueMany's Seal after its ctx ended
	hooks         hooks
}

// hooks let tests stop a run at the points where a crash matters. A hook
// that returns an error ends the run with it, as if the process died there.
type hooks struct {
	afterMove    func(tasks.Exception) error // retry: moved to the retrying list, not enqueued
	afterEnqueue func(tasks.Exception) error // retry: enqueued, still in the retrying list
	onBackoff    func(err error)             // a Redis call failed and will be tried again
}

// New returns an Enqueuer of cfg.Queue. Close it when done; cfg.Redis stays
// the caller's to close.
func New(cfg Config) (*Enqueuer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e := &Enqueuer{
		cfg:    cfg,
		log:    cfg.Logger.With("queue", cfg.Queue),
		client: asynq.NewClientFromRedisClient(cfg.Redis),
		opts: []asynq.Option{
			asynq.Queue(cfg.Queue),
			asynq.MaxRetry(cfg.MaxRetry),
			asynq.Timeout(cfg.TaskTimeout),
			asynq.Retention(0),
		},
		fast:          newFast(cfg),
		store:         rdb.New(cfg.Redis),
		retry:         redisretry.Policy{For: cfg.RedisRetryFor},
		flushEvery:    1000,
		flushInterval: time.Second,
		retryChunk:    512,
		sealTimeout:   10 * time.Second,
	}
	return e, nil
}

// Close ends the Enqueuer: later calls return ErrClosed, but for
// Batch.Seal, so that what was accepted can still be sealed. The asynq
// client shares cfg.Redis, which Close leaves open.
func (e *Enqueuer) Close() error {
	e.closed.Store(true)
	e.leases.stop()
	// asynq's Client.Close closes the Redis client it was built on, unless
	// shared, when it only returns an error: there is nothing of its own to
	// release.
	return nil
}

// Queue is the queue this Enqueuer puts jobs on.
func (e *Enqueuer) Queue() string { return e.cfg.Queue }

func (e *Enqueuer) checkOpen() error {
	if e.closed.Load() {
		return ErrClosed
	}
	return nil
}

// enqueue puts one task on the queue, trying again after Redis errors.
// existed reports asynq's task id conflict: the task is already queued (or
// running), by a dead earlier run or by this call's own earlier attempt whose
// reply was lost.
func (e *Enqueuer) enqueue(ctx context.Context, t tasks.Task, payload []byte) (existed bool, err error) {
	return e.enqueueTask(ctx, t, payload, false)
}

// enqueueTask is enqueue; counted marks a new job of its batch, which the
// fast path counts in the batch's queued (and refuses once the batch is
// sealed: ErrLeaseLost).
func (e *Enqueuer) enqueueTask(ctx context.Context, t tasks.Task, payload []byte, counted bool) (existed bool, err error) {
	if e.fast != nil {
		return e.enqueueFast(ctx, t, payload, counted)
	}
	task := asynq.NewTask(tasks.TypeRequest, payload)
	opts := append(e.opts[:len(e.opts):len(e.opts)], asynq.TaskID(t.TaskID()))
	err = e.withPolicy(ctx, "enqueue", redisretry.Opaque, func() error {
		_, err := e.client.EnqueueContext(ctx, task, opts...)
		if errors.Is(err, asynq.ErrTaskIDConflict) {
			existed = true
			return nil
		}
		return err
	})
	return existed, err
}

// withRetry runs fn until it succeeds. An error that passes (Redis
// restarting or unreachable) is tried again with capped exponential backoff
// for up to Config.RedisRetryFor, then the error wraps ErrRedisUnavailable;
// any other error returns at once. ctx ends the waits.
func (e *Enqueuer) withRetry(ctx context.Context, what string, fn func() error) error {
	return e.withPolicy(ctx, what, nil, fn)
}

// withPolicy is withRetry with the errors tried again picked by retryable
// (nil: redisretry.Transient). asynq's enqueue needs redisretry.Opaque: it
// turns Redis' errors into strings.
func (e *Enqueuer) withPolicy(ctx context.Context, what string, retryable func(error) bool, fn func() error) error {
	failed := false
	p := e.retry
	if retryable != nil {
		p.Retryable = retryable
	}
	err := redisretry.Do(ctx, p, fn, func(n int, err error, wait time.Duration) {
		failed = true
		e.outage.begin(ctx, e.log, what, err, e.retry.For)
		e.log.LogAttrs(ctx, slog.LevelDebug, "redis call failed, trying again",
			slog.String("op", what), slog.Int("failures", n), slog.Duration("wait", wait), slog.Any("err", err))
		if e.hooks.onBackoff != nil {
			e.hooks.onBackoff(err)
		}
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if failed {
		e.outage.end(ctx, e.log)
	}
	return nil
}

// outage logs a Redis outage once when it starts and once when it ends,
// however many calls fail and retry in between.
type outage struct {
	mu    sync.Mutex
	since time.Time // zero: no outage
}

func (o *outage) begin(ctx context.Context, log *slog.Logger, what string, err error, retryFor time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.since.IsZero() {
		return
	}
	o.since = time.Now()
	log.LogAttrs(ctx, slog.LevelWarn, "Redis unavailable, trying again",
		slog.String("op", what), slog.Duration("for_up_to", retryFor), slog.Any("err", err))
}

func (o *outage) end(ctx context.Context, log *slog.Logger) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() {
		return
	}
	log.LogAttrs(ctx, slog.LevelWarn, "Redis is back", slog.Duration("after", time.Since(o.since).Round(time.Millisecond)))
	o.since = time.Time{}
}
