package tasks

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A job's automatic retries, with urllib3's Retry names and meanings
// (urllib3 2.x, util/retry.py), so that a Python user's policy carries
// over: the job's "retries" is an integer (Retry(total=N), as requests'
// HTTPAdapter(max_retries=N) takes it) or an object of Retry's keyword
// arguments. The worker decides after each try (Retry.Next) whether the
// job is tried again and when; the try waits off the session, as a
// scheduled task (package worker). Retries retry the whole job, from its
// first URL (requests' Retry works per hop of a redirect chain).

// Caps of a retry policy.
const (
	MaxRetries        = 50                // a count's largest value, and the most retries of a job whatever its policy
	MaxRetryBackoff   = 24 * time.Hour    // backoff_factor, backoff_max and backoff_jitter at most this, in seconds
	MaxTryMessage     = 200               // bytes of an exception's message kept in a try of the history
	DefaultBackoffMax = 120 * time.Second // urllib3's Retry.DEFAULT_BACKOFF_MAX
)

// urllib3's defaults and sets.
var (
	// DefaultAllowedMethods is urllib3's Retry.DEFAULT_ALLOWED_METHODS: the
	// methods retried on read errors and statuses (not POST, PATCH).
	DefaultAllowedMethods = []string{"DELETE", "GET", "HEAD", "OPTIONS", "PUT", "TRACE"}
	// RetryAfterStatusCodes is urllib3's Retry.RETRY_AFTER_STATUS_CODES.
	RetryAfterStatusCodes = []int{413, 429, 503}
	redirectStatuses      = []int{301, 302, 303, 307, 308}
)

// DefaultRetryAfterMax is urllib3's Retry.DEFAULT_RETRY_AFTER_MAX, in seconds.
const DefaultRetryAfterMax = 21600

// Count is one of Retry's counters: a number, urllib3's None (no limit of
// its own: !Set) or False (Off: never retried for this cause).
type Count struct {
	N   int
	Set bool // a number (N) or Off; else None
	Off bool // False
}

func num(n int) Count { return Count{N: n, Set: true} }

// Retry is a job's retry policy: urllib3's Retry. Only the fields that
// mean something under requests are taken; urllib3's defaults apply to the
// others. Exceptions is reqfleet's own: when not nil, only exceptions of
// these types are retried (the CLI's --retry-on).
type Retry struct {
	Total, Connect, Read, Redirect, Status, Other Count
	StatusForcelist                               []int
	AllowedMethods                                []string // nil: DefaultAllowedMethods
	AnyMethod                                     bool     // allowed_methods None (or empty): every method
	BackoffFactor, BackoffMax, BackoffJitter      float64  // seconds
	RespectRetryAfter                             bool     // respect_retry_after_header
	RetryAfterMax                                 int      // seconds
	Exceptions                                    []string // nil: every kind urllib3 retries

	int bool // given as an integer: written back so
}

// NewRetry is urllib3's Retry(total) with its defaults.
func NewRetry(total int) *Retry {
	return &Retry{Total: num(total), BackoffMax: DefaultBackoffMax.Seconds(), RespectRetryAfter: true, RetryAfterMax: DefaultRetryAfterMax, int: true}
}

// retryFields are the keys a retries object takes.
var retryFields = []string{"allowed_methods", "backoff_factor", "backoff_jitter", "backoff_max", "connect", "exceptions",
	"other", "read", "redirect", "respect_retry_after_header", "retry_after_max", "status", "status_forcelist", "total"}

// retryRefused are urllib3 Retry's arguments that reqfleet does not take,
// with why.
var retryRefused = map[string]string{
	"raise_on_status":            "reqfleet keeps the last response when the status retries run out (raise_on_status=False)",
	"raise_on_redirect":          "redirects are the job's allow_redirects, as requests follows them itself",
	"remove_headers_on_redirect": "redirects are the job's allow_redirects, as requests follows them itself",
	"history":                    "the history is the worker's",
}

