package tasks_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/reqfleet/reqfleet/tasks"
)

// FuzzDecodeJob checks that DecodeJob never panics, that its errors always
// wrap one of the sentinels, and that a decoded job survives json.Marshal
// and DecodeJob unchanged, in the form it was given as in the normalised
// form (outcomes carry the request whole for retry).
func FuzzDecodeJob(f *testing.F) {
	for _, seed := range []string{
		// valid
		`{"url": "http://x"}`,
		`{"method": "post", "url": " https://example.com/a?b=c", "id": "a:1"}`,
		`{"url": "example.com", "params": {"a": 1, "b": [true, null, "c"], "d": null, "e": 1.50, "f": -1e3}}`,
		`{"url": "ftp://x", "params": "a=1&b", "data": [["k", "v"], ["k", 2], ["n", null], ["l", [1, "2"]]]}`,
		`{"url": "http://x", "data": {}, "params": []}`,
		`{"url": "http://x", "headers": {"X-Token": "t", "Accept": "*/*"}, "cookies": {"sid": "abc="}}`,
		`{"url": "http://x", "headers": {}, "cookies": {}}`,
		`{"url": "http://x", "json": { "a" : [ 1, "<b>&", null ] }, "meta": {"row": 7}}`,
		`{"url": "http://x", "json": false, "meta": "\u2028"}`,
		`{"url": "http://x", "auth": ["user", "pass"], "timeout": 5}`,
		`{"url": "http://x", "timeout": [3.05, 27], "allow_redirects": false}`,
		`{"url": "http://x", "timeout": [null, 1.234567891]}`,
		`{"url": "http://x", "timeout": 0.000000001}`,
		`{"url": "http://x", "timeout": 86400}`,
		`{"url": "http://x", "timeout": [null, null]}`,
		`{"id": null, "method": null, "url": "http://x", "params": null, "headers": null, "data": null,
			"json": null, "cookies": null, "auth": null, "timeout": null, "allow_redirects": null, "meta": null}`,
		"{\"url\": \"http://x/\xff\", \"id\": \"\xfe\"}",
		`{"url": "\u00a0http://x", "params": {"é": "ü", "": ""}}`,
		`{"url": "http://x", "retries": 3}`, `{"url": "http://x", "retries": 3.0}`,
		`{"url": "http://x", "retries": {"total": null, "read": false, "status_forcelist": [503, 503], "allowed_methods": null,
			"backoff_factor": 0.1, "backoff_jitter": 1e-3, "retry_after_max": 60, "exceptions": []}}`,
		`{"url": "http://x", "retries": {"allowed_methods": ["GET", "POST"], "respect_retry_after_header": null}}`,
		`{"url": "http://x", "retries": {"bogus": 1}}`, `{"url": "http://x", "retries": -1}`, `{"url": "http://x", "retries": {"total": 1e400}}`,
		// invalid
		``, `{`, `{}`, `null`, `[]`, `"http://x"`, `1`, `true`,
		`{"url": null}`, `{"url": ""}`, `{"url": 5}`, `{"url": "   "}`,
		`{"url": "http://x"} x`, `{"url": "http://x"}{}`, `{'url': 'x'}`,
		`{"url": "http://x", "method": "GE T"}`, `{"url": "http://x", "method": ""}`,
		`{"url": "http://x", "id": ""}`, `{"url": "http://x", "id": "a\nb"}`,
		`{"url": "http://x", "headers": {"X": "a\r\nb"}}`, `{"url": "http://x", "headers": {"X Y": "b"}}`,
		`{"url": "http://x", "headers": {"X": 1}}`, `{"url": "http://x", "cookies": {"a": "b;c"}}`,
		`{"url": "http://x", "auth": ["u"]}`, `{"url": "http://x", "auth": [1, 2]}`,
		`{"url": "http://x", "timeout": 0}`, `{"url": "http://x", "timeout": -1}`, `{"url": "http://x", "timeout": 1e400}`,
		`{"url": "http://x", "timeout": "5"}`, `{"url": "http://x", "timeout": [1, 2, 3]}`, `{"url": "http://x", "timeout": [0, 1]}`,
		`{"url": "http://x", "allow_redirects": "yes"}`,
		`{"url": "http://x", "params": {"a": {"b": 1}}}`, `{"url": "http://x", "params": [["a"]]}`, `{"url": "http://x", "data": 5}`,
		`{"url": "http://x", "files": {}}`, `{"url": "http://x", "verify": false}`, `{"url": "http://x", "bogus": 1}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := tasks.DecodeJob(data)
		if err != nil {
			n := 0
			for _, s := range sentinels {
				if errors.Is(err, s) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("DecodeJob(%q): error %q wraps %d sentinels, want 1", data, err, n)
			}
			var fe *tasks.FieldError
			if errors.As(err, &fe) && fe.Field == "" && !errors.Is(err, tasks.ErrUnknownField) { // the key "" is unknown
				t.Fatalf("DecodeJob(%q): error %q names no field", data, err)
			}
			if !reflect.DeepEqual(j, tasks.Job{}) {
				t.Fatalf("DecodeJob(%q) failed but returned %#v", data, j)
			}
			return
		}
		if j.URL == "" || j.Method == "" {
			t.Fatalf("DecodeJob(%q) = %#v: no url or method", data, j)
		}
		b, err := json.Marshal(j)
		if err != nil {
			t.Fatalf("json.Marshal(%#v): %v", j, err)
		}
		j2, err := tasks.DecodeJob(b)
		if err != nil {
			t.Fatalf("DecodeJob(json.Marshal(DecodeJob(%q))) = %s: %v", data, b, err)
		}
		// json.Marshal escapes <, >, &, U+2028 and U+2029 in a
		// json.RawMessage: the same JSON, written differently.
		if j.JSON != nil {
			j.JSON = htmlEscape(j.JSON)
		}
		if j.Meta != nil {
			j.Meta = htmlEscape(j.Meta)
		}
		if !reflect.DeepEqual(tasks.WithoutSum(j), tasks.WithoutSum(j2)) {
			t.Fatalf("round trip of %q through %s:\n got %#v\nwant %#v", data, b, j2, j)
		}
		b2, err := json.Marshal(j2)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("json.Marshal after the round trip = %s, %v; want %s", b2, err, b)
		}
		// The normalised form (a job built in Go) round-trips too.
		n := j.Normalized()
		nb, err := json.Marshal(n)
		if err != nil {
			t.Fatalf("json.Marshal(%#v): %v", n, err)
		}
		n2, err := tasks.DecodeJob(nb)
		if err != nil {
			t.Fatalf("DecodeJob of the normalised form %s: %v", nb, err)
		}
		if n2 := n2.Normalized(); !reflect.DeepEqual(n, n2) {
			t.Fatalf("normalised round trip of %q through %s:\n got %#v\nwant %#v", data, nb, n2, n)
		}
	})
}
