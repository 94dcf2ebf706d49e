package rdb

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/testredis"
)

// TestRecordNewMatchesRecordMany records random groups of outcomes on two
// queues set up alike: RecordMany on one (record_new.lua, and
// record_many.lua when an outcome was recorded before), record_many.lua
// alone on the other, and diffs every key the two leave (lists in order,
// hashes in field order, sets, TTLs) and the answers. The groups mix
// batches, responses and exceptions, details and hosts (the hosts hash
// one field short of its cap), tasks active, gone and without an ID,
// uniqueness locks held and taken over, and outcomes recorded before or
// met twice in the group, so that both paths run, with or without lines on
// the lists before. When record_new.lua finds an outcome recorded before,
// it must have written nothing. Each trial runs with the lines passed to
// the script and with them pushed before it (recordPushed), which it must
// then take off again.
func TestRecordNewMatchesRecordMany(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		for _, pushed := range []bool{false, true} {
			t.Run(fmt.Sprintf("pushed=%v", pushed), func(t *testing.T) { recordNewMatches(t, r, pushed) })
		}
	})
}

// pushing is a client that pushes every call's lines itself (or none).
func pushing(r redis.UniversalClient, pushed bool) *Client {
	c := New(r)
	c.pushOver = math.MaxInt
	if pushed {
		c.pushOver = 0
	}
	return c
}

func recordNewMatches(t *testing.T, r redis.UniversalClient, pushed bool) {
	ctx, c := context.Background(), pushing(r, pushed)
	rng := rand.New(rand.NewPCG(1, 2))
	paths := map[string]int{}
	for trial := range 60 {
		must(t, r.FlushAll(ctx).Err())
		setup := recordNewTrial(rng)
		for _, q := range []string{"a", "b"} {
			setup.apply(t, c, r, q)
		}
		recsA, recsB := setup.records("a"), setup.records("b")
		before := dumpQueue(t, r, "a")
		if keys, argv, lines, ok := recordNewArgs(testNow, time.Hour, recsA, pushed); ok {
			var cmd *redis.Cmd
			if pushed {
				cmd = c.recordPushed(ctx, keys, argv, lines)
			} else {
				cmd = recordNewScript.Run(ctx, r, keys, argv...)
			}
			all, err := recordNewResult(cmd)
			must(t, err)
			if all {
				paths["record_new"]++
			} else {
				paths["record_new, then record_many"]++
				if after := dumpQueue(t, r, "a"); after != before {
					t.Fatalf("trial %d: record_new.lua found an outcome recorded before and wrote:\n%s", trial, diffLines(before, after))
				}
			}
		} else {
			paths["met twice: record_many"]++
		}
		// What RecordMany answers, on a state alike again.
		must(t, r.FlushAll(ctx).Err())
		for _, q := range []string{"a", "b"} {
			setup.apply(t, c, r, q)
		}
		freshA, err := c.RecordMany(ctx, testNow, time.Hour, recsA)
		must(t, err)
		freshB, err := c.recordAll(ctx, testNow, time.Hour, recsB)
		must(t, err)
		if !slices.Equal(freshA, freshB) {
			t.Fatalf("trial %d: RecordMany answered %v, record_many.lua %v", trial, freshA, freshB)
		}
		a, b := dumpQueue(t, r, "a"), dumpQueue(t, r, "b")
		if a != b {
			t.Fatalf("trial %d (%d outcomes): RecordMany and record_many.lua differ:\n%s\nthe trial: %+v", trial, len(recsA), diffLines(b, a), setup)
		}
	}
	for _, p := range []string{"record_new", "record_new, then record_many", "met twice: record_many"} {
		if paths[p] == 0 {
			t.Fatalf("no trial took the path %q: %v", p, paths)
		}
	}
}

// recordTrial is one trial's state and outcomes, made for any queue.
type recordTrial struct {
	active []string          // task ids fetched
	locks  map[string]string // unique lock name -> the task id holding it
	seen   map[string][]string
	hosts  int // host fields there before
	lines  int // lines on the results and exceptions lists before
	outs   []trialRecord
}

