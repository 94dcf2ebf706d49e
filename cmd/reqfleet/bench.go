package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"time"

	"github.com/reqfleet/reqfleet/bench"
)

func (a *app) runBench(ctx context.Context, args []string) error {
	fs := a.newFlags("bench", "[flags]")
	var cfg bench.Config
	fs.StringVar(&cfg.RedisURL, "redis", "", use("redis", " to use (default: start redis-server from PATH on a free loopback port, and stop it after)"))
	fs.IntVar(&cfg.Jobs, "n", 100000, use("n"))
	fs.IntVar(&cfg.Workers, "workers", 1, use("workers"))
	perWorker := 64
	concurrencyFlags(fs, &perWorker, perWorker, " (in each worker process, as worker -c; the raw ceiling gets as many clients as the workers have sessions in all)")
	const passed = " (passed to the workers; default: the worker's)"
	fs.IntVar(&cfg.Shards, "shards", 0, use("shards", passed))
	fs.IntVar(&cfg.RecordBatch, "record-batch", 0, use("record-batch", passed))
	linger := durationFlag(0)
	fs.Var(&linger, "record-linger", use("record-linger", passed))
	fs.IntVar(&cfg.FetchBatch, "fetch-batch", 0, use("fetch-batch", passed))
	fs.IntVar(&cfg.Prefetch, "prefetch", 0, use("prefetch", passed))
	fs.BoolVar(&cfg.AsynqProcessor, "asynq-processor", false, use("asynq-processor", " (passed to the workers)"))
	forceLayout := forceLayoutFlag(fs)
	fs.IntVar(&cfg.Rounds, "rounds", 3, use("rounds"))
	fs.IntVar(&cfg.BodySize, "body", 64, use("body"))
	fs.IntVar(&cfg.IdleProbes, "idle-probes", 20, use("idle-probes"))
	fs.IntVar(&cfg.LatencyJobs, "latency-jobs", 3000, use("latency-jobs"))
	fs.Float64Var(&cfg.LatencyRate, "latency-rate", 0, use("latency-rate", " (default: half the median end-to-end rate)"))
	check := durationFlag(0)
	fs.Var(&check, "task-check-interval", use("task-check-interval", passed))
	maxTime := durationFlag(10 * time.Minute)
	fs.Var(&maxTime, "max-time", use("max-time"))
	round := durationFlag(0)
	fs.Var(&round, "round-timeout", use("round-timeout", " (default: the rest of --max-time)"))
	fs.IntVar(&cfg.WorkerGOMAXPROCS, "worker-gomaxprocs", 0, use("worker-gomaxprocs", " (default: each its share of the CPUs, CPUs/--workers and at least 1, as that many machines would run them; the ceiling's client runs with Go's default)"))
	fs.StringVar(&cfg.CPUProfileDir, "cpuprofile-dir", "", use("cpuprofile-dir"))
	inProcess := fs.Bool("in-process", false, use("in-process"))
	ceilingOf := fs.String("ceiling-of", "", use("ceiling-of"))
	asJSON := fs.Bool("json", false, use("json", ": the result, instead of a table"))
	quiet := quietFlag(fs)
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr(fs, "unexpected argument %q", pos[0])
	}
	if cfg.Jobs < 1 || cfg.Workers < 1 || perWorker < 1 || cfg.Rounds < 1 || cfg.Shards < 0 || cfg.FetchBatch < 0 {
		return usageErr(fs, "-n, --workers, -c and --rounds must be at least 1; --shards and --fetch-batch must not be negative")
	}
	cfg.Concurrency = perWorker * cfg.Workers // bench.Config's is in all
	if *ceilingOf != "" {
		rate, err := bench.Ceiling(ctx, *ceilingOf, cfg.Jobs, cfg.Concurrency)
		if err != nil {
			return err
		}
		return json.NewEncoder(a.stdout).Encode(map[string]float64{"ceiling_jobs_per_s": rate})
	}
	cfg.ForceAsynqLayout = *forceLayout
	cfg.CheckEvery, cfg.MaxTime, cfg.RoundTimeout = time.Duration(check), time.Duration(maxTime), time.Duration(round)
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "record-linger" {
			cfg.RecordLinger = noneIfZero(time.Duration(linger))
		}
	})
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
