package enqueuer

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/reqfleet/reqfleet/internal/asynqwire"
	"github.com/reqfleet/reqfleet/internal/redisretry"
	"github.com/reqfleet/reqfleet/tasks"
)

// The fast path enqueues tasks exactly as asynq's Client does (the same
// keys, the same task hash, the same encoded message), but several tasks in
// one Redis call: the tasks that callers hand in while a call is in flight
// go together in the next one (group commit; no timer, so one task alone
// costs one round trip as before). It is pinned to asynq v0.26.0:
//
//   - the task hash asynq:{QUEUE}:t:ID with msg, state "pending" and
//     pending_since (unix ns), and the id LPUSHed on asynq:{QUEUE}:pending,
//     as rdb.go's enqueueCmd, which also refuses an id whose hash exists
//     (the task id conflict, reported as existed);
//   - the queue's name in asynq:queues, as rdb.Enqueue does once a queue;
//   - msg: internal/proto's TaskMessage in protobuf, as base.EncodeMessage
//     writes what Client.EnqueueContext builds (type, payload, id, queue,
//     retry, timeout in seconds; no deadline, retention 0, no headers).
//
// fast_test.go proves it against asynq: the bytes of msg, Inspector's
// GetTaskInfo, a plain asynq.Server running the task, and the conflicts.

// fastEnqueueLua is asynq's enqueueCmd for many tasks. KEYS[1]: the pending
// list; KEYS[2...]: the tasks' hashes. ARGV[1]: now in unix ns; then per
// task its id and its encoded message. Each task is checked, written and
// pushed before the next, as one enqueueCmd call would. It returns 1
// (enqueued) or 0 (the id exists) per task, in order.
const fastEnqueueLua = `
local out = {}
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    out[i-1] = 0
  else
    redis.call('HSET', KEYS[i], 'msg', ARGV[2*i-1], 'state', 'pending', 'pending_since', ARGV[1])
    redis.call('LPUSH', KEYS[1], ARGV[2*i-2])
    out[i-1] = 1
  end
end
return out
`

var fastEnqueueScript = redis.NewScript(fastEnqueueLua)

// Group commit limits of the fast path.
const (
	// DefaultFastConcurrency is Config.Concurrency's default on the fast
	// path: callers wait in groups, not on connections, and more of them
	// make larger groups.
	DefaultFastConcurrency = 256

	fastMaxGroup    = 512              // tasks in one script call at most
	fastCallTimeout = 30 * time.Second // one call's bound (go-redis' timeouts normally end it first)
)

// fastMaxInflight is how many script calls may be in flight at once (more
// made the groups smaller and the rate lower here).
const fastMaxInflight = 2

// fastEnqueuer is the group commit. Callers queue their task; while fewer
// than fastMaxInflight calls are in flight a caller becomes a flusher and
// sends what is queued, its own task included, until nothing is; there is
// no goroutine of its own to stop.
type fastEnqueuer struct {
	rdb     redis.UniversalClient
	queue   string
	pending string // asynq:{queue}:pending
	prefix  string // asynq:{queue}:t:
	head    []byte // the encoded message's fields before the payload: type
	tail    []byte // ... after the id: queue, retry, timeout

	published atomic.Bool // the queue is in asynq:queues

	mu       sync.Mutex
	waiting  []*fastReq
	inflight int
}

type fastReq struct {
	id   string
	msg  []byte
	done chan fastRes // buffered
}

type fastRes struct {
	existed bool
	err     error
}

func newFastEnqueuer(rdb redis.UniversalClient, queue string, maxRetry int, timeout time.Duration) *fastEnqueuer {
	f := &fastEnqueuer{rdb: rdb, queue: queue, pending: asynqwire.PendingKey(queue), prefix: asynqwire.TaskKeyPrefix(queue)}
	f.head = protowire.AppendTag(nil, 1, protowire.BytesType)
	f.head = protowire.AppendString(f.head, tasks.TypeRequest)
	f.tail = asynqwire.AppendString(nil, 4, queue)
	f.tail = asynqwire.AppendVarint(f.tail, 5, uint64(int64(int32(maxRetry))))
	f.tail = asynqwire.AppendVarint(f.tail, 8, uint64(int64(timeout.Seconds())))
	return f
}

// encode is base.EncodeMessage of the TaskMessage Client.EnqueueContext
// builds for this enqueuer's tasks: fields in number order, zero values
// left out (proto3), as protobuf-go's Marshal writes them.
func (f *fastEnqueuer) encode(id string, payload []byte) []byte {
	n := len(f.head) + len(f.tail) + len(payload) + len(id) + 2*protowire.SizeVarint(uint64(len(payload))) + 2
	b := make([]byte, 0, n)
	b = append(b, f.head...)
	if len(payload) > 0 {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, payload)
	}
	b = asynqwire.AppendString(b, 3, id)
	return append(b, f.tail...)
}

