package rdb

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"time"
)

// A job's automatic retries (worker/retry.go): RetryLater moves a fetched
// task to asynq's retry set with the try just made added to its tries
// history, in one step; AddTry adds a try under asynq's processor (which
// moves the task itself); Forward is asynq's forwarder for workers that run
// no asynq server. Here rather than in client.go and scripts.go to keep
// those files' merges easy.

var (
	//go:embed lua/retry.lua
	retryLua string
	//go:embed lua/add_try.lua
	addTryLua string
	//go:embed lua/forward.lua
	forwardLua string

	retryScript   = newScript(retryLua)
	addTryScript  = newScript(addTryLua)
	forwardScript = newScript(forwardLua)
)

func init() {
	scriptsByName["retry"] = retryScript
	scriptsByName["add_try"] = addTryScript
	scriptsByName["forward"] = forwardScript
}

// ForwardBatch is the most tasks Forward moves from each set in one call,
// as asynq's forwardCmd.
const ForwardBatch = 100

// RetryLater moves the fetched task m of queue from active to the retry
// set, to run again at at, with errMsg as its error_msg (its retried count
// unchanged), and adds try (JSON) to its tries history, which keeps the
// latest keep tries and expires after ttl; false when the task is no
// longer active or its message is not m's (another worker recovered it).
// [retry.lua]
func (c *Client) RetryLater(ctx context.Context, queue string, m TaskMessage, errMsg string, at time.Time, try []byte, keep int, ttl time.Duration, now time.Time) (bool, error) {
	n, err := retryScript.Run(ctx, c.r,
		[]string{TaskKey(queue, m.ID), ActiveKey(queue), LeaseKey(queue), RetryKey(queue), TriesKey(queue, m.ID)},
		m.ID, m.Raw, m.WithFailure(errMsg, now), unixSeconds(at), try, keep, ttlSeconds(ttl)).Int()
	return n == 1, err
}

// AddTry adds try (JSON) to the tries history of queue's task id, if the
// history holds seen tries (a call run again adds nothing); it keeps the
// latest keep tries and expires after ttl. [add_try.lua]
func (c *Client) AddTry(ctx context.Context, queue, id string, try []byte, seen, keep int, ttl time.Duration) (bool, error) {
	n, err := addTryScript.Run(ctx, c.r, []string{TriesKey(queue, id)}, try, seen, keep, ttlSeconds(ttl)).Int()
	return n == 1, err
}

// Tries is the tries history of queue's task id, oldest first (JSON each).
func (c *Client) Tries(ctx context.Context, queue, id string) ([]string, error) {
	return c.r.LRange(ctx, TriesKey(queue, id), 0, -1).Result()
}

// DropTries deletes the tries history of queue's task id, once its outcome
// is recorded (a history left by a failed call expires).
func (c *Client) DropTries(ctx context.Context, queue, id string) error {
	return c.r.Del(ctx, TriesKey(queue, id)).Err()
}

// Forward moves queue's tasks due at now from the scheduled and retry sets
// to pending, up to ForwardBatch from each, as asynq's forwarder; it
// returns how many it moved and the earliest due time left (zero when
// none). [forward.lua]
func (c *Client) Forward(ctx context.Context, queue string, now time.Time) (int, time.Time, error) {
	res, err := forwardScript.Run(ctx, c.r, []string{ScheduledKey(queue), RetryKey(queue), PendingKey(queue)},
		unixSeconds(now), TaskKeyPrefix(queue), now.UnixNano(), GroupKeyPrefix(queue), ForwardBatch, now.Unix()).Slice()
	if err != nil {
		return 0, time.Time{}, err
	}
	if len(res) != 2 {
		return 0, time.Time{}, fmt.Errorf("%w: forward script returned %d values", ErrReply, len(res))
	}
	moved, ok := res[0].(int64)
	next, ok2 := res[1].(string)
	if !ok || !ok2 {
		return 0, time.Time{}, fmt.Errorf("%w: forward script returned %v", ErrReply, res)
	}
	if next == "" {
		return int(moved), time.Time{}, nil
	}
	f, err := strconv.ParseFloat(next, 64)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("%w: forward script's next score %q", ErrReply, next)
	}
	return int(moved), time.UnixMilli(int64(f * 1000)), nil
}

func ttlSeconds(d time.Duration) int64 { return max(int64(d/time.Second), 1) }
