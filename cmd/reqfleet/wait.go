package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/reqfleet/reqfleet/outcomes"
)

func (a *app) runWait(ctx context.Context, args []string) error {
	fs := a.newFlags("wait", "[flags] BATCH")
	var c common
	a.commonFlags(fs, &c, " (default $REQFLEET_REDIS, else "+defaultRedis+")")
	var limit durationFlag
	fs.Var(&limit, "give-up-after", use("give-up-after", ", and fail (default: wait for ever)"))
	quiet := quietFlag(fs)
	asJSON := fs.Bool("json", false, use("json", ": the batch's status, as one object"))
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr(fs, "want one BATCH argument, got %d", len(pos))
	}
	if err := c.check(fs); err != nil {
		return err
	}
	batch := pos[0]
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
	wctx := ctx
	if limit > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, time.Duration(limit))
		defer cancel()
	}
	p := a.newProgress()
	var last *outcomes.BatchStatus
	progress := func(st outcomes.BatchStatus) {
		last = &st
		if !*quiet {
			p.update(st)
		}
	}
	st, err := reader.Wait(wctx, batch, 0, progress)
	if !*quiet && last != nil {
		p.finish(*last)
	}
	switch {
	case errors.Is(err, outcomes.ErrNoBatch):
		return errors.New(a.batchNotHere(ctx, rdb, c.queue, batch))
	case err != nil && ctx.Err() == nil && wctx.Err() != nil:
		if last == nil {
			return fmt.Errorf("batch %s: no status read in %v; gave up (--give-up-after): %w", batch, time.Duration(limit), err)
		}
		more := ""
		if !last.Sealed {
			more = "+, still enqueuing"
		}
		return fmt.Errorf("batch %s: %d/%d%s done after %v; gave up (--give-up-after)", batch, last.Done, last.Expected(), more, time.Duration(limit))
	case err != nil:
		return err
	}
	if *asJSON {
		return json.NewEncoder(a.stdout).Encode(st)
	}
	fmt.Fprintf(a.stdout, "batch %s: complete: %d jobs, %d responses, %d exceptions\n", st.ID, st.Total, st.Responses, st.Exceptions)
	return nil
}
