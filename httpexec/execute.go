package httpexec

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/reqfleet/reqfleet/tasks"
)

// maxRedirects is requests' Session.max_redirects.
const maxRedirects = 30

// drainLimit is how much of a body cut at the cap may be left to read and
// throw away so that its connection can be used again; with more left, or
// an unknown length, the connection is closed instead.
const drainLimit = 64 << 10

// ErrOutcomeCaps: an ExecConfig's caps on what an outcome holds are not
// valid.
var ErrOutcomeCaps = errors.New("exec config: outcome caps")

// minOutcome is the smallest MaxOutcome: room for a response's status,
// URL and a few headers.
const minOutcome = 4 << 10

// ExecConfig configures an Executor. The zero value of each field is its
// default.
type ExecConfig struct {
	MaxBody int64 // default 1 MiB; bodies past it are cut, Truncated=true
	// MaxHeaderBytes caps the header bytes kept of one response (each
	// redirect's too), counted as on the wire ("Name: value\r\n", the
	// reason phrase too): default 64 KiB. Headers past it are left out
	// whole, HeadersTruncated=true.
	MaxHeaderBytes int
	// MaxHistory caps the redirects kept in History (default 30, all
	// that are followed); later ones are left out, HistoryTruncated=true.
	MaxHistory int
	// MaxHistoryHeaderBytes caps the header bytes kept over all of
	// History (default 256 KiB); later redirects keep fewer or none.
	MaxHistoryHeaderBytes int
	// MaxOutcome caps a response outcome's JSON without its request
	// (default MaxBody + 1 MiB): past it, tasks.Response.FitOutcome cuts
	// the history, the headers then the body, and marks what it cut.
	MaxOutcome int64
	Timeout    tasks.Timeout    // default for jobs without timeout: 30s connect, 30s read
	JobTimeout time.Duration    // total cap on one job incl. redirects and body, default 5m; past it: exception type TotalTimeout ("Timeout")
	UserAgent  string           // default "reqfleet/1"; the job's headers may override
	Worker     string           // name recorded in outcomes
	Now        func() time.Time // injected clock, default time.Now
}

