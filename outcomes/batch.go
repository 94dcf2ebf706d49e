package outcomes

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/redisretry"
)

// BatchStatus is a batch's progress.
type BatchStatus struct {
	ID         string    `json:"batch"`
	Accepted   int64     `json:"accepted"` // jobs enqueued so far
	Total      int64     `json:"total"`    // jobs enqueued in all, once sealed
	Sealed     bool      `json:"sealed"`   // the enqueuer has finished
	Done       int64     `json:"done"`     // outcomes recorded
	Responses  int64     `json:"responses"`
	Exceptions int64     `json:"exceptions"`
	Created    time.Time `json:"created"`
	// Orphaned: sealed by a worker's sweep, its enqueuer gone (killed),
	// with Total the jobs it had queued.
	Orphaned bool `json:"orphaned,omitempty"`
	// Queued is the jobs queued so far as Redis counted them (the enqueue
	// fast path), ahead of Accepted, which the enqueuer writes now and then.
	Queued int64 `json:"queued,omitempty"`
	// Rejected: inbox entries that were not jobs, done as InvalidJob
	// exceptions; counted in Done and Exceptions, and in Total once sealed.
	Rejected int64 `json:"rejected,omitempty"`
	// ByStatus counts the responses by status code ("200"), ByType the
	// exceptions by type ("ConnectionError"); retried ones taken back.
	ByStatus map[string]int64 `json:"by_status,omitempty"`
	ByType   map[string]int64 `json:"by_type,omitempty"`
}

// Complete reports whether every job of the batch has its outcome.
func (b BatchStatus) Complete() bool { return b.Sealed && b.Done >= b.Total }

// Expected is the number of jobs the batch holds as far as is known: its
// total once sealed; before, the jobs queued or accepted (whichever count
// is ahead) and the inbox entries rejected.
func (b BatchStatus) Expected() int64 {
	if b.Sealed {
		return b.Total
	}
	return max(b.Accepted, b.Queued) + b.Rejected
}

// Batch reads a batch's status; ErrNoBatch if Redis has no such batch.
func (r *Reader) Batch(ctx context.Context, id string) (BatchStatus, error) {
	m, err := r.rdb.HGetAll(ctx, rdb.BatchKey(r.queue, id)).Result()
	if err != nil {
		return BatchStatus{}, fmt.Errorf("read batch %s: %w", id, err)
	}
	if len(m) == 0 {
		return BatchStatus{}, fmt.Errorf("%w %q in queue %q", ErrNoBatch, id, r.queue)
	}
	num := func(k string) int64 { n, _ := strconv.ParseInt(m[k], 10, 64); return n }
	var byStatus, byType map[string]int64
	for k, v := range m {
		n, _ := strconv.ParseInt(v, 10, 64)
		if n <= 0 {
			continue
		}
		if c, ok := strings.CutPrefix(k, rdb.CodeFieldPrefix); ok {
			if byStatus == nil {
				byStatus = map[string]int64{}
			}
			byStatus[c] = n
		} else if e, ok := strings.CutPrefix(k, rdb.ExcFieldPrefix); ok {
			if byType == nil {
				byType = map[string]int64{}
			}
			byType[e] = n
		}
	}
	return BatchStatus{
		ByStatus:   byStatus,
		ByType:     byType,
		ID:         id,
		Accepted:   num(rdb.BatchAccepted),
		Total:      num(rdb.BatchTotal),
		Sealed:     m[rdb.BatchSealed] == "1",
		Done:       num(rdb.BatchDone),
		Responses:  num(rdb.BatchResponses),
		Exceptions: num(rdb.BatchExceptions),
		Created:    time.UnixMilli(num(rdb.BatchCreated)).UTC(),
		Orphaned:   m[rdb.BatchOrphaned] == "1",
		Queued:     num(rdb.BatchQueued),
		Rejected:   num(rdb.BatchRejected),
	}, nil
}

// Wait polls the batch every interval (default 100ms) until it is complete or
// ctx ends, calling progress (if not nil) with each status read. While Redis
// is away it keeps trying for the Reader's RedisRetryFor (see
// SetRedisRetryFor), then fails with an error wrapping
// redisretry.ErrUnavailable.
func (r *Reader) Wait(ctx context.Context, id string, every time.Duration, progress func(BatchStatus)) (BatchStatus, error) {
	if every <= 0 {
		every = 100 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		var st BatchStatus
		err := redisretry.Do(ctx, r.retry, func() (err error) {
			st, err = r.Batch(ctx, id)
			return err
		}, nil)
		if err != nil {
			return st, err
		}
		if progress != nil {
			progress(st)
		}
		if st.Complete() {
			return st, nil
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return st, fmt.Errorf("wait for batch %s: %w", id, ctx.Err())
		}
	}
}

// Batches lists up to limit batches of the queue, newest first.
func (r *Reader) Batches(ctx context.Context, limit int64) ([]BatchStatus, error) {
	ids, err := r.rdb.ZRevRange(ctx, rdb.BatchesKey(r.queue), 0, limit-1).Result()
	if err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	out := make([]BatchStatus, 0, len(ids))
	for _, id := range ids {
		st, err := r.Batch(ctx, id)
		if err != nil {
			continue // expired
		}
		out = append(out, st)
	}
	return out, nil
}
