package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/internal/testkit"
)

// TestRunInterrupt: SIGINT during `reqfleet run` tells what it does on
// stderr, lets the jobs in flight finish, writes every outcome recorded and
// the summary of what was not run, and exits 130; a second SIGINT exits at
// once.
func TestRunInterrupt(t *testing.T) {
	needBinary(t)
	t.Parallel()
	for _, twice := range []bool{false, true} {
		name := "once"
		if twice {
			name = "twice"
		}
		t.Run(name, func(t *testing.T) {
			tg := newTarget(t)
			file, _ := writeJobs(t, "int", 20, func(int) string { return tg.URL + "/hold/" })
			out := filepath.Join(t.TempDir(), "out")
			p := start(t, "reqfleet run", nil, "run", file, "--out", out, "-c", "2", "--shutdown-timeout", "30s")
			testkit.WaitUntil(t, time.Minute, func() bool { return tg.holding.Load() == 2 }, "two jobs in flight")
			p.signal(t, syscall.SIGINT)
			testkit.WaitUntil(t, 20*time.Second, func() bool {
				return strings.Contains(p.stderr.String(), "interrupted: no more jobs are enqueued or started")
			}, "the interrupt told on stderr")
			if twice {
				sent := time.Now()
				p.signal(t, syscall.SIGINT)
				if code := p.wait(t, 10*time.Second); code != 130 {
					t.Fatalf("exit %d, want 130", code)
				}
				if d := time.Since(sent); d > 5*time.Second {
					t.Errorf("the second SIGINT took %v to exit", d)
				}
				if !strings.Contains(p.stderr.String(), "again: exiting now") {
					t.Errorf("stderr: %s", p.stderr.String())
				}
				return
			}
			tg.releaseOnce()
			if code := p.wait(t, time.Minute); code != 130 {
				t.Fatalf("exit %d, want 130\n%s", code, p.stderr.String())
			}
			noPanic(t, p.stderr.String())
			b, err := os.ReadFile(filepath.Join(out, "results.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			n := strings.Count(string(b), "\n")
			if n < 2 || int64(n) != tg.served.Load() {
				t.Fatalf("results.jsonl: %d outcomes; the target answered %d, 2 of them in flight at the SIGINT", n, tg.served.Load())
			}
			if !strings.Contains(p.stdout.String(), "not run: ") {
				t.Errorf("summary: %s", p.stdout.String())
			}
		})
	}
}
