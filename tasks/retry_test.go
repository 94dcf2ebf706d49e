package tasks_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/tasks"
)

func decodeRetries(t *testing.T, policy string) *tasks.Retry {
	t.Helper()
	j, err := tasks.DecodeJob([]byte(`{"url": "http://x", "retries": ` + policy + `}`))
	if err != nil {
		t.Fatalf("DecodeJob with retries %s: %v", policy, err)
	}
	if j.Retries == nil {
		t.Fatalf("retries %s: decoded as none", policy)
	}
	return j.Retries
}

// TestRetriesInvalid checks that a bad policy is one error naming the
// field at fault.
func TestRetriesInvalid(t *testing.T) {
	tests := []struct {
		policy, field string
		want          error
	}{
		{`"3"`, "retries", tasks.ErrType},
		{`true`, "retries", tasks.ErrType},
		{`-1`, "retries", tasks.ErrValue},
		{`51`, "retries", tasks.ErrValue},
		{`2.5`, "retries", tasks.ErrValue},
		{`{"total": "x"}`, "retries.total", tasks.ErrType},
		{`{"total": true}`, "retries.total", tasks.ErrType},
		{`{"status": false}`, "retries.status", tasks.ErrType},
		{`{"connect": 1000}`, "retries.connect", tasks.ErrValue},
		{`{"status_forcelist": [99]}`, "retries.status_forcelist", tasks.ErrValue},
		{`{"status_forcelist": "503"}`, "retries.status_forcelist", tasks.ErrType},
		{`{"allowed_methods": ["get"]}`, "retries.allowed_methods", tasks.ErrValue},
		{`{"allowed_methods": "GET"}`, "retries.allowed_methods", tasks.ErrType},
		{`{"backoff_factor": -1}`, "retries.backoff_factor", tasks.ErrValue},
		{`{"backoff_max": "1"}`, "retries.backoff_max", tasks.ErrType},
		{`{"respect_retry_after_header": 1}`, "retries.respect_retry_after_header", tasks.ErrType},
		{`{"retry_after_max": 1.5}`, "retries.retry_after_max", tasks.ErrValue},
		{`{"exceptions": ["Timeout"]}`, "retries.exceptions", tasks.ErrValue},
		{`{"raise_on_status": false}`, "retries.raise_on_status", tasks.ErrUnknownField},
		{`{"bogus": 1}`, "retries.bogus", tasks.ErrUnknownField},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			_, err := tasks.DecodeJob([]byte(`{"url": "http://x", "retries": ` + tt.policy + `}`))
			var fe *tasks.FieldError
			if !errors.Is(err, tt.want) || !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("retries %s: error %v, want %v naming %q", tt.policy, err, tt.want, tt.field)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q is not one line", err)
			}
		})
	}
}

// TestRetriesDefaults checks urllib3's defaults: an integer is
// Retry(total=N); an object's absent arguments are Retry()'s.
func TestRetriesDefaults(t *testing.T) {
	r := decodeRetries(t, `3`)
	if !r.Total.Set || r.Total.N != 3 || r.Connect.Set || !r.RespectRetryAfter || r.BackoffMax != 120 || r.RetryAfterMax != 21600 || r.AllowedMethods != nil || r.AnyMethod {
		t.Fatalf("retries 3 = %+v", r)
	}
	r = decodeRetries(t, `{"status_forcelist": [503]}`)
	if r.Total.N != 10 || r.BackoffFactor != 0 {
		t.Fatalf("retries {...} = %+v, want total 10 (urllib3's default)", r)
	}
	r = decodeRetries(t, `{"allowed_methods": ["PUT", "GET", "HEAD", "DELETE", "OPTIONS", "TRACE"]}`)
	if r.AllowedMethods != nil || r.AnyMethod {
		t.Fatalf("the default methods given = %+v, want the default", r)
	}
	if r = decodeRetries(t, `{"allowed_methods": null}`); !r.AnyMethod {
		t.Fatalf("allowed_methods null = %+v, want every method", r)
	}
}

