package tasks_test

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/reqfleet/reqfleet/tasks"
)

func TestTaskRoundTrip(t *testing.T) {
	jobs := []string{
		`{"id": "j1", "url": "http://x"}`,
		`{"id": "a:b:c", "method": "post", "url": "http://x", "params": {"a": [1, 2]}, "data": "raw",
			"headers": {"A": "b"}, "json": {"k": "<v>"}, "cookies": {"c": "d"}, "auth": ["u", "p"],
			"timeout": [null, 1.234567891], "allow_redirects": false, "meta": [1, {"x": null}]}`,
	}
	for _, in := range jobs {
		t.Run(in, func(t *testing.T) {
			task := tasks.Task{Batch: "batch-1", Attempt: 3, Job: mustDecode(t, in)}
			b, err := task.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := tasks.DecodeTask(b)
			if err != nil {
				t.Fatalf("DecodeTask(%s): %v", b, err)
			}
			if len(task.Job.JSON) > 0 {
				task.Job.JSON = htmlEscape(task.Job.JSON)
			}
			got.Job, task.Job = tasks.WithoutSum(got.Job), tasks.WithoutSum(task.Job)
			if !reflect.DeepEqual(got, task) {
				t.Errorf("round trip:\n got %#v\nwant %#v", got, task)
			}
		})
	}
}

