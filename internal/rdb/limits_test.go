package rdb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/testredis"
)

func TestHostAdmit(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		end := testNow.Add(5 * time.Second)
		tests := []struct {
			name        string
			members     []string
			limit       int
			adoptOnly   bool
			now         time.Time
			want        []int
			wantFirst   time.Time
			wantInUse   int64
			pausedUntil time.Time
		}{
			{name: "two of three slots", members: []string{"q a", "q b", "q c"}, limit: 2, now: testNow,
				want: []int{AdmitTaken, AdmitTaken, AdmitRefused}, wantFirst: end, wantInUse: 2},
			{name: "a held already: renewed, not counted twice", members: []string{"q a", "q c"}, limit: 2, now: testNow,
				want: []int{AdmitHeld, AdmitRefused}, wantFirst: end, wantInUse: 2},
			{name: "adopt only takes none", members: []string{"q d"}, limit: 0, adoptOnly: true, now: testNow,
				want: []int{AdmitRefused}, wantInUse: 2},
			{name: "no limit", members: []string{"q d", "q e"}, limit: 0, now: testNow,
				want: []int{AdmitTaken, AdmitTaken}, wantInUse: 4},
			{name: "leases ended: freed, then taken", members: []string{"q f"}, limit: 1, now: end,
				want: []int{AdmitTaken}, wantInUse: 1},
		}
		for _, tt := range tests {
			a, err := c.HostAdmit(ctx, "h", tt.members, tt.limit, tt.adoptOnly, tt.now.Add(5*time.Second), tt.now)
			must(t, err)
			if !slices.Equal(a.Codes, tt.want) || !a.FirstSlotEnd.Equal(tt.wantFirst) || !a.PausedUntil.IsZero() {
				t.Errorf("%s: %+v, want codes %v, first slot end %v", tt.name, a, tt.want, tt.wantFirst)
			}
			n, err := c.InFlight(ctx, "h", tt.now)
			must(t, err)
			if n != tt.wantInUse {
				t.Errorf("%s: %d in flight, want %d", tt.name, n, tt.wantInUse)
			}
		}
		must(t, c.ReleaseSlots(ctx, "h", "q f"))
		if n, _ := c.InFlight(ctx, "h", end); n != 0 {
			t.Errorf("released: %d in flight", n)
		}

		// A pause refuses everyone, held slots too.
		until := time.Now().Add(time.Minute).Truncate(time.Millisecond)
		got, err := c.PauseHost(ctx, "h", until, time.Now())
		must(t, err)
		if !got.Equal(until) {
			t.Fatalf("paused until %v, want %v", got, until)
		}
		a, err := c.HostAdmit(ctx, "h", []string{"q x"}, 0, false, until, time.Now())
		must(t, err)
		if !a.PausedUntil.Equal(until) || a.Codes[0] != AdmitRefused {
			t.Errorf("paused host admitted: %+v", a)
		}
	})
}

func TestPauseHost(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		now := time.Now().Truncate(time.Millisecond)
		if u, err := c.HostPausedUntil(ctx, "h", now); err != nil || !u.IsZero() {
			t.Fatalf("fresh host paused until %v, %v", u, err)
		}
		for _, tt := range []struct {
			name  string
			until time.Time
			want  time.Time
		}{
			{"first", now.Add(2 * time.Second), now.Add(2 * time.Second)},
			{"later wins", now.Add(5 * time.Second), now.Add(5 * time.Second)},
			{"earlier does not shorten", now.Add(time.Second), now.Add(5 * time.Second)},
		} {
			got, err := c.PauseHost(ctx, "h", tt.until, now)
			must(t, err)
			u, err := c.HostPausedUntil(ctx, "h", now)
			must(t, err)
			if !got.Equal(tt.want) || !u.Equal(tt.want) {
				t.Errorf("%s: paused until %v (read %v), want %v", tt.name, got, u, tt.want)
			}
		}
		ph, err := c.PausedHosts(ctx, now)
		must(t, err)
		if len(ph) != 1 || !ph["h"].Equal(now.Add(5*time.Second)) {
			t.Errorf("paused hosts %v, want h until +5s", ph)
		}
		if ph, _ := c.PausedHosts(ctx, now.Add(6*time.Second)); len(ph) != 0 {
			t.Errorf("paused hosts past the pause: %v", ph)
		}
		if u, _ := c.HostPausedUntil(ctx, "h", now.Add(6*time.Second)); !u.IsZero() {
			t.Errorf("pause past its end: %v", u)
		}
		ttl, err := r.PTTL(ctx, HostPauseKey("h")).Result()
		must(t, err)
		if ttl <= 0 || ttl > 5*time.Second+time.Second {
			t.Errorf("pause key TTL %v, want about 5s", ttl)
		}
	})
}

