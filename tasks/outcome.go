package tasks

import (
	"fmt"
	"log/slog"
	"time"
)

// Exception types, named as requests names its exceptions, plus reqfleet's
// own WorkerLost (the job's worker died and asynq gave up on it),
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
	Truncated    bool              `json:"truncated,omitempty"`     // the body was cut at the worker's --max-body
	ElapsedMS    float64           `json:"elapsed_ms"`              // from sending to the response's headers, as requests' elapsed
	Attempt      int               `json:"attempt"`
	Worker       string            `json:"worker"`
	FinishedAt   time.Time         `json:"finished_at"`
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
