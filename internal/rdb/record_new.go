package rdb

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// recordNewArgs are record_new.lua's keys and arguments, for outcomes of
// one queue taken to be new: what they push, add and count, gathered as
// record_many.lua gathers it from the outcomes it finds new (each batch's
// members and count fields, the host fields, in the order first met), so
// that the script writes the same. ok is false when an outcome is met
// twice (its batch and member): record_many.lua sorts those. lines are
// the responses' lines and the exceptions', as the script pushes them;
// when pushed, they are not among argv: the caller pushes them
// (recordPushed).
func recordNewArgs(now time.Time, ttl time.Duration, recs []Record, pushed bool) (keys []string, argv []any, lines pushLines, ok bool) {
	type batch struct {
		members []any
		fields  []string // beside done, in the order first met
		counts  map[string]int
	}
	type host struct {
		field, detail string
		n             int
	}
	var (
		batches     []*batch
		byID        = make(map[string]*batch, 1)
		met         = make(map[[2]string]struct{}, len(recs))
		metTask     = make(map[string]struct{}, len(recs))
		resp, exc   []any
		hosts       []*host
		hostByField = map[string]*host{}
		tasks, excs []any // task IDs to finish: of responses, of exceptions
		uniques     []any
		failedNew   int
	)
	q := recs[0].Queue
	keys = recordKeys(q, now)
	for i := range recs {
		r := &recs[i]
		k := [2]string{r.Batch, r.Member}
		if _, twice := met[k]; twice {
			return nil, nil, pushLines{}, false
		}
		met[k] = struct{}{}
		if r.TaskID != "" {
			if _, twice := metTask[r.TaskID]; twice {
				return nil, nil, pushLines{}, false
			}
			metTask[r.TaskID] = struct{}{}
		}
		b := byID[r.Batch]
		if b == nil {
			b = &batch{counts: make(map[string]int, 2)}
			byID[r.Batch] = b
			batches = append(batches, b)
			keys = append(keys, SeenKey(q, r.Batch), BatchKey(q, r.Batch))
		}
		b.members = append(b.members, r.Member)
		count := func(field string) {
			if _, ok := b.counts[field]; !ok {
				b.fields = append(b.fields, field)
			}
			b.counts[field]++
		}
		if r.Exception {
			exc = append(exc, r.Line)
			count(BatchExceptions)
		} else {
			resp = append(resp, r.Line)
			count(BatchResponses)
		}
		if r.Detail != "" {
			count(r.Detail)
			if r.Host != "" {
				f := r.Host + " " + r.Detail
				h := hostByField[f]
				if h == nil {
					h = &host{field: f, detail: r.Detail}
					hostByField[f] = h
					hosts = append(hosts, h)
				}
				h.n++
			}
		}
		if r.kind() == "f" {
			failedNew++
		}
		if r.TaskID != "" {
			if r.Exception {
				excs = append(excs, r.TaskID)
			} else {
				tasks = append(tasks, r.TaskID)
			}
			if r.UniqueKey != "" {
				uniques = append(uniques, r.TaskID, r.UniqueKey)
			}
		}
	}
	argv = make([]any, 0, 12+2*len(batches)+4*len(recs)+3*len(hosts)+len(uniques))
	argv = append(argv, strconv.FormatInt(int64(ttl/time.Second), 10), now.Add(StatsTTL).Unix(), MaxHostFields, TaskKeyPrefix(q),
		len(resp), len(exc), failedNew, len(tasks)+len(excs), len(excs), len(hosts), len(uniques)/2, boolArg(pushed))
	for _, b := range batches {
		argv = append(argv, len(b.members), len(b.fields))
	}
	if !pushed {
		argv = append(append(argv, resp...), exc...)
	}
	for _, b := range batches {
		argv = append(argv, b.members...)
		for _, f := range b.fields {
			argv = append(argv, f, b.counts[f])
		}
	}
	for _, h := range hosts {
		argv = append(argv, h.field, h.detail, h.n)
	}
	argv = append(append(append(argv, tasks...), excs...), uniques...)
	return keys, argv, pushLines{resp, exc}, true
}

// recordRest is RecordMany's answer once record_new.lua's call (cmd) is
// answered: every outcome new when it recorded them all; when any was
// recorded before (it wrote nothing), record_many.lua's.
func (c *Client) recordRest(ctx context.Context, cmd *redis.Cmd, now time.Time, ttl time.Duration, recs []Record) ([]bool, error) {
	all, err := recordNewResult(cmd)
	if err != nil {
		return nil, err
	}
	if !all {
		return c.recordAll(ctx, now, ttl, recs)
	}
	fresh := make([]bool, len(recs))
	for i := range fresh {
		fresh[i] = true
	}
	return fresh, nil
}

// recordNewResult is record_new.lua's answer: true when it recorded all,
// false when any was recorded before and it wrote nothing.
func recordNewResult(cmd *redis.Cmd) (bool, error) {
	n, err := cmd.Int()
	if err != nil {
		return false, err
	}
	if n != 0 && n != 1 {
		return false, fmt.Errorf("%w: record script returned %d", ErrReply, n)
	}
	return n == 1, nil
}

// recordAll is RecordMany by record_many.lua alone, which sorts the new
// outcomes from those recorded before one by one.
func (c *Client) recordAll(ctx context.Context, now time.Time, ttl time.Duration, recs []Record) ([]bool, error) {
	keys, argv := recordArgs(now, ttl, recs)
	return recordResult(recordManyScript.Run(ctx, c.r, keys, argv...), len(recs))
}
