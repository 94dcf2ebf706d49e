package rdb

import (
	"context"
	_ "embed"
	"fmt"
	"time"
)

// A batch's lease: while its enqueuer lives, a batch is open and in the
// queue's open batches (OpenBatchesKey), scored by its lease's expiry on
// Redis' clock, which the enqueuer renews (RenewBatches). Once the lease
// has run out (the enqueuer was killed), any sweeper seals the batch
// (SealOrphans) with total = the jobs queued for it, which enqueue_many.lua
// counts (BatchQueued) in the step that queues each job.

// OpenBatchesKey is the sorted set of the queue's open (unsealed) batches,
// scored by the unix ms their enqueuer's lease runs out, on Redis' clock.
func OpenBatchesKey(queue string) string { return "reqfleet:{" + queue + "}:batches:open" }

// Fields of the batch hash kept by the lease.
const (
	BatchQueued   = "queued"   // jobs queued, counted by enqueue_many.lua: the total of an orphan
	BatchOrphaned = "orphaned" // "1": sealed by a sweeper, its enqueuer gone
	BatchOwner    = "owner"    // the creator's token: new_batch.lua run again by it answers created
	BatchSuspect  = "suspect"  // unix ms a sweep first saw its lease run out; cleared by a renewal
)

var (
	//go:embed lua/batch_renew.lua
	batchRenewLua string
	//go:embed lua/seal_orphans.lua
	sealOrphansLua string
	//go:embed lua/seal_batch.lua
	sealBatchLua string

	batchRenewScript  = newScript(batchRenewLua)
	sealOrphansScript = newScript(sealOrphansLua)
	sealBatchScript   = newScript(sealBatchLua)
)

func init() {
	scriptsByName["batch_renew"] = batchRenewScript
	scriptsByName["seal_orphans"] = sealOrphansScript
	scriptsByName["seal_batch"] = sealBatchScript
}

// RenewBatches extends the leases of the open batches ids of queue to
// lease from now (Redis' clock); open[i] is false for a batch no longer
// open: sealed (by a sweeper, when its lease ran out first) or dropped.
// Safe to run again. [batch_renew.lua]
func (c *Client) RenewBatches(ctx context.Context, queue string, ids []string, lease time.Duration) (open []bool, err error) {
	argv := make([]any, 0, 2+len(ids))
	argv = append(argv, lease.Milliseconds(), BatchKey(queue, ""))
	for _, id := range ids {
		argv = append(argv, id)
	}
	res, err := batchRenewScript.Run(ctx, c.r, []string{OpenBatchesKey(queue)}, argv...).Int64Slice()
	if err != nil {
		return nil, err
	}
	if len(res) != len(ids) {
		return nil, fmt.Errorf("%w: renew script returned %d results for %d batches", ErrReply, len(res), len(ids))
	}
	open = make([]bool, len(res))
	for i, n := range res {
		open[i] = n == 1
	}
	return open, nil
}

// Orphan is a batch SealOrphans sealed.
type Orphan struct {
	ID    string
	Total int64 // the jobs queued for it
}

// SealOrphans seals up to max open batches of queue whose lease ran out
// and was not renewed for grace after a sweep first saw it so (0: seal at
// once), each with total = its jobs queued, to expire after ttl, and
// returns them. Safe to run again, and from many sweepers at once: a
// batch is sealed once. [seal_orphans.lua]
func (c *Client) SealOrphans(ctx context.Context, queue string, ttl, grace time.Duration, max int) ([]Orphan, error) {
	res, err := sealOrphansScript.Run(ctx, c.r, []string{OpenBatchesKey(queue)},
		BatchKey(queue, ""), ttl.Milliseconds(), max, grace.Milliseconds()).Slice()
	if err != nil {
		return nil, err
	}
	if len(res)%2 != 0 {
		return nil, fmt.Errorf("%w: seal script returned %d values", ErrReply, len(res))
	}
	out := make([]Orphan, 0, len(res)/2)
	for i := 0; i < len(res); i += 2 {
		id, ok1 := res[i].(string)
		n, ok2 := res[i+1].(int64)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%w: seal script returned %v", ErrReply, res[i:i+2])
		}
		out = append(out, Orphan{ID: id, Total: n})
	}
	return out, nil
}

// SealBatch seals batch for its enqueuer, to expire after ttl, and takes
// it off the open batches: total = accepted = the jobs queued for it when
// counted (its jobs went through EnqueueMany with their batch: the exact
// count, whatever replies were lost), else n, and the inbox entries
// rejected into it (BatchRejected). It returns the jobs queued: the
// total less those. Safe to run again. [seal_batch.lua]
func (c *Client) SealBatch(ctx context.Context, queue, batch string, n int64, counted bool, ttl time.Duration) (int64, error) {
	return sealBatchScript.Run(ctx, c.r, []string{BatchKey(queue, batch), OpenBatchesKey(queue)},
		n, ttl.Milliseconds(), batch, boolArg(counted)).Int64()
}
