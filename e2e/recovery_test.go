package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/tasks"
)

// TestRecoveryInSeconds: three workers with the default settings; one,
// holding jobs (4 held by the target, and its share of a bulk batch of
// 300), is SIGKILLed. Its jobs run again on the survivors as soon as their
// 5s lease ends (the lease recoverer of every worker looks every second):
// both batches complete well within 20s of the kill (the goal: 10s), with
// one outcome each. The figure is logged.
func TestRecoveryInSeconds(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := testredis.Start(t)
	rdb := srv.Client(t)
	tg := newTarget(t)

	victim := startWorker(t, "victim", srv.URL(), "-c", "6")
	fileH, idsH := writeJobs(t, "held", 4, func(i int) string { return fmt.Sprintf("%s/hold/h%d", tg.URL, i) })
	recH := enqueue(t, srv.URL(), fileH)
	testkit.WaitUntil(t, time.Minute, func() bool { return tg.holding.Load() == 4 }, "the victim holds the 4 held jobs")

	startWorker(t, "w1", srv.URL(), "-c", "4")
	startWorker(t, "w2", srv.URL(), "-c", "4")
	fileB, idsB := writeJobs(t, "bulk", 300, func(i int) string { return fmt.Sprintf("%s/delay/100/b%d", tg.URL, i) })
	recB := enqueue(t, srv.URL(), fileB)
	testkit.WaitUntil(t, 2*time.Minute, func() bool {
		return batchStatus(t, rdb, "default", recB.Batch).Done >= 60
	}, "a fifth of the bulk batch done")

	victim.signal(t, syscall.SIGKILL)
	killed := time.Now()
	victim.wait(t, 10*time.Second)
	tg.releaseOnce() // the held jobs run again are answered at once

	const limit = 20 * time.Second
	waitBatch(t, rdb, "default", recB.Batch, limit)
	tookB := time.Since(killed)
	waitBatch(t, rdb, "default", recH.Batch, limit)
	tookH := time.Since(killed)
	t.Logf("crash recovery: bulk batch complete %v after the SIGKILL, the victim's held jobs %v",
		tookB.Round(100*time.Millisecond), tookH.Round(100*time.Millisecond))
	if took := max(tookB, tookH); took > limit {
		t.Fatalf("batches complete %v after the kill, want within %v", took, limit)
	}
	wantAll(t, checkBatch(t, rdb, "default", recB.Batch, idsB), "a response of attempt 1", isResponse(1))
	wantAll(t, checkBatch(t, rdb, "default", recH.Batch, idsH), "a response of attempt 1 (run again)", isResponse(1))
}

// TestPoisonJobWorkerCrashed: a job whose request kills its worker (here
// the test SIGKILLs whichever worker the target sees asking for /poison)
// is run three times (--max-crashes 3), then recorded as a WorkerCrashed
// exception and not run again; the other jobs of its batch are answered.
func TestPoisonJobWorkerCrashed(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := testredis.Start(t)
	rdb := srv.Client(t)
	poisoned := make(chan string, 16) // the worker names that asked for it
	tgt := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/poison") {
			poisoned <- r.Header.Get("X-Worker")
			<-r.Context().Done() // its worker dies
			return
		}
		fmt.Fprintf(w, "ok %s", r.URL.Path)
	}))
	t.Cleanup(tgt.Close)

	var mu sync.Mutex
	procs := map[string]*proc{}
	n := 0
	spawn := func() {
		mu.Lock()
		defer mu.Unlock()
		n++
		name := "w" + strconv.Itoa(n)
		procs[name] = startWorker(t, name, srv.URL(), "-c", "2", "-H", "X-Worker: "+name)
	}
	for range 3 {
		spawn()
	}
	file, ids := writeJobs(t, "p", 40, func(i int) string {
		if i == 7 {
			return tgt.URL + "/poison"
		}
		return fmt.Sprintf("%s/ok/%d", tgt.URL, i)
	})
	rec := enqueue(t, srv.URL(), file)
	for kill := 1; kill <= 3; kill++ {
		timer := time.NewTimer(time.Minute)
		select {
		case name := <-poisoned:
			timer.Stop()
			mu.Lock()
			p := procs[name]
			mu.Unlock()
			if p == nil {
				t.Fatalf("poison asked for by unknown worker %q", name)
			}
			p.signal(t, syscall.SIGKILL)
			p.wait(t, 10*time.Second)
			spawn() // the fleet keeps three workers
		case <-timer.C:
			t.Fatalf("the poison job was not run a %d. time within a minute", kill)
		}
	}
	waitBatch(t, rdb, "default", rec.Batch, time.Minute)
	got := checkBatch(t, rdb, "default", rec.Batch, ids)
	for id, e := range got {
		if id == ids[7] {
			if e.kind != "exception" || e.typ != tasks.WorkerCrashed || e.attempt != 1 {
				t.Fatalf("poison job: %+v, want a WorkerCrashed exception", e)
			}
			continue
		}
		if !isResponse(1)(e) {
			t.Fatalf("job %s: %+v, want a response", id, e)
		}
	}
	if len(poisoned) != 0 {
		t.Fatalf("the poison job was run again after its WorkerCrashed record (%d more)", len(poisoned))
	}
}