// enqueue puts one task on the queue through the group commit; existed
// reports that a task of that id was there already (asynq's
// ErrTaskIDConflict). A task not yet sent when ctx ends is withdrawn; once
// sent, its result is awaited (a call is bounded by fastCallTimeout), so the
// answer says what Redis did.
func (f *fastEnqueuer) enqueue(ctx context.Context, id string, payload []byte) (existed bool, err error) {
	if err := f.publish(ctx); err != nil {
		return false, err
	}
	r := &fastReq{id: id, msg: f.encode(id, payload), done: make(chan fastRes, 1)}
	f.mu.Lock()
	f.waiting = append(f.waiting, r)
	if f.inflight < fastMaxInflight {
		f.inflight++
		f.flushAll() // unlocks and locks f.mu around each call
		f.inflight--
		f.mu.Unlock()
		res := <-r.done // sent by this flushAll at the latest
		return res.existed, res.err
	}
	f.mu.Unlock()
	select {
	case res := <-r.done:
		return res.existed, res.err
	case <-ctx.Done():
	}
	f.mu.Lock()
	for i, w := range f.waiting {
		if w == r {
			f.waiting = append(f.waiting[:i], f.waiting[i+1:]...)
			f.mu.Unlock()
			return false, ctx.Err()
		}
	}
	f.mu.Unlock()
	res := <-r.done // already taken by a flusher: its answer comes
	return res.existed, res.err
}

// flushAll sends the waiting tasks, fastMaxGroup at a time, until none
// wait. f.mu is held on entry and on return.
func (f *fastEnqueuer) flushAll() {
	for len(f.waiting) > 0 {
		n := min(len(f.waiting), fastMaxGroup)
		group := make([]*fastReq, n)
		copy(group, f.waiting)
		rest := copy(f.waiting, f.waiting[n:])
		clear(f.waiting[rest:])
		f.waiting = f.waiting[:rest]
		f.mu.Unlock()
		f.send(group)
		f.mu.Lock()
	}
}

// send enqueues a group in one script call and answers each task.
func (f *fastEnqueuer) send(group []*fastReq) {
	ctx, cancel := context.WithTimeout(context.Background(), fastCallTimeout)
	defer cancel()
	keys := make([]string, 1, 1+len(group))
	keys[0] = f.pending
	argv := make([]any, 1, 1+2*len(group))
	argv[0] = strconv.FormatInt(time.Now().UnixNano(), 10)
	for _, r := range group {
		keys = append(keys, f.prefix+r.id)
		argv = append(argv, r.id, r.msg)
	}
	res, err := fastEnqueueScript.Run(ctx, f.rdb, keys, argv...).Int64Slice()
	if err == nil && len(res) != len(group) {
		err = fmt.Errorf("enqueue script returned %d results for %d tasks", len(res), len(group))
	}
	for i, r := range group {
		if err != nil {
			r.done <- fastRes{err: err}
			continue
		}
		r.done <- fastRes{existed: res[i] == 0}
	}
}

// publish adds the queue to asynq:queues (where asynq's Inspector and
// tools list queues) once, as asynq's Client does before its first task.
func (f *fastEnqueuer) publish(ctx context.Context) error {
	if f.published.Load() {
		return nil
	}
	if err := f.rdb.SAdd(ctx, asynqwire.AllQueues, f.queue).Err(); err != nil {
		return err
	}
	f.published.Store(true)
	return nil
}

// enqueueFast is enqueue through the fast path, trying again after Redis
// errors as the asynq path does (Redis' errors inside a script, LOADING
// among them, come back as script errors): a call whose reply was lost is
// safe to send again, as the task it did enqueue then shows as existed.
func (e *Enqueuer) enqueueFast(ctx context.Context, t tasks.Task, payload []byte) (existed bool, err error) {
	id := t.TaskID()
	err = e.withPolicy(ctx, "enqueue", redisretry.Opaque, func() error {
		var err error
		existed, err = e.fast.enqueue(ctx, id, payload)
		return err
	})
	return existed, err
}

// newFast is the fast path of cfg, or nil when cfg asks for asynq's Client.
func newFast(cfg Config) *fastEnqueuer {
	if cfg.AsynqClient {
		return nil
	}
	return newFastEnqueuer(cfg.Redis, cfg.Queue, cfg.MaxRetry, cfg.TaskTimeout)
}
