package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/reqfleet/reqfleet/enqueuer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer safe for a worker goroutine's logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cli runs one reqfleet command in-process.
type cli struct {
	env    map[string]string
	stdin  string
	stdout syncBuffer
	stderr syncBuffer
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
		{"run with a missing file", []string{"run", "/does/not/exist.jsonl"}, exitUsage},
		{"bad header flag", []string{"worker", "-H", "no colon"}, exitUsage},
		{"bad header name", []string{"worker", "-H", "Bad Name: v"}, exitUsage},
		{"bad timeout", []string{"worker", "--timeout", "-3"}, exitUsage},
		{"bad max-body", []string{"worker", "--max-body", "lots"}, exitUsage},
		{"bad queue", []string{"stats", "--queue", "a{b}"}, exitUsage},
		{"bad queues", []string{"worker", "--queues", "a:0"}, exitUsage},
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
