package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/reqfleet/reqfleet/tasks"
)

// TestRunRetries checks that run's --retries, --retry-on and
// --retry-backoff give the jobs without a policy one: a job whose endpoint
// answers 503 once lands as its 200 with its history; a job's own policy
// (retries 0: none) is kept.
func TestRunRetries(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/flaky" && hits.Add(1) == 1 {
			w.WriteHeader(503)
		}
	}))
	t.Cleanup(srv.Close)
	jobs := writeFile(t, "jobs.jsonl", fmt.Sprintf(`{"url": %q, "id": "flaky"}
{"url": %q, "id": "own", "retries": 0}
`, srv.URL+"/flaky", srv.URL+"/own"))
	out := t.TempDir()
	var c cli
	if err := c.run(context.Background(), "run", jobs, "--out", out, "-c", "2", "--retries", "2", "--retry-on", "503,ConnectionError", "--retry-backoff", "0.1"); err != nil {
		t.Fatalf("run: %v\n%s", err, c.stderr.String())
	}
	res := readLines(t, filepath.Join(out, "results.jsonl"))
	if len(res) != 2 {
		t.Fatalf("%d results, want 2", len(res))
	}
	for _, line := range res {
		r, err := tasks.DecodeResponse([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		switch r.ID {
		case "flaky":
			if r.StatusCode != 200 || len(r.Retries) != 2 || r.Retries[0].StatusCode != 503 || r.Request.Retries == nil {
				t.Fatalf("flaky: %s", line)
			}
		case "own":
			if r.Retries != nil || r.Request.Retries.Total.N != 0 {
				t.Fatalf("own: %s", line)
			}
		}
	}
}

func TestRetryFlagErrors(t *testing.T) {
	jobs := writeFile(t, "jobs.jsonl", `{"url": "http://127.0.0.1:1/"}`+"\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--retry-on", "503"}, "--retry-on needs --retries"},
		{[]string{"--retry-backoff", "1"}, "--retry-backoff needs --retries"},
		{[]string{"--retries", "3", "--retry-on", "Timeout"}, "--retry-on: "},
		{[]string{"--retries", "99"}, "--retries: "},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var c cli
			err := c.run(context.Background(), append([]string{"enqueue", "--redis", "redis://127.0.0.1:1", jobs}, tc.args...)...)
			if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want a usage error saying %q", err, tc.want)
			}
		})
	}
}
