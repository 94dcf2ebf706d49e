package main

import (
	"flag"
	"time"

	"github.com/reqfleet/reqfleet/limits"
	"github.com/reqfleet/reqfleet/worker"
)

// limitFlags are the worker's flags of the per-host limits (the limits
// themselves live in Redis: `reqfleet limits`).
type limitFlags struct {
	defaultRate   string
	defaultConc   int
	maxRetryAfter durationFlag
	autoThrottle  bool
}

func (l *limitFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.defaultRate, "default-rate", "", "rate limit of each host without a limit of its own (`reqfleet limits`), fleet-wide, e.g. 5/s (default: none)")
	fs.IntVar(&l.defaultConc, "default-concurrency", 0, "concurrency limit of each host without a limit of its own, fleet-wide (default: none)")
	l.maxRetryAfter = durationFlag(worker.DefaultMaxRetryAfter)
	fs.Var(&l.maxRetryAfter, "max-retry-after", "longest fleet-wide pause of a host a 429 or 503 with Retry-After sets; 0: Retry-After pauses nothing")
	fs.BoolVar(&l.autoThrottle, "auto-throttle", false, "adaptive throttling of every limited host (--default-rate included): its rate follows its latency and backs off on 429, 503 and timeouts, shared by the fleet")
}

func (l *limitFlags) config(fs *flag.FlagSet) (worker.LimitsConfig, error) {
	var c worker.LimitsConfig
	if l.defaultRate != "" {
		var err error
		if c.Default.Rate, c.Default.Per, err = limits.ParseRate(l.defaultRate); err != nil {
			return c, usageErr(fs, "--default-rate: %v", err)
		}
	}
	if l.defaultConc < 0 || l.defaultConc > limits.MaxConcurrency {
		return c, usageErr(fs, "--default-concurrency: 0 to %d", limits.MaxConcurrency)
	}
	c.Default.Concurrency = l.defaultConc
	switch {
	case l.maxRetryAfter < 0:
		return c, usageErr(fs, "--max-retry-after must not be negative")
	case l.maxRetryAfter == 0:
		c.MaxRetryAfter = -1
	default:
		c.MaxRetryAfter = time.Duration(l.maxRetryAfter)
	}
	c.AutoThrottle = l.autoThrottle
	return c, nil
}
