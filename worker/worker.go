// Package worker is the queue runtime of reqfleet's workers. By default a
// fetcher (fetch.go) takes jobs from asynq's queues in batches, in asynq's
// own layout, runs each on one of exactly Concurrency sessions (package
// httpexec sends its request, once) and records one outcome (a response or
// an exception) in the queue's Redis lists, finishing the task in the same
// script (recorder.go); it runs no asynq server beside it (one would take
// the odd job under asynq's 30s lease) and writes its own entry in asynq's
// server list. With Config.AsynqProcessor, asynq's servers run every job
// instead (shard.go). The lease recoverer
// (recover.go) takes a lost worker's jobs back within seconds of their
// lease's end. The sweeper (archive.go) records what asynq archives as
// WorkerLost exceptions.
package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/httpexec"
	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/limits"
	"github.com/reqfleet/reqfleet/tasks"
)

// Errors of the worker.
var (
	ErrConfig     = errors.New("worker config")
	ErrNilSession = errors.New("session constructor, initializer or auth generator returned a nil session or client")
	ErrStarted    = errors.New("worker already started")
)

// Config of a Worker. The zero value of every field but Redis is a default.
type Config struct {
	Redis          redis.UniversalClient // required; shared, not closed by the worker
	Queues         map[string]int        // queue name -> priority; default {"default": 1}
	StrictPriority bool                  // drain higher priorities first
	Concurrency    int                   // requests at once = sessions (the fetcher records as many more outcomes meanwhile); default runtime.NumCPU(), as the original

	// FetchBatch is the most jobs the fetcher takes in one Redis call
	// (fetch.go); default DefaultFetchBatch. The fetcher runs the jobs on
	// Concurrency sessions and finishes each in the call that records its
	// outcome, in asynq's layout, so asynq's tools see the queues as usual.
	FetchBatch int
	// Prefetch is how many jobs a worker holds beyond its sessions, taken
	// ahead so that a free session finds one waiting: more make fewer,
	// larger Redis calls when jobs are quick; fewer keep slow jobs from
	// piling up in one worker while others idle. Default (0): what the
	// sessions finish in PrefetchWindow at the rate they have been
	// finishing jobs, at least a quarter of Concurrency and at most
	// Concurrency, neither more than FetchBatch; negative: none; positive:
	// that many, whatever the rate.
	Prefetch int
	// AsynqProcessor runs every job through asynq's own processor instead
	// of the fetcher: one Redis call to take each job and one to finish it,
	// in Shards asynq servers. It is the fallback should asynq's layout
	// change under the fetcher, and New takes it, with one warning, when the
	// linked asynq is not the version internal/rdb's layout was verified
	// against (rdb.LayoutVerified), unless ForceAsynqLayout.
	AsynqProcessor bool
	// ForceAsynqLayout keeps the fetcher whatever asynq is linked.
	ForceAsynqLayout bool
	// layoutVerified is rdb.LayoutVerified; tests inject a version.
	layoutVerified func() (linked string, ok bool)
	// Shards is how many asynq servers this worker runs, all sharing its
	// session pool, with AsynqProcessor only (the fetcher runs none). They run every job, their concurrencies adding up
	// to Concurrency (one asynq server takes jobs one Redis call at a time,
	// which caps its rate; shards take them in parallel): default one per 8
	// sessions, at most 8 (see shard.go).
	Shards int
	// RecordBatch is the most outcomes recorded in one Redis call: outcomes
	// that finish while a call is in flight go together in the next one,
	// each recorded exactly once and atomically as on its own. Default 64;
	// 1 records each outcome in its own call.
	RecordBatch int
	// RecordLinger is how long, under load, a record call waits for more
	// outcomes to fill its group (up to RecordBatch) before it goes: a
	// group lingers only if it found 4 or more outcomes waiting, several
	// having arrived during the last call, and only until it holds half
	// of Concurrency (each outcome waiting holds a runner, of which the
	// fetcher has Concurrency to spare). Fuller calls cost Redis less per
	// outcome; an outcome then reaches its list up to RecordLinger later.
	// Default DefaultRecordLinger (2ms); negative: never. With
	// AsynqProcessor, never (a session waits for its own outcome's record).
	RecordLinger time.Duration

	// NewSession makes one session (the original's session=); default
	// NewSession(Session). Initializer then AuthGenerator are applied to it.
	NewSession    func() (*httpexec.Session, error)
	Session       httpexec.SessionConfig
	Initializer   httpexec.Initializer
	AuthGenerator httpexec.AuthGenerator

	Exec httpexec.ExecConfig // request execution: body cap, timeouts, user agent

	Name              string        // recorded in outcomes; default host:pid
	ShutdownTimeout   time.Duration // in-flight jobs get this long to finish on shutdown, then go back to the queue; default 40s, above the default 30s read timeout
	TaskCheckInterval time.Duration // how often an idle worker polls (it sleeps half to one and a half of it); default 50ms: a job enqueued into an idle fleet starts within 75ms
	RecordTimeout     time.Duration // how long to keep trying to record an outcome while Redis is away; default 60s
	BatchTTL          time.Duration // expiry of a batch's counters and dedupe set; default 7 days
	Logger            *slog.Logger  // default: discard

	// OnOutcome, if set, is called once for each outcome this worker
	// recorded (not for a duplicate run's), with the job's queue and the time
	// from taking the job to recording its outcome. It must be fast and safe
	// for concurrent use; workers' --metrics-addr counts jobs with it.
	OnOutcome func(queue string, o tasks.Outcome, elapsed time.Duration)

	Sweep SweepConfig // the archive sweeper: asynq's archived jobs become WorkerLost exceptions (archive.go)

	// Lease is how long the fetcher holds a job unless it renews the
	// lease, every LeaseRenew; RecoverEvery is how often (jittered) the
	// worker's lease recoverer requeues the jobs whose lease ended, in
	// every worker, and MaxCrashes how many times a job's workers may be
	// lost while holding it before it is recorded as a WorkerCrashed
	// exception instead (recover.go). Defaults DefaultLease,
	// DefaultLeaseRenew, DefaultRecoverEvery, DefaultMaxCrashes. With
	// AsynqProcessor the leases are asynq's own (30s, renewed every 5s);
	// the recoverer runs all the same.
	Lease, LeaseRenew, RecoverEvery time.Duration
	MaxCrashes                      int
	// RecoverDisabled: no lease recoverer in this worker (asynq's
	// recoverer still runs).
	RecoverDisabled bool

	// MaxRetryAfter caps the Retry-After a job's retry policy honours
	// (retry.go), and the fleet-wide pause of its host a 429 or 503 with
	// Retry-After sets (admit.go); default DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration
	// ForwardEvery is how often the fetcher's forwarder moves the due
	// tasks of the scheduled and retry sets to their queues (forward.go;
	// asynq's servers do it under AsynqProcessor, every ForwardEvery too);
	// default DefaultForwardEvery.
	ForwardEvery time.Duration

	Limits LimitsConfig // per-host limits, fleet-wide (admit.go, release.go)
}