// validate fills in the defaults and refuses negative values.
func (c *ExecConfig) validate() error {
	if c.MaxBody < 0 || c.JobTimeout < 0 || c.Timeout.Connect < 0 || c.Timeout.Read < 0 {
		return errors.New("exec config: MaxBody, Timeout and JobTimeout must not be negative")
	}
	if c.MaxHeaderBytes < 0 || c.MaxHistory < 0 || c.MaxHistoryHeaderBytes < 0 || c.MaxOutcome < 0 {
		return fmt.Errorf("%w: MaxHeaderBytes, MaxHistory, MaxHistoryHeaderBytes and MaxOutcome must not be negative", ErrOutcomeCaps)
	}
	if c.MaxBody == 0 {
		c.MaxBody = 1 << 20
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = 64 << 10
	}
	if c.MaxHistory == 0 {
		c.MaxHistory = maxRedirects
	}
	if c.MaxHistoryHeaderBytes == 0 {
		c.MaxHistoryHeaderBytes = 256 << 10
	}
	if c.MaxOutcome == 0 {
		c.MaxOutcome = c.MaxBody + 1<<20
	}
	if c.MaxOutcome < minOutcome {
		return fmt.Errorf("%w: MaxOutcome must be at least %d bytes", ErrOutcomeCaps, minOutcome)
	}
	if c.Timeout == (tasks.Timeout{}) {
		c.Timeout = tasks.Timeout{Connect: 30 * time.Second, Read: 30 * time.Second}
	}
	if c.JobTimeout == 0 {
		c.JobTimeout = 5 * time.Minute
	}
	if c.UserAgent == "" {
		c.UserAgent = "reqfleet/1"
	}
	if !validHeaderValue(c.UserAgent) {
		return errors.New("exec config: UserAgent is not a valid header value")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Executor runs jobs on sessions. It holds no state of its own between
// jobs: one Executor serves all the worker's sessions at once.
type Executor struct {
	cfg ExecConfig
}

// NewExecutor validates cfg and makes an Executor.
func NewExecutor(cfg ExecConfig) (*Executor, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Executor{cfg: cfg}, nil
}

// Do runs one attempt of the task on the session and returns exactly one
// outcome, a *tasks.Response or a *tasks.Exception. It never panics on a
// job that tasks.DecodeJob accepted, and returns by ctx's deadline or
// cancellation. The error is not nil only when ctx ended (the worker is
// shutting down): the outcome is nil then, and the job goes back to the
// queue. Every other failure is an Exception outcome.
func (e *Executor) Do(ctx context.Context, s *Session, t tasks.Task) (tasks.Outcome, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	job := &t.Job
	if s == nil || s.Client == nil {
		return e.exception(t, tasks.ConnectionError, "worker error: the session has no HTTP client"), nil
	}
	timeout := e.cfg.Timeout
	if job.Timeout != nil {
		timeout = *job.Timeout
	}

	req, cookies, rerr := e.build(s, job)
	if rerr != nil {
		return e.exception(t, rerr.typ, OneLine(rerr.msg)), nil
	}

	a := &attempt{
		now:        e.cfg.Now,
		timeout:    timeout,
		jobTimeout: e.cfg.JobTimeout,
		deadline:   time.Now().Add(e.cfg.JobTimeout),
		follow:     job.FollowRedirects(),
		cfg:        &e.cfg,
	}
	// One context a job: the total deadline's, which the watchdog cancels
	// too (its cause then its own: jobCause).
	jctx, cancel := context.WithDeadlineCause(ctx, a.deadline, &totalTimeoutError{timeout: e.cfg.JobTimeout})
	defer cancel()
	a.dog.init(cancel)
	defer a.dog.stop()
	defer a.releaseConns()
	jctx = context.WithValue(jctx, attemptKey{}, a)
	jctx = httptrace.WithClientTrace(jctx, a.trace())
	req = req.WithContext(jctx)

	client := *s.Client // per job: its own CheckRedirect; the same Transport and jar
	client.CheckRedirect = a.checkRedirect
	if s.Client.Jar != nil || len(job.Cookies) > 0 {
		cookies.jar = s.Client.Jar
		client.Jar = cookies
		a.jar = cookies
	}
	a.referer = len(req.Header["Referer"]) > 0
	if _, ok := client.Transport.(*oneShot); !ok {
		next := client.Transport
		if next == nil {
			next = http.DefaultTransport
		}
		client.Transport = newOneShot(next)
	}

	resp, err := client.Do(req)
	if err != nil {
		a.dog.stop()
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		if cause := a.jobCause(jctx); cause != nil {
			err = cause // our own timeouts: the error is only their symptom
		}
		x := e.exception(t, classify(err), describe(job.Method, job.URL, err))
		x.ConnectionRetries = a.connRetries
		x.SetRetryKind(retryKind(err, x.Exception.Type))
		return x, nil
	}
	defer resp.Body.Close()
	a.dog.progress()

	wire := &wireReader{r: resp.Body, progress: a.dog.progress}
	b, truncated, err := readLimited(contentDecoder(wire, resp.Header.Get("Content-Encoding")), e.cfg.MaxBody, resp.ContentLength)
	if err != nil {
		a.dog.stop()
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		if cause := a.jobCause(jctx); cause != nil {
			err = cause
		}
		x := e.exception(t, classifyBody(err), describe(job.Method, resp.Request.URL.Redacted(), bodyErr(err)))
		x.ConnectionRetries = a.connRetries
		x.SetRetryKind(tasks.KindNone) // requests reads the body outside urllib3's retries
		return x, nil
	}
	if rest := resp.ContentLength - wire.n; truncated && resp.ContentLength >= 0 && rest <= drainLimit {
		// Read a known, modest rest so the connection can be used again;
		// a longer or endless one is cut off by closing the connection.
		_, _ = io.CopyN(io.Discard, resp.Body, rest)
	}
	a.dog.stop()

	text, enc := encodeBody(b, truncated)
	keepTransferEncoding(resp)
	why, headers, headersCut := capHeaders(resp, e.cfg.MaxHeaderBytes)
	out := &tasks.Response{
		ID:               job.ID,
		Batch:            t.Batch,
		Request:          t.Job,
		StatusCode:       resp.StatusCode,
		Reason:           why,
		Headers:          headers,
		HeadersTruncated: headersCut,
		URL:              resp.Request.URL.Redacted(),
		History:          a.history,
		HistoryTruncated: a.historyCut,
		Body:             text,
		BodyEncoding:     enc,
		Truncated:        truncated,
		ElapsedMS:        float64(a.hopEnd.Sub(a.hopStart)) / float64(time.Millisecond),
		Attempt:          t.Attempt,
		Worker:           e.cfg.Worker,
		FinishedAt:       e.cfg.Now(),

		ConnectionRetries: a.connRetries,
	}
	out.FitOutcome(e.cfg.MaxOutcome)
	return out, nil
}

// bodyErr names a failed body read for the message.
func bodyErr(err error) error {
	var de *bodyDecodeError
	if errors.As(err, &de) || errors.As(err, new(*readTimeoutError)) || errors.As(err, new(*totalTimeoutError)) {
		return err
	}
	return fmt.Errorf("connection broken while reading the body: %w", err)
}

// maxMessage caps an exception's message: a hostile redirect's URL (up to
// the header block) may be in it.
const maxMessage = 8 << 10

func (e *Executor) exception(t tasks.Task, typ, msg string) *tasks.Exception {
	if len(msg) > maxMessage {
		msg = strings.ToValidUTF8(msg[:maxMessage], "") + "... (cut)"
	}
	return &tasks.Exception{
		ID:         t.Job.ID,
		Batch:      t.Batch,
		Request:    t.Job,
		Exception:  tasks.ExceptionInfo{Type: typ, Message: msg},
		Attempt:    t.Attempt,
		Worker:     e.cfg.Worker,
		FinishedAt: e.cfg.Now(),
	}
}

// attempt is the state of one Do. It travels in the request's context, so
// the session's dialer (connect timeout) and oneShot (hop times) find it.
type attempt struct {
	now        func() time.Time
	timeout    tasks.Timeout
	jobTimeout time.Duration
	deadline   time.Time // the job's total deadline
	follow     bool
	dog        watchdog
	cfg        *ExecConfig // the caps on what the outcome keeps
	referer    bool        // the job's (or session's) headers set a Referer
	jar        *jobJar     // the job's view of the session's jar; may be nil

	// Set in the goroutine that called client.Do (CheckRedirect and
	// RoundTrip run there).
	history          []tasks.Redirect
	historyCut       bool            // redirects left out of history (MaxHistory)
	historyHeaders   int             // header bytes kept in history so far
	authStripped     bool            // a redirect left the origin: no Authorization from then on
	connRetries      int             // requests sent again after a reused connection closed (oneShot)
	conns            []*progressConn // the connections that report to dog
	hopStart, hopEnd time.Time
	hop              hop // the hop under way, as the trace reports it (oneShot)
}

type attemptKey struct{}

func attemptFrom(ctx context.Context) *attempt {
	a, _ := ctx.Value(attemptKey{}).(*attempt)
	return a
}

// trace moves the watchdog through the phases of each hop: from asking for
// a connection to having one is bounded by the connect timeout (dial,
// proxy CONNECT, TLS handshake); from then on by the read timeout, reset
// whenever the request is written or bytes arrive (the connection's
// progressConn reports them, the status line and headers included).
func (a *attempt) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn: func(hostPort string) {
			if d := a.timeout.Connect; d > 0 {
				a.dog.arm(d, &connectTimeoutError{addr: hostPort, timeout: d})
			} else {
				a.dog.disarm()
			}
		},
		GotConn: func(info httptrace.GotConnInfo) {
			if c := progressConnOf(info.Conn); c != nil {
				c.dog.Store(&a.dog) // bytes of the headers are progress
				a.conns = append(a.conns, c)
			}
			a.armRead()
			a.hop.gotConn(info)
		},
		WroteRequest: func(httptrace.WroteRequestInfo) { a.armRead() },
		GotFirstResponseByte: func() {
			a.dog.progress()
			a.hop.gotFirstByte()
		},
	}
}

