// Package bench measures a reqfleet fleet on one machine: a real Redis on
// loopback, a local HTTP target, N jobs enqueued from a file, W worker
// processes, and the raw ceiling of the same target hit by a plain pool of
// Go http.Clients with the same concurrency, run alternately with reqfleet
// in the same invocation so that their ratio holds on a noisy machine.
//
// `reqfleet bench` is its command; Run is the whole of it.
package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/enqueuer"
	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/redisconn"
	"github.com/reqfleet/reqfleet/tasks"
	"github.com/reqfleet/reqfleet/worker"
)

// Config of a bench run. Zero fields take the defaults in brackets.
type Config struct {
	// Exe is the reqfleet binary run as `reqfleet worker` (W processes) and
	// `reqfleet enqueue` (one per round), so that their RSS is their own.
	// Empty runs the workers and the enqueuer inside this process instead.
	Exe string

	RedisURL    string // a Redis to use; empty starts RedisServer on a free loopback port
	RedisServer string // [redis-server]

	Jobs        int // jobs per round [100000]
	Workers     int // worker processes [1]
	Concurrency int // sessions in all, split among the workers; also the ceiling's clients [64]
	Shards      int // asynq servers per worker process [the worker's default]
	RecordBatch int // outcomes per record call in the workers [the worker's default]
	// RecordLinger is how long a record call under load waits for more
	// outcomes in the workers [the worker's default]; negative: never.
	RecordLinger time.Duration
	FetchBatch   int // jobs per fetch call in the workers [the worker's default]
	Prefetch     int // the workers' prefetch; -1 none [the worker's default]
	// AsynqProcessor runs the workers' jobs through asynq's processor, not
	// the fetcher.
	AsynqProcessor bool
	// WorkerGOMAXPROCS is the GOMAXPROCS of each worker process; default
	// (0) its share of the CPUs Go gives the bench (its GOMAXPROCS, which
	// follows a container's limit) over Workers, at least 1, as N
	// machines or containers of that share would run them (Go's own
	// default, NumCPU, gives each of 4 processes on 2 CPUs 2 Ps: 8 on 2
	// cores). The ceiling's client, one process, runs with Go's default.
	WorkerGOMAXPROCS int
	Rounds           int           // ceiling/reqfleet round pairs [3]
	BodySize         int           // bytes of the target's body [64]
	AsynqClient      bool          // enqueue through asynq's Client instead of the fast path
	CheckEvery       time.Duration // the workers' task check interval [the worker's default]
	// CPUProfileDir, when set, has each worker process write its CPU
	// profile, from its start to its stop, to worker-N.pprof there.
	CPUProfileDir string
	// ForceAsynqLayout keeps the fetcher and the enqueue fast path whatever
	// asynq is linked (--force-asynq-layout).
	ForceAsynqLayout bool

	IdleProbes  int           // jobs enqueued one at a time into the idle fleet, for the pickup latency [20]
	IdleWindow  time.Duration // how long the idle fleet's CPU is measured [3s]
	LatencyJobs int           // jobs of the paced latency phase [3000]
	LatencyRate float64       // jobs/s of that phase [half the median end-to-end rate]

	MaxTime      time.Duration // the whole run's bound [10m]
	RoundTimeout time.Duration // one round's bound [the rest of MaxTime]

	Log io.Writer // progress lines [discard]
}

func (c *Config) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Jobs, 100000)
	def(&c.Workers, 1)
	def(&c.Concurrency, 64)
	def(&c.WorkerGOMAXPROCS, max(runtime.GOMAXPROCS(0)/c.Workers, 1))
	def(&c.Rounds, 3)
	def(&c.BodySize, 64)
	def(&c.IdleProbes, 20)
	def(&c.LatencyJobs, 3000)
	if c.RedisServer == "" {
		c.RedisServer = "redis-server"
	}
	if c.IdleWindow <= 0 {
		c.IdleWindow = 3 * time.Second
	}
	if c.MaxTime <= 0 {
		c.MaxTime = 10 * time.Minute
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	c.Concurrency = max(c.Concurrency, c.Workers)
}

