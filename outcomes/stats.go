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

// Sizes is a queue's sizes: asynq's (0 while asynq does not know the
// queue: no job was enqueued to it yet) and its outcome lists'.
type Sizes struct {
	Queue      string `json:"queue"`
	Pending    int    `json:"pending"`
	Active     int    `json:"active"` // in flight
	Scheduled  int    `json:"scheduled"`
	Retry      int    `json:"retry"`
	Archived   int    `json:"archived"`
	Results    int64  `json:"results"`    // responses in the list
	Exceptions int64  `json:"exceptions"` // exceptions in the list
	Retrying   int64  `json:"retrying"`   // taken by a retry run, not yet re-enqueued
}

// Stats is a queue's state, for `reqfleet stats`.
type Stats struct {
	Sizes
	Batches []BatchStatus `json:"batches"`
	Workers []WorkerInfo  `json:"workers"`
}

// Sizes reads the queue's sizes with insp, and asynq's info on the queue
// (nil while asynq does not know it).
func (r *Reader) Sizes(ctx context.Context, insp *asynq.Inspector) (Sizes, *asynq.QueueInfo, error) {
	sz := Sizes{Queue: r.queue}
	queues, err := insp.Queues()
	if err != nil {
		return sz, nil, fmt.Errorf("queues: %w", err)
	}
	var qi *asynq.QueueInfo
	if slices.Contains(queues, r.queue) { // asynq knows a queue once a job was enqueued to it
		if qi, err = insp.GetQueueInfo(r.queue); err != nil {
			return sz, nil, fmt.Errorf("queue %s: %w", r.queue, err)
		}
		sz.Pending, sz.Active, sz.Scheduled, sz.Retry, sz.Archived = qi.Pending, qi.Active, qi.Scheduled, qi.Retry, qi.Archived
	}
	pipe := r.rdb.Pipeline()
	res := pipe.LLen(ctx, rdb.ResultsKey(r.queue))
	exc := pipe.LLen(ctx, rdb.ExceptionsKey(r.queue))
	rty := pipe.LLen(ctx, rdb.RetryingKey(r.queue))
	if _, err := pipe.Exec(ctx); err != nil {
		return sz, qi, fmt.Errorf("list lengths: %w", err)
	}
	sz.Results, sz.Exceptions, sz.Retrying = res.Val(), exc.Val(), rty.Val()
	return sz, qi, nil
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
	insp := asynq.NewInspectorFromRedisClient(r.rdb)
	sizes, _, err := r.Sizes(ctx, insp)
	st := Stats{Sizes: sizes}
	if err != nil {
		return st, err
	}
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
