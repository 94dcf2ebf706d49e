// Package rdb owns reqfleet's Redis: every key of both keyspaces (asynq
// v0.26.0's, which the enqueue fast path and the worker's fetcher write
// without asynq's code, and reqfleet's own), the fields of asynq's protobuf
// messages, and every Lua script of the project (lua/*.lua, each with its
// KEYS/ARGV table), each behind a typed method of Client. The other
// packages keep only behaviour. LayoutVerified tells whether the linked
// asynq is the one this layout was verified against.
package rdb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Errors of the operations.
var (
	// ErrInboxLeaseLost: another forwarder holds the inbox lease.
	ErrInboxLeaseLost = errors.New("inbox lease lost")
	// ErrReply: a script answered something else than its header says.
	ErrReply = errors.New("unexpected script reply")
)

// Client runs reqfleet's Redis operations on a Redis client it does not own.
type Client struct {
	r        redis.UniversalClient
	pushOver int // RecordMany pushes a call's lines itself from this many bytes (record_push.go)
}

// New wraps r; closing r stays the caller's.
func New(r redis.UniversalClient) *Client { return &Client{r: r, pushOver: pushLinesOver} }

// Redis is the client wrapped.
func (c *Client) Redis() redis.UniversalClient { return c.r }

// ---- batches and retry (enqueuer) ----

// NewBatch creates the batch hash of id (created, accepted 0, owner token,
// expiring after ttl) and adds id to the queue's batches, scored by
// created, and, with a lease (see seal.go), to the open batches; false
// when the id is taken. Safe to run again with the same token (a call
// whose reply was lost): it reports the batch created. [new_batch.lua]
func (c *Client) NewBatch(ctx context.Context, queue, id, token string, created time.Time, ttl, lease time.Duration) (bool, error) {
	n, err := newBatchScript.Run(ctx, c.r, []string{BatchKey(queue, id), BatchesKey(queue), OpenBatchesKey(queue)},
		BatchCreated, created.UnixMilli(), ttl.Milliseconds(), id, BatchAccepted, lease.Milliseconds(), token).Int64()
	return n == 1, err
}

// DropBatch deletes the batch hash of id and takes id off the queue's
// batches, in one transaction: for a batch that no job was sent to.
func (c *Client) DropBatch(ctx context.Context, queue, id string) error {
	_, err := c.r.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, BatchKey(queue, id))
		p.ZRem(ctx, BatchesKey(queue), id)
		return nil
	})
	return err
}

// Moved is what MoveToRetrying did.
type Moved int

const (
	MovedElsewhere Moved = 0 // in neither list: another run retried it
	MovedNow       Moved = 1 // moved by this call
	MovedBefore    Moved = 2 // already in the retrying list
)

// MoveToRetrying takes the exception entry of batch off the exceptions
// list, onto the retrying list and off the batch's counters, detail (its
// ExcField, "" for none) included (or makes an expired batch anew, with
// ttl). [move_to_retrying.lua]
func (c *Client) MoveToRetrying(ctx context.Context, queue, batch, entry, detail string, now time.Time, ttl time.Duration) (Moved, error) {
	keys := []string{ExceptionsKey(queue), RetryingKey(queue), BatchKey(queue, batch), BatchesKey(queue)}
	n, err := moveToRetryingScript.Run(ctx, c.r, keys, entry, BatchDone, BatchExceptions,
		now.UnixMilli(), int64(ttl/time.Second), batch, detail).Int64()
	return Moved(n), err
}

// ---- the enqueue fast path ----

// PublishQueue adds queue to asynq:queues, as asynq's Client does before
// its first task of a queue.
func (c *Client) PublishQueue(ctx context.Context, queue string) error {
	return c.r.SAdd(ctx, AllQueues, queue).Err()
}

// Enqueued is what EnqueueMany did with one task.
type Enqueued int

const (
	EnqueuedExisted Enqueued = 0 // the task id was taken (asynq's ErrTaskIDConflict)
	EnqueuedNow     Enqueued = 1 // queued by this call
	EnqueuedRefused Enqueued = 2 // counted in a batch that is sealed: not queued
)

