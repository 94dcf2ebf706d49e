package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/rdb"
)

// warnUnseen tells on stderr what a command reading a queue (and a batch,
// if not "") would otherwise show as nothing: a queue the fleet has never
// seen (mistyped?), a batch that is not in the queue, with the queues
// where it is. It only warns: failures to look are ignored.
func (a *app) warnUnseen(ctx context.Context, r redis.UniversalClient, queue, batch string) {
	c := rdb.New(r)
	if seen, err := c.QueueSeen(ctx, queue); err == nil && !seen {
		known, _ := c.Queues(ctx)
		fmt.Fprintf(a.stderr, "reqfleet: warning: queue %q has never been used%s\n", queue, knownQueues(known))
	}
	if batch == "" {
		return
	}
	if n, err := r.Exists(ctx, rdb.BatchKey(queue, batch)).Result(); err != nil || n > 0 {
		return
	}
	fmt.Fprintf(a.stderr, "reqfleet: warning: %s\n", a.batchNotHere(ctx, r, queue, batch))
}

// batchNotHere says that a batch is not in queue, and where it is.
func (a *app) batchNotHere(ctx context.Context, r redis.UniversalClient, queue, batch string) string {
	msg := fmt.Sprintf("no batch %s in queue %s", batch, queue)
	in, err := rdb.New(r).BatchQueues(ctx, batch)
	switch {
	case err != nil:
	case len(in) == 0:
		msg += " nor in any other (mistyped, or expired)"
	default:
		msg += fmt.Sprintf("; it is in queue %s (--queue %s)", strings.Join(in, ", "), in[0])
	}
	return msg
}

func knownQueues(qs []string) string {
	if len(qs) == 0 {
		return " (no queue has been used yet)"
	}
	if len(qs) > 20 {
		qs = append(qs[:20:20], "...")
	}
	return " (queues used: " + strings.Join(qs, ", ") + ")"
}
