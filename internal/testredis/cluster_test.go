package testredis

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestStartCluster(t *testing.T) {
	c := StartCluster(t)
	cc := c.Client(t)
	ctx := context.Background()
	for i := range 60 {
		if err := cc.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// The keys spread over the three masters.
	var mu sync.Mutex
	var sizes []int64
	err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		n, err := m.DBSize(ctx).Result()
		mu.Lock()
		sizes = append(sizes, n)
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sizes) != 3 {
		t.Fatalf("masters: %d, want 3", len(sizes))
	}
	for _, n := range sizes {
		if n == 0 {
			t.Fatalf("keys per master %v: one has none", sizes)
		}
	}
	// Keys of one hash tag share a slot: a multi-key command works.
	if err := cc.MSet(ctx, "a{q}", 1, "b{q}", 2).Err(); err != nil {
		t.Fatal(err)
	}
	if err := cc.MSet(ctx, "a", 1, "b", 2).Err(); err == nil {
		t.Fatal("MSET across slots worked: not a cluster?")
	}
}
