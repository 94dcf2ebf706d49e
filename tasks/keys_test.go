package tasks_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/reqfleet/reqfleet/tasks"
)

func TestKeys(t *testing.T) {
	const q, b = "crawl:eu", "01J9ZBATCH"
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"results", tasks.ResultsKey(q), "reqfleet:{crawl:eu}:results"},
		{"exceptions", tasks.ExceptionsKey(q), "reqfleet:{crawl:eu}:exceptions"},
		{"retrying", tasks.RetryingKey(q), "reqfleet:{crawl:eu}:retrying"},
		{"batches", tasks.BatchesKey(q), "reqfleet:{crawl:eu}:batches"},
		{"batch", tasks.BatchKey(q, b), "reqfleet:{crawl:eu}:batch:01J9ZBATCH"},
		{"seen", tasks.SeenKey(q, b), "reqfleet:{crawl:eu}:seen:01J9ZBATCH"},
		{"workers", tasks.WorkersKey(q), "reqfleet:{crawl:eu}:workers"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("key = %q, want %q", tt.got, tt.want)
			}
			// Redis Cluster hashes the text between the first '{' and the
			// next '}': it must be the queue, so a queue's keys share a slot.
			open := strings.IndexByte(tt.got, '{')
			end := strings.IndexByte(tt.got[open+1:], '}')
			if open < 0 || end < 0 || tt.got[open+1:open+1+end] != q {
				t.Errorf("key %q does not carry the hash tag {%s}", tt.got, q)
			}
			if other, ok := seen[tt.got]; ok {
				t.Errorf("key %q shared with %s", tt.got, other)
			}
			seen[tt.got] = tt.name
		})
	}
}

func TestBatchFields(t *testing.T) {
	fields := []string{tasks.BatchAccepted, tasks.BatchTotal, tasks.BatchSealed, tasks.BatchDone,
		tasks.BatchResponses, tasks.BatchExceptions, tasks.BatchCreated}
	seen := map[string]bool{}
	for _, f := range fields {
		if f == "" || seen[f] {
			t.Errorf("batch field %q empty or repeated", f)
		}
		seen[f] = true
	}
}

func TestValidateQueue(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"default", true},
		{"q", true},
		{"crawl-eu_1.v2:high", true},
		{"UPPER", true},
		{"0", true},
		{strings.Repeat("q", 128), true},
		{"", false},
		{strings.Repeat("q", 129), false},
		{"a b", false},
		{"a{b", false},
		{"a}b", false},
		{"{q}", false},
		{"a/b", false},
		{"a*", false},
		{"é", false},
		{"q\n", false},
		{"q\x00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tasks.ValidateQueue(tt.name)
			if tt.ok {
				if err != nil {
					t.Errorf("ValidateQueue(%q) = %v", tt.name, err)
				}
				return
			}
			if !errors.Is(err, tasks.ErrQueue) {
				t.Errorf("ValidateQueue(%q) = %v, want ErrQueue", tt.name, err)
			}
		})
	}
}
