package httpexec

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/tasks"
)

// TestStaleConnections: 300 GETs (and PUTs) on one session against servers that
// close kept-alive connections (an idle timeout of 2 ms, as Node's
// keepAliveTimeout but short; and one that closes each connection 3 ms
// after answering, without Connection: close, the next request unread)
// all succeed, and the server handles each request once: a request on a
// pooled connection that closed before answering is sent again on
// another.
func TestStaleConnections(t *testing.T) {
	const jobs = 300
	idle := func(t *testing.T, received *atomic.Int32) string {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Context().Err() != nil {
				return
			}
			received.Add(1)
			_, _ = io.WriteString(w, "ok")
		}))
		srv.Config.IdleTimeout = 2 * time.Millisecond
		srv.Start()
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
	closeAfter := func(t *testing.T, received *atomic.Int32) string {
		return exRawServer(t, func(c net.Conn) {
			br := bufio.NewReader(c)
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			received.Add(1)
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			// The server's own behaviour, not a wait to observe: it
			// closes 3 ms after the answer, what came since unread.
			<-time.After(3 * time.Millisecond)
		})
	}
	tests := []struct {
		name   string
		server func(*testing.T, *atomic.Int32) string
		pace   func(i int) time.Duration // before job i
		fields []string
	}{
		// Jobs at 0 to 2.5 ms apart: some come as the idle timeout closes
		// the connection.
		{"idle timeout 2ms", idle, func(i int) time.Duration { return time.Duration(i%6) * 500 * time.Microsecond }, nil},
		{"close 3ms after each answer", closeAfter, func(int) time.Duration { return 0 }, nil},
		// PUT: Go's Transport does not send it again; oneShot does.
		{"PUT, close 3ms after each answer", closeAfter, func(int) time.Duration { return 0 }, []string{`"method": "PUT"`, `"data": "x=1"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var received atomic.Int32
			addr := tt.server(t, &received)
			e := exExecutor(t, ExecConfig{})
			s := exSession(t, SessionConfig{})
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			failed, retries := 0, 0
			for i := range jobs {
				select {
				case <-time.After(tt.pace(i)):
				case <-ctx.Done():
					t.Fatalf("after %d jobs: %v", i, ctx.Err())
				}
				out, err := e.Do(ctx, s, exTask(t, exJob("http://"+addr+"/", tt.fields...)))
				if err != nil {
					t.Fatalf("job %d: %v", i, err)
				}
				switch o := out.(type) {
				case *tasks.Response:
					retries += o.ConnectionRetries
					if o.StatusCode != 200 {
						failed++
					}
				case *tasks.Exception:
					failed++
					t.Logf("job %d: %s: %s", i, o.Exception.Type, o.Exception.Message)
				}
			}
			t.Logf("%d of %d jobs failed, %d sent again", failed, jobs, retries)
			if failed != 0 {
				t.Errorf("%d of %d jobs failed, want 0", failed, jobs)
			}
			if n := received.Load(); n != jobs {
				t.Errorf("server handled %d requests, want %d (each once)", n, jobs)
			}
		})
	}
}