// releaseConns unhooks the job's connections from its watchdog, so that
// an idle connection does not keep the job's attempt (its history) alive.
func (a *attempt) releaseConns() {
	for _, c := range a.conns {
		c.dog.CompareAndSwap(&a.dog, nil)
	}
	a.conns = nil
}

func (a *attempt) armRead() {
	if d := a.timeout.Read; d > 0 {
		a.dog.arm(d, &readTimeoutError{timeout: d})
	} else {
		a.dog.disarm()
	}
}

// checkRedirect is the client's CheckRedirect for one job: it records the
// history, stops as requests does, and makes the next hop's request as
// requests' resolve_redirects does (the target, method, headers and
// cookies), where Go's client differs.
func (a *attempt) checkRedirect(req *http.Request, via []*http.Request) error {
	if !a.follow {
		return http.ErrUseLastResponse
	}
	location := ""
	status := 0
	if resp := req.Response; resp != nil {
		location, status = resp.Header.Get("Location"), resp.StatusCode
		keepTransferEncoding(resp)
		if len(a.history) < a.cfg.MaxHistory {
			budget := min(a.cfg.MaxHeaderBytes, a.cfg.MaxHistoryHeaderBytes-a.historyHeaders)
			why, headers, cut := capHeaders(resp, budget)
			a.historyHeaders += len(why) + headerBytes(headers)
			a.history = append(a.history, tasks.Redirect{
				StatusCode:       resp.StatusCode,
				Reason:           why,
				URL:              resp.Request.URL.Redacted(),
				Headers:          headers,
				HeadersTruncated: cut,
			})
		} else {
			a.historyCut = true
		}
		// The client keeps every hop's request in via, and each request
		// its Response: without this, all the hops' headers (up to
		// MaxResponseHeaderBytes each) stay in memory until the job ends.
		// The client reads nothing more of them past this point than the
		// body it closes.
		resp.Header = nil
	}
	if len(via) > maxRedirects {
		return reqErr(tasks.TooManyRedirects, "Exceeded %d redirects.", maxRedirects)
	}
	if len(via) > 0 && status != 0 {
		a.rebuild(req, via[len(via)-1], location, status)
	}
	if s := req.URL.Scheme; s != "http" && s != "https" {
		return reqErr(tasks.InvalidSchema, "No connection adapters were found for %s", pyRepr(req.URL.Redacted()))
	}
	return nil
}

