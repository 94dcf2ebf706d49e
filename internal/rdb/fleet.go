package rdb

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The fleet's worker processes, for the dashboard: each worker process
// writes its state under FleetWorkerKey
// (a FleetWorker as JSON) every few seconds, to expire unless written again, and lists itself in
// FleetKey scored by that expiry, as asynq's servers do in asynq:servers.
// These keys belong to no queue: each has its own hash tag, and each write
// is its own command (Redis Cluster).

// FleetWorker is one worker process's state.
type FleetWorker struct {
	ID       string         `json:"id"`   // unique to the process's run
	Name     string         `json:"name"` // as in outcomes (default host:pid)
	Host     string         `json:"host"`
	PID      int            `json:"pid"`
	Queues   map[string]int `json:"queues"`
	Sessions int            `json:"sessions"`
	Busy     int            `json:"busy"`   // sessions on a job now
	Done     int64          `json:"done"`   // outcomes recorded since the start
	Mode     string         `json:"mode"`   // "fetcher" or "asynq-processor"
	Shards   int            `json:"shards"` // asynq servers (asynq-processor mode), each its own entry in asynq's list
	Started  time.Time      `json:"started"`
	Updated  time.Time      `json:"updated"`
}

// FleetKey is the sorted set of worker process ids, by expiry (unix seconds).
const FleetKey = "reqfleet:fleet"

// MaxFleetWorkers caps the worker processes FleetWorkers lists.
const MaxFleetWorkers = 1000

// FleetWorkerKey holds one worker process's state.
func FleetWorkerKey(id string) string { return "reqfleet:fleet:{" + id + "}" }

// WriteFleetWorker writes worker id's state, to expire after ttl, and drops
// the listing of processes gone quiet.
func (c *Client) WriteFleetWorker(ctx context.Context, w FleetWorker, now time.Time, ttl time.Duration) error {
	state, err := json.Marshal(w)
	if err != nil {
		return err
	}
	if err := c.r.Set(ctx, FleetWorkerKey(w.ID), state, ttl).Err(); err != nil {
		return err
	}
	if err := c.r.ZAdd(ctx, FleetKey, redis.Z{Score: float64(now.Add(ttl).Unix()), Member: w.ID}).Err(); err != nil {
		return err
	}
	return c.r.ZRemRangeByScore(ctx, FleetKey, "-inf", "("+strconv.FormatInt(now.Unix(), 10)).Err()
}

// ClearFleetWorker removes worker id's state (at its shutdown).
func (c *Client) ClearFleetWorker(ctx context.Context, id string) error {
	if err := c.r.ZRem(ctx, FleetKey, id).Err(); err != nil {
		return err
	}
	return c.r.Del(ctx, FleetWorkerKey(id)).Err()
}

// FleetWorkers are the states of the worker processes whose listing has
// not expired at now, up to MaxFleetWorkers, in id order; a state that
// does not decode is left out.
func (c *Client) FleetWorkers(ctx context.Context, now time.Time) ([]FleetWorker, error) {
	ids, err := c.r.ZRangeArgs(ctx, redis.ZRangeArgs{Key: FleetKey, ByScore: true,
		Start: strconv.FormatInt(now.Unix(), 10), Stop: "+inf", Count: MaxFleetWorkers}).Result()
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	p := c.r.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = p.Get(ctx, FleetWorkerKey(id))
	}
	if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]FleetWorker, 0, len(ids))
	for _, cmd := range cmds {
		var w FleetWorker
		if b, err := cmd.Bytes(); err == nil && json.Unmarshal(b, &w) == nil {
			out = append(out, w)
		}
	}
	return out, nil
}
