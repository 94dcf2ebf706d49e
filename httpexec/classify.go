package httpexec

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/reqfleet/reqfleet/tasks"
)

// The errors below are the worker's own causes. A timeout is told from the
// caller's cancellation by the cause its context was cancelled with
// (context.Cause), never by the text of an error.

// connectTimeoutError: no connection within the connect timeout (the dial,
// a proxy's CONNECT and the TLS handshake).
type connectTimeoutError struct {
	addr    string // host:port, when known
	timeout time.Duration
	err     error // the dial's own error, if any
}

func (e *connectTimeoutError) Error() string {
	s := "connection timed out (connect timeout=" + seconds(e.timeout) + ")"
	if e.addr != "" {
		s = "connection to " + e.addr + " timed out (connect timeout=" + seconds(e.timeout) + ")"
	}
	return s
}

func (e *connectTimeoutError) Unwrap() error { return e.err }

// readTimeoutError: the server sent nothing for the read timeout, while we
// waited for the response or between reads of its body.
type readTimeoutError struct{ timeout time.Duration }

func (e *readTimeoutError) Error() string {
	return "read timed out (read timeout=" + seconds(e.timeout) + ")"
}

// totalTimeoutError: the job ran past the worker's total cap on one job.
type totalTimeoutError struct{ timeout time.Duration }

func (e *totalTimeoutError) Error() string {
	return "job did not finish within the worker's total limit of " + e.timeout.String() + " per job"
}

// requestError is an exception decided by the worker itself, before or
// between the requests on the wire: a URL, a header or a redirect that
// requests would refuse.
type requestError struct {
	typ string // a tasks exception type
	msg string // requests' message, one line, without credentials
}

func (e *requestError) Error() string { return e.msg }

func reqErr(typ, format string, args ...any) *requestError {
	return &requestError{typ: typ, msg: fmt.Sprintf(format, args...)}
}

// proxyStatusError: the proxy answered the CONNECT of an https request
// with something other than 200.
type proxyStatusError struct{ status string }

func (e *proxyStatusError) Error() string { return "Tunnel connection failed: " + e.status }

// bodyDecodeError: the body is not valid in its Content-Encoding.
type bodyDecodeError struct {
	encoding string
	err      error
}

func (e *bodyDecodeError) Error() string {
	return "failed to decode the " + e.encoding + " body: " + e.err.Error()
}

func (e *bodyDecodeError) Unwrap() error { return e.err }

// classify names the exception of a request that got no response: err is
// what http.Client.Do returned, or a cause of the job's context. Errors of
// reading a body that has started go to classifyBody instead.
func classify(err error) string {
	var (
		re   *requestError
		de   *deniedError
		ct   *connectTimeoutError
		rt   *readTimeoutError
		tt   *totalTimeoutError
		ps   *proxyStatusError
		op   *net.OpError
		dns  *net.DNSError
		nerr net.Error
	)
	switch {
	case errors.As(err, &re):
		return re.typ
	case errors.As(err, &de):
		return tasks.DeniedAddress
	case errors.As(err, &tt):
		return tasks.TotalTimeout
	case errors.As(err, &ct):
		return tasks.ConnectTimeout
	case errors.As(err, &rt):
		return tasks.ReadTimeout
	case errors.As(err, &op) && op.Op == "proxyconnect":
		// requests checks a connect timeout before a proxy error.
		if op.Timeout() {
			return tasks.ConnectTimeout
		}
		return tasks.ProxyError
	case errors.As(err, &ps):
		return tasks.ProxyError
	case isTLSError(err):
		return tasks.SSLError
	case errors.As(err, &dns):
		return tasks.ConnectionError
	case errors.As(err, &op) && op.Op == "dial":
		if op.Timeout() {
			return tasks.ConnectTimeout // e.g. a session whose own dialer has a timeout
		}
		return tasks.ConnectionError
	case errors.As(err, &nerr) && nerr.Timeout():
		// A timeout of some other layer (a session's own Client.Timeout):
		// the connection was there, the answer was not.
		return tasks.ReadTimeout
	}
	return tasks.ConnectionError
}

