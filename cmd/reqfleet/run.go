package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/reqfleet/reqfleet"
	"github.com/reqfleet/reqfleet/outcomes"
	"github.com/reqfleet/reqfleet/tasks"
	"github.com/reqfleet/reqfleet/worker"
)

func (a *app) runRun(ctx context.Context, args []string) error {
	fs := a.newFlags("run", "[flags] FILE|-")
	var c common
	a.commonFlagsLevel(fs, &c, "Redis URL of a fleet to share the work with (default $REQFLEET_REDIS, else an embedded Redis in this process)", "warn")
	var h httpFlags
	h.register(fs)
	var in inputFlags
	in.register(fs, "")
	outDir := fs.String("out", "reqfleet-out", "directory for results.jsonl and exceptions.jsonl (overwritten)")
	noWorker := fs.Bool("no-worker", false, "with --redis: only enqueue and wait, leave the work to the fleet's workers")
	quiet := fs.Bool("quiet", false, "no progress")
	forceLayout := forceLayoutFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := c.check(fs); err != nil {
		return err
	}
	shared := c.redisURL != "" || c.redisCluster != ""
	if *noWorker && !shared {
		return usageErr(fs, "--no-worker needs --redis or --redis-cluster: an embedded Redis has no other workers")
	}
	wcfg := worker.Config{ForceAsynqLayout: *forceLayout}
	if err := h.apply(fs, a.getenv, &wcfg); err != nil {
		return err
	}
	r, name, err := a.openInput(fs, pos)
	if err != nil {
		return err
	}
	defer r.Close()
	jobs, err := in.jobs(fs, r, name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}

	log := a.logger(&c)
	opts := reqfleet.Options{Queue: c.queue, Concurrency: h.concurrency, NoLocalWorker: *noWorker, Worker: wcfg, Logger: log}
	opts.Enqueuer.ForceAsynqLayout = *forceLayout
	if shared {
		rdb, err := c.open(ctx, max(h.concurrency, 64)+48, log)
		if err != nil {
			return err
		}
		defer rdb.Close()
		opts.Redis = rdb
		opts.Enqueuer.RedisRetryFor = c.retryFor()
		opts.Worker.RecordTimeout = max(c.retryFor(), time.Second)
	}
	p := a.newProgress()
	if !*quiet {
		opts.Progress = p.update
	}
	res, runErr := reqfleet.Map(ctx, jobs, opts)
	if res == nil {
		return runErr
	}
	defer res.Close()
	if !*quiet {
		p.finish(res.Status)
	}
	sum, err := writeOutcomes(ctx, res, *outDir)
	if err != nil {
		return err
	}
	sum.print(a.stdout, res)
	return runErr
}

// summary counts a batch's outcomes.
type summary struct {
	byStatus              map[int]int
	byType                map[string]int
	responses, exceptions int
	resultsPath, excPath  string
}

// writeOutcomes writes the batch's responses and exceptions to DIR as JSONL
// and counts them.
func writeOutcomes(ctx context.Context, res *reqfleet.Result, dir string) (*summary, error) {
	s := &summary{byStatus: map[int]int{}, byType: map[string]int{},
		resultsPath: filepath.Join(dir, "results.jsonl"), excPath: filepath.Join(dir, "exceptions.jsonl")}
	write := func(path string, kind outcomes.Kind, count func([]byte)) error {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 256<<10)
		for line, err := range res.Reader().Lines(ctx, kind, outcomes.ReadOptions{Batch: res.Batch}) {
			if err != nil {
				f.Close()
				return err
			}
			count(line)
			w.Write(line)
			w.WriteByte('\n')
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	err := write(s.resultsPath, outcomes.Results, func(line []byte) {
		s.responses++
		if r, err := tasks.DecodeResponse(line); err == nil {
			s.byStatus[r.StatusCode]++
		}
	})
	if err != nil {
		return nil, fmt.Errorf("write results: %w", err)
	}
	err = write(s.excPath, outcomes.Exceptions, func(line []byte) {
		s.exceptions++
		if e, err := tasks.DecodeException(line); err == nil {
			s.byType[e.Exception.Type]++
		}
	})
	if err != nil {
		return nil, fmt.Errorf("write exceptions: %w", err)
	}
	return s, nil
}

func (s *summary) print(w io.Writer, res *reqfleet.Result) {
	total := s.responses + s.exceptions
	rate := 0.0
	if secs := res.Elapsed.Seconds(); secs > 0 {
		rate = float64(total) / secs
	}
	fmt.Fprintf(w, "batch %s: %d jobs in %.2fs (%.0f jobs/s)\n", res.Batch, total, res.Elapsed.Seconds(), rate)
	codes := make([]int, 0, len(s.byStatus))
	for c := range s.byStatus {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	parts := make([]string, 0, len(codes))
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d: %d", c, s.byStatus[c]))
	}
	fmt.Fprintf(w, "responses:  %d  %s\n", s.responses, strings.Join(parts, "  "))
	types := make([]string, 0, len(s.byType))
	for t := range s.byType {
		types = append(types, t)
	}
	sort.Strings(types)
	parts = parts[:0]
	for _, t := range types {
		parts = append(parts, fmt.Sprintf("%s: %d", t, s.byType[t]))
	}
	fmt.Fprintf(w, "exceptions: %d  %s\n", s.exceptions, strings.Join(parts, "  "))
	fmt.Fprintf(w, "written: %s, %s\n", s.resultsPath, s.excPath)
}
