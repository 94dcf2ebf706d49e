package worker

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/limits"
	"github.com/reqfleet/reqfleet/tasks"
)

// Adaptive throttling: the fleet's shared delay for a host follows its
// latency (target concurrency 1: a 100ms host gets about 10/s), and a 429
// doubles it; `reqfleet limits`' rate now is its inverse.
func TestAutoThrottle(t *testing.T) {
	r := testredis.Start(t).Client(t)
	tg := newTarget(t, 100*time.Millisecond)
	var busy atomic.Bool
	tg.status = func(req *http.Request) (int, string) {
		if busy.Load() {
			return http.StatusTooManyRequests, ""
		}
		return 0, ""
	}
	setLimit(t, r, "127.0.0.1", limits.Limit{Auto: true})
	fs := limitedFleet(t, r, 2, Config{Concurrency: 4})
	for i := range 12 {
		fs[0].enqueue(t, tasks.Task{Batch: "B", Attempt: 1, Job: job(fmt.Sprint(i), tg.url("127.0.0.1", "/"))}, "")
	}
	fs[0].waitDone(t, "B", 12)
	st, err := reqrdb.New(r).AutoState(context.Background(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	// From 1s towards 0.1s, halving the gap with each of 12 responses.
	if st.Delay < 0.09 || st.Delay > 0.2 || st.Latency < 0.09 {
		t.Fatalf("after 12 answers of 100ms: %+v, want a delay near 0.1s", st)
	}
	if m := testkit.MaxInWindow(tg.Seen("127.0.0.1"), time.Second); m > 12 {
		t.Errorf("%d requests in one second with a delay of 0.1s or more", m)
	}
	busy.Store(true)
	fs[0].enqueue(t, tasks.Task{Batch: "C", Attempt: 1, Job: job("busy", tg.url("127.0.0.1", "/"))}, "")
	fs[0].waitDone(t, "C", 1)
	after, _ := reqrdb.New(r).AutoState(context.Background(), "127.0.0.1")
	if after.Delay < 1.9*st.Delay {
		t.Errorf("a 429: delay %v, want double %v", after.Delay, st.Delay)
	}
}