// EnqueueMany enqueues tasks (ids[i] with message msgs[i]) as asynq's
// enqueueCmd, many a call. A task with a batch (batches[i], "" for none:
// a retry's) is a new job of that batch: its queued count is raised in the
// same step, and the task refused when the batch is sealed. [enqueue_many.lua]
func (c *Client) EnqueueMany(ctx context.Context, queue string, now time.Time, ids []string, msgs [][]byte, batches []string) ([]Enqueued, error) {
	prefix := TaskKeyPrefix(queue)
	keys := make([]string, 1, 1+2*len(ids))
	keys[0] = PendingKey(queue)
	argv := make([]any, 1, 1+3*len(ids))
	argv[0] = strconv.FormatInt(now.UnixNano(), 10)
	for i, id := range ids {
		if b := batches[i]; b != "" {
			keys = append(keys, prefix+id, BatchKey(queue, b))
			argv = append(argv, id, msgs[i], "1")
		} else {
			keys = append(keys, prefix+id, prefix+id) // a key of the slot, untouched
			argv = append(argv, id, msgs[i], "0")
		}
	}
	res, err := enqueueManyScript.Run(ctx, c.r, keys, argv...).Int64Slice()
	if err != nil {
		return nil, err
	}
	if len(res) != len(ids) {
		return nil, fmt.Errorf("%w: enqueue script returned %d results for %d tasks", ErrReply, len(res), len(ids))
	}
	out := make([]Enqueued, len(res))
	for i, n := range res {
		out[i] = Enqueued(n)
	}
	return out, nil
}

// ---- outcomes (worker) ----

// Record is one outcome for RecordMany.
type Record struct {
	Queue     string
	Batch     string // the job's batch id
	Member    string // "attempt:id" (tasks.Task.OutcomeKey)
	Line      []byte // the outcome's JSON line
	Exception bool   // an exception (else a response)
	TaskID    string // asynq's task id, to finish it as doneCmd; "" when asynq's processor finishes it
	UniqueKey string // asynq's uniqueness lock the task holds, or ""
	Detail    string // CodeField or ExcField of the outcome, counted in its batch and host; "" for neither
	Host      string // the request's host[:port], counted in HostsKey; "" for none
	// Failed: count an exception without TaskID in asynq's failed counters
	// (asynq's processor finishes its task as done, which counts it
	// processed only). One with a TaskID counts as failed when finished.
	Failed bool
}

// kind is the outcome's kind for record_many.lua: "r" a response, "e" an
// exception, "f" an exception counted as failed when new (no TaskID).
func (r *Record) kind() string {
	switch {
	case !r.Exception:
		return "r"
	case r.Failed && r.TaskID == "":
		return "f"
	}
	return "e"
}

// recordKeys are the queue's keys of record_many.lua and record_new.lua,
// KEYS[1] to KEYS[9]; each batch's two follow.
func recordKeys(q string, now time.Time) []string {
	return append(make([]string, 0, 11), ResultsKey(q), ExceptionsKey(q), ActiveKey(q), LeaseKey(q),
		ProcessedKey(q, now), ProcessedTotalKey(q), HostsKey(q), FailedKey(q, now), FailedTotalKey(q))
}

// recordArgs are record_many.lua's keys and arguments, for outcomes of
// one queue: the queue's keys once, each batch's two keys once.
func recordArgs(now time.Time, ttl time.Duration, recs []Record) ([]string, []any) {
	q := recs[0].Queue
	keys := recordKeys(q, now)
	argv := make([]any, 0, 4+8*len(recs))
	argv = append(argv, int64(ttl/time.Second), now.Add(StatsTTL).Unix(), MaxHostFields, TaskKeyPrefix(q))
	batches := make(map[string]int, 1) // batch id -> its number in the call: 1, 2, ...
	for i := range recs {
		r := &recs[i]
		b, ok := batches[r.Batch]
		if !ok {
			keys = append(keys, SeenKey(q, r.Batch), BatchKey(q, r.Batch))
			b = len(batches) + 1
			batches[r.Batch] = b
		}
		argv = append(argv, b, r.Member, r.Line, r.kind(), r.TaskID, r.UniqueKey, r.Detail, r.Host)
	}
	return keys, argv
}

// errMixedQueues: RecordMany's outcomes share a queue.
var errMixedQueues = errors.New("rdb: one RecordMany call for outcomes of several queues")

func sameQueue(recs []Record) error {
	for i := range recs {
		if recs[i].Queue != recs[0].Queue {
			return fmt.Errorf("%w: %q and %q", errMixedQueues, recs[0].Queue, recs[i].Queue)
		}
	}
	return nil
}