// LimitsConfig is a worker's side of the per-host limits (package
// limits: the table lives in Redis, for the whole fleet).
type LimitsConfig struct {
	// Default applies to each host without a limit of its own (or a
	// pattern's); zero: none (--default-rate, --default-concurrency).
	Default limits.Limit
	// Refresh is how often the limits table's version (and the paused
	// hosts) is read; default a second.
	Refresh time.Duration
	// AutoThrottle: adaptive throttling for every limited host (as a
	// limit's Auto does for its own): see autothrottle.go.
	AutoThrottle bool
	// OnThrottled, if set, is called for each job that waited for its
	// host's limits, when it starts, with how long it waited (metrics).
	OnThrottled func(queue, host string, waited time.Duration)
}

// Defaults of the leases and their recovery.
const (
	DefaultLease        = 5 * time.Second
	DefaultLeaseRenew   = time.Second
	DefaultRecoverEvery = time.Second
	DefaultMaxCrashes   = 3
)

func (c *Config) validate() error {
	if c.Redis == nil {
		return fmt.Errorf("%w: Redis is required", ErrConfig)
	}
	if len(c.Queues) == 0 {
		c.Queues = map[string]int{"default": 1}
	}
	for q, p := range c.Queues {
		if err := tasks.ValidateQueue(q); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
		if p < 1 {
			return fmt.Errorf("%w: queue %q: priority must be at least 1", ErrConfig, q)
		}
	}
	if c.Concurrency < 0 || c.Shards < 0 || c.FetchBatch < 0 || c.RecordBatch < 0 || c.ShutdownTimeout < 0 || c.TaskCheckInterval < 0 || c.RecordTimeout < 0 || c.BatchTTL < 0 {
		return fmt.Errorf("%w: Concurrency and durations must not be negative", ErrConfig)
	}
	if c.Concurrency == 0 {
		c.Concurrency = runtime.NumCPU()
	}
	c.guardLayout()
	if c.AsynqProcessor {
		c.Shards = shardCount(c.Shards, c.Concurrency)
	} else {
		c.Shards = max(min(c.Shards, c.Concurrency), 1)
	}
	if c.FetchBatch == 0 {
		c.FetchBatch = DefaultFetchBatch
	}
	if c.Prefetch < 0 {
		c.Prefetch = -1
	}
	if c.RecordLinger == 0 {
		c.RecordLinger = DefaultRecordLinger
	}
	if c.RecordBatch == 0 {
		c.RecordBatch = DefaultRecordBatch
	}
	if c.NewSession == nil {
		sc := c.Session
		c.NewSession = func() (*httpexec.Session, error) { return httpexec.NewSession(sc) }
	}
	if c.Name == "" {
		host, _ := os.Hostname()
		c.Name = host + ":" + strconv.Itoa(os.Getpid())
	}
	if c.Exec.Worker == "" {
		c.Exec.Worker = c.Name
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 40 * time.Second
	}
	if c.TaskCheckInterval == 0 {
		c.TaskCheckInterval = DefaultTaskCheckInterval
	}
	if c.RecordTimeout == 0 {
		c.RecordTimeout = 60 * time.Second
	}
	if c.BatchTTL == 0 {
		c.BatchTTL = 7 * 24 * time.Hour
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := c.validateLeases(); err != nil {
		return err
	}
	if c.MaxRetryAfter < 0 || c.ForwardEvery < 0 {
		return fmt.Errorf("%w: MaxRetryAfter and ForwardEvery must not be negative", ErrConfig)
	}
	c.MaxRetryAfter = cmp.Or(c.MaxRetryAfter, DefaultMaxRetryAfter)
	c.ForwardEvery = cmp.Or(c.ForwardEvery, DefaultForwardEvery)
	if err := c.Limits.validate(); err != nil {
		return err
	}
	return c.Sweep.validate()
}

func (c *Config) validateLeases() error {
	if c.Lease < 0 || c.LeaseRenew < 0 || c.RecoverEvery < 0 || c.MaxCrashes < 0 {
		return fmt.Errorf("%w: Lease, LeaseRenew, RecoverEvery and MaxCrashes must not be negative", ErrConfig)
	}
	c.Lease = cmp.Or(c.Lease, DefaultLease)
	c.LeaseRenew = cmp.Or(c.LeaseRenew, min(DefaultLeaseRenew, c.Lease/5))
	c.RecoverEvery = cmp.Or(c.RecoverEvery, DefaultRecoverEvery)
	c.MaxCrashes = cmp.Or(c.MaxCrashes, DefaultMaxCrashes)
	if c.Lease < 2*time.Second {
		return fmt.Errorf("%w: Lease %v: at least 2s (leases are whole seconds)", ErrConfig, c.Lease)
	}
	if c.LeaseRenew > c.Lease/3 {
		return fmt.Errorf("%w: LeaseRenew %v: at most a third of Lease %v", ErrConfig, c.LeaseRenew, c.Lease)
	}
	return nil
}

// guardLayout falls back to asynq's processor when the linked asynq is not
// the one the fetcher's layout was verified against, unless
// ForceAsynqLayout, with one warning.
func (c *Config) guardLayout() {
	if c.AsynqProcessor || c.ForceAsynqLayout {
		return
	}
	c.AsynqProcessor = rdb.LayoutMismatch(c.layoutVerified, c.Logger, "the fetcher's",
		"running jobs through asynq's processor (ForceAsynqLayout, --force-asynq-layout, keeps the fetcher)")
}

// Worker is one worker process's share of the fleet.
type Worker struct {
	cfg   Config
	exec  *httpexec.Executor
	pool  *pool
	rec   recorder
	store *rdb.Client
	log   *slog.Logger

	mu      sync.Mutex
	servers []*asynq.Server // the shards, started together
	batch   *batcher        // records outcomes in groups while started; nil: one by one
	fetch   *fetcher        // runs the jobs, unless AsynqProcessor
	forward *forwarder      // moves due scheduled and retry tasks to their queues, with the fetcher (forward.go)
	recov   *leaseRecoverer // recovers expired leases (recover.go), unless RecoverDisabled
	admit   *admitter       // per-host limits (admit.go)
	release *releaser       // hands parked jobs back (release.go), with the fetcher
	limDone chan struct{}   // closed: the admitter's refresh loop stops
	limWG   sync.WaitGroup  // the refresh loop
	sweep   *sweeper        // started with the server (archive.go)
	beat    *fleetBeat      // the process's row in the fleet list (fleet.go)
	done    atomic.Int64    // outcomes recorded
}

// New builds the worker and its sessions; Start begins taking jobs.
func New(cfg Config) (*Worker, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	exec, err := httpexec.NewExecutor(cfg.Exec)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	p, err := newPool(cfg.Concurrency, cfg.NewSession, cfg.Initializer, cfg.AuthGenerator)
	if err != nil {
		return nil, err
	}
	return &Worker{
		cfg:   cfg,
		exec:  exec,
		pool:  p,
		rec:   recorder{rdb: cfg.Redis, ttl: cfg.BatchTTL},
		store: rdb.New(cfg.Redis),
		log:   cfg.Logger.With("worker", cfg.Name),
	}, nil
}

// Name is the worker's name as recorded in outcomes.
func (w *Worker) Name() string { return w.cfg.Name }

// Start begins taking jobs from the queues.
func (w *Worker) Start() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.servers != nil {
		return ErrStarted
	}
	newServer := func(shard, concurrency int) *asynq.Server {
		interval := shardCheckInterval(w.cfg.TaskCheckInterval, shard)
		if !w.cfg.AsynqProcessor {
			interval = max(interval, maintenanceCheckInterval) // the fetcher polls
		}
		return asynq.NewServerFromRedisClient(w.cfg.Redis, asynq.Config{
			Concurrency:       concurrency,
			Queues:            w.cfg.Queues,
			StrictPriority:    w.cfg.StrictPriority,
			TaskCheckInterval: interval,
			ShutdownTimeout:   w.cfg.ShutdownTimeout,
			Logger:            asynqLogger{w.log},
			LogLevel:          asynq.WarnLevel,
			ErrorHandler:      asynq.ErrorHandlerFunc(w.handleError),
			RetryDelayFunc:    asynqRetryDelay, // crash recovery: quick (archive.go); a retry policy's delay (retry.go)
			IsFailure:         isFailure,
			// A retry policy's delay honoured within a second or so.
			DelayedTaskCheckInterval: w.cfg.ForwardEvery,
		})
	}
	mux := asynq.NewServeMux()
	mux.HandleFunc(tasks.TypeRequest, w.processTask)
	if w.cfg.RecordBatch > 1 {
		// A linger holds a group's runners (the fetcher's: half its spare
		// ones at most) or, with asynq's processor, its sessions: none then.
		linger := max(w.cfg.RecordLinger, 0)
		if w.cfg.AsynqProcessor {
			linger = 0
		}
		w.batch = newBatcher(&w.rec, recordFlushers, w.cfg.RecordBatch, linger, w.cfg.Concurrency/2)
		_ = w.batch.Start(context.Background()) // a new batcher: cannot fail
	}
	// The fetcher runs without asynq servers: one beside it would take a
	// job now and then under asynq's own 30s lease, which no worker can
	// shorten, and a killed worker's such job would wait that long. The
	// fetcher writes its own entry in asynq's server list and the lease
	// recoverer (recover.go) does asynq's recoverer's work, every second.
	servers := []*asynq.Server{}
	var err error
	if w.cfg.AsynqProcessor {
		servers, err = startShards(newServer, mux, shardConcurrencies(w.cfg.Concurrency, w.cfg.Shards))
	}
	if err != nil {
		if w.batch != nil {
			_ = w.batch.Stop(context.Background()) // flushers with nothing in progress
		}
		return fmt.Errorf("start worker: %w", err)
	}
	w.servers = servers
	w.startLimits()
	if !w.cfg.AsynqProcessor {
		w.fetch = newFetcher(fetcherConfig{
			queues: w.cfg.Queues, strict: w.cfg.StrictPriority, concurrency: w.cfg.Concurrency,
			batch: w.cfg.FetchBatch, interval: w.cfg.TaskCheckInterval, shutdown: w.cfg.ShutdownTimeout,
			now: time.Now, log: w.log, identity: w.identity(),
			lease: w.cfg.Lease, extendEvery: w.cfg.LeaseRenew,
		}.withPrefetch(w.cfg.Prefetch), w.cfg.Redis, w.run)
		w.fetch.admit, w.fetch.nudge = w.admit, w.release.nudge
		_ = w.fetch.Start(context.Background()) // a new fetcher: cannot fail
		w.forward = newForwarder(w.store, w.cfg.Queues, w.cfg.ForwardEvery, time.Now, w.log)
		_ = w.forward.Start(context.Background()) // a new forwarder: cannot fail
	}
	w.startSweeper()
	if !w.cfg.RecoverDisabled {
		w.recov = newLeaseRecoverer(w.store, w.cfg.Queues, w.cfg.RecoverEvery, w.cfg.MaxCrashes, w.cfg.BatchTTL, w.cfg.Name, w.exec.Now, w.log)
		_ = w.recov.Start(context.Background()) // a new recoverer: cannot fail
	}
	w.startBeat()
	w.log.Info("worker started", "concurrency", w.cfg.Concurrency, "shards", len(servers), "queues", w.cfg.Queues)
	return nil
}

