package worker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/tasks"
)

// asynq's Inspector reads the fetcher's entry in the server list: its
// sessions, queues, start and the jobs it is running; the entry goes at
// shutdown.
func TestFetcherInAsynqServerList(t *testing.T) {
	testredis.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		started := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
		id := serverIdentity{host: "h1", pid: 4242, id: "srv-1", concurrency: 7,
			queues: map[string]int{"q": 3, "low": 1}, strict: true, started: started}
		payload := mustMarshal(t, "j1")
		enqueueRaw(t, rdb, "q", "task-1", payload, asynq.Timeout(time.Hour))
		var running testkit.Signal[string]
		running.Init(t)
		release := make(chan struct{})
		f := newTestFetcher(t, rdb, fetcherConfig{identity: id}, func(ctx context.Context, _ string, tk tasks.Task, _ time.Time, _ *ack, _ func()) error {
			running.Signal(tk.Job.ID)
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		startFetcher(t, f)
		running.WaitOrTimeout()
		// The heartbeat's next write, without waiting for it: it lands after
		// any write whose snapshot was taken before the job was running.
		f.writeState()
		insp := asynq.NewInspectorFromRedisClient(rdb)
		servers, err := insp.Servers()
		if err != nil {
			t.Fatal(err)
		}
		if len(servers) != 1 {
			t.Fatalf("%d servers, want the fetcher's", len(servers))
		}
		s := servers[0]
		if s.ID != "srv-1" || s.Host != "h1" || s.PID != 4242 || s.Concurrency != 7 || !s.StrictPriority ||
			s.Queues["q"] != 3 || s.Queues["low"] != 1 || len(s.Queues) != 2 || s.Status != "active" || !s.Started.Equal(started) {
			t.Fatalf("server %+v", s)
		}
		if len(s.ActiveWorkers) != 1 {
			t.Fatalf("%d active workers, want 1", len(s.ActiveWorkers))
		}
		w := s.ActiveWorkers[0]
		if w.TaskID != "task-1" || w.TaskType != tasks.TypeRequest || w.Queue != "q" || string(w.TaskPayload) != string(payload) ||
			time.Since(w.Started) > time.Minute || w.Deadline.Sub(w.Started) < 59*time.Minute || w.Deadline.Sub(w.Started) > 61*time.Minute {
			t.Fatalf("active worker %+v", w)
		}
		close(release)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := f.Stop(ctx); err != nil {
			t.Error(err)
		}
		if servers, err := insp.Servers(); err != nil || len(servers) != 0 {
			t.Fatalf("after stop: servers %+v, %v", servers, err)
		}
	})
}

// A worker's entries in the server list add up to its sessions: the
// fetcher's one entry (it runs no asynq server beside it), or the asynq
// processor's shards.
func TestWorkerServerListAddsUpToSessions(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want int
	}{
		{"fetcher", Config{Concurrency: 6}, 6},
		{"fetcher, one session", Config{Concurrency: 1}, 1},
		{"fetcher, more shards than sessions", Config{Concurrency: 2, Shards: 5}, 2},
		{"asynq processor", Config{Concurrency: 6, Shards: 2, AsynqProcessor: true}, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdb := miniRedis(t)
			f := newFleet(t, rdb, tc.cfg)
			if err := f.w.Start(); err != nil {
				t.Fatal(err)
			}
			insp := asynq.NewInspectorFromRedisClient(rdb)
			want := 1 // the fetcher's entry
			if tc.cfg.AsynqProcessor {
				want = f.w.cfg.Shards
			}
			testkit.WaitUntil(t, testWait, func() error {
				servers, err := insp.Servers()
				if err != nil {
					return err
				}
				sum := 0
				for _, s := range servers {
					sum += s.Concurrency
				}
				if len(servers) != want || sum != tc.want {
					return fmt.Errorf("%d entries adding up to %d sessions, want %d adding up to %d", len(servers), sum, want, tc.want)
				}
				return nil
			}, "the server list")
		})
	}
}
