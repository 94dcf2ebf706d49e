package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testredis"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A tiny in-process run on a Redis of the test's: every figure is filled in,
// and the bench leaves none of its keys behind. The speed itself is not
// checked: that is the bench's to print.
func TestRunSmall(t *testing.T) {
	for _, asynqProcessor := range []bool{false, true} {
		t.Run(fmt.Sprintf("asynq_processor=%v", asynqProcessor), func(t *testing.T) { testRunSmall(t, asynqProcessor) })
	}
}

func testRunSmall(t *testing.T, asynqProcessor bool) {
	srv := testredis.Start(t)
	rdb := srv.Client(t)
	ctx := context.Background()
	var log bytes.Buffer
	res, err := Run(ctx, Config{
		RedisURL: srv.URL(), Jobs: 300, Concurrency: 8, Shards: 2, Rounds: 2, AsynqProcessor: asynqProcessor,
		IdleProbes: 2, IdleWindow: 100 * time.Millisecond, LatencyJobs: 50, LatencyRate: 500,
		MaxTime: 2 * time.Minute, Log: &log,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	wantPath := map[bool]string{false: "fetcher", true: "asynq-processor"}[asynqProcessor]
	if len(res.Rounds) != 2 || !res.InProcess || res.EnqueuePath != "fast" || res.WorkerPath != wantPath {
		t.Fatalf("result %+v", res)
	}
	for _, rd := range res.Rounds {
		if rd.Ceiling <= 0 || rd.EndToEnd <= 0 || rd.Enqueue <= 0 || rd.Ratio <= 0 || rd.RedisBytesPerJob <= 0 || rd.Errors != 0 {
			t.Fatalf("round %+v", rd)
		}
	}
	if res.LatencyP50 <= 0 || res.LatencyP99 < res.LatencyP50 || res.PickupMax <= 0 || res.BenchPeakRSS <= 0 {
		t.Fatalf("result %+v", res)
	}
	var table bytes.Buffer
	if err := res.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ceiling jobs/s", "median", "idle pickup", "job latency"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	if _, err := json.Marshal(res); err != nil {
		t.Fatal(err)
	}
	if keys := rdb.Keys(ctx, "reqfleet:*").Val(); len(keys) != 0 {
		t.Errorf("keys left behind: %v", keys)
	}
	if keys := rdb.Keys(ctx, reqrdb.AsynqQueuePattern("bench-*")).Val(); len(keys) != 0 {
		t.Errorf("asynq keys left behind: %v", keys)
	}
}

func TestQuantile(t *testing.T) {
	v := []float64{5, 1, 4, 2, 3}
	for q, want := range map[float64]float64{0.5: 3, 0.99: 5, 1: 5, 0.2: 1, 0.21: 2} {
		if got := quantile(v, q); got != want {
			t.Errorf("quantile %v = %v, want %v", q, got, want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("quantile of nothing")
	}
}

// Each worker process gets its share of the CPUs by default, at least 1;
// a GOMAXPROCS given is kept.
func TestWorkerGOMAXPROCSDefault(t *testing.T) {
	cpus := runtime.GOMAXPROCS(0)
	for _, tc := range []struct {
		workers, given, want int
	}{
		{1, 0, cpus},
		{2, 0, max(cpus/2, 1)},
		{4 * cpus, 0, 1},
		{4, 3, 3},
	} {
		c := Config{Workers: tc.workers, WorkerGOMAXPROCS: tc.given}
		c.defaults()
		if c.WorkerGOMAXPROCS != tc.want {
			t.Errorf("%d workers, %d given: GOMAXPROCS %d, want %d", tc.workers, tc.given, c.WorkerGOMAXPROCS, tc.want)
		}
	}
}
