package outcomes

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testredis"
)

func TestFleet(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, now := context.Background(), time.Now()
		if err := rdb.New(r).WriteFleetWorker(ctx, rdb.FleetWorker{ID: "w1", Name: "host:1", Sessions: 8, Done: 3}, now, 6*time.Second); err != nil {
			t.Fatal(err)
		}
		ws, err := Fleet(ctx, r, now)
		if err != nil || len(ws) != 1 || ws[0].Name != "host:1" || ws[0].Sessions != 8 || ws[0].Done != 3 {
			t.Fatalf("fleet %+v, %v", ws, err)
		}
	})
}
