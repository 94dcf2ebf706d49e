package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/reqfleet/reqfleet/limits"
)

// runLimits is `reqfleet limits` (list), `limits set HOST --rate 20/s
// [--burst N] [--concurrency N] [--auto]` and `limits rm HOST`.
func (a *app) runLimits(ctx context.Context, args []string) error {
	fs := a.newFlags("limits", "[set HOST --rate N/s [--burst N] [--concurrency N] [--auto] | rm HOST] [flags]")
	var c common
	a.commonFlags(fs, &c, "Redis URL (default $REQFLEET_REDIS, else "+defaultRedis+")")
	rate := fs.String("rate", "", use("rate", " (set; default: no rate limit)"))
	burst := fs.Int("burst", 0, use("burst", " (set; default 1)"))
	concurrency := fs.Int("concurrency", 0, use("concurrency", " to the host, fleet-wide (set; default: no limit)"))
	auto := fs.Bool("auto", false, use("auto", " (set)"))
	asJSON := fs.Bool("json", false, use("json"))
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if err := c.check(fs); err != nil {
		return err
	}
	action := "list"
	if len(pos) > 0 {
		action = pos[0]
	}
	setOnly := *rate != "" || *burst != 0 || *concurrency != 0 || *auto
	switch {
	case action == "set" && len(pos) != 2, action == "rm" && len(pos) != 2:
		return usageErr(fs, "%s takes one HOST (a host name, port ignored, or *.example.com)", action)
	case action == "list" && len(pos) > 1:
		return usageErr(fs, "unexpected argument %q", pos[1])
	case action != "set" && action != "rm" && action != "list":
		return usageErr(fs, "unknown action %q: set, rm, or none to list", action)
	case action != "set" && setOnly:
		return usageErr(fs, "--rate, --burst, --concurrency and --auto are for set")
	}
	var l limits.Limit
	if action == "set" {
		if *rate != "" {
			if l.Rate, l.Per, err = limits.ParseRate(*rate); err != nil {
				return usageErr(fs, "--rate: %v", err)
			}
		}
		l.Burst, l.Concurrency, l.Auto = *burst, *concurrency, *auto
		if *burst != 0 && l.Rate == 0 {
			return usageErr(fs, "--burst needs --rate")
		}
		if err := l.Validate(); err != nil {
			return usageErr(fs, "%v", err)
		}
		if _, err := limits.NormalizeHost(pos[1]); err != nil {
			return usageErr(fs, "%v", err)
		}
	}
	if action == "rm" {
		if _, err := limits.NormalizeHost(pos[1]); err != nil {
			return usageErr(fs, "%v", err)
		}
	}
	rdb, err := c.open(ctx, 4, a.logger(&c))
	if err != nil {
		return err
	}
	defer rdb.Close()
	store := limits.NewStore(rdb)
	switch action {
	case "set":
		key, err := store.Set(ctx, pos[1], l)
		if errors.Is(err, limits.ErrFull) {
			return fmt.Errorf("%w: %w", errUsage, err)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "%s\t%s\n", key, l.Normalized())
		return nil
	case "rm":
		ok, err := store.Remove(ctx, pos[1])
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: limits: %s has no limit", errUsage, pos[1])
		}
		return nil
	}
	return a.listLimits(ctx, store, c.queue, *asJSON)
}

// limitsList is `reqfleet limits --json`.
type limitsList struct {
	Limits []limits.Status            `json:"limits"`
	Paused map[string]time.Time       `json:"paused"` // hosts paused by a Retry-After
	Parked map[string][]limits.Parked `json:"parked"` // queue -> hosts with jobs waiting
}

func (a *app) listLimits(ctx context.Context, store *limits.Store, queue string, asJSON bool) error {
	st, err := store.List(ctx)
	if err != nil {
		return err
	}
	paused, err := store.Paused(ctx)
	if err != nil {
		return err
	}
	parked, err := store.Parked(ctx, queue)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(limitsList{Limits: st, Paused: paused, Parked: map[string][]limits.Parked{queue: parked}})
	}
	waiting := map[string]int64{}
	for _, p := range parked {
		waiting[p.Host] = p.Parked
	}
	tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tLIMIT\tIN FLIGHT\tWAITING\tPAUSED\tRATE NOW")
	for _, s := range st {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", s.Host, s.Limit, s.InFlight, waiting[s.Host], pausedFor(s.PausedUntil), rateNow(s))
	}
	for _, h := range slices.Sorted(maps.Keys(paused)) {
		if !slices.ContainsFunc(st, func(s limits.Status) bool { return s.Host == h }) {
			fmt.Fprintf(tw, "%s\t-\t-\t%d\t%s\t-\n", h, waiting[h], pausedFor(paused[h]))
		}
	}
	return tw.Flush()
}

func pausedFor(until time.Time) string {
	if until.IsZero() {
		return "-"
	}
	return time.Until(until).Round(100 * time.Millisecond).String()
}

func rateNow(s limits.Status) string {
	switch {
	case s.AutoRate > 0:
		return fmt.Sprintf("%.2f/s (auto, latency %.0fms)", s.AutoRate, s.AutoLatency*1000)
	case s.Limit.Rate > 0:
		return limits.FormatRate(s.Limit.Rate, s.Limit.Normalized().Per)
	}
	return "-"
}
