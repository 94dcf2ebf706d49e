package main

import (
	"context"
	"fmt"
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

// Per-host limits on a real 3-node Redis Cluster: the host's keys and the
// queue's live in different slots, each call touching one (a call across
// them would fail with CROSSSLOT), and the throttled jobs all land.
func TestLimitsOnRedisCluster(t *testing.T) {
	srv := newTarget(t, nil)
	cluster := testredis.StartCluster(t)
	env := map[string]string{"REQFLEET_REDIS_CLUSTER": strings.Join(cluster.Addrs(), ",")}
	ctx := context.Background()
	must := func(args ...string) string {
		t.Helper()
		c := &cli{env: env}
		if err := c.run(ctx, args...); err != nil {
			t.Fatalf("reqfleet %s: %v\n%s", strings.Join(args, " "), err, c.stderr.String())
		}
		return strings.TrimSpace(c.stdout.String())
	}
	must("limits", "set", "127.0.0.1", "--rate", "20/s", "--concurrency", "1")
	var urls strings.Builder
	for i := range 20 {
		fmt.Fprintf(&urls, "%s/l%d\n", srv.URL, i)
	}
	batch := must("enqueue", "--urls", writeFile(t, "urls.txt", urls.String()))
	startClusterWorker(t, env, "-c", "4")
	startClusterWorker(t, env, "-c", "4")
	out := must("wait", batch, "--give-up-after", "60s", "--quiet")
	if !strings.Contains(out, "20 responses") {
		t.Fatalf("wait printed %s", out)
	}
	if !strings.Contains(must("results", "--batch", batch), `"throttled_ms"`) {
		t.Error("no result says it was throttled")
	}
	if list := must("limits"); !strings.Contains(list, "127.0.0.1") {
		t.Errorf("limits:\n%s", list)
	}
}