// startBeat starts the process's row in the fleet list.
func (w *Worker) startBeat() {
	host, _ := os.Hostname()
	st := rdb.FleetWorker{ID: uuid.NewString(), Name: w.cfg.Name, Host: host, PID: os.Getpid(), Queues: w.cfg.Queues,
		Sessions: w.cfg.Concurrency, Mode: "fetcher", Started: time.Now()}
	if w.cfg.AsynqProcessor {
		st.Mode, st.Shards = "asynq-processor", len(w.servers)
	}
	w.beat = &fleetBeat{store: w.store, state: st, done: &w.done, now: time.Now, log: w.log,
		busy: func() int { return w.cfg.Concurrency - len(w.pool.ch) }}
	_ = w.beat.Start(context.Background()) // a new beat: cannot fail
}

// identity is the fetcher's entry in asynq's server list. It shows the
// sessions less those of the asynq servers beside it (one job each), so
// that the process's entries add up to its sessions.
func (w *Worker) identity() serverIdentity {
	host, _ := os.Hostname()
	return serverIdentity{
		host: host, pid: os.Getpid(), id: uuid.NewString(),
		concurrency: w.cfg.Concurrency,
		queues:      w.cfg.Queues, strict: w.cfg.StrictPriority, started: time.Now(),
	}
}

