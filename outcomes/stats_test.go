package outcomes

import (
	"context"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

func TestStats(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		r := newReader(t, rdb)
		st, err := r.Stats(ctx, 5)
		if err != nil {
			t.Fatalf("empty queue: %v", err)
		}
		if st.Pending != 0 || st.Results != 0 {
			t.Fatalf("empty queue stats: %+v", st)
		}
		c := asynq.NewClientFromRedisClient(rdb)
		for range 3 {
			if _, err := c.Enqueue(asynq.NewTask("x", nil), asynq.Queue("q1")); err != nil {
				t.Fatal(err)
			}
		}
		push(t, rdb, Results, "A", 2)
		push(t, rdb, Exceptions, "A", 1)
		st, err = r.Stats(ctx, 5)
		if err != nil {
			t.Fatal(err)
		}
		if st.Pending != 3 || st.Results != 2 || st.Exceptions != 1 || st.Queue != "q1" {
			t.Fatalf("stats = %+v", st)
		}
	})
}
