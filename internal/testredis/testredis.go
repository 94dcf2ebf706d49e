// Package testredis starts a real redis-server for tests, on a free loopback
// port with nothing kept on disk, so tests never touch a shared Redis.
package testredis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNoBinary: redis-server is not on PATH.
var ErrNoBinary = errors.New("redis-server not on PATH")

// Server is one redis-server process owned by a test.
type Server struct {
	Port     int
	Password string // requirepass, set by StartAuth
	CAFile   string // PEM of the CA that signed a StartTLS server's certificate
	dir      string
	args     []string
	tls      *tls.Config // a StartTLS server's client config

	mu  sync.Mutex
	cmd *exec.Cmd
	out *os.File
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// URL is a redis:// URL of the server (rediss:// for StartTLS), with the
// password of StartAuth.
func (s *Server) URL() string {
	scheme := "redis://"
	if s.tls != nil {
		scheme = "rediss://"
	}
	if s.Password != "" {
		return scheme + ":" + url.QueryEscape(s.Password) + "@" + s.Addr()
	}
	return scheme + s.Addr()
}

// options are go-redis options reaching the server.
func (s *Server) options() *redis.Options {
	return &redis.Options{Addr: s.Addr(), Password: s.Password, TLSConfig: s.tls}
}

// Start starts a redis-server for the test and stops it in t.Cleanup. Where
// the binary is missing the test is skipped, except under CI (CI set in the
// environment), where it fails: CI installs redis-server.
func Start(t testing.TB, extraArgs ...string) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v: CI must install it", ErrNoBinary)
		}
		t.Skip(ErrNoBinary)
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Port: port, dir: t.TempDir(), args: extraArgs}
	return s.startFor(t)
}

// startFor starts s and stops it in t.Cleanup.
func (s *Server) startFor(t testing.TB) *Server {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("testredis: already running")
	}
	args := append([]string{
		"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
	}, s.args...)
	out, err := os.CreateTemp(s.dir, "redis-*.log")
	if err != nil {
		return err
	}
	cmd := exec.Command("redis-server", args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("testredis: %w", err)
	}
	s.cmd, s.out = cmd, out
	return s.waitReady(10 * time.Second)
}

func (s *Server) waitReady(limit time.Duration) error {
	opt := s.options()
	opt.MaxRetries, opt.DialTimeout = -1, time.Second
	c := redis.NewClient(opt)
	defer c.Close()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(s.out.Name())
			return fmt.Errorf("testredis: redis-server on %s not ready: %v\n%s", s.Addr(), err, b)
		}
		<-tick.C
	}
}

// Stop ends the server (SIGTERM) and waits for it; its data is gone.
func (s *Server) Stop() error { return s.signal(false) }

// Kill ends the server with SIGKILL, as a crash would.
func (s *Server) Kill() error { return s.signal(true) }

func (s *Server) signal(kill bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	if kill {
		_ = s.cmd.Process.Kill()
	} else {
		_ = s.cmd.Process.Signal(os.Interrupt)
		_ = s.cmd.Process.Signal(syscall.SIGCONT) // a paused server acts on it
	}
	_ = s.cmd.Wait()
	s.out.Close()
	s.cmd, s.out = nil, nil
	return nil
}

// Pause stops the server process (SIGSTOP) without closing its sockets:
// clients connect but get no answer, as with a Redis that hangs or a
// network that drops packets. Resume lets it go on.
func (s *Server) Pause() error { return s.sendSignal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() error { return s.sendSignal(syscall.SIGCONT) }

func (s *Server) sendSignal(sig os.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("testredis: not running")
	}
	return s.cmd.Process.Signal(sig)
}

// Start starts a stopped server again on the same port and directory (a
// server started with persistence finds its data again).
func (s *Server) Start() error { return s.start() }

// Restart starts the server again on the same port, empty unless it was
// started with persistence (e.g. "--appendonly", "yes").
func (s *Server) Restart() error {
	if err := s.Stop(); err != nil {
		return err
	}
	return s.start()
}

// Client returns a go-redis client of the server, closed in t.Cleanup.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(s.options())
	t.Cleanup(func() { c.Close() })
	return c
}
