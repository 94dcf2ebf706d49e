package rdb

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/testredis"
)

// TestRecordManyCounts: the detail fields of a batch, the hosts hash and its
// cap, and asynq's failed counters for each way an exception is finished.
func TestRecordManyCounts(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		m := fetched(t, c, "q", "B:1:j1")
		recs := []Record{
			// fetched, an exception: processed and failed, as asynq's retry/archive
			{Queue: "q", Batch: "B", Member: "1:j1", Line: []byte(`1`), Exception: true, TaskID: m.ID, Detail: ExcField("ConnectionError"), Host: "a:1"},
			// asynq's processor finishes it (processed by its done): failed only
			{Queue: "q", Batch: "B", Member: "1:j2", Line: []byte(`2`), Exception: true, Failed: true, Detail: ExcField("ConnectionError"), Host: "a:1"},
			// archived by asynq, which counted it: nothing
			{Queue: "q", Batch: "B", Member: "1:j3", Line: []byte(`3`), Exception: true, Detail: ExcField("InvalidJob"), Host: "invalid"},
			// a response: no failure
			{Queue: "q", Batch: "B", Member: "1:j4", Line: []byte(`4`), Failed: true, Detail: CodeField(200), Host: "a:1"},
			// a duplicate of j2: counted nowhere
			{Queue: "q", Batch: "B", Member: "1:j2", Line: []byte(`2`), Exception: true, Failed: true, Detail: ExcField("ConnectionError"), Host: "a:1"},
		}
		if _, err := c.RecordMany(ctx, testNow, time.Hour, recs); err != nil {
			t.Fatal(err)
		}
		h := r.HGetAll(ctx, BatchKey("q", "B")).Val()
		if h["exc:ConnectionError"] != "2" || h["exc:InvalidJob"] != "1" || h["code:200"] != "1" || h[BatchDone] != "4" {
			t.Fatalf("batch %v", h)
		}
		hosts := r.HGetAll(ctx, HostsKey("q")).Val()
		if len(hosts) != 3 || hosts["a:1 exc:ConnectionError"] != "2" || hosts["a:1 code:200"] != "1" || hosts["invalid exc:InvalidJob"] != "1" {
			t.Fatalf("hosts %v", hosts)
		}
		for k, want := range map[string]string{
			ProcessedKey("q", testNow): "1", ProcessedTotalKey("q"): "1",
			FailedKey("q", testNow): "2", FailedTotalKey("q"): "2",
		} {
			if got := r.Get(ctx, k).Val(); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		// The day's counter expires as asynq's does (90 days), the total not.
		if ttl := r.TTL(ctx, FailedKey("q", testNow)).Val(); ttl <= 0 {
			t.Errorf("failed day TTL %v", ttl)
		}
		if ttl := r.TTL(ctx, FailedTotalKey("q")).Val(); ttl > 0 {
			t.Errorf("failed total TTL %v", ttl)
		}

		// Retry takes the exception's detail back with its counts.
		if moved, err := c.MoveToRetrying(ctx, "q", "B", "2", ExcField("ConnectionError"), testNow, time.Hour); err != nil || moved != MovedNow {
			t.Fatalf("moved %v, %v", moved, err)
		}
		if got := r.HGet(ctx, BatchKey("q", "B"), "exc:ConnectionError").Val(); got != "1" {
			t.Fatalf("detail after retry %q", got)
		}
	})
}

// TestHostsCap: past MaxHostFields fields, a new host counts as other; a
// host in the hash keeps counting.
func TestHostsCap(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, c := context.Background(), New(r)
		fill := make([]any, 0, 2*MaxHostFields)
		for i := range MaxHostFields {
			fill = append(fill, HostField("h"+strconv.Itoa(i), CodeField(200)), 1)
		}
		if err := r.HSet(ctx, HostsKey("q"), fill...).Err(); err != nil {
			t.Fatal(err)
		}
		recs := []Record{
			{Queue: "q", Batch: "B", Member: "1:a", Line: []byte(`a`), Detail: CodeField(200), Host: "new"},
			{Queue: "q", Batch: "B", Member: "1:b", Line: []byte(`b`), Detail: CodeField(200), Host: "h7"},
			{Queue: "q", Batch: "B", Member: "1:c", Line: []byte(`c`), Detail: CodeField(500), Host: "h7"},
		}
		if _, err := c.RecordMany(ctx, testNow, 0, recs); err != nil {
			t.Fatal(err)
		}
		h := r.HGetAll(ctx, HostsKey("q")).Val()
		if h["other code:200"] != "1" || h["other code:500"] != "1" || h["h7 code:200"] != "2" || h["new code:200"] != "" {
			t.Fatalf("past the cap: other %q/%q, h7 %q, new %q", h["other code:200"], h["other code:500"], h["h7 code:200"], h["new code:200"])
		}
		if len(h) != MaxHostFields+2 {
			t.Fatalf("%d fields", len(h))
		}
	})
}