// Result is what Run measured. Rates are jobs per second, latencies
// milliseconds, memory bytes; medians are over the rounds.
type Result struct {
	Jobs        int    `json:"jobs"`
	Workers     int    `json:"workers"`
	Concurrency int    `json:"concurrency"`
	Shards      int    `json:"shards,omitempty"`
	EnqueuePath string `json:"enqueue_path"`
	WorkerPath  string `json:"worker_path"` // "fetcher" or "asynq-processor"
	InProcess   bool   `json:"in_process,omitempty"`
	CPUs        int    `json:"cpus"`
	// WorkerGOMAXPROCS is each worker process's (Config's); 0 in-process.
	WorkerGOMAXPROCS int `json:"worker_gomaxprocs,omitempty"`

	Rounds []Round `json:"rounds"`

	EnqueueRate      float64 `json:"enqueue_jobs_per_s"`          // median
	EndToEndRate     float64 `json:"end_to_end_jobs_per_s"`       // median
	CeilingRate      float64 `json:"ceiling_jobs_per_s"`          // median
	Ratio            float64 `json:"ratio"`                       // median of each round's end to end / its ceiling
	RedisBytesPerJob float64 `json:"redis_bytes_per_pending_job"` // median

	LatencyRate float64 `json:"latency_jobs_per_s"` // the paced phase's rate
	LatencyJobs int     `json:"latency_jobs"`
	LatencyP50  float64 `json:"latency_p50_ms"` // enqueued to outcome recorded
	LatencyP99  float64 `json:"latency_p99_ms"`

	PickupP50 float64 `json:"idle_pickup_p50_ms"` // enqueued into the idle fleet to the request at the target
	PickupP99 float64 `json:"idle_pickup_p99_ms"`
	PickupMax float64 `json:"idle_pickup_max_ms"`

	IdleWorkerCPU float64 `json:"idle_worker_cpu_pct"` // of one core, all workers together
	IdleRedisCPU  float64 `json:"idle_redis_cpu_pct"`

	WorkerPeakRSS   []int64 `json:"worker_peak_rss_bytes"`   // per worker process
	EnqueuerPeakRSS int64   `json:"enqueuer_peak_rss_bytes"` // the largest of the rounds'
	BenchPeakRSS    int64   `json:"bench_peak_rss_bytes"`    // this process (the target, the ceiling; in-process mode: everything)
}

// Round is one ceiling run and one reqfleet run, back to back.
type Round struct {
	Ceiling          float64 `json:"ceiling_jobs_per_s"`
	Enqueue          float64 `json:"enqueue_jobs_per_s"`
	EndToEnd         float64 `json:"end_to_end_jobs_per_s"` // the queue's N pending jobs, worked to their recorded outcomes
	Ratio            float64 `json:"ratio"`
	RedisBytesPerJob float64 `json:"redis_bytes_per_pending_job"`
	EnqueuerPeakRSS  int64   `json:"enqueuer_peak_rss_bytes,omitempty"`
	WorkerCPUPerJob  float64 `json:"worker_cpu_us_per_job,omitempty"` // all worker processes
	RedisCPUPerJob   float64 `json:"redis_cpu_us_per_job"`
	BenchCPUPerJob   float64 `json:"bench_cpu_us_per_job"` // the target's share (and the enqueuer's in-process)
	// CeilingCPUPerReq is the ceiling's client process's CPU per request
	// (not measured in-process: 0).
	CeilingCPUPerReq float64 `json:"ceiling_client_cpu_us_per_req,omitempty"`
	// CeilingTargetCPUPerReq is the target's CPU per request of the
	// ceiling (this process's, with the client in its own).
	CeilingTargetCPUPerReq float64 `json:"ceiling_target_cpu_us_per_req,omitempty"`
	// CPURatio is the ratio the CPU per job gives: the ceiling's client and
	// target against reqfleet's workers, Redis and target. It is what the
	// ratio comes to on a machine whose cores are all the bench's, and it
	// holds when other work shares them (the rates do not).
	CPURatio float64 `json:"cpu_ratio,omitempty"`
	Errors   int64   `json:"exceptions,omitempty"`
}

