package main

import (
	"errors"
	"flag"
	"iter"

	"github.com/reqfleet/reqfleet/tasks"
)

// retryFlags are the automatic retries of the jobs that carry no
// "retries" of their own (enqueue, run).
type retryFlags struct {
	total   int
	on      string
	backoff float64
}

func (f *retryFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.total, "retries", 0, use("retries"))
	fs.StringVar(&f.on, "retry-on", "", use("retry-on", " (status_forcelist; exception types: ConnectionError, ConnectTimeout, ProxyError, ReadTimeout, SSLError)"))
	fs.Float64Var(&f.backoff, "retry-backoff", 0, use("retry-backoff", " (the n-th retry waits F*2^(n-1), none for the first, at most 120)"))
}

// policy is the flags' policy, nil for none; errors name the flag.
func (f *retryFlags) policy(fs *flag.FlagSet) (*tasks.Retry, error) {
	p, err := tasks.RetryFlags(f.total, f.on, f.backoff)
	var fe *tasks.FieldError
	if errors.As(err, &fe) {
		flagName := map[string]string{"retries": "--retries", "retry_on": "--retry-on", "retry_backoff": "--retry-backoff"}[fe.Field]
		if fe.Detail == "needs retries" {
			return nil, usageErr(fs, "%s needs --retries", flagName)
		}
		return nil, usageErr(fs, "%s: %s", flagName, fe.Detail)
	}
	return p, err
}

// withRetries gives the jobs without a policy of their own p.
func withRetries(seq iter.Seq2[tasks.Job, error], p *tasks.Retry) iter.Seq2[tasks.Job, error] {
	if p == nil {
		return seq
	}
	return func(yield func(tasks.Job, error) bool) {
		for j, err := range seq {
			if err == nil {
				err = j.DefaultRetries(p)
			}
			if !yield(j, err) {
				return
			}
		}
	}
}
