package rdb

import (
	"strings"
	"testing"
)

func TestKeys(t *testing.T) {
	const q, b = "crawl:eu", "01J9ZBATCH"
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"results", ResultsKey(q), "reqfleet:{crawl:eu}:results"},
		{"exceptions", ExceptionsKey(q), "reqfleet:{crawl:eu}:exceptions"},
		{"retrying", RetryingKey(q), "reqfleet:{crawl:eu}:retrying"},
		{"batches", BatchesKey(q), "reqfleet:{crawl:eu}:batches"},
		{"batch", BatchKey(q, b), "reqfleet:{crawl:eu}:batch:01J9ZBATCH"},
		{"seen", SeenKey(q, b), "reqfleet:{crawl:eu}:seen:01J9ZBATCH"},
		{"inbox", InboxKey(q), "reqfleet:{crawl:eu}:inbox"},
		{"inbox processing", InboxProcessingKey(q), "reqfleet:{crawl:eu}:inbox:processing"},
		{"inbox lease", InboxLeaseKey(q), "reqfleet:{crawl:eu}:inbox:lease"},
		{"inbox seq", InboxSeqKey(q), "reqfleet:{crawl:eu}:inbox:seq"},
		{"asynq pending", PendingKey(q), "asynq:{crawl:eu}:pending"},
		{"asynq paused", PausedKey(q), "asynq:{crawl:eu}:paused"},
		{"asynq active", ActiveKey(q), "asynq:{crawl:eu}:active"},
		{"asynq lease", LeaseKey(q), "asynq:{crawl:eu}:lease"},
		{"asynq archived", ArchivedKey(q), "asynq:{crawl:eu}:archived"},
		{"asynq task", TaskKey(q, "t1"), "asynq:{crawl:eu}:t:t1"},
		{"asynq processed", ProcessedTotalKey(q), "asynq:{crawl:eu}:processed"},
		{"asynq failed", FailedTotalKey(q), "asynq:{crawl:eu}:failed"},
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
	fields := []string{BatchAccepted, BatchTotal, BatchSealed, BatchDone,
		BatchResponses, BatchExceptions, BatchCreated, BatchRevived}
	seen := map[string]bool{}
	for _, f := range fields {
		if f == "" || seen[f] {
			t.Errorf("batch field %q empty or repeated", f)
		}
		seen[f] = true
	}
}
