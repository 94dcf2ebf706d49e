package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"

	"github.com/reqfleet/reqfleet/enqueuer"
	"github.com/reqfleet/reqfleet/tasks"
)

func (a *app) runRetry(ctx context.Context, args []string) error {
	fs := a.newFlags("retry", "[flags]")
	var c common
	a.commonFlags(fs, &c, " (default $REQFLEET_REDIS, else "+defaultRedis+")")
	dry := fs.Bool("dry-run", false, use("dry-run"))
	batch := fs.String("batch", "", use("batch"))
	typ := fs.String("type", "", use("type", ", e.g. ConnectionError"))
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
	log := a.logger(&c)
	rdb, err := c.open(ctx, 16, log)
	if err != nil {
		return err
	}
	defer rdb.Close()
	a.warnUnseen(ctx, rdb, c.queue, *batch)
	enq, err := enqueuer.New(enqueuer.Config{Redis: rdb, Queue: c.queue, Logger: log, RedisRetryFor: c.retryFor()})
	if err != nil {
		return err
	}
	defer enq.Close()
	out := bufio.NewWriter(a.stdout)
	defer out.Flush()
	var werr error
	opts := enqueuer.RetryOptions{DryRun: *dry, Batch: *batch, Type: *typ}
	if *dry {
		opts.OnEntry = func(e tasks.Exception) {
			if werr == nil {
				b, err := json.Marshal(e)
				if err == nil {
					_, err = out.Write(append(b, '\n'))
				}
				werr = err
			}
		}
	}
	rep, err := enq.Retry(ctx, opts)
	if err != nil {
		return err
	}
	if werr != nil {
		return werr
	}
	verb := "retried"
	if *dry {
		verb = "would retry"
	}
	fmt.Fprintf(a.stderr, "%s %d exceptions", verb, rep.Retried)
	if rep.Recovered > 0 {
		fmt.Fprintf(a.stderr, ", finished %d left by an interrupted retry", rep.Recovered)
	}
	fmt.Fprintln(a.stderr)
	return nil
}
