package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/asynqwire"
	"github.com/reqfleet/reqfleet/internal/startstop"
	"github.com/reqfleet/reqfleet/tasks"
)

// recorder writes outcomes to Redis.
type recorder struct {
	rdb redis.UniversalClient
	ttl time.Duration
	now func() time.Time // the clock of asynq's daily stats
}

// ack is the asynq bookkeeping of a task the fetcher took (fetch.go): asynq
// is done with it in the same script call that records its outcome, so an
// outcome is never recorded without its task finishing, nor the other way
// round.
type ack struct {
	id        string // asynq's task id
	uniqueKey string // asynq's uniqueness lock, if the task holds one
}

// record stores the outcome of task t run from queue. It reports whether the
// outcome was new; false means a duplicate run whose outcome was dropped.
func (r *recorder) record(ctx context.Context, queue string, t tasks.Task, o tasks.Outcome) (bool, error) {
	return r.finish(ctx, queue, t, o, nil)
}

// finish is record, and for a fetched task (a != nil) asynq's Done.
func (r *recorder) finish(ctx context.Context, queue string, t tasks.Task, o tasks.Outcome, a *ack) (bool, error) {
	req := &recordReq{}
	if err := fill(req, queue, t, o, a); err != nil {
		return false, err
	}
	keys, argv := r.args([]*recordReq{req})
	res, err := recordManyScript.Run(ctx, r.rdb, keys, argv...).Int64Slice()
	if err == nil && len(res) != 1 {
		err = fmt.Errorf("record script returned %d results for 1 outcome", len(res))
	}
	if err != nil {
		return false, fmt.Errorf("record outcome: %w", err)
	}
	return res[0] == 1, nil
}

// fill makes req the script entry of the outcome: every field but done,
// so that a request taken from a pool keeps nothing of its last use.
func fill(req *recordReq, queue string, t tasks.Task, o tasks.Outcome, a *ack) error {
	line, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode outcome: %w", err)
	}
	req.queue, req.line, req.member = queue, line, t.OutcomeKey()
	req.seen, req.batch = tasks.SeenKey(queue, t.Batch), tasks.BatchKey(queue, t.Batch)
	req.list, req.counter = outcomeList(queue, o)
	req.ack = ack{}
	if a != nil {
		req.ack = *a
	}
	return nil
}

// outcomeList is the list an outcome goes to and the batch counter it
// raises.
func outcomeList(queue string, o tasks.Outcome) (list, counter string) {
	if o.Kind() == "exception" {
		return tasks.ExceptionsKey(queue), tasks.BatchExceptions
	}
	return tasks.ResultsKey(queue), tasks.BatchResponses
}

