// Package startstop is the one lifecycle of reqfleet's long-running parts
// (the worker's fetcher, sweeper and batcher, the inbox forwarder), on the
// model of river's rivershared/startstop: Start(ctx) runs the part until
// Stop or until ctx ends; Stop(ctx) asks it to stop and waits for it,
// bounded by ctx. When ctx runs out first Stop returns ctx's error and the
// part goes on finishing in the background; Stop may be called again to
// wait for it.
package startstop

import (
	"context"
	"errors"
	"sync"
)

// Errors of the lifecycle.
var (
	ErrStarted = errors.New("already started") // a part starts once
	ErrStop    = errors.New("stopped")         // the cause of the run's ctx at Stop
)

// Base is embedded in a part (or held by it) to give it Start and Stop.
// The zero Base is ready.
type Base struct {
	mu      sync.Mutex
	started bool
	cancel  context.CancelCauseFunc
	done    chan struct{} // closed when the run returned
}

// Start runs run in a goroutine with a ctx that ends at Stop (cause
// ErrStop) or with ctx. run returns once the part has finished (its
// goroutines ended, its cleanup done). A part starts once: a second Start
// returns ErrStarted; so does a Start with ctx already done, with ctx's
// error.
func (b *Base) Start(ctx context.Context, run func(ctx context.Context)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started {
		return ErrStarted
	}
	b.started = true
	rctx, cancel := context.WithCancelCause(ctx)
	b.cancel, b.done = cancel, make(chan struct{})
	go func() {
		defer close(b.done)
		run(rctx)
	}()
	return nil
}

// Stop ends the run's ctx and waits until the run returned, or until ctx
// ends: it then returns ctx's error, and the part finishes in the
// background. It may be called again (and from several goroutines); a part
// never started has nothing to stop.
func (b *Base) Stop(ctx context.Context) error {
	b.mu.Lock()
	cancel, done := b.cancel, b.done
	b.mu.Unlock()
	if done == nil {
		return nil
	}
	cancel(ErrStop)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		select {
		case <-done: // both ready: done wins
			return nil
		default:
		}
		return ctx.Err()
	}
}

// Started says whether Start was called (successfully).
func (b *Base) Started() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.started
}

// Done is closed once the run returned; nil before Start.
func (b *Base) Done() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.done
}
