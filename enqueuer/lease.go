package enqueuer

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// leases renews the leases of an Enqueuer's open batches (rdb's
// OpenBatchesKey), from one goroutine started with the first batch and
// ended by Close. A batch whose lease could not be renewed in time is
// sealed by the fleet's sweepers with the jobs queued for it; its later
// jobs are refused (ErrLeaseLost).
type leases struct {
	mu      sync.Mutex
	open    map[string]struct{}
	quit    chan struct{} // closed by stop
	done    chan struct{} // closed when the goroutine returns
	stopped bool
}

// hold renews id's lease from now on, starting the renewer if needed.
func (l *leases) hold(e *Enqueuer, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return // closed: the batch's lease is left to run out
	}
	if l.open == nil {
		l.open = make(map[string]struct{})
		l.quit, l.done = make(chan struct{}), make(chan struct{})
		go l.run(e)
	}
	l.open[id] = struct{}{}
}

// release stops renewing id's lease (its batch sealed or dropped).
func (l *leases) release(id string) {
	l.mu.Lock()
	delete(l.open, id)
	l.mu.Unlock()
}

// stop ends the renewals and waits for the one in progress.
func (l *leases) stop() {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	l.stopped = true
	quit, done := l.quit, l.done
	l.mu.Unlock()
	if quit != nil {
		close(quit)
		<-done
	}
}

func (l *leases) ids() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make([]string, 0, len(l.open))
	for id := range l.open {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// run renews every BatchLease/3. A renewal that fails (Redis away) is
// tried again soon (100ms, doubling up to 1s), so that once Redis is back
// the lease is renewed well within the sweepers' grace (5s).
func (l *leases) run(e *Enqueuer) {
	defer close(l.done)
	every := e.cfg.BatchLease / 3
	wait, failed := every, false
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-l.quit:
			return
		case <-t.C:
		}
		ids := l.ids()
		if len(ids) == 0 {
			t.Reset(every)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		open, err := e.store.RenewBatches(ctx, e.cfg.Queue, ids, e.cfg.BatchLease)
		cancel()
		if err != nil {
			if !failed {
				e.log.LogAttrs(context.Background(), slog.LevelWarn, "batch leases not renewed; trying again",
					slog.Int("batches", len(ids)), slog.Any("err", err))
				wait = 100 * time.Millisecond
			} else {
				wait = min(2*wait, every, time.Second)
			}
			failed = true
			t.Reset(wait)
			continue
		}
		failed = false
		t.Reset(every)
		for i, ok := range open {
			if !ok {
				l.release(ids[i])
				e.log.LogAttrs(context.Background(), slog.LevelWarn, "batch sealed by the fleet: its lease ran out",
					slog.String("batch", ids[i]))
			}
		}
	}
}
