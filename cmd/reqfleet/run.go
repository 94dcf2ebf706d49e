package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/reqfleet/reqfleet"
	"github.com/reqfleet/reqfleet/outcomes"
	"github.com/reqfleet/reqfleet/tasks"
	"github.com/reqfleet/reqfleet/worker"
)

func (a *app) runRun(ctx context.Context, args []string) error {
	fs := a.newFlags("run", "[flags] FILE|-", inputNote, interruptNote)
	var c common
	a.commonFlagsLevel(fs, &c, " of a fleet to share the work with (default $REQFLEET_REDIS, else an embedded Redis in this process)", "warn")
	var h httpFlags
	h.register(fs)
	var in inputFlags
	in.register(fs, false) // -H is the sessions'
	outDir := fs.String("out", "reqfleet-out", use("out", " (overwritten)"))
	noWorker := fs.Bool("no-worker", false, use("no-worker"))
	quiet := quietFlag(fs)
	asJSON := fs.Bool("json", false, use("json", ": the summary, as one object"))
	forceLayout := forceLayoutFlag(fs)
	grace := durationFlag(5 * time.Second)
	fs.Var(&grace, "shutdown-timeout", use("shutdown-timeout", " before the outcomes recorded are written"))
	pos, err := a.parse(fs, args)
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
	wcfg := worker.Config{ForceAsynqLayout: *forceLayout, ShutdownTimeout: max(time.Duration(grace), time.Millisecond)}
	if err := h.apply(fs, a.getenv, &wcfg); err != nil {
		return err
	}
	r, name, err := a.openInput(fs, pos)
	if err != nil {
		return err
	}
	defer r.Close()
	jobs, fileJobs, err := in.jobs(ctx, fs, r, name)
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
	mapped, told := make(chan struct{}), make(chan struct{})
	go func() { // tells what an interrupt does, while it does it
		defer close(told)
		select {
		case <-ctx.Done():
			if !*quiet && p.terminal {
				fmt.Fprintln(a.stderr)
			}
			fmt.Fprintf(a.stderr, "reqfleet: interrupted: no more jobs are enqueued or started; those in flight get up to %v (--shutdown-timeout) to finish, then the outcomes recorded are written to %s. Interrupt again to exit at once, writing nothing.\n",
				time.Duration(grace), *outDir)
		case <-mapped:
		}
	}()
	res, runErr := reqfleet.Map(ctx, jobs, opts)
	close(mapped)
	<-told
	if res == nil {
		return runErr
	}
	defer res.Close()
	// Interrupted (unless the batch completed all the same): the outcomes
	// recorded are written nevertheless; a second interrupt ends the
	// process (main).
	interrupted := ctx.Err() != nil && runErr != nil
	wctx := ctx
	if ctx.Err() != nil {
		wctx = context.WithoutCancel(ctx)
	}
	if !interrupted && !*quiet {
		p.finish(res.Status)
	}
	sum, err := writeOutcomes(wctx, res, *outDir)
	if err != nil {
		if interrupted {
			return fmt.Errorf("%w, and %w", errInterrupted, err)
		}
		return err
	}
	if *asJSON {
		if err := json.NewEncoder(a.stdout).Encode(sum.report(res)); err != nil {
			return err
		}
	} else {
		sum.print(a.stdout, res)
	}
	if !interrupted {
		return runErr
	}
	out := a.stdout
	if *asJSON {
		out = a.stderr // stdout holds one JSON object
	}
	notRun := sum.notRun(out, res, fileJobs, shared)
	return fmt.Errorf("%w: %d outcomes written to %s, %s", errInterrupted, sum.responses+sum.exceptions, *outDir, notRun)
}

// interruptNote is the help of run's interrupt.
const interruptNote = `On SIGINT (Ctrl-C) or SIGTERM, run stops enqueueing and starting jobs, lets those in
flight finish for up to --shutdown-timeout, writes the outcomes recorded so far, prints
the summary with what was not run, and exits 130; a second interrupt exits at once.`

// errInterrupted: run was interrupted (exit 130).
var errInterrupted = errors.New("interrupted")