// ipCmd runs `ip args...`, failing the test on an error.
func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// partitionNet is a network namespace for one worker with two veth pairs
// to the host, addresses in 198.18.0.0/15 (benchmarking, never routed):
// Redis is reached on 198.18.0.1 (pair r: host 198.18.0.1/30, namespace
// 198.18.0.2), the target on 198.18.0.5 (pair t: 198.18.0.5/30, 198.18.0.6),
// so that cutting pair r cuts the worker off from Redis only. It is
// deleted in t.Cleanup; the test is skipped where `ip netns add` is
// refused (not root, no CAP_SYS_ADMIN).
type partitionNet struct {
	ns, rHost, rNS string
}

func newPartitionNet(t *testing.T) *partitionNet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command")
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	sfx := hex.EncodeToString(b)
	n := &partitionNet{ns: "rfq" + sfx, rHost: "rfrh" + sfx, rNS: "rfrn" + sfx}
	if out, err := exec.Command("ip", "netns", "add", n.ns).CombinedOutput(); err != nil {
		t.Skipf("ip netns add refused: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", n.ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", n.ns, err, out)
		}
	})
	tHost, tNS := "rfth"+sfx, "rftn"+sfx
	for _, p := range []struct{ host, ns, hostAddr, nsAddr string }{
		{n.rHost, n.rNS, "198.18.0.1/30", "198.18.0.2/30"},
		{tHost, tNS, "198.18.0.5/30", "198.18.0.6/30"},
	} {
		ipCmd(t, "link", "add", p.host, "type", "veth", "peer", "name", p.ns)
		ipCmd(t, "link", "set", p.ns, "netns", n.ns) // deleted with the namespace, its peer too
		ipCmd(t, "addr", "add", p.hostAddr, "dev", p.host)
		ipCmd(t, "link", "set", p.host, "up")
		ipCmd(t, "netns", "exec", n.ns, "ip", "addr", "add", p.nsAddr, "dev", p.ns)
		ipCmd(t, "netns", "exec", n.ns, "ip", "link", "set", p.ns, "up")
	}
	ipCmd(t, "netns", "exec", n.ns, "ip", "link", "set", "lo", "up")
	return n
}

// cut takes the namespace's link to Redis down (up again: false).
func (n *partitionNet) cut(t *testing.T, down bool) {
	t.Helper()
	state := "up"
	if down {
		state = "down"
	}
	ipCmd(t, "netns", "exec", n.ns, "ip", "link", "set", n.rNS, state)
}

// startWorkerIn runs `reqfleet worker` in the namespace (ip netns exec
// execs the binary: the process is the worker's).
func (n *partitionNet) startWorkerIn(t *testing.T, name, redisURL string, args ...string) *proc {
	t.Helper()
	argv := append([]string{"netns", "exec", n.ns, bin, "worker", "--redis", redisURL, "--log-format", "json", "--name", name}, args...)
	p := &proc{name: name, cmd: exec.Command("ip", argv...), done: make(chan struct{})}
	p.cmd.Env = env()
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if p.running() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s stderr (last 4 KiB):\n%s", p.name, tail(p.stderr.String(), 4<<10))
		}
	})
	return p
}

