package main

import (
	"context"
	"strings"
	"testing"

	"github.com/reqfleet/reqfleet/internal/testredis"
)

// A mistyped queue or a batch of another queue is said, not shown as
// nothing; wait gives up in words.
func TestUnseenQueueAndBatch(t *testing.T) {
	redis := testredis.Start(t)
	env := map[string]string{"REQFLEET_REDIS": redis.URL()}
	ctx := context.Background()
	jobs := writeFile(t, "urls.txt", "http://127.0.0.1:1/a\n")
	run := func(args ...string) (*cli, error) {
		c := &cli{env: env}
		return c, c.run(ctx, args...)
	}
	c, err := run("enqueue", jobs) // no worker: the job waits
	if err != nil {
		t.Fatal(err, c.stderr.String())
	}
	batch := strings.TrimSpace(c.stdout.String())
	if c, err := run("enqueue", "--queue", "low", jobs); err != nil {
		t.Fatal(err, c.stderr.String())
	}

	tests := []struct {
		name    string
		args    []string
		warning string // on stderr, exit 0
		err     string // or this error
	}{
		{"results, mistyped queue", []string{"results", "--queue", "defualt"}, `queue "defualt" has never been used (queues used: default, low)`, ""},
		{"exceptions, mistyped queue", []string{"exceptions", "--queue", "defualt"}, `queue "defualt" has never been used`, ""},
		{"stats, mistyped queue", []string{"stats", "--queue", "defualt"}, `queue "defualt" has never been used`, ""},
		{"retry, mistyped queue", []string{"retry", "--dry-run", "--queue", "defualt"}, `queue "defualt" has never been used`, ""},
		{"results, batch of another queue", []string{"results", "--queue", "low", "--batch", batch}, "no batch " + batch + " in queue low; it is in queue default (--queue default)", ""},
		{"results, no such batch", []string{"results", "--batch", "nope"}, "no batch nope in queue default nor in any other", ""},
		{"wait, batch of another queue", []string{"wait", "--queue", "low", batch}, "", "no batch " + batch + " in queue low; it is in queue default (--queue default)"},
		{"wait gives up", []string{"wait", "--quiet", "--give-up-after", "300ms", batch}, "", "batch " + batch + ": 0/1 done after 300ms; gave up (--give-up-after)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := run(tc.args...)
			if tc.err != "" {
				if err == nil || exitCode(ctx, err) != exitFailure || err.Error() != tc.err {
					t.Fatalf("err = %v, want exit 1 with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v\n%s", err, c.stderr.String())
			}
			if !strings.Contains(c.stderr.String(), "reqfleet: warning: "+tc.warning) {
				t.Fatalf("stderr %q, want the warning %q", c.stderr.String(), tc.warning)
			}
		})
	}
	// A queue in use warns of nothing.
	if c, err := run("stats"); err != nil || strings.Contains(c.stderr.String(), "warning") {
		t.Fatalf("stats: %v %q", err, c.stderr.String())
	}
}