type trialRecord struct {
	batch, member, taskID, lock, detail, host string
	exception, failed                         bool
}

func recordNewTrial(rng *rand.Rand) recordTrial {
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	tr := recordTrial{locks: map[string]string{}, seen: map[string][]string{}}
	for i := range 8 {
		tr.active = append(tr.active, "t"+strconv.Itoa(i))
	}
	tr.locks["u1"], tr.locks["u2"] = "t1", "t9" // t9: not active
	if rng.IntN(2) == 0 {
		tr.seen["B1"] = []string{"1:j" + strconv.Itoa(rng.IntN(12))}
	}
	if rng.IntN(3) == 0 {
		tr.hosts = MaxHostFields - 1
	}
	tr.lines = rng.IntN(3)
	for range 1 + rng.IntN(12) {
		j := rng.IntN(12)
		tr.outs = append(tr.outs, trialRecord{
			batch: pick("B1", "B2", "B1"), member: "1:j" + strconv.Itoa(j),
			taskID: pick("t"+strconv.Itoa(j%8), "t"+strconv.Itoa(j%8), "", "t9"),
			lock:   pick("", "", "u1", "u2"), detail: pick("", "code:200", "code:404", "exc:Timeout"),
			host: pick("", "h1", "h2"), exception: rng.IntN(3) == 0, failed: rng.IntN(2) == 0,
		})
	}
	if rng.IntN(4) == 0 && len(tr.outs) > 1 { // met twice in the group
		tr.outs = append(tr.outs, tr.outs[0])
	}
	return tr
}

func (tr recordTrial) apply(t *testing.T, c *Client, r redis.UniversalClient, q string) {
	t.Helper()
	ctx := context.Background()
	fetchedUntil(t, c, q, testNow.Add(time.Hour), tr.active...)
	for lock, id := range tr.locks {
		must(t, r.Set(ctx, "asynq:{"+q+"}:unique:"+lock, id, 0).Err())
	}
	for b, members := range tr.seen {
		must(t, r.SAdd(ctx, SeenKey(q, b), members).Err())
	}
	for i := range tr.lines {
		must(t, r.RPush(ctx, ResultsKey(q), "before "+strconv.Itoa(i)).Err())
		must(t, r.RPush(ctx, ExceptionsKey(q), "before "+strconv.Itoa(i)).Err())
	}
	if tr.hosts > 0 {
		fields := make([]any, 0, 2*tr.hosts)
		for i := range tr.hosts {
			fields = append(fields, "x"+strconv.Itoa(i)+" code:200", 1)
		}
		must(t, r.HSet(ctx, HostsKey(q), fields...).Err())
	}
}

func (tr recordTrial) records(q string) []Record {
	recs := make([]Record, len(tr.outs))
	for i, x := range tr.outs {
		recs[i] = Record{Queue: q, Batch: x.batch, Member: x.member, Line: []byte(`{"n":` + strconv.Itoa(i) + `}`),
			Exception: x.exception, Failed: x.failed, TaskID: x.taskID, Detail: x.detail, Host: x.host}
		if x.lock != "" {
			recs[i].UniqueKey = "asynq:{" + q + "}:unique:" + x.lock
		}
	}
	return recs
}

