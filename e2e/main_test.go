// Package e2e runs the reqfleet binary as real processes (workers,
// enqueue, retry) against a real redis-server, and checks the promise:
// every job that enqueue accepted ends as exactly one entry, in results or
// in exceptions, whatever happens to workers, Redis or the input.
//
// The tests are skipped with -short. They build the binary once, with
// -race when the tests run with it.
package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// bin is the reqfleet binary built for the tests ("" with -short).
var bin string

func TestMain(m *testing.M) {
	flag.Parse()
	code := run(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func run(m *testing.M) int {
	if testing.Short() {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "reqfleet-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = filepath.Join(dir, "reqfleet")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "../cmd/reqfleet")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/reqfleet: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}
