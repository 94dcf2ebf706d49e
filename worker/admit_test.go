package worker

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/limits"
	"github.com/reqfleet/reqfleet/tasks"
)

// target is a recording HTTP server: each request's arrival by host name
// (one server, two names: 127.0.0.1 and localhost), the most in flight
// at once per host, and a handler per path.
type target struct {
	srv *httptest.Server
	*testkit.Hosts

	delay  time.Duration
	mu     sync.Mutex // guards status
	status func(r *http.Request) (code int, retryAfter string)
}

func newTarget(t *testing.T, delay time.Duration) *target {
	t.Helper()
	tg := &target{Hosts: testkit.NewHosts(), delay: delay}
	tg.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, done := tg.Arrive(r.Host)
		defer done()
		tg.mu.Lock()
		status := tg.status
		tg.mu.Unlock()
		if tg.delay > 0 {
			select {
			case <-time.After(tg.delay):
			case <-r.Context().Done():
				return
			}
		}
		if status != nil {
			if code, ra := status(r); code != 0 {
				if ra != "" {
					w.Header().Set("Retry-After", ra)
				}
				w.WriteHeader(code)
				return
			}
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(tg.srv.Close)
	return tg
}

// url is the target's URL under host name (127.0.0.1 or localhost).
func (tg *target) url(host, path string) string { return testkit.HostURL(tg.srv.URL, host, path) }

// limitedFleet is n workers of cfg on one real Redis.
func limitedFleet(t *testing.T, r redis.UniversalClient, n int, cfg Config) []*fleet {
	t.Helper()
	fs := make([]*fleet, n)
	for i := range fs {
		c := cfg
		c.Name = fmt.Sprintf("w%d", i)
		c.Limits.Refresh = cmpOr(c.Limits.Refresh, 100*time.Millisecond)
		fs[i] = newFleet(t, r, c)
	}
	for _, f := range fs {
		if err := f.w.Start(); err != nil {
			t.Fatal(err)
		}
	}
	return fs
}

func cmpOr(a, b time.Duration) time.Duration {
	if a != 0 {
		return a
	}
	return b
}

func setLimit(t *testing.T, r redis.UniversalClient, host string, l limits.Limit) {
	t.Helper()
	if _, err := limits.NewStore(r).Set(context.Background(), host, l); err != nil {
		t.Fatal(err)
	}
}

// responses are the batch's responses by job id.
func responses(t *testing.T, r redis.UniversalClient) map[string]tasks.Response {
	t.Helper()
	out := map[string]tasks.Response{}
	for _, line := range r.LRange(context.Background(), reqrdb.ResultsKey("q"), 0, -1).Val() {
		resp, err := tasks.DecodeResponse([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		out[resp.ID] = resp
	}
	return out
}

// Three workers of 8 sessions hold a concurrency limit of 2 between them
// at the server; the jobs that waited say so; no slot is left held.
func TestLimitsConcurrencyFleetWide(t *testing.T) {
	r := testredis.Start(t).Client(t)
	tg := newTarget(t, 50*time.Millisecond)
	setLimit(t, r, "127.0.0.1", limits.Limit{Concurrency: 2})
	fs := limitedFleet(t, r, 3, Config{Concurrency: 8})
	for i := range 30 {
		fs[0].enqueue(t, tasks.Task{Batch: "B", Attempt: 1, Job: job(fmt.Sprint(i), tg.url("127.0.0.1", "/"))}, "")
	}
	fs[0].waitDone(t, "B", 30)
	if m := tg.Most("127.0.0.1"); m != 2 {
		t.Errorf("at most %d in flight at the server, want 2", m)
	}
	throttled := 0
	for _, resp := range responses(t, r) {
		if resp.StatusCode != 200 {
			t.Errorf("job %s: status %d", resp.ID, resp.StatusCode)
		}
		if resp.ThrottledMS > 0 {
			throttled++
		}
	}
	if throttled == 0 {
		t.Error("no outcome says it was throttled")
	}
	testkit.WaitUntil(t, testWait, func() error {
		if n, _ := reqrdb.New(r).InFlight(context.Background(), "127.0.0.1", time.Now()); n != 0 {
			return fmt.Errorf("%d slots still held", n)
		}
		return nil
	}, "every slot given up")
	if n := r.ZCard(context.Background(), reqrdb.ParkedKey("q")).Val(); n != 0 {
		t.Errorf("%d hosts still parked", n)
	}
}

// A 10/s host (localhost) and an unlimited one (127.0.0.1, the same
// server): the limited jobs do not hold the sessions, so the unlimited
// ones are all done while most limited ones still wait; the rate holds at
// the server in every 1s window (rate + burst).
func TestLimitsRateNoHeadOfLineBlocking(t *testing.T) {
	r := testredis.Start(t).Client(t)
	tg := newTarget(t, 0)
	setLimit(t, r, "localhost", limits.Limit{Rate: 10, Burst: 2})
	fs := limitedFleet(t, r, 2, Config{Concurrency: 4})
	for i := range 40 {
		fs[0].enqueue(t, tasks.Task{Batch: "B", Attempt: 1, Job: job(fmt.Sprint("l", i), tg.url("localhost", "/"))}, "")
	}
	for i := range 200 {
		fs[0].enqueue(t, tasks.Task{Batch: "B", Attempt: 1, Job: job(fmt.Sprint("u", i), tg.url("127.0.0.1", "/"))}, "")
	}
	testkit.WaitUntil(t, testWait, func() error {
		if n := len(tg.Seen("127.0.0.1")); n < 200 {
			return fmt.Errorf("%d of 200 unlimited requests", n)
		}
		return nil
	}, "the unlimited jobs")
	if n := len(tg.Seen("localhost")); n >= 30 {
		t.Errorf("%d of 40 limited requests were sent by the time the unlimited ones were done: they held the sessions?", n)
	}
	fs[0].waitDone(t, "B", 240)
	if m := testkit.MaxInWindow(tg.Seen("localhost"), time.Second); m > 12 {
		t.Errorf("%d limited requests in one second at the server, want at most 10+2", m)
	}
}

// A 429 with Retry-After: 1 pauses its host fleet-wide: no request
// reaches it for the second (a host with a limit: at once; one without:
// once every worker has read the paused hosts, within Refresh), then the
// rest run, saying they waited.
func TestRetryAfterPausesHostFleetWide(t *testing.T) {
	for _, tt := range []struct {
		name    string
		limited bool
	}{
		{"limited host", true},
		{"unlimited host", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := testredis.Start(t).Client(t)
			tg := newTarget(t, 0)
			var first atomic.Bool
			var pausedAt atomic.Int64
			tg.status = func(req *http.Request) (int, string) {
				if req.URL.Path == "/busy" && first.CompareAndSwap(false, true) {
					pausedAt.Store(time.Now().UnixNano())
					return http.StatusTooManyRequests, "1"
				}
				return 0, ""
			}
			if tt.limited {
				setLimit(t, r, "127.0.0.1", limits.Limit{Concurrency: 100})
			}
			fs := limitedFleet(t, r, 2, Config{Concurrency: 2})
			fs[0].enqueue(t, tasks.Task{Batch: "B", Attempt: 1, Job: job("busy", tg.url("127.0.0.1", "/busy"))}, "")
			fs[0].waitDone(t, "B", 1)
			if !tt.limited {
				testkit.WaitUntil(t, testWait, func() bool {
					for _, f := range fs {
						f.w.admit.mu.Lock()
						_, ok := f.w.admit.paused["127.0.0.1"]
						f.w.admit.mu.Unlock()
						if !ok {
							return false
						}
					}
					return true
				}, "every worker knows of the pause")
			}
			for i := range 20 {
				fs[0].enqueue(t, tasks.Task{Batch: "B", Attempt: 1, Job: job(fmt.Sprint(i), tg.url("127.0.0.1", "/"))}, "")
			}
			fs[0].waitDone(t, "B", 21)
			at := time.Unix(0, pausedAt.Load())
			var during []time.Duration
			for _, ts := range tg.Seen("127.0.0.1") {
				if d := ts.Sub(at); d > 0 && d < 950*time.Millisecond {
					during = append(during, d)
				}
			}
			if len(during) > 0 {
				t.Errorf("%d requests reached the paused host, at %v after the 429", len(during), during)
			}
			waited := 0
			for _, resp := range responses(t, r) {
				if resp.ThrottledMS > 0 {
					waited++
				}
			}
			if waited < 20 {
				t.Errorf("%d jobs say they waited for the pause", waited)
			}
		})
	}
}

// A slot held by a worker that died comes back once its lease ends: the
// next job of a concurrency-1 host runs within seconds.
func TestDeadWorkersSlotComesBack(t *testing.T) {
	r := testredis.Start(t).Client(t)
	tg := newTarget(t, 0)
	setLimit(t, r, "127.0.0.1", limits.Limit{Concurrency: 1})
	now := time.Now()
	if _, err := reqrdb.New(r).HostAdmit(context.Background(), "127.0.0.1", []string{"q dead-task"}, 1, false, now.Add(2*time.Second), now); err != nil {
		t.Fatal(err)
	}
	fs := limitedFleet(t, r, 1, Config{Concurrency: 2})
	fs[0].enqueue(t, tasks.Task{Batch: "B", Attempt: 1, Job: job("a", tg.url("127.0.0.1", "/"))}, "")
	fs[0].waitDone(t, "B", 1)
	if d := time.Since(now); d < 2*time.Second || d > 2*time.Second+DefaultLease {
		t.Errorf("the job ran %v after the dead slot was taken, want after its 2s lease and within a lease more", d)
	}
	if ms := responses(t, r)["a"].ThrottledMS; ms < 1000 {
		t.Errorf("throttled_ms %d, want the wait (about 2000)", ms)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"2", 2 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{"-1", 0, false},
		{"Tue, 01 Dec 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Tue, 01 Dec 2026 11:00:00 GMT", 0, true},
		{"soon", 0, false},
		{"", 0, false},
		{"99999999999999", 365 * 24 * time.Hour, true},
	}
	for _, tt := range tests {
		got, ok := RetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLimitsConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		c    LimitsConfig
		ok   bool
	}{
		{"zero", LimitsConfig{}, true},
		{"default rate", LimitsConfig{Default: limits.Limit{Rate: 5}}, true},
		{"bad default", LimitsConfig{Default: limits.Limit{Rate: -1}}, false},
		{"negative refresh", LimitsConfig{Refresh: -time.Second}, false},
	} {
		c := tt.c
		if err := c.validate(); (err == nil) != tt.ok {
			t.Errorf("%s: %v", tt.name, err)
		}
		if tt.ok && c.Refresh != time.Second {
			t.Errorf("%s: defaults %+v", tt.name, c)
		}
	}
}
