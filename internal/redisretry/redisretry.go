// Package redisretry tells Redis failures that pass (the server restarting,
// unreachable for a while, loading its data) from those that do not (a wrong
// password, a script error), and retries the first kind with capped
// exponential backoff for a bounded time.
package redisretry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrUnavailable: Redis stayed unreachable (or kept failing with errors
// that pass) for the whole retry window.
var ErrUnavailable = errors.New("Redis unavailable")

// Transient reports whether err is a Redis failure that may pass by itself:
// a connection refused, reset, closed or timed out, an exhausted connection
// pool, or one of Redis' own "try later" replies (LOADING, READONLY,
// MASTERDOWN, CLUSTERDOWN, TRYAGAIN, max clients, OOM, a cluster's MOVED
// and ASK). Authentication,
// permission, TLS certificate, script and type errors are not: trying again
// cannot fix them. Context errors are not either: the caller ended the call.
//
// A Transient error may come after Redis ran the command (a read timeout,
// EOF or reset after the write): retry with Transient only what is safe to
// run twice (idempotent), else with NotRun.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var (
		verify  *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &verify), errors.As(err, &unknown), errors.As(err, &host), errors.As(err, &invalid):
		return false
	case redis.IsAuthError(err), redis.IsPermissionError(err):
		return false
	case errors.Is(err, redis.ErrClosed):
		return false // our own client was closed
	case redis.IsLoadingError(err), redis.IsReadOnlyError(err), redis.IsMasterDownError(err),
		redis.IsClusterDownError(err), redis.IsTryAgainError(err), redis.IsMaxClientsError(err),
		redis.IsOOMError(err):
		return true
	case errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrPoolExhausted):
		return true
	case isRedirect(err): // a cluster slot moved: the command did not run
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, net.ErrClosed):
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return true // dial, read or write failed: the network, not the command
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return false
}

// NotRun reports whether err is Transient and the command surely did not
// run: it was never sent (the dial failed or was refused, no connection
// was free) or Redis refused it with an error reply (LOADING, READONLY,
// OOM, a cluster's MOVED, ...). A timeout, EOF or reset after the command
// was written is Transient but not NotRun: Redis may have run it and only
// its reply was lost. Retryable of calls that must not run twice.
func NotRun(err error) bool {
	if !Transient(err) {
		return false
	}
	switch {
	case redis.IsLoadingError(err), redis.IsReadOnlyError(err), redis.IsMasterDownError(err),
		redis.IsClusterDownError(err), redis.IsTryAgainError(err), redis.IsMaxClientsError(err),
		redis.IsOOMError(err), isRedirect(err):
		return true // Redis answered: the command did not run
	case errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrPoolExhausted):
		return true
	case errors.Is(err, syscall.ECONNREFUSED):
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// isRedirect reports a Redis Cluster MOVED or ASK reply.
func isRedirect(err error) bool {
	_, moved := redis.IsMovedError(err)
	_, ask := redis.IsAskError(err)
	return moved || ask
}

// Policy is capped exponential backoff within a time window. The zero
// value of each field is its default.
type Policy struct {
	For   time.Duration // how long to keep trying after the first failure; default 2m; negative: no retry
	First time.Duration // first wait; default 50ms
	Max   time.Duration // longest wait; default 2s
	// Retryable picks the errors tried again; default Transient.
	Retryable func(error) bool
}

// Opaque is a Retryable for errors that lost their type on the way, as
// asynq's are (it turns the errors of its Lua scripts into strings): every
// error is tried again but the end of the caller's context.
func Opaque(err error) bool {
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// Defaults of Policy.
const (
	DefaultFor   = 2 * time.Minute
	DefaultFirst = 50 * time.Millisecond
	DefaultMax   = 2 * time.Second
)

func (p Policy) withDefaults() Policy {
	if p.For == 0 {
		p.For = DefaultFor
	}
	if p.First <= 0 {
		p.First = DefaultFirst
	}
	if p.Max <= 0 {
		p.Max = DefaultMax
	}
	if p.Max < p.First {
		p.Max = p.First
	}
	if p.Retryable == nil {
		p.Retryable = Transient
	}
	return p
}

// Do runs fn until it succeeds, returns an error that is not retryable, or
// has failed for longer than p.For; ctx ends the waits. Before each wait it
// calls onRetry (if not nil) with the failure count so far (1 for the
// first), the error and the wait. The error returned is fn's last: after
// the window it also wraps ErrUnavailable and says for how long Redis
// failed; when ctx ended, it wraps ctx's cause.
func Do(ctx context.Context, p Policy, fn func() error, onRetry func(n int, err error, wait time.Duration)) error {
	p = p.withDefaults()
	var first time.Time
	wait := p.First
	for n := 1; ; n++ {
		err := fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (after: %w)", context.Cause(ctx), err)
		}
		if !p.Retryable(err) || p.For < 0 {
			return err
		}
		if first.IsZero() {
			first = time.Now()
		}
		if failed := time.Since(first); failed+wait > p.For {
			return fmt.Errorf("%w for %v, gave up: %w", ErrUnavailable, failed.Round(time.Millisecond), err)
		}
		if onRetry != nil {
			onRetry(n, err, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (after: %w)", context.Cause(ctx), err)
		case <-t.C:
		}
		wait = min(2*wait, p.Max)
	}
}