func TestRateAllowAtMost(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, rate := context.Background(), New(r).Rate()
		lim := RateLimit{Rate: 10, Period: time.Second, Burst: 3}
		n, _, err := rate.AllowAtMost(ctx, "h", lim, 5)
		must(t, err)
		if n != 3 {
			t.Fatalf("allowed %d at once, want the burst, 3", n)
		}
		n, retry, err := rate.AllowAtMost(ctx, "h", lim, 5)
		must(t, err)
		if n != 0 || retry <= 0 || retry > 100*time.Millisecond {
			t.Errorf("after the burst: allowed %d, retry after %v; want 0 and up to 100ms", n, retry)
		}
		if n, _, _ := rate.AllowAtMost(ctx, "other", lim, 1); n != 1 {
			t.Errorf("another host's tokens: allowed %d, want 1", n)
		}
		// A burst of 1 (redis_rate's AllowAtMost alone never allows it), at
		// one a minute: the test's calls are quick beside its interval,
		// however loaded the machine.
		one := RateLimit{Rate: 60, Period: time.Hour, Burst: 1}
		got := 0
		for range 3 {
			n, retry, err := rate.AllowAtMost(ctx, "one", one, 3)
			must(t, err)
			got += n
			if retry <= 0 || retry > time.Minute {
				t.Errorf("burst 1: retry after %v, want up to the minute's interval", retry)
			}
		}
		if got != 1 {
			t.Errorf("burst 1 at 1/min: %d allowed in three quick calls, want 1", got)
		}
		// A peek takes nothing.
		three := RateLimit{Rate: 1, Period: time.Hour, Burst: 3}
		for range 2 {
			n, _, err := rate.Peek(ctx, "peek", three)
			must(t, err)
			if n != 3 {
				t.Fatalf("peek of a fresh burst of 3: %d", n)
			}
		}
		if n, _, _ := rate.Peek(ctx, "fresh1", one); n != 1 {
			t.Errorf("peek of a fresh burst of 1: %d", n)
		}
		if n, _, _ := rate.AllowAtMost(ctx, "peek", three, 3); n < 2 {
			t.Errorf("after two peeks, %d of the burst of 3 allowed", n)
		}
		if n, _, _ := rate.Peek(ctx, "peek", three); n > 1 {
			t.Errorf("peek after the burst was taken: %d", n)
		}
		if n, _, _ := rate.AllowAtMost(ctx, "one-more", one, 1); n != 1 {
			t.Fatal("a fresh burst of 1 refused")
		}
		if n, wait, _ := rate.Peek(ctx, "one-more", one); n != 0 || wait <= 0 || wait > time.Minute {
			t.Errorf("peek right after a burst of 1 was taken: %d, next in %v (want 0, within the minute's interval)", n, wait)
		}
		if ex, _ := r.Exists(ctx, "rate:"+HostRateKey("h")).Result(); ex != 1 {
			t.Errorf("the GCRA state is not at rate:%s", HostRateKey("h"))
		}
	})
}

func TestSetLimit(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		l := HostLimit{Rate: 20, Period: time.Second, Burst: 5, Concurrency: 3}
		must(t, c.SetLimit(ctx, "example.com", l))
		must(t, c.SetLimit(ctx, "*.example.org", HostLimit{Concurrency: 1}))
		must(t, r.HSet(ctx, LimitsTableKey, "bad.example", "{nope").Err())
		table, v, bad, err := c.Limits(ctx)
		must(t, err)
		if v != 2 || table["example.com"] != l || table["*.example.org"].Concurrency != 1 || len(table) != 2 || !slices.Equal(bad, []string{"bad.example"}) {
			t.Fatalf("table %v version %d bad %v", table, v, bad)
		}
		ok, err := c.DeleteLimit(ctx, "example.com")
		must(t, err)
		again, _ := c.DeleteLimit(ctx, "example.com")
		if v2, _ := c.LimitsVersion(ctx); !ok || again || v2 != 3 {
			t.Errorf("delete: %v, again %v, version %d (want true, false, 3)", ok, again, v2)
		}

		// The cap: past MaxLimits a new entry is refused, an existing one
		// may still change.
		must(t, r.Del(ctx, LimitsTableKey).Err())
		_, err = r.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := range MaxLimits {
				p.HSet(ctx, LimitsTableKey, fmt.Sprintf("h%d.example", i), "{}")
			}
			return nil
		})
		must(t, err)
		if err := c.SetLimit(ctx, "one-more.example", l); !errors.Is(err, ErrLimitsFull) {
			t.Errorf("past the cap: %v, want ErrLimitsFull", err)
		}
		must(t, c.SetLimit(ctx, "h0.example", l))
	})
}

func TestRenewSlots(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		_, err := c.HostAdmit(ctx, "a", []string{"q 1", "q 2"}, 0, false, testNow.Add(time.Second), testNow)
		must(t, err)
		_, err = c.HostAdmit(ctx, "b", []string{"q 3"}, 0, false, testNow.Add(time.Second), testNow)
		must(t, err)
		must(t, c.ReleaseSlots(ctx, "a", "q 2"))
		must(t, c.RenewSlots(ctx, map[string][]string{"a": {"q 1", "q 2"}, "b": {"q 3"}}, testNow.Add(time.Minute), testNow))
		for key, want := range map[string]int64{"a": 1, "b": 1} {
			n, err := c.InFlight(ctx, key, testNow.Add(30*time.Second))
			must(t, err)
			if n != want {
				t.Errorf("host %s: %d slots held past the old lease, want %d (a released slot stays released)", key, n, want)
			}
		}
	})
}
