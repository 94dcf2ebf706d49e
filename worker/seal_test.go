package worker

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
)

// The sweep seals a batch whose enqueuer's lease ran out, with the jobs
// queued for it, and leaves a live one open.
func TestSweepSealsOrphans(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		store := reqrdb.New(rdb)
		for _, id := range []string{"dead", "alive"} {
			if _, err := store.NewBatch(ctx, "q", id, "tok", sweepNow, time.Hour, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		enc := reqrdb.NewMessageEncoder("q", "request", 25, time.Minute)
		if _, err := store.EnqueueMany(ctx, "q", sweepNow, []string{"dead:1:a", "dead:1:b"},
			[][]byte{enc.Encode("dead:1:a", nil), enc.Encode("dead:1:b", nil)}, []string{"dead", "dead"}); err != nil {
			t.Fatal(err)
		}
		if err := rdb.ZAdd(ctx, reqrdb.OpenBatchesKey("q"), redis.Z{Score: 1, Member: "dead"}).Err(); err != nil {
			t.Fatal(err)
		}
		s := testSweeper(rdb, "w1")
		s.sealOrphans = func(ctx context.Context, queue string, ttl, _ time.Duration, max int) ([]reqrdb.Orphan, error) {
			return store.SealOrphans(ctx, queue, ttl, 0, max) // no grace: sealed at the first sweep
		}
		s.sweep(ctx)
		if h := rdb.HGetAll(ctx, reqrdb.BatchKey("q", "dead")).Val(); h[reqrdb.BatchSealed] != "1" || h[reqrdb.BatchTotal] != "2" {
			t.Fatalf("dead batch %v", h)
		}
		if h := rdb.HGetAll(ctx, reqrdb.BatchKey("q", "alive")).Val(); h[reqrdb.BatchSealed] != "" {
			t.Fatalf("live batch %v", h)
		}
	})
}