// RecordMany records outcomes exactly once, in one script call: fresh[i]
// is false for an outcome recorded before (a job run twice). An outcome
// with a TaskID also finishes its task as asynq's doneCmd, if still active;
// an exception counts in asynq's failed counters as a failed task does.
// A new outcome's Detail is counted in its batch, and with its Host in the
// queue's hosts hash.
// The batches' keys get ttl (0: none); now is the clock of asynq's daily
// stats. One call's outcomes share a queue (a Redis Cluster slot), else
// the call fails without a command sent. The call takes them all to be
// new, with what they count gathered here [record_new.lua]; when one was
// recorded before, it writes nothing and a second call sorts them one by
// one [record_many.lua]. A call whose lines come to pushLinesOver bytes or
// more pushes them with RPUSH, not through the script (record_push.go).
func (c *Client) RecordMany(ctx context.Context, now time.Time, ttl time.Duration, recs []Record) (fresh []bool, err error) {
	if len(recs) == 0 {
		return nil, nil
	}
	if err := sameQueue(recs); err != nil {
		return nil, err
	}
	pushed := lineBytes(recs) >= c.pushOver
	if keys, argv, lines, ok := recordNewArgs(now, ttl, recs, pushed); ok {
		if pushed {
			return c.recordRest(ctx, c.recordPushed(ctx, keys, argv, lines), now, ttl, recs)
		}
		return c.recordRest(ctx, recordNewScript.Run(ctx, c.r, keys, argv...), now, ttl, recs)
	}
	return c.recordAll(ctx, now, ttl, recs)
}

// RecordManyCmd is a RecordMany queued on a pipeline.
type RecordManyCmd struct {
	c    *Client
	cmd  *redis.Cmd // nil: nothing queued, err says why (nil: no outcomes)
	all  bool       // cmd is record_new.lua's: if it wrote nothing, record_many.lua's call is still to make
	err  error
	now  time.Time
	ttl  time.Duration
	recs []Record
}

// QueueRecordMany queues RecordMany on p, as EVAL (a pipeline cannot fall
// back from EVALSHA); its Result is known once p has run.
func (c *Client) QueueRecordMany(ctx context.Context, p redis.Pipeliner, now time.Time, ttl time.Duration, recs []Record) *RecordManyCmd {
	if len(recs) == 0 {
		return &RecordManyCmd{}
	}
	if err := sameQueue(recs); err != nil {
		return &RecordManyCmd{err: err}
	}
	m := &RecordManyCmd{c: c, now: now, ttl: ttl, recs: recs}
	if keys, argv, _, ok := recordNewArgs(now, ttl, recs, false); ok {
		m.cmd, m.all = recordNewScript.Eval(ctx, p, keys, argv...), true
	} else {
		keys, argv := recordArgs(now, ttl, recs)
		m.cmd = recordManyScript.Eval(ctx, p, keys, argv...)
	}
	return m
}

// Result is RecordMany's; pipeErr is the pipeline's error, the call's own
// when it has none. When the pipelined call found an outcome recorded
// before, Result makes RecordMany's second call, on ctx.
func (m *RecordManyCmd) Result(ctx context.Context, pipeErr error) (fresh []bool, err error) {
	if m.cmd == nil {
		return nil, m.err
	}
	if pipeErr != nil && m.cmd.Err() == nil {
		m.cmd.SetErr(pipeErr)
	}
	if !m.all {
		return recordResult(m.cmd, len(m.recs))
	}
	return m.c.recordRest(ctx, m.cmd, m.now, m.ttl, m.recs)
}

func recordResult(cmd *redis.Cmd, n int) ([]bool, error) {
	res, err := cmd.Int64Slice()
	if err != nil {
		return nil, err
	}
	if len(res) != n {
		return nil, fmt.Errorf("%w: record script returned %d results for %d outcomes", ErrReply, len(res), n)
	}
	fresh := make([]bool, n)
	for i, v := range res {
		fresh[i] = v == 1
	}
	return fresh, nil
}

// Recorded says whether the outcome member ("attempt:id") of batch is in
// the batch's seen set: its outcome was recorded.
func (c *Client) Recorded(ctx context.Context, queue, batch, member string) (bool, error) {
	return c.r.SIsMember(ctx, SeenKey(queue, batch), member).Result()
}

