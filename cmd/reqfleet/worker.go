package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/redisretry"
	"github.com/reqfleet/reqfleet/worker"
)

func (a *app) runWorker(ctx context.Context, args []string) error {
	fs := a.newFlags("worker", "[flags]")
	c := common{redisWait: durationFlag(30 * time.Second)} // as docker compose starts Redis and workers together
	a.commonFlagsLevel(fs, &c, ": redis://, rediss:// (TLS) or redis-sentinel:// (default $REQFLEET_REDIS, else "+defaultRedis+")", "info")
	var h httpFlags
	h.register(fs)
	queues := fs.String("queues", "", use("queues", ", with priorities, e.g. critical:6,default:3,low:1 (default: --queue)"))
	strict := fs.Bool("strict-priority", false, use("strict-priority"))
	shutdown := durationFlag(40 * time.Second)
	fs.Var(&shutdown, "shutdown-timeout", use("shutdown-timeout", " before it goes back to the queue"))
	name := fs.String("name", "", use("name", " (default host:pid)"))
	fetchBatch := fs.Int("fetch-batch", 0, use("fetch-batch", " (default 32)"))
	prefetch := fs.Int("prefetch", 0, use("prefetch", " (default: what the sessions finish in 10 ms, between a quarter of -c and -c, at most --fetch-batch)"))
	asynqProcessor := fs.Bool("asynq-processor", false, use("asynq-processor", ": one Redis call to take a job and one to finish it"))
	forceLayout := forceLayoutFlag(fs)
	shards := fs.Int("shards", 0, use("shards", " (default 1; with --asynq-processor one per 8 sessions, at most 8)"))
	recordBatch := fs.Int("record-batch", 0, use("record-batch", "; 1 records each on its own (default 64)"))
	linger := durationFlag(worker.DefaultRecordLinger)
	fs.Var(&linger, "record-linger", use("record-linger", "; 0 never waits"))
	checkEvery := durationFlag(0)
	fs.Var(&checkEvery, "task-check-interval", use("task-check-interval", " (default 50ms)"))
	lease, leaseRenew, recoverEvery := durationFlag(worker.DefaultLease), durationFlag(worker.DefaultLeaseRenew), durationFlag(worker.DefaultRecoverEvery)
	fs.Var(&lease, "lease", use("lease", "; a killed worker's jobs run again on another worker about this long after the kill (with --asynq-processor asynq's own 30s)"))
	fs.Var(&leaseRenew, "lease-renew", use("lease-renew", " (at most a third of --lease)"))
	fs.Var(&recoverEvery, "recover-every", use("recover-every"))
	cpuProfile := fs.String("cpuprofile", "", use("cpuprofile"))
	maxCrashes := fs.Int("max-crashes", worker.DefaultMaxCrashes, use("max-crashes", " before it is recorded as a WorkerCrashed exception instead of run again"))
	maxRetryAfter := durationFlag(worker.DefaultMaxRetryAfter)
	fs.Var(&maxRetryAfter, "max-retry-after", use("max-retry-after", ": the longest a job's retry policy waits for a server's Retry-After"))
	var lf limitFlags
	lf.register(fs)
	var ops workerOps
	ops.register(fs)
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr(fs, "unexpected argument %q", pos[0])
	}
	if err := c.check(fs); err != nil {
		return err
	}
	cfg := worker.Config{
		StrictPriority:  *strict,
		ShutdownTimeout: time.Duration(shutdown),
		Name:            *name,
		Logger:          a.logger(&c),
		RecordTimeout:   max(c.retryFor(), time.Second),
		Shards:          *shards,
		RecordBatch:     *recordBatch,
		RecordLinger:    noneIfZero(time.Duration(linger)),
		FetchBatch:      *fetchBatch,
		Prefetch:        *prefetch,
		AsynqProcessor:  *asynqProcessor,

		ForceAsynqLayout:  *forceLayout,
		TaskCheckInterval: time.Duration(checkEvery),

		Lease:        time.Duration(lease),
		LeaseRenew:   time.Duration(leaseRenew),
		RecoverEvery: time.Duration(recoverEvery),
		MaxCrashes:   *maxCrashes,

		MaxRetryAfter: time.Duration(maxRetryAfter),
	}
	switch {
	case lease < durationFlag(2*time.Second):
		return usageErr(fs, "--lease must be at least 2s")
	case leaseRenew <= 0 || leaseRenew > lease/3:
		return usageErr(fs, "--lease-renew must be above 0 and at most a third of --lease")
	case recoverEvery <= 0 || *maxCrashes < 1:
		return usageErr(fs, "--recover-every must be above 0 and --max-crashes at least 1")
	case maxRetryAfter <= 0:
		return usageErr(fs, "--max-retry-after must be above 0")
	}
	if *shards < 0 || *recordBatch < 0 || *fetchBatch < 0 || checkEvery < 0 {
		return usageErr(fs, "--shards, --record-batch, --fetch-batch and --task-check-interval must not be negative")
	}
	if cfg.Queues, err = parseQueues(*queues, c.queue); err != nil {
		return usageErr(fs, "--queues: %v", err)
	}
	if err := h.apply(fs, a.getenv, &cfg); err != nil {
		return err
	}
	if cfg.Limits, err = lf.config(fs); err != nil {
		return err
	}
	rdb, err := c.open(ctx, max(h.concurrency, 64)+16, cfg.Logger)
	if err != nil {
		return err
	}
	defer rdb.Close()
	cfg.Redis = rdb
	cfg.OnOutcome = ops.jobs.Observe
	cfg.Limits.OnThrottled = ops.throttled.Observe
	ops.forceLayout = *forceLayout
	w, err := worker.New(cfg)
	if err != nil {
		return err
	}
	gcPercent(a.getenv)
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	return ops.run(ctx, rdb, cfg.Queues, c.retryFor(), cfg.Logger, w.Run)
}

