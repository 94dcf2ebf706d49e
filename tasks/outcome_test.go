package tasks_test

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/reqfleet/reqfleet/tasks"
)

var finished = time.Date(2025, 3, 4, 5, 6, 7, 890000000, time.UTC)

func sampleResponse(t testing.TB) tasks.Response {
	t.Helper()
	return tasks.Response{
		ID: "j1", Batch: "b1",
		Request:    mustDecode(t, `{"id": "j1", "url": "http://x/r", "auth": ["u", "p"], "params": {"a": 1}}`),
		StatusCode: 200, Reason: "OK",
		Headers: map[string]string{"Content-Type": "text/plain"},
		URL:     "http://x/final",
		History: []tasks.Redirect{{StatusCode: 302, Reason: "Found", URL: "http://x/r", Headers: map[string]string{"Location": "/final"}}},
		Body:    "aGk=", BodyEncoding: "base64", Truncated: true,
		ElapsedMS: 12.5, Attempt: 2, Worker: "w-1", FinishedAt: finished,
	}
}

func sampleException(t testing.TB) tasks.Exception {
	t.Helper()
	return tasks.Exception{
		ID: "j2", Batch: "b1",
		Request:   mustDecode(t, `{"id": "j2", "method": "post", "url": "http://y", "timeout": [1, null]}`),
		Exception: tasks.ExceptionInfo{Type: tasks.ConnectTimeout, Message: "connect timed out"},
		Attempt:   1, Worker: "w-2", FinishedAt: finished,
	}
}

