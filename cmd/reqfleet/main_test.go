package main

import (
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/reqfleet/reqfleet/enqueuer"
	"github.com/reqfleet/reqfleet/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// stopCommand ends a command run in the background (cancel) and waits for
// its error on done, bounded: above the worker's 40s shutdown timeout.
func stopCommand(t *testing.T, what string, c *cli, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s: %v\n%s", what, err, c.stderr.String())
		}
	case <-time.After(50 * time.Second):
		t.Errorf("%s did not stop:\n%s", what, c.stderr.String())
	}
}

// cli runs one reqfleet command in-process.
type cli struct {
	env    map[string]string
	stdin  string
	stdout testkit.SyncBuffer
	stderr testkit.SyncBuffer
}

func (c *cli) run(ctx context.Context, args ...string) error {
	a := &app{
		stdin:  strings.NewReader(c.stdin),
		stdout: &c.stdout,
		stderr: &c.stderr,
		getenv: func(k string) string { return c.env[k] },
	}
	return a.run(ctx, args)
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"no subcommand", nil, exitUsage},
		{"unknown subcommand", []string{"frobnicate"}, exitUsage},
		{"unknown flag", []string{"stats", "--nope"}, exitUsage},
		{"run without a file", []string{"run"}, exitUsage},
		{"run with a missing file", []string{"run", "/does/not/exist.jsonl"}, exitFailure}, // the command line was right
		{"help CMD", []string{"help", "stats"}, exitOK},
		{"version", []string{"version"}, exitOK},
		{"--version", []string{"--version"}, exitOK},
		{"renamed flag", []string{"serve", "--max-body", "1MiB"}, exitUsage},
		{"bad header flag", []string{"worker", "-H", "no colon"}, exitUsage},
		{"bad header name", []string{"worker", "-H", "Bad Name: v"}, exitUsage},
		{"bad timeout", []string{"worker", "--timeout", "-3"}, exitUsage},
		{"bad max-body", []string{"worker", "--max-body", "lots"}, exitUsage},
		{"bad queue", []string{"stats", "--queue", "a{b}"}, exitUsage},
		{"bad queues", []string{"worker", "--queues", "a:0"}, exitUsage},
		{"lease too short", []string{"worker", "--lease", "1s"}, exitUsage},
		{"lease renewed too seldom", []string{"worker", "--lease", "5s", "--lease-renew", "2s"}, exitUsage},
		{"no crashes allowed", []string{"worker", "--max-crashes", "0"}, exitUsage},
		{"bad log format", []string{"stats", "--log-format", "xml"}, exitUsage},
		{"wait without batch", []string{"wait"}, exitUsage},
		{"no-worker without redis", []string{"run", "--no-worker", "-"}, exitUsage},
		{"basic auth env unset", []string{"worker", "--basic-auth-env", "NOPE"}, exitUsage},
		{"unparsable --redis", []string{"stats", "--redis", "redis://h:port"}, exitUsage},
		{"--redis not a Redis URL", []string{"enqueue", "--redis", "http://u:pw@h:1", "-"}, exitUsage},
		{"help", []string{"help"}, exitOK},
		{"subcommand help", []string{"run", "-h"}, exitOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c cli
			ctx := context.Background()
			err := c.run(ctx, tc.args...)
			if got := exitCode(ctx, err); got != tc.want {
				t.Fatalf("exit %d (err %v), want %d", got, err, tc.want)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	bg := context.Background()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want int
	}{
		{"ok", bg, nil, exitOK},
		{"help", bg, flag.ErrHelp, exitOK},
		{"usage", bg, errUsage, exitUsage},
		{"bad line", bg, &enqueuer.LineError{Line: 3, Err: errors.New("x")}, exitBadInput},
		{"interrupted", cancelled, context.Canceled, exitInterrupted},
		{"other", bg, errors.New("redis down"), exitFailure},
	}
	for _, tc := range tests {
		if got := exitCode(tc.ctx, tc.err); got != tc.want {
			t.Errorf("%s: exitCode = %d, want %d", tc.name, got, tc.want)
		}
	}
}