// rebuild makes Go's next hop the one requests sends after prev's answer
// (status, Location): the target requoted, with prev's fragment when it
// has none (resolve_redirects); the method (rebuild_method); no
// Content-Type without a body; Authorization gone once a hop leaves the
// origin (rebuild_auth, should_strip_auth); no Referer unless the job set
// one; and no Cookie header: the cookies are the jar's and the job's
// (prepare_cookies), which jobJar gives for every hop after the first.
func (a *attempt) rebuild(req, prev *http.Request, location string, status int) {
	if u, ok := redirectTarget(prev.URL, location); ok {
		req.URL = u
	}
	method := prev.Method
	switch {
	case status == http.StatusSeeOther && method != http.MethodHead,
		status == http.StatusFound && method != http.MethodHead,
		status == http.StatusMovedPermanently && method == http.MethodPost:
		method = http.MethodGet
	}
	req.Method = method
	if status != http.StatusTemporaryRedirect && status != http.StatusPermanentRedirect {
		// requests purges Content-Length, Content-Type and
		// Transfer-Encoding with the body; Go's client left the body.
		delete(req.Header, "Content-Type")
		delete(req.Header, "Transfer-Encoding")
		req.Body, req.GetBody, req.ContentLength = nil, nil, 0
	}
	if !a.authStripped && shouldStripAuth(prev.URL, req.URL) {
		a.authStripped = true
	}
	if a.authStripped {
		delete(req.Header, "Authorization")
	}
	if !a.referer {
		delete(req.Header, "Referer")
	}
	delete(req.Header, "Cookie")
	if a.jar != nil {
		a.jar.redirected = true
	}
}

// redirectTarget is the URL requests' resolve_redirects goes to from prev
// for a Location: scheme-relative taken in prev's scheme, prev's fragment
// carried when the Location has none, requoted (requote_uri) and resolved
// against prev. ok is false when it does not parse (Go's client's own
// target is kept then).
func redirectTarget(prev *url.URL, location string) (*url.URL, bool) {
	if location == "" {
		return nil, false
	}
	if strings.HasPrefix(location, "//") {
		location = prev.Scheme + ":" + location
	}
	if i := strings.IndexByte(location, '#'); (i < 0 || i == len(location)-1) && prev.Fragment != "" {
		// No fragment, or an empty one: urlparse sees none either way.
		location = strings.TrimSuffix(location, "#") + "#" + prev.EscapedFragment()
	}
	u, err := url.Parse(requoteURI(location))
	if err != nil {
		return nil, false
	}
	if u.Host == "" {
		u = prev.ResolveReference(u)
	}
	return u, true
}