// Shutdown stops taking jobs and lets those in flight finish for up to
// ShutdownTimeout; asynq hands back to the queue any that do not. It returns
// early with ctx's error if ctx ends first (the shutdown goes on).
func (w *Worker) Shutdown(ctx context.Context) error {
	w.mu.Lock()
	srvs := w.servers
	w.mu.Unlock()
	if srvs == nil {
		w.pool.close()
		return nil
	}
	// A sweep still running past ctx finishes in the background; the rest of
	// the shutdown goes on all the same.
	_ = w.stopSweeper(ctx)
	w.mu.Lock()
	recov, fwd, beat := w.recov, w.forward, w.beat
	w.mu.Unlock()
	_ = recov.Stop(ctx)
	w.stopLimits(ctx)
	_ = fwd.Stop(ctx)
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		if w.fetch != nil {
			wg.Go(func() {
				if w.fetch.Stop(ctx) != nil {
					// ctx ended: the jobs in flight were cancelled; the
					// requeue goes on here, past Shutdown's return.
					<-w.fetch.life.Done()
				}
			})
		}
		shutdownShards(srvs)
		wg.Wait()
		if w.batch != nil {
			// After the shards and the fetcher: their jobs in flight have
			// recorded. This runs past Shutdown's ctx (it returns at once
			// then): the flushers' calls in progress are bounded by the
			// client's timeouts.
			_ = w.batch.Stop(context.WithoutCancel(ctx))
		}
		w.pool.close()
		// Last: the row shows the worker while it finishes its jobs. Its
		// stop is bounded by the beat's own timeouts (4s at most).
		_ = beat.Stop(context.WithoutCancel(ctx))
		close(done)
	}()
	select {
	case <-done:
		w.log.Info("worker stopped")
		return nil
	case <-ctx.Done():
		return fmt.Errorf("worker shutdown: %w", ctx.Err())
	}
}

