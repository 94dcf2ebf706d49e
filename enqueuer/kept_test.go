package enqueuer

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/reqfleet/reqfleet/tasks"
)

// keptJobs are job lines as a user writes them, and the job each payload
// must carry: the line compacted, with the generated id (GEN) first when it
// had none.
var keptJobs = []struct{ line, want string }{
	{`{"url": "http://h/a", "params": {"page": 2}}`, `{"id":GEN,"url":"http://h/a","params":{"page":2}}`},
	{`{"method": "post", "url": "http://h/b", "id": "mine", "json": {"f": 1.0, "e": 1e3}}`,
		`{"method":"post","url":"http://h/b","id":"mine","json":{"f":1.0,"e":1e3}}`},
	{`{"url": "http://h/c", "headers": {"X-Name": null, "Authorization": "Bearer s"}, "timeout": [3, null]}`,
		`{"id":GEN,"url":"http://h/c","headers":{"X-Name":null,"Authorization":"Bearer s"},"timeout":[3,null]}`},
}

// payloadJobs returns the job of every pending payload, as the queue holds
// it, by task id.
func payloadJobs(t *testing.T, v *env) map[string]string {
	t.Helper()
	infos, err := v.insp.ListPendingTasks(testQueue, asynq.PageSize(100))
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string)
	for _, info := range infos {
		var p struct{ Job json.RawMessage }
		if err := json.Unmarshal(info.Payload, &p); err != nil {
			t.Fatal(err)
		}
		out[info.ID] = string(p.Job)
	}
	return out
}

// wantPayload is the payload's job expected for task, by its URL.
func wantPayload(t *testing.T, task tasks.Task) string {
	t.Helper()
	id, err := json.Marshal(task.Job.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keptJobs {
		if strings.Contains(k.want, `"url":"`+task.Job.URL+`"`) {
			return strings.Replace(k.want, "GEN", string(id), 1)
		}
	}
	t.Fatalf("task %s: url %s not enqueued", task.TaskID(), task.Job.URL)
	return ""
}

// byURL maps the tasks by their job's URL (they are enqueued concurrently).
func byURL(ts []tasks.Task) map[string]tasks.Task {
	m := make(map[string]tasks.Task, len(ts))
	for _, task := range ts {
		m[task.Job.URL] = task
	}
	return m
}

// TestPayloadKeepsJob checks that the payload carries each job as it was
// given, with its id, and that retrying its exception re-enqueues the same
// job with the same id.
func TestPayloadKeepsJob(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		v := newMini(t, path)
		var lines []string
		for _, k := range keptJobs {
			lines = append(lines, k.line)
		}
		ctx := context.Background()
		if _, err := v.e.EnqueueMany(ctx, ReadJSONL(strings.NewReader(strings.Join(lines, "\n")), 0)); err != nil {
			t.Fatal(err)
		}
		first := v.pending(t)
		if len(first) != len(keptJobs) {
			t.Fatalf("%d tasks queued, want %d", len(first), len(keptJobs))
		}
		jobs := payloadJobs(t, v)
		for _, task := range first {
			if got, want := jobs[task.TaskID()], wantPayload(t, task); got != want {
				t.Errorf("payload's job:\n got %s\nwant %s", got, want)
			}
		}
		firstByURL := byURL(first)

		v.work(t, func(tasks.Task) string { return tasks.ConnectionError })
		if rep, err := v.e.Retry(ctx, RetryOptions{}); err != nil || rep.Retried != len(keptJobs) {
			t.Fatalf("retry: %+v, %v", rep, err)
		}
		retried := v.pending(t)
		if len(retried) != len(first) {
			t.Fatalf("%d tasks retried, want %d", len(retried), len(first))
		}
		jobs = payloadJobs(t, v)
		for _, task := range retried {
			orig := firstByURL[task.Job.URL]
			if task.Attempt != 2 || task.Batch != orig.Batch || task.Job.ID != orig.Job.ID {
				t.Errorf("retried task %s, want attempt 2 of %s", task.TaskID(), orig.TaskID())
			}
			if !reflect.DeepEqual(task.Job, orig.Job) {
				t.Errorf("retried job:\n got %#v\nwant %#v", task.Job, orig.Job)
			}
			if got, want := jobs[task.TaskID()], wantPayload(t, orig); got != want {
				t.Errorf("retried payload's job:\n got %s\nwant %s", got, want)
			}
		}
	})
}