// notRun prints, after an interrupt, the jobs without an outcome, and
// returns the same in a few words. fileJobs is the job count of the input
// file (-1 for stdin, whose rest was not read).
func (s *summary) notRun(w io.Writer, res *reqfleet.Result, fileJobs int, shared bool) string {
	enqueued := res.Status.Expected()
	done := int64(s.responses + s.exceptions)
	left := max(enqueued-done, 0)
	where := "gone with the embedded Redis"
	if shared {
		where = fmt.Sprintf("left in queue %s for the fleet's workers (reqfleet wait %s)", res.Reader().Queue(), res.Batch)
	}
	var msg string
	switch {
	case fileJobs >= 0:
		never := max(int64(fileJobs)-enqueued, 0)
		msg = fmt.Sprintf("not run: %d of %d jobs (%d enqueued without an outcome, %s; %d not enqueued)",
			left+never, fileJobs, left, where, never)
	default:
		msg = fmt.Sprintf("not run: %d enqueued jobs without an outcome (%s), and the rest of stdin, not read", left, where)
	}
	fmt.Fprintln(w, msg)
	return msg
}

// summary counts a batch's outcomes.
type summary struct {
	byStatus              map[int]int
	byType                map[string]int
	sample                map[string]string // an exception type's first message, cut (sampleMessage)
	responses, exceptions int
	resultsPath, excPath  string
}

// maxSample is the longest sample message shown of an exception type, in
// runes.
const maxSample = 160

// sampleMessage is an exception's message as the summary shows it: one
// line, no control characters (a server's bytes may be in it), cut at
// maxSample runes.
func sampleMessage(m string) string {
	m = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, m)
	if r := []rune(m); len(r) > maxSample {
		m = string(r[:maxSample]) + "..."
	}
	return m
}

// runReport is run's summary as --json prints it.
type runReport struct {
	Batch          string            `json:"batch"`
	Jobs           int               `json:"jobs"`
	ElapsedSeconds float64           `json:"elapsed_seconds"`
	Responses      int               `json:"responses"`
	ByStatus       map[string]int    `json:"by_status"`
	Exceptions     int               `json:"exceptions"`
	ByType         map[string]int    `json:"by_type"`
	Samples        map[string]string `json:"samples"` // a message of each exception type
	Results        string            `json:"results"` // the files written
	ExceptionsFile string            `json:"exceptions_file"`
}

func (s *summary) report(res *reqfleet.Result) runReport {
	r := runReport{Batch: res.Batch, Jobs: s.responses + s.exceptions, ElapsedSeconds: res.Elapsed.Seconds(),
		Responses: s.responses, ByStatus: map[string]int{}, Exceptions: s.exceptions, ByType: s.byType,
		Samples: s.sample, Results: s.resultsPath, ExceptionsFile: s.excPath}
	for c, n := range s.byStatus {
		r.ByStatus[strconv.Itoa(c)] = n
	}
	return r
}

// writeOutcomes writes the batch's responses and exceptions to DIR as JSONL
// and counts them.
func writeOutcomes(ctx context.Context, res *reqfleet.Result, dir string) (*summary, error) {
	s := &summary{byStatus: map[int]int{}, byType: map[string]int{}, sample: map[string]string{},
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
			if _, ok := s.sample[e.Exception.Type]; !ok {
				s.sample[e.Exception.Type] = sampleMessage(e.Exception.Message)
			}
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
	if len(parts) == 0 {
		fmt.Fprintf(w, "responses:  %d\n", s.responses)
	} else {
		fmt.Fprintf(w, "responses:  %d  %s\n", s.responses, strings.Join(parts, "  "))
	}
	types := make([]string, 0, len(s.byType))
	for t := range s.byType {
		types = append(types, t)
	}
	sort.Strings(types)
	fmt.Fprintf(w, "exceptions: %d\n", s.exceptions)
	for _, t := range types {
		fmt.Fprintf(w, "  %s: %d (e.g. %s)\n", t, s.byType[t], s.sample[t])
	}
	fmt.Fprintf(w, "written: %s (responses), %s (exceptions)\n", s.resultsPath, s.excPath)
}
