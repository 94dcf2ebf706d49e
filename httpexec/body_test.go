package httpexec

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/reqfleet/reqfleet/tasks"
)

func TestReadLimited(t *testing.T) {
	tests := []struct {
		name          string
		body          string
		max, hint     int64
		want          string
		wantTruncated bool
	}{
		{"empty", "", 10, -1, "", false},
		{"under", "abc", 10, -1, "abc", false},
		{"exact cap", "0123456789", 10, -1, "0123456789", false},
		{"exact cap with hint", "0123456789", 10, 10, "0123456789", false},
		{"one over", "0123456789x", 10, -1, "0123456789", true},
		{"far over with hint", strings.Repeat("y", 5000), 100, 5000, strings.Repeat("y", 100), true},
		{"wrong small hint", strings.Repeat("z", 3000), 4000, 1, strings.Repeat("z", 3000), false},
		{"long, no hint", strings.Repeat("w", 70000), 1 << 20, -1, strings.Repeat("w", 70000), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tt.body), iotest.OneByteReader(strings.NewReader(tt.body))} {
				b, truncated, err := readLimited(r, tt.max, tt.hint)
				if err != nil || string(b) != tt.want || truncated != tt.wantTruncated {
					t.Errorf("readLimited = %d bytes, %v, %v; want %d bytes, %v", len(b), truncated, err, len(tt.want), tt.wantTruncated)
				}
			}
		})
	}
	t.Run("error", func(t *testing.T) {
		boom := errors.New("boom")
		b, _, err := readLimited(io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(boom)), 10, -1)
		if !errors.Is(err, boom) || string(b) != "ab" {
			t.Errorf("readLimited = %q, %v", b, err)
		}
	})
}

func TestEncodeBody(t *testing.T) {
	tests := []struct {
		name      string
		body      []byte
		truncated bool
		wantText  string
		wantEnc   string
	}{
		{"ascii", []byte("hello"), false, "hello", ""},
		{"utf-8", []byte("héllo ✓"), false, "héllo ✓", ""},
		{"empty", nil, false, "", ""},
		{"latin-1", []byte{'c', 'a', 'f', 0xe9}, false, base64.StdEncoding.EncodeToString([]byte{'c', 'a', 'f', 0xe9}), "base64"},
		{"binary", []byte{0, 0xff, 0xfe}, false, "AP/+", "base64"},
		{"cut rune when truncated", []byte("ab✓")[:4], true, "ab", ""},
		{"cut rune, not truncated", []byte("ab✓")[:4], false, base64.StdEncoding.EncodeToString([]byte("ab✓")[:4]), "base64"},
		{"invalid before the cut", append([]byte{0xff}, []byte("ab✓")[:4]...), true, base64.StdEncoding.EncodeToString(append([]byte{0xff}, []byte("ab✓")[:4]...)), "base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, enc := encodeBody(tt.body, tt.truncated)
			if text != tt.wantText || enc != tt.wantEnc {
				t.Errorf("encodeBody = %q, %q; want %q, %q", text, enc, tt.wantText, tt.wantEnc)
			}
		})
	}
}

func TestTrimPartialRune(t *testing.T) {
	four := []byte("😀") // 4 bytes
	tests := []struct {
		name string
		in   []byte
		want int
	}{
		{"whole", []byte("a😀"), 5},
		{"cut after 1", append([]byte("a"), four[:1]...), 1},
		{"cut after 3", append([]byte("a"), four[:3]...), 1},
		{"ascii", []byte("abc"), 3},
		{"stray continuation bytes", []byte{'a', 0x80, 0x80, 0x80, 0x80}, 5},
		{"empty", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := len(trimPartialRune(tt.in)); got != tt.want {
				t.Errorf("len = %d, want %d", got, tt.want)
			}
		})
	}
}