// TestRetriesRoundTrip checks that a policy survives the outcome: the job
// as given, and the normalised form.
func TestRetriesRoundTrip(t *testing.T) {
	for _, p := range []string{`3`, `0`, `{"total": false, "read": false}`, `{"total": null, "connect": 2, "status": 1, "status_forcelist": [503, 429],
		"allowed_methods": ["POST"], "backoff_factor": 0.1, "backoff_max": 3, "backoff_jitter": 0.25, "respect_retry_after_header": false,
		"retry_after_max": 60, "exceptions": ["ReadTimeout"], "redirect": 2, "other": 0}`, `{"allowed_methods": []}`, `{"exceptions": []}`} {
		t.Run(p, func(t *testing.T) {
			j := mustDecode(t, `{"url": "http://x", "retries": `+p+`}`)
			for _, form := range []tasks.Job{j, j.Normalized()} {
				b, err := json.Marshal(form)
				if err != nil {
					t.Fatal(err)
				}
				j2 := mustDecode(t, string(b))
				b2, _ := json.Marshal(j2.Retries)
				b1, _ := json.Marshal(j.Retries)
				if !bytes.Equal(b1, b2) {
					t.Fatalf("through %s: policy %s, want %s", b, b2, b1)
				}
			}
		})
	}
}

// TestDefaultRetries checks that a default policy goes to a job without
// one, added last to the form it was given, and leaves a job's own alone.
func TestDefaultRetries(t *testing.T) {
	def := tasks.NewRetry(2)
	j := mustDecode(t, `{"url": "http://x", "params": {"a": 1.0}}`)
	if err := j.DefaultRetries(def); err != nil {
		t.Fatal(err)
	}
	j.ID = "g"
	b, _ := json.Marshal(j)
	if want := `{"id":"g","url":"http://x","params":{"a":1.0},"retries":2}`; string(b) != want {
		t.Fatalf("with the default: %s, want %s", b, want)
	}
	own := mustDecode(t, `{"url": "http://x", "retries": 5}`)
	_ = own.DefaultRetries(def)
	if own.Retries.Total.N != 5 {
		t.Fatalf("a job's own policy was replaced: %+v", own.Retries)
	}
}