// run is one invocation's state.
type run struct {
	cfg   Config
	res   Result
	rdb   redis.UniversalClient
	url   string
	queue string
	tgt   *target
	insp  *asynq.Inspector
	enq   *enqueuer.Enqueuer // the bench's own: probes and the paced phase
	file  string             // the job file
	dir   string

	workers   []*child
	inproc    []*worker.Worker
	stopRedis func()
	log       func(format string, args ...any)
}

// Run runs the bench and returns its figures. It starts (and always stops)
// its Redis when it is given none, the target, and the workers; every wait
// is bounded by cfg.MaxTime.
func Run(ctx context.Context, cfg Config) (res *Result, err error) {
	cfg.defaults()
	if cfg.AsynqClient && cfg.Exe != "" {
		return nil, errors.New("bench: AsynqClient needs the in-process enqueuer (no Exe)")
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.MaxTime)
	defer cancel()
	r := &run{cfg: cfg, log: func(format string, args ...any) {
		fmt.Fprintf(cfg.Log, "bench: "+format+"\n", args...)
	}}
	r.res = Result{Jobs: cfg.Jobs, Workers: cfg.Workers, Concurrency: cfg.Concurrency, Shards: cfg.Shards,
		EnqueuePath: "fast", WorkerPath: "fetcher", InProcess: cfg.Exe == "", CPUs: runtime.NumCPU()}
	if cfg.Exe != "" {
		r.res.WorkerGOMAXPROCS = cfg.WorkerGOMAXPROCS
	}
	if cfg.AsynqProcessor {
		r.res.WorkerPath = "asynq-processor"
	}
	if cfg.AsynqClient {
		r.res.EnqueuePath = "asynq-client"
	}
	defer r.cleanup()
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	if err := r.startWorkers(ctx); err != nil {
		return nil, err
	}
	if err := r.idle(ctx); err != nil {
		return nil, err
	}
	for i := range cfg.Rounds {
		rd, err := r.round(ctx, i+1)
		if err != nil {
			return nil, err
		}
		r.res.Rounds = append(r.res.Rounds, rd)
	}
	r.summarize()
	if err := r.latency(ctx); err != nil {
		return nil, err
	}
	r.stopWorkers()
	r.res.BenchPeakRSS = procPeakRSS(os.Getpid())
	return &r.res, nil
}

func (r *run) setup(ctx context.Context) error {
	url := r.cfg.RedisURL
	if url == "" {
		s, err := startRedis(ctx, r.cfg.RedisServer)
		if err != nil {
			return err
		}
		r.stopRedis = s.stop
		url = "redis://" + s.addr
		r.log("redis-server on %s", s.addr)
	}
	r.url = url
	rdb, err := redisconn.Open(url, r.cfg.Concurrency+64)
	if err != nil {
		return err
	}
	r.rdb = rdb
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	r.queue = fmt.Sprintf("bench-%08x", rand.Uint32())
	r.insp = asynq.NewInspectorFromRedisClient(rdb)
	if r.tgt, err = startTarget(r.cfg.BodySize); err != nil {
		return err
	}
	if r.dir, err = os.MkdirTemp("", "reqfleet-bench-"); err != nil {
		return err
	}
	r.file = filepath.Join(r.dir, "jobs.jsonl")
	if err := writeJobs(r.file, r.tgt.url, r.cfg.Jobs); err != nil {
		return err
	}
	r.enq, err = enqueuer.New(enqueuer.Config{Redis: rdb, Queue: r.queue, AsynqClient: r.cfg.AsynqClient, ForceAsynqLayout: r.cfg.ForceAsynqLayout, Concurrency: 64})
	return err
}

