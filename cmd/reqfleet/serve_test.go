package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/tasks"
)

// startServe runs `reqfleet serve` until the test ends and returns its URL.
func startServe(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	c := &cli{env: env}
	ctx, cancel := context.WithCancel(context.Background())
	var serveErr error
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		serveErr = c.run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, args...)...)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exited:
			if serveErr != nil {
				t.Errorf("serve: %v\n%s", serveErr, c.stderr.String())
			}
		case <-time.After(20 * time.Second):
			t.Errorf("serve did not stop:\n%s", c.stderr.String())
		}
	})
	var u string
	testkit.WaitUntil(t, 20*time.Second, func() error {
		select {
		case <-exited:
			t.Fatalf("serve stopped: %v\n%s", serveErr, c.stderr.String())
		default:
		}
		if u = strings.TrimSpace(c.stdout.String()); !strings.HasPrefix(u, "http://") {
			return fmt.Errorf("stderr:\n%s", c.stderr.String())
		}
		return nil
	}, "serve to start")
	return u
}

func httpDo(t *testing.T, method, url, token, ctype, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// serve's API, a worker with its inbox forwarder and /metrics, and the CLI
// on one Redis.
func TestServeAndInbox(t *testing.T) {
	srv := newTarget(t, nil)
	rs := testredis.Start(t)
	const token = "t0ken"
	env := map[string]string{"REQFLEET_REDIS": rs.URL(), apiTokenEnv: token}
	api := startServe(t, env, "--allow-private-urls", "--queues", "default,other")
	port, err := testredis.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	startWorker(t, rs.URL(), "-c", "2", "--queues", "default,other", "--metrics-addr", fmt.Sprintf("127.0.0.1:%d", port))

	// The API: enqueue, then wait with the CLI and read back.
	if code, _ := httpDo(t, "POST", api+"/v1/jobs", "", "application/json", `{"url": "https://example.com/"}`); code != 401 {
		t.Fatalf("POST without the token: %d", code)
	}
	code, body := httpDo(t, "POST", api+"/v1/jobs?queue=other", token, "application/x-ndjson",
		fmt.Sprintf("{\"url\": %q, \"id\": \"api-1\"}\n{\"url\": %q}\n", srv.URL+"/a", srv.URL+"/missing"))
	if code != 202 {
		t.Fatalf("POST: %d %s", code, body)
	}
	var rec struct {
		Batch    string
		Accepted int
		IDs      []string
	}
	if err := json.Unmarshal([]byte(body), &rec); err != nil || rec.Accepted != 2 {
		t.Fatalf("receipt %s (%v)", body, err)
	}
	c := &cli{env: env}
	if err := c.run(context.Background(), "wait", "--queue", "other", "--give-up-after", "30s", "--quiet", "--json", rec.Batch); err != nil {
		t.Fatalf("wait: %v\n%s", err, c.stderr.String())
	}
	code, body = httpDo(t, "GET", api+"/v1/batches/"+rec.Batch+"?queue=other", token, "", "")
	if code != 200 || !strings.Contains(body, `"complete":true`) || !strings.Contains(body, `"responses":2`) {
		t.Fatalf("batch: %d %s", code, body)
	}
	code, body = httpDo(t, "GET", api+"/v1/results?queue=other&batch="+rec.Batch, token, "", "")
	if code != 200 || strings.Count(body, "\n") != 2 || !strings.Contains(body, `"id":"api-1"`) {
		t.Fatalf("results: %d %s", code, body)
	}

	// The inbox: a plain LPUSH, as redis-cli would send it.
	rdb := rs.Client(t)
	line := fmt.Sprintf(`{"url": %q, "id": "from-redis-cli"}`, srv.URL+"/inbox")
	if err := rdb.Do(context.Background(), "LPUSH", reqrdb.InboxKey("default"), line).Err(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUntil(t, 30*time.Second, func() bool {
		c := &cli{env: env}
		if err := c.run(context.Background(), "results"); err != nil {
			t.Fatal(err)
		}
		out := c.stdout.String()
		if out == "" {
			return false
		}
		r, err := tasks.DecodeResponse([]byte(strings.TrimSpace(out)))
		if err != nil || r.ID != "from-redis-cli" || r.Body != "ok" {
			t.Fatalf("inbox job's result: %+v, %v", r, err)
		}
		return true
	}, "the LPUSHed job to run")

	// /metrics on serve (behind the token) and on the worker.
	code, body = httpDo(t, "GET", api+"/metrics", token, "", "")
	if code != 200 || !strings.Contains(body, `reqfleet_list_length{list="results",queue="other"} 2`) {
		t.Fatalf("serve /metrics: %d\n%s", code, body)
	}
	code, body = httpDo(t, "GET", metricsURL, "", "", "")
	if code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("worker /metrics: %d\n%s", code, body)
	}
	if code, _ := httpDo(t, "GET", api+"/healthz", "", "", ""); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
}

func TestServeUsage(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "extra"},
		{"serve", "--queues", "bad queue"},
		{"serve", "--max-ids", "-1"},
	} {
		c := &cli{}
		if err := c.run(context.Background(), args...); exitCode(context.Background(), err) != exitUsage {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
}
