package metrics

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/limits"
)

func TestThrottledCapsHosts(t *testing.T) {
	m := NewThrottled(2)
	for _, h := range []string{"a.example", "b.example", "c.example", "a.example", ""} {
		m.Observe("q", h, 1500*time.Millisecond)
	}
	want := `
# HELP reqfleet_throttled_jobs_total Jobs that waited for their host's limits (rate, concurrency, a Retry-After pause) before they ran; host is the URL's host name, "other" past the cap.
# TYPE reqfleet_throttled_jobs_total counter
reqfleet_throttled_jobs_total{host="a.example",queue="q"} 2
reqfleet_throttled_jobs_total{host="b.example",queue="q"} 1
reqfleet_throttled_jobs_total{host="invalid",queue="q"} 1
reqfleet_throttled_jobs_total{host="other",queue="q"} 1
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "reqfleet_throttled_jobs_total"); err != nil {
		t.Error(err)
	}
}

func TestLimitsCollector(t *testing.T) {
	r := testredis.Start(t).Client(t)
	ctx := context.Background()
	if _, err := limits.NewStore(r).Set(ctx, "a.example", limits.Limit{Rate: 120, Per: time.Minute, Concurrency: 4}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c := rdb.New(r)
	if _, err := c.HostAdmit(ctx, "a.example", []string{"q 1"}, 4, false, now.Add(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PauseHost(ctx, "a.example", now.Add(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP reqfleet_host_in_flight A limited host's concurrency slots held: requests in flight (or admitted, about to start).
# TYPE reqfleet_host_in_flight gauge
reqfleet_host_in_flight{host="a.example"} 1
# HELP reqfleet_host_limit_concurrency A limited host's concurrency limit, fleet-wide.
# TYPE reqfleet_host_limit_concurrency gauge
reqfleet_host_limit_concurrency{host="a.example"} 4
# HELP reqfleet_host_limit_rate A limited host's rate limit, requests a second, fleet-wide.
# TYPE reqfleet_host_limit_rate gauge
reqfleet_host_limit_rate{host="a.example"} 2
`
	lc := NewLimits(r, []string{"q"})
	if err := testutil.CollectAndCompare(lc, strings.NewReader(want), "reqfleet_host_in_flight", "reqfleet_host_limit_concurrency", "reqfleet_host_limit_rate"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(lc, "reqfleet_host_paused_seconds"); n != 1 {
		t.Errorf("%d pause series, want 1", n)
	}
}
