package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/outcomes"
	"github.com/reqfleet/reqfleet/tasks"
	"github.com/reqfleet/reqfleet/worker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type env struct {
	rdb    redis.UniversalClient
	redis  *testredis.Server
	api    *httptest.Server
	target *httptest.Server
	logs   *testkit.SyncBuffer
	token  string
}

// setup starts Redis, a target site and the API server on loopback.
func setup(t *testing.T, mod func(*Config)) *env {
	t.Helper()
	rs := testredis.Start(t)
	e := &env{redis: rs, rdb: rs.Client(t), logs: &testkit.SyncBuffer{}}
	e.target = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok "+r.URL.Path)
	}))
	t.Cleanup(e.target.Close)
	opt, err := asynq.ParseRedisURI(rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Redis: e.rdb, Queues: []string{"default", "other"}, UI: opt, AllowPrivate: true,
		Logger: slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	e.token = cfg.Token
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e.api = httptest.NewServer(s.Handler())
	t.Cleanup(e.api.Close)
	return e
}

func (e *env) startWorker(t *testing.T) {
	t.Helper()
	w, err := worker.New(worker.Config{Redis: e.rdb, Queues: map[string]int{"default": 1, "other": 1}, Concurrency: 4, TaskCheckInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = w.Shutdown(ctx)
	})
}

type answer struct {
	code int
	hdr  http.Header
	body string
}

func (e *env) do(t *testing.T, method, path, ctype, body string, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, e.api.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := e.api.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func decode[T any](t *testing.T, a answer) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(a.body), &v); err != nil {
		t.Fatalf("answer %d %q: %v", a.code, a.body, err)
	}
	return v
}

func (e *env) waitBatch(t *testing.T, batch, queue string) BatchStatus {
	t.Helper()
	var st BatchStatus
	testkit.WaitUntil(t, 30*time.Second, func() error {
		a := e.do(t, "GET", "/v1/batches/"+batch+"?queue="+queue, "", "")
		if a.code != 200 {
			t.Fatalf("GET batch: %d %s", a.code, a.body)
		}
		if st = decode[BatchStatus](t, a); !st.Complete {
			return fmt.Errorf("%+v", st)
		}
		return nil
	}, "batch complete")
	return st
}

