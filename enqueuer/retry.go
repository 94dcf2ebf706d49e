package enqueuer

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/reqfleet/reqfleet/internal/parallel"
	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/tasks"
)

// RetryOptions choose what Retry re-enqueues.
type RetryOptions struct {
	DryRun  bool                  // list what would be retried, move nothing
	Batch   string                // only this batch
	Type    string                // only this exception type, e.g. "ConnectionError"
	OnEntry func(tasks.Exception) // called for each entry retried or recovered (or listed in a dry run); calls are serialized
}

// RetryReport counts what Retry did (or, in a dry run, would do).
type RetryReport struct {
	Retried   int // exceptions re-enqueued
	Recovered int // entries finished from a dead run's retrying list
	Skipped   int // exceptions left in place: not of the Batch or Type asked for
	Invalid   int // entries left in place that cannot be retried: not an exception, or without a request
}

// Retry re-enqueues the queue's exceptions as their next attempt: the same
// job id and batch, attempt+1, and the batch's done and exceptions counts
// taken back until the new outcome comes. First it finishes what a run that
// died left in the retrying list, whatever the filters; then it walks the
// exceptions list, as many entries as it held when the walk started (so
// retries that fail again at once are left for the next run), and moves
// the entries of opts.Batch and opts.Type. Each entry is moved to the retrying list, enqueued and then
// dropped from the retrying list, so a run that dies at any point loses and
// doubles nothing: the next run finishes its entries.
func (e *Enqueuer) Retry(ctx context.Context, opts RetryOptions) (RetryReport, error) {
	if err := e.checkOpen(); err != nil {
		return RetryReport{}, err
	}
	r := &retryRun{e: e, opts: opts}
	err := r.recover(ctx)
	if err == nil {
		err = r.walk(ctx)
	}
	rep := r.report()
	e.log.LogAttrs(ctx, slog.LevelInfo, "retry finished", slog.Bool("dry_run", opts.DryRun),
		slog.Int("retried", rep.Retried), slog.Int("recovered", rep.Recovered),
		slog.Int("skipped", rep.Skipped), slog.Int("invalid", rep.Invalid), slog.Any("err", err))
	return rep, err
}

type retryRun struct {
	e    *Enqueuer
	opts RetryOptions

	mu  sync.Mutex // rep, and OnEntry calls
	rep RetryReport
}

type retryEntry struct {
	raw string
	exc tasks.Exception
}

func (r *retryRun) report() RetryReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rep
}

// count adds to the report with f, and calls OnEntry when exc is given.
func (r *retryRun) count(exc *tasks.Exception, f func(*RetryReport)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.rep)
	if exc != nil && r.opts.OnEntry != nil {
		r.opts.OnEntry(*exc)
	}
}

// decodeEntry reads an entry of the exceptions or retrying list, and
// checks that it can be retried.
func decodeEntry(raw string) (tasks.Exception, error) {
	exc, err := tasks.DecodeException([]byte(raw))
	if err != nil {
		return tasks.Exception{}, err
	}
	if exc.Request.URL == "" {
		return tasks.Exception{}, fmt.Errorf("%w: exception %q of batch %q", ErrNoRequest, exc.ID, exc.Batch)
	}
	if exc.ID == "" || exc.Batch == "" || exc.Attempt < 1 {
		return tasks.Exception{}, fmt.Errorf("%w: exception %q of batch %q attempt %d: no id, batch or attempt",
			ErrInvalidJob, exc.ID, exc.Batch, exc.Attempt)
	}
	return exc, nil
}

func (r *retryRun) invalid(ctx context.Context, list string, err error) {
	r.e.log.LogAttrs(ctx, slog.LevelWarn, "entry cannot be retried, left in place",
		slog.String("list", list), slog.Any("err", err))
	r.count(nil, func(rep *RetryReport) { rep.Invalid++ })
}

// recover finishes the entries of the retrying list: entries a dead run
// moved and did not finish.
func (r *retryRun) recover(ctx context.Context) error {
	e := r.e
	key := rdb.RetryingKey(e.cfg.Queue)
	return r.eachChunk(ctx, key, func(raws []string) (kept int, err error) {
		var todo []retryEntry
		for _, raw := range raws {
			exc, err := decodeEntry(raw)
			switch {
			case err != nil:
				r.invalid(ctx, key, err)
				kept++
			case r.opts.DryRun:
				r.count(&exc, func(rep *RetryReport) { rep.Recovered++ })
				kept++
			default:
				todo = append(todo, retryEntry{raw, exc})
			}
		}
		return kept, parallel.ForEach(ctx, e.cfg.Concurrency, todo, func(ctx context.Context, en retryEntry) error {
			removed, err := r.finish(ctx, en, true)
			if err == nil && removed {
				r.count(&en.exc, func(rep *RetryReport) { rep.Recovered++ })
			}
			return err
		})
	})
}

