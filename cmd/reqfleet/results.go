package main

import (
	"bufio"
	"context"

	"github.com/reqfleet/reqfleet/outcomes"
)

func (a *app) runResults(ctx context.Context, args []string) error {
	return a.printList(ctx, "results", outcomes.Results, args)
}

func (a *app) runExceptions(ctx context.Context, args []string) error {
	return a.printList(ctx, "exceptions", outcomes.Exceptions, args)
}

// printList prints a list as JSONL, oldest first.
func (a *app) printList(ctx context.Context, name string, kind outcomes.Kind, args []string) error {
	fs := a.newFlags(name, "[flags]")
	var c common
	a.commonFlags(fs, &c, " (default $REQFLEET_REDIS, else "+defaultRedis+")")
	pop := fs.Bool("pop", false, use("pop", " (atomically: two readers never print the same entry)"))
	follow := fs.Bool("follow", false, use("follow"))
	batch := fs.String("batch", "", use("batch"))
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
	a.warnUnseen(ctx, rdb, c.queue, *batch)
	out := bufio.NewWriterSize(a.stdout, 64<<10)
	defer out.Flush()
	for line, err := range reader.Lines(ctx, kind, outcomes.ReadOptions{Batch: *batch, Pop: *pop, Follow: *follow}) {
		if err != nil {
			return err
		}
		out.Write(line)
		if err := out.WriteByte('\n'); err != nil {
			return err
		}
		if *follow || *pop {
			// What was popped is gone from Redis: get it out of this process.
			if err := out.Flush(); err != nil {
				return err
			}
		}
	}
	return out.Flush()
}