// TestRetryNext checks decisions the issue names, beside the urllib3 diff.
func TestRetryNext(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := tasks.TryTime{Time: now}
	status := func(code int) tasks.Try { return tasks.Try{StatusCode: code, At: at} }
	exc := func(typ, kind string) tasks.Try { return tasks.Try{Exception: typ, Kind: kind, At: at} }
	tests := []struct {
		name, policy, method, retryAfter string
		tries                            []tasks.Try
		maxRetryAfter                    time.Duration
		again                            bool
		after                            time.Duration
	}{
		{"GET read error retried", `3`, "GET", "", []tasks.Try{exc(tasks.ReadTimeout, tasks.KindRead)}, 0, true, 0},
		{"POST read error not retried", `3`, "POST", "", []tasks.Try{exc(tasks.ReadTimeout, tasks.KindRead)}, 0, false, 0},
		{"PATCH reset not retried", `3`, "PATCH", "", []tasks.Try{exc(tasks.ConnectionError, tasks.KindRead)}, 0, false, 0},
		{"POST connect error retried", `3`, "POST", "", []tasks.Try{exc(tasks.ConnectionError, tasks.KindConnect)}, 0, true, 0},
		{"POST 503 not retried", `{"status_forcelist": [503]}`, "POST", "", []tasks.Try{status(503)}, 0, false, 0},
		{"POST allowed", `{"status_forcelist": [503], "allowed_methods": ["POST"]}`, "POST", "", []tasks.Try{status(503)}, 0, true, 0},
		{"500 not in forcelist", `3`, "GET", "", []tasks.Try{status(500)}, 0, false, 0},
		{"429 with Retry-After, no forcelist", `3`, "GET", "2", []tasks.Try{status(429)}, 0, true, 2 * time.Second},
		{"Retry-After capped by the worker", `3`, "GET", "600", []tasks.Try{status(503)}, time.Minute, true, time.Minute},
		{"Retry-After as a date", `3`, "GET", now.Add(30 * time.Second).Format(http.TimeFormat), []tasks.Try{status(503)}, 0, true, 30 * time.Second},
		{"Retry-After not respected", `{"respect_retry_after_header": false, "status_forcelist": [503]}`, "GET", "9", []tasks.Try{status(503)}, 0, true, 0},
		{"total used up", `2`, "GET", "", []tasks.Try{exc(tasks.ConnectTimeout, tasks.KindConnect), exc(tasks.ConnectTimeout, tasks.KindConnect), exc(tasks.ConnectTimeout, tasks.KindConnect)}, 0, false, 0},
		{"backoff second retry", `{"total": 3, "backoff_factor": 0.5}`, "GET", "", []tasks.Try{exc(tasks.ConnectTimeout, tasks.KindConnect), exc(tasks.ConnectTimeout, tasks.KindConnect)}, 0, true, time.Second},
		{"backoff first retry is 0", `{"total": 3, "backoff_factor": 0.5}`, "GET", "", []tasks.Try{exc(tasks.ConnectTimeout, tasks.KindConnect)}, 0, true, 0},
		{"backoff capped", `{"total": 9, "backoff_factor": 10, "backoff_max": 15}`, "GET", "", []tasks.Try{status(503), status(503), status(503)}, 0, false, 0},
		{"never retried kind", `3`, "GET", "", []tasks.Try{exc(tasks.ChunkedEncodingError, tasks.KindNone)}, 0, false, 0},
		{"exceptions filter", `{"exceptions": ["ReadTimeout"]}`, "GET", "", []tasks.Try{exc(tasks.ConnectTimeout, tasks.KindConnect)}, 0, false, 0},
		{"exceptions filter passes", `{"exceptions": ["ReadTimeout"]}`, "GET", "", []tasks.Try{exc(tasks.ReadTimeout, tasks.KindRead)}, 0, true, 0},
		{"total false", `{"total": false}`, "GET", "", []tasks.Try{exc(tasks.ConnectTimeout, tasks.KindConnect)}, 0, false, 0},
		{"zero retries", `0`, "GET", "", []tasks.Try{exc(tasks.ConnectTimeout, tasks.KindConnect)}, 0, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := decodeRetries(t, tt.policy)
			d := r.Next(tt.method, tt.tries, tt.retryAfter, now, tt.maxRetryAfter)
			if d.Again != tt.again || (d.Again && d.After != tt.after) {
				t.Fatalf("Next = %+v, want again %v after %v", d, tt.again, tt.after)
			}
		})
	}
	// Whatever the policy, MaxRetries retries at most.
	r := decodeRetries(t, `{"total": null, "other": null}`)
	tries := make([]tasks.Try, tasks.MaxRetries+1)
	for i := range tries {
		tries[i] = exc(tasks.SSLError, tasks.KindOther)
	}
	if d := r.Next("GET", tries[:tasks.MaxRetries], "", now, 0); !d.Again {
		t.Fatalf("retry %d refused", tasks.MaxRetries)
	}
	if d := r.Next("GET", tries, "", now, 0); d.Again {
		t.Fatalf("retried past %d retries", tasks.MaxRetries)
	}
}

