// Package parallel runs a function over items with bounded concurrency.
package parallel

import (
	"context"
	"sync"
)

// ForEach calls fn for the items, n at a time, and returns the first error
// (or ctx's), after the calls in flight have returned; an error ends the
// ctx the other calls have.
func ForEach[T any](ctx context.Context, n int, items []T, fn func(context.Context, T) error) error {
	if len(items) == 0 {
		return ctx.Err()
	}
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		sem   = make(chan struct{}, n)
	)
	for _, it := range items {
		if cctx.Err() != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-cctx.Done():
		}
		if cctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(cctx, it); err != nil {
				once.Do(func() { first = err })
				cancel(err)
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}
