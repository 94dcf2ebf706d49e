package tasks

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"
	"unicode/utf8"
)

// Exception types, named as requests names its exceptions, plus reqfleet's
// own WorkerLost (the job's worker died and asynq gave up on it),
// WorkerCrashed (its workers died while running it, --max-crashes times),
// InvalidJob (a queued payload that is not a job) and DeniedAddress (the
// worker denies private addresses and the job would have reached one).
const (
	ConnectionError      = "ConnectionError"
	ConnectTimeout       = "ConnectTimeout"
	ReadTimeout          = "ReadTimeout"
	TotalTimeout         = "Timeout" // the job's total deadline passed
	TooManyRedirects     = "TooManyRedirects"
	MissingSchema        = "MissingSchema"
	InvalidURL           = "InvalidURL"
	InvalidSchema        = "InvalidSchema"
	InvalidHeader        = "InvalidHeader"
	SSLError             = "SSLError"
	ProxyError           = "ProxyError"
	ChunkedEncodingError = "ChunkedEncodingError"
	ContentDecodingError = "ContentDecodingError"
	WorkerLost           = "WorkerLost"
	WorkerCrashed        = "WorkerCrashed"
	InvalidJob           = "InvalidJob"
	DeniedAddress        = "DeniedAddress"
)

// Outcome is what a job ends as: a *Response or an *Exception.
type Outcome interface {
	Kind() string // "response" or "exception"
	Key() (batch, id string, attempt int)
}

// Redirect is one response of a redirect chain, oldest first.
type Redirect struct {
	StatusCode int               `json:"status_code"`
	Reason     string            `json:"reason"`
	URL        string            `json:"url"`
	Headers    map[string]string `json:"headers,omitempty"`
	// HeadersTruncated: headers were left out, by the worker's cap on the
	// header bytes of one response (--max-header-bytes), of the history
	// (--max-history-headers) or of the outcome (--max-outcome).
	HeadersTruncated bool `json:"headers_truncated,omitempty"`
}

// Response is a job that got an HTTP response, whatever its status.
type Response struct {
	ID           string            `json:"id"`
	Batch        string            `json:"batch"`
	Request      Job               `json:"request"`
	StatusCode   int               `json:"status_code"`
	Reason       string            `json:"reason"`
	Headers      map[string]string `json:"headers"`
	URL          string            `json:"url"`
	History      []Redirect        `json:"history,omitempty"`
	Body         string            `json:"body"`
	BodyEncoding string            `json:"body_encoding,omitempty"` // "base64" when the body is not UTF-8
	Truncated    bool              `json:"truncated,omitempty"`     // the body was cut at the worker's --max-body (or --max-outcome)
	ElapsedMS    float64           `json:"elapsed_ms"`              // from sending to the response's headers, as requests' elapsed
	Attempt      int               `json:"attempt"`
	Worker       string            `json:"worker"`
	FinishedAt   time.Time         `json:"finished_at"`

	// HeadersTruncated: headers were left out (--max-header-bytes, or
	// --max-outcome); the reason phrase may be cut too.
	HeadersTruncated bool `json:"headers_truncated,omitempty"`
	// HistoryTruncated: redirects were left out of History, the newest
	// first (--max-history, or --max-outcome).
	HistoryTruncated bool `json:"history_truncated,omitempty"`
	// ConnectionRetries counts the requests sent again because a reused
	// kept-alive connection closed before any byte of the answer (only
	// idempotent ones, or those with an Idempotency-Key header).
	ConnectionRetries int `json:"connection_retries,omitempty"`
	// ThrottledMS is how long the job waited for its host's limits (a
	// rate, a concurrency, a Retry-After pause), in all, before it ran.
	ThrottledMS int64 `json:"throttled_ms,omitempty"`
	// Retries is the history of a job tried more than once by its retry
	// policy: every try, this one last.
	Retries []Try `json:"retries,omitempty"`
}

// ExceptionInfo names what went wrong, as requests' exception class and message.
type ExceptionInfo struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// Exception is a job that got no HTTP response.
type Exception struct {
	ID         string        `json:"id"`
	Batch      string        `json:"batch"`
	Request    Job           `json:"request"`
	Exception  ExceptionInfo `json:"exception"`
	Attempt    int           `json:"attempt"`
	Worker     string        `json:"worker"`
	FinishedAt time.Time     `json:"finished_at"`
	// ConnectionRetries: as Response's.
	ConnectionRetries int `json:"connection_retries,omitempty"`
	// ThrottledMS: as Response's.
	ThrottledMS int64 `json:"throttled_ms,omitempty"`
	// Retries: as Response's.
	Retries []Try `json:"retries,omitempty"`

	retryKind string // how urllib3 would count it, when the executor knows (SetRetryKind)
}