// dumpQueue is every key of queue q, its name written as Q: type, value
// (lists in order, hashes in field order, sets sorted), and whether it
// has a TTL.
func dumpQueue(t *testing.T, r redis.UniversalClient, q string) string {
	t.Helper()
	ctx := context.Background()
	var keys []string
	for _, pat := range []string{"asynq:{" + q + "}*", "reqfleet:{" + q + "}*"} {
		ks, err := r.Keys(ctx, pat).Result()
		must(t, err)
		keys = append(keys, ks...)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		typ := r.Type(ctx, k).Val()
		var v any
		switch typ {
		case "string":
			v = r.Get(ctx, k).Val()
		case "list":
			v = r.LRange(ctx, k, 0, -1).Val()
		case "hash": // a task's message names its queue: its id instead
			fields := r.HKeys(ctx, k).Val() // in the hash's order
			vals := r.HMGet(ctx, k, fields...).Val()
			kv := make([]any, 0, 2*len(fields))
			for i, f := range fields {
				val := vals[i]
				if s, ok := val.(string); ok && f == "msg" {
					if m, err := DecodeTaskMessage([]byte(s)); err == nil {
						val = "message of " + m.ID
					}
				}
				kv = append(kv, f, val)
			}
			v = kv
		case "set":
			m := r.SMembers(ctx, k).Val()
			slices.Sort(m)
			v = m
		case "zset":
			v = r.ZRangeWithScores(ctx, k, 0, -1).Val()
		}
		ttl := r.TTL(ctx, k).Val() > 0
		fmt.Fprintf(&b, "%s %s ttl=%v %v\n", strings.ReplaceAll(k, "{"+q+"}", "{Q}"), typ, ttl, v)
	}
	return strings.ReplaceAll(b.String(), "{"+q+"}", "{Q}")
}

// diffLines is the lines of want and got that differ.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			fmt.Fprintf(&b, "- %.300s\n", l)
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			fmt.Fprintf(&b, "+ %.300s\n", l)
		}
	}
	return b.String()
}

// TestRecordNewListNotAList: when the results or the exceptions list is
// not a list, RecordMany (record_new.lua, its lines passed or pushed, and
// record_many.lua alone when an outcome is met twice) must answer an error
// and write nothing (lines pushed onto the other list taken off again), so
// that the outcomes are still to record once it is a list again.
func TestRecordNewListNotAList(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		for _, pushed := range []bool{false, true} {
			for _, notList := range []string{ResultsKey("q"), ExceptionsKey("q")} {
				t.Run(fmt.Sprintf("pushed=%v/%s", pushed, notList), func(t *testing.T) {
					must(t, r.FlushAll(context.Background()).Err())
					recordNotAList(t, r, pushed, notList)
				})
			}
		}
	})
}

func recordNotAList(t *testing.T, r redis.UniversalClient, pushed bool, notList string) {
	ctx, c := context.Background(), pushing(r, pushed)
	m := fetched(t, c, "q", "B:1:j1")
	list := ResultsKey("q")
	if notList == list {
		list = ExceptionsKey("q")
	}
	must(t, r.Set(ctx, notList, "not a list", 0).Err())
	must(t, r.RPush(ctx, list, "before").Err())
	before := dumpQueue(t, r, "q")
	recs := []Record{
		{Queue: "q", Batch: "B", Member: "1:j1", Line: []byte(`{"r":1}`), TaskID: m.ID, Detail: "code:200", Host: "h"},
		{Queue: "q", Batch: "B", Member: "1:j2", Line: []byte(`{"e":2}`), Exception: true, Failed: true},
	}
	twice := append(slices.Clone(recs), recs[1]) // record_many.lua alone
	for _, group := range [][]Record{recs, twice} {
		if _, err := c.RecordMany(ctx, testNow, time.Hour, group); err == nil {
			t.Fatalf("recorded %d outcomes with the results key not a list", len(group))
		}
		if after := dumpQueue(t, r, "q"); after != before {
			t.Fatalf("a failed record of %d outcomes wrote:\n%s", len(group), diffLines(before, after))
		}
	}
	// Once it is a list, the same outcomes are recorded, once.
	must(t, r.Del(ctx, notList).Err())
	fresh, err := c.RecordMany(ctx, testNow, time.Hour, recs)
	must(t, err)
	if !slices.Equal(fresh, []bool{true, true}) || r.LLen(ctx, notList).Val() != 1 || r.LLen(ctx, list).Val() != 2 {
		t.Fatalf("fresh %v, lists %d and %d", fresh, r.LLen(ctx, notList).Val(), r.LLen(ctx, list).Val())
	}
}
