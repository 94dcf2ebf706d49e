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
