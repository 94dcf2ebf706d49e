package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/outcomes"
	"github.com/reqfleet/reqfleet/tasks"
)

// startClusterWorker runs `reqfleet worker --redis-cluster` until the test ends.
func startClusterWorker(t *testing.T, env map[string]string, args ...string) {
	t.Helper()
	c := &cli{env: env}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- c.run(ctx, append([]string{"worker", "--log-format", "json"}, args...)...)
	}()
	t.Cleanup(func() { stopCommand(t, "worker", c, cancel, done) })
}

// The fleet on a real 3-node Redis Cluster: enqueue, workers, wait, results,
// exceptions, retry, stats and run. Every reqfleet key carries its queue's
// hash tag, so each Lua script touches one slot; a key outside it would fail
// here with CROSSSLOT.
func TestFleetOnRedisCluster(t *testing.T) {
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

	// Two queues whose keys land on different nodes ("run" on a third).
	for _, queue := range []string{"default", "other"} {
		jobs := writeFile(t, "urls.txt", srv.URL+"/a\n"+srv.URL+"/missing\nhttp://127.0.0.1:1/refused\n")
		batch := must("enqueue", "--queue", queue, "--urls", jobs, "--retries", "1") // the refused job tried twice: the retry set and its forwarder on the cluster
		startClusterWorker(t, env, "--queue", queue, "-c", "2")
		startClusterWorker(t, env, "--queue", queue, "-c", "2")

		var bs outcomes.BatchStatus
		out := must("wait", "--queue", queue, batch, "--give-up-after", "30s", "--quiet", "--json")
		if err := json.Unmarshal([]byte(out), &bs); err != nil || !bs.Complete() || bs.Responses != 2 || bs.Exceptions != 1 {
			t.Fatalf("%s: wait printed %s (%v)", queue, out, err)
		}
		if results := strings.Split(must("results", "--queue", queue, "--batch", batch), "\n"); len(results) != 2 {
			t.Fatalf("%s: results %q", queue, results)
		}
		e, err := tasks.DecodeException([]byte(must("exceptions", "--queue", queue, "--batch", batch)))
		if err != nil || e.Exception.Type != tasks.ConnectionError || len(e.Retries) != 2 {
			t.Fatalf("%s: exception %+v, %v", queue, e, err)
		}
		must("retry", "--queue", queue)
		must("wait", "--queue", queue, batch, "--give-up-after", "30s", "--quiet", "--json")
		e2, err := tasks.DecodeException([]byte(must("exceptions", "--queue", queue, "--pop")))
		if err != nil || e2.ID != e.ID || e2.Attempt != 2 {
			t.Fatalf("%s: retried exception %+v, %v", queue, e2, err)
		}

		// Each worker's asynq heartbeat registers it within a few seconds
		// of its start; until then stats may count fewer. Both workers run
		// in this test's process, so stats shows them as one process with
		// their concurrency added up.
		var st outcomes.Stats
		slots := func() (n int) {
			for _, w := range st.Workers {
				n += w.Concurrency
			}
			return n
		}
		testkit.WaitUntil(t, 20*time.Second, func() error {
			st = outcomes.Stats{}
			if err := json.Unmarshal([]byte(must("stats", "--queue", queue, "--json")), &st); err != nil {
				t.Fatal(err)
			}
			if slots() < 4 {
				return fmt.Errorf("%d worker slots", slots())
			}
			return nil
		}, queue+": both workers in stats")
		if st.Results != 2 || st.Exceptions != 0 || len(st.Batches) != 1 || len(st.Workers) != 1 || slots() != 4 || st.Pending != 0 {
			t.Fatalf("%s: stats %+v", queue, st)
		}
	}

	// The inbox: a plain LPUSH on the cluster; the workers' forwarder
	// moves it into the queue.
	cc := cluster.Client(t)
	line := fmt.Sprintf(`{"url": %q, "id": "via-inbox"}`, srv.URL+"/inbox")
	if err := cc.LPush(ctx, rdb.InboxKey("other"), line).Err(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUntil(t, 30*time.Second, func() bool {
		return strings.Contains(must("results", "--queue", "other"), `"id":"via-inbox"`)
	}, "the inbox job run on the cluster")

	// serve on the cluster: the API and the metrics.
	api := startServe(t, env, "--allow-private-urls", "--queues", "default,other")
	code, body := httpDo(t, "POST", api+"/v1/jobs", "", "application/json", fmt.Sprintf(`{"url": %q}`, srv.URL+"/api"))
	if code != 202 {
		t.Fatalf("POST: %d %s", code, body)
	}
	code, body = httpDo(t, "GET", api+"/metrics", "", "", "")
	// The two workers of queue "other" run in this test's process: one
	// worker process, with the sessions of both.
	for _, want := range []string{"reqfleet_redis_up 1", `reqfleet_workers{queue="other"} 1`, `reqfleet_worker_slots{queue="other"} 4`, `reqfleet_list_length{list="results",queue="other"} 3`} {
		if code != 200 || !strings.Contains(body, want+"\n") {
			t.Errorf("serve /metrics on the cluster lacks %q: %d", want, code)
		}
	}

	if code, body := httpDo(t, "GET", api+"/ui/api/queues", "", "", ""); code != 200 || !strings.Contains(body, `"other"`) {
		t.Errorf("the web UI on the cluster: %d %s", code, body)
	}

	// run on the cluster, with its own worker.
	jobs := writeFile(t, "urls.txt", srv.URL+"/b\n")
	out := must("run", "--out", t.TempDir(), "--quiet", "--queue", "run", jobs)
	if !strings.Contains(out, "responses:  1") {
		t.Fatalf("run printed %q", out)
	}

	// --redis and --redis-cluster together are a usage error.
	c := &cli{env: env}
	if err := c.run(ctx, "stats", "--redis", "redis://127.0.0.1:1"); exitCode(ctx, err) != exitUsage {
		t.Fatalf("--redis with --redis-cluster: err = %v", err)
	}
}
