package worker

import (
	"testing"

	"github.com/reqfleet/reqfleet/tasks"
)

func TestDetail(t *testing.T) {
	for _, tc := range []struct {
		name        string
		o           tasks.Outcome
		field, host string
	}{
		{"response", &tasks.Response{StatusCode: 404, Request: tasks.Job{URL: "https://u:secret@Example.COM:8443/p?q=1"}}, "code:404", "example.com:8443"},
		{"exception", &tasks.Exception{Exception: tasks.ExceptionInfo{Type: "ConnectionError"}, Request: tasks.Job{URL: "http://h/"}}, "exc:ConnectionError", "h"},
		{"no host", &tasks.Exception{Exception: tasks.ExceptionInfo{Type: "MissingSchema"}, Request: tasks.Job{URL: "nope"}}, "exc:MissingSchema", "invalid"},
		{"bad url", &tasks.Exception{Exception: tasks.ExceptionInfo{Type: "InvalidURL"}, Request: tasks.Job{URL: "http://[::1"}}, "exc:InvalidURL", "invalid"},
		{"neither", nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, h := detail(tc.o)
			if f != tc.field || h != tc.host {
				t.Errorf("detail = %q, %q; want %q, %q", f, h, tc.field, tc.host)
			}
		})
	}
}

// An exception counts as failed in asynq's counters by the record script
// only when asynq's processor finishes its task (no ack); a fetched one
// counts when finished, an archived one was counted by asynq's archive.
func TestRecordFailed(t *testing.T) {
	exc := &tasks.Exception{Exception: tasks.ExceptionInfo{Type: "ConnectionError"}, Request: tasks.Job{URL: "http://h/"}}
	resp := &tasks.Response{StatusCode: 200, Request: tasks.Job{URL: "http://h/"}}
	for _, tc := range []struct {
		name   string
		o      tasks.Outcome
		a      *ack
		failed bool
	}{
		{"asynq's processor, an exception", exc, nil, true},
		{"asynq's processor, a response", resp, nil, false},
		{"fetched", exc, &ack{id: "t1"}, false},
		{"archived", exc, archivedAck, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := &recordReq{}
			if err := fill(req, "q", tasks.Task{Batch: "B", Attempt: 1, Job: tasks.Job{ID: "j"}}, tc.o, tc.a); err != nil {
				t.Fatal(err)
			}
			if rec := req.record(); rec.Failed != tc.failed || rec.Detail == "" || rec.Host != "h" {
				t.Fatalf("record %+v", rec)
			}
		})
	}
}
