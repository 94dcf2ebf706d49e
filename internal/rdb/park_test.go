package rdb

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/internal/testredis"
)

func TestParkAndRelease(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		fetchedUntil(t, c, "q", testNow.Add(time.Minute), "a", "b", "c", "d")
		due := testNow.Add(100 * time.Millisecond)
		for i, id := range []string{"a", "b", "c"} {
			ok, err := c.Park(ctx, "q", "h", id, due.Add(time.Duration(i)*time.Second), testNow)
			must(t, err)
			if !ok {
				t.Fatalf("park %s: not parked", id)
			}
		}
		if ok, _ := c.Park(ctx, "q", "h", "a", due, testNow); ok {
			t.Fatal("a task parked already parked again")
		}
		active, _ := r.LRange(ctx, ActiveKey("q"), 0, -1).Result()
		leased, _ := r.ZRange(ctx, LeaseKey("q"), 0, -1).Result()
		if !slices.Equal(active, []string{"d"}) || !slices.Equal(leased, []string{"d"}) {
			t.Fatalf("after parking: active %v, leases %v; want d only", active, leased)
		}
		if st, _ := r.HGet(ctx, TaskKey("q", "a"), "state").Result(); st != "pending" {
			t.Errorf("a parked task's state %q, want pending", st)
		}
		ds, err := c.DueParked(ctx, "q", 10)
		must(t, err)
		if len(ds) != 1 || ds[0].Key != "h" || !ds[0].At.Equal(due) {
			t.Fatalf("due %+v, want h at the soonest, %v", ds, due)
		}

		ids, ok, err := c.ParkClaim(ctx, "q", "h", "tok", 2*time.Second, 2)
		must(t, err)
		if !ok || !slices.Equal(ids, []string{"a", "b"}) {
			t.Fatalf("claim: %v %v, want the oldest two, a b", ids, ok)
		}
		if _, ok, _ := c.ParkClaim(ctx, "q", "h", "other", 2*time.Second, 2); ok {
			t.Fatal("a second releaser got the lock")
		}
		later := testNow.Add(1500 * time.Millisecond)
		next := later.Add(time.Second)
		n, err := c.ParkRelease(ctx, "q", "h", "tok", ids, next, later)
		must(t, err)
		if n != 2 {
			t.Fatalf("released %d, want 2", n)
		}
		// The oldest is taken first: a, then b, then what was pending.
		got, err := c.Fetch(ctx, "q", testNow.Add(time.Minute), 10)
		must(t, err)
		var order []string
		for _, raw := range got {
			m, err := DecodeTaskMessage([]byte(raw))
			must(t, err)
			order = append(order, m.ID)
		}
		if !slices.Equal(order, []string{"a", "b"}) {
			t.Errorf("fetched %v after the release, want a b", order)
		}
		for _, id := range []string{"a", "b"} {
			ms, err := c.ThrottledMS(ctx, "q", id)
			must(t, err)
			if ms != 1500 {
				t.Errorf("%s throttled %dms, want 1500", id, ms)
			}
		}
		if ms, _ := c.ThrottledMS(ctx, "q", "d"); ms != 0 {
			t.Errorf("an unparked task throttled %dms", ms)
		}
		if ex, _ := r.Exists(ctx, ParkLockKey("q", "h")).Result(); ex != 0 {
			t.Error("the lock was not given up")
		}
		if ds, _ := c.DueParked(ctx, "q", 10); len(ds) != 1 || !ds[0].At.Equal(next) {
			t.Errorf("due %+v, want h at %v (c is left)", ds, next)
		}
		hs, err := c.ParkedHosts(ctx, "q", 10)
		must(t, err)
		if len(hs) != 1 || hs[0].Parked != 1 {
			t.Errorf("parked hosts %+v, want h with 1", hs)
		}

		// A slot freed wakes the host sooner, never later.
		must(t, c.WakeParked(ctx, "q", "h", later))
		must(t, c.WakeParked(ctx, "q", "h", next.Add(time.Hour)))
		must(t, c.WakeParked(ctx, "q", "absent", later))
		if ds, _ := c.DueParked(ctx, "q", 10); len(ds) != 1 || !ds[0].At.Equal(later) {
			t.Errorf("after wakes: %+v, want h alone, at %v", ds, later)
		}

		// The last released: the host leaves the parked set; a claim on an
		// empty park does too.
		ids, ok, err = c.ParkClaim(ctx, "q", "h", "tok2", 2*time.Second, 5)
		must(t, err)
		if !ok || !slices.Equal(ids, []string{"c"}) {
			t.Fatalf("claim: %v %v", ids, ok)
		}
		_, err = c.ParkRelease(ctx, "q", "h", "tok2", ids, next, later)
		must(t, err)
		if ds, _ := c.DueParked(ctx, "q", 10); len(ds) != 0 {
			t.Errorf("empty park still due: %+v", ds)
		}
		must(t, r.ZAdd(ctx, ParkedKey("q"), redis.Z{Score: 1, Member: "stale"}).Err())
		if _, ok, _ := c.ParkClaim(ctx, "q", "stale", "tok3", time.Second, 5); ok {
			t.Error("claimed an empty park")
		}
		if ds, _ := c.DueParked(ctx, "q", 10); len(ds) != 0 {
			t.Errorf("stale host still due: %+v", ds)
		}
	})
}

// A lock whose releaser died expires, and the next releaser gets it; a
// release by a releaser whose lock expired still moves only parked ids
// and leaves the new holder's lock alone.
func TestParkLockExpires(t *testing.T) {
	s := testredis.Start(t)
	r := s.Client(t)
	ctx, c := context.Background(), New(r)
	fetchedUntil(t, c, "q", testNow.Add(time.Minute), "a", "b")
	for _, id := range []string{"a", "b"} {
		_, err := c.Park(ctx, "q", "h", id, testNow, testNow)
		must(t, err)
	}
	ids, ok, err := c.ParkClaim(ctx, "q", "h", "dead", 50*time.Millisecond, 1)
	must(t, err)
	if !ok || !slices.Equal(ids, []string{"a"}) {
		t.Fatalf("claim: %v %v", ids, ok)
	}
	var ids2 []string
	testkit.WaitUntil(t, 5*time.Second, func() bool {
		ids2, ok, err = c.ParkClaim(ctx, "q", "h", "next", time.Minute, 1)
		must(t, err)
		return ok
	}, "the dead releaser's lock expires")
	if !slices.Equal(ids2, []string{"a"}) {
		t.Fatalf("the next releaser sees %v, want a", ids2)
	}
	n, err := c.ParkRelease(ctx, "q", "h", "dead", []string{"a", "zzz"}, testNow, testNow)
	must(t, err)
	if n != 1 {
		t.Errorf("late release moved %d, want 1 (a; zzz is not parked)", n)
	}
	if tok, _ := r.Get(ctx, ParkLockKey("q", "h")).Result(); tok != "next" {
		t.Errorf("lock %q after a late release, want next's", tok)
	}
	if n, _ := c.ParkRelease(ctx, "q", "h", "next", []string{"a"}, testNow, testNow); n != 0 {
		t.Errorf("a released twice: %d", n)
	}
}
