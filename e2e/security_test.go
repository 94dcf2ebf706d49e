package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/tasks"
)

// TestRedisAuthAndTLS: the fleet works against a Redis that wants a
// password (redis://:pw@) and one that speaks only TLS (rediss://, trusting
// a private CA through $REQFLEET_REDIS_CA); a wrong password or an
// untrusted certificate fails at once, in one line that shows no password.
func TestRedisAuthAndTLS(t *testing.T) {
	needBinary(t)
	t.Parallel()
	tg := newTarget(t)
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) *testredis.Server
	}{
		{"requirepass", func(t *testing.T) *testredis.Server { return testredis.StartAuth(t, "s3cret-pw") }},
		{"tls", func(t *testing.T) *testredis.Server { return testredis.StartTLS(t, "s3cret-pw") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.start(t)
			rdb := srv.Client(t)
			var envs []string
			if srv.CAFile != "" {
				envs = append(envs, "REQFLEET_REDIS_CA="+srv.CAFile)
			}
			file, ids := writeJobs(t, "auth", 20, func(i int) string { return fmt.Sprintf("%s/delay/1/%d", tg.URL, i) })
			start(t, "worker", envs, "worker", "--redis", srv.URL(), "-c", "4")
			r := mustCLI(t, time.Minute, envs, "enqueue", "--redis", srv.URL(), "--wait", file)
			batch := strings.TrimSpace(strings.SplitN(r.stdout, "\n", 2)[0])
			wantAll(t, checkBatch(t, rdb, "default", batch, ids), "a response of attempt 1", isResponse(1))
			res := mustCLI(t, time.Minute, envs, "results", "--redis", srv.URL(), "--batch", batch)
			if n := strings.Count(res.stdout, "\n"); n != len(ids) {
				t.Fatalf("results printed %d lines, want %d", n, len(ids))
			}

			wrong := strings.Replace(srv.URL(), "s3cret-pw", "wrong-pw", 1)
			r = cli(t, 30*time.Second, envs, "enqueue", "--redis", wrong, file)
			line := oneLine(t, r.stderr)
			if r.code != 1 || strings.Contains(line, "wrong-pw") || strings.Contains(line, "s3cret") {
				t.Fatalf("wrong password: exit %d, %q", r.code, line)
			}
			if srv.CAFile != "" {
				r = cli(t, 30*time.Second, nil, "enqueue", "--redis", srv.URL(), file)
				line := oneLine(t, r.stderr)
				if r.code != 1 || !strings.Contains(line, "certificate") || strings.Contains(line, "s3cret") {
					t.Fatalf("untrusted CA: exit %d, %q", r.code, line)
				}
			}
		})
	}
}

