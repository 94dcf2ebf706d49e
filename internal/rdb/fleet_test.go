package rdb

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/testredis"
)

func TestFleetWorkers(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		now := time.Now()
		must(t, c.WriteFleetWorker(ctx, FleetWorker{ID: "a", Done: 1}, now, 10*time.Second))
		must(t, c.WriteFleetWorker(ctx, FleetWorker{ID: "b", Done: 2}, now, 10*time.Second))
		got, err := c.FleetWorkers(ctx, now)
		must(t, err)
		if len(got) != 2 || got[0].ID != "a" || got[0].Done != 1 || got[1].ID != "b" || got[1].Done != 2 {
			t.Fatalf("workers %+v", got)
		}
		// b gone at its shutdown; a's listing seen past its expiry.
		must(t, c.ClearFleetWorker(ctx, "b"))
		if got, _ := c.FleetWorkers(ctx, now); len(got) != 1 {
			t.Fatalf("after clear %+v", got)
		}
		if got, _ := c.FleetWorkers(ctx, now.Add(time.Minute)); len(got) != 0 {
			t.Fatalf("past expiry %+v", got)
		}
		// A later write drops the expired listings.
		must(t, c.WriteFleetWorker(ctx, FleetWorker{ID: "c"}, now.Add(time.Minute), 10*time.Second))
		if n := r.ZCard(ctx, FleetKey).Val(); n != 1 {
			t.Fatalf("fleet set holds %d", n)
		}
		if ttl := r.TTL(ctx, FleetWorkerKey("c")).Val(); ttl <= 0 || ttl > 10*time.Second {
			t.Fatalf("state TTL %v", ttl)
		}
	})
}
