// Package testkit is what the tests of every package share to wait without
// hanging: WaitUntil (a bounded poll), Signal (a component's test-only
// signal, as river's testsignal) and SyncBuffer (logs and output written by
// other goroutines). It does not import testing, so that components can
// carry a Signal; TB is the part of testing.TB it uses.
package testkit

import (
	"bytes"
	"errors"
	"sync"
	"time"
)

// TB is the part of testing.TB that testkit uses.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// DefaultTimeout bounds Signal.WaitOrTimeout: long enough for a loaded
// 2-core machine, short enough that a failing test fails in seconds.
const DefaultTimeout = 10 * time.Second

// WaitUntil tries its condition at once, then after 1ms, 2ms, ... up to
// every pollMax, so that a quick condition is seen quickly and a slow one
// (a Redis call, a CLI run) does not load the machine.
const pollMax = 20 * time.Millisecond

// Cond is what WaitUntil polls: true, or a nil error, when met; a false
// or an error that says what it still waits for otherwise.
type Cond interface{ func() bool | func() error }

// WaitUntil polls cond until it is met (see pollMax); when timeout passes first the test
// fails at once (Fatalf) with msg and cond's last error. Call it from the
// test's goroutine.
func WaitUntil[C Cond](t TB, timeout time.Duration, cond C, msg string) {
	t.Helper()
	check := func() error {
		switch c := any(cond).(type) {
		case func() bool:
			if c() {
				return nil
			}
			return errNotYet
		case func() error:
			return c()
		}
		panic("unreachable")
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	pause := time.Millisecond
	for {
		err := check()
		if err == nil {
			return
		}
		tick := time.NewTimer(pause)
		pause = min(2*pause, pollMax)
		select {
		case <-tick.C:
		case <-deadline.C:
			tick.Stop()
			if err == errNotYet {
				t.Fatalf("%s: not within %v", msg, timeout)
			} else {
				t.Fatalf("%s: not within %v: %v", msg, timeout, err)
			}
			return
		}
	}
}

var errNotYet = errors.New("not yet")

// signalBuffer is how many signals a Signal holds unread.
const signalBuffer = 100

// Signal is a typed channel a component signals on in tests only: the zero
// Signal (in production) ignores Signal calls; a test calls Init on the
// component's signal, then waits on it. Signal never blocks: a full
// channel fails the test.
type Signal[T any] struct {
	ch chan T
	tb TB
}

// Init makes the signal live for the test tb.
func (s *Signal[T]) Init(tb TB) {
	s.ch = make(chan T, signalBuffer)
	s.tb = tb
}

// Signal sends v when the signal is live, else does nothing.
func (s *Signal[T]) Signal(v T) {
	if s.ch == nil {
		return
	}
	select {
	case s.ch <- v:
	default:
		s.tb.Errorf("test signal full (%d unread)", signalBuffer)
	}
}

// C is the signal's channel, to select on.
func (s *Signal[T]) C() <-chan T {
	s.mustInit()
	return s.ch
}

// WaitOrTimeout waits for the next value, and fails the test (Fatalf)
// when none comes within DefaultTimeout.
func (s *Signal[T]) WaitOrTimeout() T {
	s.tb.Helper()
	s.mustInit()
	t := time.NewTimer(DefaultTimeout)
	defer t.Stop()
	select {
	case v := <-s.ch:
		return v
	case <-t.C:
		s.tb.Fatalf("test signal: nothing within %v", DefaultTimeout)
		var zero T
		return zero
	}
}

// RequireEmpty fails the test if a value is waiting.
func (s *Signal[T]) RequireEmpty() {
	s.tb.Helper()
	s.mustInit()
	select {
	case v := <-s.ch:
		s.tb.Errorf("test signal should be empty, got %v", v)
	default:
	}
}

func (s *Signal[T]) mustInit() {
	if s.ch == nil {
		panic("testkit: Signal used before Init (outside a test?)")
	}
}

// SyncBuffer is a bytes.Buffer safe for concurrent use: logs and output
// written by other goroutines (or a child process) while the test reads.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Len is how many bytes were written so far (and not Reset).
func (s *SyncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

// Reset empties the buffer.
func (s *SyncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}
