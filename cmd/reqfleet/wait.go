package main

import (
	"context"
	"encoding/json"
	"time"

	"github.com/reqfleet/reqfleet/outcomes"
)

func (a *app) runWait(ctx context.Context, args []string) error {
	fs := a.newFlags("wait", "[flags] BATCH")
	var c common
	a.commonFlags(fs, &c, "Redis URL (default $REQFLEET_REDIS, else "+defaultRedis+")")
	var limit durationFlag
	fs.Var(&limit, "timeout", "give up after this long (default: wait for ever)")
	quiet := fs.Bool("quiet", false, "no progress")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr(fs, "want one BATCH argument, got %d", len(pos))
	}
	if err := c.check(fs); err != nil {
		return err
	}
	rdb, err := c.open(ctx, 4, a.logger(&c))
	if err != nil {
		return err
	}
	defer rdb.Close()
	reader, err := outcomes.NewReader(rdb, c.queue)
	if err != nil {
		return err
	}
	reader.SetRedisRetryFor(c.retryFor())
	if limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(limit))
		defer cancel()
	}
	var progress func(outcomes.BatchStatus)
	p := a.newProgress()
	if !*quiet {
		progress = p.update
	}
	st, err := reader.Wait(ctx, pos[0], 0, progress)
	if !*quiet {
		p.finish(st)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(a.stdout).Encode(st)
}