// writeJobs writes n jobs, one JSON object a line, all GETs of the target.
func writeJobs(path, url string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	line := []byte(`{"url": "` + url + `"}` + "\n")
	for range n {
		_, _ = w.Write(line)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (r *run) cleanup() {
	r.stopWorkers()
	if r.enq != nil {
		_ = r.enq.Close()
	}
	if r.rdb != nil {
		if r.stopRedis == nil { // a Redis of the user's: leave no keys behind
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			r.dropKeys(ctx)
			_ = r.insp.DeleteQueue(r.queue, true)
			r.dropMatching(ctx, rdb.AsynqQueuePattern(r.queue)) // its stats counters too
			cancel()
		}
		_ = r.rdb.Close()
	}
	if r.tgt != nil {
		r.tgt.close()
	}
	if r.stopRedis != nil {
		r.stopRedis()
	}
	if r.dir != "" {
		os.RemoveAll(r.dir)
	}
}

// dropKeys deletes the bench queue's reqfleet keys.
func (r *run) dropKeys(ctx context.Context) { r.dropMatching(ctx, rdb.QueuePattern(r.queue)) }

func (r *run) dropMatching(ctx context.Context, pattern string) {
	iter := r.rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		r.rdb.Unlink(ctx, iter.Val())
	}
}

func (r *run) workerShare(i int) int {
	c := r.cfg.Concurrency / r.cfg.Workers
	if i < r.cfg.Concurrency%r.cfg.Workers {
		c++
	}
	return c
}

func (r *run) startWorkers(ctx context.Context) error {
	for i := range r.cfg.Workers {
		c := r.workerShare(i)
		if r.cfg.Exe == "" {
			w, err := worker.New(worker.Config{Redis: r.rdb, Queues: map[string]int{r.queue: 1}, Concurrency: c,
				Shards: r.cfg.Shards, RecordBatch: r.cfg.RecordBatch, RecordLinger: r.cfg.RecordLinger, FetchBatch: r.cfg.FetchBatch, Prefetch: r.cfg.Prefetch, AsynqProcessor: r.cfg.AsynqProcessor, ForceAsynqLayout: r.cfg.ForceAsynqLayout, TaskCheckInterval: r.cfg.CheckEvery, ShutdownTimeout: 5 * time.Second,
				Name: fmt.Sprintf("bench-%d", i+1), Sweep: worker.SweepConfig{Disabled: true}})
			if err == nil {
				err = w.Start()
			}
			if err != nil {
				return err
			}
			r.inproc = append(r.inproc, w)
			continue
		}
		args := []string{"worker", "--redis", r.url, "--queue", r.queue, "-c", strconv.Itoa(c),
			"--log-level", "error", "--shutdown-timeout", "5s", "--name", fmt.Sprintf("bench-%d", i+1)}
		if r.cfg.Shards > 0 {
			args = append(args, "--shards", strconv.Itoa(r.cfg.Shards))
		}
		if r.cfg.CheckEvery > 0 {
			args = append(args, "--task-check-interval", r.cfg.CheckEvery.String())
		}
		if r.cfg.RecordBatch > 0 {
			args = append(args, "--record-batch", strconv.Itoa(r.cfg.RecordBatch))
		}
		if r.cfg.RecordLinger != 0 {
			args = append(args, "--record-linger", max(r.cfg.RecordLinger, 0).String())
		}
		if r.cfg.FetchBatch > 0 {
			args = append(args, "--fetch-batch", strconv.Itoa(r.cfg.FetchBatch))
		}
		if r.cfg.Prefetch != 0 {
			args = append(args, "--prefetch", strconv.Itoa(r.cfg.Prefetch))
		}
		if r.cfg.ForceAsynqLayout {
			args = append(args, "--force-asynq-layout")
		}
		if r.cfg.AsynqProcessor {
			args = append(args, "--asynq-processor")
		}
		if r.cfg.CPUProfileDir != "" {
			args = append(args, "--cpuprofile", filepath.Join(r.cfg.CPUProfileDir, fmt.Sprintf("worker-%d.pprof", i+1)))
		}
		ch, err := startChild(fmt.Sprintf("worker %d", i+1), r.cfg.Exe, args, []string{"GOMAXPROCS=" + strconv.Itoa(r.cfg.WorkerGOMAXPROCS)})
		if err != nil {
			return err
		}
		r.workers = append(r.workers, ch)
	}
	r.log("%d workers, %d sessions in all", r.cfg.Workers, r.cfg.Concurrency)
	// Warm up: one job through the fleet shows it is taking jobs.
	b, err := r.enq.NewBatch(ctx)
	if err != nil {
		return err
	}
	if _, err := b.Add(ctx, tasks.Job{URL: r.tgt.url}); err != nil {
		return err
	}
	if err := b.Seal(ctx); err != nil {
		return err
	}
	return r.waitBatch(ctx, b.ID(), 1, 60*time.Second)
}

func (r *run) stopWorkers() {
	if len(r.workers) > 0 && r.res.WorkerPeakRSS == nil {
		r.res.WorkerPeakRSS = make([]int64, len(r.workers))
	}
	var wg sync.WaitGroup
	for i, w := range r.workers {
		wg.Go(func() {
			rss := w.maxRSS()
			w.stop(15 * time.Second)
			r.res.WorkerPeakRSS[i] = rss
		})
	}
	wg.Wait()
	r.workers = nil
	for _, w := range r.inproc {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		_ = w.Shutdown(ctx)
		cancel()
	}
	r.inproc = nil
}

// workerCPU is the worker processes' CPU time so far (in-process: this
// process's).
func (r *run) workerCPU() time.Duration {
	if r.cfg.Exe == "" {
		return 0
	}
	var d time.Duration
	for _, w := range r.workers {
		d += procCPU(w.pid())
	}
	return d
}

func (r *run) checkWorkers() error {
	for _, w := range r.workers {
		if w.exited() {
			return fmt.Errorf("%s exited: %v\n%s", w.name, w.err, w.output())
		}
	}
	return nil
}

// batchPoll is how often waitBatch reads the batch's count: a round's end
// is known to within it (0.2% of a 5 s round), and its reads cost Redis
// and the bench process (whose CPU is the target's) little next to the
// workers' calls (at 2 ms they were a third of the calls Redis answered).
const batchPoll = 10 * time.Millisecond

// waitBatch polls the batch until done reaches n.
func (r *run) waitBatch(ctx context.Context, batch string, n int64, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	key := rdb.BatchKey(r.queue, batch)
	for {
		done, err := r.rdb.HGet(ctx, key, rdb.BatchDone).Int64()
		if err == nil && done >= n {
			return nil
		}
		if err := r.checkWorkers(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("batch %s: %d of %d outcomes: %w", batch, done, n, ctx.Err())
		case <-time.After(batchPoll):
		}
	}
}

// idle measures the idle fleet: its CPU, then the pickup latency of jobs
// enqueued one at a time.
func (r *run) idle(ctx context.Context) error {
	time.Sleep(500 * time.Millisecond) // let the warm-up's work settle
	w0, b0 := r.workerCPU(), selfCPU()
	r0, err := redisCPU(ctx, r.rdb)
	if err != nil {
		return err
	}
	select {
	case <-time.After(r.cfg.IdleWindow):
	case <-ctx.Done():
		return ctx.Err()
	}
	r1, err := redisCPU(ctx, r.rdb)
	if err != nil {
		return err
	}
	w1, b1 := r.workerCPU(), selfCPU()
	pct := func(d time.Duration) float64 { return 100 * d.Seconds() / r.cfg.IdleWindow.Seconds() }
	if r.cfg.Exe == "" {
		r.res.IdleWorkerCPU = pct(b1 - b0)
	} else {
		r.res.IdleWorkerCPU = pct(w1 - w0)
	}
	r.res.IdleRedisCPU = pct(r1 - r0)
	r.log("idle CPU: workers %.1f%%, redis %.1f%% of a core", r.res.IdleWorkerCPU, r.res.IdleRedisCPU)

	b, err := r.enq.NewBatch(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = b.Seal(context.WithoutCancel(ctx)) }()
	var picks []float64
	for k := range r.cfg.IdleProbes {
		// A random pause, so the probes meet the pollers at random phases.
		select {
		case <-time.After(time.Duration(150+rand.IntN(250)) * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
		arrived := r.tgt.probe(k)
		t0 := time.Now()
		if _, err := b.Add(ctx, tasks.Job{URL: r.tgt.url + "probe/" + strconv.Itoa(k)}); err != nil {
			return err
		}
		select {
		case t1 := <-arrived:
			picks = append(picks, ms(t1.Sub(t0)))
		case <-time.After(10 * time.Second):
			return fmt.Errorf("idle probe %d: no request at the target after 10s", k)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.res.PickupP50, r.res.PickupP99, r.res.PickupMax = quantile(picks, 0.5), quantile(picks, 0.99), quantile(picks, 1)
	r.log("idle pickup: p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d probes)", r.res.PickupP50, r.res.PickupP99, r.res.PickupMax, len(picks))
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// round runs the ceiling, then reqfleet, on the same N jobs.
func (r *run) round(ctx context.Context, n int) (Round, error) {
	var rd Round
	if r.cfg.RoundTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.cfg.RoundTimeout)
		defer cancel()
	}
	t0cpu := selfCPU()
	c, ccpu, err := r.ceiling(ctx)
	if err != nil {
		return rd, err
	}
	rd.Ceiling = c
	if ccpu > 0 { // the client in its own process: this one's CPU is the target's
		perReq := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(r.cfg.Jobs) }
		rd.CeilingCPUPerReq, rd.CeilingTargetCPUPerReq = perReq(ccpu), perReq(selfCPU()-t0cpu)
	}
	r.log("round %d: ceiling %.0f jobs/s", n, c)

	// Pause the queue, enqueue, measure Redis, let the workers go.
	if err := r.insp.PauseQueue(r.queue); err != nil {
		return rd, err
	}
	mem0, err := usedMemory(ctx, r.rdb)
	if err != nil {
		return rd, err
	}
	batch, enqRate, rss, err := r.enqueueFile(ctx)
	if err != nil {
		_ = r.insp.UnpauseQueue(r.queue)
		return rd, err
	}
	rd.Enqueue, rd.EnqueuerPeakRSS = enqRate, rss
	mem1, err := usedMemory(ctx, r.rdb)
	if err != nil {
		return rd, err
	}
	rd.RedisBytesPerJob = float64(mem1-mem0) / float64(r.cfg.Jobs)
	w0, b0 := r.workerCPU(), selfCPU()
	r0, err := redisCPU(ctx, r.rdb)
	if err != nil {
		return rd, err
	}
	t0 := time.Now()
	if err := r.insp.UnpauseQueue(r.queue); err != nil {
		return rd, err
	}
	if err := r.waitBatch(ctx, batch, int64(r.cfg.Jobs), time.Until(deadline(ctx))); err != nil {
		return rd, err
	}
	el := time.Since(t0)
	r1, _ := redisCPU(ctx, r.rdb)
	w1, b1 := r.workerCPU(), selfCPU()
	perJob := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(r.cfg.Jobs) }
	rd.EndToEnd = float64(r.cfg.Jobs) / el.Seconds()
	rd.Ratio = rd.EndToEnd / rd.Ceiling
	rd.WorkerCPUPerJob, rd.RedisCPUPerJob, rd.BenchCPUPerJob = perJob(w1-w0), perJob(r1-r0), perJob(b1-b0)
	if all := rd.WorkerCPUPerJob + rd.RedisCPUPerJob + rd.BenchCPUPerJob; rd.CeilingCPUPerReq > 0 && all > 0 {
		rd.CPURatio = (rd.CeilingCPUPerReq + rd.CeilingTargetCPUPerReq) / all
	}
	rd.Errors, _ = r.rdb.HGet(ctx, rdb.BatchKey(r.queue, batch), rdb.BatchExceptions).Int64()
	if rd.Errors > 0 {
		line, _ := r.rdb.LIndex(ctx, rdb.ExceptionsKey(r.queue), 0).Result()
		r.log("round %d: %d exceptions, e.g. %.300s", n, rd.Errors, line)
	}
	r.log("round %d: enqueue %.0f jobs/s, end to end %.0f jobs/s (%.2f of the ceiling), redis %.0f B/pending job",
		n, rd.Enqueue, rd.EndToEnd, rd.Ratio, rd.RedisBytesPerJob)
	// Drop the round's outcomes, so rounds do not pile up in Redis.
	r.dropKeys(ctx)
	return rd, nil
}

func deadline(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(time.Hour)
}

// enqueueFile enqueues the job file as one batch: with `reqfleet enqueue`
// when the bench has the binary (its peak RSS is then the enqueuer's),
// else in this process.
func (r *run) enqueueFile(ctx context.Context) (batch string, rate float64, rss int64, err error) {
	t0 := time.Now()
	if r.cfg.Exe == "" {
		f, err := os.Open(r.file)
		if err != nil {
			return "", 0, 0, err
		}
		defer f.Close()
		e, err := enqueuer.New(enqueuer.Config{Redis: r.rdb, Queue: r.queue, AsynqClient: r.cfg.AsynqClient, ForceAsynqLayout: r.cfg.ForceAsynqLayout})
		if err != nil {
			return "", 0, 0, err
		}
		defer e.Close()
		rec, err := e.EnqueueMany(ctx, enqueuer.ReadJSONL(f, 0))
		if err != nil {
			return "", 0, 0, err
		}
		return rec.Batch, float64(rec.Accepted) / time.Since(t0).Seconds(), 0, nil
	}
	args := []string{"enqueue", "--redis", r.url, "--queue", r.queue, "--json", "--log-level", "error", r.file}
	if r.cfg.ForceAsynqLayout {
		args = slices.Insert(args, 1, "--force-asynq-layout")
	}
	c, err := startChild("enqueue", r.cfg.Exe, args, nil)
	if err != nil {
		return "", 0, 0, err
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		c.stop(time.Second)
		return "", 0, 0, ctx.Err()
	}
	el := time.Since(t0)
	if c.err != nil {
		return "", 0, 0, fmt.Errorf("reqfleet enqueue: %v\n%s", c.err, c.output())
	}
	var rec struct {
		Batch    string
		Accepted int
	}
	for line := range splitLines(c.output()) {
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Batch != "" {
			break
		}
	}
	if rec.Batch == "" || rec.Accepted != r.cfg.Jobs {
		return "", 0, 0, fmt.Errorf("reqfleet enqueue: accepted %d of %d jobs:\n%s", rec.Accepted, r.cfg.Jobs, c.output())
	}
	return rec.Batch, float64(r.cfg.Jobs) / el.Seconds(), c.maxRSS(), nil
}

func splitLines(s string) func(func(string) bool) {
	return func(yield func(string) bool) {
		sc := bufio.NewScanner(strings.NewReader(s))
		for sc.Scan() {
			if !yield(sc.Text()) {
				return
			}
		}
	}
}

// ceiling is the raw rate: Concurrency goroutines, each with its own
// http.Client (and Transport, as each reqfleet session), GET the target
// Jobs times in all, reading each body. With the binary it runs as its own
// process (`reqfleet bench --ceiling-of URL`), whose CPU time is then the
// plain client's alone (cpu > 0); in-process its CPU is not told apart
// from the target's (cpu 0).
func (r *run) ceiling(ctx context.Context) (rate float64, cpu time.Duration, err error) {
	if r.cfg.Exe == "" {
		rate, err := Ceiling(ctx, r.tgt.url, r.cfg.Jobs, r.cfg.Concurrency)
		return rate, 0, err
	}
	args := []string{"bench", "--ceiling-of", r.tgt.url, "-n", strconv.Itoa(r.cfg.Jobs), "-c", strconv.Itoa(r.cfg.Concurrency)}
	c, err := startChild("ceiling client", r.cfg.Exe, args, nil)
	if err != nil {
		return 0, 0, err
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		c.stop(time.Second)
		return 0, 0, ctx.Err()
	}
	if c.err != nil {
		return 0, 0, fmt.Errorf("ceiling client: %v\n%s", c.err, c.output())
	}
	var out struct {
		Rate float64 `json:"ceiling_jobs_per_s"`
	}
	if err := json.Unmarshal([]byte(c.output()), &out); err != nil || out.Rate <= 0 {
		return 0, 0, fmt.Errorf("ceiling client: no rate in %q", c.output())
	}
	return out.Rate, c.cpu(), nil
}

// Ceiling is the ceiling's client: conc goroutines, each with its own
// http.Client and Transport, GET url n times in all, reading each body; it
// returns the rate in requests per second.
func Ceiling(ctx context.Context, url string, n, conc int) (float64, error) {
	var next, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	t0 := time.Now()
	for range conc {
		wg.Go(func() {
			tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
			c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			defer tr.CloseIdleConnections()
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				resp, err := c.Get(url)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if k := failed.Load(); k > 0 {
		return 0, fmt.Errorf("ceiling: %d requests failed: %v", k, firstErr.Load())
	}
	return float64(n) / time.Since(t0).Seconds(), nil
}

// latency enqueues jobs at a steady rate, each carrying its enqueue time,
// and reads enqueued-to-recorded from their outcomes.
func (r *run) latency(ctx context.Context) error {
	rate := r.cfg.LatencyRate
	if rate <= 0 {
		rate = max(r.res.EndToEndRate/2, 10)
	}
	n := r.cfg.LatencyJobs
	r.res.LatencyRate, r.res.LatencyJobs = rate, n
	b, err := r.enq.NewBatch(ctx)
	if err != nil {
		return err
	}
	interval := time.Duration(float64(time.Second) / rate)
	t0 := time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	sem := make(chan struct{}, 256) // enqueue calls in flight, so a slow one does not hold the pace
	for i := range n {
		at := t0.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			now := time.Now()
			meta, _ := json.Marshal(map[string]int64{"t0": now.UnixNano()})
			if _, err := b.Add(ctx, tasks.Job{URL: r.tgt.url, Meta: meta}); err != nil {
				select {
				case errc <- err:
				default:
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	if err := b.Seal(ctx); err != nil {
		return err
	}
	if err := r.waitBatch(ctx, b.ID(), int64(n), time.Until(deadline(ctx))); err != nil {
		return err
	}
	lines, err := r.rdb.LRange(ctx, rdb.ResultsKey(r.queue), 0, -1).Result()
	if err != nil {
		return err
	}
	var lat []float64
	for _, l := range lines {
		var o struct {
			Batch   string `json:"batch"`
			Request struct {
				Meta struct {
					T0 int64 `json:"t0"`
				} `json:"meta"`
			} `json:"request"`
			FinishedAt time.Time `json:"finished_at"`
		}
		if json.Unmarshal([]byte(l), &o) != nil || o.Batch != b.ID() || o.Request.Meta.T0 == 0 {
			continue
		}
		lat = append(lat, ms(o.FinishedAt.Sub(time.Unix(0, o.Request.Meta.T0))))
	}
	if len(lat) < n {
		return fmt.Errorf("latency: %d of %d responses", len(lat), n)
	}
	r.res.LatencyP50, r.res.LatencyP99 = quantile(lat, 0.5), quantile(lat, 0.99)
	r.log("latency at %.0f jobs/s: p50 %.1f ms, p99 %.1f ms", rate, r.res.LatencyP50, r.res.LatencyP99)
	r.dropKeys(ctx)
	return nil
}

func (r *run) summarize() {
	pick := func(f func(Round) float64) float64 {
		var v []float64
		for _, rd := range r.res.Rounds {
			v = append(v, f(rd))
		}
		return quantile(v, 0.5)
	}
	r.res.CeilingRate = pick(func(x Round) float64 { return x.Ceiling })
	r.res.EnqueueRate = pick(func(x Round) float64 { return x.Enqueue })
	r.res.EndToEndRate = pick(func(x Round) float64 { return x.EndToEnd })
	r.res.Ratio = pick(func(x Round) float64 { return x.Ratio })
	r.res.RedisBytesPerJob = pick(func(x Round) float64 { return x.RedisBytesPerJob })
	for _, rd := range r.res.Rounds {
		r.res.EnqueuerPeakRSS = max(r.res.EnqueuerPeakRSS, rd.EnqueuerPeakRSS)
	}
}

// quantile is the q-quantile (nearest rank) of v; 0 for none.
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}
