package main

import (
	"context"
	"strings"
	"testing"

	"github.com/reqfleet/reqfleet/internal/testredis"
)

func TestLimitsCommand(t *testing.T) {
	s := testredis.Start(t)
	ctx := context.Background()
	run := func(want int, args ...string) string {
		t.Helper()
		var c cli
		err := c.run(ctx, append(args, "--redis", s.URL())...)
		if got := exitCode(ctx, err); got != want {
			t.Fatalf("%v: exit %d (%v), want %d\n%s", args, got, err, want, c.stderr.String())
		}
		return c.stdout.String()
	}
	if out := run(exitOK, "limits", "set", "Example.com:8443", "--rate", "20/s", "--burst", "5", "--concurrency", "3"); !strings.Contains(out, "example.com\t20/s burst 5 concurrency 3") {
		t.Errorf("set printed %q", out)
	}
	run(exitOK, "limits", "set", "*.example.org", "--concurrency", "2")
	out := run(exitOK, "limits")
	for _, want := range []string{"HOST", "example.com", "20/s burst 5 concurrency 3", "*.example.org", "concurrency 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	if out := run(exitOK, "limits", "--json"); !strings.Contains(out, `"in_flight": 0`) {
		t.Errorf("JSON list:\n%s", out)
	}
	run(exitOK, "limits", "rm", "example.com")
	run(exitUsage, "limits", "rm", "example.com") // no longer there
	if out := run(exitOK, "stats"); strings.Contains(out, "throttled") {
		t.Errorf("stats shows throttled hosts with none:\n%s", out)
	}
	for _, bad := range [][]string{
		{"limits", "set", "x.example"},                   // neither rate nor concurrency
		{"limits", "set", "x.example", "--rate", "fast"}, // bad rate
		{"limits", "set", "x.example", "--burst", "3"},   // burst without rate
		{"limits", "set", "a*b", "--concurrency", "1"},   // bad pattern
		{"limits", "set", "--concurrency", "1"},          // no host
		{"limits", "rm", "x.example", "--rate", "1/s"},   // set's flags
		{"limits", "frob"},                               // unknown action
		{"worker", "--default-rate", "x"},                // the worker's flags
		{"worker", "--default-concurrency", "-1"},
	} {
		run(exitUsage, bad...)
	}
}
