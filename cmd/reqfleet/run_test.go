package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reqfleet/reqfleet/tasks"
)

func newTarget(t *testing.T, seenAuth chan<- string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seenAuth != nil {
			select {
			case seenAuth <- r.Header.Get("Authorization"):
			default:
			}
		}
		switch r.URL.Path {
		case "/missing":
			http.NotFound(w, r)
		default:
			fmt.Fprint(w, "ok")
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestRunEmbedded(t *testing.T) {
	seen := make(chan string, 100)
	srv := newTarget(t, seen)
	jobs := writeFile(t, "jobs.jsonl", fmt.Sprintf(`{"url": %q}
{"url": %q, "method": "post", "json": {"a": 1}}

{"url": %q}
{"url": "example.com/x"}
`, srv.URL+"/", srv.URL+"/p", srv.URL+"/missing"))
	out := t.TempDir()
	c := cli{env: map[string]string{"TOKEN": "s3cret-token"}}
	err := c.run(context.Background(), "run", jobs, "--out", out, "-c", "2", "--bearer-env", "TOKEN", "--log-level", "debug")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, c.stderr.String())
	}
	summary := c.stdout.String()
	for _, want := range []string{"4 jobs", "responses:  3  200: 2  404: 1", "exceptions: 1  MissingSchema: 1"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	if n := len(readLines(t, filepath.Join(out, "results.jsonl"))); n != 3 {
		t.Errorf("results.jsonl has %d lines, want 3", n)
	}
	exc := readLines(t, filepath.Join(out, "exceptions.jsonl"))
	if len(exc) != 1 {
		t.Fatalf("exceptions.jsonl has %d lines, want 1", len(exc))
	}
	if e, err := tasks.DecodeException([]byte(exc[0])); err != nil || e.Exception.Type != tasks.MissingSchema {
		t.Fatalf("exception = %+v, %v", e, err)
	}
	select {
	case got := <-seen: // run has returned: the request was sent
		if got != "Bearer s3cret-token" {
			t.Fatalf("Authorization sent = %q", got)
		}
	default:
		t.Fatal("no request reached the target")
	}
	if strings.Contains(c.stderr.String(), "s3cret") || strings.Contains(summary, "s3cret") {
		t.Fatalf("the token was printed:\n%s", c.stderr.String())
	}
}

func TestRunURLsFromStdin(t *testing.T) {
	srv := newTarget(t, nil)
	c := cli{stdin: "# comment\n" + srv.URL + "/a\n\n" + srv.URL + "/missing\n"}
	out := t.TempDir()
	if err := c.run(context.Background(), "run", "--urls", "-", "--out", out, "--quiet"); err != nil {
		t.Fatalf("run: %v\n%s", err, c.stderr.String())
	}
	if !strings.Contains(c.stdout.String(), "200: 1  404: 1") {
		t.Fatalf("summary:\n%s", c.stdout.String())
	}
}

func TestRunBadLineNamesFileAndLine(t *testing.T) {
	srv := newTarget(t, nil)
	jobs := writeFile(t, "bad.jsonl", fmt.Sprintf("{\"url\": %q}\n{\"url\": %q, \"timeout\": \"soon\"}\n{\"url\": %q}\n", srv.URL+"/1", srv.URL+"/2", srv.URL+"/3"))
	out := t.TempDir()
	var c cli
	ctx := context.Background()
	err := c.run(ctx, "run", jobs, "--out", out, "--quiet")
	if exitCode(ctx, err) != exitBadInput {
		t.Fatalf("exit %d, err %v; want %d", exitCode(ctx, err), err, exitBadInput)
	}
	msg := err.Error()
	for _, want := range []string{"bad.jsonl", "line 2", "timeout", "1 jobs before it were enqueued"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error is more than one line: %q", msg)
	}
	if n := len(readLines(t, filepath.Join(out, "results.jsonl"))); n != 1 {
		t.Fatalf("results = %d, want the 1 job before the bad line", n)
	}
}

func TestSniffFormat(t *testing.T) {
	tests := []struct{ name, content, want string }{
		{"jobs.jsonl", "http://x\n", "jsonl"},
		{"urls.txt", "{\"url\":\"x\"}\n", "urls"},
		{"stdin", "\n  {\"url\":\"x\"}\n", "jsonl"},
		{"stdin", "# list\nhttp://x\n", "urls"},
		{"stdin", "http://x\n", "urls"},
		{"stdin", "", "jsonl"},
		{"stdin", "   \n", "jsonl"},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/"+tc.content, func(t *testing.T) {
			if got := sniffFormat(tc.name, bufio.NewReader(strings.NewReader(tc.content))); got != tc.want {
				t.Fatalf("sniffFormat = %q, want %q", got, tc.want)
			}
		})
	}
}
