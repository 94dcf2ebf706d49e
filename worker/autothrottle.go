package worker

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/limits"
	"github.com/reqfleet/reqfleet/tasks"
)

// autoThrottle is adaptive throttling (--auto-throttle).
type autoThrottle struct {
	store *rdb.Client
	all   bool        // every limited host, not only those whose limit says auto
	any   atomic.Bool // some limit says auto
}

func newAutoThrottle(store *rdb.Client, all bool) *autoThrottle {
	return &autoThrottle{store: store, all: all}
}

// applies: l's host is throttled adaptively.
func (at *autoThrottle) applies(l limits.Limit) bool { return at != nil && (at.all || l.Auto) }

// effective is l with its rate as adaptive throttling sets it now.
func (at *autoThrottle) effective(ctx context.Context, key string, l limits.Limit) limits.Limit {
	return l
}

// observe feeds a response (nil: an exception) and its latency to the
// host's adaptive state.
func (at *autoThrottle) observe(ctx context.Context, key string, l limits.Limit, r *tasks.Response, o tasks.Outcome, elapsed time.Duration) {
}
