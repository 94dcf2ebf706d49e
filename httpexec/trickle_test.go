package httpexec

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/tasks"
)

// trickle answers one request with raw, a byte every gap; with stallAt
// >= 0 it stops there until the connection closes. Every wait is bounded
// by the connection (closed at cleanup) and by 10s.
func trickle(raw string, gap time.Duration, stallAt int) func(net.Conn) {
	return func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		tick := time.NewTicker(gap)
		defer tick.Stop()
		deadline := time.After(10 * time.Second)
		for i := 0; i < len(raw); i++ {
			if i == stallAt {
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, _ = c.Read(make([]byte, 1)) // until the client gives up and closes
				return
			}
			select {
			case <-tick.C:
			case <-deadline:
				return
			}
			if _, err := c.Write([]byte{raw[i]}); err != nil {
				return
			}
		}
	}
}

func TestExecutorReadTimeoutDuringHeaders(t *testing.T) {
	raw := "HTTP/1.1 200 OK\r\nX-Slow: " + strings.Repeat("s", 20) + "\r\nContent-Length: 2\r\n\r\nok"
	t.Run("headers a byte at a time, each within the read timeout", func(t *testing.T) {
		// 70 bytes, 20ms apart: 1.4s in all, far past the read timeout.
		addr := exRawServer(t, trickle(raw, 20*time.Millisecond, -1))
		out := exRun(t, exExecutor(t, ExecConfig{}), exSession(t, SessionConfig{}), exJob("http://"+addr+"/", `"timeout": [5, 0.4]`))
		if r := exResponse(t, out); r.Body != "ok" || r.Headers["X-Slow"] == "" {
			t.Errorf("body %q headers %v", r.Body, r.Headers)
		}
	})
	t.Run("headers that stop are cut at the read timeout", func(t *testing.T) {
		addr := exRawServer(t, trickle(raw, 5*time.Millisecond, 30))
		start := time.Now()
		out := exRun(t, exExecutor(t, ExecConfig{}), exSession(t, SessionConfig{}), exJob("http://"+addr+"/", `"timeout": [5, 0.3]`))
		exException(t, out, tasks.ReadTimeout)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("cut after %v, want about 0.45s", d)
		}
	})
	t.Run("headers that trickle forever end at the job timeout", func(t *testing.T) {
		addr := exRawServer(t, trickle("HTTP/1.1 200 OK\r\nX-Slow: "+strings.Repeat("s", 10_000), 10*time.Millisecond, -1))
		out := exRun(t, exExecutor(t, ExecConfig{JobTimeout: 500 * time.Millisecond}), exSession(t, SessionConfig{}), exJob("http://"+addr+"/", `"timeout": [5, 0.2]`))
		exException(t, out, tasks.TotalTimeout)
	})
}
