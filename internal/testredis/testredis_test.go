package testredis

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStartRestart(t *testing.T) {
	s := Start(t)
	c := s.Client(t)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	// Restarted empty: nothing is kept on disk.
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("after restart: exists=%d err=%v, want 0 <nil>", n, err)
	}
}

func TestPauseResume(t *testing.T) {
	s := Start(t)
	c := s.Client(t)
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("a paused server answered")
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	// A paused server still stops.
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
}

func TestRestartKeepsDataWithPersistence(t *testing.T) {
	s := Start(t, "--appendonly", "yes", "--appendfsync", "always")
	c := s.Client(t)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("after restart: %q %v, want the value kept", v, err)
	}
}

func TestAuthAndTLS(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(t testing.TB) *Server
		url   string
	}{
		{"auth", func(t testing.TB) *Server { return StartAuth(t, "p@ss w0rd") }, "redis://:p%40ss+w0rd@"},
		{"tls", func(t testing.TB) *Server { return StartTLS(t, "") }, "rediss://127"},
		{"tls and auth", func(t testing.TB) *Server { return StartTLS(t, "x") }, "rediss://:x@"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.start(t)
			if !strings.HasPrefix(s.URL(), tc.url) {
				t.Fatalf("URL %q, want prefix %q", s.URL(), tc.url)
			}
			if err := s.Client(t).Ping(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