func decodeRetries(raw json.RawMessage) (*Retry, error) {
	const f = "retries"
	switch c := firstByte(raw); {
	case c == '{':
	case c == '-' || c >= '0' && c <= '9':
		n, err := retryCount(f, raw)
		if err != nil {
			return nil, err
		}
		return NewRetry(n), nil
	default:
		return nil, fieldErr(f, ErrType, "must be a number of retries or an object of urllib3's Retry arguments (%s)", strings.Join(retryFields, ", "))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fieldErr(f, ErrType, "must be an object")
	}
	r := NewRetry(10) // urllib3's Retry() default total
	r.int = false
	for _, k := range sortedKeys(m) {
		v := m[k]
		name := f + "." + k
		null := firstByte(v) == 'n'
		var err error
		switch k {
		case "total", "connect", "read", "redirect", "status", "other":
			var c Count
			c, err = decodeCount(name, v, k != "status" && k != "other")
			if err == nil {
				*r.count(k) = c
			}
		case "status_forcelist":
			r.StatusForcelist, err = decodeStatuses(name, v)
		case "allowed_methods":
			r.AllowedMethods, r.AnyMethod, err = decodeMethods(name, v)
		case "backoff_factor":
			r.BackoffFactor, err = retrySeconds(name, v, 0)
		case "backoff_max":
			r.BackoffMax, err = retrySeconds(name, v, DefaultBackoffMax.Seconds())
		case "backoff_jitter":
			r.BackoffJitter, err = retrySeconds(name, v, 0)
		case "respect_retry_after_header":
			r.RespectRetryAfter = true
			if !null && json.Unmarshal(v, &r.RespectRetryAfter) != nil {
				err = fieldErr(name, ErrType, "must be true or false")
			}
		case "retry_after_max":
			r.RetryAfterMax = DefaultRetryAfterMax
			if !null {
				var s float64
				if s, err = retrySeconds(name, v, 0); err == nil {
					if s != math.Trunc(s) {
						err = fieldErr(name, ErrValue, "must be whole seconds")
					}
					r.RetryAfterMax = int(s)
				}
			}
		case "exceptions":
			r.Exceptions, err = decodeExceptionTypes(name, v)
		default:
			if why, ok := retryRefused[k]; ok {
				return nil, fieldErr(name, ErrUnknownField, "%s", why)
			}
			return nil, fieldErr(name, ErrUnknownField, "retries takes %s", strings.Join(retryFields, ", "))
		}
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *Retry) count(k string) *Count {
	switch k {
	case "total":
		return &r.Total
	case "connect":
		return &r.Connect
	case "read":
		return &r.Read
	case "redirect":
		return &r.Redirect
	case "status":
		return &r.Status
	}
	return &r.Other
}

// retryCount reads a whole number of retries, 0 to MaxRetries.
func retryCount(field string, raw json.RawMessage) (int, error) {
	s := string(bytes.TrimSpace(raw))
	n, err := strconv.Atoi(s)
	if err != nil {
		if f, ferr := strconv.ParseFloat(s, 64); ferr == nil && f == math.Trunc(f) && f >= 0 && f <= MaxRetries {
			return int(f), nil // 3.0
		}
		if _, ferr := strconv.ParseFloat(s, 64); ferr != nil && !errors.Is(ferr, strconv.ErrRange) {
			return 0, fieldErr(field, ErrType, "must be a number")
		}
		return 0, fieldErr(field, ErrValue, "must be a whole number from 0 to %d", MaxRetries)
	}
	if n < 0 || n > MaxRetries {
		return 0, fieldErr(field, ErrValue, "must be a whole number from 0 to %d", MaxRetries)
	}
	return n, nil
}

// decodeCount reads a counter: a number, null (None) or, when canOff,
// false.
func decodeCount(field string, raw json.RawMessage, canOff bool) (Count, error) {
	switch c := firstByte(raw); {
	case c == 'n':
		return Count{}, nil
	case c == 'f' && canOff && string(bytes.TrimSpace(raw)) == "false":
		return Count{Set: true, Off: true}, nil
	case c == 't' || c == 'f':
		if canOff {
			return Count{}, fieldErr(field, ErrType, "must be a number, false or null")
		}
		return Count{}, fieldErr(field, ErrType, "must be a number or null")
	}
	n, err := retryCount(field, raw)
	return num(n), err
}

func decodeStatuses(field string, raw json.RawMessage) ([]int, error) {
	if firstByte(raw) == 'n' {
		return nil, nil
	}
	var list []json.RawMessage
	if firstByte(raw) != '[' || json.Unmarshal(raw, &list) != nil {
		return nil, fieldErr(field, ErrType, "must be a list of HTTP status codes")
	}
	var out []int
	for _, v := range list {
		n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
		if err != nil || n < 100 || n > 999 {
			return nil, fieldErr(field, ErrValue, "%s is not an HTTP status code (100 to 999)", bytes.TrimSpace(v))
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil // [] is none, as urllib3's `status_forcelist or set()`
}

func decodeMethods(field string, raw json.RawMessage) ([]string, bool, error) {
	if firstByte(raw) == 'n' {
		return nil, true, nil // None: every method
	}
	var list []json.RawMessage
	if firstByte(raw) != '[' || json.Unmarshal(raw, &list) != nil {
		return nil, false, fieldErr(field, ErrType, "must be a list of methods, or null for every method")
	}
	out := []string{}
	for _, v := range list {
		s, err := decodeString(field, v)
		if err != nil {
			return nil, false, err
		}
		if !IsToken(s) || s != strings.ToUpper(s) {
			return nil, false, fieldErr(field, ErrValue, "%q: methods in upper case, as urllib3 compares them (GET, POST, ...)", s)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, true, nil // empty: every method, as urllib3's `if self.allowed_methods and ...`
	}
	slices.Sort(out) // a set, as urllib3's
	if slices.Equal(out, DefaultAllowedMethods) {
		return nil, false, nil
	}
	return out, false, nil
}

// retrySeconds reads a number of seconds from 0 to MaxRetryBackoff; null
// is def.
func retrySeconds(field string, raw json.RawMessage, def float64) (float64, error) {
	switch c := firstByte(raw); {
	case c == 'n':
		return def, nil
	case c != '-' && (c < '0' || c > '9'):
		return 0, fieldErr(field, ErrType, "must be a number of seconds")
	}
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fieldErr(field, ErrType, "must be a number of seconds")
	}
	if math.IsNaN(f) || f < 0 || f > MaxRetryBackoff.Seconds() {
		return 0, fieldErr(field, ErrValue, "seconds must be from 0 to %v", MaxRetryBackoff.Seconds())
	}
	return f, nil
}

// retryableTypes are the exception types a policy's exceptions may name.
var retryableTypes = []string{ConnectionError, ConnectTimeout, ProxyError, ReadTimeout, SSLError}

func decodeExceptionTypes(field string, raw json.RawMessage) ([]string, error) {
	if firstByte(raw) == 'n' {
		return nil, nil
	}
	var list []json.RawMessage
	if firstByte(raw) != '[' || json.Unmarshal(raw, &list) != nil {
		return nil, fieldErr(field, ErrType, "must be a list of exception types")
	}
	out := []string{}
	for _, v := range list {
		s, err := decodeString(field, v)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(retryableTypes, s) {
			return nil, fieldErr(field, ErrValue, "%q: the exceptions retried are %s", s, strings.Join(retryableTypes, ", "))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// MarshalJSON writes the policy as decodeRetries reads it back: an integer
// when given as one, else an object of every argument.
func (r Retry) MarshalJSON() ([]byte, error) {
	if r.int {
		return json.Marshal(r.Total.N)
	}
	var b bytes.Buffer
	b.WriteByte('{')
	sep := func(k string) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + k + `":`)
	}
	for _, k := range []string{"total", "connect", "read", "redirect", "status", "other"} {
		c := *r.count(k)
		sep(k)
		switch {
		case !c.Set:
			b.WriteString("null")
		case c.Off:
			b.WriteString("false")
		default:
			b.WriteString(strconv.Itoa(c.N))
		}
	}
	put := func(k string, v any) error {
		sep(k)
		enc, err := json.Marshal(v)
		b.Write(enc)
		return err
	}
	var methods any = r.AllowedMethods
	if r.AnyMethod {
		methods = nil
	} else if r.AllowedMethods == nil {
		methods = DefaultAllowedMethods
	}
	forcelist := r.StatusForcelist
	if forcelist == nil {
		forcelist = []int{}
	}
	for _, kv := range []struct {
		k string
		v any
	}{
		{"status_forcelist", forcelist}, {"allowed_methods", methods},
		{"backoff_factor", r.BackoffFactor}, {"backoff_max", r.BackoffMax}, {"backoff_jitter", r.BackoffJitter},
		{"respect_retry_after_header", r.RespectRetryAfter}, {"retry_after_max", r.RetryAfterMax},
	} {
		if err := put(kv.k, kv.v); err != nil {
			return nil, err
		}
	}
	if r.Exceptions != nil {
		if err := put("exceptions", r.Exceptions); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Try is one try of a job in its outcome's retries history: its status
// code, or its exception's type and (cut) message, and when it ended.
type Try struct {
	StatusCode int    `json:"status_code,omitempty"`
	Exception  string `json:"exception,omitempty"`
	Message    string `json:"message,omitempty"`
	// Kind is how urllib3 counts the try: an exception's KindConnect,
	// KindRead or KindOther ("": not retried), or KindRedirect for a
	// redirect response (a 3xx with a Location, which ends the backoff's
	// run of errors); "" for other responses.
	Kind string  `json:"kind,omitempty"`
	At   TryTime `json:"at"`
}

// TryTime is a time written as RFC 3339 with milliseconds, in UTC.
type TryTime struct{ time.Time }

const tryTimeLayout = "2006-01-02T15:04:05.000Z07:00"

func (t TryTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.UTC().Format(tryTimeLayout) + `"`), nil
}

func (t *TryTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	t.Time = v
	return err
}

// Kinds of failure, as urllib3's Retry.increment tells them apart.
const (
	KindConnect  = "connect"  // the request was not sent (urllib3's ConnectTimeoutError, NewConnectionError)
	KindRead     = "read"     // sent, no answer (ReadTimeoutError, ProtocolError)
	KindOther    = "other"    // another error inside urllib3's retry loop (SSLError, ProxyError)
	KindRedirect = "redirect" // a redirect response
	KindStatus   = "status"   // a response
	KindNone     = ""         // not retried: raised by requests outside urllib3's retries
)

// TryOf is the try of an outcome, at its finished_at.
func TryOf(o Outcome) Try {
	switch o := o.(type) {
	case *Response:
		t := Try{StatusCode: o.StatusCode, At: TryTime{o.FinishedAt}}
		if o.isRedirect() {
			t.Kind = KindRedirect
		}
		return t
	case *Exception:
		msg := o.Exception.Message
		if len(msg) > MaxTryMessage {
			msg = strings.ToValidUTF8(msg[:MaxTryMessage], "") + "..."
		}
		return Try{Exception: o.Exception.Type, Message: msg, Kind: o.RetryKind(), At: TryTime{o.FinishedAt}}
	}
	return Try{}
}

func (r *Response) isRedirect() bool {
	return slices.Contains(redirectStatuses, r.StatusCode) && r.Headers["Location"] != ""
}

// kind is how urllib3 counts the try.
func (t Try) kind() string {
	if t.Exception == "" && t.Kind == "" {
		return KindStatus
	}
	return t.Kind
}

// ExceptionKind is the urllib3 kind of an exception type, when nothing
// more is known of it (the worker's executor knows whether a
// ConnectionError came before the request was sent: Exception.RetryKind).
func ExceptionKind(typ string) string {
	switch typ {
	case ConnectTimeout:
		return KindConnect
	case ConnectionError, ReadTimeout:
		return KindRead
	case SSLError, ProxyError:
		return KindOther
	}
	return KindNone
}

// Decision is what Next decided.
type Decision struct {
	Again bool          // try again
	After time.Duration // this long after the try
	// RetryAfter: After is the response's Retry-After.
	RetryAfter bool
}

// state is urllib3's Retry counters after increments.
type state struct {
	total, connect, read, redirect, status, other Count
}

func (s *state) exhausted() bool {
	for _, c := range []Count{s.total, s.connect, s.read, s.redirect, s.status, s.other} {
		if c.Set && !c.Off && c.N < 0 {
			return true
		}
	}
	return false
}

func dec(c *Count) {
	if c.Set && !c.Off {
		c.N--
	}
}

// increment is urllib3's Retry.increment for a try of kind: false when it
// raises (the try is final).
func (r *Retry) increment(s *state, method, kind string) bool {
	if s.total.Off {
		return false // total=False: errors re-raised, responses' retries exhausted at once (False - 1)
	}
	dec(&s.total)
	switch kind {
	case KindConnect:
		if s.connect.Off {
			return false
		}
		dec(&s.connect)
	case KindRead:
		if s.read.Off || !r.methodRetryable(method) {
			return false
		}
		dec(&s.read)
	case KindOther:
		dec(&s.other)
	case KindRedirect:
		if s.redirect.Off {
			return false // redirect=False is 0
		}
		dec(&s.redirect)
	case KindStatus:
		dec(&s.status)
	default:
		return false
	}
	return !s.exhausted()
}

func (r *Retry) methodRetryable(method string) bool {
	if r.AnyMethod {
		return true
	}
	allowed := r.AllowedMethods
	if allowed == nil {
		allowed = DefaultAllowedMethods
	}
	return slices.Contains(allowed, strings.ToUpper(method))
}

// isRetry is urllib3's Retry.is_retry.
func (r *Retry) isRetry(method string, status int, hasRetryAfter bool) bool {
	if !r.methodRetryable(method) {
		return false
	}
	if slices.Contains(r.StatusForcelist, status) {
		return true
	}
	totalTruthy := r.Total.Set && !r.Total.Off && r.Total.N != 0
	return totalTruthy && r.RespectRetryAfter && hasRetryAfter && slices.Contains(RetryAfterStatusCodes, status)
}

// backoff is urllib3's Retry.get_backoff_time over tries (the try just
// made included): factor * 2**(n-1) for a run of n tries since the last
// redirect, 0 for n <= 1, at most BackoffMax.
func (r *Retry) backoff(tries []Try, rng func() float64) time.Duration {
	n := 0
	for _, t := range slices.Backward(tries) {
		if t.Kind == KindRedirect {
			break
		}
		n++
	}
	if n <= 1 {
		return 0
	}
	v := r.BackoffFactor * math.Pow(2, float64(n-1))
	if r.BackoffJitter != 0 && rng != nil {
		v += rng() * r.BackoffJitter
	}
	return secondsDuration(max(0, min(r.BackoffMax, v)))
}

func secondsDuration(s float64) time.Duration {
	if s >= MaxRetryBackoff.Seconds() {
		return MaxRetryBackoff
	}
	return time.Duration(math.Round(s * float64(time.Second)))
}

// Next decides whether the job is tried again after tries (oldest first,
// the try just made last), as urllib3 would: its counters replayed
// over the earlier tries, then Retry.increment and Retry.sleep for the
// last. retryAfter is the last response's Retry-After header ("" for
// none), read at now; maxRetryAfter (0: none) caps the wait it asks for,
// with the policy's retry_after_max. A job is retried MaxRetries times at
// most whatever its policy.
func (r *Retry) Next(method string, tries []Try, retryAfter string, now time.Time, maxRetryAfter time.Duration) Decision {
	if r == nil || len(tries) == 0 || len(tries) > MaxRetries {
		return Decision{}
	}
	s := state{r.Total, r.Connect, r.Read, r.Redirect, r.Status, r.Other}
	for _, t := range tries[:len(tries)-1] {
		r.increment(&s, method, t.kind()) // earlier tries: retried, their counts replayed
	}
	last := tries[len(tries)-1]
	k := last.kind()
	if last.Exception != "" && r.Exceptions != nil && !slices.Contains(r.Exceptions, last.Exception) {
		return Decision{}
	}
	if k == KindStatus || k == KindRedirect {
		if !r.isRetry(method, last.StatusCode, retryAfter != "") {
			return Decision{}
		}
	}
	if !r.increment(&s, method, k) {
		return Decision{}
	}
	d := Decision{Again: true}
	if (k == KindStatus || k == KindRedirect) && r.RespectRetryAfter && retryAfter != "" {
		if secs, ok := parseRetryAfter(retryAfter, now); ok {
			secs = min(secs, float64(r.RetryAfterMax))
			wait := secondsDuration(secs)
			if maxRetryAfter > 0 {
				wait = min(wait, maxRetryAfter)
			}
			if wait > 0 {
				d.After, d.RetryAfter = wait, true
				return d
			}
		}
	}
	d.After = r.backoff(tries, rand.Float64)
	return d
}

var retryAfterSeconds = regexp.MustCompile(`^\s*[0-9]+\s*$`)

// parseRetryAfter is urllib3's Retry.parse_retry_after: whole seconds, or
// an HTTP date (seconds from now, at least 0); false for a value that is
// neither (urllib3 raises InvalidHeader; reqfleet backs off instead).
func parseRetryAfter(v string, now time.Time) (float64, bool) {
	if retryAfterSeconds.MatchString(v) {
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return n, err == nil
	}
	v = strings.TrimSpace(v)
	t, err := http.ParseTime(v)
	for _, layout := range []string{time.RFC1123Z, time.RFC1123} {
		if err == nil {
			break
		}
		t, err = time.Parse(layout, v)
	}
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now).Seconds(), 0), true
}

// DecodeRetry reads a retry policy as a job's "retries" takes it.
func DecodeRetry(raw []byte) (*Retry, error) { return decodeRetries(raw) }

// RetryFlags is the policy of the CLI's --retries N --retry-on LIST
// --retry-backoff F (and the API's retries, retry_on, retry_backoff) for
// the jobs that carry none: nil for total 0 (no automatic retry, as
// requests). With on empty it is urllib3's Retry(total) (and the
// backoff factor); on lists status codes (status_forcelist) and exception
// types (exceptions: only those are retried, none when on names none).
// Errors are *FieldErrors naming "retries", "retry_on" or "retry_backoff".
func RetryFlags(total int, on string, backoff float64) (*Retry, error) {
	if total == 0 {
		switch {
		case on != "":
			return nil, fieldErr("retry_on", ErrValue, "needs retries")
		case backoff != 0:
			return nil, fieldErr("retry_backoff", ErrValue, "needs retries")
		}
		return nil, nil
	}
	if total < 0 || total > MaxRetries {
		return nil, fieldErr("retries", ErrValue, "must be from 0 to %d", MaxRetries)
	}
	if math.IsNaN(backoff) || backoff < 0 || backoff > MaxRetryBackoff.Seconds() {
		return nil, fieldErr("retry_backoff", ErrValue, "seconds must be from 0 to %v", MaxRetryBackoff.Seconds())
	}
	if on == "" && backoff == 0 {
		return NewRetry(total), nil
	}
	obj := map[string]any{"total": total, "backoff_factor": backoff}
	if on != "" {
		statuses, types := []int{}, []string{}
		for _, s := range strings.Split(on, ",") {
			s = strings.TrimSpace(s)
			if n, err := strconv.Atoi(s); err == nil && n >= 100 && n <= 999 {
				statuses = append(statuses, n)
			} else if slices.Contains(retryableTypes, s) {
				types = append(types, s)
			} else {
				return nil, fieldErr("retry_on", ErrValue, "%q is neither a status code (100 to 999) nor an exception type retried (%s)", s, strings.Join(retryableTypes, ", "))
			}
		}
		obj["status_forcelist"], obj["exceptions"] = statuses, types
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	return decodeRetries(b)
}

// Clone is a copy of the policy that shares nothing with it (nil for nil).
func (r *Retry) Clone() *Retry {
	if r == nil {
		return nil
	}
	c := *r
	c.StatusForcelist = slices.Clone(r.StatusForcelist)
	c.AllowedMethods = slices.Clone(r.AllowedMethods)
	c.Exceptions = slices.Clone(r.Exceptions)
	return &c
}
