package outcomes

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/reqfleet/reqfleet/internal/rdb"
)

// Stats is a queue's state, for `reqfleet stats`.
type Stats struct {
	Queue      string        `json:"queue"`
	Pending    int           `json:"pending"`
	Active     int           `json:"active"` // in flight
	Scheduled  int           `json:"scheduled"`
	Retry      int           `json:"retry"`
	Archived   int           `json:"archived"`
	Results    int64         `json:"results"`
	Exceptions int64         `json:"exceptions"`
	Retrying   int64         `json:"retrying"` // taken by a retry run, not yet re-enqueued
	Batches    []BatchStatus `json:"batches"`
	Workers    []WorkerInfo  `json:"workers"`
}

// WorkerInfo is one worker process seen in the fleet (its asynq servers,
// one a shard, taken together).
type WorkerInfo struct {
	Host        string         `json:"host"`
	PID         int            `json:"pid"`
	Concurrency int            `json:"concurrency"`
	Queues      map[string]int `json:"queues"`
	Active      int            `json:"active"`
	Started     time.Time      `json:"started"`
	Status      string         `json:"status"`
}

// Stats reads the queue's sizes, list lengths, the latest batches (up to
// batches) and the workers serving the queue.
func (r *Reader) Stats(ctx context.Context, batches int64) (Stats, error) {
	st := Stats{Queue: r.queue}
	insp := asynq.NewInspectorFromRedisClient(r.rdb)
	queues, err := insp.Queues()
	if err != nil {
		return st, fmt.Errorf("queues: %w", err)
	}
	if slices.Contains(queues, r.queue) { // asynq knows a queue once a job was enqueued to it
		qi, err := insp.GetQueueInfo(r.queue)
		if err != nil {
			return st, fmt.Errorf("queue %s: %w", r.queue, err)
		}
		st.Pending, st.Active, st.Scheduled, st.Retry, st.Archived = qi.Pending, qi.Active, qi.Scheduled, qi.Retry, qi.Archived
	}
	pipe := r.rdb.Pipeline()
	res := pipe.LLen(ctx, rdb.ResultsKey(r.queue))
	exc := pipe.LLen(ctx, rdb.ExceptionsKey(r.queue))
	rty := pipe.LLen(ctx, rdb.RetryingKey(r.queue))
	if _, err := pipe.Exec(ctx); err != nil {
		return st, fmt.Errorf("list lengths: %w", err)
	}
	st.Results, st.Exceptions, st.Retrying = res.Val(), exc.Val(), rty.Val()
	if st.Batches, err = r.Batches(ctx, batches); err != nil {
		return st, err
	}
	servers, err := insp.Servers()
	if err != nil {
		return st, fmt.Errorf("workers: %w", err)
	}
	// A worker process runs one asynq server per shard: one entry each
	// process, with the shards' concurrency and jobs added up.
	seen := map[string]int{}
	for _, s := range servers {
		if _, ok := s.Queues[r.queue]; !ok {
			continue
		}
		key := s.Host + ":" + strconv.Itoa(s.PID)
		if i, ok := seen[key]; ok {
			w := &st.Workers[i]
			w.Concurrency += s.Concurrency
			w.Active += len(s.ActiveWorkers)
			if s.Started.Before(w.Started) {
				w.Started = s.Started
			}
			continue
		}
		seen[key] = len(st.Workers)
		st.Workers = append(st.Workers, WorkerInfo{
			Host: s.Host, PID: s.PID, Concurrency: s.Concurrency, Queues: s.Queues,
			Active: len(s.ActiveWorkers), Started: s.Started, Status: s.Status,
		})
	}
	return st, nil
}