// shouldStripAuth is requests' Session.should_strip_auth: a hop to another
// host, or another scheme or port, but for http to https on the default
// ports.
func shouldStripAuth(old, cur *url.URL) bool {
	if !strings.EqualFold(old.Hostname(), cur.Hostname()) {
		return true
	}
	op, np := pyPort(old), pyPort(cur)
	if old.Scheme == "http" && (op == 80 || op == 0) && cur.Scheme == "https" && (np == 443 || np == 0) {
		return false
	}
	def := map[string]int{"http": 80, "https": 443}[old.Scheme]
	changedPort := op != np
	changedScheme := old.Scheme != cur.Scheme
	if !changedScheme && (op == def || op == 0) && (np == def || np == 0) {
		return false
	}
	return changedPort || changedScheme
}

// keepTransferEncoding puts back the Transfer-Encoding header that Go's
// Transport takes out of resp.Header into resp.TransferEncoding: requests
// (http.client) keeps every header as sent.
func keepTransferEncoding(resp *http.Response) {
	if len(resp.TransferEncoding) > 0 && resp.Header != nil && len(resp.Header["Transfer-Encoding"]) == 0 {
		resp.Header["Transfer-Encoding"] = []string{strings.Join(resp.TransferEncoding, ", ")}
	}
}

// pyPort is urlparse's port: 0 for none.
func pyPort(u *url.URL) int {
	n, _ := strconv.Atoi(u.Port())
	return n
}

// watchdog cancels the job's context when the current phase's time runs
// out, and keeps the phase's cause (fired). Progress only moves the
// deadline; the timer checks it when it fires and waits on if it moved.
type watchdog struct {
	mu       sync.Mutex
	timer    *time.Timer
	cancel   context.CancelFunc
	cause    error
	fired    error // the cause of the phase whose time ran out
	d        time.Duration
	deadline time.Time
	armed    bool
	stopped  bool
}

func (w *watchdog) init(cancel context.CancelFunc) { w.cancel = cancel }

// firedCause is the cause of the phase whose time ran out, nil if none.
func (w *watchdog) firedCause() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fired
}

// jobCause is why the job's context ctx ended (nil if it has not): the
// total deadline's cause, the parent's, or, when the watchdog cancelled it
// first, the cause of the phase whose time ran out.
func (a *attempt) jobCause(ctx context.Context) error {
	cause := context.Cause(ctx)
	if cause == context.Canceled { // the watchdog's cancel, or the parent's
		if f := a.dog.firedCause(); f != nil {
			return f
		}
	}
	return cause
}

// arm starts a phase: cancel with cause unless there is progress every d.
func (w *watchdog) arm(d time.Duration, cause error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	w.d, w.cause, w.armed = d, cause, true
	w.deadline = time.Now().Add(d)
	if w.timer == nil {
		w.timer = time.AfterFunc(d, w.fire)
	} else {
		w.timer.Reset(d)
	}
}

// disarm starts a phase without a time limit.
func (w *watchdog) disarm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = false
	if w.timer != nil {
		w.timer.Stop()
	}
}

// progress: bytes came, the current phase starts its wait again.
func (w *watchdog) progress() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.armed {
		w.deadline = time.Now().Add(w.d)
	}
}

// stop ends the watchdog for good.
func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped, w.armed = true, false
	if w.timer != nil {
		w.timer.Stop()
	}
}

func (w *watchdog) fire() {
	w.mu.Lock()
	if !w.armed {
		w.mu.Unlock()
		return
	}
	if left := time.Until(w.deadline); left > 0 {
		w.timer.Reset(left)
		w.mu.Unlock()
		return
	}
	w.fired, w.armed = w.cause, false
	w.mu.Unlock()
	w.cancel()
}

