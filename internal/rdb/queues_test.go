package rdb

import (
	"context"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/testredis"
)

func TestQueuesSeenAndBatchQueues(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx := context.Background()
		c := New(r)
		for _, q := range []string{"low", "default"} {
			if err := c.PublishQueue(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		// A queue with outcomes only (its jobs enqueued elsewhere, asynq's set lost).
		if err := r.RPush(ctx, ExceptionsKey("inboxonly"), "x").Err(); err != nil {
			t.Fatal(err)
		}
		if err := r.HSet(ctx, BatchKey("low", "B1"), BatchCreated, 1).Err(); err != nil {
			t.Fatal(err)
		}
		qs, err := c.Queues(ctx)
		if err != nil || !slices.Equal(qs, []string{"default", "low"}) {
			t.Fatalf("Queues = %v, %v", qs, err)
		}
		for q, want := range map[string]bool{"default": true, "low": true, "inboxonly": true, "defualt": false} {
			got, err := c.QueueSeen(ctx, q)
			if err != nil || got != want {
				t.Errorf("QueueSeen(%q) = %v, %v; want %v", q, got, err, want)
			}
		}
		for batch, want := range map[string][]string{"B1": {"low"}, "B2": nil} {
			got, err := c.BatchQueues(ctx, batch)
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("BatchQueues(%q) = %v, %v; want %v", batch, got, err, want)
			}
		}
	})
}
