package httpexec

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/reqfleet/reqfleet/tasks"
)

// exDropSecond is a server that answers the first request on each
// connection, keeps the connection open, then reads the second request on
// it and closes the connection without answering: the race of a
// keep-alive connection that the server closes. It counts the requests it
// received.
func exDropSecond(t testing.TB) (addr string, received *atomic.Int32) {
	t.Helper()
	received = new(atomic.Int32)
	addr = exRawServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for n := 1; ; n++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			received.Add(1)
			if n > 1 {
				return // closes the connection, unanswered
			}
			body := "ok"
			if req.Method == http.MethodHead {
				body = ""
			}
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"+body)
		}
	})
	return addr, received
}

// TestOneAttemptOnTheWire: requests sends a request once; Go's Transport
// would send a GET again on a new connection when a reused one is closed
// before the answer.
func TestOneAttemptOnTheWire(t *testing.T) {
	tests := []struct {
		name   string
		fields []string
	}{
		{"GET", nil},
		{"HEAD", []string{`"method": "HEAD"`}},
		{"OPTIONS", []string{`"method": "OPTIONS"`}},
		{"GET with a body", []string{`"data": "x=1"`}},
		{"PUT with Idempotency-Key", []string{`"method": "PUT"`, `"json": {"a": 1}`, `"headers": {"Idempotency-Key": "k1"}`}},
		{"POST with X-Idempotency-Key, no body", []string{`"method": "POST"`, `"headers": {"X-Idempotency-Key": "k1"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, received := exDropSecond(t)
			e := exExecutor(t, ExecConfig{})
			s := exSession(t, SessionConfig{})
			js := exJob("http://"+addr+"/", tt.fields...)
			if r := exResponse(t, exRun(t, e, s, js)); r.StatusCode != 200 {
				t.Fatalf("first job: %d", r.StatusCode)
			}
			exException(t, exRun(t, e, s, js), tasks.ConnectionError)
			if n := received.Load(); n != 2 {
				t.Errorf("server received %d requests, want 2: the second job was sent again", n)
			}
		})
	}
}

// TestOneAttemptPlainClientRetries shows the test above can fail: without
// oneShot the Transport sends the second GET again, and it succeeds.
func TestOneAttemptPlainClientRetries(t *testing.T) {
	addr, received := exDropSecond(t)
	s := exSession(t, SessionConfig{})
	plain := &http.Client{Transport: exTransport(t, s)}
	for i := range 2 {
		resp, err := plain.Get("http://" + addr + "/")
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if n := received.Load(); n != 3 {
		t.Errorf("server received %d requests, want 3 (Go's silent retry)", n)
	}
}

// TestOneShotWire checks the bytes oneShot's requests put on the wire:
// a request without a body still has no body, no Content-Length and no
// Transfer-Encoding, and the connection is used again.
func TestOneShotWire(t *testing.T) {
	type seen struct {
		raw   string
		conns int32
	}
	var conns atomic.Int32
	got := make(chan seen, 1)
	addr := exRawServer(t, func(c net.Conn) {
		n := conns.Add(1)
		var raw bytes.Buffer
		br := bufio.NewReader(io.TeeReader(c, &raw))
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				return
			}
			got <- seen{raw.String(), n}
			raw.Reset()
			body := "ok"
			if req.Method == http.MethodHead {
				body = ""
			}
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"+body)
		}
	})
	tests := []struct {
		name     string
		fields   []string
		wantLine string
		want     []string // lines the request must have
		wantNot  []string // header names it must not have
		wantBody string
	}{
		{"GET", nil, "GET /p HTTP/1.1", nil, []string{"Content-Length", "Transfer-Encoding"}, ""},
		{"HEAD", []string{`"method": "HEAD"`}, "HEAD /p HTTP/1.1", nil, []string{"Content-Length", "Transfer-Encoding"}, ""},
		{"OPTIONS", []string{`"method": "OPTIONS"`}, "OPTIONS /p HTTP/1.1", nil, []string{"Content-Length", "Transfer-Encoding"}, ""},
		{"TRACE", []string{`"method": "TRACE"`}, "TRACE /p HTTP/1.1", nil, []string{"Content-Length", "Transfer-Encoding"}, ""},
		{"DELETE", []string{`"method": "DELETE"`}, "DELETE /p HTTP/1.1", nil, []string{"Content-Length", "Transfer-Encoding"}, ""},
		{"GET with Idempotency-Key", []string{`"headers": {"Idempotency-Key": "k"}`}, "GET /p HTTP/1.1", []string{"Idempotency-Key: k"}, []string{"Content-Length", "Transfer-Encoding"}, ""},
		{"POST without body", []string{`"method": "POST"`}, "POST /p HTTP/1.1", []string{"Content-Length: 0"}, []string{"Transfer-Encoding"}, ""},
		{"POST with body", []string{`"method": "POST"`, `"data": "hello"`}, "POST /p HTTP/1.1", []string{"Content-Length: 5"}, []string{"Transfer-Encoding"}, "hello"},
		{"GET with body", []string{`"data": "hello"`}, "GET /p HTTP/1.1", []string{"Content-Length: 5"}, []string{"Transfer-Encoding"}, "hello"},
	}
	e := exExecutor(t, ExecConfig{})
	s := exSession(t, SessionConfig{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := exResponse(t, exRun(t, e, s, exJob("http://"+addr+"/p", tt.fields...)))
			if r.StatusCode != 200 {
				t.Fatalf("status %d", r.StatusCode)
			}
			sn := <-got
			head, body, _ := strings.Cut(sn.raw, "\r\n\r\n")
			lines := strings.Split(head, "\r\n")
			if lines[0] != tt.wantLine {
				t.Errorf("request line %q, want %q", lines[0], tt.wantLine)
			}
			for _, w := range tt.want {
				if !strings.Contains(head+"\r\n", "\r\n"+w+"\r\n") {
					t.Errorf("no %q in\n%s", w, head)
				}
			}
			for _, n := range tt.wantNot {
				if strings.Contains(strings.ToLower(head), "\r\n"+strings.ToLower(n)+":") {
					t.Errorf("header %s in\n%s", n, head)
				}
			}
			if body != tt.wantBody {
				t.Errorf("body %q, want %q", body, tt.wantBody)
			}
		})
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1: keep-alive must keep working", n)
	}
}

func TestReplayable(t *testing.T) {
	tests := []struct {
		method string
		header string
		want   bool
	}{
		{"", "", true}, {"GET", "", true}, {"HEAD", "", true}, {"OPTIONS", "", true}, {"TRACE", "", true},
		{"POST", "", false}, {"PUT", "", false}, {"DELETE", "", false}, {"PATCH", "", false},
		{"POST", "Idempotency-Key", true}, {"DELETE", "X-Idempotency-Key", true},
	}
	for _, tt := range tests {
		t.Run(tt.method+"/"+tt.header, func(t *testing.T) {
			r := &http.Request{Method: tt.method, Header: http.Header{}}
			if tt.header != "" {
				r.Header.Set(tt.header, "k")
			}
			if got := replayable(r); got != tt.want {
				t.Errorf("replayable = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestOneShotLeavesTheRequestAlone: the client's request keeps GetBody
// (for 307/308) and its body; the Transport sees a copy without GetBody.
func TestOneShotLeavesTheRequestAlone(t *testing.T) {
	var seen *http.Request
	o := newOneShot(exRoundTripper(func(r *http.Request) (*http.Response, error) {
		seen = r
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	}))
	tests := []struct {
		name string
		body io.Reader
	}{
		{"no body", nil},
		{"body", strings.NewReader("abc")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(context.Background(), "GET", "http://x/", tt.body)
			if err != nil {
				t.Fatal(err)
			}
			body, getBody, cl := req.Body, req.GetBody, req.ContentLength
			if _, err := o.RoundTrip(req); err != nil {
				t.Fatal(err)
			}
			if req.Body != body || (req.GetBody == nil) != (getBody == nil) || req.ContentLength != cl {
				t.Error("RoundTrip changed the client's request")
			}
			if seen == req || seen.GetBody != nil || seen.Body == nil || seen.Body == http.NoBody {
				t.Errorf("Transport got a replayable request: GetBody %v, Body %v", seen.GetBody != nil, seen.Body)
			}
			if tt.body == nil && (seen.ContentLength != 0 || len(seen.TransferEncoding) != 1 || seen.TransferEncoding[0] != "identity") {
				t.Errorf("bodyless copy: ContentLength %d TransferEncoding %v", seen.ContentLength, seen.TransferEncoding)
			}
		})
	}
}

type exRoundTripper func(*http.Request) (*http.Response, error)

func (f exRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
