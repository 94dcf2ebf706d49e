package rdb_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/enqueuer"
	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/tasks"
	"github.com/reqfleet/reqfleet/worker"
)

// The differential test: the same jobs through asynq's own Client and
// Server (the enqueuer's AsynqClient, the worker's AsynqProcessor) and
// through reqfleet's paths (the enqueue fast path, the fetcher) leave the
// same asynq keys, of the same types, members and fields (ids made equal,
// timestamps left out), after the enqueue and after the processing.
func TestSameKeysAsAsynq(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two workers")
	}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	defer target.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close() // connection refused: an exception
	jobs := []tasks.Job{
		{ID: "j1", URL: target.URL + "/1"},
		{ID: "j2", URL: target.URL + "/2", Method: "POST"},
		{ID: "j3", URL: closedURL + "/3"},
		{ID: "j4", URL: target.URL + "/404"},
	}
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx := context.Background()
		type path struct {
			name           string
			asynq          bool // asynq's Client and Server
			afterEnqueue   keyspace
			afterProcessed keyspace
		}
		paths := []*path{{name: "asynq", asynq: true}, {name: "reqfleet"}}
		for _, p := range paths {
			if err := r.FlushAll(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			e, err := enqueuer.New(enqueuer.Config{Redis: r, Queue: "diff", AsynqClient: p.asynq, ForceAsynqLayout: true, Concurrency: 1})
			if err != nil {
				t.Fatal(err)
			}
			rec, err := e.EnqueueMany(ctx, func(yield func(tasks.Job, error) bool) {
				for _, j := range jobs {
					if !yield(j, nil) {
						return
					}
				}
			})
			e.Close()
			if err != nil {
				t.Fatal(err)
			}
			p.afterEnqueue = snapshot(t, r, rec.Batch)
			w, err := worker.New(worker.Config{Redis: r, Queues: map[string]int{"diff": 1}, Concurrency: 2,
				AsynqProcessor: p.asynq, ForceAsynqLayout: true, ShutdownTimeout: 5 * time.Second,
				Sweep: worker.SweepConfig{Disabled: true}})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Start(); err != nil {
				t.Fatal(err)
			}
			waitDone(t, r, rec.Batch, len(jobs))
			sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			err = w.Shutdown(sctx)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			p.afterProcessed = snapshot(t, r, rec.Batch)
		}
		// asynq's own failure, the reference for the counters: the same
		// jobs as plain tasks, the one that fails here (j3) failing in the
		// handler (archived, no retry left), the others done.
		ref := asynqFailure(t, r, len(jobs), 2)
		for _, p := range paths {
			t.Run("counters of "+p.name, func(t *testing.T) {
				own := counters(p.afterProcessed)
				if len(ref) != 4 {
					t.Fatalf("asynq's failure left %d counters: %v", len(ref), ref)
				}
				for k, v := range ref {
					if own[k] != v {
						t.Errorf("%s: asynq's failure %q, reqfleet's exception %q", k, v, own[k])
					}
				}
				for k := range own {
					if _, ok := ref[k]; !ok {
						t.Errorf("%s: reqfleet has it, asynq's failure not", k)
					}
				}
			})
		}
		for _, point := range []struct {
			name       string
			asynq, own keyspace
		}{
			{"after enqueue", paths[0].afterEnqueue, paths[1].afterEnqueue},
			{"after processing", paths[0].afterProcessed, paths[1].afterProcessed},
		} {
			t.Run(point.name, func(t *testing.T) {
				if len(point.asynq) == 0 {
					t.Fatal("asynq's path left no keys")
				}
				t.Logf("%d asynq keys compared: %v", len(point.asynq), slices.Sorted(maps.Keys(point.asynq)))
				for _, k := range slices.Sorted(maps.Keys(point.asynq)) {
					if got, ok := point.own[k]; !ok {
						t.Errorf("%s: asynq has it, reqfleet's path not: %s", k, point.asynq[k])
					} else if got != point.asynq[k] {
						t.Errorf("%s:\n asynq:    %s\n reqfleet: %s", k, point.asynq[k], got)
					}
				}
				for _, k := range slices.Sorted(maps.Keys(point.own)) {
					if _, ok := point.asynq[k]; !ok {
						t.Errorf("%s: reqfleet's path has it, asynq not: %s", k, point.own[k])
					}
				}
			})
		}
	})
}

