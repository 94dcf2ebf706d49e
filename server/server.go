// Package server is `reqfleet serve`: one HTTP server with the API for
// other applications and its dashboard. Its routes (routes, dashboardRoutes;
// the /v1 ones are documented in openapi.json, which a test holds to the
// route table):
//
//   - POST /v1/jobs: enqueue one job or a JSONL batch (api.go)
//   - GET /v1/batches/{id}: a batch's progress (api.go)
//   - GET /v1/results: a list as JSONL, streamed (api.go)
//   - GET /v1/exceptions: a page of the exceptions list (exceptions.go)
//   - GET /v1/jobs/{id}: a job's state and outcome by its id (jobs.go)
//   - GET /v1/openapi.json: the API's OpenAPI 3.1 document (openapi.go)
//   - GET /v1/stats: the queues' sizes and the fleet's totals (stats.go)
//   - GET /v1/batches: the batches, newest first, paged (batches.go)
//   - POST /v1/retry: send exceptions again, as `reqfleet retry` (retry.go)
//   - GET /v1/hosts: outcomes by host, fleet-wide (hosts.go)
//   - GET /v1/workers: the worker processes alive (workers.go)
//   - any other /v1/ path: a JSON 404 or 405 (errors.go)
//   - GET /: reqfleet's dashboard, with under /dashboard/ its static files
//     and the JSON routes its script reads: outcomes, outcomes.jsonl and
//     lookup (dashboard.go, lookup.go)
//   - GET /metrics: Prometheus metrics
//   - GET /healthz, GET /readyz: health checks (no token)
//   - /ui/: the asynqmon web UI (ui.go), unless turned off
//
// Every /v1 and /dashboard/ error is one JSON shape (errors.go, writeError).
//
// With a token set (REQFLEET_API_TOKEN), everything but the health checks
// needs it: "Authorization: Bearer TOKEN", or HTTP Basic auth with the token
// as the password (any user name), which is what a browser sends for the
// UI once asked. Request bodies and the Authorization header are never
// logged.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/enqueuer"
	"github.com/reqfleet/reqfleet/metrics"
	"github.com/reqfleet/reqfleet/outcomes"
	"github.com/reqfleet/reqfleet/tasks"
)

// Defaults of Config's zero fields.
const (
	DefaultMaxBody = 32 << 20
	DefaultMaxIDs  = 10_000
	DefaultUIPath  = "/ui"
)

// ErrConfig: a Config field is missing or out of range.
var ErrConfig = errors.New("invalid server config")

// Config configures a Server. Zero fields take the defaults.
type Config struct {
	Redis redis.UniversalClient // required; not closed by Close
	// Queues the API enqueues to and the metrics report; the first is the
	// default of ?queue=. Default ["default"].
	Queues []string
	// Token, when set, is required of every request but /healthz and /readyz.
	Token string
	// UI is the web UI's own Redis connection (asynqmon opens its own
	// clients); nil: no UI.
	UI         asynq.RedisConnOpt
	UIReadOnly bool // the UI only shows, it cannot delete, run or pause

	MaxBody      int64 // largest POST /v1/jobs body, in bytes; default 32 MiB
	MaxIDs       int   // job ids listed in a POST /v1/jobs answer; default 10000
	AllowPrivate bool  // accept job URLs whose host is a private, loopback or link-local IP literal, or localhost

	Enqueuer enqueuer.Config        // template of the API's enqueuers (MaxRetry, TaskTimeout, ...); Redis and Queue are set per queue
	Metrics  []prometheus.Collector // more collectors for /metrics, besides the queues' and the API's
	Logger   *slog.Logger           // default: discard
}