// TestSecretsNotLogged: with every log at debug, no secret reaches stderr:
// not the Redis password, not --bearer-env's or --basic-auth-env's, not a
// job's auth, Authorization or Cookie header, cookies, or URL password,
// whether the job gets a response or an exception.
func TestSecretsNotLogged(t *testing.T) {
	needBinary(t)
	t.Parallel()
	secrets := map[string]string{
		"redis":  "redisPW-s3cr3t-1",
		"bearer": "bearerTOKEN-s3cr3t-2",
		"basic":  "basicPW-s3cr3t-3",
		"auth":   "authPW-s3cr3t-4",
		"header": "hdrTOKEN-s3cr3t-5",
		"cookie": "cookieVAL-s3cr3t-6",
		"jar":    "jarVAL-s3cr3t-7",
		"url":    "urlPW-s3cr3t-8",
		"proxy":  "proxyTOKEN-s3cr3t-9",
	}
	srv := testredis.StartAuth(t, secrets["redis"])
	var sawBearer atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Authorization"), secrets["bearer"]) {
			sawBearer.Store(true)
		}
		http.SetCookie(w, &http.Cookie{Name: "set", Value: "server-cookie"})
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/final", http.StatusFound)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(target.Close)
	var b strings.Builder
	for i, u := range []string{target.URL + "/", target.URL + "/redirect", "http://127.0.0.1:1/refused", "ftp://x/"} {
		fmt.Fprintf(&b, `{"id":"a%d","url":%q,"auth":["user",%q]}`+"\n", i, u, secrets["auth"])
		fmt.Fprintf(&b, `{"id":"h%d","url":%q,"headers":{"Authorization":"Bearer %s","Cookie":"sid=%s","Proxy-Authorization":"Basic %s"}}`+"\n",
			i, u, secrets["header"], secrets["cookie"], secrets["proxy"])
		fmt.Fprintf(&b, `{"id":"c%d","url":%q,"cookies":{"sid":%q}}`+"\n", i, u, secrets["jar"])
		withPW := strings.Replace(u, "://", "://user:"+secrets["url"]+"@", 1)
		fmt.Fprintf(&b, `{"id":"u%d","url":%q}`+"\n", i, withPW)
	}
	// A header value requests refuses: its message must not show it.
	fmt.Fprintf(&b, `{"id":"bad-auth","url":%q,"headers":{"Authorization":" %s"}}`+"\n", target.URL, secrets["header"])
	file := filepath.Join(t.TempDir(), "jobs.jsonl")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	envs := []string{"TOKEN=" + secrets["bearer"], "BASIC=user:" + secrets["basic"]}
	debug := []string{"--log-level", "debug", "--log-format", "json"}
	// A session's basic auth wins over its Authorization header, as in
	// requests: the worker has the bearer token, run's worker basic auth.
	w := start(t, "worker", envs, append([]string{"worker", "--redis", srv.URL(), "-c", "4", "--bearer-env", "TOKEN"}, debug...)...)
	enq := mustCLI(t, time.Minute, envs, append([]string{"enqueue", "--redis", srv.URL(), "--wait", file}, debug...)...)
	run := mustCLI(t, time.Minute, envs, append([]string{"run", "--redis", srv.URL(), "--out", t.TempDir(), "--basic-auth-env", "BASIC", file}, debug...)...)
	bad := cli(t, 30*time.Second, envs, append([]string{"enqueue", "--redis", strings.Replace(srv.URL(), secrets["redis"], "x"+secrets["redis"], 1), file}, debug...)...)
	if bad.code != 1 {
		t.Fatalf("wrong Redis password: exit %d", bad.code)
	}
	w.signal(t, 15)
	w.wait(t, time.Minute)
	if !sawBearer.Load() {
		t.Fatal("the bearer token was not sent: the test does not test it")
	}
	logs := map[string]string{"worker": w.stderr.String(), "enqueue": enq.stderr, "run": run.stderr, "enqueue with a wrong password": bad.stderr}
	if !strings.Contains(logs["worker"], `"level":"DEBUG"`) && !strings.Contains(logs["run"], `"level":"DEBUG"`) {
		t.Log("no debug line was logged")
	}
	for name, log := range logs {
		noPanic(t, log)
		for what, s := range secrets {
			if strings.Contains(log, s) {
				i := strings.Index(log, s)
				t.Errorf("%s's stderr shows the %s secret: ...%s...", name, what, log[max(0, i-200):min(len(log), i+50)])
			}
		}
	}
}

// TestDenyPrivateFlag: `worker --deny-private` and `run --deny-private`
// refuse a loopback target, which never sees a connection; without the
// flag (the CLI's default) the same jobs get responses.
func TestDenyPrivateFlag(t *testing.T) {
	needBinary(t)
	t.Parallel()
	var conns atomic.Int32
	target := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "internal") }))
	target.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	target.Start()
	t.Cleanup(target.Close)
	port := target.Listener.Addr().(*net.TCPAddr).Port
	urls := []string{target.URL + "/", fmt.Sprintf("http://localhost:%d/", port), fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/", port)}
	file, ids := writeJobs(t, "private", len(urls), func(i int) string { return urls[i] })

	srv := testredis.Start(t)
	rdb := srv.Client(t)
	start(t, "worker", nil, "worker", "--redis", srv.URL(), "--queue", "deny", "--deny-private")
	rec := enqueue(t, srv.URL(), file, "--queue", "deny")
	waitBatch(t, rdb, "deny", rec.Batch, time.Minute)
	wantAll(t, checkBatch(t, rdb, "deny", rec.Batch, ids), "a DeniedAddress exception", func(e entry) bool {
		return e.kind == "exception" && e.typ == tasks.DeniedAddress
	})
	if n := conns.Load(); n != 0 {
		t.Fatalf("the target saw %d connections", n)
	}

	out := t.TempDir()
	r := mustCLI(t, time.Minute, nil, "run", "--quiet", "--out", out, "--deny-private", file)
	if !strings.Contains(r.stdout, fmt.Sprintf("DeniedAddress: %d", len(urls))) || conns.Load() != 0 {
		t.Fatalf("run --deny-private: %s (%d connections)", r.stdout, conns.Load())
	}
	r = mustCLI(t, time.Minute, nil, "run", "--quiet", "--out", out, file)
	if !strings.Contains(r.stdout, fmt.Sprintf("200: %d", len(urls))) {
		t.Fatalf("run without --deny-private: %s", r.stdout)
	}
}