// classifyBody names the exception of a body whose reading failed after
// the headers came: the Content-Encoding did not decode, or the transfer
// broke off (short Content-Length, bad chunks, connection reset).
func classifyBody(err error) string {
	var de *bodyDecodeError
	switch {
	case errors.As(err, &de):
		return tasks.ContentDecodingError
	case errors.As(err, new(*totalTimeoutError)):
		return tasks.TotalTimeout
	case errors.As(err, new(*readTimeoutError)):
		// requests' iter_content turns urllib3's ReadTimeoutError while
		// reading the body into a ConnectionError.
		return tasks.ConnectionError
	}
	return tasks.ChunkedEncodingError
}

// isTLSError reports certificate and TLS protocol failures.
func isTLSError(err error) bool {
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		systemRoots      x509.SystemRootsError
		verification     *tls.CertificateVerificationError
		recordHeader     tls.RecordHeaderError
		alert            tls.AlertError
		echRejection     *tls.ECHRejectionError
	)
	return errors.Is(err, http.ErrSchemeMismatch) || // a RecordHeaderError that Go renamed
		errors.As(err, &verification) || errors.As(err, &unknownAuthority) ||
		errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &systemRoots) ||
		errors.As(err, &recordHeader) || errors.As(err, &alert) || errors.As(err, &echRejection)
}

// describe makes an exception message: one line naming the request and
// what went wrong. It never holds the job's password or headers: the
// URL is redacted, and Go's errors hold neither.
func describe(method, rawURL string, err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		// Go's client already replaced a URL password with "***"; the URL
		// of ue is that of the failing hop, which may be a redirect's.
		rawURL, err = ue.URL, ue.Err
	}
	var re *requestError
	if errors.As(err, &re) {
		return OneLine(re.msg)
	}
	return OneLine(method + " " + redactRawURL(rawURL) + ": " + err.Error())
}

// OneLine replaces line breaks, so an exception message is one line.
func OneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(s)
}

// seconds writes d as requests prints a timeout: in seconds.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// RedactRawURL hides the password of a URL's userinfo, as url.URL.Redacted
// does, in a string that may not parse as a URL at all. Only a URL with
// "://" has an authority: "mailto:a@b" keeps its "a".
func RedactRawURL(s string) string { return redactRawURL(s) }

func redactRawURL(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	prefix, rest := s[:i+3], s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndexByte(rest[:end], '@')
	if at < 0 {
		return s
	}
	userinfo := rest[:at]
	c := strings.IndexByte(userinfo, ':')
	if c < 0 {
		return s
	}
	return prefix + userinfo[:c+1] + "xxxxx" + rest[at:]
}

// pyRepr quotes s as Python's repr does, as requests quotes a URL in its
// messages: 'x', or "x" when s holds a ' and no ".
func pyRepr(s string) string {
	q := '\''
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteRune(q)
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i]) // a byte that is not UTF-8
		case r == '\\' || r == q:
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x100 && !unicode.IsPrint(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x10000 && !unicode.IsPrint(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		case !unicode.IsPrint(r):
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteRune(q)
	return b.String()
}

// retryKind is how urllib3's Retry counts the failure err of type typ (a
// job's retry policy, tasks.Retry): a connect error when the request was
// not sent (the name did not resolve, the dial failed or timed out, the
// proxy could not be reached: urllib3's NewConnectionError and
// ConnectTimeoutError), a read error when it was sent and no answer came
// (urllib3's ReadTimeoutError and ProtocolError), other for TLS and proxy
// failures, none for what requests raises outside urllib3's retries.
func retryKind(err error, typ string) string {
	var (
		op  *net.OpError
		dns *net.DNSError
	)
	switch typ {
	case tasks.ConnectTimeout:
		return tasks.KindConnect
	case tasks.ReadTimeout:
		return tasks.KindRead
	case tasks.SSLError:
		return tasks.KindOther
	case tasks.ProxyError:
		if errors.As(err, &op) && op.Op == "proxyconnect" {
			return tasks.KindConnect
		}
		return tasks.KindOther
	case tasks.ConnectionError:
		if errors.As(err, &dns) || errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect") {
			return tasks.KindConnect
		}
		return tasks.KindRead
	}
	return tasks.KindNone
}
