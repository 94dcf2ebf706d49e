package testkit

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeTB records what a helper reports instead of failing the real test;
// Fatalf ends the goroutine as testing's does.
type fakeTB struct {
	mu     sync.Mutex
	errs   []string
	fatal  bool
	helper int
}

func (f *fakeTB) Helper() { f.mu.Lock(); f.helper++; f.mu.Unlock() }
func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
	f.fatal = true
	f.mu.Unlock()
	runtime.Goexit()
}

// run calls fn on a fresh fakeTB in its own goroutine (Fatalf ends it) and
// returns the fakeTB once it is done.
func run(fn func(tb *fakeTB)) *fakeTB {
	tb := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(tb)
	}()
	<-done
	return tb
}

func TestWaitUntil(t *testing.T) {
	for _, tc := range []struct {
		name      string
		wait      func(tb *fakeTB)
		wantFatal string // "" : met
	}{
		{"bool met at once", func(tb *fakeTB) { WaitUntil(tb, time.Second, func() bool { return true }, "x") }, ""},
		{"error met later", func(tb *fakeTB) {
			n := 0
			WaitUntil(tb, 5*time.Second, func() error {
				if n++; n < 3 {
					return errors.New("n small")
				}
				return nil
			}, "n")
		}, ""},
		{"bool never", func(tb *fakeTB) { WaitUntil(tb, 20*time.Millisecond, func() bool { return false }, "the thing") }, "the thing: not within 20ms"},
		{"error never", func(tb *fakeTB) {
			WaitUntil(tb, 20*time.Millisecond, func() error { return errors.New("3 of 4") }, "outcomes")
		}, "outcomes: not within 20ms: 3 of 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			tb := run(tc.wait)
			if tc.wantFatal == "" {
				if tb.fatal || len(tb.errs) > 0 {
					t.Fatalf("failed: %v", tb.errs)
				}
				return
			}
			if !tb.fatal || len(tb.errs) != 1 || tb.errs[0] != tc.wantFatal {
				t.Fatalf("fatal %v, errors %q, want %q", tb.fatal, tb.errs, tc.wantFatal)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("took %v to fail", d)
			}
		})
	}
}

func TestSignal(t *testing.T) {
	t.Run("zero signal ignores Signal", func(t *testing.T) {
		var s Signal[int]
		s.Signal(1) // production: nothing happens
	})
	t.Run("values in order", func(t *testing.T) {
		var s Signal[string]
		s.Init(t)
		go func() { s.Signal("a"); s.Signal("b") }()
		if a, b := s.WaitOrTimeout(), s.WaitOrTimeout(); a != "a" || b != "b" {
			t.Fatalf("got %q %q", a, b)
		}
		s.RequireEmpty()
		select {
		case v := <-s.C():
			t.Fatalf("C had %q", v)
		default:
		}
	})
	t.Run("RequireEmpty reports a value", func(t *testing.T) {
		tb := run(func(tb *fakeTB) {
			var s Signal[int]
			s.Init(tb)
			s.Signal(7)
			s.RequireEmpty()
		})
		if len(tb.errs) != 1 || !strings.Contains(tb.errs[0], "got 7") || tb.fatal {
			t.Fatalf("errors %q", tb.errs)
		}
	})
	t.Run("full signal fails the test without blocking", func(t *testing.T) {
		tb := run(func(tb *fakeTB) {
			var s Signal[int]
			s.Init(tb)
			for i := range signalBuffer + 1 {
				s.Signal(i)
			}
		})
		if len(tb.errs) != 1 || !strings.Contains(tb.errs[0], "full") {
			t.Fatalf("errors %q", tb.errs)
		}
	})
	t.Run("uninitialised wait panics", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		var s Signal[int]
		s.tb = t
		s.WaitOrTimeout()
	})
}

func TestSyncBuffer(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if b.Len() != 800 || strings.Count(b.String(), "x") != 800 {
		t.Fatalf("len %d", b.Len())
	}
	b.Reset()
	if b.String() != "" {
		t.Fatal("not reset")
	}
}