// RecordedBefore finishes a task run again (its worker was lost) when
// that worker had recorded its outcome (member in the batch's seen set),
// and reports whether it had. [recorded_before.lua]
func (c *Client) RecordedBefore(ctx context.Context, queue, batch, member, taskID, uniqueKey string, now time.Time) (bool, error) {
	n, err := recordedBeforeScript.Run(ctx, c.r,
		[]string{SeenKey(queue, batch), ActiveKey(queue), LeaseKey(queue), TaskKey(queue, taskID), ProcessedKey(queue, now), ProcessedTotalKey(queue)},
		member, taskID, uniqueKey, now.Add(StatsTTL).Unix()).Int()
	return n == 1, err
}

// ---- asynq's task lifecycle (the fetcher) ----

// Fetch takes up to n tasks of queue, as asynq's dequeueCmd, under a lease
// until leaseExpiry, and returns their encoded messages (none when the
// queue is paused or empty). [fetch.lua]
func (c *Client) Fetch(ctx context.Context, queue string, leaseExpiry time.Time, n int) ([]string, error) {
	return fetchScript.Run(ctx, c.r,
		[]string{PendingKey(queue), PausedKey(queue), ActiveKey(queue), LeaseKey(queue)},
		leaseExpiry.Unix(), TaskKeyPrefix(queue), n).StringSlice()
}

// Requeue puts active tasks back at the head of queue, as asynq's
// requeueCmd; a task no longer active is left alone. The last id goes
// first. [requeue.lua]
func (c *Client) Requeue(ctx context.Context, queue string, ids []string) error {
	argv := make([]any, 0, 2+len(ids))
	argv = append(argv, TaskKeyPrefix(queue), StartedField)
	for _, id := range ids {
		argv = append(argv, id)
	}
	return requeueScript.Run(ctx, c.r, []string{ActiveKey(queue), LeaseKey(queue), PendingKey(queue)}, argv...).Err()
}

// Archive archives an active task with reason as its error, as asynq's
// archiveCmd; false when the task is no longer active. [archive.lua]
func (c *Client) Archive(ctx context.Context, queue string, m TaskMessage, reason string, now time.Time) (bool, error) {
	n, err := archiveScript.Run(ctx, c.r,
		[]string{TaskKey(queue, m.ID), ActiveKey(queue), LeaseKey(queue), ArchivedKey(queue),
			ProcessedKey(queue, now), FailedKey(queue, now), ProcessedTotalKey(queue), FailedTotalKey(queue), TaskKeyPrefix(queue)},
		m.ID, m.WithFailure(reason, now), now.Unix(), now.AddDate(0, 0, -ArchivedDays).Unix(),
		MaxArchiveSize, now.Add(StatsTTL).Unix(), int64(math.MaxInt64)).Int()
	return n == 1, err
}

// ExtendLeases sets the leases of queue's tasks ids to expiry, as asynq's
// heartbeater (ZADD XX: a lease already gone stays gone).
func (c *Client) ExtendLeases(ctx context.Context, queue string, ids []string, expiry time.Time) error {
	score := float64(expiry.Unix())
	zs := make([]redis.Z, len(ids))
	for i, id := range ids {
		zs[i] = redis.Z{Score: score, Member: id}
	}
	return c.r.ZAddXX(ctx, LeaseKey(queue), zs...).Err()
}

// WriteServerState writes a server's entry in asynq's server list and its
// running tasks, to expire after ttl unless written again, as asynq's
// rdb.WriteServerState. [write_server_state.lua]
func (c *Client) WriteServerState(ctx context.Context, info ServerInfo, workers []WorkerInfo, now time.Time, ttl time.Duration) error {
	skey, wkey := ServerInfoKey(info.Host, info.PID, info.ServerID), WorkersKey(info.Host, info.PID, info.ServerID)
	exp := float64(now.Add(ttl).Unix())
	args := make([]any, 0, 2+2*len(workers))
	args = append(args, ttl.Seconds(), encodeServerInfo(info))
	for _, w := range workers {
		args = append(args, w.TaskID, encodeWorkerInfo(info, w))
	}
	if err := c.r.ZAdd(ctx, AllServers, redis.Z{Score: exp, Member: skey}).Err(); err != nil {
		return err
	}
	if err := c.r.ZAdd(ctx, AllWorkers, redis.Z{Score: exp, Member: wkey}).Err(); err != nil {
		return err
	}
	return writeServerStateScript.Run(ctx, c.r, []string{skey, wkey}, args...).Err()
}

