package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/reqfleet/reqfleet/enqueuer"
	"github.com/reqfleet/reqfleet/outcomes"
)

func (a *app) runEnqueue(ctx context.Context, args []string) error {
	fs := a.newFlags("enqueue", "[flags] FILE|-", inputNote)
	var c common
	a.commonFlags(fs, &c, " (default $REQFLEET_REDIS, else "+defaultRedis+")")
	var in inputFlags
	in.register(fs, true)
	wait := fs.Bool("wait", false, use("wait"))
	asJSON := fs.Bool("json", false, use("json", ": the receipt ({\"batch\":...,\"accepted\":...}) instead of the batch id"))
	forceLayout := forceLayoutFlag(fs)
	maxRetry := fs.Int("max-retry", enqueuer.DefaultMaxRetry, use("max-retry", " (crashed, killed) before it becomes a WorkerLost exception; 0 for none"))
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if err := c.check(fs); err != nil {
		return err
	}
	r, name, err := a.openInput(fs, pos)
	if err != nil {
		return err
	}
	defer r.Close()
	jobs, _, err := in.jobs(ctx, fs, r, name)
	if err != nil {
		return err
	}
	if *maxRetry < 0 {
		return usageErr(fs, "--max-retry must be 0 or more")
	}
	if *maxRetry == 0 {
		*maxRetry = -1 // enqueuer.Config: negative is none, 0 the default
	}
	log := a.logger(&c)
	rdb, err := c.open(ctx, 64, log)
	if err != nil {
		return err
	}
	defer rdb.Close()
	enq, err := enqueuer.New(enqueuer.Config{Redis: rdb, Queue: c.queue, Logger: log,
		MaxRetry: *maxRetry, RedisRetryFor: c.retryFor(), ForceAsynqLayout: *forceLayout})
	if err != nil {
		return err
	}
	defer enq.Close()
	receipt, err := enq.EnqueueMany(ctx, jobs)
	if err != nil {
		return err // it says how many jobs before the error were enqueued
	}
	if *asJSON {
		if err := json.NewEncoder(a.stdout).Encode(receipt); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(a.stdout, receipt.Batch)
	}
	fmt.Fprintf(a.stderr, "enqueued %d jobs in batch %s (queue %s)\n", receipt.Accepted, receipt.Batch, c.queue)
	if !*wait {
		return nil
	}
	reader, err := outcomes.NewReader(rdb, c.queue)
	if err != nil {
		return err
	}
	reader.SetRedisRetryFor(c.retryFor())
	p := a.newProgress()
	st, err := reader.Wait(ctx, receipt.Batch, 0, p.update)
	p.finish(st)
	return err
}
