package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/outcomes"
	"github.com/reqfleet/reqfleet/tasks"
)

// startWorker runs `reqfleet worker` until the test ends.
func startWorker(t *testing.T, redisURL string, args ...string) *cli {
	t.Helper()
	c := &cli{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- c.run(ctx, append([]string{"worker", "--redis", redisURL, "--log-format", "json"}, args...)...)
	}()
	t.Cleanup(func() { stopCommand(t, "worker", c, cancel, done) })
	return c
}

// The fleet by hand: workers, enqueue, wait, results, exceptions, retry, stats.
func TestFleetCommands(t *testing.T) {
	srv := newTarget(t, nil)
	redis := testredis.Start(t)
	env := map[string]string{"REQFLEET_REDIS": redis.URL()}
	ctx := context.Background()
	must := func(c *cli, args ...string) string {
		t.Helper()
		c.env = env
		if err := c.run(ctx, args...); err != nil {
			t.Fatalf("reqfleet %s: %v\n%s", strings.Join(args, " "), err, c.stderr.String())
		}
		return strings.TrimSpace(c.stdout.String())
	}

	// Enqueue before any worker: the jobs wait in the queue.
	jobs := writeFile(t, "urls.txt", srv.URL+"/a\n"+srv.URL+"/missing\nhttp://127.0.0.1:1/refused\n")
	batch := must(&cli{}, "enqueue", "--urls", jobs, "-H", "X-Test: yes")
	if !strings.Contains(batch, "T") || strings.Contains(batch, "\n") {
		t.Fatalf("enqueue printed %q, want a batch id", batch)
	}
	var st outcomes.Stats
	if err := json.Unmarshal([]byte(must(&cli{}, "stats", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Pending != 3 {
		t.Fatalf("stats before workers: %+v", st)
	}

	startWorker(t, redis.URL(), "-c", "2")
	startWorker(t, redis.URL(), "-c", "2")

	waitOut := must(&cli{}, "wait", batch, "--give-up-after", "30s", "--quiet", "--json")
	var bs outcomes.BatchStatus
	if err := json.Unmarshal([]byte(waitOut), &bs); err != nil || !bs.Complete() || bs.Responses != 2 || bs.Exceptions != 1 {
		t.Fatalf("wait printed %s (%v)", waitOut, err)
	}
	results := strings.Split(must(&cli{}, "results", "--batch", batch), "\n")
	if len(results) != 2 {
		t.Fatalf("results: %q", results)
	}
	r, err := tasks.DecodeResponse([]byte(results[0]))
	if err != nil || r.Request.Headers["X-Test"] != "yes" {
		t.Fatalf("result = %+v, %v", r, err)
	}
	exc := must(&cli{}, "exceptions", "--batch", batch)
	e, err := tasks.DecodeException([]byte(exc))
	if err != nil || e.Exception.Type != tasks.ConnectionError || e.Attempt != 1 {
		t.Fatalf("exception = %+v, %v", e, err)
	}

	// Dry run lists it and moves nothing; retry sends it again as attempt 2.
	if dry := must(&cli{}, "retry", "--dry-run"); !strings.Contains(dry, e.ID) {
		t.Fatalf("dry run printed %q", dry)
	}
	must(&cli{}, "retry", "--type", "ConnectionError")
	must(&cli{}, "wait", batch, "--give-up-after", "30s", "--quiet", "--json")
	exc = must(&cli{}, "exceptions", "--pop")
	lines := strings.Split(exc, "\n")
	if len(lines) != 1 {
		t.Fatalf("after retry: exceptions %q", lines)
	}
	e2, err := tasks.DecodeException([]byte(lines[0]))
	if err != nil || e2.ID != e.ID || e2.Attempt != 2 {
		t.Fatalf("retried exception = %+v, %v; want id %s attempt 2", e2, err, e.ID)
	}
	if left := must(&cli{}, "exceptions"); left != "" {
		t.Fatalf("--pop left %q", left)
	}
	text := must(&cli{}, "stats")
	for _, want := range []string{"results", "workers", batch} {
		if !strings.Contains(text, want) {
			t.Errorf("stats lacks %q:\n%s", want, text)
		}
	}
}

func TestWorkerUnreachableRedis(t *testing.T) {
	var c cli
	err := c.run(context.Background(), "worker", "--redis", "redis://127.0.0.1:1", "--redis-wait", "0.3")
	if err == nil || exitCode(context.Background(), err) != exitFailure {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("error is not one line: %q", err)
	}
}