func TestTaskMarshalShape(t *testing.T) {
	task := tasks.Task{Batch: "b", Attempt: 1, Job: mustDecode(t, `{"id": "j", "url": "http://x"}`)}
	b, err := task.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"batch":"b","attempt":1,"job":{"id":"j","url":"http://x"}}`
	if string(b) != want {
		t.Errorf("Marshal() = %s, want %s", b, want)
	}
}

func TestTaskIDs(t *testing.T) {
	tests := []struct {
		batch   string
		attempt int
		id      string
		taskID  string
		outcome string
	}{
		{"b1", 1, "j1", "b1:1:j1", "1:j1"},
		{"b1", 12, "j1", "b1:12:j1", "12:j1"},
		{"b1", 1, "a:2:b", "b1:1:a:2:b", "1:a:2:b"},
		{"01J9Z", 2, "1:x", "01J9Z:2:1:x", "2:1:x"},
	}
	for _, tt := range tests {
		t.Run(tt.taskID, func(t *testing.T) {
			task := tasks.Task{Batch: tt.batch, Attempt: tt.attempt, Job: tasks.Job{ID: tt.id, URL: "http://x"}}
			if got := task.TaskID(); got != tt.taskID {
				t.Errorf("TaskID() = %q, want %q", got, tt.taskID)
			}
			got := task.OutcomeKey()
			if got != tt.outcome {
				t.Errorf("OutcomeKey() = %q, want %q", got, tt.outcome)
			}
			// Attempt first: the first ':' ends it, whatever the id holds.
			attempt, id, _ := strings.Cut(got, ":")
			if attempt != strconv.Itoa(tt.attempt) || id != tt.id {
				t.Errorf("OutcomeKey() %q splits as %q, %q", got, attempt, id)
			}
		})
	}
	// Ids that end or start like an attempt stay apart.
	keys := map[string]tasks.Task{}
	for _, task := range []tasks.Task{
		{Batch: "b", Attempt: 1, Job: tasks.Job{ID: "1:x"}},
		{Batch: "b", Attempt: 11, Job: tasks.Job{ID: "x"}},
		{Batch: "b", Attempt: 1, Job: tasks.Job{ID: "1x"}},
		{Batch: "b", Attempt: 1, Job: tasks.Job{ID: "x"}},
		{Batch: "b", Attempt: 2, Job: tasks.Job{ID: "x"}},
	} {
		for _, k := range []string{"t " + task.TaskID(), "o " + task.OutcomeKey()} {
			if other, ok := keys[k]; ok {
				t.Errorf("%+v and %+v share the key %q", other, task, k)
			}
			keys[k] = task
		}
	}
}

func TestTypeRequest(t *testing.T) {
	if tasks.TypeRequest != "reqfleet:request" {
		t.Errorf("TypeRequest = %q", tasks.TypeRequest)
	}
}

func TestDecodeTaskErrors(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    error
		field   string
	}{
		{"batch missing", `{"attempt": 1, "job": {"id": "j", "url": "http://x"}}`, tasks.ErrRequired, "batch"},
		{"batch empty", `{"batch": "", "attempt": 1, "job": {"id": "j", "url": "http://x"}}`, tasks.ErrRequired, "batch"},
		{"batch null", `{"batch": null, "attempt": 1, "job": {"id": "j", "url": "http://x"}}`, tasks.ErrRequired, "batch"},
		{"batch number", `{"batch": 7, "attempt": 1, "job": {"id": "j", "url": "http://x"}}`, tasks.ErrType, "batch"},
		{"attempt missing", `{"batch": "b", "job": {"id": "j", "url": "http://x"}}`, tasks.ErrRequired, "attempt"},
		{"attempt 0", `{"batch": "b", "attempt": 0, "job": {"id": "j", "url": "http://x"}}`, tasks.ErrRequired, "attempt"},
		{"attempt negative", `{"batch": "b", "attempt": -1, "job": {"id": "j", "url": "http://x"}}`, tasks.ErrRequired, "attempt"},
		{"attempt fraction", `{"batch": "b", "attempt": 1.5, "job": {"id": "j", "url": "http://x"}}`, tasks.ErrType, "attempt"},
		{"attempt string", `{"batch": "b", "attempt": "1", "job": {"id": "j", "url": "http://x"}}`, tasks.ErrType, "attempt"},
		{"job missing", `{"batch": "b", "attempt": 1}`, tasks.ErrRequired, "job"},
		{"job null", `{"batch": "b", "attempt": 1, "job": null}`, tasks.ErrRequired, "job"},
		{"job id missing", `{"batch": "b", "attempt": 1, "job": {"url": "http://x"}}`, tasks.ErrRequired, "id"},
		{"job url missing", `{"batch": "b", "attempt": 1, "job": {"id": "j"}}`, tasks.ErrRequired, "url"},
		{"job unknown field", `{"batch": "b", "attempt": 1, "job": {"id": "j", "url": "http://x", "files": {}}}`, tasks.ErrUnknownField, "files"},
		{"job bad timeout", `{"batch": "b", "attempt": 1, "job": {"id": "j", "url": "http://x", "timeout": 0}}`, tasks.ErrValue, "timeout"},
		{"job not an object", `{"batch": "b", "attempt": 1, "job": ["http://x"]}`, tasks.ErrNotObject, ""},
		{"job a string", `{"batch": "b", "attempt": 1, "job": "{\"url\": \"http://x\"}"}`, tasks.ErrNotObject, ""},
		{"payload a list", `[{"batch": "b"}]`, tasks.ErrNotObject, ""},
		{"payload null", `null`, tasks.ErrNotObject, ""},
		{"payload a string", `"b"`, tasks.ErrNotObject, ""},
		{"payload empty", ``, tasks.ErrSyntax, ""},
		{"payload truncated", `{"batch": "b", "attempt": 1, "job": {"id": "j", "url": "http://x"`, tasks.ErrSyntax, ""},
		{"payload with trailing garbage", `{"batch": "b", "attempt": 1, "job": {"id": "j", "url": "http://x"}} x`, tasks.ErrSyntax, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task, err := tasks.DecodeTask([]byte(tt.payload))
			checkErr(t, err, tt.want, tt.field)
			if !wrapsSentinel(err) {
				t.Errorf("error %q wraps more or less than one sentinel", err)
			}
			if !reflect.DeepEqual(task, tasks.Task{}) {
				t.Errorf("a failed decode returned %+v", task)
			}
		})
	}
}

// TestDecodeTaskJSONField checks that a task's job is checked as DecodeJob
// checks it, and that json.Unmarshal into a Task does the same.
func TestDecodeTaskJSONField(t *testing.T) {
	var task tasks.Task
	err := json.Unmarshal([]byte(`{"batch": "b", "attempt": 1, "job": {"id": "j", "url": "http://x", "cert": "c.pem"}}`), &task)
	checkErr(t, err, tasks.ErrUnknownField, "cert")
}