// keysOf returns the keys of a JSON object, sorted.
func keysOf(t testing.TB, b []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestResponseJSON(t *testing.T) {
	r := sampleResponse(t)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"attempt", "batch", "body", "body_encoding", "elapsed_ms", "finished_at", "headers", "history",
		"id", "reason", "request", "status_code", "truncated", "url", "worker"}
	if got := keysOf(t, b); !slices.Equal(got, want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
	var m struct {
		History    []json.RawMessage `json:"history"`
		FinishedAt string            `json:"finished_at"`
		ElapsedMS  json.RawMessage   `json:"elapsed_ms"`
		Request    json.RawMessage   `json:"request"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if got, want := keysOf(t, m.History[0]), []string{"headers", "reason", "status_code", "url"}; !slices.Equal(got, want) {
		t.Errorf("history keys = %v, want %v", got, want)
	}
	if m.FinishedAt != "2025-03-04T05:06:07.89Z" {
		t.Errorf("finished_at = %q", m.FinishedAt)
	}
	if string(m.ElapsedMS) != "12.5" {
		t.Errorf("elapsed_ms = %s", m.ElapsedMS)
	}
	if want := `{"id":"j1","url":"http://x/r","auth":["u","p"],"params":{"a":1}}`; string(m.Request) != want {
		t.Errorf("request = %s, want %s", m.Request, want)
	}

	got, err := tasks.DecodeResponse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("DecodeResponse:\n got %#v\nwant %#v", got, r)
	}
}

func TestResponseJSONOmitsEmpty(t *testing.T) {
	r := tasks.Response{ID: "j", Batch: "b", Request: mustDecode(t, `{"url": "http://x"}`), StatusCode: 204, Headers: map[string]string{}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"attempt", "batch", "body", "elapsed_ms", "finished_at", "headers", "id", "reason", "request", "status_code", "url", "worker"}
	if got := keysOf(t, b); !slices.Equal(got, want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
}

func TestExceptionJSON(t *testing.T) {
	e := sampleException(t)
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"attempt", "batch", "exception", "finished_at", "id", "request", "worker"}
	if got := keysOf(t, b); !slices.Equal(got, want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
	var m struct {
		Exception json.RawMessage `json:"exception"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"ConnectTimeout","message":"connect timed out"}`; string(m.Exception) != want {
		t.Errorf("exception = %s, want %s", m.Exception, want)
	}
	got, err := tasks.DecodeException(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, e) {
		t.Errorf("DecodeException:\n got %#v\nwant %#v", got, e)
	}
}

// TestDecodeOutcomeLiteral reads outcomes as another program would write them.
func TestDecodeOutcomeLiteral(t *testing.T) {
	r, err := tasks.DecodeResponse([]byte(`{"id": "j", "batch": "b", "request": {"id": "j", "url": "http://x"},
		"status_code": 404, "reason": "Not Found", "headers": {"A": "b"}, "url": "http://x", "body": "nope",
		"elapsed_ms": 3, "attempt": 1, "worker": "w", "finished_at": "2025-03-04T05:06:07.89Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := tasks.Response{ID: "j", Batch: "b", Request: tasks.Job{ID: "j", Method: "GET", URL: "http://x"},
		StatusCode: 404, Reason: "Not Found", Headers: map[string]string{"A": "b"}, URL: "http://x", Body: "nope",
		ElapsedMS: 3, Attempt: 1, Worker: "w", FinishedAt: finished}
	if r.Request = r.Request.Normalized(); !reflect.DeepEqual(r, want) {
		t.Errorf("DecodeResponse:\n got %#v\nwant %#v", r, want)
	}
	e, err := tasks.DecodeException([]byte(`{"id": "j", "batch": "b", "request": {"id": "j", "url": "http://x"},
		"exception": {"type": "ReadTimeout", "message": "slow"}, "attempt": 2, "worker": "w", "finished_at": "2025-03-04T05:06:07.89Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	wantE := tasks.Exception{ID: "j", Batch: "b", Request: tasks.Job{ID: "j", Method: "GET", URL: "http://x"},
		Exception: tasks.ExceptionInfo{Type: tasks.ReadTimeout, Message: "slow"}, Attempt: 2, Worker: "w", FinishedAt: finished}
	if e.Request = e.Request.Normalized(); !reflect.DeepEqual(e, wantE) {
		t.Errorf("DecodeException:\n got %#v\nwant %#v", e, wantE)
	}
}

// TestInvalidJobException checks that the exception of a payload that was
// not a job, whose request is the zero Job, can be read back.
func TestInvalidJobException(t *testing.T) {
	e := tasks.Exception{ID: "?", Batch: "b", Exception: tasks.ExceptionInfo{Type: tasks.InvalidJob, Message: "bad payload"},
		Attempt: 1, Worker: "w", FinishedAt: finished}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Request json.RawMessage `json:"request"`
	}
	if err := json.Unmarshal(b, &m); err != nil || string(m.Request) != "null" {
		t.Errorf("request = %s, %v; want null", m.Request, err)
	}
	got, err := tasks.DecodeException(b)
	if err != nil {
		t.Fatalf("DecodeException(%s): %v", b, err)
	}
	if !reflect.DeepEqual(got, e) {
		t.Errorf("DecodeException:\n got %#v\nwant %#v", got, e)
	}
}

func TestDecodeOutcomeErrors(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  error
		field string
	}{
		{"not JSON", `{"id": `, tasks.ErrSyntax, ""},
		{"empty", ``, tasks.ErrSyntax, ""},
		{"trailing garbage", `{"id": "j"} x`, tasks.ErrSyntax, ""},
		{"a list", `[{"id": "j"}]`, tasks.ErrNotObject, ""},
		{"null", `null`, tasks.ErrNotObject, ""},
		{"a number", `1`, tasks.ErrNotObject, ""},
		{"attempt a string", `{"id": "j", "attempt": "1"}`, tasks.ErrType, "attempt"},
		{"request without url", `{"id": "j", "request": {"method": "GET"}}`, tasks.ErrRequired, "url"},
		{"request with unknown field", `{"id": "j", "request": {"url": "http://x", "proxies": {}}}`, tasks.ErrUnknownField, "proxies"},
		{"request a list", `{"id": "j", "request": ["http://x"]}`, tasks.ErrNotObject, ""},
		{"finished_at not a time", `{"id": "j", "finished_at": "yesterday"}`, tasks.ErrValue, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tasks.DecodeResponse([]byte(tt.in))
			checkErr(t, err, tt.want, tt.field)
			if !wrapsSentinel(err) {
				t.Errorf("DecodeResponse: error %q wraps more or less than one sentinel", err)
			}
			if !reflect.DeepEqual(r, tasks.Response{}) {
				t.Errorf("a failed decode returned %+v", r)
			}
			e, err := tasks.DecodeException([]byte(tt.in))
			checkErr(t, err, tt.want, tt.field)
			if !wrapsSentinel(err) {
				t.Errorf("DecodeException: error %q wraps more or less than one sentinel", err)
			}
			if !reflect.DeepEqual(e, tasks.Exception{}) {
				t.Errorf("a failed decode returned %+v", e)
			}
		})
	}
	_, err := tasks.DecodeResponse([]byte(`{"status_code": "200"}`))
	checkErr(t, err, tasks.ErrType, "status_code")
	_, err = tasks.DecodeResponse([]byte(`{"history": [{"status_code": "302"}]}`))
	checkErr(t, err, tasks.ErrType, "history.status_code")
	_, err = tasks.DecodeException([]byte(`{"exception": "boom"}`))
	checkErr(t, err, tasks.ErrType, "exception")
}

func TestOutcomeKindKey(t *testing.T) {
	r, e := sampleResponse(t), sampleException(t)
	tests := []struct {
		o       tasks.Outcome
		kind    string
		batch   string
		id      string
		attempt int
	}{
		{&r, "response", "b1", "j1", 2},
		{&e, "exception", "b1", "j2", 1},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			if got := tt.o.Kind(); got != tt.kind {
				t.Errorf("Kind() = %q, want %q", got, tt.kind)
			}
			batch, id, attempt := tt.o.Key()
			if batch != tt.batch || id != tt.id || attempt != tt.attempt {
				t.Errorf("Key() = %q, %q, %d", batch, id, attempt)
			}
		})
	}
}

func TestExceptionTypes(t *testing.T) {
	types := []string{
		tasks.ConnectionError, tasks.ConnectTimeout, tasks.ReadTimeout, tasks.TotalTimeout, tasks.TooManyRedirects,
		tasks.MissingSchema, tasks.InvalidURL, tasks.InvalidSchema, tasks.InvalidHeader, tasks.SSLError,
		tasks.ProxyError, tasks.ChunkedEncodingError, tasks.ContentDecodingError, tasks.WorkerLost, tasks.InvalidJob,
	}
	seen := map[string]bool{}
	for _, ty := range types {
		if ty == "" || seen[ty] {
			t.Errorf("exception type %q empty or repeated", ty)
		}
		seen[ty] = true
	}
	if tasks.TotalTimeout != "Timeout" { // requests.exceptions.Timeout
		t.Errorf("TotalTimeout = %q", tasks.TotalTimeout)
	}
}

func TestJSONStringLen(t *testing.T) {
	tests := []struct{ name, s string }{
		{"empty", ""},
		{"ascii", "hello world"},
		{"quotes and backslash", `a"b\c`},
		{"short escapes", "\b\f\n\r\t"},
		{"control", "\x00\x01\x1f\x7f"},
		{"html", "<a href='x'>&</a>"},
		{"utf-8", "é漢字🙂"},
		{"line separators", "a\u2028b\u2029c"},
		{"not utf-8", "\xff\xfe a \xc3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.s)
			if err != nil {
				t.Fatal(err)
			}
			if got := tasks.JSONStringLen(tt.s); got != int64(len(b)) {
				t.Errorf("JSONStringLen = %d, json.Marshal wrote %d: %s", got, len(b), b)
			}
		})
	}
}

// marshaledSize is the length of r's JSON without its request, by
// json.Marshal itself.
func marshaledSize(t testing.TB, r tasks.Response) int64 {
	t.Helper()
	r.Request = tasks.Job{}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(b))
}

func TestFitOutcome(t *testing.T) {
	big := func(n int, c string) string { return strings.Repeat(c, n) }
	hostile := func() tasks.Response {
		r := sampleResponse(t)
		r.History = nil
		for i := range 30 {
			r.History = append(r.History, tasks.Redirect{StatusCode: 302, Reason: "Found", URL: "http://x/" + strconv.Itoa(i) + big(1000, "p"),
				Headers: map[string]string{"Location": "/" + strconv.Itoa(i+1), "X-Big": big(60_000, "h")}})
		}
		r.Headers = map[string]string{"Content-Type": "text/plain", "X-Big": big(30_000, "<"), "X-Small": "s"}
		r.Body, r.BodyEncoding, r.Truncated = big(100_000, "b")+"é"+big(1000, "\n"), "", false
		return r
	}
	tests := []struct {
		name  string
		r     tasks.Response
		max   int64
		check func(t *testing.T, r tasks.Response)
	}{
		{"fits: untouched", sampleResponse(t), 1 << 20, func(t *testing.T, r tasks.Response) {
			if !reflect.DeepEqual(r, sampleResponse(t)) {
				t.Errorf("changed: %+v", r)
			}
		}},
		{"no limit", hostile(), 0, func(t *testing.T, r tasks.Response) {
			if len(r.History) != 30 || r.HistoryTruncated {
				t.Errorf("cut with no limit")
			}
		}},
		{"history headers go first", hostile(), 1_000_000, func(t *testing.T, r tasks.Response) {
			if len(r.History) != 30 || r.HistoryTruncated || r.HeadersTruncated || r.Truncated {
				t.Errorf("cut more than the history's headers: %d hops", len(r.History))
			}
			if r.History[0].HeadersTruncated || !r.History[29].HeadersTruncated || r.History[29].Headers != nil {
				t.Errorf("want the newest hops' headers cut first")
			}
		}},
		{"then the hops", hostile(), 300_000, func(t *testing.T, r tasks.Response) {
			if !r.HistoryTruncated || len(r.History) == 0 || len(r.History) >= 30 || r.HeadersTruncated || r.Truncated {
				t.Errorf("%d hops, headers cut %v, body cut %v", len(r.History), r.HeadersTruncated, r.Truncated)
			}
		}},
		{"then the headers, the largest first", hostile(), 200_000, func(t *testing.T, r tasks.Response) {
			if r.History != nil || !r.HistoryTruncated || !r.HeadersTruncated || r.Truncated {
				t.Errorf("history %d, headers cut %v, body cut %v", len(r.History), r.HeadersTruncated, r.Truncated)
			}
			if _, ok := r.Headers["X-Big"]; ok || r.Headers["X-Small"] != "s" {
				t.Errorf("headers %v", len(r.Headers))
			}
		}},
		{"then the body", hostile(), 50_000, func(t *testing.T, r tasks.Response) {
			if !r.Truncated || len(r.Body) == 0 || !utf8.ValidString(r.Body) || len(r.Headers) != 0 {
				t.Errorf("body %d bytes, truncated %v, headers %d", len(r.Body), r.Truncated, len(r.Headers))
			}
		}},
		{"a body of escapes cut by its JSON size", func() tasks.Response {
			r := sampleResponse(t)
			r.Body, r.BodyEncoding, r.Truncated = big(100_000, "\x00"), "", false
			return r
		}(), 20_000, func(t *testing.T, r tasks.Response) {
			if !r.Truncated || len(r.Body) > 20_000/6 || len(r.Body) < 20_000/6-200 {
				t.Errorf("body %d bytes", len(r.Body))
			}
		}},
		{"base64 cut in whole groups", func() tasks.Response {
			r := sampleResponse(t)
			r.Body = big(40_000, "QUJD")
			return r
		}(), 10_000, func(t *testing.T, r tasks.Response) {
			if _, err := base64.StdEncoding.DecodeString(r.Body); err != nil || !r.Truncated {
				t.Errorf("body %d bytes: %v", len(r.Body), err)
			}
		}},
		{"a URL longer than the cap stays", func() tasks.Response {
			r := sampleResponse(t)
			r.URL = "http://x/" + big(5000, "u")
			return r
		}(), 1000, func(t *testing.T, r tasks.Response) {
			if len(r.URL) != 5009 || r.Body != "" {
				t.Errorf("url %d bytes, body %q", len(r.URL), r.Body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r
			r.FitOutcome(tt.max)
			got := marshaledSize(t, r)
			if n := r.JSONSize(); n != got {
				t.Errorf("JSONSize = %d, json.Marshal wrote %d", n, got)
			}
			if tt.max > 0 && got > tt.max && len(r.URL) < int(tt.max) {
				t.Errorf("%d bytes, over the cap of %d", got, tt.max)
			}
			if tt.max > 0 && len(r.URL) < int(tt.max) && got < tt.max-100 && (r.Truncated && r.Body != "" && tt.r.Body != r.Body) {
				t.Errorf("%d bytes: the body was cut more than needed for %d", got, tt.max)
			}
			tt.check(t, r)
			if _, err := tasks.DecodeResponse(mustMarshal(t, r)); err != nil {
				t.Errorf("the cut outcome does not decode: %v", err)
			}
		})
	}
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
