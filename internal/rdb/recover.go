package rdb

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// reqfleet's own recovery of lease-expired tasks (the worker's lease
// recoverer): ExpiredLeases lists them, RecoverLeases requeues or records
// each, if still expired. Here rather than in client.go and scripts.go to
// keep those files' merges easy.

var (
	//go:embed lua/expired_leases.lua
	expiredLeasesLua string
	//go:embed lua/recover_leases.lua
	recoverLeasesLua string

	expiredLeasesScript = newScript(expiredLeasesLua)
	recoverLeasesScript = newScript(recoverLeasesLua)
)

func init() {
	scriptsByName["expired_leases"] = expiredLeasesScript
	scriptsByName["recover_leases"] = recoverLeasesScript
}

// LeaseExpiredMsg is the error_msg a task requeued by RecoverLeases gets.
const LeaseExpiredMsg = "lease expired"

// StartedField is the task hash's field MarkStarted sets: the worker
// that started the task's request, in this run.
const StartedField = "reqfleet_started"

// Expired is a task whose lease ended, as ExpiredLeases lists it.
type Expired struct {
	ID      string
	Msg     string // its encoded TaskMessage
	Started string // MarkStarted's mark: the worker that started it; "" for none
}

// ExpiredLeases lists up to n tasks of queue whose lease ended before now.
// [expired_leases.lua]
func (c *Client) ExpiredLeases(ctx context.Context, queue string, now time.Time, n int) ([]Expired, error) {
	res, err := expiredLeasesScript.Run(ctx, c.r, []string{LeaseKey(queue), ActiveKey(queue)},
		unixSeconds(now), TaskKeyPrefix(queue), n, StartedField).StringSlice()
	if err != nil {
		return nil, err
	}
	if len(res)%3 != 0 {
		return nil, fmt.Errorf("%w: expired leases script returned %d strings", ErrReply, len(res))
	}
	out := make([]Expired, 0, len(res)/3)
	for i := 0; i < len(res); i += 3 {
		out = append(out, Expired{ID: res[i], Msg: res[i+1], Started: res[i+2]})
	}
	return out, nil
}

// Recovery is what RecoverLeases does with one expired task: put it back
// on pending with Requeue as its message, or, Requeue nil, record Record
// (an exception; its TaskID is the task's) and finish the task.
type Recovery struct {
	ID      string
	Msg     string // the message ExpiredLeases listed: the task is left alone if it changed
	Requeue []byte
	Record  Record
}

// Recovered is what RecoverLeases did with a task.
type Recovered int

const (
	RecoveredNone      Recovered = 0 // left alone: no longer expired or active, or another recoverer got it
	RecoveredRequeued  Recovered = 1 // back on pending
	RecoveredRecorded  Recovered = 2 // its exception recorded, the task finished
	RecoveredDuplicate Recovered = 3 // finished; its outcome was recorded before
)

// RecoverLeases requeues or records queue's expired tasks, each only if
// its lease still ended before now and its message is still the one
// listed. The batches' keys get ttl (0: none). [recover_leases.lua]
func (c *Client) RecoverLeases(ctx context.Context, queue string, now time.Time, ttl time.Duration, rs []Recovery) ([]Recovered, error) {
	keys := make([]string, 0, 9+3*len(rs))
	keys = append(keys, ActiveKey(queue), LeaseKey(queue), PendingKey(queue), ProcessedKey(queue, now), FailedKey(queue, now),
		ProcessedTotalKey(queue), FailedTotalKey(queue), ExceptionsKey(queue), HostsKey(queue))
	argv := make([]any, 0, 5+8*len(rs))
	argv = append(argv, unixSeconds(now), int64(ttl/time.Second), now.Add(StatsTTL).Unix(), MaxHostFields, StartedField)
	for _, r := range rs {
		tk := TaskKey(queue, r.ID)
		if r.Requeue != nil {
			keys = append(keys, tk, tk, tk)
			argv = append(argv, r.ID, r.Msg, "requeue", r.Requeue, "", "", "", "")
			continue
		}
		keys = append(keys, tk, SeenKey(queue, r.Record.Batch), BatchKey(queue, r.Record.Batch))
		argv = append(argv, r.ID, r.Msg, "record", r.Record.Line, r.Record.Member, r.Record.UniqueKey, r.Record.Detail, r.Record.Host)
	}
	res, err := recoverLeasesScript.Run(ctx, c.r, keys, argv...).Int64Slice()
	if err != nil {
		return nil, err
	}
	if len(res) != len(rs) {
		return nil, fmt.Errorf("%w: recover script returned %d results for %d tasks", ErrReply, len(res), len(rs))
	}
	out := make([]Recovered, len(res))
	for i, v := range res {
		out[i] = Recovered(v)
	}
	return out, nil
}

// MarkStarted marks an active task of queue as started by worker, before
// its request goes out; false if the task is no longer active. The fetcher
// marks a task it runs again after a lost worker, so that recovery counts
// a crash only against the task that was running (Expired.Started), not
// those its worker only held. Recovery and Requeue clear the mark.
// [mark_started.lua]
func (c *Client) MarkStarted(ctx context.Context, queue, id, worker string) (bool, error) {
	n, err := markStartedScript.Run(ctx, c.r, []string{TaskKey(queue, id)}, StartedField, worker).Int()
	return n == 1, err
}

// WithLeaseExpired is the message as RecoverLeases requeues it: retried
// raised by one, error_msg LeaseExpiredMsg and last_failed_at now, as
// asynq's recoverer leaves it (appended fields override earlier ones).
func (m TaskMessage) WithLeaseExpired(now time.Time) []byte {
	b := m.WithFailure(LeaseExpiredMsg, now)
	b = protowire.AppendTag(b, 6, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(m.Retried+1))
}

// unixSeconds is t as Unix seconds with milliseconds, for scripts that
// compare it with lease scores (whole seconds).
func unixSeconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}
