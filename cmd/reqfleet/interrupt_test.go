package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/tasks"
)

// holdTarget answers once release is closed (or the request is given up).
type holdTarget struct {
	*httptest.Server
	started, served atomic.Int64
	release         chan struct{}
	releaseOnce     func()
}

func newHoldTarget(t *testing.T) *holdTarget {
	t.Helper()
	h := &holdTarget{release: make(chan struct{})}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.started.Add(1)
		select {
		case <-h.release:
		case <-r.Context().Done():
			return
		}
		h.served.Add(1)
		fmt.Fprint(w, "ok")
	}))
	var once sync.Once
	h.releaseOnce = func() { once.Do(func() { close(h.release) }) }
	t.Cleanup(func() {
		h.releaseOnce() // before Close: it waits for the handlers
		h.Close()
	})
	return h
}

// Ctrl-C during run: no job starts after it, the jobs in flight finish
// within --shutdown-timeout (or are given up after it), every outcome
// recorded is written, the summary says what was not run, and the exit
// code is 130.
func TestRunInterrupted(t *testing.T) {
	tests := []struct {
		name    string
		release bool // the jobs in flight finish within the grace
		grace   string
	}{
		{"in flight finish", true, "20s"},
		{"grace runs out", false, "300ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg := newHoldTarget(t)
			var b strings.Builder
			const n = 20
			for i := range n {
				fmt.Fprintf(&b, "{\"id\": \"j%02d\", \"url\": %q}\n", i, tg.URL+"/"+fmt.Sprint(i))
			}
			file := writeFile(t, "jobs.jsonl", b.String())
			out := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c := &cli{}
			done := make(chan error, 1)
			go func() {
				done <- c.run(ctx, "run", file, "--out", out, "-c", "2", "--shutdown-timeout", tc.grace)
			}()
			testkit.WaitUntil(t, 30*time.Second, func() bool { return tg.started.Load() == 2 }, "two jobs in flight")
			cancel()
			testkit.WaitUntil(t, 10*time.Second, func() bool {
				return strings.Contains(c.stderr.String(), "interrupted: no more jobs are enqueued or started")
			}, "the interrupt told")
			interrupted := time.Now()
			if tc.release {
				tg.releaseOnce()
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				t.Fatal("run did not return after the interrupt")
			}
			t.Logf("returned %v after the interrupt: %v", time.Since(interrupted).Round(time.Millisecond), err)
			if code := exitCode(ctx, err); code != exitInterrupted {
				t.Fatalf("exit %d (%v), want %d", code, err, exitInterrupted)
			}
			results := readLines(t, filepath.Join(out, "results.jsonl"))
			if exc := readLines(t, filepath.Join(out, "exceptions.jsonl")); len(exc) != 0 {
				t.Errorf("exceptions: %q", exc)
			}
			want := 0
			if tc.release {
				if s := tg.started.Load(); s != 2 {
					t.Logf("%d jobs started: some started between the interrupt and the worker's stop", s)
				}
				want = int(tg.served.Load())
			} else if s := tg.started.Load(); s != 2 {
				t.Errorf("%d jobs started, want the 2 in flight at the interrupt only", s)
			}
			if len(results) != want {
				t.Fatalf("results.jsonl: %d outcomes, want %d (the target answered %d)", len(results), want, tg.served.Load())
			}
			for _, line := range results {
				if r, err := tasks.DecodeResponse([]byte(line)); err != nil || r.StatusCode != 200 {
					t.Errorf("result %s: %v", line, err)
				}
			}
			summary := c.stdout.String()
			for _, w := range []string{
				fmt.Sprintf("responses:  %d", want),
				fmt.Sprintf("not run: %d of %d jobs", n-want, n),
			} {
				if !strings.Contains(summary, w) {
					t.Errorf("summary lacks %q:\n%s", w, summary)
				}
			}
			if msg := err.Error(); !strings.Contains(msg, "interrupted") || strings.Contains(msg, "\n") {
				t.Errorf("error %q", msg)
			}
		})
	}
}

// The first interrupt ends the commands' context; the second exits at once
// with 130.
func TestInterrupts(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	cancelled := make(chan struct{})
	exited := make(chan int, 1)
	var stderr testkit.SyncBuffer
	go interrupts(sigs, func() { close(cancelled) }, &stderr, func(code int) { exited <- code })
	sigs <- os.Interrupt
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the first interrupt did not cancel")
	}
	sigs <- syscall.SIGTERM
	select {
	case code := <-exited:
		if code != exitInterrupted {
			t.Fatalf("exit %d, want %d", code, exitInterrupted)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second interrupt did not exit")
	}
	if !strings.Contains(stderr.String(), "again: exiting now") {
		t.Fatalf("stderr %q", stderr.String())
	}
}
