package worker

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// lockedBuffer is a log sink safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A worker linked with an asynq whose layout was not verified runs jobs
// through asynq's processor, saying so once, unless told to keep the
// fetcher.
func TestLayoutGuard(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
	t.Cleanup(func() { rdb.Close() })
	tests := []struct {
		name          string
		linked        string
		verified      bool
		force, asynqP bool
		wantAsynq     bool
		wantWarnings  int
	}{
		{"verified", "v0.26.0", true, false, false, false, 0},
		{"mismatch falls back", "v0.27.0", false, false, false, true, 1},
		{"mismatch forced", "v0.27.0", false, true, false, false, 0},
		{"asked for asynq's processor", "v0.27.0", false, false, true, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs lockedBuffer
			w, err := New(Config{Redis: rdb, Concurrency: 2, ForceAsynqLayout: tc.force, AsynqProcessor: tc.asynqP,
				Logger:         slog.New(slog.NewTextHandler(&logs, nil)),
				layoutVerified: func() (string, bool) { return tc.linked, tc.verified }})
			if err != nil {
				t.Fatal(err)
			}
			if w.cfg.AsynqProcessor != tc.wantAsynq {
				t.Fatalf("AsynqProcessor = %v, want %v", w.cfg.AsynqProcessor, tc.wantAsynq)
			}
			got := logs.String()
			if n := strings.Count(got, "level=WARN"); n != tc.wantWarnings {
				t.Fatalf("%d warnings, want %d:\n%s", n, tc.wantWarnings, got)
			}
			if tc.wantWarnings > 0 && (!strings.Contains(got, "linked=v0.27.0") || !strings.Contains(got, "verified=v0.26.0") || !strings.Contains(got, "--force-asynq-layout")) {
				t.Fatalf("warning does not name the versions and the flag:\n%s", got)
			}
		})
	}
}
