package testredis

import (
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Each runs fn as two subtests: against miniredis (fast, in-process) and
// against a real redis-server started for it.
func Each(t *testing.T, fn func(t *testing.T, rdb redis.UniversalClient)) {
	t.Helper()
	t.Run("miniredis", func(t *testing.T) {
		m := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { rdb.Close() })
		fn(t, rdb)
	})
	t.Run("redis-server", func(t *testing.T) {
		fn(t, Start(t).Client(t))
	})
}
