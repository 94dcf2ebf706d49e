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

// TestResendOnClosedConnection: when a reused connection closes before
// any byte of the answer, an idempotent request (or one with an
// Idempotency-Key) is sent once more and succeeds, counted in
// connection_retries; a POST or PATCH is not, and fails as in requests.
func TestResendOnClosedConnection(t *testing.T) {
	tests := []struct {
		name   string
		fields []string
		resent bool
	}{
		{"GET", nil, true},
		{"HEAD", []string{`"method": "HEAD"`}, true},
		{"OPTIONS", []string{`"method": "OPTIONS"`}, true},
		{"GET with a body", []string{`"data": "x=1"`}, true},
		{"PUT", []string{`"method": "PUT"`, `"json": {"a": 1}`}, true},
		{"DELETE", []string{`"method": "DELETE"`}, true},
		{"POST with Idempotency-Key", []string{`"method": "POST"`, `"data": "x=1"`, `"headers": {"Idempotency-Key": "k1"}`}, true},
		{"POST", []string{`"method": "POST"`, `"data": "x=1"`}, false},
		{"POST, no body", []string{`"method": "POST"`}, false},
		{"PATCH", []string{`"method": "PATCH"`, `"data": "x=1"`}, false},
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
			if !tt.resent {
				x := exException(t, exRun(t, e, s, js), tasks.ConnectionError)
				if x.ConnectionRetries != 0 {
					t.Errorf("connection_retries %d, want 0", x.ConnectionRetries)
				}
				if n := received.Load(); n != 2 {
					t.Errorf("server received %d requests, want 2: the second job was sent again", n)
				}
				return
			}
			r := exResponse(t, exRun(t, e, s, js))
			if r.StatusCode != 200 || r.ConnectionRetries != 1 {
				t.Errorf("second job: status %d, connection_retries %d; want 200, 1", r.StatusCode, r.ConnectionRetries)
			}
			if n := received.Load(); n != 3 {
				t.Errorf("server received %d requests, want 3 (the dropped one sent once more)", n)
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
// a request without a body has no body and no Transfer-Encoding, and a
// Content-Length of 0 but for GET and HEAD (requests'
// prepare_content_length), and the connection is used again.
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
		{"OPTIONS", []string{`"method": "OPTIONS"`}, "OPTIONS /p HTTP/1.1", []string{"Content-Length: 0"}, []string{"Transfer-Encoding"}, ""},
		{"TRACE", []string{`"method": "TRACE"`}, "TRACE /p HTTP/1.1", []string{"Content-Length: 0"}, []string{"Transfer-Encoding"}, ""},
		{"DELETE", []string{`"method": "DELETE"`}, "DELETE /p HTTP/1.1", []string{"Content-Length: 0"}, []string{"Transfer-Encoding"}, ""},
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

func TestResendable(t *testing.T) {
	tests := []struct {
		method    string
		header    string
		want      bool
		goReplays bool
	}{
		{"", "", true, true}, {"GET", "", true, true}, {"HEAD", "", true, true}, {"OPTIONS", "", true, true}, {"TRACE", "", true, true},
		{"PUT", "", true, false}, {"DELETE", "", true, false},
		{"POST", "", false, false}, {"PATCH", "", false, false}, {"PROPFIND", "", false, false},
		{"POST", "Idempotency-Key", true, true}, {"PATCH", "X-Idempotency-Key", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.method+"/"+tt.header, func(t *testing.T) {
			r := &http.Request{Method: tt.method, Header: http.Header{}}
			if tt.header != "" {
				r.Header.Set(tt.header, "k")
			}
			if got := resendable(r); got != tt.want {
				t.Errorf("resendable = %v, want %v", got, tt.want)
			}
			if got := goReplays(r); got != tt.goReplays {
				t.Errorf("goReplays = %v, want %v", got, tt.goReplays)
			}
		})
	}
}

// TestOneShotLeavesTheRequestAlone: the client's request keeps GetBody
// (for 307/308) and its body; the Transport sees a copy, without GetBody
// unless the request may be sent again.
func TestOneShotLeavesTheRequestAlone(t *testing.T) {
	var seen *http.Request
	o := newOneShot(exRoundTripper(func(r *http.Request) (*http.Response, error) {
		seen = r
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	}))
	tests := []struct {
		name       string
		method     string
		body       io.Reader
		getBodyOff bool
	}{
		{"GET, no body", "GET", nil, false},
		{"GET, body", "GET", strings.NewReader("abc"), false},
		{"PUT, body", "PUT", strings.NewReader("abc"), false},
		{"POST, body", "POST", strings.NewReader("abc"), true},
		{"PATCH, body", "PATCH", strings.NewReader("abc"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(context.Background(), tt.method, "http://x/", tt.body)
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
			if seen == req {
				t.Error("Transport got the client's own request")
			}
			if (seen.GetBody == nil) != (tt.getBodyOff || getBody == nil) {
				t.Errorf("Transport's copy: GetBody set %v", seen.GetBody != nil)
			}
		})
	}
}

type exRoundTripper func(*http.Request) (*http.Response, error)

func (f exRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
