package main

import (
	"flag"

	"github.com/reqfleet/reqfleet/limits"
	"github.com/reqfleet/reqfleet/worker"
)

// limitFlags are the worker's flags of the per-host limits (the limits
// themselves live in Redis: `reqfleet limits`; --max-retry-after, which
// caps a Retry-After pause too, is the worker's).
type limitFlags struct {
	defaultRate  string
	defaultConc  int
	autoThrottle bool
}

func (l *limitFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.defaultRate, "default-rate", "", use("default-rate", ", e.g. 5/s (default: none)"))
	fs.IntVar(&l.defaultConc, "default-concurrency", 0, use("default-concurrency", " (default: none)"))
	fs.BoolVar(&l.autoThrottle, "auto-throttle", false, use("auto-throttle"))
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
	c.AutoThrottle = l.autoThrottle
	return c, nil
}