// RetryKind is how urllib3's Retry counts the exception: KindConnect,
// KindRead, KindOther or KindNone (never retried), as the executor set it,
// else as ExceptionKind says of its type.
func (e *Exception) RetryKind() string {
	switch e.retryKind {
	case "":
	case "none":
		return KindNone
	default:
		return e.retryKind
	}
	return ExceptionKind(e.Exception.Type)
}

// SetRetryKind records how urllib3 would count the exception (the
// executor knows whether a ConnectionError came before the request was
// sent); "none" for KindNone.
func (e *Exception) SetRetryKind(kind string) {
	if kind == KindNone {
		kind = "none"
	}
	e.retryKind = kind
}

func (r *Response) Kind() string                          { return "response" }
func (r *Response) Key() (batch, id string, attempt int)  { return r.Batch, r.ID, r.Attempt }
func (e *Exception) Kind() string                         { return "exception" }
func (e *Exception) Key() (batch, id string, attempt int) { return e.Batch, e.ID, e.Attempt }

// DecodeException parses one entry of an exceptions list. Errors wrap the
// package's sentinels; a request that DecodeJob refuses is an error.
func DecodeException(line []byte) (Exception, error) {
	var e Exception
	if err := decodeObject(line, &e); err != nil {
		return Exception{}, fmt.Errorf("exception: %w", err)
	}
	return e, nil
}

// DecodeResponse parses one entry of a results list. Errors wrap the
// package's sentinels; a request that DecodeJob refuses is an error.
func DecodeResponse(line []byte) (Response, error) {
	var r Response
	if err := decodeObject(line, &r); err != nil {
		return Response{}, fmt.Errorf("response: %w", err)
	}
	return r, nil
}

// UnmarshalJSON reads a job inside an outcome with DecodeJob's rules.
// null is the zero Job (as MarshalJSON writes it), and leaves j unchanged,
// as encoding/json's convention for null asks.
func (j *Job) UnmarshalJSON(data []byte) error {
	if firstByte(data) == 'n' {
		return nil
	}
	v, err := DecodeJob(data)
	if err != nil {
		return fmt.Errorf("job: %w", err)
	}
	*j = v
	return nil
}

// LogValue logs the response without its body and with its request's
// LogValue, which leaves out the password that json.Marshal keeps.
func (r Response) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", r.ID),
		slog.String("batch", r.Batch),
		slog.Int("attempt", r.Attempt),
		slog.Int("status_code", r.StatusCode),
		slog.String("reason", r.Reason),
		slog.String("url", r.URL),
		slog.Int("body_bytes", len(r.Body)),
		slog.Bool("truncated", r.Truncated),
		slog.Float64("elapsed_ms", r.ElapsedMS),
		slog.String("worker", r.Worker),
		slog.Time("finished_at", r.FinishedAt),
		slog.Attr{Key: "request", Value: r.Request.LogValue()},
	)
}

// LogValue logs the exception with its request's LogValue, which leaves out
// the password that json.Marshal keeps.
func (e Exception) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", e.ID),
		slog.String("batch", e.Batch),
		slog.Int("attempt", e.Attempt),
		slog.String("type", e.Exception.Type),
		slog.String("message", e.Exception.Message),
		slog.String("worker", e.Worker),
		slog.Time("finished_at", e.FinishedAt),
		slog.Attr{Key: "request", Value: e.Request.LogValue()},
	)
}

