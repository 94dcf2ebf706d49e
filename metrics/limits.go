package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/limits"
)

// Throttled is the worker side of per-host limits: the jobs that waited
// for their host's limits and how long, per queue and host (the host
// name, capped as Jobs' hosts). Observe is Config.Limits.OnThrottled.
type Throttled struct {
	jobs, seconds *prometheus.CounterVec

	maxHosts int
	mu       sync.Mutex
	hosts    map[string]struct{}
}

// NewThrottled makes the metrics, with up to maxHosts distinct host
// labels (0: DefaultMaxHosts), then "other".
func NewThrottled(maxHosts int) *Throttled {
	if maxHosts <= 0 {
		maxHosts = DefaultMaxHosts
	}
	return &Throttled{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "throttled_jobs_total",
			Help: "Jobs that waited for their host's limits (rate, concurrency, a Retry-After pause) before they ran; host is the URL's host name, \"other\" past the cap.",
		}, []string{"queue", "host"}),
		seconds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "throttled_seconds_total",
			Help: "Time the throttled jobs waited, in all.",
		}, []string{"queue", "host"}),
		maxHosts: maxHosts,
		hosts:    map[string]struct{}{},
	}
}

// Observe counts a job of queue for host that waited.
func (m *Throttled) Observe(queue, host string, waited time.Duration) {
	h := m.host(host)
	m.jobs.WithLabelValues(queue, h).Inc()
	m.seconds.WithLabelValues(queue, h).Add(waited.Seconds())
}

func (m *Throttled) host(h string) string {
	if h == "" {
		return InvalidHost
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.hosts[h]; ok {
		return h
	}
	if len(m.hosts) >= m.maxHosts {
		return OtherHost
	}
	m.hosts[h] = struct{}{}
	return h
}

// Describe implements prometheus.Collector.
func (m *Throttled) Describe(ch chan<- *prometheus.Desc) {
	m.jobs.Describe(ch)
	m.seconds.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Throttled) Collect(ch chan<- prometheus.Metric) {
	m.jobs.Collect(ch)
	m.seconds.Collect(ch)
}

// Limits reads the fleet's per-host limits from Redis at each scrape:
// each limited host's (or pattern's) configured rate and concurrency, its
// slots in flight, its pause left, adaptive throttling's rate, and the
// jobs of each queue parked for it. At most DefaultMaxHosts hosts, the
// first by name (the table holds up to 1,000).
type Limits struct {
	store   *limits.Store
	queues  []string
	timeout time.Duration

	rate, conc, inFlight, paused, auto, parked *prometheus.Desc
}

// NewLimits makes the collector for queues' parked jobs.
func NewLimits(r redis.UniversalClient, queues []string) *Limits {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
	}
	return &Limits{
		store: limits.NewStore(r), queues: queues, timeout: 5 * time.Second,
		rate:     desc("host_limit_rate", "A limited host's rate limit, requests a second, fleet-wide.", "host"),
		conc:     desc("host_limit_concurrency", "A limited host's concurrency limit, fleet-wide.", "host"),
		inFlight: desc("host_in_flight", "A limited host's concurrency slots held: requests in flight (or admitted, about to start).", "host"),
		paused:   desc("host_paused_seconds", "Time left of a host's Retry-After pause.", "host"),
		auto:     desc("host_auto_rate", "Adaptive throttling's current rate for the host, requests a second.", "host"),
		parked:   desc("parked_jobs", "Jobs of the queue waiting for their host's limits.", "queue", "host"),
	}
}

// Describe implements prometheus.Collector.
func (c *Limits) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.rate, c.conc, c.inFlight, c.paused, c.auto, c.parked} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A failed read leaves the
// metrics out (Queues' reqfleet_redis_up says why).
func (c *Limits) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	st, err := c.store.List(ctx)
	if err != nil {
		return
	}
	if len(st) > DefaultMaxHosts {
		st = st[:DefaultMaxHosts]
	}
	now := time.Now()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, s := range st {
		n := s.Limit.Normalized()
		if n.Rate > 0 {
			gauge(c.rate, float64(n.Rate)/n.Per.Seconds(), s.Host)
		}
		if n.Concurrency > 0 {
			gauge(c.conc, float64(n.Concurrency), s.Host)
		}
		gauge(c.inFlight, float64(s.InFlight), s.Host)
		if !s.PausedUntil.IsZero() {
			gauge(c.paused, s.PausedUntil.Sub(now).Seconds(), s.Host)
		}
		if s.AutoRate > 0 {
			gauge(c.auto, s.AutoRate, s.Host)
		}
	}
	for _, q := range c.queues {
		ps, err := c.store.Parked(ctx, q)
		if err != nil {
			return
		}
		for i, p := range ps {
			if i == DefaultMaxHosts {
				break
			}
			gauge(c.parked, float64(p.Parked), q, p.Host)
		}
	}
}
