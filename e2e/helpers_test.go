package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/enqueuer"
	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/outcomes"
	"github.com/reqfleet/reqfleet/tasks"
)

// needBinary skips the test with -short.
func needBinary(t *testing.T) {
	t.Helper()
	if testing.Short() || bin == "" {
		t.Skip("e2e: skipped with -short")
	}
}

// proc is a reqfleet process.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdout testkit.SyncBuffer
	stderr testkit.SyncBuffer
	stdin  io.WriteCloser // with startPiped
	done   chan struct{}
	err    error // Wait's, once done is closed
}

// env is the children's environment: the test's, without settings that
// would change what reqfleet does (REQFLEET_*, proxies), plus extra.
func env(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch up := strings.ToUpper(k); {
		case strings.HasPrefix(up, "REQFLEET_"), up == "HTTP_PROXY", up == "HTTPS_PROXY", up == "ALL_PROXY", up == "NO_PROXY":
			continue
		}
		out = append(out, kv)
	}
	return append(out, extra...)
}

// start runs `reqfleet args...` until it exits or the test ends (then it is
// killed). Its stderr is logged when the test fails.
func start(t *testing.T, name string, envs []string, args ...string) *proc {
	t.Helper()
	return startWith(t, name, envs, false, args...)
}

// startPiped is start with a pipe to the process's stdin (p.stdin).
func startPiped(t *testing.T, name string, envs []string, args ...string) *proc {
	t.Helper()
	return startWith(t, name, envs, true, args...)
}

func startWith(t *testing.T, name string, envs []string, piped bool, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Env = env(envs...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if piped {
		w, err := p.cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		p.stdin = w
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s stderr (last 4 KiB):\n%s", p.name, tail(p.stderr.String(), 4<<10))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: signal %v: %v", p.name, sig, err)
	}
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// wait waits for the process to exit, for up to limit (then it fails the
// test: a hang), and returns its exit code.
func (p *proc) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s did not exit within %v (hung)\nstderr: %s", p.name, limit, tail(p.stderr.String(), 4<<10))
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("%s: %v", p.name, p.err)
	}
	return 0
}

// result is a finished command.
type result struct {
	stdout, stderr string
	code           int
}

// cli runs `reqfleet args...` to its end, for up to limit.
func cli(t *testing.T, limit time.Duration, envs []string, args ...string) result {
	t.Helper()
	p := start(t, "reqfleet "+args[0], envs, args...)
	code := p.wait(t, limit)
	r := result{stdout: p.stdout.String(), stderr: p.stderr.String(), code: code}
	noPanic(t, r.stderr)
	return r
}

// mustCLI is cli that must exit 0.
func mustCLI(t *testing.T, limit time.Duration, envs []string, args ...string) result {
	t.Helper()
	r := cli(t, limit, envs, args...)
	if r.code != 0 {
		t.Fatalf("reqfleet %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

// noPanic fails the test if a process's stderr shows a panic.
func noPanic(t *testing.T, stderr string) {
	t.Helper()
	for _, s := range []string{"panic:", "goroutine ", "fatal error:", "DATA RACE"} {
		if strings.Contains(stderr, s) {
			t.Fatalf("stderr shows %q:\n%s", s, tail(stderr, 8<<10))
		}
	}
}

// startWorker runs `reqfleet worker` on the Redis URL.
func startWorker(t *testing.T, name, redisURL string, args ...string) *proc {
	t.Helper()
	return start(t, name, nil, append([]string{"worker", "--redis", redisURL, "--log-format", "json", "--name", name}, args...)...)
}

// target is the HTTP server the jobs go to:
//
//	/delay/MS/...  answers after MS milliseconds
//	/hold/...      answers once release is closed
type target struct {
	*httptest.Server
	release     chan struct{}
	releaseOnce func()       // closes release
	holding     atomic.Int32 // requests waiting in /hold now
	served      atomic.Int64 // requests answered
}

func newTarget(t *testing.T) *target {
	t.Helper()
	tg := &target{release: make(chan struct{})}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
		switch parts[0] {
		case "delay":
			ms, _ := strconv.Atoi(parts[1])
			timer := time.NewTimer(time.Duration(ms) * time.Millisecond)
			defer timer.Stop()
			select {
			case <-timer.C:
			case <-r.Context().Done():
				return
			}
		case "hold":
			tg.holding.Add(1)
			defer tg.holding.Add(-1)
			select {
			case <-tg.release:
			case <-r.Context().Done():
				return
			}
		}
		tg.served.Add(1)
		fmt.Fprintf(w, "ok %s", r.URL.Path)
	}))
	t.Cleanup(tg.Close)
	var once sync.Once
	tg.releaseOnce = func() { once.Do(func() { close(tg.release) }) }
	t.Cleanup(tg.releaseOnce) // before Close: it waits for the handlers
	return tg
}

