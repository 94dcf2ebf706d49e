package worker

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/limits"
	"github.com/reqfleet/reqfleet/tasks"
)

// Adaptive throttling (--auto-throttle, or a limit's Auto): Scrapy's
// AutoThrottle with its state in Redis, per host, so that the whole fleet
// acts as one client (rdb.AutoObserve: one atomic script per response).
// The delay between requests to a host moves halfway towards latency /
// AutoTarget (target concurrency = latency x rate, fleet-wide) with each
// 200, never down on another status, and doubles on a 429, a 503 or a
// timeout; it stays between the limit's own rate (its ceiling; none:
// AutoMinDelay) and AutoMaxDelay. The admission's rate is then one request
// every delay (burst 1); the concurrency limit stays as set. Each worker
// reads a host's delay at most every autoCacheFor, and learns it from each
// response it feeds in.

// Adaptive throttling's settings.
const (
	AutoTarget     = 1.0 // requests in flight a host, fleet-wide (Scrapy's AUTOTHROTTLE_TARGET_CONCURRENCY)
	AutoMinDelay   = time.Millisecond
	AutoMaxDelay   = time.Minute // Scrapy's AUTOTHROTTLE_MAX_DELAY
	AutoStartDelay = time.Second // without a rate of its own; with one, its interval
	autoTTL        = time.Hour
	autoCacheFor   = 500 * time.Millisecond
)

type autoThrottle struct {
	store *rdb.Client
	all   bool        // every limited host, not only those whose limit says auto
	any   atomic.Bool // some limit says auto

	mu    sync.Mutex
	delay map[string]autoDelay // host key -> its delay, as last read or set
}

type autoDelay struct {
	d  time.Duration
	at time.Time
}

func newAutoThrottle(store *rdb.Client, all bool) *autoThrottle {
	return &autoThrottle{store: store, all: all, delay: make(map[string]autoDelay)}
}

// applies: l's host is throttled adaptively.
func (at *autoThrottle) applies(l limits.Limit) bool { return at != nil && (at.all || l.Auto) }

// params are the adaptive settings under limit l.
func autoParams(l limits.Limit) rdb.AutoParams {
	p := rdb.AutoParams{Target: AutoTarget, Min: AutoMinDelay, Max: AutoMaxDelay, Start: AutoStartDelay, TTL: autoTTL}
	if rl := l.RateLimit(); rl.Rate > 0 {
		p.Min = max(rl.Period/time.Duration(rl.Rate), AutoMinDelay)
		p.Start = p.Min
	}
	return p
}

// effective is l with its rate as adaptive throttling sets it now.
func (at *autoThrottle) effective(ctx context.Context, key string, l limits.Limit) limits.Limit {
	now := time.Now()
	at.mu.Lock()
	c, ok := at.delay[key]
	at.mu.Unlock()
	d := c.d
	if !ok || now.Sub(c.at) > autoCacheFor {
		st, err := at.store.AutoState(ctx, key)
		switch {
		case err != nil && ok: // keep the last
		case err != nil || st.Delay <= 0:
			d = autoParams(l).Start
		default:
			d = time.Duration(st.Delay * float64(time.Second))
		}
		at.note(key, d, now)
	}
	p := autoParams(l)
	d = min(max(d, p.Min), p.Max).Round(time.Millisecond)
	l.Rate, l.Per, l.Burst = 1, max(d, time.Millisecond), 1
	return l
}

func (at *autoThrottle) note(key string, d time.Duration, now time.Time) {
	at.mu.Lock()
	defer at.mu.Unlock()
	if len(at.delay) > maxLocalHosts {
		clear(at.delay)
	}
	at.delay[key] = autoDelay{d: d, at: now}
}

// observe feeds a response (r nil: an exception, o) and its latency to
// the host's adaptive state.
func (at *autoThrottle) observe(ctx context.Context, key string, l limits.Limit, r *tasks.Response, o tasks.Outcome, elapsed time.Duration) {
	kind, latency := rdb.AutoOK, elapsed
	switch {
	case r != nil && (r.StatusCode == http.StatusTooManyRequests || r.StatusCode == http.StatusServiceUnavailable):
		kind = rdb.AutoBackoff
	case r != nil:
		latency = time.Duration(r.ElapsedMS * float64(time.Millisecond))
		if r.StatusCode != http.StatusOK {
			kind = rdb.AutoOther
		}
	default:
		e, _ := o.(*tasks.Exception)
		if e == nil || !isTimeout(e.Exception.Type) {
			return // a refused connection says nothing of the host's load
		}
		kind = rdb.AutoBackoff
	}
	d, err := at.store.AutoObserve(ctx, key, latency, kind, autoParams(l))
	if err != nil {
		return // the next response tries again
	}
	at.note(key, d, time.Now())
}

func isTimeout(typ string) bool {
	switch typ {
	case tasks.TotalTimeout, tasks.ConnectTimeout, tasks.ReadTimeout:
		return true
	}
	return false
}