// workerGCPercent is the worker process's GOGC unless $GOGC is set: its
// live heap is small (tens of MiB at most for the default caps) and turns
// over with every job, so collecting at 100% spends CPU for little memory.
const workerGCPercent = 200

func gcPercent(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(workerGCPercent)
	}
}

func (c *common) redisURLOrDefault() string {
	if c.redisURL == "" {
		return defaultRedis
	}
	return c.redisURL
}

// parseQueues reads name:priority,... ; a name without a priority gets 1.
func parseQueues(s, fallback string) (map[string]int, error) {
	if s == "" {
		return map[string]int{fallback: 1}, nil
	}
	out := map[string]int{}
	for part := range strings.SplitSeq(s, ",") {
		name, prio, has := strings.Cut(strings.TrimSpace(part), ":")
		p := 1
		if has {
			n, err := strconv.Atoi(prio)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("priority of %q must be a whole number of at least 1", name)
			}
			p = n
		}
		if name == "" {
			return nil, fmt.Errorf("empty queue name in %q", s)
		}
		out[name] = p
	}
	return out, nil
}

// waitRedis pings until Redis answers or limit passes, so workers started
// with (or before) Redis, as in docker compose, do not die at once.
func waitRedis(ctx context.Context, rdb redis.UniversalClient, limit time.Duration, warn func(string, ...any)) error {
	start := time.Now()
	deadline := start.Add(limit)
	delay := 100 * time.Millisecond
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := rdb.Ping(pctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !redisretry.Transient(err) { // a wrong password, an untrusted certificate: waiting will not help
			return fmt.Errorf("Redis refused: %w", err)
		}
		if time.Now().Add(delay).After(deadline) {
			return fmt.Errorf("Redis unreachable: %w", err)
		}
		if time.Since(start) >= time.Second { // a Redis that is not there at all fails in one line
			warn("waiting for Redis", "err", err)
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// noneIfZero is a duration flag's 0 ("never") as the Config's negative, 0
// there being the default.
func noneIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
