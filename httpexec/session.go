package httpexec

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/reqfleet/reqfleet/tasks"
)

// Session is one HTTP session, as a requests.Session: an http.Client with
// its own Transport and cookie jar, default headers and default auth. A
// session is never used by two jobs at once (the worker hands sessions out
// through a channel).
type Session struct {
	Client *http.Client // own Transport and cookie jar (net/http/cookiejar, bounded by SessionConfig.Cookies)
	Header http.Header  // sent with every request unless the job sets the same header
	Auth   *tasks.Auth  // basic auth used when the job has none (like session.auth)
}

// Close closes the session's idle connections (and abandons its dials
// still in progress for jobs that gave up on them).
func (s *Session) Close() {
	if s != nil && s.Client != nil {
		s.Client.CloseIdleConnections()
	}
}

// SessionConfig configures NewSession. The zero value is a default.
type SessionConfig struct {
	Proxy               *url.URL // nil: from the environment (HTTP_PROXY/HTTPS_PROXY/NO_PROXY), as requests' trust_env
	Insecure            bool     // skip TLS verification (requests' verify=False)
	MaxIdleConnsPerHost int      // default 16
	// MaxResponseHeaderBytes caps the status line and headers read of one
	// response (http.Transport.MaxResponseHeaderBytes; Go's default is
	// 10 MiB): default 256 KiB, Chrome's limit, so what a browser reads
	// is read. A response with more is not read: the job is a
	// ConnectionError, as requests raises one for a header line longer
	// than http.client's 64 KiB or more than 100 headers.
	MaxResponseHeaderBytes int64
	// Cookies bound the session's cookie jar (count and bytes per domain
	// and in all, 4 KiB per cookie), the oldest cookies forgotten first.
	Cookies     CookieLimits
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error) // nil: a net.Dialer; tests inject a slow dialer here
	Resolver    *net.Resolver                                                     // the built-in dialer's; nil: net.DefaultResolver

	// DenyPrivate refuses to connect to loopback, private, link-local
	// (cloud metadata), shared, multicast, unspecified and reserved
	// addresses, checked on the address dialed when it is dialed (see
	// guard.go); the job becomes a tasks.DeniedAddress exception.
	DenyPrivate bool

	builtinDial bool // DialContext is validate's net.Dialer
}

// errNegativeHeaderBlock: SessionConfig.MaxResponseHeaderBytes is negative.
var errNegativeHeaderBlock = errors.New("MaxResponseHeaderBytes must not be negative")

// validate checks the config and fills in its defaults.
func (c *SessionConfig) validate() error {
	if c.MaxIdleConnsPerHost < 0 {
		return errors.New("session config: MaxIdleConnsPerHost must not be negative")
	}
	if c.MaxIdleConnsPerHost == 0 {
		c.MaxIdleConnsPerHost = 16
	}
	if c.MaxResponseHeaderBytes < 0 {
		return fmt.Errorf("session config: %w", errNegativeHeaderBlock)
	}
	if c.MaxResponseHeaderBytes == 0 {
		c.MaxResponseHeaderBytes = 256 << 10
	}
	if err := c.Cookies.validate(); err != nil {
		return fmt.Errorf("session config: %w", err)
	}
	if p := c.Proxy; p != nil {
		switch p.Scheme {
		case "http", "https", "socks5", "socks5h":
		default:
			return fmt.Errorf("session config: proxy scheme %q: use http, https, socks5 or socks5h", p.Scheme)
		}
		if p.Hostname() == "" {
			return fmt.Errorf("session config: proxy %s has no host", p.Redacted())
		}
	}
	if c.DialContext == nil {
		c.DialContext, c.builtinDial = newDialer(*c).DialContext, true
	}
	return nil
}

// newDialer is the built-in dialer.
func newDialer(c SessionConfig) *net.Dialer {
	return &net.Dialer{KeepAlive: 30 * time.Second, Resolver: c.Resolver}
}

// NewSession makes a session with its own Transport (HTTP/1.1 only, as
// requests) and cookie jar. Requests through it are sent exactly once:
// the Transport sits behind oneShot.
func NewSession(cfg SessionConfig) (*Session, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	jar, err := newBoundedJar(cfg.Cookies)
	if err != nil {
		return nil, fmt.Errorf("session cookie jar: %w", err)
	}
	return &Session{
		Client: &http.Client{Transport: newOneShot(newTransport(cfg)), Jar: jar},
		Header: make(http.Header),
	}, nil
}

// newTransport builds the session's Transport from a validated config.
func newTransport(cfg SessionConfig) *http.Transport {
	proxy := http.ProxyFromEnvironment
	if cfg.Proxy != nil {
		proxy = http.ProxyURL(cfg.Proxy)
	}
	dial := cfg.DialContext
	if cfg.DenyPrivate {
		g := newGuard(cfg)
		dial, proxy = g.dial, g.proxy(proxy)
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	return &http.Transport{
		Proxy:               proxy,
		DialContext:         limitDial(dial),
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: cfg.Insecure, MinVersion: tls.VersionTLS12}, //nolint:gosec // verify=False is the operator's choice
		MaxIdleConns:        100,
		MaxIdleConnsPerHost: cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:     90 * time.Second,
		// A larger header block is a ConnectionError; what the outcome
		// keeps of one is ExecConfig's MaxHeaderBytes.
		MaxResponseHeaderBytes: cfg.MaxResponseHeaderBytes,
		// The executor asks for "gzip, deflate" itself, as requests does,
		// and decodes the body: the response keeps its Content-Encoding.
		DisableCompression: true,
		Protocols:          &protocols,
		OnProxyConnectResponse: func(_ context.Context, _ *url.URL, _ *http.Request, resp *http.Response) error {
			if resp.StatusCode != http.StatusOK {
				return &proxyStatusError{status: resp.Status}
			}
			return nil
		},
	}
}