// diffEvent is one try of a diff case, as urllib3_retry.py builds it.
type diffEvent struct {
	Error   string            `json:"error,omitempty"`
	Status  int               `json:"status,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
}

type diffCase struct {
	Policy json.RawMessage `json:"policy"`
	Method string          `json:"method"`
	Tries  []diffEvent     `json:"tries"`
}

type diffDecision struct {
	Again bool    `json:"again"`
	After float64 `json:"after"`
}

// TestRetryMatchesUrllib3 runs urllib3's own Retry (testdata/retry/
// urllib3_retry.py) beside Retry.Next over a table of policies, methods and
// runs of tries (errors of each kind, statuses with and without
// Retry-After, redirects) and diffs every decision: whether to try again
// (is_retry, the counters, increment's exhaustion) and how long to wait
// (get_backoff_time, Retry-After).
func TestRetryMatchesUrllib3(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	if exec.Command(py, "-c", "import urllib3").Run() != nil {
		t.Skip("python3 has no urllib3")
	}
	policies := []string{`0`, `1`, `3`, `10`,
		`{"total": 3, "status_forcelist": [500, 502, 503], "backoff_factor": 0.5}`,
		`{"total": 5, "connect": 1, "read": 2, "status": 2, "status_forcelist": [503], "backoff_factor": 1, "backoff_max": 3}`,
		`{"total": null, "connect": 2, "read": 1, "other": 1, "status": 1, "status_forcelist": [429, 503]}`,
		`{"total": 4, "read": false, "status_forcelist": [503]}`,
		`{"total": 4, "connect": false}`,
		`{"total": false, "status_forcelist": [503]}`,
		`{"total": 6, "allowed_methods": null, "status_forcelist": [503, 413]}`,
		`{"total": 6, "allowed_methods": ["POST", "GET"], "status_forcelist": [503]}`,
		`{"total": 6, "respect_retry_after_header": false, "status_forcelist": [429]}`,
		`{"total": 6, "status_forcelist": [302, 503], "redirect": 1, "backoff_factor": 0.25}`,
		`{"total": 6, "retry_after_max": 3}`,
		`{"total": 8, "backoff_factor": 0.3, "backoff_max": 100}`,
	}
	events := []diffEvent{
		{Error: "connect"}, {Error: "connect_timeout"}, {Error: "read"}, {Error: "protocol"}, {Error: "other"},
		{Status: 200}, {Status: 500}, {Status: 503}, {Status: 503, Headers: map[string]string{"Retry-After": "2"}},
		{Status: 429, Headers: map[string]string{"Retry-After": "0"}}, {Status: 429, Headers: map[string]string{"Retry-After": " 7 "}},
		{Status: 413, Headers: map[string]string{"Retry-After": "5"}}, {Status: 500, Headers: map[string]string{"Retry-After": "1"}},
		{Status: 503, Headers: map[string]string{"Retry-After": "soon"}}, {Status: 302, Headers: map[string]string{"Location": "/next"}},
		{Status: 302}, {Status: 429},
	}
	// HTTP dates, read against now on both sides.
	now := time.Now()
	date := now.Add(20 * time.Second).UTC().Format(http.TimeFormat)
	events = append(events, diffEvent{Status: 503, Headers: map[string]string{"Retry-After": date}},
		diffEvent{Status: 429, Headers: map[string]string{"Retry-After": now.Add(-time.Hour).UTC().Format(http.TimeFormat)}})
	rng := rand.New(rand.NewPCG(1, 2))
	var cases []diffCase
	for _, p := range policies {
		for _, m := range []string{"GET", "POST", "PATCH", "PUT", "DELETE"} {
			for range 12 {
				n := 1 + rng.IntN(7)
				c := diffCase{Policy: json.RawMessage(p), Method: m}
				for range n {
					c.Tries = append(c.Tries, events[rng.IntN(len(events))])
				}
				cases = append(cases, c)
			}
		}
	}
	in, err := json.Marshal(map[string]any{"now": float64(now.UnixNano()) / 1e9, "cases": cases})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "testdata/retry/urllib3_retry.py")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("urllib3_retry.py: %v: %s", err, stderr.String())
	}
	var got struct {
		Version string           `json:"version"`
		Results [][]diffDecision `json:"results"`
	}
	if err := json.Unmarshal(out, &got); err != nil || len(got.Results) != len(cases) {
		t.Fatalf("urllib3_retry.py answered %d results for %d cases (%v)", len(got.Results), len(cases), err)
	}
	t.Logf("urllib3 %s, %d cases", got.Version, len(cases))
	failures := 0
	for i, c := range cases {
		r := decodeRetries(t, string(c.Policy))
		var tries []tasks.Try
		var mine []diffDecision
		for _, e := range c.Tries {
			tries = append(tries, e.try(now))
			d := r.Next(c.Method, tries, e.Headers["Retry-After"], now, 0)
			mine = append(mine, diffDecision{Again: d.Again, After: d.After.Seconds()})
			if !d.Again {
				break
			}
		}
		if !sameDecisions(mine, got.Results[i]) && failures < 10 {
			failures++
			t.Errorf("case %d: policy %s, %s, tries %+v:\nreqfleet %+v\n  urllib3 %+v", i, c.Policy, c.Method, c.Tries, mine, got.Results[i])
		}
	}
}

func (e diffEvent) try(now time.Time) tasks.Try {
	at := tasks.TryTime{Time: now}
	switch e.Error {
	case "connect":
		return tasks.Try{Exception: tasks.ConnectionError, Kind: tasks.KindConnect, At: at}
	case "connect_timeout":
		return tasks.Try{Exception: tasks.ConnectTimeout, Kind: tasks.KindConnect, At: at}
	case "read":
		return tasks.Try{Exception: tasks.ReadTimeout, Kind: tasks.KindRead, At: at}
	case "protocol":
		return tasks.Try{Exception: tasks.ConnectionError, Kind: tasks.KindRead, At: at}
	case "other":
		return tasks.Try{Exception: tasks.SSLError, Kind: tasks.KindOther, At: at}
	}
	resp := &tasks.Response{StatusCode: e.Status, Headers: e.Headers, FinishedAt: now}
	return tasks.TryOf(resp)
}

func sameDecisions(a, b []diffDecision) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Again != b[i].Again || math.Abs(a[i].After-b[i].After) > 0.001 {
			return false
		}
	}
	return true
}

func TestRetryFlags(t *testing.T) {
	tests := []struct {
		total   int
		on      string
		backoff float64
		want    string // the policy as JSON, or the field of the error
	}{
		{0, "", 0, "null"},
		{3, "", 0, "3"},
		{3, "429, 503,ConnectionError", 0.5, `{"total":3,"connect":null,"read":null,"redirect":null,"status":null,"other":null,"status_forcelist":[429,503],` +
			`"allowed_methods":["DELETE","GET","HEAD","OPTIONS","PUT","TRACE"],"backoff_factor":0.5,"backoff_max":120,"backoff_jitter":0,` +
			`"respect_retry_after_header":true,"retry_after_max":21600,"exceptions":["ConnectionError"]}`},
		{2, "", 1, `{"total":2,"connect":null,"read":null,"redirect":null,"status":null,"other":null,"status_forcelist":[],` +
			`"allowed_methods":["DELETE","GET","HEAD","OPTIONS","PUT","TRACE"],"backoff_factor":1,"backoff_max":120,"backoff_jitter":0,` +
			`"respect_retry_after_header":true,"retry_after_max":21600}`},
		{0, "503", 0, "retry_on"},
		{0, "", 1, "retry_backoff"},
		{-1, "", 0, "retries"},
		{3, "Timeout", 0, "retry_on"},
		{3, "", -1, "retry_backoff"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.total, tt.on, tt.backoff), func(t *testing.T) {
			p, err := tasks.RetryFlags(tt.total, tt.on, tt.backoff)
			var fe *tasks.FieldError
			if errors.As(err, &fe) {
				if fe.Field != tt.want {
					t.Fatalf("error %v, want one naming %s", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(p)
			if string(b) != tt.want {
				t.Fatalf("policy %s\nwant %s", b, tt.want)
			}
		})
	}
}