// Run starts the worker and shuts it down when ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.ShutdownTimeout+10*time.Second)
	defer cancel()
	return w.Shutdown(sctx)
}

// processTask is the asynq handler: one job, one attempt, one outcome.
func (w *Worker) processTask(ctx context.Context, at *asynq.Task) error {
	queue, _ := asynq.GetQueueName(ctx)
	if n, _ := asynq.GetRetryCount(ctx); n > 0 && w.recordedBefore(ctx, queue, at.Payload()) {
		return nil // asynq finishes it
	}
	return w.process(ctx, queue, at.Payload())
}

// recordedBefore says whether a job asynq's processor runs again (its
// worker was lost, or a recoverer retried it) already has its outcome, so
// that its request is not sent twice; the fetcher's twin finishes the task
// in the same script. On an error it says no: the job runs, and the
// record's dedupe keeps one outcome.
func (w *Worker) recordedBefore(ctx context.Context, queue string, payload []byte) bool {
	t, err := tasks.DecodeTask(payload)
	if err != nil {
		return false // process archives it
	}
	seen, err := w.store.Recorded(ctx, queue, t.Batch, t.OutcomeKey())
	if err != nil {
		w.log.Warn("checking a rerun job's outcome failed; running it", "queue", queue, "batch", t.Batch, "id", t.Job.ID, "err", err)
		return false
	}
	if seen {
		w.log.Info("outcome recorded before; not sent again", "queue", queue, "batch", t.Batch, "id", t.Job.ID, "attempt", t.Attempt)
	}
	return seen
}

