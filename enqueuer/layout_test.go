package enqueuer

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/tasks"
)

// An enqueuer linked with an asynq whose layout was not verified enqueues
// through asynq's Client, saying so once, unless told to keep the fast
// path.
func TestLayoutGuard(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
	t.Cleanup(func() { rdb.Close() })
	tests := []struct {
		name         string
		linked       string
		verified     bool
		force        bool
		wantAsynq    bool
		wantWarnings int
	}{
		{"verified", "v0.26.0", true, false, false, 0},
		{"mismatch falls back", "v0.27.0", false, false, true, 1},
		{"mismatch forced", "v0.27.0", false, true, false, 0},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			q := "layout" + string(rune('a'+i))
			e, err := New(Config{Redis: rdb, Queue: q, ForceAsynqLayout: tc.force,
				Logger:         slog.New(slog.NewTextHandler(&logs, nil)),
				layoutVerified: func() (string, bool) { return tc.linked, tc.verified }})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if (e.fast == nil) != tc.wantAsynq || e.cfg.AsynqClient != tc.wantAsynq {
				t.Fatalf("asynq's Client %v, want %v", e.fast == nil, tc.wantAsynq)
			}
			// Either way the job lands as asynq's task.
			ctx := context.Background()
			b, err := e.NewBatch(ctx)
			if err != nil {
				t.Fatal(err)
			}
			task, err := b.Add(ctx, tasks.Job{ID: "j1", URL: "http://h/"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := asynq.NewInspectorFromRedisClient(rdb).GetTaskInfo(q, task.TaskID()); err != nil {
				t.Fatalf("task not in asynq: %v", err)
			}
			got := logs.String()
			if n := strings.Count(got, "level=WARN"); n != tc.wantWarnings {
				t.Fatalf("%d warnings, want %d:\n%s", n, tc.wantWarnings, got)
			}
			if tc.wantWarnings > 0 && (!strings.Contains(got, "linked=v0.27.0") || !strings.Contains(got, "--force-asynq-layout")) {
				t.Fatalf("warning does not name the version and the flag:\n%s", got)
			}
		})
	}
}
