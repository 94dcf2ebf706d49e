// Package metrics exposes reqfleet to Prometheus: Jobs counts the outcomes a
// worker records and times its jobs; Queues reads a fleet's queues from
// Redis at scrape time (queue sizes, list lengths, batches, workers).
// Handler serves a registry at /metrics.
//
// Labels never carry secrets: a job's host is its URL's host and port
// (never its user info, path or query), and the hosts are capped (MaxHosts)
// so that a crawl over many sites does not grow the series without bound.
package metrics

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/reqfleet/reqfleet/tasks"
)

// Namespace prefixes every reqfleet metric.
const Namespace = "reqfleet"

// DefaultMaxHosts is Jobs' default cap on distinct host labels.
const DefaultMaxHosts = 100

// OtherHost is the host label of jobs past the cap, and InvalidHost that of
// URLs with no host that parses.
const (
	OtherHost   = "other"
	InvalidHost = "invalid"
)

// DurationBuckets are the job latency histogram's buckets, in seconds: from
// a fast local answer to the default 10m task timeout.
var DurationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

// Jobs is the worker side: outcomes by kind, status code, exception type
// and host, and the time each job took. It is a prometheus.Collector;
// Observe is safe for concurrent use.
type Jobs struct {
	jobs     *prometheus.CounterVec
	resends  *prometheus.CounterVec
	duration *prometheus.HistogramVec

	maxHosts int
	mu       sync.RWMutex
	hosts    map[string]struct{}
}

// NewJobs makes the worker metrics, with up to maxHosts distinct host labels
// (0: DefaultMaxHosts); jobs of later hosts are labelled "other".
func NewJobs(maxHosts int) *Jobs {
	if maxHosts <= 0 {
		maxHosts = DefaultMaxHosts
	}
	return &Jobs{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "jobs_total",
			Help: "Jobs whose outcome this worker recorded. outcome is response or exception; code is the " +
				"HTTP status of a response, exception the type of an exception (requests' names); host is the " +
				"request URL's host[:port], \"other\" past the cap of distinct hosts.",
		}, []string{"queue", "outcome", "code", "exception", "host"}),
		resends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "connection_retries_total",
			Help: "Requests sent once more on a fresh connection because a reused kept-alive connection closed " +
				"before any byte of the answer (idempotent methods, or a job with an Idempotency-Key); host as in jobs_total.",
		}, []string{"queue", "host"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace,
			Name:      "job_duration_seconds",
			Help:      "Time from a worker taking a job to its outcome being recorded.",
			Buckets:   DurationBuckets,
		}, []string{"queue", "outcome"}),
		maxHosts: maxHosts,
		hosts:    map[string]struct{}{},
	}
}

// Observe counts one recorded outcome of a job of queue that took elapsed.
func (m *Jobs) Observe(queue string, o tasks.Outcome, elapsed time.Duration) {
	var outcome, code, exception, rawURL string
	var resends int
	switch v := o.(type) {
	case *tasks.Response:
		outcome, code, rawURL, resends = "response", codeLabel(v.StatusCode), v.Request.URL, v.ConnectionRetries
	case *tasks.Exception:
		outcome, exception, rawURL, resends = "exception", v.Exception.Type, v.Request.URL, v.ConnectionRetries
	default:
		return
	}
	host := m.host(rawURL)
	m.jobs.WithLabelValues(queue, outcome, code, exception, host).Inc()
	if resends > 0 {
		m.resends.WithLabelValues(queue, host).Add(float64(resends))
	}
	m.duration.WithLabelValues(queue, outcome).Observe(elapsed.Seconds())
}

// host is the URL's host label: host[:port] in lower case, "invalid" when
// there is none, "other" once maxHosts hosts have been seen.
func (m *Jobs) host(rawURL string) string {
	h, ok := urlHost(rawURL)
	if !ok {
		return InvalidHost
	}
	m.mu.RLock()
	_, known := m.hosts[h]
	full := len(m.hosts) >= m.maxHosts
	m.mu.RUnlock()
	if known {
		return h
	}
	if full {
		return OtherHost
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, known := m.hosts[h]; !known {
		if len(m.hosts) >= m.maxHosts {
			return OtherHost
		}
		m.hosts[h] = struct{}{}
	}
	return h
}

// Describe implements prometheus.Collector.
func (m *Jobs) Describe(ch chan<- *prometheus.Desc) {
	m.jobs.Describe(ch)
	m.resends.Describe(ch)
	m.duration.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Jobs) Collect(ch chan<- prometheus.Metric) {
	m.jobs.Collect(ch)
	m.resends.Collect(ch)
	m.duration.Collect(ch)
}

// NewRegistry is a registry with the Go runtime and process collectors and
// the given ones.
func NewRegistry(cs ...prometheus.Collector) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	cs = append([]prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}, cs...)
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// Handler serves the registry in Prometheus' formats. A collector's error
// is logged and the other metrics are still served.
func Handler(reg *prometheus.Registry, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:          errorLog{log},
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          reg, // promhttp_metric_handler_errors_total
		EnableOpenMetrics: true,
	})
}

type errorLog struct{ l *slog.Logger }

func (e errorLog) Println(v ...any) {
	e.l.Warn("metrics collection failed", "err", strings.TrimSpace(fmt.Sprintln(v...)))
}