// FitOutcome cuts the response so that its JSON, without its request, is
// at most max bytes, and marks what it cut. It cuts, in this order, until
// the response fits: the headers of the redirects (the newest first), the
// redirects themselves (the newest first; HistoryTruncated), the
// response's headers (the largest first; HeadersTruncated), then the body
// (Truncated). The URL, the status and the request are never cut, so a
// response whose URL alone is longer than max stays longer. It reports
// whether it cut anything. max <= 0 is no limit.
//
// The request is left out of the count: the outcome keeps it whole, for
// retry, and its size was the enqueuer's to bound.
func (r *Response) FitOutcome(max int64) bool {
	if max <= 0 || r.sizeBound() <= max {
		return false // the common case: no encoding needed to know
	}
	size := r.JSONSize()
	if size <= max {
		return false
	}
	// 1. The redirects' headers, newest first.
	for i := len(r.History) - 1; i >= 0 && size > max; i-- {
		h := &r.History[i]
		if len(h.Headers) == 0 {
			continue
		}
		before := jsonLen(*h)
		h.Headers, h.HeadersTruncated = nil, true
		size += jsonLen(*h) - before
	}
	// 2. The redirects, newest first.
	for len(r.History) > 0 && size > max {
		last := len(r.History) - 1
		size -= jsonLen(r.History[last])
		if last > 0 {
			size-- // its comma
		} else {
			size -= int64(len(`"history":[],`))
		}
		r.History = r.History[:last]
		if !r.HistoryTruncated {
			r.HistoryTruncated = true
			size += int64(len(`"history_truncated":true,`))
		}
	}
	if len(r.History) == 0 {
		r.History = nil
	}
	// 3. The response's headers, the largest first.
	if size > max && len(r.Headers) > 0 {
		h := maps.Clone(r.Headers)
		keys := slices.SortedFunc(maps.Keys(h), func(a, b string) int {
			return (len(h[b]) + len(b)) - (len(h[a]) + len(a))
		})
		if !r.HeadersTruncated {
			r.HeadersTruncated = true
			size += int64(len(`"headers_truncated":true,`))
		}
		for _, k := range keys {
			if size <= max {
				break
			}
			size -= JSONStringLen(k) + JSONStringLen(h[k]) + 1 // the colon
			if len(h) > 1 {
				size-- // a comma
			}
			delete(h, k)
		}
		r.Headers = h
	}
	// 4. The body.
	if size > max && r.Body != "" {
		bodyLen := JSONStringLen(r.Body)
		budget := bodyLen - (size - max)
		if !r.Truncated {
			r.Truncated = true
			budget -= int64(len(`"truncated":true,`))
		}
		r.Body = cutJSONString(r.Body, budget, r.BodyEncoding == "base64")
	}
	return true
}

// sizeBound is a cheap upper bound of JSONSize: every byte escaped to 6.
func (r *Response) sizeBound() int64 {
	n := int64(len(r.Body) + len(r.URL) + len(r.Reason) + len(r.ID) + len(r.Batch) + len(r.Worker))
	for k, v := range r.Headers {
		n += int64(len(k)+len(v)) + 3
	}
	for _, h := range r.History {
		n += int64(len(h.URL)+len(h.Reason)) + 3
		for k, v := range h.Headers {
			n += int64(len(k)+len(v)) + 3
		}
	}
	return 6*n + 512
}

// JSONSize is the length of the response's JSON (as json.Marshal writes
// it) without its request: with "request":null.
func (r *Response) JSONSize() int64 {
	skel := *r
	skel.Request = Job{}
	skel.Body, skel.Headers, skel.History = "", nil, nil
	n := jsonLen(skel)
	n += JSONStringLen(r.Body) - 2
	if len(r.Headers) > 0 {
		n += jsonLen(r.Headers) - int64(len("null"))
	} else if r.Headers != nil {
		n += int64(len("{}") - len("null"))
	}
	if len(r.History) > 0 {
		n += jsonLen(r.History) + int64(len(`"history":,`))
	}
	return n
}

// jsonLen is the length of v's JSON; 0 for what does not encode (which the
// outcome's types never are).
func jsonLen(v any) int64 {
	b, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return int64(len(b))
}

// JSONStringLen is the length of s as encoding/json writes it, quotes
// included: HTML characters, control characters, U+2028, U+2029 and bytes
// that are not UTF-8 are escaped.
func JSONStringLen(s string) int64 {
	n := int64(2)
	for i := 0; i < len(s); {
		w, size := jsonRuneLen(s[i:])
		n += w
		i += size
	}
	return n
}

// jsonRuneLen is the JSON length of the first character of s, and its
// length in s.
func jsonRuneLen(s string) (w int64, size int) {
	if b := s[0]; b < utf8.RuneSelf {
		switch {
		case b == '\\' || b == '"' || b == '\b' || b == '\f' || b == '\n' || b == '\r' || b == '\t':
			return 2, 1
		case b < 0x20 || b == '<' || b == '>' || b == '&':
			return 6, 1
		}
		return 1, 1
	}
	c, size := utf8.DecodeRuneInString(s)
	if c == utf8.RuneError && size == 1 || c == '\u2028' || c == '\u2029' {
		return 6, size
	}
	return int64(size), size
}

// cutJSONString returns the longest prefix of s whose JSON length is at
// most budget: whole characters, or whole groups of 4 for base64.
func cutJSONString(s string, budget int64, base64 bool) string {
	room := budget - 2
	if room <= 0 {
		return ""
	}
	if base64 {
		return s[:min(int64(len(s)), room/4*4)]
	}
	i := 0
	for i < len(s) {
		w, size := jsonRuneLen(s[i:])
		if w > room {
			break
		}
		room -= w
		i += size
	}
	return s[:i]
}
