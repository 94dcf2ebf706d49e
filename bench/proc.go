package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// child is a process the bench started; stop ends it.
type child struct {
	name string
	cmd  *exec.Cmd
	out  lockedWriter // stdout+stderr, kept for errors
	done chan struct{}
	err  error
	peak atomic.Int64 // VmHWM seen so far, bytes
}

func startChild(name, exe string, args []string, env []string) (*child, error) {
	c := &child{name: name, cmd: exec.Command(exe, args...), done: make(chan struct{})}
	c.out.w = new(bytes.Buffer)
	c.cmd.Stdout = &c.out
	c.cmd.Stderr = c.cmd.Stdout
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the bench
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	go c.sampleRSS()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to grace, then kills.
func (c *child) stop(grace time.Duration) {
	if c.exited() {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// sampleRSS keeps the child's peak resident set (VmHWM) while it runs.
// The rusage of wait4 cannot serve: Linux counts there the memory the
// child shared with the bench until its exec.
func (c *child) sampleRSS() {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if v := procPeakRSS(c.pid()); v > c.peak.Load() {
			c.peak.Store(v)
		}
		select {
		case <-c.done:
			return
		case <-t.C:
		}
	}
}

// maxRSS is the child's peak resident set in bytes, as last sampled.
func (c *child) maxRSS() int64 {
	if !c.exited() {
		if v := procPeakRSS(c.pid()); v > c.peak.Load() {
			c.peak.Store(v)
		}
	}
	return c.peak.Load()
}

// cpu is the user+system CPU time of a child that has exited.
func (c *child) cpu() time.Duration {
	if ru, ok := c.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return 0
}

// output is what the child printed, for error messages.
func (c *child) output() string {
	s := c.out.String()
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return strings.TrimSpace(s)
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

// procPeakRSS reads VmHWM (peak resident set) of a running process.
func procPeakRSS(pid int) int64 { return procStatusKB(pid, "VmHWM:") * 1024 }

func procStatusKB(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

// procCPU is a process's user+system CPU time so far.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) in ")".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTicks
}

// clockTicks is USER_HZ, 100 on Linux.
const clockTicks = 100

// selfCPU is this process's CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisServer is a redis-server the bench started on a free loopback port,
// with nothing kept on disk.
type redisServer struct {
	*child
	addr string
	dir  string
}

func startRedis(ctx context.Context, binary string) (*redisServer, error) {
	path, err := exec.LookPath(binary)
	if err != nil {
		return nil, fmt.Errorf("no --redis given and %s is not on PATH: %w", binary, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "reqfleet-bench-redis-")
	if err != nil {
		return nil, err
	}
	c, err := startChild("redis-server", path, []string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--maxclients", "4096",
	}, nil)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &redisServer{child: c, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir}
	rdb := redis.NewClient(&redis.Options{Addr: s.addr, MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := rdb.Ping(ctx).Err(); err == nil {
			return s, nil
		} else if time.Now().After(deadline) || c.exited() || ctx.Err() != nil {
			s.stop()
			return nil, fmt.Errorf("redis-server not ready: %w\n%s", err, c.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *redisServer) stop() {
	s.child.stop(5 * time.Second)
	os.RemoveAll(s.dir)
}

// info reads numeric fields of Redis' INFO section.
func info(ctx context.Context, rdb redis.UniversalClient, section string) (map[string]float64, error) {
	txt, err := rdb.Info(ctx, section).Result()
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for line := range strings.SplitSeq(txt, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[k] = f
		}
	}
	return out, nil
}

// redisCPU is Redis' own CPU time so far (INFO cpu), which works for a
// Redis the bench did not start as well.
func redisCPU(ctx context.Context, rdb redis.UniversalClient) (time.Duration, error) {
	m, err := info(ctx, rdb, "cpu")
	if err != nil {
		return 0, err
	}
	return time.Duration((m["used_cpu_sys"] + m["used_cpu_user"]) * float64(time.Second)), nil
}

// usedMemory is INFO memory's used_memory.
func usedMemory(ctx context.Context, rdb redis.UniversalClient) (int64, error) {
	m, err := info(ctx, rdb, "memory")
	if err != nil {
		return 0, err
	}
	v, ok := m["used_memory"]
	if !ok {
		return 0, errors.New("INFO memory has no used_memory")
	}
	return int64(v), nil
}