// writeJobs writes n jobs with ids prefix-0000... to a JSONL file.
func writeJobs(t *testing.T, prefix string, n int, url func(i int) string) (string, []string) {
	t.Helper()
	var b strings.Builder
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%s-%04d", prefix, i)
		line, err := json.Marshal(map[string]string{"id": ids[i], "url": url(i)})
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), prefix+".jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, ids
}

// enqueue runs `reqfleet enqueue --json` and returns its receipt.
func enqueue(t *testing.T, redisURL, file string, args ...string) enqueuer.Receipt {
	t.Helper()
	r := mustCLI(t, 3*time.Minute, nil, append([]string{"enqueue", "--redis", redisURL, "--json", file}, args...)...)
	var rec enqueuer.Receipt
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil || rec.Batch == "" {
		t.Fatalf("enqueue printed %q: %v", r.stdout, err)
	}
	return rec
}

// batchStatus reads a batch's counters.
func batchStatus(t *testing.T, rdb redis.UniversalClient, queue, batch string) outcomes.BatchStatus {
	t.Helper()
	r, err := outcomes.NewReader(rdb, queue)
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Batch(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// waitBatch waits for the batch to complete and says how long it took.
func waitBatch(t *testing.T, rdb redis.UniversalClient, queue, batch string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	r, err := outcomes.NewReader(rdb, queue)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if st, err := r.Wait(ctx, batch, 50*time.Millisecond, nil); err != nil {
		t.Fatalf("batch %s of queue %s: %v (status %+v)", batch, queue, err, st)
	}
	return time.Since(start)
}

// entry is one outcome of a job.
type entry struct {
	kind    string // "response" or "exception"
	attempt int
	typ     string // the exception's type
	status  int
	body    string
}

// checkBatch checks the promise for one batch: its results and exceptions
// hold exactly one entry per job accepted, none twice, none missing, and
// the batch's counters agree. It returns the entries by job id.
func checkBatch(t *testing.T, rdb redis.UniversalClient, queue, batch string, ids []string) map[string]entry {
	t.Helper()
	ctx := context.Background()
	r, err := outcomes.NewReader(rdb, queue)
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]entry, len(ids))
	add := func(id string, e entry) {
		if _, dup := got[id]; dup {
			t.Errorf("batch %s: job %s has two entries", batch, id)
		}
		got[id] = e
	}
	for resp, err := range r.Responses(ctx, outcomes.ReadOptions{Batch: batch}) {
		if err != nil {
			t.Fatal(err)
		}
		add(resp.ID, entry{kind: "response", attempt: resp.Attempt, status: resp.StatusCode, body: resp.Body})
	}
	for exc, err := range r.Exceptions(ctx, outcomes.ReadOptions{Batch: batch}) {
		if err != nil {
			t.Fatal(err)
		}
		add(exc.ID, entry{kind: "exception", attempt: exc.Attempt, typ: exc.Exception.Type})
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
		if _, ok := got[id]; !ok {
			t.Errorf("batch %s: job %s has no entry", batch, id)
		}
	}
	for id := range got {
		if !want[id] {
			t.Errorf("batch %s: entry for job %s, which was not accepted", batch, id)
		}
	}
	st, err := r.Batch(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Complete() || st.Total != int64(len(ids)) || st.Done != int64(len(ids)) || st.Responses+st.Exceptions != st.Done {
		t.Errorf("batch %s: counters %+v, want %d done of %d", batch, st, len(ids), len(ids))
	}
	if t.Failed() {
		t.FailNow()
	}
	return got
}

// wantAll checks every entry with ok.
func wantAll(t *testing.T, entries map[string]entry, what string, ok func(entry) bool) {
	t.Helper()
	for id, e := range entries {
		if !ok(e) {
			t.Fatalf("job %s: %+v, want %s", id, e, what)
		}
	}
}

func isResponse(attempt int) func(entry) bool {
	return func(e entry) bool { return e.kind == "response" && e.status == 200 && e.attempt == attempt }
}

// pendingTasks lists a queue's pending tasks, decoded.
func pendingTasks(t *testing.T, rdb redis.UniversalClient, queue string) []tasks.Task {
	t.Helper()
	insp := asynq.NewInspectorFromRedisClient(rdb)
	var out []tasks.Task
	for page := 1; ; page++ {
		infos, err := insp.ListPendingTasks(queue, asynq.Page(page), asynq.PageSize(500))
		if err != nil {
			t.Fatal(err)
		}
		for _, ti := range infos {
			task, err := tasks.DecodeTask(ti.Payload)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, task)
		}
		if len(infos) < 500 {
			return out
		}
	}
}

// queueInfo is asynq's view of a queue (zero when it has none yet).
func queueInfo(t *testing.T, rdb redis.UniversalClient, queue string) asynq.QueueInfo {
	t.Helper()
	insp := asynq.NewInspectorFromRedisClient(rdb)
	queues, err := insp.Queues()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(queues, queue) { // asynq knows a queue once a job was enqueued to it
		return asynq.QueueInfo{}
	}
	qi, err := insp.GetQueueInfo(queue)
	if err != nil {
		t.Fatal(err)
	}
	return *qi
}