// asynqFailure runs n plain tasks through asynq's Client and Server in
// queue diff, the one at failing failing in its handler with no retry
// left, and returns asynq's processed and failed counters.
func asynqFailure(t *testing.T, r redis.UniversalClient, n, failing int) keyspace {
	t.Helper()
	ctx := context.Background()
	if err := r.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	cl := asynq.NewClientFromRedisClient(r)
	for i := range n {
		if _, err := cl.Enqueue(asynq.NewTask("plain", []byte(strconv.Itoa(i))), asynq.Queue("diff"), asynq.MaxRetry(0)); err != nil {
			t.Fatal(err)
		}
	}
	handled := make(chan struct{}, n)
	srv := asynq.NewServerFromRedisClient(r, asynq.Config{Queues: map[string]int{"diff": 1}, Concurrency: 2,
		LogLevel: asynq.FatalLevel})
	err := srv.Start(asynq.HandlerFunc(func(_ context.Context, task *asynq.Task) error {
		defer func() { handled <- struct{}{} }()
		if string(task.Payload()) == strconv.Itoa(failing) {
			return errors.New("ConnectionError")
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspectorFromRedisClient(r)
	testkit.WaitUntil(t, 30*time.Second, func() bool {
		qi, err := insp.GetQueueInfo("diff")
		return err == nil && qi.Pending == 0 && qi.Active == 0 && qi.Processed == n
	}, "asynq's server to process the plain tasks")
	srv.Shutdown()
	return counters(snapshot(t, r, "no batch here"))
}

// counters are the processed and failed counters of a keyspace.
func counters(ks keyspace) keyspace {
	out := keyspace{}
	for k, v := range ks {
		if strings.Contains(k, "}:processed") || strings.Contains(k, "}:failed") {
			out[k] = v
		}
	}
	return out
}

// keyspace is every asynq key, by name, as type and content.
type keyspace map[string]string

// snapshot reads every asynq key. The batch id becomes BATCH (each run
// makes its own); timestamps (scores, pending_since, TTLs) are left out,
// but whether a key expires is kept; a task message is decoded.
func snapshot(t *testing.T, r redis.UniversalClient, batch string) keyspace {
	t.Helper()
	ctx := context.Background()
	norm := func(s string) string { return strings.ReplaceAll(s, batch, "BATCH") }
	keys, err := r.Keys(ctx, "asynq:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := keyspace{}
	for _, k := range keys {
		typ := r.Type(ctx, k).Val()
		var v string
		switch typ {
		case "string":
			v = r.Get(ctx, k).Val()
		case "list":
			l := r.LRange(ctx, k, 0, -1).Val()
			for i := range l {
				l[i] = norm(l[i])
			}
			if !strings.HasSuffix(k, ":pending") { // enqueued one at a time: in order; the runners: in no set order
				slices.Sort(l)
			}
			v = fmt.Sprint(l)
		case "set":
			m := r.SMembers(ctx, k).Val()
			for i := range m {
				m[i] = norm(m[i])
			}
			slices.Sort(m)
			v = fmt.Sprint(m)
		case "zset":
			m := r.ZRange(ctx, k, 0, -1).Val()
			for i := range m {
				m[i] = norm(m[i])
			}
			slices.Sort(m)
			v = fmt.Sprint(m)
		case "hash":
			h := r.HGetAll(ctx, k).Val()
			var fields []string
			for f, fv := range h {
				switch f {
				case "pending_since":
					fv = "<time>"
				case "msg":
					m, err := rdb.DecodeTaskMessage([]byte(fv))
					if err != nil {
						t.Fatalf("%s msg: %v", k, err)
					}
					fv = norm(fmt.Sprintf("{type %s payload %s id %s queue %s retry %d retried %d timeout %d deadline %d unique %q}",
						m.Type, m.Payload, m.ID, m.Queue, m.Retry, m.Retried, m.Timeout, m.Deadline, m.UniqueKey))
				default:
					fv = norm(fv)
				}
				fields = append(fields, f+"="+fv)
			}
			slices.Sort(fields)
			v = fmt.Sprint(fields)
		default:
			v = "?"
		}
		expires := r.TTL(ctx, k).Val() > 0
		out[norm(k)] = fmt.Sprintf("%s %s expires=%v", typ, v, expires)
	}
	return out
}

// waitDone waits, boundedly, for n outcomes of batch.
func waitDone(t *testing.T, r redis.UniversalClient, batch string, n int) {
	t.Helper()
	testkit.WaitUntil(t, 30*time.Second, func() bool {
		done, _ := r.HGet(context.Background(), rdb.BatchKey("diff", batch), rdb.BatchDone).Int()
		return done >= n
	}, fmt.Sprintf("%d outcomes of batch %s", n, batch))
}