func exGzip(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = io.WriteString(w, s)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func exZlib(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	_, _ = io.WriteString(w, s)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func exFlate(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.DefaultCompression)
	_, _ = io.WriteString(w, s)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestContentDecoder(t *testing.T) {
	text := strings.Repeat("decoded text ", 50)
	gz := exGzip(t, text)
	tests := []struct {
		name       string
		enc        string
		raw        []byte
		want       string
		wantDecErr bool
	}{
		{"none", "", []byte("plain"), "plain", false},
		{"identity", "identity", []byte("plain"), "plain", false},
		{"gzip", "gzip", gz, text, false},
		{"x-gzip, any case", "X-GZip", gz, text, false},
		{"deflate as zlib", "deflate", exZlib(t, text), text, false},
		{"deflate raw", "deflate", exFlate(t, text), text, false},
		{"deflate then gzip", "deflate, gzip", exGzip(t, string(exZlib(t, text))), text, false},
		{"unknown encoding left as is", "br", []byte("\x0b\x02raw"), "\x0b\x02raw", false},
		{"unknown in a list left as is", "gzip, br", gz, string(gz), false},
		{"empty gzip body", "gzip", nil, "", false},
		{"empty deflate body", "deflate", nil, "", false},
		{"not gzip", "gzip", []byte("this is not gzip"), "", true},
		{"truncated gzip", "gzip", gz[:len(gz)/2], "", true},
		{"bad checksum", "gzip", append(append([]byte{}, gz[:len(gz)-8]...), 1, 2, 3, 4, 5, 6, 7, 8), "", true},
		{"bad deflate", "deflate", []byte{0xff, 0xff, 0xff, 0xff}, "", true},
		{"five links decoded", "gzip, gzip,identity, gzip , gzip", exGzip(t, string(exGzip(t, string(exGzip(t, string(exGzip(t, text))))))), text, false},
		{"empty elements do not count", "gzip,,,,,,", gz, text, false},
		{"six links refused", "gzip,gzip,gzip,gzip,gzip,gzip", gz, "", true},
		{"six links with an unknown one refused", "br,identity,identity,identity,identity,gzip", gz, "", true},
		{"six unknown links left as is", "br,br,br,br,br,br", []byte("raw"), "raw", false},
		{"a long chain on an empty body is an empty body", strings.Repeat("gzip,", 1000), nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire := &wireReader{r: bytes.NewReader(tt.raw)}
			b, err := io.ReadAll(contentDecoder(wire, tt.enc))
			var de *bodyDecodeError
			if tt.wantDecErr {
				if !errors.As(err, &de) || classifyBody(err) != tasks.ContentDecodingError {
					t.Fatalf("err = %v, want a decode error", err)
				}
				return
			}
			if err != nil || string(b) != tt.want {
				t.Errorf("= %q, %v; want %q", b, err, tt.want)
			}
		})
	}
	t.Run("a chain of a million links is refused at once", func(t *testing.T) {
		enc := strings.Repeat("gzip,", 1_000_000)
		wire := &wireReader{r: bytes.NewReader(gz)}
		allocs := testing.AllocsPerRun(1, func() {
			wire.r = bytes.NewReader(gz)
			_, _ = io.ReadAll(contentDecoder(wire, enc))
		})
		_, err := io.ReadAll(contentDecoder(&wireReader{r: bytes.NewReader(gz)}, enc))
		if !errors.Is(err, errTooManyEncodings) || classifyBody(err) != tasks.ContentDecodingError {
			t.Fatalf("err = %v, want a ContentDecodingError for the chain", err)
		}
		if allocs > 20 {
			t.Errorf("%v allocations for the chain: it should be scanned in place", allocs)
		}
	})
	t.Run("wire error under gzip is the wire's", func(t *testing.T) {
		boom := io.ErrUnexpectedEOF
		wire := &wireReader{r: io.MultiReader(bytes.NewReader(gz[:20]), iotest.ErrReader(boom))}
		_, err := io.ReadAll(contentDecoder(wire, "gzip"))
		var de *bodyDecodeError
		if errors.As(err, &de) || !errors.Is(wire.err, boom) || classifyBody(err) != tasks.ChunkedEncodingError {
			t.Errorf("err = %v (wire %v): want the wire's error, not a decode error", err, wire.err)
		}
	})
	t.Run("progress on every read with bytes", func(t *testing.T) {
		n := 0
		wire := &wireReader{r: iotest.OneByteReader(strings.NewReader("abc")), progress: func() { n++ }}
		_, _ = io.ReadAll(wire)
		if n != 3 {
			t.Errorf("progress called %d times, want 3", n)
		}
	})
}

func TestHeaderMap(t *testing.T) {
	h := http.Header{"Set-Cookie": {"a=1", "b=2"}, "X-One": {"v"}, "X-Empty": {}}
	m := headerMap(h)
	if m["Set-Cookie"] != "a=1, b=2" || m["X-One"] != "v" || m["X-Empty"] != "" || len(m) != 3 {
		t.Errorf("headerMap = %v", m)
	}
	if m := headerMap(nil); m == nil || len(m) != 0 {
		t.Errorf("headerMap(nil) = %#v, want an empty map", m)
	}
}

func TestExecutorBodies(t *testing.T) {
	const max = 64
	text := strings.Repeat("0123456789", 10)
	srv := exServer(t, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		n, _ := strconv.Atoi(q.Get("n"))
		switch q.Get("kind") {
		case "ascii":
			_, _ = io.WriteString(w, text[:n])
		case "runes": // "é" is 2 bytes: the cap falls inside one
			_, _ = io.WriteString(w, "a"+strings.Repeat("é", n))
		case "binary":
			_, _ = w.Write(bytes.Repeat([]byte{0xff, 0x00}, n))
		case "gzip":
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(exGzip(t, text[:n]))
		case "badgzip":
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = io.WriteString(w, "not gzip at all")
		case "accept":
			_, _ = io.WriteString(w, r.Header.Get("Accept-Encoding"))
		}
	})
	e := exExecutor(t, ExecConfig{MaxBody: max})
	s := exSession(t, SessionConfig{})
	tests := []struct {
		name          string
		query         string
		want          string
		wantEnc       string
		wantTruncated bool
	}{
		{"under the cap", "kind=ascii&n=10", text[:10], "", false},
		{"exactly the cap", "kind=ascii&n=64", text[:64], "", false},
		{"one over the cap", "kind=ascii&n=65", text[:64], "", true},
		{"far over the cap", "kind=ascii&n=100", text[:64], "", true},
		{"cut in a rune stays text", "kind=runes&n=40", "a" + strings.Repeat("é", 31), "", true},
		{"non-UTF-8 is base64", "kind=binary&n=4", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xff, 0x00}, 4)), "base64", false},
		{"non-UTF-8 over the cap", "kind=binary&n=40", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xff, 0x00}, 32)), "base64", true},
		{"gzip decoded", "kind=gzip&n=50", text[:50], "", false},
		{"gzip decoded, cap on the decoded bytes", "kind=gzip&n=100", text[:64], "", true},
		{"asks for gzip and deflate", "kind=accept", "gzip, deflate", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := exResponse(t, exRun(t, e, s, exJob(srv.URL+"/?"+tt.query)))
			if r.Body != tt.want || r.BodyEncoding != tt.wantEnc || r.Truncated != tt.wantTruncated {
				t.Errorf("body %q enc %q truncated %v; want %q %q %v", r.Body, r.BodyEncoding, r.Truncated, tt.want, tt.wantEnc, tt.wantTruncated)
			}
		})
	}
	t.Run("gzip keeps its headers", func(t *testing.T) {
		r := exResponse(t, exRun(t, e, s, exJob(srv.URL+"/?kind=gzip&n=10")))
		if r.Headers["Content-Encoding"] != "gzip" {
			t.Errorf("headers %v", r.Headers)
		}
	})
	t.Run("broken gzip", func(t *testing.T) {
		exException(t, exRun(t, e, s, exJob(srv.URL+"/?kind=badgzip")), tasks.ContentDecodingError)
	})
	t.Run("a truncated body leaves the connection usable", func(t *testing.T) {
		var conns atomic.Int32
		s := exSession(t, SessionConfig{})
		tr := exTransport(t, s)
		dial := tr.DialContext
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conns.Add(1)
			return dial(ctx, network, addr)
		}
		for range 3 {
			if r := exResponse(t, exRun(t, e, s, exJob(srv.URL+"/?kind=ascii&n=100"))); !r.Truncated {
				t.Fatal("not truncated")
			}
		}
		if n := conns.Load(); n != 1 {
			t.Errorf("%d connections for 3 jobs, want 1", n)
		}
	})
}

