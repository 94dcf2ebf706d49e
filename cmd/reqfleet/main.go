// Command reqfleet enqueues HTTP request jobs, runs worker fleets, and reads
// their responses and exceptions. `reqfleet help` lists the subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go interrupts(sigs, cancel, os.Stderr, os.Exit)
	// go-redis logs dial failures through a package-level logger; reqfleet
	// reports those errors itself, once, in one line.
	redis.SetLogger(quietRedisLogger{})
	a := &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	err := a.run(ctx, os.Args[1:])
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		// One line, even for joined errors (a failed enqueue and seal).
		fmt.Fprintln(os.Stderr, "reqfleet:", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	os.Exit(exitCode(ctx, err))
}

// interrupts ends the commands' context at the first SIGINT or SIGTERM, so
// that they stop as they should (a worker hands its jobs back, run writes
// the outcomes recorded); at the second it exits at once with 130.
func interrupts(sigs <-chan os.Signal, cancel func(), stderr io.Writer, exit func(int)) {
	<-sigs
	cancel()
	s := <-sigs
	fmt.Fprintf(stderr, "reqfleet: %v again: exiting now\n", s)
	exit(exitInterrupted)
}

type quietRedisLogger struct{}

func (quietRedisLogger) Printf(context.Context, string, ...any) {}

// Exit codes.
const (
	exitOK          = 0
	exitFailure     = 1   // the fleet or Redis failed
	exitUsage       = 2   // bad flags or arguments
	exitBadInput    = 3   // a job file has a bad line
	exitInterrupted = 130 // SIGINT or SIGTERM
)

func exitCode(ctx context.Context, err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	case isInputError(err):
		return exitBadInput
	case ctx.Err() != nil, errors.Is(err, errInterrupted):
		return exitInterrupted
	default:
		return exitFailure
	}
}

// app holds what the subcommands read and write, so tests can run them.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	helps []flagHelp // the flag sets newFlags made, with their help
}

type command struct {
	name, usage, summary string
	run                  func(a *app, ctx context.Context, args []string) error
}

func commands() []command {
	return []command{
		{"run", "[flags] FILE|-", "enqueue a job file, work it and wait, like threaded.map (embedded Redis unless --redis)", (*app).runRun},
		{"worker", "[flags]", "run a worker: a pool of HTTP sessions taking jobs from the queues", (*app).runWorker},
		{"enqueue", "[flags] FILE|-", "enqueue jobs (JSONL, or one URL a line with --urls) as one batch", (*app).runEnqueue},
		{"retry", "[flags]", "re-enqueue the exceptions list", (*app).runRetry},
		{"results", "[flags]", "print responses as JSONL", (*app).runResults},
		{"exceptions", "[flags]", "print exceptions as JSONL", (*app).runExceptions},
		{"stats", "[flags]", "queue sizes, in flight, results and exceptions, batches, workers", (*app).runStats},
		{"wait", "[flags] BATCH", "wait until every job of a batch has its outcome", (*app).runWait},
		{"limits", "[set HOST --rate N/s ... | rm HOST]", "per-host limits, fleet-wide: list (in flight, waiting, paused), set or remove", (*app).runLimits},
		{"bench", "[flags]", "measure the fleet on this machine against the raw HTTP ceiling (starts its own Redis and target)", (*app).runBench},
		{"serve", "[flags]", "HTTP: enqueue API, Prometheus /metrics, health checks and the web UI", (*app).runServe},
		{"version", "", "print the version and the revision it was built from (also --version)", (*app).runVersion},
	}
}

func (a *app) run(ctx context.Context, args []string) error {
	if len(args) >= 2 && args[0] == "help" { // help CMD: CMD -h
		args = []string{args[1], "-h"}
	}
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		args = append([]string{"version"}, args[1:]...)
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		a.usage()
		if len(args) == 0 {
			return fmt.Errorf("%w: no subcommand", errUsage)
		}
		return nil
	}
	names := make([]string, 0, len(commands()))
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(a, ctx, args[1:])
		}
		names = append(names, c.name)
	}
	msg := fmt.Sprintf("unknown subcommand %q", args[0])
	if s := nearest(args[0], names); s != "" {
		msg += fmt.Sprintf("; did you mean %s?", s)
	}
	return fmt.Errorf("%w: %s (see reqfleet help)", errUsage, msg)
}

func (a *app) usage() {
	fmt.Fprintln(a.stderr, "usage: reqfleet SUBCOMMAND [flags]   (reqfleet help SUBCOMMAND, or SUBCOMMAND -h, for its flags)")
	fmt.Fprintln(a.stderr)
	for _, c := range commands() {
		fmt.Fprintf(a.stderr, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(a.stderr, "\nREQFLEET_REDIS sets the default --redis URL.")
}