// TestPartitionFencing: one of three workers, in its own network
// namespace, holding 24 jobs of 1s (-c 4, --prefetch 20; one a fetch, so that it
// holds all 24 at the cut), is cut off from
// Redis for 60s mid-batch while it can still reach the target. Its leases are not renewed: it stops starting the
// requests of the jobs it holds before their leases end (fencing), the
// other workers recover them and the batch completes; when it comes back
// its late records are dropped as duplicates. Every job has one outcome;
// the requests the target saw twice (those in flight, or started, as the
// cut came) are counted and logged.
func TestPartitionFencing(t *testing.T) {
	needBinary(t)
	n := newPartitionNet(t)
	t.Parallel()
	srv := testredis.Start(t, "--bind", "127.0.0.1", "198.18.0.1", "--protected-mode", "no") // reached from the namespace, without a password
	rdb := srv.Client(t)

	var mu sync.Mutex
	seen := map[string]int{} // path -> requests
	fromNS := 0              // requests from the namespaced worker
	l, err := net.Listen("tcp", "198.18.0.5:0")
	if err != nil {
		t.Fatal(err)
	}
	tgt := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path]++
		if strings.HasPrefix(r.RemoteAddr, "198.18.0.6:") {
			fromNS++
		}
		mu.Unlock()
		timer := time.NewTimer(time.Second)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.Context().Done():
			return
		}
		fmt.Fprintf(w, "ok %s", r.URL.Path)
	}))
	_ = tgt.Listener.Close()
	tgt.Listener = l
	tgt.Start()
	t.Cleanup(tgt.Close)

	cutoff := n.startWorkerIn(t, "cutoff", fmt.Sprintf("redis://198.18.0.1:%d", srv.Port), "-c", "4", "--fetch-batch", "1", "--prefetch", "20")
	startWorker(t, "w1", srv.URL(), "-c", "4")
	startWorker(t, "w2", srv.URL(), "-c", "4")
	file, ids := writeJobs(t, "part", 200, func(i int) string { return fmt.Sprintf("%s/p/%d", tgt.URL, i) })
	rec := enqueue(t, srv.URL(), file)
	testkit.WaitUntil(t, time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return fromNS >= 20
	}, "the namespaced worker running jobs")

	n.cut(t, true)
	cutAt := time.Now()
	mu.Lock()
	nsAtCut := fromNS
	mu.Unlock()
	took := waitBatch(t, rdb, "default", rec.Batch, 2*time.Minute)
	t.Logf("partition: batch complete %v after the cut", took.Round(100*time.Millisecond))
	// Keep it cut off for 60s in all.
	rest := time.NewTimer(time.Until(cutAt.Add(60 * time.Second)))
	<-rest.C
	mu.Lock()
	nsDuringCut := fromNS - nsAtCut
	mu.Unlock()
	n.cut(t, false)

	// Back: it takes jobs again, and once it stops (SIGTERM: its jobs in
	// flight and their records end first) nothing of the cut is left.
	file2, ids2 := writeJobs(t, "after", 40, func(i int) string { return fmt.Sprintf("%s/after/%d", tgt.URL, i) })
	rec2 := enqueue(t, srv.URL(), file2)
	waitBatch(t, rdb, "default", rec2.Batch, time.Minute)
	cutoff.signal(t, syscall.SIGTERM)
	if code := cutoff.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("cut-off worker: exit %d", code)
	}
	wantAll(t, checkBatch(t, rdb, "default", rec.Batch, ids), "a response of attempt 1", isResponse(1))
	wantAll(t, checkBatch(t, rdb, "default", rec2.Batch, ids2), "a response of attempt 1", isResponse(1))

	mu.Lock()
	twice := 0
	for p, c := range seen {
		if strings.HasPrefix(p, "/p/") && c > 1 {
			twice++
		}
	}
	mu.Unlock()
	fenced := strings.Count(cutoff.stderr.String(), "not started, let go to recovery")
	t.Logf("partition: 200 jobs of 1s, the cut-off worker held 24 (-c 4, --prefetch 20), sent %d requests during the 60s cut and fenced %d jobs (let go unsent); the target saw %d requests twice",
		nsDuringCut, fenced, twice)
	// It holds 24 jobs, 4 running at a time, 1s each, and its asynq server
	// (the maintenance one, outside the fencing) may run one more. Its
	// runners wait on the records of the jobs in flight at the cut; the
	// jobs they take next, during the cut or when it is back, are past the
	// fencing margin of any lease it renewed before the cut (5s from then,
	// whole seconds, less 1s) once 4s have gone. So at least the 6th round
	// (4 jobs) is fenced, and what it sent twice is at most what it started.
	const held = 24 + 1
	if fenced < 4 || twice > held-fenced {
		t.Fatalf("fenced %d jobs (want at least 4), %d requests sent twice (want at most the %d it started)", fenced, twice, held-fenced)
	}
}