// TestExecutorTruncatedEndlessBody: past the cap, a body of unknown
// length is not waited for: the connection is closed instead.
func TestExecutorTruncatedEndlessBody(t *testing.T) {
	srv := exBlockingServer(t, func(release <-chan struct{}) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, strings.Repeat("x", 100))
			w.(http.Flusher).Flush() // chunked: no Content-Length
			<-release
		}
	})
	e := exExecutor(t, ExecConfig{MaxBody: 10})
	start := time.Now()
	r := exResponse(t, exRun(t, e, exSession(t, SessionConfig{}), exJob(srv.URL, `"timeout": 30`)))
	if !r.Truncated || r.Body != strings.Repeat("x", 10) {
		t.Errorf("body %q truncated %v", r.Body, r.Truncated)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v: waited on the rest of the body", d)
	}
}

func TestExecutorChunkedEncodingError(t *testing.T) {
	tests := []struct {
		name string
		raw  string
	}{
		{"short Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"},
		{"chunked cut off", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc"},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"},
		{"gzip cut off by the connection", "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 500\r\n\r\n" + string(exGzip(t, strings.Repeat("x", 1000))[:15])},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := exRawServer(t, exRawResponse(tt.raw))
			out := exRun(t, exExecutor(t, ExecConfig{}), exSession(t, SessionConfig{}), exJob("http://"+addr+"/", `"auth": ["u", "`+exSecret+`"]`))
			exException(t, out, tasks.ChunkedEncodingError)
		})
	}
}
