package worker

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/tasks"
)

// TestForwarderRunsScheduledTasks checks that a fetcher worker runs a job
// another program scheduled with asynq's ProcessIn: its forwarder moves it
// to the queue once it is due (asynq's score, whole seconds), not before.
func TestForwarderRunsScheduledTasks(t *testing.T) {
	var log hitLog
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { log.add(r.URL.Path) }))
	t.Cleanup(srv.Close)
	f := newFleet(t, miniRedis(t), Config{Concurrency: 2})
	if err := f.w.Start(); err != nil {
		t.Fatal(err)
	}
	b, err := tasks.Task{Batch: "B", Attempt: 1, Job: job("later", srv.URL+"/later")}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	if _, err := f.client.Enqueue(asynq.NewTask(tasks.TypeRequest, b), asynq.Queue("q"), asynq.ProcessIn(time.Second)); err != nil {
		t.Fatal(err)
	}
	f.waitDone(t, "B", 1)
	// asynq scores it in whole seconds: due at the second its time falls in.
	due := time.Unix(at.Add(time.Second).Unix(), 0)
	if hits := log.of("/later"); len(hits) != 1 || hits[0].Before(due) {
		t.Fatalf("the scheduled job ran at %v: want once, not before %v", hits, due)
	}
}

func TestForwarderStartStop(t *testing.T) {
	fw := newForwarder(reqrdb.New(miniRedis(t)), map[string]int{"a": 1, "b": 2}, 10*time.Millisecond, time.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	fw.rounds.Init(t)
	if err := fw.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if n := fw.rounds.WaitOrTimeout(); n != 0 {
			t.Fatalf("a round of empty queues moved %d", n)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := fw.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := fw.Stop(ctx); err != nil {
		t.Fatalf("Stop again: %v", err)
	}
}
