package httpexec

import (
	"bufio"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/tasks"
)

// TestRetryKind checks how the executor tells urllib3's kinds of failure
// apart for a job's retry policy: a refused dial is a connect error (the
// request was not sent, so even a POST is retried), a connection closed
// after the request and a read timeout are read errors, a body cut short is
// none (requests reads it outside urllib3's retries).
func TestRetryKind(t *testing.T) {
	closeAfterRequest := exRawServer(t, func(c net.Conn) {
		_, _ = http.ReadRequest(bufio.NewReader(c))
	})
	shortBody := exRawServer(t, exRawResponse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
	slow := exServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	tests := []struct {
		name, job, typ, kind string
	}{
		{"refused", exJob("http://"+exClosedPort(t)+"/", `"method": "POST"`), tasks.ConnectionError, tasks.KindConnect},
		{"closed after the request", exJob("http://" + closeAfterRequest + "/"), tasks.ConnectionError, tasks.KindRead},
		{"read timeout", exJob(slow.URL, `"timeout": [1, 0.2]`), tasks.ReadTimeout, tasks.KindRead},
		{"body cut short", exJob("http://" + shortBody + "/"), tasks.ChunkedEncodingError, tasks.KindNone},
	}
	e := exExecutor(t, ExecConfig{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := exException(t, exRun(t, e, exSession(t, SessionConfig{}), tt.job), tt.typ)
			if got := x.RetryKind(); got != tt.kind {
				t.Fatalf("retry kind %q, want %q", got, tt.kind)
			}
		})
	}
}