// recordManyScript records outcomes exactly once, several in one call. The
// script runs atomically; each outcome's SADD, RPUSH and counters come
// together, and a duplicate (its "attempt:id" already in the batch's seen
// set: a job that ran twice) is dropped.
//
// An outcome of a fetched task also finishes the task as asynq's doneCmd
// does: off the active list and the lease set, its hash deleted, its
// uniqueness lock released, the processed counters raised. That happens
// only while the task is still on the active list: if its lease ran out and
// asynq's recoverer moved it away, it runs again and that run's outcome is
// the duplicate.
//
// KEYS: eight per outcome: the results or exceptions list, the seen set,
// the batch hash, then asynq's active list, lease set, task hash, daily and
// total processed counters of the queue. ARGV[1]: the TTL in seconds of the
// batch keys; ARGV[2]: the unix time the daily counter expires; then five
// per outcome: "attempt:id", JSON line, batch counter ("responses" or
// "exceptions"), asynq task id ("" when asynq's processor finishes the task
// itself), uniqueness lock key (""). It returns 1 (recorded) or 0 (recorded
// before) per outcome, in order. The keys of a batch get their TTL once, at
// the end, whether their outcomes were new or not (a call tried again after
// a lost reply sets it then).
var recordManyScript = redis.NewScript(`
local ttl = tonumber(ARGV[1])
local n = #KEYS / 8
local out = {}
local touched = {}
local processed = {}
for i = 0, n - 1 do
  local k, a = 8*i, 2 + 5*i
  local seen, batch = KEYS[k+2], KEYS[k+3]
  if redis.call('SADD', seen, ARGV[a+1]) == 0 then
    out[i+1] = 0
  else
    redis.call('RPUSH', KEYS[k+1], ARGV[a+2])
    redis.call('HINCRBY', batch, 'done', 1)
    redis.call('HINCRBY', batch, ARGV[a+3], 1)
    out[i+1] = 1
  end
  touched[seen] = true
  touched[batch] = true
  local id = ARGV[a+4]
  if id ~= '' and redis.call('LREM', KEYS[k+4], 0, id) > 0 then
    redis.call('ZREM', KEYS[k+5], id)
    redis.call('DEL', KEYS[k+6])
    local u = ARGV[a+5]
    if u ~= '' and redis.call('GET', u) == id then
      redis.call('DEL', u)
    end
    local day = KEYS[k+7]
    local p = processed[day]
    if p then
      p[2] = p[2] + 1
    else
      processed[day] = {KEYS[k+8], 1}
    end
  end
end
if ttl > 0 then
  for k in pairs(touched) do
    redis.call('EXPIRE', k, ttl)
  end
end
for day, p in pairs(processed) do
  if redis.call('INCRBY', day, p[2]) == p[2] then
    redis.call('EXPIREAT', day, ARGV[2])
  end
  redis.call('INCRBY', p[1], p[2])
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
	ack           ack            // id "": asynq's processor finishes the task
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
	rec      *recorder
	max      int
	flushers int
	reqs     chan *recordReq
	quit     chan struct{} // closed at Stop
	life     startstop.Base
	wg       sync.WaitGroup

	reqPool sync.Pool
}

// newBatcher makes a batcher of flushers goroutines recording up to max
// outcomes a call; Start starts them.
func newBatcher(rec *recorder, flushers, max int) *batcher {
	b := &batcher{rec: rec, max: max, flushers: flushers, reqs: make(chan *recordReq), quit: make(chan struct{})}
	b.reqPool.New = func() any { return &recordReq{done: make(chan recordRes, 1)} }
	return b
}

// Start starts the flushers, until Stop or ctx ends.
func (b *batcher) Start(ctx context.Context) error {
	return b.life.Start(ctx, func(ctx context.Context) {
		for range b.flushers {
			b.wg.Go(b.flusher)
		}
		<-ctx.Done()
		close(b.quit)
		b.wg.Wait()
	})
}

// Stop stops the flushers once they finish their calls in progress, or
// returns ctx's error when ctx ends first (they finish in the background);
// outcomes recorded after it go one by one through recorder.record.
func (b *batcher) Stop(ctx context.Context) error { return b.life.Stop(ctx) }

// record is recorder.record through the batcher.
func (b *batcher) record(ctx context.Context, queue string, t tasks.Task, o tasks.Outcome) (bool, error) {
	return b.finish(ctx, queue, t, o, nil)
}

// finish is recorder.finish through the batcher.
func (b *batcher) finish(ctx context.Context, queue string, t tasks.Task, o tasks.Outcome, a *ack) (bool, error) {
	r := b.reqPool.Get().(*recordReq)
	if err := fill(r, queue, t, o, a); err != nil {
		b.reqPool.Put(r)
		return false, err
	}
	select {
	case b.reqs <- r:
	case <-b.quit:
		b.reqPool.Put(r)
		return b.rec.finish(ctx, queue, t, o, a)
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

func (b *batcher) args(reqs []*recordReq) ([]string, []any) { return b.rec.args(reqs) }

// args are recordManyScript's keys and arguments for reqs.
func (r *recorder) args(reqs []*recordReq) ([]string, []any) {
	now := time.Now
	if r.now != nil {
		now = r.now
	}
	t := now()
	keys := make([]string, 0, 8*len(reqs))
	argv := make([]any, 0, 2+5*len(reqs))
	argv = append(argv, int64(r.ttl/time.Second), t.Add(asynqwire.StatsTTL).Unix())
	var q, active, lease, prefix, day, total string
	for _, req := range reqs {
		if req.queue != q {
			q = req.queue
			active, lease, prefix = asynqwire.ActiveKey(q), asynqwire.LeaseKey(q), asynqwire.TaskKeyPrefix(q)
			day, total = asynqwire.ProcessedKey(q, t), asynqwire.ProcessedTotalKey(q)
		}
		keys = append(keys, req.list, req.seen, req.batch, active, lease, prefix+req.ack.id, day, total)
		argv = append(argv, req.member, req.line, req.counter, req.ack.id, req.ack.uniqueKey)
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
