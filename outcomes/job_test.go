package outcomes

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/rdb"
)

func TestJob(t *testing.T) {
	backends(t, func(t *testing.T, r redis.UniversalClient) {
		ctx := context.Background()
		rd := newReader(t, r)
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		batch := func(id string, created float64) {
			must(r.ZAdd(ctx, rdb.BatchesKey("q1"), redis.Z{Score: created, Member: id}).Err())
		}
		task := func(b, attempt, id, state string) {
			must(r.HSet(ctx, rdb.TaskKey("q1", b+":"+attempt+":"+id), "state", state, "msg", "x").Err())
		}
		seen := func(b, attempt, id string) {
			must(r.SAdd(ctx, rdb.SeenKey("q1", b), attempt+":"+id).Err())
		}
		line := func(kind Kind, s string) {
			must(r.RPush(ctx, kind.key("q1"), s).Err())
		}
		batch("b1", 1)
		batch("b2", 2)
		task("b1", "1", "p", "pending")
		// retried: attempt 1 recorded (and taken by retry), attempt 2 running
		seen("b1", "1", "r")
		task("b1", "2", "r", "active")
		// done, a response
		seen("b1", "1", "ok")
		okLine := `{"id":"ok","batch":"b1","request":{"url":"http://x/"},"status_code":200,"attempt":1}`
		line(Results, okLine)
		// done, an exception, at attempt 2
		seen("b1", "1", "ex")
		seen("b1", "2", "ex")
		exLine := `{"id":"ex","batch":"b1","request":{"url":"http://x/"},"exception":{"type":"ConnectionError","message":"m"},"attempt":2}`
		line(Exceptions, `{"id":"ex","batch":"b1","exception":{"type":"ConnectionError"},"attempt":1}`)
		line(Exceptions, exLine)
		// done, its entry popped
		seen("b1", "1", "gone")
		// in both batches: the newest wins
		seen("b1", "1", "both")
		task("b2", "1", "both", "retry")
		// no batch left (expired), its outcome still listed; a newer line
		// that holds the id elsewhere is not it
		oldLine := `{"id":"old","batch":"b0","request":{"url":"http://x/"},"status_code":404,"attempt":1}`
		line(Results, oldLine)
		line(Results, `{"id":"other","batch":"b0","request":{"url":"http://x/","id":"old"},"meta":"old","attempt":1}`)
		// no batch left, retried: its exception at attempt 1, its response
		// at attempt 2; the latest attempt is it, whichever list holds it
		line(Exceptions, `{"id":"re","batch":"b0","exception":{"type":"ConnectionError"},"attempt":1}`)
		reLine := `{"id":"re","batch":"b0","request":{"url":"http://x/"},"status_code":200,"attempt":2}`
		line(Results, reLine)

		for _, tc := range []struct {
			name, id string
			opts     JobOptions
			want     JobStatus
			outcome  string
			err      error
		}{
			{name: "pending", id: "p", want: JobStatus{Batch: "b1", Attempt: 1, State: StatePending}},
			{name: "retried, running", id: "r", want: JobStatus{Batch: "b1", Attempt: 2, State: StateActive}},
			{name: "done: a response", id: "ok", want: JobStatus{Batch: "b1", Attempt: 1, State: StateDone, Kind: "response"}, outcome: okLine},
			{name: "done: the latest attempt's exception", id: "ex", want: JobStatus{Batch: "b1", Attempt: 2, State: StateDone, Kind: "exception"}, outcome: exLine},
			{name: "done, entry popped", id: "gone", want: JobStatus{Batch: "b1", Attempt: 1, State: StateDone}},
			{name: "newest batch first", id: "both", want: JobStatus{Batch: "b2", Attempt: 1, State: StateRetry}},
			{name: "one batch asked", id: "both", opts: JobOptions{Batch: "b1"}, want: JobStatus{Batch: "b1", Attempt: 1, State: StateDone}},
			{name: "outcome only", id: "old", want: JobStatus{Batch: "b0", Attempt: 1, State: StateDone, Kind: "response"}, outcome: oldLine},
			{name: "outcome only, retried: the latest attempt", id: "re", want: JobStatus{Batch: "b0", Attempt: 2, State: StateDone, Kind: "response"}, outcome: reLine},
			{name: "outcome only, retried, its attempt asked", id: "re", opts: JobOptions{Batch: "b0"}, want: JobStatus{Batch: "b0", Attempt: 2, State: StateDone, Kind: "response"}, outcome: reLine},
			{name: "outcome past the scan", id: "old", opts: JobOptions{MaxScan: 1}, err: ErrNoJob},
			{name: "past the batches looked at", id: "p", opts: JobOptions{MaxBatches: 1}, err: ErrNoJob},
			{name: "attempts past MaxAttempts", id: "r", opts: JobOptions{MaxAttempts: 1}, want: JobStatus{Batch: "b1", Attempt: 1, State: StateDone}},
			{name: "unknown", id: "nope", err: ErrNoJob},
			{name: "unknown in a batch", id: "nope", opts: JobOptions{Batch: "b1"}, err: ErrNoJob},
			{name: "outcome only, another batch asked", id: "old", opts: JobOptions{Batch: "b1"}, err: ErrNoJob},
			{name: "outcome only, its batch asked", id: "old", opts: JobOptions{Batch: "b0"}, want: JobStatus{Batch: "b0", Attempt: 1, State: StateDone, Kind: "response"}, outcome: oldLine},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := rd.Job(ctx, tc.id, tc.opts)
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				if tc.err != nil {
					return
				}
				tc.want.ID, tc.want.Queue = tc.id, "q1"
				if string(got.Outcome) != tc.outcome {
					t.Errorf("outcome %s, want %s", got.Outcome, tc.outcome)
				}
				got.Outcome = nil
				if got.ID != tc.want.ID || got.Queue != tc.want.Queue || got.Batch != tc.want.Batch ||
					got.Attempt != tc.want.Attempt || got.State != tc.want.State || got.Kind != tc.want.Kind {
					t.Errorf("got %+v, want %+v", got, tc.want)
				}
			})
		}
	})
}

func TestJobRedisDown(t *testing.T) {
	r := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { r.Close() })
	for _, opts := range []JobOptions{{}, {Batch: "b1"}} {
		if _, err := newReader(t, r).Job(context.Background(), "x", opts); err == nil || errors.Is(err, ErrNoJob) {
			t.Errorf("%+v: err %v, want a Redis error", opts, err)
		}
	}
}