func TestSplitHostField(t *testing.T) {
	for _, tc := range []struct{ f, host, detail string }{
		{HostField("example.com:443", CodeField(200)), "example.com:443", "code:200"},
		{HostField("[::1]:80", ExcField("ConnectionError")), "[::1]:80", "exc:ConnectionError"},
		{"odd", "odd", ""},
	} {
		if h, d := SplitHostField(tc.f); h != tc.host || d != tc.detail {
			t.Errorf("SplitHostField(%q) = %q, %q", tc.f, h, d)
		}
	}
}

// TestRecordManyBatches: outcomes of two batches interleaved in one call
// are counted each in its own batch, a duplicate in its own seen set only
// (the same member in another batch is new), and outcomes of two queues
// are refused before anything is sent.
// On a Redis without SMISMEMBER (before 6.2) it asks SISMEMBER instead.
func TestRecordManyBatches(t *testing.T) {
	testredis.Each(t, recordManyBatches)
	t.Run("without SMISMEMBER", func(t *testing.T) {
		srv := testredis.Start(t, "--rename-command", "SMISMEMBER", "")
		r := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		t.Cleanup(func() { _ = r.Close() })
		if err := r.Do(context.Background(), "SMISMEMBER", "s", "m").Err(); err == nil {
			t.Fatal("SMISMEMBER still there")
		}
		recordManyBatches(t, r)
	})
}

func recordManyBatches(t *testing.T, r redis.UniversalClient) {
	ctx, c := context.Background(), New(r)
	if _, err := c.RecordMany(ctx, testNow, time.Hour, []Record{{Queue: "q", Batch: "C", Member: "1:old", Line: []byte(`0`)}}); err != nil {
		t.Fatal(err)
	}
	recs := []Record{
		{Queue: "q", Batch: "B", Member: "1:a", Line: []byte(`1`), Detail: CodeField(200), Host: "h"},
		{Queue: "q", Batch: "C", Member: "1:a", Line: []byte(`2`), Exception: true, Detail: ExcField("Timeout"), Host: "h"},
		{Queue: "q", Batch: "B", Member: "1:b", Line: []byte(`3`), Detail: CodeField(200), Host: "h"},
		{Queue: "q", Batch: "C", Member: "1:old", Line: []byte(`4`)},
		{Queue: "q", Batch: "C", Member: "1:a", Line: []byte(`5`), Exception: true},
	}
	fresh, err := c.RecordMany(ctx, testNow, time.Hour, recs)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, true, true, false, false}; !slices.Equal(fresh, want) {
		t.Fatalf("fresh %v, want %v", fresh, want)
	}
	for batch, want := range map[string]map[string]string{
		"B": {BatchDone: "2", BatchResponses: "2", "code:200": "2"},
		"C": {BatchDone: "2", BatchResponses: "1", BatchExceptions: "1", "exc:Timeout": "1"},
	} {
		got := r.HGetAll(ctx, BatchKey("q", batch)).Val()
		for f, v := range want {
			if got[f] != v {
				t.Errorf("batch %s: %s = %q, want %q (%v)", batch, f, got[f], v, got)
			}
		}
		if ttl := r.TTL(ctx, SeenKey("q", batch)).Val(); ttl <= 0 {
			t.Errorf("seen %s TTL %v", batch, ttl)
		}
	}
	if got := r.SCard(ctx, SeenKey("q", "B")).Val(); got != 2 {
		t.Errorf("seen B has %d members", got)
	}
	if got := r.LRange(ctx, ResultsKey("q"), 0, -1).Val(); len(got) != 3 || got[1] != "1" || got[2] != "3" {
		t.Errorf("results %v", got)
	}
	if got := r.HGetAll(ctx, HostsKey("q")).Val(); got["h code:200"] != "2" || got["h exc:Timeout"] != "1" {
		t.Errorf("hosts %v", got)
	}
	mixed := []Record{{Queue: "q", Batch: "B", Member: "1:x"}, {Queue: "other", Batch: "B", Member: "1:y"}}
	if _, err := c.RecordMany(ctx, testNow, time.Hour, mixed); !errors.Is(err, errMixedQueues) {
		t.Fatalf("two queues in a call: %v", err)
	}
	p := r.Pipeline()
	cmd := c.QueueRecordMany(ctx, p, testNow, time.Hour, mixed)
	if _, err := cmd.Result(ctx, nil); !errors.Is(err, errMixedQueues) {
		t.Fatalf("two queues in a pipelined call: %v", err)
	}
	if r.SIsMember(ctx, SeenKey("q", "B"), "1:x").Val() {
		t.Fatal("a refused call recorded an outcome")
	}
}
