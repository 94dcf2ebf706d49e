package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/outcomes"
)

// hostRecorder is a target that records every request's arrival by the host
// name it was sent to (one server, two names: 127.0.0.1 and localhost),
// and the most in flight at once per name.
//
//	/delay/MS/...  answers after MS milliseconds
//	/busy/...      the first answers 429 with Retry-After: 2
type hostRecorder struct {
	*httptest.Server
	*testkit.Hosts

	busyAt atomic.Int64 // when the 429 was sent, Unix ns
}

func newHostRecorder(t *testing.T) *hostRecorder {
	t.Helper()
	rc := &hostRecorder{Hosts: testkit.NewHosts()}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, done := rc.Arrive(r.Host)
		defer done()
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
		switch parts[0] {
		case "delay":
			var ms int
			_, _ = fmt.Sscan(parts[1], &ms) // a bad number: no delay
			select {
			case <-time.After(time.Duration(ms) * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		case "busy":
			if rc.busyAt.CompareAndSwap(0, time.Now().UnixNano()) {
				w.Header().Set("Retry-After", "2")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(rc.Close)
	return rc
}

// url is the hostRecorder's URL under the host name.
func (rc *hostRecorder) url(host, path string) string { return testkit.HostURL(rc.URL, host, path) }

// throttled counts the batch's responses that say they waited.
func throttled(t *testing.T, srv *testredis.Server, batch string) int {
	t.Helper()
	r, err := outcomes.NewReader(srv.Client(t), "default")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for resp, err := range r.Responses(context.Background(), outcomes.ReadOptions{Batch: batch}) {
		if err != nil {
			t.Fatal(err)
		}
		if resp.ThrottledMS > 0 {
			n++
		}
	}
	return n
}

// TestLimitsHoldAtServer: three worker processes of 8 sessions; localhost
// limited to 10/s (burst 2), 127.0.0.1 (the same server) to 3 at once.
// At the server, localhost never sees more than 10+2 requests in a
// second, 127.0.0.1 never more than 3 in flight; every job has one
// outcome, and the throttled ones say so.
func TestLimitsHoldAtServer(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := testredis.Start(t)
	rdb := srv.Client(t)
	rc := newHostRecorder(t)
	mustCLI(t, time.Minute, nil, "limits", "set", "localhost", "--rate", "10/s", "--burst", "2", "--redis", srv.URL())
	mustCLI(t, time.Minute, nil, "limits", "set", "127.0.0.1", "--concurrency", "3", "--redis", srv.URL())
	for i := range 3 {
		startWorker(t, fmt.Sprint("w", i), srv.URL(), "-c", "8")
	}
	fileR, idsR := writeJobs(t, "rate", 50, func(i int) string { return rc.url("localhost", fmt.Sprintf("/r%d", i)) })
	fileC, idsC := writeJobs(t, "conc", 60, func(i int) string { return rc.url("127.0.0.1", fmt.Sprintf("/delay/100/c%d", i)) })
	recR := enqueue(t, srv.URL(), fileR)
	recC := enqueue(t, srv.URL(), fileC)
	took := waitBatch(t, rdb, "default", recR.Batch, 2*time.Minute)
	waitBatch(t, rdb, "default", recC.Batch, 2*time.Minute)
	wantAll(t, checkBatch(t, rdb, "default", recR.Batch, idsR), "a 200", isResponse(1))
	wantAll(t, checkBatch(t, rdb, "default", recC.Batch, idsC), "a 200", isResponse(1))

	rate := rc.Seen("localhost")
	if m := testkit.MaxInWindow(rate, time.Second); m > 12 {
		t.Errorf("localhost: %d requests in one second at the server, want at most 10/s + burst 2", m)
	}
	if len(rate) != 50 {
		t.Errorf("localhost: %d requests, want 50 (each once)", len(rate))
	}
	// At the server, not from here: the jobs start while the second batch
	// is still being enqueued. 10/s after a burst of 2: 4.7s at least.
	if len(rate) > 0 {
		if span := rate[len(rate)-1].Sub(rate[0]); span < 4*time.Second {
			t.Errorf("50 jobs at 10/s reached the server within %v", span)
		}
	}
	if m := rc.Most("127.0.0.1"); m != 3 {
		t.Errorf("127.0.0.1: at most %d in flight at the server, want 3", m)
	}
	if n := throttled(t, srv, recR.Batch); n < 30 {
		t.Errorf("%d of the 50 rate-limited jobs say they were throttled", n)
	}
	st := mustCLI(t, time.Minute, nil, "limits", "--redis", srv.URL())
	t.Logf("50 jobs at 10/s (burst 2) took %v, at most %d in a second at the server; reqfleet limits:\n%s", took, testkit.MaxInWindow(rate, time.Second), st.stdout)
}

// TestUnlimitedHostNotSlowed: 1,000 jobs for 127.0.0.1 (no limit) take
// about as long with 200 jobs for a 10/s host (localhost, the same server)
// queued ahead of them as without: the throttled jobs wait parked, not on
// the sessions. Both runs on the same fleet; the bound is generous (twice,
// plus 3s) against a loaded machine, and far below the 20s the 200 take.
func TestUnlimitedHostNotSlowed(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := testredis.Start(t)
	rdb := srv.Client(t)
	rc := newHostRecorder(t)
	mustCLI(t, time.Minute, nil, "limits", "set", "localhost", "--rate", "10/s", "--redis", srv.URL())
	for i := range 3 {
		startWorker(t, fmt.Sprint("w", i), srv.URL(), "-c", "8")
	}
	run := func(name string) time.Duration {
		file, _ := writeJobs(t, name, 1000, func(i int) string { return rc.url("127.0.0.1", fmt.Sprintf("/%s/%d", name, i)) })
		rec := enqueue(t, srv.URL(), file)
		return waitBatch(t, rdb, "default", rec.Batch, 2*time.Minute)
	}
	alone := run("alone")
	fileL, _ := writeJobs(t, "limited", 200, func(i int) string { return rc.url("localhost", fmt.Sprintf("/l%d", i)) })
	recL := enqueue(t, srv.URL(), fileL)
	mixed := run("mixed")
	t.Logf("1,000 unlimited jobs: %v alone, %v behind 200 jobs of a 10/s host", alone, mixed)
	if mixed > 2*alone+3*time.Second {
		t.Errorf("the unlimited jobs took %v with the throttled ones queued ahead, %v without", mixed, alone)
	}
	if st := batchStatus(t, rdb, "default", recL.Batch); st.Done > 100 {
		t.Errorf("%d of the 200 limited jobs done already: the limit did not hold?", st.Done)
	}
	if m := testkit.MaxInWindow(rc.Seen("localhost"), time.Second); m > 11 {
		t.Errorf("localhost: %d requests in one second, want at most 10 + burst 1", m)
	}
}

// TestRetryAfterPausesHost: a 429 with Retry-After: 2 from localhost (no
// limit of its own) pauses it fleet-wide: none of the 30 jobs queued for
// it next reaches the server until the 2s are over, on any of the three
// workers; then they all run, saying they waited.
func TestRetryAfterPausesHost(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := testredis.Start(t)
	rdb := srv.Client(t)
	rc := newHostRecorder(t)
	for i := range 3 {
		startWorker(t, fmt.Sprint("w", i), srv.URL(), "-c", "4")
	}
	fileB, _ := writeJobs(t, "busy", 1, func(int) string { return rc.url("localhost", "/busy/") })
	waitBatch(t, rdb, "default", enqueue(t, srv.URL(), fileB).Batch, time.Minute)
	busyAt := time.Unix(0, rc.busyAt.Load())
	file, ids := writeJobs(t, "after", 30, func(i int) string { return rc.url("localhost", fmt.Sprintf("/a%d", i)) })
	rec := enqueue(t, srv.URL(), file)
	waitBatch(t, rdb, "default", rec.Batch, time.Minute)
	wantAll(t, checkBatch(t, rdb, "default", rec.Batch, ids), "a 200", isResponse(1))
	var during, after []time.Duration
	for _, ts := range rc.Seen("localhost") {
		switch d := ts.Sub(busyAt); {
		case d > 0 && d < 1900*time.Millisecond:
			during = append(during, d)
		case d >= 1900*time.Millisecond:
			after = append(after, d)
		}
	}
	if len(during) > 0 {
		t.Errorf("%d requests reached localhost during its 2s pause, at %v after the 429", len(during), during)
	}
	if len(after) != 30 {
		t.Errorf("%d requests after the pause, want 30", len(after))
	}
	if n := throttled(t, srv, rec.Batch); n != 30 {
		t.Errorf("%d of 30 say they waited for the pause", n)
	}
	if len(after) > 0 {
		t.Logf("first request %v after the 429 (Retry-After: 2)", slices.Min(after))
	}
}
