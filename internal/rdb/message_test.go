package rdb

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// The message asynq's Client writes decodes to the options it was given,
// and the keys the fetcher uses are where asynq keeps the task.
func TestDecodeTaskMessageMatchesAsynq(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	c := asynq.NewClientFromRedisClient(rdb)
	deadline := time.Now().Add(time.Hour).Truncate(time.Second)
	tests := []struct {
		name string
		opts []asynq.Option
		want TaskMessage
	}{
		{"as reqfleet enqueues", []asynq.Option{asynq.TaskID("b:1:a"), asynq.MaxRetry(25), asynq.Timeout(10 * time.Minute), asynq.Retention(0)},
			TaskMessage{ID: "b:1:a", Retry: 25, Timeout: 600}},
		{"deadline and unique", []asynq.Option{asynq.TaskID("b:1:b"), asynq.MaxRetry(0), asynq.Deadline(deadline), asynq.Unique(time.Hour)},
			TaskMessage{ID: "b:1:b", Deadline: deadline.Unix()}},
		{"asynq's defaults", []asynq.Option{asynq.TaskID("b:1:c")},
			TaskMessage{ID: "b:1:c", Retry: 25, Timeout: 1800}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			payload := []byte(`{"payload":"` + tc.name + `"}`)
			opts := append([]asynq.Option{asynq.Queue("wire")}, tc.opts...)
			if _, err := c.Enqueue(asynq.NewTask("request", payload), opts...); err != nil {
				t.Fatal(err)
			}
			if n := rdb.LLen(ctx, PendingKey("wire")).Val(); n == 0 {
				t.Fatalf("nothing on %s", PendingKey("wire"))
			}
			raw, err := rdb.HGet(ctx, TaskKey("wire", tc.want.ID), "msg").Bytes()
			if err != nil {
				t.Fatalf("task hash %s: %v", TaskKey("wire", tc.want.ID), err)
			}
			m, err := DecodeTaskMessage(raw)
			if err != nil {
				t.Fatal(err)
			}
			if m.Type != "request" || string(m.Payload) != string(payload) || m.Queue != "wire" || m.ID != tc.want.ID ||
				m.Retry != tc.want.Retry || m.Retried != 0 || m.Timeout != tc.want.Timeout || m.Deadline != tc.want.Deadline {
				t.Fatalf("decoded %+v, want %+v", m, tc.want)
			}
			if (m.UniqueKey != "") != (tc.want.Deadline != 0) {
				t.Fatalf("unique key %q", m.UniqueKey)
			}
			if m.UniqueKey != "" && rdb.Get(ctx, m.UniqueKey).Val() != m.ID {
				t.Fatalf("unique key %q does not hold the task id", m.UniqueKey)
			}
		})
	}
}

func TestDecodeTaskMessageRejects(t *testing.T) {
	for _, b := range [][]byte{
		nil,                      // no id
		{0x0a, 0x05, 'a'},        // truncated string
		{0xff, 0xff, 0xff, 0xff}, // bad tag
		{0x1a, 0x00},             // empty id
	} {
		if _, err := DecodeTaskMessage(b); !errors.Is(err, ErrBadMessage) {
			t.Errorf("DecodeTaskMessage(%x) = %v, want ErrBadMessage", b, err)
		}
	}
}

func FuzzDecodeTaskMessage(f *testing.F) {
	f.Add([]byte{0x0a, 0x07, 'r', 'e', 'q', 'u', 'e', 's', 't', 0x1a, 0x01, 'x'})
	f.Add(TaskMessage{Raw: []byte{0x1a, 0x01, 'x'}}.WithFailure("e", time.Unix(1, 0)))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeTaskMessage(b)
		if err == nil && m.ID == "" {
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
			got := TaskMessage{Timeout: tc.timeout, Deadline: tc.deadline}.ContextDeadline(start)
			if !got.Equal(tc.want) {
				t.Fatalf("contextDeadline = %v, want %v", got, tc.want)
			}
		})
	}
}
