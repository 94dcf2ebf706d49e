package httpexec

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/tasks"
)

// exSecret is the password of the tests' jobs: no exception message may
// hold it.
const exSecret = "hunter2-s3cret"

// exClock is an injected clock: each reading is 1ms after the one before.
type exClock struct {
	mu sync.Mutex
	t  time.Time
}

func newExClock() *exClock { return &exClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *exClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

// exSession makes a session closed at cleanup. Without a proxy in cfg it
// uses none, whatever the environment says, so the tests are hermetic.
func exSession(t testing.TB, cfg SessionConfig) *Session {
	t.Helper()
	s, err := NewSession(cfg)
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	t.Cleanup(s.Close)
	if cfg.Proxy == nil {
		exTransport(t, s).Proxy = nil
	}
	return s
}

// exTransport is the http.Transport behind a session's oneShot.
func exTransport(t testing.TB, s *Session) *http.Transport {
	t.Helper()
	o, ok := s.Client.Transport.(*oneShot)
	if !ok {
		t.Fatalf("session transport %T, want *oneShot", s.Client.Transport)
	}
	tr, ok := o.next.(*http.Transport)
	if !ok {
		t.Fatalf("oneShot in front of %T, want *http.Transport", o.next)
	}
	return tr
}

func exExecutor(t testing.TB, cfg ExecConfig) *Executor {
	t.Helper()
	if cfg.Worker == "" {
		cfg.Worker = "w1"
	}
	e, err := NewExecutor(cfg)
	if err != nil {
		t.Fatalf("NewExecutor: %v", err)
	}
	return e
}

func exServer(t testing.TB, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// exBlockingServer serves handlers that wait on release, which is closed
// at cleanup before the server is closed (Close waits for the handlers).
func exBlockingServer(t testing.TB, h func(release <-chan struct{}) http.HandlerFunc) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(h(release))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	return srv
}

// exTask decodes a job as the queue would hand it over.
func exTask(t testing.TB, js string) tasks.Task {
	t.Helper()
	j, err := tasks.DecodeJob([]byte(js))
	if err != nil {
		t.Fatalf("DecodeJob(%s): %v", js, err)
	}
	if j.ID == "" {
		j.ID = "j1"
	}
	return tasks.Task{Batch: "b1", Attempt: 2, Job: j}
}

// exJob writes a job: the url and more fields, e.g. `"method": "POST"`.
func exJob(u string, fields ...string) string {
	b, _ := json.Marshal(u)
	return `{"id": "j1", "url": ` + string(b) + strings.Join(append([]string{""}, fields...), ", ") + `}`
}

func exRun(t testing.TB, e *Executor, s *Session, js string) tasks.Outcome {
	t.Helper()
	out, err := e.Do(context.Background(), s, exTask(t, js))
	if err != nil {
		t.Fatalf("Do: unexpected error %v", err)
	}
	if out == nil {
		t.Fatal("Do: no outcome")
	}
	return out
}

func exResponse(t testing.TB, out tasks.Outcome) *tasks.Response {
	t.Helper()
	r, ok := out.(*tasks.Response)
	if !ok {
		t.Fatalf("outcome %#v, want a response", out)
	}
	return r
}

// exException checks the outcome is an exception of type typ with a
// one-line message that holds no secret.
func exException(t testing.TB, out tasks.Outcome, typ string) *tasks.Exception {
	t.Helper()
	x, ok := out.(*tasks.Exception)
	if !ok {
		if r, ok := out.(*tasks.Response); ok {
			t.Fatalf("got response %d %q, want exception %s", r.StatusCode, r.Body, typ)
		}
		t.Fatalf("outcome %#v, want an exception", out)
	}
	if x.Exception.Type != typ {
		t.Fatalf("exception %s (%s), want %s", x.Exception.Type, x.Exception.Message, typ)
	}
	msg := x.Exception.Message
	if msg == "" || strings.ContainsAny(msg, "\r\n") {
		t.Errorf("message %q: want one line", msg)
	}
	if strings.Contains(msg, exSecret) {
		t.Errorf("message %q holds the secret", msg)
	}
	return x
}

// echo is what exEcho answers: the request as the server saw it.
type echo struct {
	Method  string            `json:"method"`
	URI     string            `json:"uri"`
	Host    string            `json:"host"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	Len     int64             `json:"len"`
	TE      []string          `json:"te"`
}

func exEcho(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	e := echo{Method: r.Method, URI: r.RequestURI, Host: r.Host, Headers: headerMap(r.Header), Body: string(b), Len: r.ContentLength, TE: r.TransferEncoding}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(e)
}

func exEchoed(t testing.TB, out tasks.Outcome) echo {
	t.Helper()
	r := exResponse(t, out)
	var e echo
	if err := json.Unmarshal([]byte(r.Body), &e); err != nil {
		t.Fatalf("echo body %q: %v", r.Body, err)
	}
	return e
}

// exRawServer serves raw TCP connections on loopback with handle, one
// goroutine per connection; cleanup closes the listener and every
// connection and waits for the handlers.
func exRawServer(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// exRawResponse answers each request on the connection with raw bytes.
func exRawResponse(raw string) func(net.Conn) {
	return func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		_, _ = io.WriteString(c, raw)
	}
}

// exClosedPort is a loopback address nothing listens on.
func exClosedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestExecConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		in      ExecConfig
		wantErr bool
		check   func(t *testing.T, c ExecConfig)
	}{
		{"defaults", ExecConfig{}, false, func(t *testing.T, c ExecConfig) {
			if c.MaxBody != 1<<20 || c.JobTimeout != 5*time.Minute || c.UserAgent != "reqfleet/1" || c.Now == nil ||
				c.Timeout != (tasks.Timeout{Connect: 30 * time.Second, Read: 30 * time.Second}) {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{"kept", ExecConfig{MaxBody: 10, JobTimeout: time.Second, UserAgent: "x/2", Timeout: tasks.Timeout{Connect: time.Second}}, false, func(t *testing.T, c ExecConfig) {
			if c.MaxBody != 10 || c.JobTimeout != time.Second || c.UserAgent != "x/2" || c.Timeout != (tasks.Timeout{Connect: time.Second}) {
				t.Errorf("kept: %+v", c)
			}
		}},
		{"negative body", ExecConfig{MaxBody: -1}, true, nil},
		{"negative job timeout", ExecConfig{JobTimeout: -1}, true, nil},
		{"negative connect", ExecConfig{Timeout: tasks.Timeout{Connect: -1}}, true, nil},
		{"negative read", ExecConfig{Timeout: tasks.Timeout{Read: -1}}, true, nil},
		{"bad user agent", ExecConfig{UserAgent: "a\nb"}, true, nil},
		{"caps default", ExecConfig{MaxBody: 5 << 20}, false, func(t *testing.T, c ExecConfig) {
			if c.MaxHeaderBytes != 64<<10 || c.MaxHistory != 30 || c.MaxHistoryHeaderBytes != 256<<10 || c.MaxOutcome != 6<<20 {
				t.Errorf("caps: %+v", c)
			}
		}},
		{"caps kept", ExecConfig{MaxHeaderBytes: 1, MaxHistory: 2, MaxHistoryHeaderBytes: 3, MaxOutcome: 5000}, false, func(t *testing.T, c ExecConfig) {
			if c.MaxHeaderBytes != 1 || c.MaxHistory != 2 || c.MaxHistoryHeaderBytes != 3 || c.MaxOutcome != 5000 {
				t.Errorf("caps: %+v", c)
			}
		}},
		{"negative header cap", ExecConfig{MaxHeaderBytes: -1}, true, func(t *testing.T, c ExecConfig) {}},
		{"negative history", ExecConfig{MaxHistory: -1}, true, func(t *testing.T, c ExecConfig) {}},
		{"outcome cap too small", ExecConfig{MaxOutcome: 100}, true, func(t *testing.T, c ExecConfig) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.in
			err := c.validate()
			if (err != nil) != tt.wantErr {
				t.Fatalf("validate() = %v, want error %v", err, tt.wantErr)
			}
			if _, nerr := NewExecutor(tt.in); (nerr != nil) != tt.wantErr {
				t.Errorf("NewExecutor() = %v, want error %v", nerr, tt.wantErr)
			}
			if tt.wantErr && tt.check != nil { // the caps' errors
				if !errors.Is(err, ErrOutcomeCaps) {
					t.Errorf("validate() = %v, want ErrOutcomeCaps", err)
				}
				return
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestExecutorResponses(t *testing.T) {
	srv := exServer(t, func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.WriteHeader(code)
		fmt.Fprintf(w, "status %d", code)
	})
	tests := []struct {
		code   int
		reason string
	}{
		{200, "OK"}, {201, "Created"}, {404, "Not Found"}, {500, "Internal Server Error"}, {299, "status code 299"},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.code), func(t *testing.T) {
			clock := newExClock()
			e := exExecutor(t, ExecConfig{Now: clock.Now, Worker: "w7"})
			s := exSession(t, SessionConfig{})
			js := exJob(srv.URL+"/"+strconv.Itoa(tt.code), `"meta": {"m": 1}`, `"auth": ["u", "`+exSecret+`"]`)
			task := exTask(t, js)
			out, err := e.Do(context.Background(), s, task)
			if err != nil {
				t.Fatal(err)
			}
			r := exResponse(t, out)
			want := fmt.Sprintf("status %d", tt.code)
			if r.StatusCode != tt.code || r.Reason != tt.reason || r.Body != want || r.BodyEncoding != "" || r.Truncated {
				t.Errorf("got %d %q body %q enc %q truncated %v", r.StatusCode, r.Reason, r.Body, r.BodyEncoding, r.Truncated)
			}
			if r.Headers["X-Multi"] != "a, b" || r.Headers["Content-Length"] != strconv.Itoa(len(want)) {
				t.Errorf("headers %v", r.Headers)
			}
			if r.URL != srv.URL+"/"+strconv.Itoa(tt.code) || len(r.History) != 0 {
				t.Errorf("url %q history %v", r.URL, r.History)
			}
			// The clock is read at the start and the end of the hop, then
			// at the finish: 1ms apart each.
			if r.ElapsedMS != 1 {
				t.Errorf("ElapsedMS = %v, want 1", r.ElapsedMS)
			}
			if want := time.Date(2025, 1, 2, 3, 4, 5, 3e6, time.UTC); !r.FinishedAt.Equal(want) {
				t.Errorf("FinishedAt = %v, want %v", r.FinishedAt, want)
			}
			if r.ID != "j1" || r.Batch != "b1" || r.Attempt != 2 || r.Worker != "w7" {
				t.Errorf("id %q batch %q attempt %d worker %q", r.ID, r.Batch, r.Attempt, r.Worker)
			}
			got, _ := json.Marshal(r.Request)
			wantJob, _ := json.Marshal(task.Job)
			if string(got) != string(wantJob) {
				t.Errorf("request %s, want the job whole %s", got, wantJob)
			}
		})
	}
}

func TestExecutorReasonFromStatusLine(t *testing.T) {
	tests := []struct {
		name, status, want string
	}{
		{"custom reason", "200 Fine Thanks", "Fine Thanks"},
		{"no reason", "200", ""}, // as requests (http.client)
		{"empty reason", "200 ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := exRawServer(t, exRawResponse("HTTP/1.1 "+tt.status+"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			r := exResponse(t, exRun(t, exExecutor(t, ExecConfig{}), exSession(t, SessionConfig{}), exJob("http://"+addr+"/")))
			if r.Reason != tt.want {
				t.Errorf("Reason = %q, want %q", r.Reason, tt.want)
			}
		})
	}
}

func TestExecutorRequestBuilding(t *testing.T) {
	srv := exServer(t, exEcho)
	tests := []struct {
		name  string
		path  string
		extra []string
		check func(t *testing.T, e echo)
	}{
		{"defaults", "/x", nil, func(t *testing.T, e echo) {
			if e.Method != "GET" || e.URI != "/x" || e.Headers["User-Agent"] != "reqfleet/1" || e.Headers["Accept"] != "*/*" ||
				e.Headers["Accept-Encoding"] != "gzip, deflate" || e.Headers["Content-Type"] != "" || e.Body != "" || e.Len != 0 {
				t.Errorf("%+v", e)
			}
		}},
		{"method", "/x", []string{`"method": "delete"`}, func(t *testing.T, e echo) {
			if e.Method != "DELETE" {
				t.Errorf("method %q", e.Method)
			}
		}},
		{"params appended to the query", "/x?a=1", []string{`"params": {"b": "2 3", "c": ["x", "y"]}`}, func(t *testing.T, e echo) {
			if e.URI != "/x?a=1&b=2+3&c=x&c=y" {
				t.Errorf("uri %q", e.URI)
			}
		}},
		{"params without a query", "/x", []string{`"params": [["k", "é"]]`}, func(t *testing.T, e echo) {
			if e.URI != "/x?k=%C3%A9" {
				t.Errorf("uri %q", e.URI)
			}
		}},
		{"params text requoted", "/x", []string{`"params": "q=a b&r=%41"`}, func(t *testing.T, e echo) {
			if e.URI != "/x?q=a%20b&r=%41" {
				t.Errorf("uri %q", e.URI)
			}
		}},
		{"path requoted", "/a b/ü?x=<y>#frag", nil, func(t *testing.T, e echo) {
			if e.URI != "/a%20b/%C3%BC?x=%3Cy%3E" {
				t.Errorf("uri %q", e.URI)
			}
		}},
		{"data pairs form-encoded", "/x", []string{`"method": "POST"`, `"data": {"a": "1", "b": "x y"}`}, func(t *testing.T, e echo) {
			if e.Body != "a=1&b=x+y" || e.Headers["Content-Type"] != "application/x-www-form-urlencoded" || e.Len != 9 {
				t.Errorf("%+v", e)
			}
		}},
		{"data string as is", "/x", []string{`"method": "POST"`, `"data": "raw body é"`}, func(t *testing.T, e echo) {
			if e.Body != "raw body é" || e.Headers["Content-Type"] != "" || e.Len != int64(len("raw body é")) {
				t.Errorf("%+v", e)
			}
		}},
		{"json", "/x", []string{`"method": "POST"`, `"json": {"a": [1, 2], "b": null}`}, func(t *testing.T, e echo) {
			if e.Body != `{"a": [1, 2], "b": null}` || e.Headers["Content-Type"] != "application/json" {
				t.Errorf("%+v", e)
			}
		}},
		{"data wins over json", "/x", []string{`"method": "POST"`, `"data": {"a": "1"}`, `"json": {"b": 2}`}, func(t *testing.T, e echo) {
			if e.Body != "a=1" || e.Headers["Content-Type"] != "application/x-www-form-urlencoded" {
				t.Errorf("%+v", e)
			}
		}},
		{"empty data is no data", "/x", []string{`"method": "POST"`, `"data": {}`, `"json": [1]`}, func(t *testing.T, e echo) {
			if e.Body != "[1]" || e.Headers["Content-Type"] != "application/json" {
				t.Errorf("%+v", e)
			}
		}},
		{"POST without body has Content-Length 0", "/x", []string{`"method": "POST"`}, func(t *testing.T, e echo) {
			if e.Body != "" || e.Len != 0 || e.Headers["Content-Length"] != "0" {
				t.Errorf("%+v", e)
			}
		}},
		{"job Content-Type wins", "/x", []string{`"method": "PUT"`, `"data": {"a": "1"}`, `"headers": {"content-type": "text/plain"}`}, func(t *testing.T, e echo) {
			if e.Headers["Content-Type"] != "text/plain" || e.Body != "a=1" {
				t.Errorf("%+v", e)
			}
		}},
		{"job headers override defaults", "/x", []string{`"headers": {"user-agent": "mine", "ACCEPT": "text/html", "X-New": "1"}`}, func(t *testing.T, e echo) {
			if e.Headers["User-Agent"] != "mine" || e.Headers["Accept"] != "text/html" || e.Headers["X-New"] != "1" {
				t.Errorf("%+v", e.Headers)
			}
		}},
		{"Host header", "/x", []string{`"headers": {"Host": "virtual.example"}`}, func(t *testing.T, e echo) {
			if e.Host != "virtual.example" {
				t.Errorf("host %q", e.Host)
			}
		}},
		{"auth", "/x", []string{`"auth": ["alice", "pw"]`}, func(t *testing.T, e echo) {
			if e.Headers["Authorization"] != basicAuth("alice", "pw") {
				t.Errorf("%+v", e.Headers)
			}
		}},
		{"auth wins over an Authorization header", "/x", []string{`"auth": ["alice", "pw"]`, `"headers": {"Authorization": "Bearer x"}`}, func(t *testing.T, e echo) {
			if e.Headers["Authorization"] != basicAuth("alice", "pw") {
				t.Errorf("%+v", e.Headers)
			}
		}},
		{"Authorization header without auth", "/x", []string{`"headers": {"Authorization": "Bearer x"}`}, func(t *testing.T, e echo) {
			if e.Headers["Authorization"] != "Bearer x" {
				t.Errorf("%+v", e.Headers)
			}
		}},
		{"latin-1 auth", "/x", []string{`"auth": ["é", "p"]`}, func(t *testing.T, e echo) {
			if e.Headers["Authorization"] != "Basic 6Tpw" { // 0xE9 ':' 'p'"
				t.Errorf("Authorization %q, want latin-1 bytes", e.Headers["Authorization"])
			}
		}},
		{"cookies", "/x", []string{`"cookies": {"b": "2", "a": "1 x"}`}, func(t *testing.T, e echo) {
			if e.Headers["Cookie"] != "a=1 x; b=2" {
				t.Errorf("Cookie %q", e.Headers["Cookie"])
			}
		}},
	}
	e := exExecutor(t, ExecConfig{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := exSession(t, SessionConfig{})
			tt.check(t, exEchoed(t, exRun(t, e, s, exJob(srv.URL+tt.path, tt.extra...))))
		})
	}
}

func TestExecutorURLUserinfo(t *testing.T) {
	srv := exServer(t, exEcho)
	e := exExecutor(t, ExecConfig{})
	s := exSession(t, SessionConfig{})
	u := strings.Replace(srv.URL, "http://", "http://bob:"+exSecret+"@", 1) + "/x"
	out := exRun(t, e, s, exJob(u))
	if got := exEchoed(t, out).Headers["Authorization"]; got != basicAuth("bob", exSecret) {
		t.Errorf("Authorization %q", got)
	}
	if r := exResponse(t, out); strings.Contains(r.URL, exSecret) || !strings.Contains(r.URL, "bob:xxxxx@") {
		t.Errorf("URL %q: want the password redacted", r.URL)
	}
}

func TestExecutorSessionDefaults(t *testing.T) {
	srv := exServer(t, exEcho)
	e := exExecutor(t, ExecConfig{})
	var init Initializer = func(s *Session) (*Session, error) {
		s.Header.Set("X-Default", "session")
		s.Header.Set("X-Keep", "kept")
		s.Header["User-Agent"] = nil // as None in requests: no default User-Agent
		return s, nil
	}
	var gen AuthGenerator = func(s *Session) (*Session, error) {
		s.Auth = &tasks.Auth{User: "sess", Password: "spw"}
		return s, nil
	}
	s := exSession(t, SessionConfig{})
	s, err := init(s)
	if err == nil {
		s, err = gen(s)
	}
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		extra []string
		want  map[string]string
	}{
		{"session defaults", nil, map[string]string{"X-Default": "session", "X-Keep": "kept", "Authorization": basicAuth("sess", "spw"), "User-Agent": ""}},
		{"job overrides, any case", []string{`"headers": {"x-default": "job"}`, `"auth": ["job", "jpw"]`},
			map[string]string{"X-Default": "job", "X-Keep": "kept", "Authorization": basicAuth("job", "jpw")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := exEchoed(t, exRun(t, e, s, exJob(srv.URL, tt.extra...))).Headers
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
		})
	}
}

func TestExecutorURLErrors(t *testing.T) {
	var dials atomic.Int32
	s := exSession(t, SessionConfig{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return nil, errors.New("must not dial")
	}})
	e := exExecutor(t, ExecConfig{})
	tests := []struct {
		url, typ, msg string
	}{
		{"example.com/x", tasks.MissingSchema, "Invalid URL 'example.com/x': No scheme supplied. Perhaps you meant https://example.com/x?"},
		{"//example.com", tasks.MissingSchema, "Invalid URL '//example.com': No scheme supplied. Perhaps you meant https:////example.com?"},
		{"ftp://x", tasks.InvalidSchema, "No connection adapters were found for 'ftp://x'"},
		{"file:///etc/passwd", tasks.InvalidSchema, "No connection adapters were found for 'file:///etc/passwd'"},
		{"mailto:a@b.c", tasks.InvalidSchema, "No connection adapters were found for 'mailto:a@b.c'"},
		{"localhost:8080/x", tasks.InvalidSchema, "No connection adapters were found for 'localhost:8080/x'"},
		{"httpx://host/", tasks.InvalidSchema, "No connection adapters were found for 'httpx://host/'"},
		{"ftp://u:" + exSecret + "@x", tasks.InvalidSchema, "No connection adapters were found for 'ftp://u:xxxxx@x'"},
		{"http://", tasks.InvalidURL, "Invalid URL 'http://': No host supplied"},
		{"http:x", tasks.InvalidURL, "Invalid URL 'http:x': No host supplied"},
		{"http:///path", tasks.InvalidURL, "Invalid URL 'http:///path': No host supplied"},
		{"http://u:" + exSecret + "@/", tasks.InvalidURL, "Invalid URL 'http://u:xxxxx@/': No host supplied"},
		{"http://:80/", tasks.InvalidURL, "Invalid URL 'http://:80/': No host supplied"},
		{"http://x:abc/", tasks.InvalidURL, "Invalid URL 'http://x:abc/': "},
		{"http://x:99999/", tasks.InvalidURL, "Invalid URL 'http://x:99999/': port 99999 is out of range"},
		{"http://ex ample.com/", tasks.InvalidURL, "Invalid URL 'http://ex ample.com/': "},
		{"http://u:" + exSecret + "@ex ample.com/", tasks.InvalidURL, "Invalid URL 'http://u:xxxxx@ex ample.com/': "},
		{"http://[::1/", tasks.InvalidURL, "Invalid URL 'http://[::1/': "},
		{"http://.example.com/", tasks.InvalidURL, "URL has an invalid label."},
		{"http://*.example.com/", tasks.InvalidURL, "URL has an invalid label."},
		{"http://exa%20mple.com/", tasks.InvalidURL, "Invalid URL 'http://exa%20mple.com/': "},
		{"http://x/\x01'", tasks.InvalidURL, ""}, // control characters are quoted: this one is valid
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			out := exRun(t, e, s, exJob(tt.url, `"auth": ["u", "`+exSecret+`"]`))
			if tt.msg == "" { // a URL that is fine: it reaches the dialer
				exException(t, out, tasks.ConnectionError)
				return
			}
			x := exException(t, out, tt.typ)
			if !strings.HasPrefix(x.Exception.Message, tt.msg) {
				t.Errorf("message %q, want %q", x.Exception.Message, tt.msg)
			}
		})
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d dials, want 1 (only the valid URL)", n)
	}
}

func TestExecutorInvalidHeader(t *testing.T) {
	var dials atomic.Int32
	s := exSession(t, SessionConfig{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return nil, errors.New("must not dial")
	}})
	e := exExecutor(t, ExecConfig{})
	tests := []struct {
		name, headers, want string
	}{
		{"leading space", `{"X-A": " v"}`, `header value of X-A: ' v'`},
		{"control character", `{"X-A": "a\u0001b"}`, `header value of X-A: 'a\x01b'`},
		{"DEL", `{"X-A": "a\u007f"}`, `header value of X-A: 'a\x7f'`},
		{"secret value not shown", `{"Authorization": " Bearer ` + exSecret + `"}`, `header value of Authorization: [REDACTED]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := exException(t, exRun(t, e, s, exJob("http://127.0.0.1:1/", `"headers": `+tt.headers)), tasks.InvalidHeader)
			if !strings.HasSuffix(x.Exception.Message, tt.want) {
				t.Errorf("message %q, want suffix %q", x.Exception.Message, tt.want)
			}
		})
	}
	if dials.Load() != 0 {
		t.Errorf("dialed for an invalid header")
	}
}

