package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/internal/testredis"
)

// pythonFleet starts what the Python client talks to: a redis-server,
// `reqfleet serve` (with a token, accepting loopback job URLs) and two
// workers; it returns the environment that points the client at it.
func pythonFleet(t *testing.T) []string {
	t.Helper()
	needBinary(t)
	rs := testredis.Start(t)
	const token = "py-test-token"
	startWorker(t, "py-worker-1", rs.URL(), "-c", "8")
	startWorker(t, "py-worker-2", rs.URL(), "-c", "8")
	serve := start(t, "serve", []string{"REQFLEET_API_TOKEN=" + token},
		"serve", "--redis", rs.URL(), "--addr", "127.0.0.1:0", "--allow-private-urls", "--no-ui", "--log-format", "json")
	var url string
	testkit.WaitUntil(t, 30*time.Second, func() error {
		if url = strings.TrimSpace(serve.stdout.String()); url == "" {
			if !serve.running() {
				t.Fatalf("serve exited: %s", serve.stderr.String())
			}
			return errors.New("serve has not printed its URL")
		}
		return nil
	}, "serve listening")
	return []string{"REQFLEET_URL=" + url, "REQFLEET_API_TOKEN=" + token, "PYTHONDONTWRITEBYTECODE=1"}
}

// python3 finds python3, or skips the test when there is none.
func python3(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: the Python client's tests need it (CI has it)")
	}
	return py
}

// TestPythonClient runs clients/python's unittest suite against a live
// fleet: every test must run (none skipped) and pass.
func TestPythonClient(t *testing.T) {
	py := python3(t)
	envs := pythonFleet(t)
	if toolbelt := toolbeltPython(t); toolbelt != "" {
		envs = append(envs, "REQFLEET_TOOLBELT_PYTHON="+toolbelt)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-m", "unittest", "-v")
	cmd.Dir = filepath.Join("..", "clients", "python", "tests")
	cmd.Env = env(envs...)
	out, err := cmd.CombinedOutput()
	t.Logf("python3 -m unittest -v:\n%s", out)
	if err != nil {
		t.Fatalf("python3 -m unittest: %v", err)
	}
	m := regexp.MustCompile(`(?m)^Ran (\d+) tests? in`).FindSubmatch(out)
	if n, _ := strconv.Atoi(string(m[1])); m == nil || n < 15 {
		t.Fatalf("too few tests ran: %s", m)
	}
	if skipped := regexp.MustCompile(`(?m)\.\.\. skipped (.*)$`).FindAll(out, -1); len(skipped) > 0 {
		t.Errorf("%d Python tests skipped against a live fleet: %s", len(skipped), skipped)
	}
	t.Logf("%s Python tests passed", m[1])
}

// toolbeltPython is a python3 that has requests_toolbelt (Debian's
// python3-requests-toolbelt, which .ci/run installs), for the test that
// runs the toolbelt's own examples beside reqfleet's; "" when none has it.
func toolbeltPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err = exec.CommandContext(ctx, path, "-c", "import requests_toolbelt.threaded").Run()
		cancel()
		if err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Error("CI: no python3 has requests_toolbelt (.ci/run installs python3-requests-toolbelt)")
	}
	fmt.Fprintln(os.Stderr, "e2e: no python3 with requests_toolbelt: the toolbelt example runs without the original beside it")
	return ""
}