// walk moves the exceptions that match the filters.
func (r *retryRun) walk(ctx context.Context) error {
	e := r.e
	key := rdb.ExceptionsKey(e.cfg.Queue)
	return r.eachChunk(ctx, key, func(raws []string) (kept int, err error) {
		var todo []retryEntry
		for _, raw := range raws {
			exc, err := decodeEntry(raw)
			switch {
			case err != nil:
				r.invalid(ctx, key, err)
				kept++
			case r.opts.Batch != "" && exc.Batch != r.opts.Batch,
				r.opts.Type != "" && exc.Exception.Type != r.opts.Type:
				r.count(nil, func(rep *RetryReport) { rep.Skipped++ })
				kept++
			case r.opts.DryRun:
				r.count(&exc, func(rep *RetryReport) { rep.Retried++ })
				kept++
			default:
				todo = append(todo, retryEntry{raw, exc})
			}
		}
		return kept, parallel.ForEach(ctx, e.cfg.Concurrency, todo, func(ctx context.Context, en retryEntry) error {
			return r.retry(ctx, en)
		})
	})
}

// eachChunk reads list in chunks from its head, up to the length it had at
// the start, and hands each chunk to fn, which says how many of its entries
// stay in the list (the others were removed): the next chunk starts after
// those.
func (r *retryRun) eachChunk(ctx context.Context, list string, fn func([]string) (kept int, err error)) error {
	e := r.e
	var total int64
	err := e.withRetry(ctx, "read "+list, func() (err error) {
		total, err = e.cfg.Redis.LLen(ctx, list).Result()
		return err
	})
	if err != nil {
		return err
	}
	var start, examined int64
	for examined < total {
		n := min(int64(e.retryChunk), total-examined)
		var raws []string
		err := e.withRetry(ctx, "read "+list, func() (err error) {
			raws, err = e.cfg.Redis.LRange(ctx, list, start, start+n-1).Result()
			return err
		})
		if err != nil {
			return err
		}
		if len(raws) == 0 {
			return nil
		}
		examined += int64(len(raws))
		kept, err := fn(raws)
		if err != nil {
			return err
		}
		start += int64(kept)
	}
	return nil
}

// retry moves one exception to the retrying list and finishes it.
func (r *retryRun) retry(ctx context.Context, en retryEntry) error {
	e := r.e
	q := e.cfg.Queue
	var moved rdb.Moved
	err := e.withRetry(ctx, "move exception", func() (err error) {
		moved, err = e.store.MoveToRetrying(ctx, q, en.exc.Batch, en.raw, rdb.ExcField(en.exc.Exception.Type), e.cfg.Now(), e.cfg.BatchTTL)
		return err
	})
	if err != nil {
		return fmt.Errorf("retry %q of batch %s: %w", en.exc.ID, en.exc.Batch, err)
	}
	switch moved {
	case rdb.MovedElsewhere:
		return nil // another run retried it
	case rdb.MovedNow:
		if h := e.hooks.afterMove; h != nil {
			if err := h(en.exc); err != nil {
				return err
			}
		}
	}
	// MovedBefore: moved by a try of ours whose reply was lost (a command that
	// go-redis or withRetry sent again), or by another run: finishing it
	// as a recovered entry is right for the first, harmless for the other.
	if _, err := r.finish(ctx, en, moved == rdb.MovedBefore); err != nil {
		return err
	}
	r.count(&en.exc, func(rep *RetryReport) { rep.Retried++ })
	return nil
}

// finish enqueues the next attempt of an entry of the retrying list and
// drops the entry from it. A task id conflict means the attempt is queued
// already (a dead run enqueued it). Recovering, an attempt whose outcome
// the batch has recorded already ran, and is not enqueued again.
func (r *retryRun) finish(ctx context.Context, en retryEntry, recovering bool) (removed bool, err error) {
	e := r.e
	q := e.cfg.Queue
	job := en.exc.Request
	job.ID = en.exc.ID
	t := tasks.Task{Batch: en.exc.Batch, Attempt: en.exc.Attempt + 1, Job: job}
	ran := false
	if recovering {
		err := e.withRetry(ctx, "check outcome", func() (err error) {
			ran, err = e.cfg.Redis.SIsMember(ctx, rdb.SeenKey(q, t.Batch), t.OutcomeKey()).Result()
			return err
		})
		if err != nil {
			return false, fmt.Errorf("retry %q of batch %s: %w", t.Job.ID, t.Batch, err)
		}
	}
	if !ran {
		payload, err := t.Marshal()
		if err != nil {
			return false, fmt.Errorf("retry %q of batch %s: %w: %w", t.Job.ID, t.Batch, ErrInvalidJob, err)
		}
		existed, err := e.enqueue(ctx, t, payload)
		if err != nil {
			return false, fmt.Errorf("%w: retry %q of batch %s: %w", ErrEnqueue, t.Job.ID, t.Batch, err)
		}
		if existed {
			e.log.LogAttrs(ctx, slog.LevelDebug, "retry was already queued",
				slog.String("batch", t.Batch), slog.String("id", t.Job.ID), slog.Int("attempt", t.Attempt))
		}
	}
	if h := e.hooks.afterEnqueue; h != nil {
		if err := h(en.exc); err != nil {
			return false, err
		}
	}
	var n int64
	err = e.withRetry(ctx, "drop retried entry", func() (err error) {
		n, err = e.cfg.Redis.LRem(ctx, rdb.RetryingKey(q), 1, en.raw).Result()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("retry %q of batch %s: %w", t.Job.ID, t.Batch, err)
	}
	return n > 0, nil
}