func (c *Config) validate() error {
	if c.Redis == nil {
		return fmt.Errorf("%w: Redis is required", ErrConfig)
	}
	if len(c.Queues) == 0 {
		c.Queues = []string{enqueuer.DefaultQueue}
	}
	for _, q := range c.Queues {
		if err := tasks.ValidateQueue(q); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	switch {
	case c.MaxBody == 0:
		c.MaxBody = DefaultMaxBody
	case c.MaxBody < 0:
		return fmt.Errorf("%w: MaxBody %d: must be above 0", ErrConfig, c.MaxBody)
	}
	switch {
	case c.MaxIDs == 0:
		c.MaxIDs = DefaultMaxIDs
	case c.MaxIDs < 0:
		c.MaxIDs = 0 // list none
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Server is the HTTP side of a fleet. Close it when done.
type Server struct {
	cfg     Config
	log     *slog.Logger
	enq     map[string]*enqueuer.Enqueuer
	readers map[string]*outcomes.Reader
	ui      *asynqmon.HTTPHandler
	handler http.Handler
	reg     *prometheus.Registry
	table   []route // every route registered by routes' handle, in order

	accepted *prometheus.CounterVec
	requests *prometheus.CounterVec
	retries  retryLocks // POST /v1/retry: one run a queue at a time
}

// New builds the server: its enqueuers, the UI and the metrics registry.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "serve"),
		enq:     map[string]*enqueuer.Enqueuer{},
		readers: map[string]*outcomes.Reader{},
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "api_jobs_accepted_total",
			Help: "Jobs enqueued through POST /v1/jobs.",
		}, []string{"queue"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "http_requests_total",
			Help: "HTTP requests served, by route and status code.",
		}, []string{"route", "code"}),
	}
	for _, q := range cfg.Queues {
		ec := cfg.Enqueuer
		ec.Redis, ec.Queue = cfg.Redis, q
		if ec.Logger == nil {
			ec.Logger = cfg.Logger
		}
		e, err := enqueuer.New(ec)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.enq[q] = e
		r, err := outcomes.NewReader(cfg.Redis, q)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.readers[q] = r
	}
	qc, err := metrics.NewQueues(metrics.QueuesConfig{Redis: cfg.Redis, Queues: cfg.Queues})
	if err != nil {
		s.Close()
		return nil, err
	}
	lc := metrics.NewLimits(cfg.Redis, cfg.Queues) // per-host limits (metrics/limits.go)
	if s.reg, err = metrics.NewRegistry(append([]prometheus.Collector{qc, lc, s.accepted, s.requests}, cfg.Metrics...)...); err != nil {
		s.Close()
		return nil, fmt.Errorf("%w: metrics: %w", ErrConfig, err)
	}
	if cfg.UI != nil {
		s.ui = asynqmon.New(asynqmon.Options{
			RootPath:         DefaultUIPath,
			RedisConnOpt:     cfg.UI,
			PayloadFormatter: asynqmon.PayloadFormatterFunc(redactPayload),
			ReadOnly:         cfg.UIReadOnly,
		})
	}
	s.handler = s.routes()
	return s, nil
}

// Close releases the enqueuers and the UI's Redis connections.
func (s *Server) Close() error {
	for _, e := range s.enq {
		e.Close()
	}
	if s.ui != nil {
		return s.ui.Close()
	}
	return nil
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Registry is the server's metrics registry.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern, route string, auth bool, h http.HandlerFunc) {
		var hh http.Handler = h
		if auth {
			hh = s.requireToken(hh, false)
		}
		mux.Handle(pattern, s.observe(route, hh))
		s.table = append(s.table, newRoute(pattern, route, auth))
	}
	handle("GET /healthz", "healthz", false, s.healthz)
	handle("GET /readyz", "readyz", false, s.readyz)
	handle("POST /v1/jobs", "jobs", true, s.postJobs)
	handle("GET /v1/batches/{id}", "batch", true, s.getBatch)
	handle("GET /v1/results", "results", true, s.getResults)
	s.dashboardRoutes(handle, mux) // dashboard.go: / and the JSON routes it reads
	handle("GET /v1/exceptions", "exceptions", true, s.getExceptions)
	handle("GET /v1/jobs/{id}", "job", true, s.getJob)
	handle("GET /v1/openapi.json", "openapi", true, s.getOpenAPI)
	mux.Handle(v1Prefix, s.observe("unrouted", s.requireToken(s.unrouted(mux, v1Prefix), false)))
	s.limitRoutes(handle) // GET/PUT/DELETE /v1/limits/{host} (limits.go)
	mux.Handle("GET /metrics", s.observe("metrics", s.requireToken(metrics.Handler(s.reg, s.log), false)))
	if s.ui != nil {
		ui := s.requireToken(s.ui, true)
		mux.Handle(DefaultUIPath+"/", s.observe("ui", ui))
		mux.Handle("GET "+DefaultUIPath, http.RedirectHandler(DefaultUIPath+"/", http.StatusMovedPermanently))
	}
	// Browsers' cross-site POSTs (a form on another site, with the UI's
	// Basic credentials cached) are refused; other clients send no
	// Sec-Fetch-Site or Origin and pass.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(crossOriginDenied))
	return cop.Handler(mux)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when Redis answers a PING within 2s.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.cfg.Redis.Ping(ctx).Err(); err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "not ready: Redis does not answer", slog.Any("err", err))
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "Redis does not answer"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// statusWriter records the status code and size of an answer.
type statusWriter struct {
	http.ResponseWriter
	code  int
	bytes int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush lets streamed answers (GET /v1/results) reach the client as they go.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// observe counts and logs each request: method, path, status, size and
// time; never its body, query values or headers.
func (s *Server) observe(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		s.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		level := slog.LevelDebug
		switch {
		case sw.code >= 500:
			level = slog.LevelWarn
		case route == "jobs" || route == "batch" || route == "results" || sw.code == http.StatusUnauthorized:
			level = slog.LevelInfo
		}
		s.log.LogAttrs(r.Context(), level, "http request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", sw.code),
			slog.Int64("bytes", sw.bytes), slog.Duration("elapsed", time.Since(start)), slog.String("remote", r.RemoteAddr))
	})
}

// Serve serves h on ln until ctx ends, then shuts down gracefully: requests
// in flight get up to grace to finish, the rest are cut. It returns nil
// after a shutdown asked by ctx.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		log.Warn("requests still in flight after the shutdown grace: closing them", "grace", grace)
		err = srv.Close()
	}
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