// build makes the job's request as requests prepares it: the URL with the
// params, the body from data or json, the headers of the session then of
// the job, auth and cookies. A job requests would refuse to send is a
// *requestError. cookies is the jar to use for the job when it is not the
// session's own.
func (e *Executor) build(s *Session, job *tasks.Job) (req *http.Request, cookies *jobJar, rerr *requestError) {
	u, rerr := parseJobURL(job.URL)
	if rerr != nil {
		return nil, nil, rerr
	}
	if p := job.Params.Encode(); p != "" {
		q := u.RawQuery
		if q != "" {
			q += "&"
		}
		u.RawQuery = requote(q + p)
		u.ForceQuery = false
	}

	var body []byte
	contentType := ""
	if d := job.Data.Encode(); d != "" { // data wins over json, as in requests; empty data is no data
		body = []byte(d)
		if job.Data.Text == nil {
			contentType = "application/x-www-form-urlencoded"
		}
	} else if len(job.JSON) > 0 {
		body = job.JSON
		if py, err := pyJSON(job.JSON); err == nil {
			body = py
		}
		contentType = "application/json"
	}

	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(job.Method, "", r)
	if err != nil {
		return nil, nil, reqErr(tasks.InvalidURL, "Invalid method %s", pyRepr(job.Method))
	}
	if body == nil && job.Method != http.MethodGet && job.Method != http.MethodHead {
		// requests' prepare_content_length: "Content-Length: 0" for a
		// bodyless request but a GET or HEAD; Go writes one for an
		// identity request of length 0 with a body that is not nil.
		req.Body, req.TransferEncoding = http.NoBody, []string{"identity"}
	}
	req.URL = u
	req.Host = u.Host
	if u.Port() == "" {
		req.Host = strings.TrimSuffix(u.Host, ":")
	}

	h := make(http.Header, 4+len(s.Header)+len(job.Headers))
	h["User-Agent"] = []string{e.cfg.UserAgent}
	h["Accept-Encoding"] = []string{"gzip, deflate"}
	h["Accept"] = []string{"*/*"}
	for k, vv := range s.Header {
		k = http.CanonicalHeaderKey(k)
		if len(vv) == 0 { // as a session header set to None in requests: not sent
			delete(h, k)
			if k == "User-Agent" {
				h[k] = []string{""} // Go's own User-Agent stays out too
			}
			continue
		}
		h[k] = slices.Clip(vv) // an Add to it cannot write into the session's
	}
	for k, v := range job.Headers {
		h[http.CanonicalHeaderKey(k)] = []string{v}
	}
	for _, k := range job.RemoveHeaders { // null in the job: not sent, as None in requests
		k = http.CanonicalHeaderKey(k)
		delete(h, k)
		if k == "User-Agent" {
			h[k] = []string{""} // Go's own User-Agent stays out too
		}
	}
	if contentType != "" && len(h["Content-Type"]) == 0 {
		h["Content-Type"] = []string{contentType}
	}
	auth := job.Auth
	if auth == nil {
		auth = s.Auth
	}
	if auth != nil {
		h["Authorization"] = []string{basicAuth(auth.User, auth.Password)}
	} else if u.User != nil {
		p, _ := u.User.Password()
		h["Authorization"] = []string{basicAuth(u.User.Username(), p)}
	}
	cookies = &jobJar{job: job.Cookies}
	if _, ok := h["Cookie"]; ok {
		// An explicit Cookie header is sent as it is, without the jar's
		// cookies or the job's, as requests does (on the first hop).
		cookies.replace = true
	} else if len(job.Cookies) > 0 {
		names := make([]string, 0, len(job.Cookies))
		for k := range job.Cookies {
			names = append(names, k)
		}
		slices.Sort(names)
		var b strings.Builder
		for i, k := range names {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(job.Cookies[k])
		}
		h["Cookie"] = []string{b.String()}
	}
	if host, ok := h["Host"]; ok {
		if len(host) > 0 {
			req.Host = host[0]
		}
		delete(h, "Host")
	}
	if rerr := checkHeaders(h); rerr != nil {
		return nil, nil, rerr
	}
	for k, vv := range h {
		for i, v := range vv {
			if l := latin1Value(v); l != v {
				vv = slices.Clone(vv) // the session's own slice stays as it is
				vv[i] = l
				h[k] = vv
			}
		}
	}
	req.Header = h
	return req, cookies, nil
}

