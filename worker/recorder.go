package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/tasks"
)

// recordScript records one outcome exactly once. KEYS: the results or
// exceptions list, the batch's seen set, the batch hash. ARGV: the outcome's
// "attempt:id", its JSON line, the batch counter to raise ("responses" or
// "exceptions"), the TTL in seconds of the batch's keys. It returns 1 when
// recorded, 0 when this attempt of this job was recorded before (a job that
// asynq ran twice).
var recordScript = redis.NewScript(`
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then
  return 0
end
redis.call('RPUSH', KEYS[1], ARGV[2])
redis.call('HINCRBY', KEYS[3], 'done', 1)
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[2], ttl)
  redis.call('EXPIRE', KEYS[3], ttl)
end
return 1
`)

// recorder writes outcomes to Redis.
type recorder struct {
	rdb redis.UniversalClient
	ttl time.Duration
}

// record stores the outcome of task t run from queue. It reports whether the
// outcome was new; false means a duplicate run whose outcome was dropped.
func (r *recorder) record(ctx context.Context, queue string, t tasks.Task, o tasks.Outcome) (bool, error) {
	line, err := json.Marshal(o)
	if err != nil {
		return false, fmt.Errorf("encode outcome: %w", err)
	}
	list, counter := outcomeList(queue, o)
	keys := []string{list, tasks.SeenKey(queue, t.Batch), tasks.BatchKey(queue, t.Batch)}
	n, err := recordScript.Run(ctx, r.rdb, keys, t.OutcomeKey(), line, counter, int64(r.ttl/time.Second)).Int()
	if err != nil {
		return false, fmt.Errorf("record outcome: %w", err)
	}
	return n == 1, nil
}

// outcomeList is the list an outcome goes to and the batch counter it
// raises.
func outcomeList(queue string, o tasks.Outcome) (list, counter string) {
	if o.Kind() == "exception" {
		return tasks.ExceptionsKey(queue), tasks.BatchExceptions
	}
	return tasks.ResultsKey(queue), tasks.BatchResponses
}

// recordManyScript records several outcomes in one call, each exactly as
// recordScript does: the script runs atomically, and each outcome's SADD,
// RPUSH and counters come together, in recordScript's order. KEYS: three
// per outcome (list, seen set, batch hash). ARGV[1]: the TTL in seconds;
// then three per outcome ("attempt:id", JSON line, counter). It returns one
// 1 (recorded) or 0 (recorded before) per outcome, in order. The keys of a
// batch get their TTL once, at the end, whether their outcomes were new or
// not (a call tried again after a lost reply sets it then).
var recordManyScript = redis.NewScript(`
local ttl = tonumber(ARGV[1])
local n = #KEYS / 3
local out = {}
local touched = {}
for i = 0, n - 1 do
  local seen, batch = KEYS[3*i+2], KEYS[3*i+3]
  if redis.call('SADD', seen, ARGV[3*i+2]) == 0 then
    out[i+1] = 0
  else
    redis.call('RPUSH', KEYS[3*i+1], ARGV[3*i+3])
    redis.call('HINCRBY', batch, 'done', 1)
    redis.call('HINCRBY', batch, ARGV[3*i+4], 1)
    out[i+1] = 1
  end
  touched[seen] = true
  touched[batch] = true
end
if ttl > 0 then
  for k in pairs(touched) do
    redis.call('EXPIRE', k, ttl)
  end
end
return out
`)

// recordReq is one outcome waiting in the batcher.
type recordReq struct {
	queue         string
	list, counter string
	seen, batch   string
	member        string
	line          []byte
	done          chan recordRes // buffered: the flusher never blocks on it
}

type recordRes struct {
	fresh bool
	err   error
}

// batcher records outcomes in groups: a flusher takes the first outcome
// waiting, then every other one already waiting (up to max), and records
// them all in one script call. There is no timer: under light load a group
// is one outcome and costs one round trip, as recorder.record; under heavy
// load the outcomes that arrive during a call make the next group. Several
// flushers keep that many calls in flight. Each caller gets its own
// outcome's result; a call that failed fails every outcome of its group,
// and the caller's retry goes through the dedupe, so an outcome recorded by
// a call whose reply was lost is not recorded again.
type batcher struct {
	rec  *recorder
	max  int
	reqs chan *recordReq
	quit chan struct{}
	wg   sync.WaitGroup

	closeOnce sync.Once

	reqPool sync.Pool
}

// newBatcher starts flushers goroutines recording up to max outcomes a call.
func newBatcher(rec *recorder, flushers, max int) *batcher {
	b := &batcher{rec: rec, max: max, reqs: make(chan *recordReq), quit: make(chan struct{})}
	b.reqPool.New = func() any { return &recordReq{done: make(chan recordRes, 1)} }
	for range flushers {
		b.wg.Go(b.flusher)
	}
	return b
}

