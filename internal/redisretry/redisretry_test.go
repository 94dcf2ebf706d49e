package redisretry

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestTransient(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &net.AddrError{Err: "x"}}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"dial refused", fmt.Errorf("wrapped: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), true},
		{"dial other", refused, true},
		{"reset", fmt.Errorf("x: %w", syscall.ECONNRESET), true},
		{"eof", fmt.Errorf("x: %w", io.EOF), true},
		{"pool timeout", redis.ErrPoolTimeout, true},
		{"closed client", redis.ErrClosed, false},
		{"context canceled", context.Canceled, false},
		{"plain error", errors.New("ERR syntax"), false},
		{"unknown CA", fmt.Errorf("x: %w", x509.UnknownAuthorityError{}), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Transient(tc.err); got != tc.want {
				t.Fatalf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// timeoutErr is a net.Error that timed out.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// NotRun: never sent, or refused; not a reply lost after the write.
func TestNotRun(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"dial refused", fmt.Errorf("wrapped: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), true},
		{"dial timeout", &net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}, true},
		{"refused", syscall.ECONNREFUSED, true},
		{"pool timeout", redis.ErrPoolTimeout, true},
		{"read timeout", &net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}, false},
		{"bare timeout", timeoutErr{}, false},
		{"write failed", &net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}, false},
		{"eof", fmt.Errorf("x: %w", io.EOF), false},
		{"reset", fmt.Errorf("x: %w", syscall.ECONNRESET), false},
		{"closed client", redis.ErrClosed, false},
		{"plain error", errors.New("ERR syntax"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := NotRun(tc.err); got != tc.want {
				t.Fatalf("NotRun(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// Redis' own replies: those that pass and those that do not.
func TestTransientReplies(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	for _, tc := range []struct {
		reply string
		want  bool
	}{
		{"LOADING Redis is loading the dataset in memory", true},
		{"READONLY You can't write against a read only replica.", true},
		{"MASTERDOWN Link with MASTER is down", true},
		{"OOM command not allowed when used memory > 'maxmemory'.", true},
		{"MOVED 3999 127.0.0.1:6381", true},
		{"ASK 3999 127.0.0.1:6381", true},
		{"NOAUTH Authentication required.", false},
		{"WRONGPASS invalid username-password pair", false},
		{"NOPERM this user has no permissions", false},
		{"ERR Error running script", false},
		{"WRONGTYPE Operation against a key holding the wrong kind of value", false},
	} {
		t.Run(tc.reply, func(t *testing.T) {
			m.SetError(tc.reply)
			defer m.SetError("")
			err := rdb.Get(ctx, "k").Err()
			if err == nil {
				t.Fatal("no error")
			}
			if got := Transient(err); got != tc.want {
				t.Fatalf("Transient(%v) = %v, want %v", err, got, tc.want)
			}
			// A reply: the command did not run.
			if got := NotRun(err); got != tc.want {
				t.Fatalf("NotRun(%v) = %v, want %v", err, got, tc.want)
			}
		})
	}
	// A server that is gone.
	m.Close()
	if err := rdb.Get(ctx, "k").Err(); !Transient(err) {
		t.Fatalf("Transient(%v) = false for a stopped server", err)
	}
}

func TestDo(t *testing.T) {
	ctx := context.Background()
	down := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	fast := Policy{For: 50 * time.Millisecond, First: time.Millisecond, Max: 4 * time.Millisecond}

	t.Run("passes after a few failures", func(t *testing.T) {
		calls, retries := 0, 0
		err := Do(ctx, fast, func() error {
			calls++
			if calls < 4 {
				return down
			}
			return nil
		}, func(n int, err error, wait time.Duration) {
			retries++
			if n != retries || wait > fast.Max {
				t.Errorf("onRetry(%d, %v, %v)", n, err, wait)
			}
		})
		if err != nil || calls != 4 || retries != 3 {
			t.Fatalf("err %v, %d calls, %d retries", err, calls, retries)
		}
	})
	t.Run("gives up after the window", func(t *testing.T) {
		start := time.Now()
		err := Do(ctx, fast, func() error { return down }, nil)
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("err = %v, want ErrUnavailable wrapping the last error", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("took %v", d)
		}
	})
	t.Run("permanent error at once", func(t *testing.T) {
		calls := 0
		boom := errors.New("ERR boom")
		err := Do(ctx, fast, func() error { calls++; return boom }, nil)
		if !errors.Is(err, boom) || calls != 1 {
			t.Fatalf("err %v after %d calls", err, calls)
		}
	})
	t.Run("no retry", func(t *testing.T) {
		calls := 0
		err := Do(ctx, Policy{For: -1}, func() error { calls++; return down }, nil)
		if !errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, ErrUnavailable) || calls != 1 {
			t.Fatalf("err %v after %d calls", err, calls)
		}
	})
	t.Run("ctx ends the wait", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		err := Do(cctx, Policy{For: time.Hour, First: time.Minute}, func() error { return down },
			func(int, error, time.Duration) { cancel() })
		if !errors.Is(err, context.Canceled) || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("err = %v", err)
		}
	})
}