// basicAuth is requests' HTTPBasicAuth header: user and password in
// latin-1 when they fit in it, else in UTF-8.
func basicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString(latin1(user+":"+password))
}

func latin1(s string) []byte {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return []byte(s)
		}
		b = append(b, byte(r))
	}
	return b
}

// latin1Value is a header value as requests sends it: in latin-1
// (http.client's putheader) when every character fits, as the job
// decoder makes sure a job's do; else (a session's header) as it is.
func latin1Value(v string) string {
	ascii := true
	for i := 0; i < len(v); i++ {
		if v[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii || !utf8.ValidString(v) || strings.IndexFunc(v, func(r rune) bool { return r > 0xff }) >= 0 {
		return v
	}
	return string(latin1(v))
}

// ParseJobURL parses a job's URL as the executor does before it sends
// anything: as requests prepares it, with what requests would quote
// quoted. An error is a URL the job would fail on (its message holds no
// password).
func ParseJobURL(raw string) (*url.URL, error) {
	u, rerr := parseJobURL(raw)
	if rerr != nil {
		return nil, rerr
	}
	return u, nil
}

// parseJobURL checks and parses the job's URL as requests' prepare_url and
// get_adapter do, with requests' exception types and messages. It never
// touches the network.
func parseJobURL(raw string) (*url.URL, *requestError) {
	shown := func() string { return pyRepr(redactRawURL(raw)) } // only for errors
	if strings.Contains(raw, ":") && !hasPrefixFold(raw, "http") {
		// requests leaves such a URL alone, and no adapter takes it.
		return nil, reqErr(tasks.InvalidSchema, "No connection adapters were found for %s", shown())
	}
	colon := strings.IndexByte(raw, ':')
	if colon < 0 || !validScheme(raw[:colon]) {
		return nil, reqErr(tasks.MissingSchema, "Invalid URL %s: No scheme supplied. Perhaps you meant %s?",
			shown(), "https://"+redactRawURL(raw))
	}
	scheme, rest := strings.ToLower(raw[:colon]), raw[colon+1:]
	if !strings.HasPrefix(rest, "//") {
		return nil, reqErr(tasks.InvalidURL, "Invalid URL %s: No host supplied", shown())
	}
	rest = rest[2:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	hostport := authority[strings.LastIndexByte(authority, '@')+1:]
	if hostport == "" || hostport[0] == ':' {
		return nil, reqErr(tasks.InvalidURL, "Invalid URL %s: No host supplied", shown())
	}
	if scheme != "http" && scheme != "https" {
		return nil, reqErr(tasks.InvalidSchema, "No connection adapters were found for %s", shown())
	}
	u, err := url.Parse(scheme + "://" + authority + normalizeTail(tail))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole URL, password and all
		}
		return nil, reqErr(tasks.InvalidURL, "Invalid URL %s: %v", shown(), err)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n > 65535 {
			return nil, reqErr(tasks.InvalidURL, "Invalid URL %s: port %s is out of range", shown(), p)
		}
	}
	// As urllib3's parse_url and requests' prepare_url: no path is "/",
	// a bare trailing "?" is no query.
	if u.Path == "" && u.RawPath == "" && u.Opaque == "" {
		u.Path = "/"
	}
	if u.RawQuery == "" {
		u.ForceQuery = false
	}
	host := u.Hostname()
	switch {
	case host == "":
		return nil, reqErr(tasks.InvalidURL, "Invalid URL %s: No host supplied", shown())
	case host[0] == '*' || host[0] == '.':
		return nil, reqErr(tasks.InvalidURL, "URL has an invalid label.")
	}
	return u, nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// validScheme: a letter, then letters, digits, '+', '-' or '.'.
func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// requote percent-encodes what requests' requote_uri would: every byte but
// the unreserved and reserved characters, and '%' that does not start an
// escape. What is already escaped is left alone.
func requote(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !requoteKeep(s, i) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		if c := s[i]; requoteKeep(s, i) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

func requoteKeep(s string, i int) bool {
	c := s[i]
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	case c == '%':
		return i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2])
	}
	return strings.IndexByte("-._~!#$&'()*+,/:;=?@[]", c) >= 0
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// checkHeaders refuses what requests refuses (a value with leading white
// space) and what Go cannot send (control characters). The message shows
// the value, as requests' does, except for headers that carry credentials.
func checkHeaders(h http.Header) *requestError {
	for k, vv := range h {
		if !tasks.IsToken(k) {
			return reqErr(tasks.InvalidHeader, "Invalid leading whitespace, reserved character(s), or return character(s) in header name: %s", pyRepr(k))
		}
		for _, v := range vv {
			if validHeaderValue(v) {
				continue
			}
			shown := pyRepr(v)
			if tasks.IsSecretHeader(k) {
				shown = "[REDACTED]"
			}
			return reqErr(tasks.InvalidHeader, "Invalid leading whitespace, reserved character(s), or return character(s) in header value of %s: %s", k, shown)
		}
	}
	return nil
}

// validHeaderValue: no leading white space (as Python's str.isspace sees
// it) and no control character but tab.
func validHeaderValue(v string) bool {
	if r, _ := utf8.DecodeRuneInString(v); v != "" && (unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// Now is the Executor's clock (ExecConfig.Now).
func (e *Executor) Now() time.Time { return e.cfg.Now() }

// normalizeTail is a URL's path, query and fragment as requests prepares
// them: dot segments removed from the path (urllib3's parse_url), what
// must be quoted quoted, escapes in upper case, and those of unreserved
// characters decoded (requote_uri).
func normalizeTail(tail string) string {
	end := strings.IndexAny(tail, "?#")
	if end < 0 {
		end = len(tail)
	}
	if end > 0 {
		tail = removeDotSegments(tail[:end]) + tail[end:]
	}
	q := []byte(requote(tail)) // every '%' now starts an escape
	for i := 0; i+2 < len(q); i++ {
		if q[i] == '%' {
			q[i+1], q[i+2] = upperHex(q[i+1]), upperHex(q[i+2])
		}
	}
	if u, ok := unquoteUnreserved(string(q)); ok {
		return u
	}
	return string(q)
}

func upperHex(c byte) byte {
	if c >= 'a' && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// removeDotSegments is urllib3's _remove_path_dot_segments (RFC 3986
// section 5.2.4).
func removeDotSegments(path string) string {
	segments := strings.Split(path, "/")
	out := make([]string, 0, len(segments)+2)
	for _, seg := range segments {
		switch {
		case seg == ".":
		case seg != "..":
			out = append(out, seg)
		case len(out) > 0:
			out = out[:len(out)-1]
		}
	}
	if strings.HasPrefix(path, "/") && (len(out) == 0 || out[0] != "") {
		out = append([]string{""}, out...)
	}
	if strings.HasSuffix(path, "/.") || strings.HasSuffix(path, "/..") {
		out = append(out, "")
	}
	return strings.Join(out, "/")
}

// requoteURI is requests' requote_uri, as it treats a redirect's Location:
// escapes of unreserved characters decoded (unquote_unreserved), then
// every byte quoted but the unreserved, the reserved and '%'; when an
// escape is not one (%zz), every '%' is quoted too.
func requoteURI(s string) string {
	if u, ok := unquoteUnreserved(s); ok {
		return pyQuote(u, "!#$%&'()*+,/:;=?@[]~")
	}
	return pyQuote(s, "!#$&'()*+,/:;=?@[]~")
}

// unquoteUnreserved is requests' unquote_unreserved; ok is false where it
// raises InvalidURL (two letters or digits after a '%' that are not hex).
func unquoteUnreserved(s string) (string, bool) {
	parts := strings.Split(s, "%")
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(parts[0])
	for _, p := range parts[1:] {
		if len(p) >= 2 && isASCIIAlnum(p[0]) && isASCIIAlnum(p[1]) {
			if !isHex(p[0]) || !isHex(p[1]) {
				return "", false
			}
			c := unhex(p[0])<<4 | unhex(p[1])
			if isUnreserved(c) {
				b.WriteByte(c)
				b.WriteString(p[2:])
				continue
			}
		}
		b.WriteByte('%')
		b.WriteString(p)
	}
	return b.String(), true
}

// pyQuote is Python's urllib.parse.quote of s's UTF-8 bytes with safe.
func pyQuote(s, safe string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || strings.IndexByte(safe, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return isASCIIAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~'
}

func isASCIIAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
