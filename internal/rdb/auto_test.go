package rdb

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/testredis"
)

func TestAutoObserve(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		p := AutoParams{Target: 2, Min: 10 * time.Millisecond, Max: 4 * time.Second, Start: time.Second, TTL: time.Hour}
		steps := []struct {
			name    string
			latency time.Duration
			kind    AutoKind
			want    time.Duration
		}{
			{"first: halfway from the start towards latency/target", 400 * time.Millisecond, AutoOK, 600 * time.Millisecond}, // (1 + 0.2)/2
			{"again", 400 * time.Millisecond, AutoOK, 400 * time.Millisecond},                                                // (0.6+0.2)/2
			{"a quick error page does not lower it", 10 * time.Millisecond, AutoOther, 400 * time.Millisecond},
			{"slower: never below latency/target", 2 * time.Second, AutoOK, time.Second},
			{"429: doubled", 100 * time.Millisecond, AutoBackoff, 2 * time.Second},
			{"doubled again, to the most", 100 * time.Millisecond, AutoBackoff, 4 * time.Second},
			{"very fast: not below the least", 0, AutoOK, 2 * time.Second},
		}
		for _, s := range steps {
			d, err := c.AutoObserve(ctx, "h", s.latency, s.kind, p)
			must(t, err)
			if math.Abs(float64(d-s.want)) > float64(time.Millisecond) {
				t.Fatalf("%s: delay %v, want %v", s.name, d, s.want)
			}
		}
		st, err := c.AutoState(ctx, "h")
		must(t, err)
		if math.Abs(st.Rate-0.5) > 0.001 || st.Latency != 0 || math.Abs(st.Delay-2) > 0.001 {
			t.Errorf("state %+v, want rate 0.5/s, delay 2s", st)
		}
	})
}