func (w *Worker) process(ctx context.Context, queue string, payload []byte) error {
	start := time.Now()
	t, err := tasks.DecodeTask(payload)
	if err != nil {
		// Without a batch and an id there is nowhere to record it: asynq
		// archives it, where the fleet's archive sweep finds it.
		return fmt.Errorf("%w: %w", asynq.SkipRetry, err)
	}
	return w.run(ctx, queue, t, start, nil, nil)
}

// run sends the job's request on a session from the pool, calls sent (if
// not nil) once the session is back, and records its outcome (finishing a
// fetched task with it, when a != nil).
func (w *Worker) run(ctx context.Context, queue string, t tasks.Task, start time.Time, a *ack, sent func()) error {
	s, err := w.pool.get(ctx)
	if err != nil {
		return err
	}
	at := time.Now()
	out, err := w.exec.Do(ctx, s, t)
	w.pool.put(s)
	if sent != nil {
		sent()
	}
	if err != nil {
		return err // shutting down: the job goes back to the queue
	}
	w.admit.observe(ctx, t, out, time.Since(at)) // Retry-After pauses, adaptive throttling (admit.go)
	if a != nil {
		withThrottled(out, a.throttled)
	}
	if t.Job.Retries == nil {
		return w.record(ctx, queue, t, out, start, a)
	}
	out, again, err := w.afterTry(ctx, queue, t, out, a) // retry.go
	if again {
		return err // tried again later: nothing to record
	}
	if err = w.record(ctx, queue, t, out, start, a); err == nil && retried(out) {
		w.dropTries(ctx, queue, a)
	}
	return err
}

// record keeps trying while Redis is unreachable, for up to RecordTimeout,
// even past a shutdown: the request was sent, its outcome must not be lost.
// If it still fails the error goes to asynq, which runs the job again later;
// the dedupe in the record script keeps that to one outcome.
func (w *Worker) record(ctx context.Context, queue string, t tasks.Task, out tasks.Outcome, start time.Time, a *ack) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.RecordTimeout)
	defer cancel()
	delay := 50 * time.Millisecond
	for {
		fresh, err := w.recordOnce(ctx, queue, t, out, a)
		if err == nil {
			if !fresh {
				w.log.Info("duplicate run, outcome already recorded", "batch", t.Batch, "id", t.Job.ID, "attempt", t.Attempt)
			} else {
				w.done.Add(1)
				if w.cfg.OnOutcome != nil {
					w.cfg.OnOutcome(queue, out, time.Since(start))
				}
			}
			return nil
		}
		w.log.Warn("recording outcome failed, retrying", "batch", t.Batch, "id", t.Job.ID, "err", err)
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%w (gave up after %v)", err, w.cfg.RecordTimeout)
		}
		delay = min(2*delay, 2*time.Second)
	}
}

func (w *Worker) handleError(ctx context.Context, at *asynq.Task, err error) {
	id, _ := asynq.GetTaskID(ctx)
	if !isFailure(err) {
		w.log.Debug("job tried again later by its retry policy", "task", id, "why", err)
		return
	}
	w.log.Error("job failed in the worker", "task", id, "err", err)
}
