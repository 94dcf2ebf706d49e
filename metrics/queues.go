package metrics

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/outcomes"
	"github.com/reqfleet/reqfleet/tasks"
)

// QueuesConfig configures a Queues collector. Zero fields take defaults.
type QueuesConfig struct {
	Redis   redis.UniversalClient // required; not closed
	Queues  []string              // default ["default"]
	Batches int64                 // recent batches of each queue counted; default 100
	Timeout time.Duration         // Redis time budget of one scrape; default 5s
}

// Queues reads the queues' state from Redis at each scrape: asynq's task
// counts and latency, reqfleet's list lengths (results, exceptions,
// retrying, inbox, inbox processing), the recent batches by state and the
// jobs they still wait for, and the workers serving each queue. Redis
// being unreachable shows as reqfleet_redis_up 0, not as a failed scrape.
type Queues struct {
	cfg  QueuesConfig
	insp *asynq.Inspector

	up, tasks, latency, lists, batches, outstanding, workers, slots *prometheus.Desc
}

// NewQueues makes the collector.
func NewQueues(cfg QueuesConfig) (*Queues, error) {
	if cfg.Redis == nil {
		return nil, errors.New("metrics: Redis is required")
	}
	if len(cfg.Queues) == 0 {
		cfg.Queues = []string{"default"}
	}
	for _, q := range cfg.Queues {
		if err := tasks.ValidateQueue(q); err != nil {
			return nil, err
		}
	}
	if cfg.Batches <= 0 {
		cfg.Batches = 100
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
	}
	return &Queues{
		cfg:         cfg,
		insp:        asynq.NewInspectorFromRedisClient(cfg.Redis),
		up:          desc("redis_up", "1 when the last scrape read Redis, 0 when it failed."),
		tasks:       desc("queue_tasks", "Tasks in the queue by asynq state (pending, active, scheduled, retry, archived, completed, aggregating).", "queue", "state"),
		latency:     desc("queue_latency_seconds", "Age of the queue's oldest pending task.", "queue"),
		lists:       desc("list_length", "Entries in the queue's lists: results, exceptions, retrying, inbox, inbox_processing.", "queue", "list"),
		batches:     desc("batches", "The queue's recent batches by state: enqueuing (not sealed), running, complete.", "queue", "state"),
		outstanding: desc("batch_jobs_outstanding", "Jobs of the recent batches still without an outcome.", "queue"),
		workers:     desc("workers", "Worker processes serving the queue.", "queue"),
		slots:       desc("worker_slots", "Jobs at once (sessions) of the workers serving the queue.", "queue"),
	}, nil
}

// Describe implements prometheus.Collector.
func (c *Queues) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.tasks, c.latency, c.lists, c.batches, c.outstanding, c.workers, c.slots} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Queues) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	err := c.collect(ctx, ch)
	up := 1.0
	if err != nil {
		up = 0
		ch <- prometheus.NewInvalidMetric(c.up, err)
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
}

func (c *Queues) collect(ctx context.Context, ch chan<- prometheus.Metric) error {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	known, err := c.insp.Queues()
	if err != nil {
		return err
	}
	servers, err := c.insp.Servers()
	if err != nil {
		return err
	}
	for _, q := range c.cfg.Queues {
		var qi asynq.QueueInfo
		if slices.Contains(known, q) { // asynq knows a queue once a job was enqueued to it
			info, err := c.insp.GetQueueInfo(q)
			if err != nil {
				return err
			}
			qi = *info
		}
		for state, n := range map[string]int{
			"pending": qi.Pending, "active": qi.Active, "scheduled": qi.Scheduled, "retry": qi.Retry,
			"archived": qi.Archived, "completed": qi.Completed, "aggregating": qi.Aggregating,
		} {
			gauge(c.tasks, float64(n), q, state)
		}
		gauge(c.latency, qi.Latency.Seconds(), q)

		pipe := c.cfg.Redis.Pipeline()
		lists := map[string]*redis.IntCmd{
			"results":          pipe.LLen(ctx, rdb.ResultsKey(q)),
			"exceptions":       pipe.LLen(ctx, rdb.ExceptionsKey(q)),
			"retrying":         pipe.LLen(ctx, rdb.RetryingKey(q)),
			"inbox":            pipe.LLen(ctx, rdb.InboxKey(q)),
			"inbox_processing": pipe.LLen(ctx, rdb.InboxProcessingKey(q)),
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
		for name, cmd := range lists {
			gauge(c.lists, float64(cmd.Val()), q, name)
		}

		r, err := outcomes.NewReader(c.cfg.Redis, q)
		if err != nil {
			return err
		}
		bs, err := r.Batches(ctx, c.cfg.Batches)
		if err != nil {
			return err
		}
		states := map[string]int{"enqueuing": 0, "running": 0, "complete": 0}
		var left int64
		for _, b := range bs {
			switch {
			case b.Complete():
				states["complete"]++
				continue
			case !b.Sealed:
				states["enqueuing"]++
			default:
				states["running"]++
			}
			left += max(0, b.Expected()-b.Done)
		}
		for state, n := range states {
			gauge(c.batches, float64(n), q, state)
		}
		gauge(c.outstanding, float64(left), q)

		// A worker process has several entries in asynq's server list (its
		// fetcher and asynq servers): it counts once, by host and pid.
		procs := map[string]bool{}
		var slots int
		for _, s := range servers {
			if _, ok := s.Queues[q]; ok {
				procs[s.Host+":"+strconv.Itoa(s.PID)] = true
				slots += s.Concurrency
			}
		}
		gauge(c.workers, float64(len(procs)), q)
		gauge(c.slots, float64(slots), q)
	}
	return nil
}
