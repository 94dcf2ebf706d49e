package main

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"time"

	"github.com/reqfleet/reqfleet/bench"
)

func (a *app) runBench(ctx context.Context, args []string) error {
	fs := a.newFlags("bench", "[flags]")
	var cfg bench.Config
	fs.StringVar(&cfg.RedisURL, "redis", "", "Redis URL to use (default: start redis-server from PATH on a free loopback port, and stop it after)")
	fs.IntVar(&cfg.Jobs, "n", 100000, "jobs a round")
	fs.IntVar(&cfg.Workers, "workers", 1, "worker processes")
	fs.IntVar(&cfg.Concurrency, "c", 64, "sessions in all, split among the workers; the ceiling's clients too")
	fs.IntVar(&cfg.Shards, "shards", 0, "asynq servers per worker process (default: the worker's)")
	fs.IntVar(&cfg.RecordBatch, "record-batch", 0, "the workers' --record-batch (default: the worker's)")
	fs.IntVar(&cfg.FetchBatch, "fetch-batch", 0, "the workers' --fetch-batch (default: the worker's)")
	fs.IntVar(&cfg.Prefetch, "prefetch", 0, "the workers' --prefetch, -1 for none (default: the worker's)")
	fs.BoolVar(&cfg.AsynqProcessor, "asynq-processor", false, "the workers run jobs through asynq's processor (--asynq-processor), not the fetcher")
	forceLayout := forceLayoutFlag(fs)
	fs.IntVar(&cfg.Rounds, "rounds", 3, "ceiling/reqfleet round pairs")
	fs.IntVar(&cfg.BodySize, "body", 64, "bytes of the target's response body")
	fs.IntVar(&cfg.IdleProbes, "idle-probes", 20, "jobs enqueued one at a time into the idle fleet, for the pickup latency")
	fs.IntVar(&cfg.LatencyJobs, "latency-jobs", 3000, "jobs of the paced latency phase")
	fs.Float64Var(&cfg.LatencyRate, "latency-rate", 0, "jobs/s of the latency phase (default: half the median end-to-end rate)")
	check := durationFlag(0)
	fs.Var(&check, "task-check-interval", "the workers' idle poll interval (default: the worker's)")
	maxTime := durationFlag(10 * time.Minute)
	fs.Var(&maxTime, "max-time", "bound on the whole run")
	round := durationFlag(0)
	fs.Var(&round, "round-timeout", "bound on one round (default: the rest of --max-time)")
	workerProcs := fs.Int("worker-gomaxprocs", 0, "GOMAXPROCS of the worker processes (default: Go's, the number of CPUs)")
	fs.StringVar(&cfg.CPUProfileDir, "cpuprofile-dir", "", "directory where each worker process writes its CPU profile, worker-N.pprof (go tool pprof)")
	inProcess := fs.Bool("in-process", false, "run the workers and the enqueuer in the bench process, not as reqfleet processes")
	ceilingOf := fs.String("ceiling-of", "", "run only the ceiling's client against this URL (-n requests, -c clients) and print its rate as JSON: the bench runs its ceiling so, as a process of its own, to measure its CPU")
	asJSON := fs.Bool("json", false, "print the result as JSON instead of a table")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr(fs, "unexpected argument %q", pos[0])
	}
	if cfg.Jobs < 1 || cfg.Workers < 1 || cfg.Concurrency < 1 || cfg.Rounds < 1 || cfg.Shards < 0 || cfg.FetchBatch < 0 {
		return usageErr(fs, "-n, --workers, -c and --rounds must be at least 1; --shards and --fetch-batch must not be negative")
	}
	if *ceilingOf != "" {
		rate, err := bench.Ceiling(ctx, *ceilingOf, cfg.Jobs, cfg.Concurrency)
		if err != nil {
			return err
		}
		return json.NewEncoder(a.stdout).Encode(map[string]float64{"ceiling_jobs_per_s": rate})
	}
	cfg.ForceAsynqLayout = *forceLayout
	cfg.CheckEvery, cfg.MaxTime, cfg.RoundTimeout = time.Duration(check), time.Duration(maxTime), time.Duration(round)
	if *workerProcs > 0 {
		cfg.WorkerEnv = append(cfg.WorkerEnv, "GOMAXPROCS="+strconv.Itoa(*workerProcs))
	}
	if cfg.CPUProfileDir != "" && *inProcess {
		return usageErr(fs, "--cpuprofile-dir needs worker processes, not --in-process")
	}
	if !*inProcess {
		if cfg.Exe, err = os.Executable(); err != nil {
			return err
		}
	}
	if !*quiet {
		cfg.Log = a.stderr
	}
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return res.WriteTable(a.stdout)
}
