package enqueuer

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/redisretry"
	"github.com/reqfleet/reqfleet/tasks"
)

// The fast path enqueues tasks exactly as asynq's Client does (the same
// keys, the same task hash, the same encoded message), but several tasks in
// one Redis call (internal/rdb's EnqueueMany, lua/enqueue_many.lua): the tasks that callers hand in while a call is in flight
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
	store *rdb.Client
	queue string
	enc   *rdb.MessageEncoder

	published atomic.Bool // the queue is in asynq:queues

	mu       sync.Mutex
	waiting  []*fastReq
	inflight int
}

type fastReq struct {
	id    string
	msg   []byte
	batch string       // a new job of this batch (counted in its queued), or "" (a retry)
	done  chan fastRes // buffered
}

type fastRes struct {
	existed bool
	refused bool // its batch is sealed: the enqueuer's lease ran out
	err     error
}

func newFastEnqueuer(r redis.UniversalClient, queue string, maxRetry int, timeout time.Duration) *fastEnqueuer {
	return &fastEnqueuer{store: rdb.New(r), queue: queue, enc: rdb.NewMessageEncoder(queue, tasks.TypeRequest, maxRetry, timeout)}
}

// encode is base.EncodeMessage of the TaskMessage Client.EnqueueContext
// builds for this enqueuer's tasks.
func (f *fastEnqueuer) encode(id string, payload []byte) []byte { return f.enc.Encode(id, payload) }

// enqueue is enqueueIn of a task counted in no batch.
func (f *fastEnqueuer) enqueue(ctx context.Context, id string, payload []byte) (existed bool, err error) {
	res, err := f.enqueueIn(ctx, id, payload, "")
	return res.existed, err
}

// enqueueIn puts one task on the queue through the group commit, as a new
// job of batch (counted in its queued; "" for a retry); existed reports
// that a task of that id was there already (asynq's ErrTaskIDConflict),
// refused that the batch is sealed. A task not yet sent when ctx ends is
// withdrawn; once sent, its result is awaited (a call is bounded by
// fastCallTimeout), so the answer says what Redis did.
func (f *fastEnqueuer) enqueueIn(ctx context.Context, id string, payload []byte, batch string) (fastRes, error) {
	if err := f.publish(ctx); err != nil {
		return fastRes{}, err
	}
	r := &fastReq{id: id, msg: f.encode(id, payload), batch: batch, done: make(chan fastRes, 1)}
	f.mu.Lock()
	f.waiting = append(f.waiting, r)
	if f.inflight < fastMaxInflight {
		f.inflight++
		f.flushAll() // unlocks and locks f.mu around each call
		f.inflight--
		f.mu.Unlock()
		res := <-r.done // sent by this flushAll at the latest
		return res, res.err
	}
	f.mu.Unlock()
	select {
	case res := <-r.done:
		return res, res.err
	case <-ctx.Done():
	}
	f.mu.Lock()
	for i, w := range f.waiting {
		if w == r {
			f.waiting = append(f.waiting[:i], f.waiting[i+1:]...)
			f.mu.Unlock()
			return fastRes{}, ctx.Err()
		}
	}
	f.mu.Unlock()
	res := <-r.done // already taken by a flusher: its answer comes
	return res, res.err
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
	ids := make([]string, len(group))
	msgs := make([][]byte, len(group))
	batches := make([]string, len(group))
	for i, r := range group {
		ids[i], msgs[i], batches[i] = r.id, r.msg, r.batch
	}
	res, err := f.store.EnqueueMany(ctx, f.queue, time.Now(), ids, msgs, batches)
	for i, r := range group {
		if err != nil {
			r.done <- fastRes{err: err}
			continue
		}
		r.done <- fastRes{existed: res[i] == rdb.EnqueuedExisted, refused: res[i] == rdb.EnqueuedRefused}
	}
}

// publish adds the queue to asynq:queues (where asynq's Inspector and
// tools list queues) once, as asynq's Client does before its first task.
func (f *fastEnqueuer) publish(ctx context.Context) error {
	if f.published.Load() {
		return nil
	}
	if err := f.store.PublishQueue(ctx, f.queue); err != nil {
		return err
	}
	f.published.Store(true)
	return nil
}

// enqueueFast is enqueue through the fast path, trying again after Redis
// errors as the asynq path does (Redis' errors inside a script, LOADING
// among them, come back as script errors): a call whose reply was lost is
// safe to send again, as the task it did enqueue then shows as existed.
// A new job of its batch (counted) that the batch refuses, sealed by the
// fleet once this enqueuer's lease ran out, is ErrLeaseLost.
func (e *Enqueuer) enqueueFast(ctx context.Context, t tasks.Task, payload []byte, counted bool) (existed bool, err error) {
	id := t.TaskID()
	batch := ""
	if counted {
		batch = t.Batch
	}
	var res fastRes
	err = e.withPolicy(ctx, "enqueue", redisretry.Opaque, func() error {
		var err error
		res, err = e.fast.enqueueIn(ctx, id, payload, batch)
		return err
	})
	if err == nil && res.refused {
		err = fmt.Errorf("batch %s: %w", t.Batch, ErrLeaseLost)
	}
	return res.existed, err
}

// newFast is the fast path of cfg, or nil when cfg asks for asynq's Client.
func newFast(cfg Config) *fastEnqueuer {
	if cfg.AsynqClient {
		return nil
	}
	return newFastEnqueuer(cfg.Redis, cfg.Queue, cfg.MaxRetry, cfg.TaskTimeout)
}
