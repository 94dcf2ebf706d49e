package e2e

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
	"time"

	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/tasks"
)

// TestBadInputLines: a job file with a bad line makes enqueue exit 3 with
// one line of stderr naming the file, the line and the field; the file is
// checked whole first, so nothing is enqueued, not even a batch.
func TestBadInputLines(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := testredis.Start(t)
	good := `{"id":"ok","url":"http://127.0.0.1:1/"}`
	tests := []struct {
		name, line string
		want       []string // in stderr's one line
	}{
		{"malformed JSON", `{"url": "http://x"`, []string{"line 2", "not valid JSON"}},
		{"not an object", `["http://x"]`, []string{"line 2", "JSON object"}},
		{"unknown key", `{"url":"http://x","bogus":1}`, []string{"line 2", `"bogus"`, "unknown field"}},
		{"requests key not taken", `{"url":"http://x","files":{"a":"b"}}`, []string{"line 2", `"files"`, "multipart"}},
		{"missing url", `{"method":"POST"}`, []string{"line 2", `"url"`, "required"}},
		{"empty url", `{"url":""}`, []string{"line 2", `"url"`}},
		{"wrong type", `{"url":"http://x","timeout":"5"}`, []string{"line 2", `"timeout"`, "wrong type"}},
		{"wrong type of url", `{"url":5}`, []string{"line 2", `"url"`, "wrong type"}},
		{"header name with CR LF", `{"url":"http://x","headers":{"X-A\r\nX-B":"1"}}`, []string{"line 2", `"headers"`, "header name"}},
		{"header value with CR LF", `{"url":"http://x","headers":{"X-A":"1\r\nX-Injected: 2"}}`, []string{"line 2", `"headers.X-A"`, "CR, LF"}},
		{"cookie value with ;", `{"url":"http://x","cookies":{"a":"1; b=2"}}`, []string{"line 2", `"cookies.a"`}},
		{"bad method", `{"url":"http://x","method":"GE T"}`, []string{"line 2", `"method"`}},
		{"huge line", `{"url":"http://x","meta":"` + strings.Repeat("x", 2<<20) + `"}`, []string{"line 2", "too long"}},
		{"duplicate id", `{"id":"ok","url":"http://x"}`, []string{"line 2", `id "ok"`, "duplicate"}},
	}
	rdb := srv.Client(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "jobs.jsonl")
			if err := os.WriteFile(file, []byte(good+"\n"+tc.line+"\n"+good+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			r := cli(t, time.Minute, nil, "enqueue", "--redis", srv.URL(), "--queue", "bad", "--max-line", "1MiB", file)
			if r.code != 3 {
				t.Fatalf("exit %d, want 3\n%s", r.code, r.stderr)
			}
			line := oneLine(t, r.stderr)
			for _, w := range append([]string{file + ": ", "nothing enqueued"}, tc.want...) {
				if !strings.Contains(line, w) {
					t.Errorf("stderr %q lacks %q", line, w)
				}
			}
			if keys, err := rdb.Keys(context.Background(), "*").Result(); err != nil || len(keys) != 0 {
				t.Errorf("Redis holds %q (%v) after a refused file", keys, err)
			}
		})
	}
}

// oneLine returns stderr's only line ("reqfleet: ...").
func oneLine(t *testing.T, stderr string) string {
	t.Helper()
	s := strings.TrimSpace(stderr)
	if s == "" || strings.Contains(s, "\n") || !strings.HasPrefix(s, "reqfleet: ") {
		t.Fatalf("stderr is not one line of error:\n%s", tail(stderr, 2048))
	}
	return s
}

