package httpexec

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/tasks"
)

func TestClassify(t *testing.T) {
	dial := func(err error) error { return &net.OpError{Op: "dial", Net: "tcp", Err: err} }
	inURL := func(err error) error { return &url.Error{Op: "Get", URL: "http://x/", Err: err} }
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"refused", dial(os.NewSyscallError("connect", syscall.ECONNREFUSED)), tasks.ConnectionError},
		{"refused in url.Error", inURL(dial(syscall.ECONNREFUSED)), tasks.ConnectionError},
		{"DNS", inURL(dial(&net.DNSError{Err: "no such host", Name: "x", IsNotFound: true})), tasks.ConnectionError},
		{"DNS timeout is still DNS", inURL(&net.DNSError{Err: "timeout", Name: "x", IsTimeout: true}), tasks.ConnectionError},
		{"dial timeout of the session's own dialer", inURL(dial(os.ErrDeadlineExceeded)), tasks.ConnectTimeout},
		{"our connect timeout", inURL(&connectTimeoutError{addr: "x:80", timeout: time.Second, err: context.DeadlineExceeded}), tasks.ConnectTimeout},
		{"our read timeout", &readTimeoutError{timeout: time.Second}, tasks.ReadTimeout},
		{"our total timeout", inURL(fmt.Errorf("%w (%w)", &totalTimeoutError{timeout: time.Minute}, context.DeadlineExceeded)), tasks.TotalTimeout},
		{"other timeout", inURL(os.ErrDeadlineExceeded), tasks.ReadTimeout},
		{"unknown authority", inURL(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), tasks.SSLError},
		{"bare unknown authority", x509.UnknownAuthorityError{}, tasks.SSLError},
		{"host name", inURL(x509.HostnameError{Host: "x"}), tasks.SSLError},
		{"expired", x509.CertificateInvalidError{Reason: x509.Expired}, tasks.SSLError},
		{"record header", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, tasks.SSLError},
		{"alert", inURL(tls.AlertError(40)), tasks.SSLError},
		{"HTTP answer to HTTPS", inURL(http.ErrSchemeMismatch), tasks.SSLError},
		{"proxy dial", inURL(&net.OpError{Op: "proxyconnect", Net: "tcp", Err: dial(syscall.ECONNREFUSED)}), tasks.ProxyError},
		{"proxy TLS", inURL(&net.OpError{Op: "proxyconnect", Net: "tcp", Err: x509.UnknownAuthorityError{}}), tasks.ProxyError},
		{"proxy connect timeout", inURL(&net.OpError{Op: "proxyconnect", Net: "tcp", Err: &connectTimeoutError{timeout: time.Second}}), tasks.ConnectTimeout},
		{"proxy CONNECT refused", inURL(&proxyStatusError{status: "407 Proxy Authentication Required"}), tasks.ProxyError},
		{"too many redirects", inURL(reqErr(tasks.TooManyRedirects, "Exceeded 30 redirects.")), tasks.TooManyRedirects},
		{"EOF before the headers", inURL(io.EOF), tasks.ConnectionError},
		{"unexpected EOF before the headers", inURL(io.ErrUnexpectedEOF), tasks.ConnectionError},
		{"reset", inURL(&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), tasks.ConnectionError},
		{"unknown", errors.New("something else"), tasks.ConnectionError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.err); got != tt.want {
				t.Errorf("classify(%v) = %s, want %s", tt.err, got, tt.want)
			}
		})
	}
}

func TestClassifyBody(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"short body", io.ErrUnexpectedEOF, tasks.ChunkedEncodingError},
		{"reset mid-body", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, tasks.ChunkedEncodingError},
		{"bad chunk", errors.New("invalid byte in chunk length"), tasks.ChunkedEncodingError},
		{"decode", &bodyDecodeError{encoding: "gzip", err: errors.New("gzip: invalid header")}, tasks.ContentDecodingError},
		{"read timeout: ConnectionError, as requests", &readTimeoutError{timeout: time.Second}, tasks.ConnectionError},
		{"total timeout", &totalTimeoutError{timeout: time.Second}, tasks.TotalTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classifyBody(tt.err); got != tt.want {
				t.Errorf("classifyBody(%v) = %s, want %s", tt.err, got, tt.want)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		url     string
		err     error
		want    string
		without string
	}{
		{"plain", "GET", "http://x/", errors.New("boom"), "GET http://x/: boom", ""},
		{"url.Error's hop URL", "GET", "http://x/", &url.Error{Op: "Get", URL: "http://y/z", Err: errors.New("boom")}, "GET http://y/z: boom", ""},
		{"password redacted", "POST", "http://u:" + exSecret + "@x/", errors.New("boom"), "POST http://u:xxxxx@x/: boom", exSecret},
		{"one line", "GET", "http://x/", errors.New("a\r\nb\nc"), "GET http://x/: a b c", ""},
		{"request error as it is", "GET", "http://x/", &url.Error{Op: "Get", URL: "http://x/", Err: reqErr(tasks.TooManyRedirects, "Exceeded 30 redirects.")}, "Exceeded 30 redirects.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := describe(tt.method, tt.url, tt.err)
			if got != tt.want {
				t.Errorf("describe = %q, want %q", got, tt.want)
			}
			if tt.without != "" && strings.Contains(got, tt.without) {
				t.Errorf("describe = %q holds %q", got, tt.without)
			}
		})
	}
}

func TestRedactRawURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://x/", "http://x/"},
		{"http://u@x/", "http://u@x/"},
		{"http://u:p@x/", "http://u:xxxxx@x/"},
		{"https://u:p:q@x:1/a@b?c@d", "https://u:xxxxx@x:1/a@b?c@d"},
		{"http://u:p@a@x", "http://u:xxxxx@x"},
		{"ftp://u:p@x", "ftp://u:xxxxx@x"},
		{"mailto:a@b.c", "mailto:a@b.c"},
		{"x/y", "x/y"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := redactRawURL(tt.in); got != tt.want {
				t.Errorf("redactRawURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestPyRepr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abc", `'abc'`},
		{"it's", `"it's"`},
		{`it's "x"`, `'it\'s "x"'`},
		{`a\b`, `'a\\b'`},
		{"a\tb\nc\rd\x01\x7f", `'a\tb\nc\rd\x01\x7f'`},
		{"é✓", `'é✓'`},
		{"\u00a0\u200b", `'\xa0\u200b'`},
		{"\xff", `'\xff'`},
		{"\ufffd", "'\ufffd'"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := pyRepr(tt.in); got != tt.want {
				t.Errorf("pyRepr(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestTimeoutMessages(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&connectTimeoutError{addr: "x:80", timeout: 1500 * time.Millisecond}, "connection to x:80 timed out (connect timeout=1.5s)"},
		{&connectTimeoutError{timeout: time.Second}, "connection timed out (connect timeout=1s)"},
		{&readTimeoutError{timeout: 50 * time.Millisecond}, "read timed out (read timeout=0.05s)"},
		{&totalTimeoutError{timeout: 5 * time.Minute}, "job did not finish within the worker's total limit of 5m0s per job"},
		{&proxyStatusError{status: "407 Proxy Authentication Required"}, "Tunnel connection failed: 407 Proxy Authentication Required"},
		{&bodyDecodeError{encoding: "gzip", err: errors.New("bad")}, "failed to decode the gzip body: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}