// ClearServerState removes a server's entry, as asynq's rdb.ClearServerState.
func (c *Client) ClearServerState(ctx context.Context, host string, pid int, serverID string) error {
	skey, wkey := ServerInfoKey(host, pid, serverID), WorkersKey(host, pid, serverID)
	if err := c.r.ZRem(ctx, AllServers, skey).Err(); err != nil {
		return err
	}
	if err := c.r.ZRem(ctx, AllWorkers, wkey).Err(); err != nil {
		return err
	}
	return c.r.Del(ctx, skey, wkey).Err()
}

// ---- reading outcomes ----

// Pop removes entries from the list key, one occurrence each, atomically:
// taken[i] says whether this call removed entries[i]. [pop.lua]
func (c *Client) Pop(ctx context.Context, key string, entries []string) (taken []bool, err error) {
	args := make([]any, len(entries))
	for i, e := range entries {
		args[i] = e
	}
	res, err := popScript.Run(ctx, c.r, []string{key}, args...).Int64Slice()
	if err != nil {
		return nil, err
	}
	if len(res) != len(entries) {
		return nil, fmt.Errorf("%w: pop script returned %d results for %d entries", ErrReply, len(res), len(entries))
	}
	taken = make([]bool, len(res))
	for i, n := range res {
		taken[i] = n == 1
	}
	return taken, nil
}

// ---- the inbox ----

// InboxAcquire takes the queue's inbox lease for token, unless another
// holds it.
func (c *Client) InboxAcquire(ctx context.Context, queue, token string, ttl time.Duration) (bool, error) {
	return c.r.SetNX(ctx, InboxLeaseKey(queue), token, ttl).Result()
}

// InboxTake moves up to n entries from the inbox to its processing list,
// stamped with batch and a sequence number, and returns them stamped;
// ErrInboxLeaseLost when token does not hold the lease. [inbox_take.lua]
func (c *Client) InboxTake(ctx context.Context, queue, token, batch string, n int) ([]string, error) {
	keys := []string{InboxKey(queue), InboxProcessingKey(queue), InboxLeaseKey(queue), InboxSeqKey(queue)}
	entries, err := inboxTakeScript.Run(ctx, c.r, keys, token, batch, n).StringSlice()
	if err != nil && strings.HasPrefix(err.Error(), "NOLEASE") {
		return nil, fmt.Errorf("%w: %w", ErrInboxLeaseLost, err)
	}
	return entries, err
}

// InboxRestamp replaces a processing entry with its new stamp; false when
// the old one is gone. [inbox_restamp.lua]
func (c *Client) InboxRestamp(ctx context.Context, queue, old, stamped string) (bool, error) {
	n, err := inboxRestampScript.Run(ctx, c.r, []string{InboxProcessingKey(queue)}, old, stamped).Int()
	return n == 1, err
}

// InboxReject moves a processing entry to the exceptions list as the
// exception line, counted in batch as a job done (BatchRejected); false
// when the entry is gone. [inbox_reject.lua]
func (c *Client) InboxReject(ctx context.Context, queue, stamped, batch string, line []byte) (bool, error) {
	n, err := inboxRejectScript.Run(ctx, c.r, []string{InboxProcessingKey(queue), ExceptionsKey(queue), BatchKey(queue, batch)}, stamped, line).Int()
	return n == 1, err
}

// InboxRenew extends token's inbox lease to ttl; false when token does not
// hold it. [inbox_renew.lua]
func (c *Client) InboxRenew(ctx context.Context, queue, token string, ttl time.Duration) (bool, error) {
	n, err := inboxRenewScript.Run(ctx, c.r, []string{InboxLeaseKey(queue)}, token, ttl.Milliseconds()).Int()
	return n == 1, err
}

// InboxRelease gives token's inbox lease up; false when token did not hold
// it. [inbox_release.lua]
func (c *Client) InboxRelease(ctx context.Context, queue, token string) (bool, error) {
	n, err := inboxReleaseScript.Run(ctx, c.r, []string{InboxLeaseKey(queue)}, token).Int()
	return n == 1, err
}
