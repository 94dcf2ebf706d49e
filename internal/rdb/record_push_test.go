package rdb

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/testredis"
)

// commandLog is a go-redis hook that keeps the names of the commands sent.
type commandLog struct {
	mu    sync.Mutex
	names []string
}

func (l *commandLog) DialHook(next redis.DialHook) redis.DialHook { return next }
func (l *commandLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		l.add(cmd)
		return next(ctx, cmd)
	}
}
func (l *commandLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			l.add(c)
		}
		return next(ctx, cmds)
	}
}
func (l *commandLog) add(c redis.Cmder) {
	l.mu.Lock()
	l.names = append(l.names, strings.ToLower(c.Name()))
	l.mu.Unlock()
}
func (l *commandLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.names
	l.names = nil
	return n
}

// TestRecordManyPushesBigLines checks that RecordMany sends a call's lines
// through the script below pushLinesOver bytes and pushes them itself, in
// a transaction with EVAL, from there, and that both record the outcomes
// once: a second call of the same outcomes finds them recorded and leaves
// the lists as they were. The pushed call runs after SCRIPT FLUSH (a Redis
// restarted or failed over), which EVAL does not mind.
func TestRecordManyPushesBigLines(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		log := &commandLog{}
		r.AddHook(log)
		ctx, c := context.Background(), New(r)
		for _, tc := range []struct {
			name     string
			body     int
			wantPush bool
		}{
			{"small lines through the script", 100, false},
			{"big lines pushed", pushLinesOver / 2, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				must(t, r.FlushAll(ctx).Err())
				m := fetched(t, c, "q", "B:1:j1")
				line := func(n int) []byte { return []byte(fmt.Sprintf(`{"n":%d,"b":"%s"}`, n, strings.Repeat("x", tc.body))) }
				recs := []Record{
					{Queue: "q", Batch: "B", Member: "1:j1", Line: line(1), TaskID: m.ID, Detail: "code:200"},
					{Queue: "q", Batch: "B", Member: "1:j2", Line: line(2), Exception: true},
					{Queue: "q", Batch: "B", Member: "1:j3", Line: line(3)},
				}
				must(t, r.ScriptFlush(ctx).Err())
				log.take()
				fresh, err := c.RecordMany(ctx, testNow, time.Hour, recs)
				must(t, err)
				sent := log.take()
				if pushed := slices.Contains(sent, "rpush"); pushed != tc.wantPush {
					t.Fatalf("lines of %d bytes: pushed %v, want %v (commands %v)", lineBytes(recs), pushed, tc.wantPush, sent)
				}
				if tc.wantPush && !slices.Contains(sent, "multi") {
					t.Fatalf("lines pushed outside a transaction: %v", sent)
				}
				if !slices.Equal(fresh, []bool{true, true, true}) {
					t.Fatalf("fresh %v", fresh)
				}
				results := r.LRange(ctx, ResultsKey("q"), 0, -1).Val()
				exceptions := r.LRange(ctx, ExceptionsKey("q"), 0, -1).Val()
				if !slices.Equal(results, []string{string(line(1)), string(line(3))}) || !slices.Equal(exceptions, []string{string(line(2))}) {
					t.Fatalf("results %d lines, exceptions %d", len(results), len(exceptions))
				}
				before := dumpQueue(t, r, "q")
				fresh, err = c.RecordMany(ctx, testNow, time.Hour, recs)
				must(t, err)
				if !slices.Equal(fresh, []bool{false, false, false}) {
					t.Fatalf("recorded again: fresh %v", fresh)
				}
				if after := dumpQueue(t, r, "q"); after != before {
					t.Fatalf("a second record of the same outcomes wrote:\n%s", diffLines(before, after))
				}
			})
		}
	})
}

// BenchmarkRecordLines is BenchmarkFetchRecord's steady state (160 tasks
// held, 26 a fetch, 30 a record) with bodies of several sizes in the
// lines, the lines through the script (script) and pushed by RPUSH
// (pushed): the Redis CPU a job that pushLinesOver weighs.
//
//	go test -run XXX -bench RecordLines -benchtime 10000x ./internal/rdb/
func BenchmarkRecordLines(b *testing.B) {
	for _, body := range []int{64, 256, 1 << 10, 4 << 10, 16 << 10} {
		for _, path := range []struct {
			name     string
			pushOver int
		}{{"script", 1 << 62}, {"pushed", 0}} {
			b.Run(fmt.Sprintf("body=%d/%s", body, path.name), func(b *testing.B) {
				benchFetchRecord(b, 160, 26, 30, body, path.pushOver)
			})
		}
	}
}

// TestRecordManyPushesOnCluster: the transaction of a pushed call (its
// RPUSHes and EVAL) holds keys of one slot, its queue's, so it runs on a
// Redis Cluster; recorded once, and not again.
func TestRecordManyPushesOnCluster(t *testing.T) {
	r := testredis.StartCluster(t).Client(t)
	ctx, c := context.Background(), New(r)
	c.pushOver = 0
	m := fetched(t, c, "q", "B:1:j1")
	recs := []Record{
		{Queue: "q", Batch: "B", Member: "1:j1", Line: []byte(`{"n":1}`), TaskID: m.ID, Detail: "code:200", Host: "h"},
		{Queue: "q", Batch: "B", Member: "1:j2", Line: []byte(`{"n":2}`), Exception: true},
	}
	for i, want := range [][]bool{{true, true}, {false, false}} {
		fresh, err := c.RecordMany(ctx, testNow, time.Hour, recs)
		must(t, err)
		if !slices.Equal(fresh, want) {
			t.Fatalf("call %d: fresh %v, want %v", i+1, fresh, want)
		}
		if n, e := r.LLen(ctx, ResultsKey("q")).Val(), r.LLen(ctx, ExceptionsKey("q")).Val(); n != 1 || e != 1 {
			t.Fatalf("call %d: %d results, %d exceptions; want 1 and 1", i+1, n, e)
		}
	}
}
