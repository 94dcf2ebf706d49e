package redisconn

import (
	"context"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/internal/redisretry"
	"github.com/reqfleet/reqfleet/internal/testredis"
)

// With the production client, a script that outlives the read timeout
// (it ran, its reply was lost) is sent again by reqfleet's retry when
// retried as Transient, and not as NotRun, the Retryable of what must not
// run twice.
func TestNotRunAfterReadTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("each case waits out a script longer than the read timeout")
	}
	tests := []struct {
		name      string
		retryable func(error) bool
		runs      int64
	}{
		{"Transient: sent again", redisretry.Transient, 2},
		{"NotRun: not sent again", redisretry.NotRun, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := testredis.Start(t)
			rdb, err := OpenURL(srv.URL(), URLOptions{PoolSize: 4})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { rdb.Close() })
			admin := srv.Client(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := admin.ConfigSet(ctx, "lua-time-limit", "60000").Err(); err != nil {
				t.Fatal(err)
			}
			slow := readTimeout(t, rdb) + 1500*time.Millisecond
			const key = "reqfleet:{slow}:runs"
			p := redisretry.Policy{For: 30 * time.Second, First: 10 * time.Millisecond, Retryable: tc.retryable}
			calls := 0
			err = redisretry.Do(ctx, p, func() error {
				calls++
				if calls > 1 { // the retry: quick
					return rdb.Eval(ctx, slowIncr, []string{key}, 0).Err()
				}
				return rdb.Eval(ctx, slowIncr, []string{key}, slow.Milliseconds()).Err()
			}, nil)
			if (err == nil) != (tc.runs == 2) {
				t.Fatalf("Do: %v after %d calls", err, calls)
			}
			n, err := admin.Get(ctx, key).Int64() // queued behind the slow run
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.runs {
				t.Fatalf("ran %d times, want %d", n, tc.runs)
			}
		})
	}
}