// limitDial bounds each dial by the connect timeout of the job it is made
// for, carried in the request's context (the Transport keeps the context's
// values, not its cancellation, when it dials). A dial that runs out of
// connect time fails with a *connectTimeoutError. Without a connect
// timeout the dial is still bounded by the job's total deadline, so a
// dial that its job gave up on does not linger.
func limitDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := limitedDial(ctx, dial, network, addr)
		if err != nil {
			return nil, err
		}
		return &progressConn{Conn: conn}, nil
	}
}

// progressConn tells the watchdog of the job using the connection that
// bytes came, on every read that brings some: the read timeout is the
// longest wait between bytes while the status line and headers come in,
// as it is for the body (requests' socket timeout). Bytes read before a
// job has the connection (the TLS handshake, a proxy's CONNECT) are the
// connect timeout's, and move no one.
type progressConn struct {
	net.Conn
	dog atomic.Pointer[watchdog] // the job's that has the connection
}

func (c *progressConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		if w := c.dog.Load(); w != nil {
			w.progress()
		}
	}
	return n, err
}

// progressConnOf finds the progressConn under a connection the Transport
// made (under TLS, say); nil if there is none.
func progressConnOf(conn net.Conn) *progressConn {
	for range 4 { // TLS over a proxy's TLS at most
		switch c := conn.(type) {
		case *progressConn:
			return c
		case interface{ NetConn() net.Conn }:
			conn = c.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// limitedDial is one dial of limitDial.
func limitedDial(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error), network, addr string) (net.Conn, error) {
	a := attemptFrom(ctx)
	if a == nil {
		return dial(ctx, network, addr)
	}
	var cause error
	deadline := a.deadline
	if d := a.timeout.Connect; d > 0 {
		if dl := time.Now().Add(d); deadline.IsZero() || dl.Before(deadline) {
			deadline = dl
			cause = &connectTimeoutError{addr: addr, timeout: d}
		}
	}
	if deadline.IsZero() {
		return dial(ctx, network, addr)
	}
	if cause == nil {
		cause = &totalTimeoutError{timeout: a.jobTimeout}
	}
	dctx, cancel := context.WithDeadlineCause(ctx, deadline, cause)
	defer cancel()
	conn, err := dial(dctx, network, addr)
	if err != nil && dctx.Err() != nil {
		// Name the cause: the job's own context may not be done yet
		// when the dial, bounded by the same deadline, gives up.
		switch c := context.Cause(dctx).(type) {
		case *connectTimeoutError:
			return nil, &connectTimeoutError{addr: c.addr, timeout: c.timeout, err: err}
		case *totalTimeoutError:
			return nil, fmt.Errorf("%w (%w)", c, err)
		}
	}
	return conn, err
}

// Initializer and AuthGenerator mirror the original Pool's initializer and
// auth_generator: each receives the session and returns it (or a
// replacement).
type (
	Initializer   func(*Session) (*Session, error)
	AuthGenerator func(*Session) (*Session, error)
)

// jobJar is the session's jar as one job sees it. On the first hop the
// job's own cookies are sent as the job's Cookie header, so jar cookies of
// the same names are left out (the job's win, as in requests); and a
// Cookie header the job or the session set explicitly replaces the jar's
// cookies entirely, as requests sends no jar cookies then. On every later
// hop (redirected) there is no Cookie header: requests sends the job's
// cookies (to any host: they have no domain) then the jar's, the same
// names included. Cookies the server sets still go to the session's jar.
type jobJar struct {
	jar        http.CookieJar    // the session's; may be nil
	job        map[string]string // the job's cookies
	replace    bool              // an explicit Cookie header: send no jar cookies on the first hop
	redirected bool              // past the first hop
}

func (j *jobJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	if j.jar != nil {
		j.jar.SetCookies(u, cookies)
	}
}

// Cookies gives the client nothing: http.Request.AddCookie would quote a
// value with a comma or a space (c="x,y"), which requests sends as it is.
// oneShot writes the jar's cookies instead (header).
func (j *jobJar) Cookies(*url.URL) []*http.Cookie { return nil }

// header is the jar's cookies for u as requests writes them in its Cookie
// header: name=value, the value as the server set it (in quotes if it
// came in quotes), joined by "; ".
func (j *jobJar) header(u *url.URL) string {
	var b strings.Builder
	for _, c := range j.cookies(u) {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(c.Name)
		b.WriteByte('=')
		if c.Quoted {
			b.WriteByte('"')
			b.WriteString(c.Value)
			b.WriteByte('"')
		} else {
			b.WriteString(c.Value)
		}
	}
	return b.String()
}

// cookies is what the job sends of the jar's for u, as the type's comment
// says.
func (j *jobJar) cookies(u *url.URL) []*http.Cookie {
	var all []*http.Cookie
	if j.jar != nil {
		all = j.jar.Cookies(u)
	}
	if j.redirected {
		out := make([]*http.Cookie, 0, len(j.job)+len(all))
		for _, k := range slices.Sorted(maps.Keys(j.job)) {
			out = append(out, &http.Cookie{Name: k, Value: j.job[k]})
		}
		return append(out, all...)
	}
	if j.replace {
		return nil
	}
	out := all[:0]
	for _, c := range all {
		if _, ok := j.job[c.Name]; !ok {
			out = append(out, c)
		}
	}
	return out
}