func TestExecutorConnectionErrors(t *testing.T) {
	closed := exClosedPort(t)
	tests := []struct {
		name string
		url  string
		cfg  SessionConfig
		typ  string
	}{
		{"closed port", "http://" + closed + "/", SessionConfig{}, tasks.ConnectionError},
		{"closed port, password in the URL", "http://u:" + exSecret + "@" + closed + "/", SessionConfig{}, tasks.ConnectionError},
		{"dialer error", "http://example.invalid/", SessionConfig{DialContext: func(context.Context, string, string) (net.Conn, error) {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("no route")}
		}}, tasks.ConnectionError},
		{"DNS", "http://example.invalid/", SessionConfig{DialContext: func(context.Context, string, string) (net.Conn, error) {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "example.invalid", IsNotFound: true}}
		}}, tasks.ConnectionError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := exRun(t, exExecutor(t, ExecConfig{}), exSession(t, tt.cfg), exJob(tt.url, `"auth": ["u", "`+exSecret+`"]`, `"headers": {"Authorization": "`+exSecret+`"}`))
			exException(t, out, tt.typ)
		})
	}
}

func TestExecutorConnectTimeout(t *testing.T) {
	type dialSeen struct {
		deadline time.Time
		ok       bool
	}
	blocking := func(seen chan<- dialSeen) func(ctx context.Context, network, addr string) (net.Conn, error) {
		return func(ctx context.Context, network, addr string) (net.Conn, error) {
			dl, ok := ctx.Deadline()
			seen <- dialSeen{dl, ok}
			<-ctx.Done()
			return nil, ctx.Err()
		}
	}
	t.Run("dial", func(t *testing.T) {
		seen := make(chan dialSeen, 1)
		s := exSession(t, SessionConfig{DialContext: blocking(seen)})
		start := time.Now()
		out := exRun(t, exExecutor(t, ExecConfig{}), s, exJob("http://example.invalid/", `"timeout": [0.05, 10]`))
		x := exException(t, out, tasks.ConnectTimeout)
		if !strings.Contains(x.Exception.Message, "connect timeout=0.05s") {
			t.Errorf("message %q", x.Exception.Message)
		}
		d := <-seen
		if !d.ok || d.deadline.Sub(start) > time.Second {
			t.Errorf("dial context deadline %v (set %v): want the connect timeout", d.deadline.Sub(start), d.ok)
		}
	})
	t.Run("no connect limit: the job's total cap", func(t *testing.T) {
		seen := make(chan dialSeen, 1)
		s := exSession(t, SessionConfig{DialContext: blocking(seen)})
		out := exRun(t, exExecutor(t, ExecConfig{JobTimeout: 100 * time.Millisecond}), s, exJob("http://example.invalid/", `"timeout": [null, 10]`))
		exException(t, out, tasks.TotalTimeout)
		if d := <-seen; !d.ok {
			t.Error("dial has no deadline: an abandoned dial would linger")
		}
	})
	t.Run("TLS handshake", func(t *testing.T) {
		// A server that accepts and never speaks: the handshake stalls.
		addr := exRawServer(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
		out := exRun(t, exExecutor(t, ExecConfig{}), exSession(t, SessionConfig{}), exJob("https://"+addr+"/", `"timeout": [0.1, 10]`))
		exException(t, out, tasks.ConnectTimeout)
	})
}

func TestExecutorReadTimeout(t *testing.T) {
	t.Run("waiting for the headers", func(t *testing.T) {
		srv := exBlockingServer(t, func(release <-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { <-release }
		})
		out := exRun(t, exExecutor(t, ExecConfig{}), exSession(t, SessionConfig{}), exJob(srv.URL, `"timeout": [5, 0.05]`))
		x := exException(t, out, tasks.ReadTimeout)
		if !strings.Contains(x.Exception.Message, "read timeout=0.05s") {
			t.Errorf("message %q", x.Exception.Message)
		}
	})
	t.Run("stalled mid-body", func(t *testing.T) {
		srv := exBlockingServer(t, func(release <-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "100")
				_, _ = io.WriteString(w, "partial")
				w.(http.Flusher).Flush()
				<-release
			}
		})
		out := exRun(t, exExecutor(t, ExecConfig{}), exSession(t, SessionConfig{}), exJob(srv.URL, `"timeout": 0.05`))
		// requests: urllib3's ReadTimeoutError during the body becomes a
		// ConnectionError (iter_content).
		x := exException(t, out, tasks.ConnectionError)
		if !strings.Contains(x.Exception.Message, "read timeout=0.05s") {
			t.Errorf("message %q", x.Exception.Message)
		}
	})
	t.Run("slow but steady body is no timeout", func(t *testing.T) {
		srv := exServer(t, func(w http.ResponseWriter, r *http.Request) {
			for i := range 12 {
				fmt.Fprintf(w, "%d,", i)
				w.(http.Flusher).Flush()
				<-time.After(20 * time.Millisecond)
			}
		})
		out := exRun(t, exExecutor(t, ExecConfig{}), exSession(t, SessionConfig{}), exJob(srv.URL, `"timeout": [5, 0.15]`))
		if r := exResponse(t, out); !strings.HasPrefix(r.Body, "0,1,2,") || !strings.HasSuffix(r.Body, "11,") {
			t.Errorf("body %q", r.Body)
		}
	})
}

