package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/reqfleet/reqfleet/internal/testredis"
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

// run --json prints the summary as one object: counts, a sample message of
// each exception type, the files written.
func TestRunJSON(t *testing.T) {
	srv := newTarget(t, nil)
	jobs := writeFile(t, "jobs.jsonl", fmt.Sprintf(`{"url": %q}
{"url": "http://127.0.0.1:1/refused"}
{"url": "http://127.0.0.1:1/refused2"}
`, srv.URL+"/"))
	out := t.TempDir()
	var c cli
	if err := c.run(context.Background(), "run", jobs, "--out", out, "--quiet", "--json"); err != nil {
		t.Fatalf("run: %v\n%s", err, c.stderr.String())
	}
	var r runReport
	if err := json.Unmarshal([]byte(c.stdout.String()), &r); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, c.stdout.String())
	}
	if r.Jobs != 3 || r.Responses != 1 || r.ByStatus["200"] != 1 || r.Exceptions != 2 || r.ByType[tasks.ConnectionError] != 2 ||
		!strings.Contains(r.Samples[tasks.ConnectionError], "127.0.0.1:1") || r.Results != filepath.Join(out, "results.jsonl") {
		t.Fatalf("report = %+v", r)
	}
}

func TestSampleMessage(t *testing.T) {
	long := strings.Repeat("é", maxSample+10)
	for in, want := range map[string]string{
		"dial tcp: no such host": "dial tcp: no such host",
		"a\x1b[31mred\r\nnext":   "a [31mred  next",
		long:                     strings.Repeat("é", maxSample) + "...",
	} {
		if got := sampleMessage(in); got != want {
			t.Errorf("sampleMessage(%q) = %q, want %q", in, got, want)
		}
	}
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
	for _, want := range []string{"4 jobs", "responses:  3  200: 2  404: 1", "exceptions: 1\n  MissingSchema: 1 (e.g. Invalid URL 'example.com/x': No scheme supplied",
		"written: " + filepath.Join(out, "results.jsonl") + " (responses), " + filepath.Join(out, "exceptions.jsonl") + " (exceptions)"} {
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

// countingTarget is an HTTP server that counts the requests it gets.
func countingTarget(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// A bad line 3 (or an id used twice): from a FILE nothing is enqueued or
// sent, the file being checked whole first; from stdin, read as it comes,
// lines 1 and 2 are. Either way the error is one line naming the input and
// the line, and the exit code is 3.
func TestRunBadLine(t *testing.T) {
	tests := []struct {
		name, line string
		want       []string
	}{
		{"wrong type", `{"url": "URL/3", "timeout": "soon"}`, []string{"line 3", "timeout"}},
		{"duplicate id", `{"url": "URL/3", "id": "one"}`, []string{"line 3", `id "one"`, "duplicate"}},
	}
	for _, tc := range tests {
		for _, stdin := range []bool{false, true} {
			name := tc.name + "/file"
			if stdin {
				name = tc.name + "/stdin"
			}
			t.Run(name, func(t *testing.T) {
				srv, sent := countingTarget(t)
				content := strings.ReplaceAll(`{"url": "URL/1", "id": "one"}
{"url": "URL/2"}
`+tc.line+`
{"url": "URL/4"}
`, "URL", srv.URL)
				out := t.TempDir()
				c := cli{}
				args := []string{"run", "--out", out, "--quiet"}
				input := "stdin"
				if stdin {
					c.stdin = content
					args = append(args, "-")
				} else {
					input = writeFile(t, "bad.jsonl", content)
					args = append(args, input)
				}
				ctx := context.Background()
				err := c.run(ctx, args...)
				if exitCode(ctx, err) != exitBadInput {
					t.Fatalf("exit %d, err %v; want %d", exitCode(ctx, err), err, exitBadInput)
				}
				msg := err.Error()
				want := append([]string{input + ": line 3: "}, tc.want...)
				if stdin {
					want = append(want, "2 jobs before it were enqueued")
				} else {
					want = append(want, "nothing enqueued")
				}
				for _, w := range want {
					if !strings.Contains(msg, w) {
						t.Errorf("error %q lacks %q", msg, w)
					}
				}
				if strings.Contains(msg, "\n") {
					t.Errorf("error is more than one line: %q", msg)
				}
				if stdin {
					if n := len(readLines(t, filepath.Join(out, "results.jsonl"))); n != 2 || sent.Load() != 2 {
						t.Fatalf("%d results, %d requests; want lines 1 and 2", n, sent.Load())
					}
				} else if sent.Load() != 0 {
					t.Fatalf("%d requests sent for a file with a bad line", sent.Load())
				}
			})
		}
	}
}

// enqueue of a file with a bad line leaves nothing in Redis: no job, no
// batch; one of a good file enqueues it whole.
func TestEnqueueBadFileEnqueuesNothing(t *testing.T) {
	redis := testredis.Start(t)
	rdb := redis.Client(t)
	ctx := context.Background()
	bad := writeFile(t, "bad.jsonl", "{\"url\": \"http://h/1\"}\n{\"url\": \"http://h/2\"}\n{\"url\": 3}\n")
	c := cli{}
	err := c.run(ctx, "enqueue", "--redis", redis.URL(), bad)
	if exitCode(ctx, err) != exitBadInput || !strings.Contains(err.Error(), bad+": line 3: ") {
		t.Fatalf("exit %d, err %v", exitCode(ctx, err), err)
	}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil || len(keys) != 0 {
		t.Fatalf("keys in Redis after a refused file: %q (%v)", keys, err)
	}
	good := writeFile(t, "good.jsonl", "{\"url\": \"http://h/1\"}\n{\"url\": \"http://h/2\"}\n")
	c = cli{}
	if err := c.run(ctx, "enqueue", "--redis", redis.URL(), "--json", good); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.stdout.String(), `"accepted":2`) {
		t.Fatalf("receipt %s", c.stdout.String())
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

// TestRunSummaryNoResponses: a run of exceptions only says "responses:  0"
// and no line of the summary ends in spaces.
func TestRunSummaryNoResponses(t *testing.T) {
	jobs := writeFile(t, "jobs.jsonl", `{"url": "example.com/x"}`+"\n")
	var c cli
	if err := c.run(context.Background(), "run", jobs, "--out", t.TempDir(), "-c", "1"); err != nil {
		t.Fatalf("run: %v\n%s", err, c.stderr.String())
	}
	summary := c.stdout.String()
	if !strings.Contains(summary, "responses:  0\n") {
		t.Errorf("summary lacks %q:\n%s", "responses:  0", summary)
	}
	for _, line := range strings.Split(summary, "\n") {
		if strings.TrimRight(line, " ") != line {
			t.Errorf("summary line %q ends in spaces", line)
		}
	}
}
