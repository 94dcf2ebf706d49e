package tasks

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"
)

// The fast path must be on: a field added to Response needs appendJSON to
// write it (and responseFields to name it).
func TestResponseFieldsKnown(t *testing.T) {
	if !responseFieldsKnown {
		t.Fatalf("Response's fields %v are not the encoder's %v", jsonNames(reflect.TypeFor[Response]()), responseFields)
	}
}

func testJobs(t testing.TB) []Job {
	t.Helper()
	var out []Job
	for _, s := range []string{
		`{"url": "http://x", "id": "j1"}`,
		`{"method":"post","url":"http://x/<a>&b","headers":{"A":"1","Z":null},"json":{"k":["<>",1.50]},"meta":"\u2028"}`,
		`{"url":"http://x","params":{"a":"1"},"auth":["u","p"],"timeout":[1,null],"allow_redirects":false}`,
	} {
		j, err := DecodeJob([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, j)
	}
	return append(out, Job{Method: "GET", URL: "http://built", ID: "b", Headers: map[string]string{"X": "y"}}, Job{})
}

func checkAppendOutcome(t *testing.T, o Outcome) {
	t.Helper()
	want, werr := json.Marshal(o)
	got, gerr := AppendOutcome([]byte("prefix"), o)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("AppendOutcome: error %v, json.Marshal %v", gerr, werr)
	}
	if werr != nil {
		return
	}
	if !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Fatalf("AppendOutcome:\n got %s\nwant prefix%s", got, want)
	}
}

func TestAppendOutcomeMatchesMarshal(t *testing.T) {
	at := time.Date(2026, 12, 1, 22, 0, 0, 123456789, time.UTC)
	odd := "a\"b\\c\x00\x01\b\f\n\r\t\x1f<>&\u2028\u2029é\xff\xfe😀\x7f"
	for _, j := range testJobs(t) {
		for _, r := range []Response{
			{ID: "j1", Batch: "B", StatusCode: 200, Reason: "OK", Headers: map[string]string{"Content-Type": "application/json", "A": odd},
				URL: "http://x/", Body: `{"ok":true}`, ElapsedMS: 1.234, Attempt: 1, Worker: "w:1", FinishedAt: at},
			{ID: odd, Batch: odd, Reason: odd, URL: odd, Body: odd, Worker: odd, Headers: map[string]string{}, FinishedAt: at.In(time.FixedZone("x", 5*3600+30*60))},
			{Headers: nil, ElapsedMS: 1e-7, BodyEncoding: "base64", Truncated: true, HeadersTruncated: true, HistoryTruncated: true, ConnectionRetries: 2},
			{ElapsedMS: 1e21, FinishedAt: time.Time{}},
			{ElapsedMS: -0.000123, History: []Redirect{{StatusCode: 301, Reason: "Moved", URL: "http://y/<", Headers: map[string]string{"L": "v"}}}},
			{ElapsedMS: math.Inf(1)},
			{ElapsedMS: 12345678.9, FinishedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
			{ElapsedMS: 3, FinishedAt: at.In(time.FixedZone("far", 24*3600))},
			{StatusCode: 200, Retries: []Try{{StatusCode: 503, At: TryTime{at}}, {Exception: "ReadTimeout", Message: odd, Kind: KindRead, At: TryTime{at}}, {StatusCode: 200, At: TryTime{at}}}},
		} {
			r.Request = j
			checkAppendOutcome(t, &r)
		}
	}
	checkAppendOutcome(t, &Exception{ID: "e", Batch: "B", Exception: ExceptionInfo{Type: ConnectTimeout, Message: odd}, FinishedAt: at})
}

func FuzzAppendOutcome(f *testing.F) {
	f.Add("OK", "http://x/", `{"ok":true}`, "Content-Type", "a/b", 1.5, int64(0), `{"url":"http://x","id":"j"}`)
	f.Add("\xff<", "\u2028", "\x00\x1f", "", "\\\"", 1e-9, int64(-1e18), `{"url":"x","json":{"a":"<"}}`)
	f.Fuzz(func(t *testing.T, reason, url, body, hk, hv string, ms float64, ns int64, job string) {
		j, _ := DecodeJob([]byte(job))
		r := &Response{ID: hk, Batch: hv, Request: j, Reason: reason, URL: url, Body: body, Headers: map[string]string{hk: hv, "b": body},
			ElapsedMS: ms, FinishedAt: time.Unix(0, ns), Worker: reason}
		checkAppendOutcome(t, r)
	})
}
