package redisconn

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/redisretry"
	"github.com/reqfleet/reqfleet/internal/testredis"
)

// slowIncr counts its runs, then keeps Redis busy for ARGV[1] ms.
const slowIncr = `
local n = redis.call('INCR', KEYS[1])
local function now()
  local t = redis.call('TIME')
  return t[1] * 1000 + math.floor(t[2] / 1000)
end
local stop = now() + tonumber(ARGV[1])
while now() < stop do end
return n
`

// readTimeout is the read timeout a client was opened with.
func readTimeout(t *testing.T, rdb redis.UniversalClient) time.Duration {
	t.Helper()
	switch c := rdb.(type) {
	case *redis.Client:
		return c.Options().ReadTimeout
	case *redis.ClusterClient:
		return c.Options().ReadTimeout
	}
	t.Fatalf("client %T", rdb)
	return 0
}

// A script that outlives the client's read timeout runs exactly once on
// the clients reqfleet opens (a URL's, the embedded Redis' path, a
// cluster's), with their production options: go-redis does not send it
// again by itself, as it does with its default MaxRetries (3).
func TestSlowScriptRunsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("each case waits out a script longer than the read timeout")
	}
	tests := []struct {
		name string
		open func(t *testing.T) (rdb redis.UniversalClient, nodes []*redis.Client)
	}{
		{"OpenURL", func(t *testing.T) (redis.UniversalClient, []*redis.Client) {
			srv := testredis.Start(t)
			rdb, err := OpenURL(srv.URL(), URLOptions{PoolSize: 4})
			if err != nil {
				t.Fatal(err)
			}
			return rdb, []*redis.Client{srv.Client(t)}
		}},
		{"Open (the embedded Redis' path)", func(t *testing.T) (redis.UniversalClient, []*redis.Client) {
			srv := testredis.Start(t)
			rdb, err := Open(srv.URL(), 4)
			if err != nil {
				t.Fatal(err)
			}
			return rdb, []*redis.Client{srv.Client(t)}
		}},
		{"OpenCluster", func(t *testing.T) (redis.UniversalClient, []*redis.Client) {
			c := testredis.StartCluster(t)
			rdb, err := OpenCluster(Cluster{Addrs: c.Addrs()}, 4)
			if err != nil {
				t.Fatal(err)
			}
			var nodes []*redis.Client
			for _, n := range c.Nodes {
				nodes = append(nodes, n.Client(t))
			}
			return rdb, nodes
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rdb, nodes := tc.open(t)
			t.Cleanup(func() { rdb.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			// Past busy-reply-threshold (5s) Redis would answer a resent
			// script BUSY instead of running it, hiding the retry.
			for _, n := range nodes {
				if err := n.ConfigSet(ctx, "lua-time-limit", "60000").Err(); err != nil {
					t.Fatal(err)
				}
			}
			slow := readTimeout(t, rdb) + 1500*time.Millisecond
			const key = "reqfleet:{slow}:runs"
			start := time.Now()
			err := rdb.Eval(ctx, slowIncr, []string{key}, slow.Milliseconds()).Err()
			if err == nil {
				t.Fatalf("the script returned after %v: it should have outlived the read timeout", time.Since(start))
			}
			// Once the script is over Redis answers again; a copy sent
			// again by the client would have been queued behind it.
			var n int64
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				var gerr error
				if n, gerr = rdb.Get(ctx, key).Int64(); gerr == nil {
					break
				}
				select {
				case <-tick.C:
				case <-ctx.Done():
					t.Fatal(fmt.Errorf("reading the count: %w", gerr))
				}
			}
			if n != 1 {
				t.Fatalf("the script ran %d times, want 1 (the client said: %v)", n, err)
			}
		})
	}
}

// Every kind of URL gets a client without go-redis' retries (MaxRetries -1,
// which go-redis keeps as 0), the sentinel's included.
func TestNoClientRetries(t *testing.T) {
	for _, u := range []string{"redis://127.0.0.1:1", "rediss://127.0.0.1:1", "redis-sentinel://127.0.0.1:1?master=m"} {
		t.Run(u, func(t *testing.T) {
			rdb, err := OpenURL(u, URLOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			c, ok := rdb.(*redis.Client)
			if !ok {
				t.Fatalf("client %T", rdb)
			}
			if n := c.Options().MaxRetries; n != 0 {
				t.Fatalf("MaxRetries %d, want none", n)
			}
		})
	}
	rdb, err := OpenCluster(Cluster{Addrs: []string{"127.0.0.1:1"}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if o := rdb.(*redis.ClusterClient).Options(); o.MaxRetries != -1 || o.MaxRedirects != 0 {
		t.Fatalf("cluster: MaxRetries %d, MaxRedirects %d, want neither", o.MaxRetries, o.MaxRedirects)
	}
}

// Without go-redis' retries, the failures they hid reach reqfleet's own
// (internal/redisretry), which still tries them again: a Redis that
// restarted under a pooled connection, one that is down for a while.
func TestConnectionErrorsPass(t *testing.T) {
	srv := testredis.Start(t)
	rdb, err := OpenURL(srv.URL(), URLOptions{PoolSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	down := rdb.Incr(ctx, "k").Err()
	if !redisretry.Transient(down) {
		t.Fatalf("a stopped Redis: %v, which redisretry would not try again", down)
	}
	var failures []error
	restarted := make(chan error, 1)
	err = redisretry.Do(ctx, redisretry.Policy{For: 30 * time.Second}, func() error {
		return rdb.Incr(ctx, "k").Err()
	}, func(n int, err error, _ time.Duration) {
		failures = append(failures, err)
		if n == 2 {
			restarted <- srv.Start()
		}
	})
	if err != nil {
		t.Fatalf("after the restart: %v (failures %v)", err, failures)
	}
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.Get(ctx, "k").Int(); err != nil || n != 1 {
		t.Fatalf("k = %d (%v), want 1: the INCR ran once", n, err)
	}
}