func TestExecutorTotalTimeout(t *testing.T) {
	tests := []struct {
		name    string
		handler func(release <-chan struct{}) http.HandlerFunc
		timeout string
	}{
		{"no read limit, no answer", func(release <-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { <-release }
		}, `[5, null]`},
		{"endless trickle of body", func(release <-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				for {
					_, _ = io.WriteString(w, "x")
					w.(http.Flusher).Flush()
					select {
					case <-release:
						return
					case <-r.Context().Done():
						return
					case <-time.After(10 * time.Millisecond):
					}
				}
			}
		}, `[5, 5]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := exBlockingServer(t, tt.handler)
			e := exExecutor(t, ExecConfig{JobTimeout: 150 * time.Millisecond})
			exException(t, exRun(t, e, exSession(t, SessionConfig{}), exJob(srv.URL, `"timeout": `+tt.timeout)), tasks.TotalTimeout)
		})
	}
}

func TestExecutorCallerCancel(t *testing.T) {
	t.Run("while waiting for the response", func(t *testing.T) {
		started := make(chan struct{})
		srv := exBlockingServer(t, func(release <-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				close(started)
				<-release
			}
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			<-started
			cancel()
		}()
		out, err := exExecutor(t, ExecConfig{}).Do(ctx, exSession(t, SessionConfig{}), exTask(t, exJob(srv.URL)))
		if out != nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("Do = %v, %v; want nil, context.Canceled", out, err)
		}
	})
	t.Run("while reading the body", func(t *testing.T) {
		started := make(chan struct{})
		srv := exBlockingServer(t, func(release <-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "10")
				_, _ = io.WriteString(w, "abc")
				w.(http.Flusher).Flush()
				close(started)
				<-release
			}
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			<-started
			cancel()
		}()
		out, err := exExecutor(t, ExecConfig{}).Do(ctx, exSession(t, SessionConfig{}), exTask(t, exJob(srv.URL)))
		if out != nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("Do = %v, %v; want nil, context.Canceled", out, err)
		}
	})
	t.Run("while dialing", func(t *testing.T) {
		dialing := make(chan struct{})
		s := exSession(t, SessionConfig{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			close(dialing)
			<-ctx.Done()
			return nil, ctx.Err()
		}})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			<-dialing
			cancel()
		}()
		out, err := exExecutor(t, ExecConfig{}).Do(ctx, s, exTask(t, exJob("http://example.invalid/")))
		if out != nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("Do = %v, %v; want nil, context.Canceled", out, err)
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		var hits atomic.Int32
		srv := exServer(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		out, err := exExecutor(t, ExecConfig{}).Do(ctx, exSession(t, SessionConfig{}), exTask(t, exJob(srv.URL)))
		if out != nil || !errors.Is(err, context.Canceled) || hits.Load() != 0 {
			t.Fatalf("Do = %v, %v (%d requests); want nil, context.Canceled", out, err, hits.Load())
		}
	})
	t.Run("deadline of the caller", func(t *testing.T) {
		srv := exBlockingServer(t, func(release <-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { <-release }
		})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		out, err := exExecutor(t, ExecConfig{}).Do(ctx, exSession(t, SessionConfig{}), exTask(t, exJob(srv.URL)))
		if out != nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Do = %v, %v; want nil, context.DeadlineExceeded", out, err)
		}
	})
}

func TestExecutorRedirects(t *testing.T) {
	srv := exServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/r/"):
			n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
			if n == 0 {
				_, _ = io.WriteString(w, "done")
				return
			}
			http.Redirect(w, r, "/r/"+strconv.Itoa(n-1), http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/code/"):
			code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/code/"))
			w.Header().Set("Location", "/echo")
			w.WriteHeader(code)
		case r.URL.Path == "/ftp":
			w.Header().Set("Location", "ftp://files.example/x")
			w.WriteHeader(http.StatusFound)
		default:
			exEcho(w, r)
		}
	})
	e := exExecutor(t, ExecConfig{Now: newExClock().Now})
	tests := []struct {
		name  string
		js    string
		check func(t *testing.T, out tasks.Outcome)
	}{
		{"history", exJob(srv.URL + "/r/3"), func(t *testing.T, out tasks.Outcome) {
			r := exResponse(t, out)
			if r.StatusCode != 200 || r.Body != "done" || r.URL != srv.URL+"/r/0" || len(r.History) != 3 {
				t.Fatalf("%d %q %s history %d", r.StatusCode, r.Body, r.URL, len(r.History))
			}
			for i, h := range r.History {
				wantURL, wantLoc := fmt.Sprintf("%s/r/%d", srv.URL, 3-i), fmt.Sprintf("/r/%d", 2-i)
				if h.StatusCode != 302 || h.Reason != "Found" || h.URL != wantURL || h.Headers["Location"] != wantLoc {
					t.Errorf("history[%d] = %+v, want 302 Found %s -> %s", i, h, wantURL, wantLoc)
				}
			}
			if r.ElapsedMS != 1 {
				t.Errorf("ElapsedMS = %v: want the last hop's 1ms", r.ElapsedMS)
			}
		}},
		{"30 redirects are followed", exJob(srv.URL + "/r/30"), func(t *testing.T, out tasks.Outcome) {
			if r := exResponse(t, out); r.StatusCode != 200 || len(r.History) != 30 {
				t.Errorf("%d, history %d", r.StatusCode, len(r.History))
			}
		}},
		{"31 are too many", exJob(srv.URL+"/r/31", `"auth": ["u", "`+exSecret+`"]`), func(t *testing.T, out tasks.Outcome) {
			if x := exException(t, out, tasks.TooManyRedirects); x.Exception.Message != "Exceeded 30 redirects." {
				t.Errorf("message %q", x.Exception.Message)
			}
		}},
		{"allow_redirects false", exJob(srv.URL+"/r/3", `"allow_redirects": false`), func(t *testing.T, out tasks.Outcome) {
			r := exResponse(t, out)
			if r.StatusCode != 302 || r.Headers["Location"] != "/r/2" || len(r.History) != 0 || r.URL != srv.URL+"/r/3" {
				t.Errorf("%d %v history %d url %s", r.StatusCode, r.Headers, len(r.History), r.URL)
			}
		}},
		{"307 sends the body again", exJob(srv.URL+"/code/307", `"method": "POST"`, `"data": {"a": "1"}`), func(t *testing.T, out tasks.Outcome) {
			e := exEchoed(t, out)
			if e.Method != "POST" || e.Body != "a=1" || e.Headers["Content-Type"] != "application/x-www-form-urlencoded" {
				t.Errorf("%+v", e)
			}
		}},
		{"308 sends the json again", exJob(srv.URL+"/code/308", `"method": "PUT"`, `"json": {"a": 1}`), func(t *testing.T, out tasks.Outcome) {
			if e := exEchoed(t, out); e.Method != "PUT" || e.Body != `{"a": 1}` {
				t.Errorf("%+v", e)
			}
		}},
		{"303 turns POST into GET", exJob(srv.URL+"/code/303", `"method": "POST"`, `"data": "x"`), func(t *testing.T, out tasks.Outcome) {
			if e := exEchoed(t, out); e.Method != "GET" || e.Body != "" {
				t.Errorf("%+v", e)
			}
		}},
		{"redirect to another scheme", exJob(srv.URL + "/ftp"), func(t *testing.T, out tasks.Outcome) {
			if x := exException(t, out, tasks.InvalidSchema); x.Exception.Message != "No connection adapters were found for 'ftp://files.example/x'" {
				t.Errorf("message %q", x.Exception.Message)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, exRun(t, e, exSession(t, SessionConfig{}), tt.js))
		})
	}
}

func TestSessionCookies(t *testing.T) {
	srv := exServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/set" {
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: "s1", Path: "/"})
		}
		_, _ = io.WriteString(w, r.Header.Get("Cookie"))
	})
	e := exExecutor(t, ExecConfig{})
	s1, s2 := exSession(t, SessionConfig{}), exSession(t, SessionConfig{})
	body := func(s *Session, path string, extra ...string) string {
		t.Helper()
		return exResponse(t, exRun(t, e, s, exJob(srv.URL+path, extra...))).Body
	}
	steps := []struct {
		name  string
		s     *Session
		path  string
		extra []string
		want  string
	}{
		{"server sets a cookie", s1, "/set", nil, ""},
		{"same session sends it back", s1, "/get", nil, "sid=s1"},
		{"another session does not", s2, "/get", nil, ""},
		{"job cookies with the jar's", s1, "/get", []string{`"cookies": {"a": "1"}`}, "a=1; sid=s1"},
		{"job cookie wins over the jar's", s1, "/get", []string{`"cookies": {"sid": "job"}`}, "sid=job"},
		{"job cookies are not stored", s1, "/get", nil, "sid=s1"},
		{"explicit Cookie header replaces all", s1, "/get", []string{`"cookies": {"a": "1"}`, `"headers": {"Cookie": "own=1"}`}, "own=1"},
		{"job cookies on a fresh session", s2, "/get", []string{`"cookies": {"a": "1"}`}, "a=1"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if got := body(st.s, st.path, st.extra...); got != st.want {
				t.Errorf("Cookie %q, want %q", got, st.want)
			}
		})
	}
}

func TestExecutorSSLError(t *testing.T) {
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "secure") }))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	plain := exServer(t, exEcho)
	e := exExecutor(t, ExecConfig{})
	t.Run("untrusted certificate", func(t *testing.T) {
		exException(t, exRun(t, e, exSession(t, SessionConfig{}), exJob(tlsSrv.URL)), tasks.SSLError)
	})
	t.Run("insecure session", func(t *testing.T) {
		if r := exResponse(t, exRun(t, e, exSession(t, SessionConfig{Insecure: true}), exJob(tlsSrv.URL))); r.Body != "secure" {
			t.Errorf("body %q", r.Body)
		}
	})
	t.Run("wrong host name", func(t *testing.T) {
		// Trust the server's certificate, then reach it by another name.
		addr := tlsSrv.Listener.Addr().String()
		s := exSession(t, SessionConfig{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}})
		exTransport(t, s).TLSClientConfig.RootCAs = tlsSrv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
		exException(t, exRun(t, e, s, exJob("https://wrong.example/")), tasks.SSLError)
		if r := exResponse(t, exRun(t, e, s, exJob("https://example.com/"))); r.Body != "secure" {
			t.Errorf("trusted name: body %q", r.Body)
		}
	})
	t.Run("https to a plain server", func(t *testing.T) {
		u := strings.Replace(plain.URL, "http://", "https://", 1)
		exException(t, exRun(t, e, exSession(t, SessionConfig{}), exJob(u)), tasks.SSLError)
	})
}

func TestExecutorProxy(t *testing.T) {
	proxy := exServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect {
			w.WriteHeader(http.StatusProxyAuthRequired)
			return
		}
		fmt.Fprintf(w, "proxied %s", r.URL)
	})
	proxyURL := func(s string) SessionConfig {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return SessionConfig{Proxy: u}
	}
	e := exExecutor(t, ExecConfig{})
	t.Run("http through the proxy", func(t *testing.T) {
		r := exResponse(t, exRun(t, e, exSession(t, proxyURL(proxy.URL)), exJob("http://target.invalid/x")))
		if r.Body != "proxied http://target.invalid/x" {
			t.Errorf("body %q", r.Body)
		}
	})
	t.Run("CONNECT refused", func(t *testing.T) {
		x := exException(t, exRun(t, e, exSession(t, proxyURL(proxy.URL)), exJob("https://target.invalid/x")), tasks.ProxyError)
		if !strings.Contains(x.Exception.Message, "407") {
			t.Errorf("message %q", x.Exception.Message)
		}
	})
	t.Run("proxy down", func(t *testing.T) {
		exException(t, exRun(t, e, exSession(t, proxyURL("http://"+exClosedPort(t))), exJob("http://target.invalid/x")), tasks.ProxyError)
	})
}

func TestExecutorNoSession(t *testing.T) {
	e := exExecutor(t, ExecConfig{})
	for _, s := range []*Session{nil, {}} {
		exException(t, exRun(t, e, s, exJob("http://127.0.0.1:1/")), tasks.ConnectionError)
	}
}

// TestExecutorForeignSession: a session made by the user's constructor,
// with a plain client, still sends each request once and gets timeouts.
func TestExecutorForeignSession(t *testing.T) {
	srv := exServer(t, exEcho)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	s := &Session{Client: &http.Client{Transport: tr}}
	if e := exEchoed(t, exRun(t, exExecutor(t, ExecConfig{}), s, exJob(srv.URL+"/x"))); e.URI != "/x" {
		t.Errorf("%+v", e)
	}
}

// FuzzBuildRequest: any job DecodeJob accepts makes a request or a
// requests-style exception, without panicking and without dialing.
func FuzzBuildRequest(f *testing.F) {
	for _, seed := range []struct{ url, method, hk, hv, params string }{
		{"http://x/", "GET", "X-A", "1", "a=1"},
		{"https://u:p@[::1]:8443/a b?c=d#e", "post", "Host", "h", ""},
		{"example.com", "GET", "Cookie", "a=b", ""},
		{"ftp://x", "PUT", "Authorization", " x", ""},
		{"http://%zz/", "GET", "X", "\x01", "%"},
		{"http://x:65536", "GET", "X", "", "é"},
		{"HTTP://X/%", "GET", "X", "y", "q=a b"},
		{"http://*", "GET", "X", "y", ""},
		{"http://[fe80::1%25en0]/", "GET", "X", "y", ""},
		{"http:\\\\x/", "GET", "X", "y", ""},
	} {
		f.Add(seed.url, seed.method, seed.hk, seed.hv, seed.params)
	}
	e := exExecutor(f, ExecConfig{})
	s := &Session{Client: &http.Client{}, Header: http.Header{"X-S": {"s"}}, Auth: &tasks.Auth{User: "u", Password: exSecret}}
	f.Fuzz(func(t *testing.T, rawURL, method, hk, hv, params string) {
		js, err := json.Marshal(map[string]any{"url": rawURL, "method": method, "headers": map[string]string{hk: hv}, "params": params, "cookies": map[string]string{"c": hv}})
		if err != nil {
			return
		}
		j, err := tasks.DecodeJob(js)
		if err != nil {
			return
		}
		req, _, rerr := e.build(s, &j)
		if (req == nil) == (rerr == nil) {
			t.Fatalf("build(%q) = %v, %v: want exactly one", rawURL, req, rerr)
		}
		if rerr != nil {
			if rerr.typ == "" || rerr.msg == "" || strings.Contains(rerr.msg, exSecret) {
				t.Fatalf("build(%q): error %+v", rawURL, rerr)
			}
			return
		}
		if req.URL.Scheme != "http" && req.URL.Scheme != "https" || req.URL.Host == "" {
			t.Fatalf("build(%q) = %s", rawURL, req.URL)
		}
	})
}

func BenchmarkExecutorDo(b *testing.B) {
	srv := exServer(b, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello, world") })
	e := exExecutor(b, ExecConfig{})
	s := exSession(b, SessionConfig{})
	task := exTask(b, exJob(srv.URL+"/bench", `"headers": {"X-A": "1"}`, `"params": {"q": "v"}`))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		out, err := e.Do(ctx, s, task)
		if err != nil {
			b.Fatal(err)
		}
		if r, ok := out.(*tasks.Response); !ok || r.StatusCode != 200 {
			b.Fatalf("outcome %#v", out)
		}
	}
}