func lines(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// One job, then JSONL: enqueued, run by a worker, progress and results read
// back through the API.
func TestEnqueueAPI(t *testing.T) {
	e := setup(t, nil)
	e.startWorker(t)

	a := e.do(t, "POST", "/v1/jobs", "application/json", fmt.Sprintf(`{"url": %q, "id": "one", "auth": ["u", "pw"]}`, e.target.URL+"/one"))
	if a.code != http.StatusAccepted {
		t.Fatalf("POST one job: %d %s", a.code, a.body)
	}
	rec := decode[Receipt](t, a)
	if rec.Accepted != 1 || rec.Queue != "default" || len(rec.IDs) != 1 || rec.IDs[0] != "one" || rec.Batch == "" {
		t.Fatalf("receipt %+v", rec)
	}
	if loc := a.hdr.Get("Location"); loc != "/v1/batches/"+rec.Batch+"?queue=default" {
		t.Fatalf("Location %q", loc)
	}
	st := e.waitBatch(t, rec.Batch, "default")
	if st.Total != 1 || st.Responses != 1 || st.Expected != 1 || st.Queue != "default" || st.ID != rec.Batch {
		t.Fatalf("batch %+v", st)
	}

	body := fmt.Sprintf("{\"url\": %q}\n\n{\"url\": %q, \"id\": \"b\"}\r\n{\"url\": \"http://127.0.0.1:1/refused\"}\n", e.target.URL+"/a", e.target.URL+"/b")
	a = e.do(t, "POST", "/v1/jobs?queue=other", "application/x-ndjson; charset=utf-8", body)
	if a.code != http.StatusAccepted {
		t.Fatalf("POST JSONL: %d %s", a.code, a.body)
	}
	rec = decode[Receipt](t, a)
	if rec.Accepted != 3 || rec.Queue != "other" || len(rec.IDs) != 3 || rec.IDs[1] != "b" || rec.IDs[0] == "" || rec.More {
		t.Fatalf("receipt %+v", rec)
	}
	st = e.waitBatch(t, rec.Batch, "other")
	if st.Responses != 2 || st.Exceptions != 1 {
		t.Fatalf("batch %+v", st)
	}
	a = e.do(t, "GET", "/v1/results?queue=other&batch="+rec.Batch, "", "")
	if a.code != 200 || a.hdr.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("results: %d %v", a.code, a.hdr)
	}
	got := map[string]string{}
	for _, l := range lines(a.body) {
		r, err := tasks.DecodeResponse([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		got[r.ID] = r.Body
	}
	if got[rec.IDs[0]] != "ok /a" || got["b"] != "ok /b" || len(got) != 2 {
		t.Fatalf("results %v", got)
	}
	if l := lines(e.do(t, "GET", "/v1/results?queue=other&limit=1", "", "").body); len(l) != 1 {
		t.Fatalf("limit=1: %d lines", len(l))
	}
	a = e.do(t, "GET", "/v1/results?queue=other&kind=exceptions&batch="+rec.Batch, "", "")
	exc, err := tasks.DecodeException([]byte(strings.TrimSpace(a.body)))
	if err != nil || exc.Exception.Type != tasks.ConnectionError || exc.ID != rec.IDs[2] {
		t.Fatalf("exceptions: %q %v", a.body, err)
	}
	if a := e.do(t, "GET", "/v1/results?batch=nope", "", ""); a.code != 200 || a.body != "" {
		t.Fatalf("results of an unknown batch: %d %q", a.code, a.body)
	}

	// Metrics count what the API accepted and read the queues.
	m := e.do(t, "GET", "/metrics", "", "").body
	for _, want := range []string{
		`reqfleet_api_jobs_accepted_total{queue="default"} 1`,
		`reqfleet_api_jobs_accepted_total{queue="other"} 3`,
		`reqfleet_list_length{list="results",queue="other"} 2`,
		`reqfleet_workers{queue="other"} 1`,
		`reqfleet_http_requests_total{code="202",route="jobs"} 2`,
	} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	// Logs name requests, never bodies or credentials.
	if logs := e.logs.String(); strings.Contains(logs, `"pw"`) || strings.Contains(logs, "/one\"") || !strings.Contains(logs, `"path":"/v1/jobs"`) {
		t.Errorf("logs:\n%s", logs)
	}
}

func TestEnqueueErrors(t *testing.T) {
	e := setup(t, func(c *Config) { c.AllowPrivate = false; c.MaxBody = 1 << 10 })
	good := `{"url": "https://example.com/"}`
	for _, tc := range []struct {
		name, ctype, body, query string
		code                     int
		want                     apiError
	}{
		{"no content type", "", good, "", 415, apiError{}},
		{"text/plain", "text/plain", good, "", 415, apiError{}},
		{"not JSON", "application/json", `{"url":`, "", 400, apiError{}},
		{"array", "application/json", "[" + good + "]", "", 400, apiError{}},
		{"empty", "application/x-ndjson", "\n\n", "", 400, apiError{}},
		{"unknown field", "application/json", `{"url": "https://example.com/", "files": {}}`, "", 400, apiError{Field: "files"}},
		{"bad line", "application/x-ndjson", good + "\n\n{\"url\": 3}\n" + good, "", 400, apiError{Line: 3, Field: "url"}},
		{"no url", "application/x-ndjson", good + "\n{}", "", 400, apiError{Line: 2, Field: "url"}},
		{"duplicate id", "application/x-ndjson", `{"url": "https://a/", "id": "x"}` + "\n" + `{"url": "https://b/", "id": "x"}`, "", 400, apiError{Line: 2, Field: "id"}},
		{"loopback", "application/json", `{"url": "http://127.0.0.1:6379/"}`, "", 400, apiError{Field: "url"}},
		{"private", "application/x-ndjson", good + "\n" + `{"url": "http://10.1.2.3/"}`, "", 400, apiError{Line: 2, Field: "url"}},
		{"link-local", "application/json", `{"url": "http://169.254.169.254/latest/meta-data/"}`, "", 400, apiError{Field: "url"}},
		{"v4-mapped", "application/json", `{"url": "http://[::ffff:127.0.0.1]/"}`, "", 400, apiError{Field: "url"}},
		{"localhost", "application/json", `{"url": "http://LocalHost./"}`, "", 400, apiError{Field: "url"}},
		{"too big", "application/json", `{"url": "https://example.com/` + strings.Repeat("a", 2000) + `"}`, "", 413, apiError{}},
		{"unknown queue", "application/json", good, "?queue=nope", 400, apiError{}},
		{"retry_on without retries", "application/json", good, "?retry_on=503", 400, apiError{Field: "retry_on"}},
		{"retry_on not a status or type", "application/json", good, "?retries=2&retry_on=Timeout", 400, apiError{Field: "retry_on"}},
		{"retries not a number", "application/json", good, "?retries=x", 400, apiError{Field: "retries"}},
		{"retry_backoff negative", "application/json", good, "?retries=2&retry_backoff=-1", 400, apiError{Field: "retry_backoff"}},
		{"retries in the job invalid", "application/json", `{"url": "https://example.com/", "retries": {"total": -1}}`, "", 400, apiError{Field: "retries.total"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(t, "POST", "/v1/jobs"+tc.query, tc.ctype, tc.body)
			if a.code != tc.code {
				t.Fatalf("%d %s, want %d", a.code, a.body, tc.code)
			}
			got := decode[apiError](t, a)
			if got.Error == "" || got.Line != tc.want.Line || got.Field != tc.want.Field {
				t.Fatalf("error %+v, want line %d field %q", got, tc.want.Line, tc.want.Field)
			}
		})
	}
	// Nothing of a refused body was enqueued.
	st, err := outcomes.NewReader(e.rdb, "default")
	if err != nil {
		t.Fatal(err)
	}
	if s, err := st.Stats(context.Background(), 10); err != nil || s.Pending != 0 || len(s.Batches) != 0 {
		t.Fatalf("stats %+v, %v", s, err)
	}
	if a := e.do(t, "GET", "/v1/batches/nope", "", ""); a.code != 404 {
		t.Fatalf("unknown batch: %d %s", a.code, a.body)
	}
	if a := e.do(t, "GET", "/v1/results?kind=nope", "", ""); a.code != 400 {
		t.Fatalf("kind=nope: %d", a.code)
	}
	if a := e.do(t, "GET", "/v1/results?limit=-1", "", ""); a.code != 400 {
		t.Fatalf("limit=-1: %d", a.code)
	}
	if a := e.do(t, "GET", "/v1/jobs", "", ""); a.code != 405 {
		t.Fatalf("GET /v1/jobs: %d", a.code)
	}
	if a := e.do(t, "GET", "/nope", "", ""); a.code != 404 {
		t.Fatalf("GET /nope: %d", a.code)
	}
}

func TestMaxIDs(t *testing.T) {
	e := setup(t, func(c *Config) { c.MaxIDs = 2 })
	body := strings.Repeat(`{"url": "https://example.com/"}`+"\n", 3)
	rec := decode[Receipt](t, e.do(t, "POST", "/v1/jobs", "application/x-ndjson", body))
	if rec.Accepted != 3 || len(rec.IDs) != 2 || !rec.More {
		t.Fatalf("receipt %+v", rec)
	}
}

func TestToken(t *testing.T) {
	const token = "s3cret-token"
	e := setup(t, func(c *Config) { c.Token = token })
	job := `{"url": "https://example.com/"}`
	for _, tc := range []struct {
		name, method, path, auth string
		code                     int
	}{
		{"no token", "POST", "/v1/jobs", "", 401},
		{"wrong token", "POST", "/v1/jobs", "Bearer nope", 401},
		{"longer token", "POST", "/v1/jobs", "Bearer " + token + "x", 401},
		{"bearer", "POST", "/v1/jobs", "Bearer " + token, 202},
		{"bearer lower case", "POST", "/v1/jobs", "bearer " + token, 202},
		{"basic", "POST", "/v1/jobs", basic("any", token), 202},
		{"basic wrong", "POST", "/v1/jobs", basic(token, "x"), 401},
		{"batch", "GET", "/v1/batches/x", "", 401},
		{"results", "GET", "/v1/results", "", 401},
		{"metrics", "GET", "/metrics", "", 401},
		{"limits", "GET", "/v1/limits", "", 401},
		{"limit put", "PUT", "/v1/limits/example.com", "", 401},
		{"limit delete", "DELETE", "/v1/limits/example.com", "", 401},
		{"limits with token", "GET", "/v1/limits", "Bearer " + token, 200},
		{"metrics with token", "GET", "/metrics", "Bearer " + token, 200},
		{"ui", "GET", "/ui/", "", 401},
		{"ui api", "GET", "/ui/api/queues", "", 401},
		{"ui with basic", "GET", "/ui/", basic("admin", token), 200},
		{"healthz", "GET", "/healthz", "", 200},
		{"readyz", "GET", "/readyz", "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(t, tc.method, tc.path, "application/json", job, "Authorization", tc.auth)
			if a.code != tc.code {
				t.Fatalf("%d %s, want %d", a.code, a.body, tc.code)
			}
			if a.code == 401 {
				want := "Bearer"
				if strings.HasPrefix(tc.path, "/ui") {
					want = "Basic"
				}
				if !strings.HasPrefix(a.hdr.Get("WWW-Authenticate"), want) {
					t.Fatalf("WWW-Authenticate %q", a.hdr.Get("WWW-Authenticate"))
				}
			}
		})
	}
	if logs := e.logs.String(); strings.Contains(logs, token) {
		t.Errorf("the token is in the logs:\n%s", logs)
	}
}

func basic(user, pass string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

// The web UI is mounted at /ui/, shows tasks without their secrets, and
// refuses browsers' cross-site writes.
func TestUI(t *testing.T) {
	e := setup(t, nil)
	a := e.do(t, "GET", "/", "", "")
	if a.code != 200 || !strings.Contains(a.body, "<html") { // redirected to /ui/
		t.Fatalf("GET /: %d %.200s", a.code, a.body)
	}
	job := `{"url": "https://user:urlpass@example.com/", "auth": ["me", "authpass"], "headers": {"Authorization": "Bearer hdrpass", "X-Ok": "shown"}, "cookies": {"sid": "cookiepass"}}`
	if a := e.do(t, "POST", "/v1/jobs", "application/json", job); a.code != 202 {
		t.Fatalf("POST: %d %s", a.code, a.body)
	}
	a = e.do(t, "GET", "/ui/api/queues/default/pending_tasks", "", "")
	if a.code != 200 || !strings.Contains(a.body, "shown") || !strings.Contains(a.body, "REDACTED") {
		t.Fatalf("pending tasks: %d %s", a.code, a.body)
	}
	for _, secret := range []string{"urlpass", "authpass", "hdrpass", "cookiepass"} {
		if strings.Contains(a.body, secret) {
			t.Errorf("the UI shows %s: %s", secret, a.body)
		}
	}
	if a := e.do(t, "POST", "/ui/api/queues/default:pause", "", "", "Sec-Fetch-Site", "cross-site"); a.code != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d %s", a.code, a.body)
	}
	if a := e.do(t, "POST", "/ui/api/queues/default:pause", "", "", "Sec-Fetch-Site", "same-origin"); a.code/100 != 2 {
		t.Fatalf("same-origin POST: %d %s", a.code, a.body)
	}
}

func TestReadyz(t *testing.T) {
	e := setup(t, func(c *Config) { c.Enqueuer.RedisRetryFor = -1 })
	if a := e.do(t, "GET", "/readyz", "", ""); a.code != 200 {
		t.Fatalf("readyz: %d", a.code)
	}
	if err := e.redis.Stop(); err != nil {
		t.Fatal(err)
	}
	if a := e.do(t, "GET", "/readyz", "", ""); a.code != 503 {
		t.Fatalf("readyz with Redis down: %d", a.code)
	}
	if a := e.do(t, "GET", "/healthz", "", ""); a.code != 200 {
		t.Fatalf("healthz with Redis down: %d", a.code)
	}
	if a := e.do(t, "GET", "/metrics", "", ""); a.code != 200 || !strings.Contains(a.body, "reqfleet_redis_up 0\n") {
		t.Fatalf("metrics with Redis down: %d", a.code)
	}
	if a := e.do(t, "POST", "/v1/jobs", "application/json", `{"url": "https://example.com/"}`); a.code != 503 {
		t.Fatalf("POST with Redis down: %d %s", a.code, a.body)
	}
}

func TestConfig(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	for _, cfg := range []Config{
		{},
		{Redis: rdb, Queues: []string{"bad queue"}},
		{Redis: rdb, MaxBody: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) worked", cfg)
		}
	}
}

// Serve shuts down when its context ends, letting a request in flight finish.
func TestServeGraceful(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select { // a request still in flight at shutdown
		case <-time.After(200 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "finished")
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h, 5*time.Second, nil) }()
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not arrive")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	select {
	case s := <-got:
		if s != "finished" {
			t.Fatalf("request in flight got %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no answer to the request in flight")
	}
}

func TestRedactPayload(t *testing.T) {
	payload, _ := tasks.Task{Batch: "b", Attempt: 1, Job: tasks.Job{ID: "x", Method: "GET", URL: "https://u:p@h/", Auth: &tasks.Auth{User: "u", Password: "pw"}}}.Marshal()
	out := redactPayload(tasks.TypeRequest, payload)
	if strings.Contains(out, "pw") || strings.Contains(out, ":p@") || !strings.Contains(out, `"batch":"b"`) {
		t.Fatalf("redacted: %s", out)
	}
	if out := redactPayload("other", []byte("plain")); out != "plain" {
		t.Fatalf("other type: %s", out)
	}
}
