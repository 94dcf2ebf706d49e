package worker

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/tasks"
)

// backends runs fn against miniredis and against a real redis-server.
var backends = testredis.Each

func TestRecordOnce(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		rec := recorder{rdb: rdb, ttl: time.Hour}
		job := tasks.Job{ID: "j1", Method: "GET", URL: "http://x/"}
		t1 := tasks.Task{Batch: "B", Attempt: 1, Job: job}
		resp := &tasks.Response{ID: "j1", Batch: "B", Request: job, StatusCode: 200, Attempt: 1}

		tests := []struct {
			name      string
			task      tasks.Task
			out       tasks.Outcome
			wantFresh bool
		}{
			{"first outcome", t1, resp, true},
			{"same attempt again (asynq ran the job twice)", t1, resp, false},
			{"same attempt, other kind", t1, &tasks.Exception{ID: "j1", Batch: "B", Request: job, Attempt: 1}, false},
			{"next attempt (retry)", tasks.Task{Batch: "B", Attempt: 2, Job: job}, &tasks.Exception{ID: "j1", Batch: "B", Request: job, Attempt: 2}, true},
			{"id with a colon stays apart", tasks.Task{Batch: "B", Attempt: 1, Job: tasks.Job{ID: "1:j1", URL: "u", Method: "GET"}}, resp, true},
		}
		for _, tc := range tests {
			fresh, err := rec.record(ctx, "q", tc.task, tc.out)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if fresh != tc.wantFresh {
				t.Fatalf("%s: fresh = %v, want %v", tc.name, fresh, tc.wantFresh)
			}
		}
		if n := rdb.LLen(ctx, reqrdb.ResultsKey("q")).Val(); n != 2 {
			t.Fatalf("results = %d, want 2", n)
		}
		if n := rdb.LLen(ctx, reqrdb.ExceptionsKey("q")).Val(); n != 1 {
			t.Fatalf("exceptions = %d, want 1", n)
		}
		h := rdb.HGetAll(ctx, reqrdb.BatchKey("q", "B")).Val()
		if h["done"] != "3" || h["responses"] != "2" || h["exceptions"] != "1" {
			t.Fatalf("batch counters = %v", h)
		}
		for _, k := range []string{reqrdb.BatchKey("q", "B"), reqrdb.SeenKey("q", "B")} {
			if ttl := rdb.TTL(ctx, k).Val(); ttl <= 0 || ttl > time.Hour {
				t.Fatalf("TTL of %s = %v, want (0, 1h]", k, ttl)
			}
		}
		line := rdb.LIndex(ctx, reqrdb.ResultsKey("q"), 0).Val()
		got, err := tasks.DecodeResponse([]byte(line))
		if err != nil || got.ID != "j1" || got.StatusCode != 200 {
			t.Fatalf("stored response = %+v, %v", got, err)
		}
	})
}

// A request reused from the batcher's pool keeps nothing of its last use:
// an outcome without an ack must not finish the last outcome's task.
func TestFillClearsTheLastUse(t *testing.T) {
	tk, o := outcome("j2")
	req := &recordReq{ack: ack{id: "B:1:j1", uniqueKey: "u"}, queue: "old"}
	if err := fill(req, "q", tk, o, nil); err != nil {
		t.Fatal(err)
	}
	if req.ack != (ack{}) || req.queue != "q" || req.member != tk.OutcomeKey() {
		t.Fatalf("filled %+v", req)
	}
}
