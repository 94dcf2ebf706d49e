package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/enqueuer"
	"github.com/reqfleet/reqfleet/inbox"
	"github.com/reqfleet/reqfleet/metrics"
	"github.com/reqfleet/reqfleet/server"
)

// workerOps are what `reqfleet worker` runs beside the worker: the inbox
// forwarders of its queues (--inbox) and the /metrics server
// (--metrics-addr).
type workerOps struct {
	inbox       bool
	forceLayout bool // --force-asynq-layout, for the inbox's enqueuers
	metricsAddr string
	jobs        *metrics.Jobs // the worker's outcome metrics, served at --metrics-addr
	throttled   *metrics.Throttled
}

func (o *workerOps) register(fs interface {
	BoolVar(*bool, string, bool, string)
	StringVar(*string, string, string, string)
}) {
	fs.BoolVar(&o.inbox, "inbox", true, use("inbox", " (one worker's forwarder works at a time)"))
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", use("metrics-addr", ", e.g. 127.0.0.1:9100 (default: none)"))
	o.jobs = metrics.NewJobs(0)
	o.throttled = metrics.NewThrottled(0)
}

// run runs work (the worker) and the ops beside it until ctx ends, and
// waits for them all. A --metrics-addr that cannot be listened on fails
// before the worker starts.
func (o *workerOps) run(ctx context.Context, rdb redis.UniversalClient, queues map[string]int, retryFor time.Duration, log *slog.Logger, work func(context.Context) error) error {
	var ln net.Listener
	if o.metricsAddr != "" {
		var err error
		if ln, err = net.Listen("tcp", o.metricsAddr); err != nil {
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		log.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	}
	var forwarders []*inbox.Forwarder
	if o.inbox {
		for _, q := range slices.Sorted(maps.Keys(queues)) {
			e, err := enqueuer.New(enqueuer.Config{Redis: rdb, Queue: q, RedisRetryFor: retryFor, Logger: log, ForceAsynqLayout: o.forceLayout})
			if err != nil {
				return err
			}
			defer e.Close()
			f, err := inbox.New(inbox.Config{Redis: rdb, Enqueuer: e, Logger: log})
			if err != nil {
				return err
			}
			forwarders = append(forwarders, f)
		}
	}

	octx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	if ln != nil {
		reg, err := metrics.NewRegistry(o.jobs, o.throttled)
		if err != nil {
			ln.Close()
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics.Handler(reg, log))
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, `{"status":"ok"}`) })
		wg.Go(func() { fail(server.Serve(octx, ln, mux, 5*time.Second, log)) })
	}
	for _, f := range forwarders {
		wg.Go(func() {
			if err := f.Run(octx); err != nil {
				fail(fmt.Errorf("inbox of queue %s: %w", f.Queue(), err))
			}
		})
	}
	err := work(ctx)
	stop()
	wg.Wait()
	return errors.Join(append([]error{err}, errs...)...)
}
