package rdb

import (
	"context"
	"slices"
)

// Queues lists the queues the fleet has seen, sorted: those in asynq's
// queue set (every queue a job was enqueued to).
func (c *Client) Queues(ctx context.Context) ([]string, error) {
	qs, err := c.r.SMembers(ctx, AllQueues).Result()
	if err != nil {
		return nil, err
	}
	slices.Sort(qs)
	return qs, nil
}

// QueueSeen reports whether the fleet has seen queue: asynq knows it (a
// job was enqueued to it), or it holds reqfleet batches or outcomes.
func (c *Client) QueueSeen(ctx context.Context, queue string) (bool, error) {
	in, err := c.r.SIsMember(ctx, AllQueues, queue).Result()
	if err != nil || in {
		return in, err
	}
	n, err := c.r.Exists(ctx, BatchesKey(queue)).Result()
	if err != nil || n > 0 {
		return n > 0, err
	}
	n, err = c.r.Exists(ctx, ResultsKey(queue), ExceptionsKey(queue)).Result()
	return n > 0, err
}

// BatchQueues lists the queues, among the fleet's, that hold a batch of
// that id, sorted. A queue's keys have a slot of their own in a Redis
// Cluster: one call each.
func (c *Client) BatchQueues(ctx context.Context, batch string) ([]string, error) {
	qs, err := c.Queues(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, q := range qs {
		n, err := c.r.Exists(ctx, BatchKey(q, batch)).Result()
		if err != nil {
			return nil, err
		}
		if n > 0 {
			out = append(out, q)
		}
	}
	return out, nil
}
