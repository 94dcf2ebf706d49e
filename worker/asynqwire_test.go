package worker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/testredis"
)

// The message asynq's Client writes decodes to the options it was given,
// and the keys the fetcher uses are where asynq keeps the task.
func TestDecodeTaskMessageMatchesAsynq(t *testing.T) {
	rdb := miniRedis(t)
	ctx := context.Background()
	c := asynq.NewClientFromRedisClient(rdb)
	deadline := time.Now().Add(time.Hour).Truncate(time.Second)
	tests := []struct {
		name string
		opts []asynq.Option
		want taskMessage
	}{
		{"as reqfleet enqueues", []asynq.Option{asynq.TaskID("b:1:a"), asynq.MaxRetry(25), asynq.Timeout(10 * time.Minute), asynq.Retention(0)},
			taskMessage{id: "b:1:a", retry: 25, timeout: 600}},
		{"deadline and unique", []asynq.Option{asynq.TaskID("b:1:b"), asynq.MaxRetry(0), asynq.Deadline(deadline), asynq.Unique(time.Hour)},
			taskMessage{id: "b:1:b", deadline: deadline.Unix()}},
		{"asynq's defaults", []asynq.Option{asynq.TaskID("b:1:c")},
			taskMessage{id: "b:1:c", retry: 25, timeout: 1800}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			payload := []byte(`{"payload":"` + tc.name + `"}`)
			opts := append([]asynq.Option{asynq.Queue("wire")}, tc.opts...)
			if _, err := c.Enqueue(asynq.NewTask("request", payload), opts...); err != nil {
				t.Fatal(err)
			}
			if n := rdb.LLen(ctx, asynqPendingKey("wire")).Val(); n == 0 {
				t.Fatalf("nothing on %s", asynqPendingKey("wire"))
			}
			raw, err := rdb.HGet(ctx, asynqTaskKey("wire", tc.want.id), "msg").Bytes()
			if err != nil {
				t.Fatalf("task hash %s: %v", asynqTaskKey("wire", tc.want.id), err)
			}
			m, err := decodeTaskMessage(raw)
			if err != nil {
				t.Fatal(err)
			}
			if m.typ != "request" || string(m.payload) != string(payload) || m.queue != "wire" || m.id != tc.want.id ||
				m.retry != tc.want.retry || m.retried != 0 || m.timeout != tc.want.timeout || m.deadline != tc.want.deadline {
				t.Fatalf("decoded %+v, want %+v", m, tc.want)
			}
			if (m.uniqueKey != "") != (tc.want.deadline != 0) {
				t.Fatalf("unique key %q", m.uniqueKey)
			}
			if m.uniqueKey != "" && rdb.Get(ctx, m.uniqueKey).Val() != m.id {
				t.Fatalf("unique key %q does not hold the task id", m.uniqueKey)
			}
		})
	}
}

// withFailure is read back by asynq as the error and time of the failure.
func TestWithFailureAsAsynqReadsIt(t *testing.T) {
	testredis.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		enqueueRaw(t, rdb, "w", "t1", []byte("not a job"))
		at := time.Unix(1_900_000_000, 0)
		f := newTestFetcher(t, rdb, fetcherConfig{queues: map[string]int{"w": 1}, now: func() time.Time { return at }}, nil)
		got, err := f.fetch(1)
		if err != nil || got != 1 {
			t.Fatalf("fetched %d, %v", got, err)
		}
		j := <-f.jobs
		f.archive(j, "bad payload")
		info, err := asynq.NewInspectorFromRedisClient(rdb).GetTaskInfo("w", "t1")
		if err != nil {
			t.Fatal(err)
		}
		if info.State != asynq.TaskStateArchived || info.LastErr != "bad payload" || !info.LastFailedAt.Equal(at) || string(info.Payload) != "not a job" {
			t.Fatalf("archived task: state %v, last error %q at %v, payload %q", info.State, info.LastErr, info.LastFailedAt, info.Payload)
		}
		raw, _ := rdb.HGet(ctx, asynqTaskKey("w", "t1"), "msg").Bytes()
		if m, err := decodeTaskMessage(raw); err != nil || m.id != "t1" || m.retry != 25 {
			t.Fatalf("archived message decodes to %+v, %v", m, err)
		}
	})
}

func TestDecodeTaskMessageRejects(t *testing.T) {
	for _, b := range [][]byte{
		nil,                      // no id
		{0x0a, 0x05, 'a'},        // truncated string
		{0xff, 0xff, 0xff, 0xff}, // bad tag
		{0x1a, 0x00},             // empty id
	} {
		if _, err := decodeTaskMessage(b); !errors.Is(err, errBadMessage) {
			t.Errorf("decodeTaskMessage(%x) = %v, want errBadMessage", b, err)
		}
	}
}

func FuzzDecodeTaskMessage(f *testing.F) {
	f.Add([]byte{0x0a, 0x07, 'r', 'e', 'q', 'u', 'e', 's', 't', 0x1a, 0x01, 'x'})
	f.Add(taskMessage{raw: []byte{0x1a, 0x01, 'x'}}.withFailure("e", time.Unix(1, 0)))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeTaskMessage(b)
		if err == nil && m.id == "" {
			t.Fatal("decoded a message without an id")
		}
	})
}

func TestContextDeadline(t *testing.T) {
	start := time.Unix(1000, 0)
	tests := []struct {
		name              string
		timeout, deadline int64
		want              time.Time
	}{
		{"none", 0, 0, time.Time{}},
		{"timeout", 60, 0, time.Unix(1060, 0)},
		{"deadline", 0, 2000, time.Unix(2000, 0)},
		{"deadline first", 600, 1100, time.Unix(1100, 0)},
		{"timeout first", 30, 2000, time.Unix(1030, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := taskMessage{timeout: tc.timeout, deadline: tc.deadline}.contextDeadline(start)
			if !got.Equal(tc.want) {
				t.Fatalf("contextDeadline = %v, want %v", got, tc.want)
			}
		})
	}
}
