package worker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/startstop"
	"github.com/reqfleet/reqfleet/internal/testkit"
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

	msg *rdb.TaskMessage // the message fetched, for a retry (retry.go)
	// archived: no task to finish (id ""), asynq archived it and counted it
	// failed; else an exception without id counts as failed when recorded.
	archived bool

	throttled time.Duration // how long it waited parked for its host's limits (admit.go)
}

// archivedAck is the ack of an outcome recorded for a task asynq archived.
var archivedAck = &ack{archived: true}

// record stores the outcome of task t run from queue. It reports whether the
// outcome was new; false means a duplicate run whose outcome was dropped.
func (r *recorder) record(ctx context.Context, queue string, t tasks.Task, o tasks.Outcome) (bool, error) {
	return r.finish(ctx, queue, t, o, archivedAck)
}

// finish is record, and for a fetched task (a != nil) asynq's Done.
func (r *recorder) finish(ctx context.Context, queue string, t tasks.Task, o tasks.Outcome, a *ack) (bool, error) {
	req := &recordReq{}
	if err := fill(req, queue, t, o, a); err != nil {
		return false, err
	}
	fresh, err := rdb.New(r.rdb).RecordMany(ctx, r.clock(), r.ttl, []rdb.Record{req.record()})
	if err != nil {
		return false, fmt.Errorf("record outcome: %w", err)
	}
	return fresh[0], nil
}

// fill makes req the script entry of the outcome: every field but done,
// so that a request taken from a pool keeps nothing of its last use but
// the line's buffer, which the outcome is encoded into.
func fill(req *recordReq, queue string, t tasks.Task, o tasks.Outcome, a *ack) error {
	line, err := tasks.AppendOutcome(req.line[:0], o)
	if err != nil {
		return fmt.Errorf("encode outcome: %w", err)
	}
	req.queue, req.line, req.member = queue, line, t.OutcomeKey()
	req.batch, req.exception = t.Batch, o.Kind() == "exception"
	req.detail, req.host = detail(o)
	req.ack = ack{}
	if a != nil {
		req.ack = *a
	}
	return nil
}

// recordReq is one outcome waiting in the batcher.
type recordReq struct {
	queue     string
	batch     string // the job's batch id
	member    string // "attempt:id"
	line      []byte
	exception bool           // else a response
	detail    string         // rdb.CodeField or rdb.ExcField
	host      string         // the request's host[:port]
	ack       ack            // id "": asynq's processor finishes the task
	done      chan recordRes // buffered: the flusher never blocks on it
}

// record is the outcome as internal/rdb's RecordMany takes it
// (lua/record_many.lua): recorded exactly once and, with an ack, asynq's
// done in the same script call.
func (r *recordReq) record() rdb.Record {
	return rdb.Record{Queue: r.queue, Batch: r.batch, Member: r.member, Line: r.line, Exception: r.exception,
		TaskID: r.ack.id, UniqueKey: r.ack.uniqueKey, Detail: r.detail, Host: r.host,
		Failed: r.exception && r.ack.id == "" && !r.ack.archived}
}

type recordRes struct {
	fresh bool
	err   error
}

// batcher records outcomes in groups: a flusher takes the first outcome
// waiting, then every other one already waiting (up to max), and records
// them all in one script call. Under light load a group is one outcome and
// costs one round trip, as recorder.record; under heavy load the outcomes
// that arrive during a call make the next group, and a group that found
// lingerFrom or more (load: several arrived during one call) lingers up
// to linger for more before it goes, until it holds lingerTo: a call costs
// Redis about as much as a dozen outcomes in it (the script's per-call
// commands, the round trip), so under load fewer, fuller calls cut its CPU
// per outcome, for a few milliseconds more before an outcome is in its
// list. The session of a job whose outcome waits is already free
// (fetch.go's runners), but its runner is not: a worker has as many
// runners to spare as sessions, so a lingering group stops at half of
// them (lingerTo), or the sessions would wait for runners. Several
// flushers keep that many calls in flight, but only one with a group short
// of max (it holds the lone token): the others go on gathering meanwhile,
// so that under load groups grow as large as the arrivals of one call
// instead of being split among the flushers. Each caller gets its own
// outcome's result; a call that failed fails every outcome of its group,
// and the caller's retry goes through the dedupe, so an outcome recorded by
// a call whose reply was lost is not recorded again.
type batcher struct {
	rec        *recorder
	max        int
	flushers   int
	linger     time.Duration       // 0: none
	lingerFrom int                 // the fewest outcomes a group lingers with [defaultLingerFrom]
	lingerTo   int                 // the outcomes a lingering group goes with (at most max)
	lingering  testkit.Signal[int] // tests: a group lingers, with its size
	reqs       chan *recordReq
	short      chan struct{} // the token of the one call in flight with a group short of max
	quit       chan struct{} // closed at Stop
	life       startstop.Base
	wg         sync.WaitGroup

	reqPool sync.Pool
}

