package worker

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/limits"
	"github.com/reqfleet/reqfleet/tasks"
)

// BenchmarkThrottledWait measures what throttled jobs cost while they
// wait: 10,000 jobs for a host limited to 10/s, three workers of 8
// sessions (in this process) on a real Redis. Phase one: the workers take
// the jobs and park them all; phase two, 10s: the jobs wait, 10 a second
// released (above the idle fleet's own polling, measured first, with the
// queue paused). Each phase reports Redis operations (the commands the workers
// sent, a script call one, "ops"; and every command Redis ran, scripts'
// own included, INFO commandstats, "redis-cmds") and CPU (Redis', and this
// process': the workers and the target). One run whatever b.N:
//
//	go test -run XXX -bench ThrottledWait -benchtime 1x ./worker/
func BenchmarkThrottledWait(b *testing.B) {
	const jobs, waitFor = 10000, 10 * time.Second
	srv := testredis.Start(b)
	r := srv.Client(b)
	ctx := context.Background()
	tg := benchTarget(b)
	if _, err := limits.NewStore(r).Set(ctx, "127.0.0.1", limits.Limit{Rate: 10}); err != nil {
		b.Fatal(err)
	}
	store := reqrdb.New(r)
	enc := reqrdb.NewMessageEncoder("q", tasks.TypeRequest, 25, time.Hour)
	if err := store.PublishQueue(ctx, "q"); err != nil {
		b.Fatal(err)
	}
	for start := 0; start < jobs; start += 500 {
		var ids []string
		var msgs [][]byte
		for i := start; i < start+500; i++ {
			task := tasks.Task{Batch: "B", Attempt: 1, Job: job(strconv.Itoa(i), tg+"/"+strconv.Itoa(i))}
			p, err := task.Marshal()
			if err != nil {
				b.Fatal(err)
			}
			ids = append(ids, task.TaskID())
			msgs = append(msgs, enc.Encode(task.TaskID(), p))
		}
		if _, err := store.EnqueueMany(ctx, "q", time.Now(), ids, msgs, make([]string, len(ids))); err != nil {
			b.Fatal(err)
		}
	}
	// Paused until the idle baseline is measured: the workers poll as an
	// idle fleet does.
	if err := r.Set(ctx, reqrdb.PausedKey("q"), time.Now().Unix(), 0).Err(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	wr := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, PoolSize: 64})
	b.Cleanup(func() { wr.Close() })
	calls := &callCounter{}
	wr.AddHook(calls)
	var ops0, all0 int64
	var cpu0, rcpu0 time.Duration
	for i := range 3 {
		w, err := New(Config{Redis: wr, Queues: map[string]int{"q": 1}, Concurrency: 8, Name: fmt.Sprint("w", i)})
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			_ = w.Shutdown(sctx)
		})
	}
	const idleFor = 5 * time.Second
	opsI, allI, cpuI, rcpuI := calls.n.Load(), redisCalls(r), selfCPU(), redisCPU(r)
	time.Sleep(idleFor) // the idle baseline
	ops0, all0, cpu0, rcpu0 = calls.n.Load(), redisCalls(r), selfCPU(), redisCPU(r)
	idle := func(total int64, of int64, d time.Duration) float64 { // per second above idle
		return float64(total)/waitFor.Seconds() - float64(of)/d.Seconds()
	}
	idleOps, idleAll, idleCPU, idleRCPU := ops0-opsI, all0-allI, (cpu0 - cpuI).Microseconds(), (rcpu0 - rcpuI).Microseconds()
	if err := r.Del(ctx, reqrdb.PausedKey("q")).Err(); err != nil {
		b.Fatal(err)
	}
	parkStart := time.Now()
	deadline := parkStart.Add(2 * time.Minute)
	for {
		pending := r.LLen(ctx, reqrdb.PendingKey("q")).Val() + r.LLen(ctx, reqrdb.ActiveKey("q")).Val()
		if pending <= 10 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // a benchmark's poll, bounded by deadline
	}
	parked := r.LLen(ctx, reqrdb.ParkKey("q", "127.0.0.1")).Val()
	parkTook := time.Since(parkStart)
	ops1, all1, cpu1, rcpu1 := calls.n.Load(), redisCalls(r), selfCPU(), redisCPU(r)
	done1, _ := r.HGet(ctx, reqrdb.BatchKey("q", "B"), reqrdb.BatchDone).Int64()
	by1 := commandCalls(r)
	time.Sleep(waitFor) // the phase measured: the jobs wait
	ops2, all2, cpu2, rcpu2 := calls.n.Load(), redisCalls(r), selfCPU(), redisCPU(r)
	by2 := commandCalls(r)
	var per []string
	for cmd, n := range by2 {
		if d := n - by1[cmd]; d > 0 {
			per = append(per, fmt.Sprintf("%s %.1f", cmd, float64(d)/waitFor.Seconds()))
		}
	}
	slices.Sort(per)
	b.Logf("while waiting, commands a second: %s", strings.Join(per, ", "))
	done2, _ := r.HGet(ctx, reqrdb.BatchKey("q", "B"), reqrdb.BatchDone).Int64()
	b.StopTimer()

	taken := float64(jobs)
	released := float64(done2 - done1)
	b.ReportMetric(float64(ops1-ops0)/taken, "park-ops/job")
	b.ReportMetric(float64(all1-all0)/taken, "park-redis-cmds/job")
	b.ReportMetric(float64((cpu1-cpu0).Microseconds())/taken, "park-worker-cpu-us/job")
	b.ReportMetric(float64((rcpu1-rcpu0).Microseconds())/taken, "park-redis-cpu-us/job")
	b.ReportMetric(released/waitFor.Seconds(), "released/s")
	perJob := max(released, 1) / waitFor.Seconds() // released a second
	b.ReportMetric(float64(idleOps)/idleFor.Seconds(), "idle-ops/s")
	b.ReportMetric(float64(ops2-ops1)/waitFor.Seconds(), "wait-ops/s")
	b.ReportMetric(idle(ops2-ops1, idleOps, idleFor)/perJob, "wait-ops/released-job")
	b.ReportMetric(idle(all2-all1, idleAll, idleFor)/perJob, "wait-redis-cmds/released-job")
	b.ReportMetric(idle((cpu2-cpu1).Microseconds(), idleCPU, idleFor)/perJob, "wait-worker-cpu-us/released-job")
	b.ReportMetric(idle((rcpu2-rcpu1).Microseconds(), idleRCPU, idleFor)/perJob, "wait-redis-cpu-us/released-job")
	b.Logf("%d jobs taken and %d parked in %v (%d done meanwhile); then %d released in %v, %d still parked",
		jobs, parked, parkTook.Round(time.Millisecond), done1, done2-done1, waitFor, r.LLen(ctx, reqrdb.ParkKey("q", "127.0.0.1")).Val())
}

// callCounter counts the commands a client sends (a script call is one,
// a pipeline's commands each).
type callCounter struct{ n atomic.Int64 }

func (c *callCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *callCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *callCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// redisCalls sums INFO commandstats' calls: every command run, those a
// script runs included.
func redisCalls(r redis.UniversalClient) int64 {
	info, _ := r.Info(context.Background(), "commandstats").Result()
	var n int64
	for line := range strings.SplitSeq(info, "\n") {
		if _, rest, ok := strings.Cut(line, ":calls="); ok {
			v, _, _ := strings.Cut(rest, ",")
			c, _ := strconv.ParseInt(v, 10, 64)
			n += c
		}
	}
	return n
}

// commandCalls is INFO commandstats' calls by command.
func commandCalls(r redis.UniversalClient) map[string]int64 {
	info, _ := r.Info(context.Background(), "commandstats").Result()
	out := map[string]int64{}
	for line := range strings.SplitSeq(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
		if ok {
			v, _, _ := strings.Cut(rest, ",")
			out[name], _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return out
}
