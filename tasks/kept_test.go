package tasks_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/reqfleet/reqfleet/tasks"
)

// TestKeptForm checks that the outcome's request is the job as it was given
// (modulo white space, and the id spliced in when the job had none), and
// that it decodes to the same Job, as retry re-sends it.
func TestKeptForm(t *testing.T) {
	tests := []struct {
		name string
		in   string
		id   string // the id given to a job without one, as the enqueuer does
		want string // the outcome's request
	}{
		{"params object", `{"url": "http://x", "params": {"page": 2, "q": [1.50, null, true]}}`, "g",
			`{"id":"g","url":"http://x","params":{"page":2,"q":[1.50,null,true]}}`},
		{"params pairs", `{"url": "http://x", "params": [["a", 1e3], ["a", "b"]]}`, "g",
			`{"id":"g","url":"http://x","params":[["a",1e3],["a","b"]]}`},
		{"params string", `{"url": "http://x", "params": "a=1&b"}`, "g",
			`{"id":"g","url":"http://x","params":"a=1\u0026b"}`},
		{"data", `{"method": "post", "url": "http://x", "data": {"k": "v", "n": -0}}`, "g",
			`{"id":"g","method":"post","url":"http://x","data":{"k":"v","n":-0}}`},
		{"json floats", `{"url": "http://x", "method": "PUT", "json": {"a": 1.0, "b": 1e3, "c": [ 0.10 ]}}`, "g",
			`{"id":"g","url":"http://x","method":"PUT","json":{"a":1.0,"b":1e3,"c":[0.10]}}`},
		{"headers with null", `{"url": "http://x", "headers": {"X-Name": null, "A": "b", "User-Agent": null}}`, "g",
			`{"id":"g","url":"http://x","headers":{"X-Name":null,"A":"b","User-Agent":null}}`},
		{"cookies", `{"url": "http://x", "cookies": {"z": "1", "a": "2"}}`, "g",
			`{"id":"g","url":"http://x","cookies":{"z":"1","a":"2"}}`},
		{"timeout number", `{"url": "http://x", "timeout": 5}`, "g", `{"id":"g","url":"http://x","timeout":5}`},
		{"timeout pair", `{"url": "http://x", "timeout": [3.05, null]}`, "g", `{"id":"g","url":"http://x","timeout":[3.05,null]}`},
		{"auth", `{"url": "http://x", "auth": ["u", "p"], "allow_redirects": false}`, "g",
			`{"id":"g","url":"http://x","auth":["u","p"],"allow_redirects":false}`},
		{"nulls as written", `{"url": "http://x", "data": null, "meta": {"row": null}}`, "g",
			`{"id":"g","url":"http://x","data":null,"meta":{"row":null}}`},
		{"id in its place", `{"url": "http://x", "id": "mine", "meta": 7}`, "", `{"url":"http://x","id":"mine","meta":7}`},
		{"id first", `{"id": "mine", "url": "http://x"}`, "", `{"id":"mine","url":"http://x"}`},
		{"null id replaced in its place", `{"url": "http://x", "id": null, "meta": 7}`, "g", `{"url":"http://x","id":"g","meta":7}`},
		{"last id wins, in its place", `{"id": "a", "url": "http://x", "id": "b"}`, "", `{"url":"http://x","id":"b"}`},
		{"escaped id key", `{"url": "http://x", "\u0069d": "e"}`, "", `{"url":"http://x","id":"e"}`},
		{"no id", `{"url": "http://x"}`, "", `{"url":"http://x"}`},
		{"strings as written", `{"url": "http://x/é\u00e9", "meta": "\u2028\u0041"}`, "g",
			`{"id":"g","url":"http://x/é\u00e9","meta":"\u2028\u0041"}`},
		{"HTML characters escaped as json.Marshal writes them", `{"url": "http://x/?a=1&b=<>"}`, "g",
			`{"id":"g","url":"http://x/?a=1\u0026b=\u003c\u003e"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := mustDecode(t, tt.in)
			if tt.id != "" {
				j.ID = tt.id
			}
			b, err := json.Marshal(tasks.Exception{ID: j.ID, Batch: "b", Request: j, Attempt: 1,
				Exception: tasks.ExceptionInfo{Type: tasks.ReadTimeout}})
			if err != nil {
				t.Fatal(err)
			}
			var m struct{ Request json.RawMessage }
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if string(m.Request) != tt.want {
				t.Errorf("request:\n got %s\nwant %s", m.Request, tt.want)
			}
			e, err := tasks.DecodeException(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(e.Request, j) {
				t.Errorf("retried job:\n got %#v\nwant %#v", e.Request, j)
			}
			if !reflect.DeepEqual(e.Request.Normalized(), j.Normalized()) {
				t.Errorf("retried job's fields:\n got %#v\nwant %#v", e.Request.Normalized(), j.Normalized())
			}
			b2, err := json.Marshal(e.Request)
			if err != nil || string(b2) != tt.want {
				t.Errorf("marshal of the retried job = %s, %v; want %s", b2, err, tt.want)
			}
		})
	}
}

// TestKeptFormChanged checks that a decoded job changed in Go is written
// in the normalised form: the kept form no longer says what it holds.
func TestKeptFormChanged(t *testing.T) {
	const in = `{"url": "http://x", "headers": {"A": "b"}, "params": {"p": 1}}`
	tests := []struct {
		name   string
		change func(j *tasks.Job)
		want   string
	}{
		{"unchanged", func(*tasks.Job) {}, `{"url":"http://x","headers":{"A":"b"},"params":{"p":1}}`},
		{"id only", func(j *tasks.Job) { j.ID = "n" }, `{"id":"n","url":"http://x","headers":{"A":"b"},"params":{"p":1}}`},
		{"url", func(j *tasks.Job) { j.URL = "http://y" },
			`{"method":"GET","url":"http://y","params":[["p","1"]],"headers":{"A":"b"}}`},
		{"header in place", func(j *tasks.Job) { j.Headers["A"] = "c" },
			`{"method":"GET","url":"http://x","params":[["p","1"]],"headers":{"A":"c"}}`},
		{"header added", func(j *tasks.Job) { j.Headers["B"] = "b" },
			`{"method":"GET","url":"http://x","params":[["p","1"]],"headers":{"A":"b","B":"b"}}`},
		{"method", func(j *tasks.Job) { j.Method = "POST" },
			`{"method":"POST","url":"http://x","params":[["p","1"]],"headers":{"A":"b"}}`},
		{"normalized", func(j *tasks.Job) { *j = j.Normalized() },
			`{"method":"GET","url":"http://x","params":[["p","1"]],"headers":{"A":"b"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := mustDecode(t, in)
			tt.change(&j)
			b, err := json.Marshal(j)
			if err != nil || string(b) != tt.want {
				t.Errorf("json.Marshal = %s, %v; want %s", b, err, tt.want)
			}
		})
	}
}

// The id spliced into a kept form is written as json.Marshal writes the
// string, HTML escapes, U+2028 and bytes that are not UTF-8 included, in
// the job's own JSON and in its outcome's request.
func TestKeptFormID(t *testing.T) {
	for _, id := range []string{"g", `a"b\c`, "<&>", "\u2028\u2029", "\xff\xfe", "\x00\x1f", "é"} {
		j, err := tasks.DecodeJob([]byte(`{"url":"http://x","method":"GET"}`))
		if err != nil {
			t.Fatal(err)
		}
		j.ID = id
		v, err := json.Marshal(id)
		if err != nil {
			t.Fatal(err)
		}
		want := `{"id":` + string(v) + `,"url":"http://x","method":"GET"}`
		got, err := json.Marshal(j)
		if err != nil || string(got) != want {
			t.Errorf("id %q: job %s, %v; want %s", id, got, err, want)
		}
		line, err := tasks.AppendOutcome(nil, &tasks.Response{ID: "r", Request: j})
		if err != nil || !strings.Contains(string(line), `"request":`+want+`,`) {
			t.Errorf("id %q: outcome %s, %v; want its request %s", id, line, err, want)
		}
	}
}