// defaultLingerFrom is batcher.lingerFrom's default: four outcomes
// arrived during one call.
const defaultLingerFrom = 4

// newBatcher makes a batcher of flushers goroutines recording up to max
// outcomes a call, a group under load lingering up to linger (0: never)
// until it holds lingerTo outcomes (at most max); Start starts them.
func newBatcher(rec *recorder, flushers, max int, linger time.Duration, lingerTo int) *batcher {
	b := &batcher{rec: rec, max: max, flushers: flushers, linger: linger, lingerFrom: defaultLingerFrom, lingerTo: min(lingerTo, max),
		reqs: make(chan *recordReq), short: make(chan struct{}, 1), quit: make(chan struct{})}
	b.short <- struct{}{}
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
	return b.finish(ctx, queue, t, o, archivedAck)
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
		// The call is over: the line's buffer is free for the next outcome,
		// unless it grew past what is worth keeping.
		line := r.line[:0]
		if cap(line) > maxPooledLine {
			line = nil
		}
		*r = recordReq{done: r.done, line: line}
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
		group = b.gather(group)
		// A short group waits for the token, gathering what arrives
		// meanwhile; a full one goes at once.
		token := false
		for len(group) < b.max && !token {
			select {
			case <-b.short:
				token = true
			case r := <-b.reqs:
				group = append(group, r)
			}
		}
		if token {
			group = b.gather(group) // what came while the token was away
			group = b.lingerOn(group)
		}
		b.flush(group)
		if token {
			b.short <- struct{}{}
		}
		clear(group)
	}
}

// gather adds the outcomes already waiting to group, up to max.
func (b *batcher) gather(group []*recordReq) []*recordReq {
	for len(group) < b.max {
		select {
		case r := <-b.reqs:
			group = append(group, r)
		default:
			return group
		}
	}
	return group
}

// lingerOn adds to a group of lingerFrom or more outcomes, short of
// lingerTo, what arrives within linger, up to lingerTo; at Stop it returns
// at once.
func (b *batcher) lingerOn(group []*recordReq) []*recordReq {
	if b.linger <= 0 || len(group) < b.lingerFrom || len(group) >= b.lingerTo {
		return group
	}
	b.lingering.Signal(len(group))
	t := time.NewTimer(b.linger)
	defer t.Stop()
	for len(group) < b.lingerTo {
		select {
		case r := <-b.reqs:
			group = append(group, r)
		case <-t.C:
			return group
		case <-b.quit:
			return group
		}
	}
	return group
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
	now, rc := b.rec.clock(), rdb.New(b.rec.rdb)
	if len(byQueue) == 1 {
		fresh, err := rc.RecordMany(ctx, now, b.rec.ttl, records(group))
		b.answer(group, fresh, err)
		return
	}
	type call struct {
		reqs []*recordReq
		cmd  *rdb.RecordManyCmd
	}
	calls := make([]call, 0, len(byQueue))
	_, err := b.rec.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, reqs := range byQueue {
			calls = append(calls, call{reqs, rc.QueueRecordMany(ctx, p, now, b.rec.ttl, records(reqs))})
		}
		return nil
	})
	for _, c := range calls {
		fresh, cerr := c.cmd.Result(ctx, err)
		b.answer(c.reqs, fresh, cerr)
	}
}

// maxPooledLine is the largest outcome buffer kept for reuse.
const maxPooledLine = 64 << 10

// flushTimeout bounds one batch call (go-redis' own timeouts normally end
// it first); its callers then try again.
const flushTimeout = 30 * time.Second

// clock is the clock of asynq's daily stats.
func (r *recorder) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}

// records are the outcomes of reqs, for one script call.
func records(reqs []*recordReq) []rdb.Record {
	recs := make([]rdb.Record, len(reqs))
	for i, r := range reqs {
		recs[i] = r.record()
	}
	return recs
}

func (b *batcher) answer(reqs []*recordReq, fresh []bool, err error) {
	for i, r := range reqs {
		if err != nil {
			r.done <- recordRes{err: fmt.Errorf("record outcome: %w", err)}
			continue
		}
		r.done <- recordRes{fresh: fresh[i]}
	}
}
