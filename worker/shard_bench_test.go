package worker

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/tasks"
)

// BenchmarkWorkerDrain measures how fast one worker process drains a queue
// of b.N jobs, each a GET of a small body from a loopback target, with every
// outcome recorded. The jobs are enqueued before the timer starts; the
// timer stops when the batch's done counter reaches b.N. Everything (Redis,
// the target, the worker) shares the machine's cores.
//
//	go test -run XXX -bench WorkerDrain -benchtime 50000x ./worker/
func BenchmarkWorkerDrain(b *testing.B) {
	for _, tc := range []struct {
		name string
		conc int
		cfg  Config
	}{
		{"asynq/shards=1/batched=false", 64, Config{AsynqProcessor: true, Shards: 1, RecordBatch: 1}}, // as before shards
		{"asynq/shards=1/batched=true", 64, Config{AsynqProcessor: true, Shards: 1}},
		{"asynq/shards=8/batched=true", 64, Config{AsynqProcessor: true, Shards: 8}}, // as before the fetcher
		{"fetcher", 64, Config{}}, // the default
	} {
		b.Run(tc.name+fmt.Sprintf("/c=%d", tc.conc), func(b *testing.B) {
			benchDrain(b, tc.conc, tc.cfg)
		})
	}
}

func benchDrain(b *testing.B, conc int, cfg Config) {
	srv := testredis.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: conc + 32})
	defer rdb.Close()
	url := benchTarget(b)
	ctx := context.Background()

	// Enqueue b.N jobs, 32 at a time.
	client := asynq.NewClientFromRedisClient(rdb)
	const batch = "B"
	rdb.HSet(ctx, reqrdb.BatchKey("q", batch), reqrdb.BatchTotal, b.N, reqrdb.BatchSealed, 1)
	var wg sync.WaitGroup
	next := make(chan int, 64)
	for range 32 {
		wg.Go(func() {
			for i := range next {
				t := tasks.Task{Batch: batch, Attempt: 1, Job: tasks.Job{ID: fmt.Sprint(i), Method: "GET", URL: url}}
				p, _ := t.Marshal()
				if _, err := client.Enqueue(asynq.NewTask(tasks.TypeRequest, p), asynq.Queue("q"), asynq.TaskID(t.TaskID()), asynq.Retention(0)); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := range b.N {
		next <- i
	}
	close(next)
	wg.Wait()

	cfg.Redis, cfg.Queues, cfg.Concurrency = rdb, map[string]int{"q": 1}, conc
	w, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	cpu0, rcpu0 := selfCPU(), redisCPU(rdb)
	b.ResetTimer()
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		done, _ := rdb.HGet(ctx, reqrdb.BatchKey("q", batch), reqrdb.BatchDone).Int()
		if done >= b.N {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d done", done, b.N)
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
	b.ReportMetric(float64((selfCPU()-cpu0).Microseconds())/float64(b.N), "worker+target-cpu-us/job")
	b.ReportMetric(float64((redisCPU(rdb)-rcpu0).Microseconds())/float64(b.N), "redis-cpu-us/job")
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := w.Shutdown(sctx); err != nil {
		b.Fatal(err)
	}
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func redisCPU(rdb *redis.Client) time.Duration {
	info, _ := rdb.Info(context.Background(), "cpu").Result()
	var total float64
	for _, line := range strings.Split(info, "\r\n") {
		k, v, _ := strings.Cut(line, ":")
		if k == "used_cpu_sys" || k == "used_cpu_user" {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// benchTarget serves a small body on a loopback port until the benchmark ends.
func benchTarget(b *testing.B) string {
	body := []byte(`{"ok":true,"pad":"0123456789abcdef0123456789abcdef"}`)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(l) }()
	b.Cleanup(func() { _ = hs.Close() })
	return "http://" + l.Addr().String() + "/"
}

// BenchmarkCeiling is the raw ceiling of BenchmarkWorkerDrain: the same
// target, hit by 64 goroutines with an http.Client each.
func BenchmarkCeiling(b *testing.B) {
	url := benchTarget(b)
	var next atomic.Int64
	var wg sync.WaitGroup
	cpu0 := selfCPU()
	b.ResetTimer()
	for range 64 {
		wg.Go(func() {
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer c.CloseIdleConnections()
			for next.Add(1) <= int64(b.N) {
				resp, err := c.Get(url)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
	b.ReportMetric(float64((selfCPU()-cpu0).Microseconds())/float64(b.N), "cpu-us/job")
}