// close stops the flushers once they finish their calls in progress;
// outcomes recorded after it go one by one through recorder.record.
func (b *batcher) close() {
	b.closeOnce.Do(func() { close(b.quit) })
	b.wg.Wait()
}

// record is recorder.record through the batcher.
func (b *batcher) record(ctx context.Context, queue string, t tasks.Task, o tasks.Outcome) (bool, error) {
	line, err := json.Marshal(o)
	if err != nil {
		return false, fmt.Errorf("encode outcome: %w", err)
	}
	r := b.reqPool.Get().(*recordReq)
	r.queue, r.line = queue, line
	r.list, r.counter = outcomeList(queue, o)
	r.seen, r.batch, r.member = tasks.SeenKey(queue, t.Batch), tasks.BatchKey(queue, t.Batch), t.OutcomeKey()
	select {
	case b.reqs <- r:
	case <-b.quit:
		b.reqPool.Put(r)
		return b.rec.record(ctx, queue, t, o)
	case <-ctx.Done():
		b.reqPool.Put(r)
		return false, fmt.Errorf("record outcome: %w", ctx.Err())
	}
	select {
	case res := <-r.done:
		*r = recordReq{done: r.done}
		b.reqPool.Put(r)
		return res.fresh, res.err
	case <-ctx.Done():
		// The flusher still holds r and will answer into r.done, which
		// nobody reads: r is not reused.
		return false, fmt.Errorf("record outcome: %w", ctx.Err())
	}
}

func (b *batcher) flusher() {
	group := make([]*recordReq, 0, b.max)
	for {
		select {
		case r := <-b.reqs:
			group = append(group[:0], r)
		case <-b.quit:
			return
		}
	fill:
		for len(group) < b.max {
			select {
			case r := <-b.reqs:
				group = append(group, r)
			default:
				break fill
			}
		}
		b.flush(group)
		clear(group)
	}
}

// flush records a group: one script call per queue (a queue's keys share a
// Redis Cluster slot), pipelined together when there are several.
func (b *batcher) flush(group []*recordReq) {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	byQueue := map[string][]*recordReq{}
	for _, r := range group {
		byQueue[r.queue] = append(byQueue[r.queue], r)
	}
	if len(byQueue) == 1 {
		b.answer(group, b.run(ctx, b.rec.rdb, group))
		return
	}
	type call struct {
		reqs []*recordReq
		cmd  *redis.Cmd
	}
	calls := make([]call, 0, len(byQueue))
	_, err := b.rec.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, reqs := range byQueue {
			calls = append(calls, call{reqs, b.eval(ctx, p, reqs)})
		}
		return nil
	})
	for _, c := range calls {
		if err != nil && c.cmd.Err() == nil {
			c.cmd.SetErr(err)
		}
		b.answer(c.reqs, c.cmd)
	}
}

// flushTimeout bounds one batch call (go-redis' own timeouts normally end
// it first); its callers then try again.
const flushTimeout = 30 * time.Second

func (b *batcher) args(reqs []*recordReq) ([]string, []any) {
	keys := make([]string, 0, 3*len(reqs))
	argv := make([]any, 0, 1+3*len(reqs))
	argv = append(argv, int64(b.rec.ttl/time.Second))
	for _, r := range reqs {
		keys = append(keys, r.list, r.seen, r.batch)
		argv = append(argv, r.member, r.line, r.counter)
	}
	return keys, argv
}

// run records reqs in one script call (EVALSHA, EVAL when Redis lacks it).
func (b *batcher) run(ctx context.Context, c redis.Scripter, reqs []*recordReq) *redis.Cmd {
	keys, argv := b.args(reqs)
	return recordManyScript.Run(ctx, c, keys, argv...)
}

// eval queues the script call on a pipeline, as EVAL: a pipeline cannot
// fall back from EVALSHA.
func (b *batcher) eval(ctx context.Context, p redis.Pipeliner, reqs []*recordReq) *redis.Cmd {
	keys, argv := b.args(reqs)
	return recordManyScript.Eval(ctx, p, keys, argv...)
}

func (b *batcher) answer(reqs []*recordReq, cmd *redis.Cmd) {
	res, err := cmd.Int64Slice()
	if err == nil && len(res) != len(reqs) {
		err = fmt.Errorf("record script returned %d results for %d outcomes", len(res), len(reqs))
	}
	for i, r := range reqs {
		if err != nil {
			r.done <- recordRes{err: fmt.Errorf("record outcome: %w", err)}
			continue
		}
		r.done <- recordRes{fresh: res[i] == 1}
	}
}
