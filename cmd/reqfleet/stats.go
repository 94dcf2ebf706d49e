package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/reqfleet/reqfleet/limits"
	"github.com/reqfleet/reqfleet/outcomes"
)

func (a *app) runStats(ctx context.Context, args []string) error {
	fs := a.newFlags("stats", "[flags]")
	var c common
	a.commonFlags(fs, &c, " (default $REQFLEET_REDIS, else "+defaultRedis+")")
	asJSON := fs.Bool("json", false, use("json"))
	batches := fs.Int64("batches", 10, use("batches"))
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
	if *batches < 0 {
		return usageErr(fs, "--batches must not be negative")
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
	a.warnUnseen(ctx, rdb, c.queue, "")
	st, err := reader.Stats(ctx, *batches)
	if err != nil {
		return err
	}
	throttled, err := limits.NewStore(rdb).Parked(ctx, c.queue) // the hosts being throttled
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			*outcomes.Stats
			Throttled []limits.Parked `json:"throttled_hosts"`
		}{&st, throttled})
	}
	tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "queue %s\n", st.Queue)
	fmt.Fprintf(tw, "  pending\t%d\n  in flight\t%d\n  scheduled\t%d\n  retry\t%d\n  archived\t%d\n", st.Pending, st.Active, st.Scheduled, st.Retry, st.Archived)
	fmt.Fprintf(tw, "  results\t%d\n  exceptions\t%d\n", st.Results, st.Exceptions)
	if st.Retrying > 0 {
		fmt.Fprintf(tw, "  retrying\t%d\t(left by an interrupted retry: run reqfleet retry)\n", st.Retrying)
	}
	if len(throttled) > 0 {
		fmt.Fprintf(tw, "throttled hosts\t%d\t(jobs waiting for their host's limits: reqfleet limits)\n", len(throttled))
		for _, p := range throttled {
			fmt.Fprintf(tw, "  %s\t%d waiting\n", p.Host, p.Parked)
		}
	}
	fmt.Fprintf(tw, "workers\t%d\n", len(st.Workers))
	for _, w := range st.Workers {
		// Active: its jobs started and not yet recorded (asynq's workers), up
		// to twice its concurrency under load (records off the sessions' path).
		fmt.Fprintf(tw, "  %s:%d\tconcurrency %d\tactive %d\tup %s\n", w.Host, w.PID, w.Concurrency, w.Active, time.Since(w.Started).Round(time.Second))
	}
	fmt.Fprintf(tw, "batches\t%d\n", len(st.Batches))
	for _, b := range st.Batches {
		state := "running"
		switch {
		case b.Complete():
			state = "complete"
		case !b.Sealed:
			state = "enqueuing"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d/%d done\t%d responses\t%d exceptions\n", b.ID, state, b.Done, b.Expected(), b.Responses, b.Exceptions)
	}
	return tw.Flush()
}
