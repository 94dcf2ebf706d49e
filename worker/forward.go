package worker

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/startstop"
	"github.com/reqfleet/reqfleet/internal/testkit"
)

// The forwarder is asynq's forwarder for a worker that runs no asynq
// server (the fetcher): every ForwardEvery (1s; asynq's servers: 5s by
// default) it moves each queue's due tasks from asynq's scheduled set
// (tasks other programs enqueued with ProcessAt or ProcessIn) and retry
// set (the retries of jobs' retry policies, retry.go) to the pending
// list, one script call a queue (rdb.Forward), again at once while a call
// finds a full batch, and sooner than ForwardEvery when the next task is
// due sooner. An idle queue costs one call a second. Every worker runs
// one; the script is atomic, so several move each task once.

// DefaultForwardEvery is Config.ForwardEvery's default.
const DefaultForwardEvery = time.Second

type forwarder struct {
	store  *rdb.Client
	queues []string
	every  time.Duration
	now    func() time.Time
	log    *slog.Logger

	life   startstop.Base
	rounds testkit.Signal[int] // tests: a round is done, with how many tasks it moved
}

func newForwarder(store *rdb.Client, queues map[string]int, every time.Duration, now func() time.Time, log *slog.Logger) *forwarder {
	qs := make([]string, 0, len(queues))
	for q := range queues {
		qs = append(qs, q)
	}
	slices.Sort(qs)
	return &forwarder{store: store, queues: qs, every: every, now: now, log: log.With("component", "forwarder")}
}

// Start forwards at once and then every ForwardEvery or when the next
// task is due, until Stop or ctx ends.
func (f *forwarder) Start(ctx context.Context) error {
	return f.life.Start(ctx, func(ctx context.Context) {
		for {
			n, next := f.round(ctx)
			f.rounds.Signal(n)
			wait := f.every
			if !next.IsZero() {
				wait = min(wait, max(next.Sub(f.now()), time.Millisecond))
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	})
}

// Stop ends the rounds and waits for the one in progress, or until ctx
// ends (then it returns ctx's error; the round finishes in the background).
func (f *forwarder) Stop(ctx context.Context) error {
	if f == nil {
		return nil
	}
	return f.life.Stop(ctx)
}

// round forwards every queue's due tasks; it returns how many it moved and
// the earliest due time left (zero: none).
func (f *forwarder) round(ctx context.Context) (int, time.Time) {
	total := 0
	var earliest time.Time
	for _, q := range f.queues {
		for range 100 { // bounded: 100 full batches a queue and round
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			n, next, err := f.store.Forward(cctx, q, f.now())
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					f.log.Warn("forwarding scheduled and retried jobs failed; trying again next round", "queue", q, "err", err)
				}
				break
			}
			total += n
			if n < rdb.ForwardBatch {
				if !next.IsZero() && (earliest.IsZero() || next.Before(earliest)) {
					earliest = next
				}
				break
			}
		}
	}
	return total, earliest
}
