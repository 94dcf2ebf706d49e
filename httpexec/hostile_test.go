package httpexec

import (
	"encoding/json"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/tasks"
)

// hostileServer answers as a hostile target would:
//
//	/ce?n=N                      a gzip body under "Content-Encoding: gzip,gzip,..." (N links)
//	/redir?hop=I&size=S&lines=L  a redirect to hop I+1 until hop 30, each with L headers of S bytes
//
// At the last hop, heapAtEnd is the live heap (after a GC) of the test
// process, the client's redirect chain in it.
func hostileServer(t testing.TB) string {
	t.Helper()
	gz := exGzip(t, "hostile")
	srv := exServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Err() != nil {
			return
		}
		q := r.URL.Query()
		switch r.URL.Path {
		case "/ce":
			n, _ := strconv.Atoi(q.Get("n"))
			w.Header().Set("Content-Encoding", strings.TrimSuffix(strings.Repeat("gzip,", n), ","))
			_, _ = w.Write(gz)
		case "/redir":
			hop, _ := strconv.Atoi(q.Get("hop"))
			size, _ := strconv.Atoi(q.Get("size"))
			lines, _ := strconv.Atoi(q.Get("lines"))
			for i := range lines {
				w.Header().Set("X-Big-"+strconv.Itoa(i), strings.Repeat("h", size))
			}
			if hop >= 30 {
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				heapAtEnd.Store(ms.HeapAlloc)
				_, _ = w.Write([]byte("done"))
				return
			}
			q.Set("hop", strconv.Itoa(hop+1))
			http.Redirect(w, r, "/redir?"+q.Encode(), http.StatusFound)
		}
	})
	return srv.URL
}

var heapAtEnd atomic.Uint64

func TestHostileContentEncodingChain(t *testing.T) {
	base := hostileServer(t)
	tests := []struct {
		name    string
		n       int
		session SessionConfig
		want    string
	}{
		{"10^4 links", 10_000, SessionConfig{}, tasks.ContentDecodingError},
		{"10^5 links (500 KB header) read", 100_000, SessionConfig{MaxResponseHeaderBytes: 1 << 20}, tasks.ContentDecodingError},
		{"10^5 links over the header block cap", 100_000, SessionConfig{}, tasks.ConnectionError},
		{"10^6 links (5 MB header) read", 1_000_000, SessionConfig{MaxResponseHeaderBytes: 8 << 20}, tasks.ContentDecodingError},
		{"10^6 links over the header block cap", 1_000_000, SessionConfig{}, tasks.ConnectionError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			out := exRun(t, exExecutor(t, ExecConfig{}), exSession(t, tt.session), exJob(base+"/ce?n="+strconv.Itoa(tt.n)))
			exException(t, out, tt.want)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestHostileRedirectHeaders(t *testing.T) {
	base := hostileServer(t)
	t.Run("30 hops each with a 9 MB header: over the header block cap", func(t *testing.T) {
		out := exRun(t, exExecutor(t, ExecConfig{}), exSession(t, SessionConfig{}), exJob(base+"/redir?hop=0&lines=1&size=9000000"))
		exException(t, out, tasks.ConnectionError)
	})
	t.Run("30 hops each with 900 KB of headers: over the header block cap", func(t *testing.T) {
		out := exRun(t, exExecutor(t, ExecConfig{}), exSession(t, SessionConfig{}), exJob(base+"/redir?hop=0&lines=15&size=60000"))
		exException(t, out, tasks.ConnectionError)
	})
	t.Run("30 hops each with 900 KB of headers, read: cut and marked", func(t *testing.T) {
		e := exExecutor(t, ExecConfig{})
		out := exRun(t, e, exSession(t, SessionConfig{MaxResponseHeaderBytes: 1 << 20}), exJob(base+"/redir?hop=0&lines=15&size=60000"))
		r := exResponse(t, out)
		if r.Body != "done" || !r.HeadersTruncated || len(r.History) != 30 {
			t.Fatalf("body %q, headers truncated %v, %d hops", r.Body, r.HeadersTruncated, len(r.History))
		}
		kept := 0
		for i, h := range r.History {
			if !h.HeadersTruncated {
				t.Errorf("hop %d: headers not marked truncated", i)
			}
			kept += headerBytes(h.Headers)
		}
		if kept > 256<<10 {
			t.Errorf("history keeps %d header bytes, over 256 KiB", kept)
		}
		if n := headerBytes(r.Headers); n > 64<<10 {
			t.Errorf("response keeps %d header bytes, over 64 KiB", n)
		}
		if h := heapAtEnd.Load(); h > 16<<20 {
			t.Errorf("live heap %d MiB at the last hop: the client holds the hops' headers", h>>20)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 2<<20 {
			t.Errorf("outcome of %d bytes, over 2 MiB", len(b))
		}
	})
	t.Run("a redirect URL of 200 KB in an exception message is cut", func(t *testing.T) {
		srv := exServer(t, func(w http.ResponseWriter, r *http.Request) {
			if r.Context().Err() != nil {
				return
			}
			w.Header().Set("Location", "ftp://x/"+strings.Repeat("u", 200_000))
			w.WriteHeader(http.StatusFound)
		})
		x := exException(t, exRun(t, exExecutor(t, ExecConfig{}), exSession(t, SessionConfig{}), exJob(srv.URL)), tasks.InvalidSchema)
		if n := len(x.Exception.Message); n > 9<<10 {
			t.Errorf("message of %d bytes", n)
		}
	})
	t.Run("history cap", func(t *testing.T) {
		e := exExecutor(t, ExecConfig{MaxHistory: 3, MaxOutcome: 8 << 10})
		r := exResponse(t, exRun(t, e, exSession(t, SessionConfig{}), exJob(base+"/redir?hop=20&lines=1&size=10")))
		if len(r.History) != 3 || !r.HistoryTruncated || r.Body != "done" {
			t.Errorf("%d hops, history truncated %v", len(r.History), r.HistoryTruncated)
		}
	})
}
