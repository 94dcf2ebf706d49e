package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/outcomes"
)

// TestEnqueueKilledIsSealed: `reqfleet enqueue` of a big file is SIGKILLed
// mid-way, its batch never sealed; once its lease has run out a worker's
// sweep seals it with total = the jobs queued, and `reqfleet wait` ends
// with every one of them done, each job once.
func TestEnqueueKilledIsSealed(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := testredis.Start(t)
	r := srv.Client(t)
	ctx := context.Background()
	tg := newTarget(t)
	const n = 200_000
	file, _ := writeJobs(t, "big", n, func(i int) string { return fmt.Sprintf("%s/j%d", tg.URL, i) })

	enq := start(t, "enqueue", nil, "enqueue", "--redis", srv.URL(), file)
	var batch string
	testkit.WaitUntil(t, 2*time.Minute, func() bool {
		ids := r.ZRange(ctx, rdb.BatchesKey("default"), 0, -1).Val()
		if len(ids) == 0 {
			return false
		}
		batch = ids[0]
		q, _ := r.HGet(ctx, rdb.BatchKey("default", batch), rdb.BatchQueued).Int()
		return q >= 3000
	}, "the enqueue to queue 3000 jobs")
	enq.signal(t, syscall.SIGKILL)
	enq.wait(t, 30*time.Second)
	killed := time.Now()
	h := r.HGetAll(ctx, rdb.BatchKey("default", batch)).Val()
	if h[rdb.BatchSealed] == "1" {
		t.Fatalf("the enqueue sealed its batch before the kill: %v (make the file bigger)", h)
	}
	t.Logf("killed: %v", h)

	startWorker(t, "w1", srv.URL(), "-c", "64")
	res := mustCLI(t, 3*time.Minute, nil, "wait", "--redis", srv.URL(), "--quiet", "--json", batch)
	var st outcomes.BatchStatus
	if err := json.Unmarshal([]byte(res.stdout), &st); err != nil {
		t.Fatalf("wait printed %q: %v", res.stdout, err)
	}
	queued, err := r.HGet(ctx, rdb.BatchKey("default", batch), rdb.BatchQueued).Int64()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("wait ended %v after the kill: %+v, %d queued", time.Since(killed).Round(time.Millisecond), st, queued)
	if !st.Complete() || st.Done != st.Total || st.Total != queued || queued >= n {
		t.Fatalf("wait ended with %+v, %d queued", st, queued)
	}
	// One outcome a job queued, none twice.
	reader, err := outcomes.NewReader(r, "default")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool, queued)
	for resp, err := range reader.Responses(ctx, outcomes.ReadOptions{Batch: batch}) {
		if err != nil {
			t.Fatal(err)
		}
		if seen[resp.ID] {
			t.Fatalf("job %s has two outcomes", resp.ID)
		}
		seen[resp.ID] = true
	}
	if int64(len(seen)) != queued || st.Responses != queued {
		t.Fatalf("%d responses, %d queued, status %+v", len(seen), queued, st)
	}
	if info := queueInfo(t, r, "default"); info.Pending+info.Active+info.Retry+info.Archived != 0 {
		t.Fatalf("tasks left: %+v", info)
	}
}