// TestBadFlagsAndRedis: bad flags exit 2 naming the flag; an unreachable or
// misnamed Redis exits 1; all in one line, and in bounded time.
func TestBadFlagsAndRedis(t *testing.T) {
	needBinary(t)
	t.Parallel()
	file := filepath.Join(t.TempDir(), "jobs.jsonl")
	if err := os.WriteFile(file, []byte(`{"url":"http://127.0.0.1:1/"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad timeout", []string{"worker", "--timeout", "soon"}, 2, "-timeout"},
		{"bad max-body", []string{"worker", "--max-body", "-5"}, 2, "-max-body"},
		{"bad header flag", []string{"worker", "-H", "X-A: 1\r\nX-B: 2"}, 2, "-H"},
		{"bad proxy", []string{"worker", "--proxy", "ftp://p"}, 2, "--proxy"},
		{"bad queue", []string{"enqueue", "--queue", "a b", file}, 2, "--queue"},
		{"bad max-retry", []string{"enqueue", "--max-retry", "-2", file}, 2, "--max-retry"},
		{"missing file", []string{"enqueue", filepath.Join(t.TempDir(), "nope.jsonl")}, 1, "nope.jsonl: no such file"},
		{"mistyped flag", []string{"worker", "--concurency", "3"}, 2, "did you mean --concurrency?"},
		{"renamed flag", []string{"wait", "--timeout", "2s", "B"}, 2, "it is now --give-up-after"},
		{"unknown subcommand", []string{"frobnicate"}, 2, "frobnicate"},
		{"not a Redis URL", []string{"enqueue", "--redis", "http://u:pw@h:1", file}, 2, "--redis"},
		{"unparsable Redis URL", []string{"stats", "--redis", "redis://u:pw@h:port"}, 2, "--redis"},
		{"unreachable Redis: enqueue", []string{"enqueue", "--redis", "redis://127.0.0.1:1", "--redis-wait", "1s", file}, 1, "Redis unreachable"},
		{"unreachable Redis: worker", []string{"worker", "--redis", "redis://127.0.0.1:1", "--redis-wait", "1s"}, 1, "Redis unreachable"},
		{"unreachable Redis: retry", []string{"retry", "--redis", "redis://127.0.0.1:1", "--redis-wait", "1s"}, 1, "Redis unreachable"},
		{"unreachable Redis: wait", []string{"wait", "--redis", "redis://127.0.0.1:1", "--redis-wait", "1s", "B"}, 1, "Redis unreachable"},
		{"unreachable Redis: results", []string{"results", "--redis", "redis://127.0.0.1:1", "--redis-wait", "1s"}, 1, "--redis redis://127.0.0.1:1: Redis unreachable"},
		{"unreachable Redis: exceptions", []string{"exceptions", "--redis", "redis://u:pw@127.0.0.1:1", "--redis-wait", "1s"}, 1, "--redis redis://u:xxxxx@127.0.0.1:1: Redis unreachable"},
		{"unreachable Redis: stats", []string{"stats", "--redis", "redis://127.0.0.1:1", "--redis-wait", "1s"}, 1, "--redis redis://127.0.0.1:1: Redis unreachable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, 30*time.Second, nil, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, tc.code, r.stderr)
			}
			first := oneLine(t, r.stderr) // usage errors too: no flags' help after them
			if !strings.Contains(r.stderr, tc.want) || strings.Contains(r.stderr, "pw@") {
				t.Fatalf("stderr %q: want %q (and no password)", first, tc.want)
			}
		})
	}
}

// TestBadTargets: URLs requests refuses, bodies past --max-body, answers that
// never come or never end, and unreachable hosts each end as one entry (an
// exception, or a truncated response), in bounded time; run exits 0.
func TestBadTargets(t *testing.T) {
	needBinary(t)
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Repeat("x", 64<<10))
	})
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) { // headers, a little body, then nothing
		w.Write([]byte("start"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("/trickle", func(w http.ResponseWriter, r *http.Request) { // a byte every 100ms, for ever
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				w.Write([]byte("."))
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	})
	mux.HandleFunc("/silent", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }) // no headers ever
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	jobs := map[string]struct{ url, typ string }{ // id -> url, exception type ("" for a truncated response)
		"no-scheme":   {"example.com/x", tasks.MissingSchema},
		"ftp":         {"ftp://example.com/", tasks.InvalidSchema},
		"file":        {"file:///etc/passwd", tasks.InvalidSchema},
		"no-host":     {"http://", tasks.InvalidURL},
		"bad-port":    {"http://example.com:99999/", tasks.InvalidURL},
		"refused":     {"http://127.0.0.1:1/", tasks.ConnectionError},
		"big-body":    {srv.URL + "/big", ""},
		"endless":     {srv.URL + "/endless", tasks.ConnectionError}, // a read timeout mid-body, as requests names it
		"silent":      {srv.URL + "/silent", tasks.ReadTimeout},
		"trickle":     {srv.URL + "/trickle", tasks.TotalTimeout},
		"bad-header":  {srv.URL + "/big", tasks.InvalidHeader},
		"url-secrets": {"http://user:pw@127.0.0.1:1/", tasks.ConnectionError},
	}
	var b strings.Builder
	for id, j := range jobs {
		if id == "bad-header" { // passes the decoder, refused when sent (leading space, as requests)
			fmt.Fprintf(&b, "{\"id\":%q,\"url\":%q,\"headers\":{\"X-A\":\" leading\"}}\n", id, j.url)
			continue
		}
		fmt.Fprintf(&b, "{\"id\":%q,\"url\":%q}\n", id, j.url)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "jobs.jsonl")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	start := time.Now()
	mustCLI(t, 2*time.Minute, nil, "run", "--quiet", "--out", out, "-c", "8",
		"--timeout", "1", "--job-timeout", "3s", "--max-body", "1KiB", file)
	t.Logf("run took %v", time.Since(start).Round(100*time.Millisecond))

	got := map[string]string{}
	read := func(name string, f func(line []byte)) {
		fh, err := os.Open(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			f(sc.Bytes())
		}
	}
	read("exceptions.jsonl", func(line []byte) {
		e, err := tasks.DecodeException(line)
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := got[e.ID]; dup {
			t.Fatalf("%s twice", e.ID)
		}
		got[e.ID] = e.Exception.Type
		if strings.Contains(e.Exception.Message, "pw@") || strings.Contains(e.Exception.Message, "\n") {
			t.Errorf("%s: message %q", e.ID, e.Exception.Message)
		}
	})
	read("results.jsonl", func(line []byte) {
		r, err := tasks.DecodeResponse(line)
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := got[r.ID]; dup {
			t.Fatalf("%s twice", r.ID)
		}
		if !r.Truncated || len(r.Body) != 1<<10 {
			t.Errorf("%s: truncated %v, %d bytes of body; want it cut at 1 KiB", r.ID, r.Truncated, len(r.Body))
		}
		got[r.ID] = ""
	})
	for id, j := range jobs {
		typ, ok := got[id]
		if !ok || typ != j.typ {
			t.Errorf("%s: got %q (present %v), want %q", id, typ, ok, j.typ)
		}
	}
	if len(got) != len(jobs) {
		t.Fatalf("%d entries for %d jobs", len(got), len(jobs))
	}
}
