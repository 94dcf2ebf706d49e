package rdb

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The queue side of per-host limits: a task whose host is over its limit
// is parked, taken off the active list and its lease onto the host's park
// list in the queue (under the queue's hash tag, so one script does it:
// a crash leaves it active or parked, never lost), and the queue's parked
// set names the hosts with parked tasks, each with when a releaser should
// look at it next. A releaser (one at a time per queue and host, by a
// short lock) takes the oldest, admits them to the host's limit
// (limits.go's calls, a slot of their own), and moves them back to the
// head of the pending list.

var (
	//go:embed lua/park.lua
	parkLua string
	//go:embed lua/park_claim.lua
	parkClaimLua string
	//go:embed lua/park_release.lua
	parkReleaseLua string

	parkScript        = newScript(parkLua)
	parkClaimScript   = newScript(parkClaimLua)
	parkReleaseScript = newScript(parkReleaseLua)
)

func init() {
	scriptsByName["park"] = parkScript
	scriptsByName["park_claim"] = parkClaimScript
	scriptsByName["park_release"] = parkReleaseScript
}

// ParkKey is the list of a queue's task ids parked for host key, the
// newest at the head.
func ParkKey(queue, key string) string { return "reqfleet:{" + queue + "}:park:" + key }

// ParkLockKey holds the token of the releaser working on host key's
// parked tasks of queue.
func ParkLockKey(queue, key string) string { return ParkKey(queue, key) + ":lock" }

// ParkedKey is the sorted set of the queue's host keys with parked tasks,
// scored by when a releaser should look next (Unix ms).
func ParkedKey(queue string) string { return "reqfleet:{" + queue + "}:parked" }

// Task hash fields of a parked task (reqfleet's, beside asynq's).
const (
	TaskParkedAt    = "parked_at"    // Unix ms, while parked
	TaskThrottledMS = "throttled_ms" // ms waited parked in all
)

// Park moves the active task id of queue to host key's park list, due for
// a release at due; false when the task was not active (left alone).
// [park.lua]
func (c *Client) Park(ctx context.Context, queue, key, id string, due, now time.Time) (bool, error) {
	n, err := parkScript.Run(ctx, c.r,
		[]string{ActiveKey(queue), LeaseKey(queue), ParkKey(queue, key), ParkedKey(queue), TaskKey(queue, id)},
		id, key, due.UnixMilli(), now.UnixMilli()).Int()
	return n == 1, err
}

// Due is one host key with parked tasks, and when it is due.
type Due struct {
	Key string
	At  time.Time
}

// DueParked lists up to n of queue's host keys with parked tasks, the
// soonest due first.
func (c *Client) DueParked(ctx context.Context, queue string, n int) ([]Due, error) {
	zs, err := c.r.ZRangeWithScores(ctx, ParkedKey(queue), 0, int64(n)-1).Result()
	if err != nil {
		return nil, err
	}
	out := make([]Due, len(zs))
	for i, z := range zs {
		m, _ := z.Member.(string)
		out[i] = Due{Key: m, At: time.UnixMilli(int64(z.Score))}
	}
	return out, nil
}

// WakeParked makes host key due at at in queue, if it has parked tasks
// due later (a slot of the host was freed).
func (c *Client) WakeParked(ctx context.Context, queue, key string, at time.Time) error {
	return c.r.ZAddArgs(ctx, ParkedKey(queue), redis.ZAddArgs{XX: true, LT: true,
		Members: []redis.Z{{Score: float64(at.UnixMilli()), Member: key}}}).Err()
}

// ParkClaim takes the release lock of host key in queue for token (until
// ttl), and lists the oldest n parked task ids, the oldest first; ok false
// when another releaser holds the lock or none is parked (the host then
// leaves the parked set). [park_claim.lua]
func (c *Client) ParkClaim(ctx context.Context, queue, key, token string, ttl time.Duration, n int) (ids []string, ok bool, err error) {
	res, err := parkClaimScript.Run(ctx, c.r, []string{ParkLockKey(queue, key), ParkKey(queue, key), ParkedKey(queue)},
		token, ttl.Milliseconds(), n, key).StringSlice()
	if err != nil || len(res) == 0 {
		return nil, false, err
	}
	return res[1:], true, nil
}

// ParkRelease moves the parked ids (the oldest first) back to the head of
// queue's pending list, the oldest to be taken first, adds each one's wait
// to its throttled_ms, makes host key due next at next (or takes it off
// the parked set when none is left), and gives token's lock up. It
// returns how many moved. [park_release.lua]
func (c *Client) ParkRelease(ctx context.Context, queue, key, token string, ids []string, next, now time.Time) (int, error) {
	argv := make([]any, 0, 6+len(ids))
	argv = append(argv, token, key, next.UnixMilli(), now.UnixMilli(), TaskKeyPrefix(queue), strconv.FormatInt(now.UnixNano(), 10))
	for _, id := range ids {
		argv = append(argv, id)
	}
	return parkReleaseScript.Run(ctx, c.r, []string{ParkKey(queue, key), ParkedKey(queue), PendingKey(queue), ParkLockKey(queue, key)}, argv...).Int()
}

// ThrottledMS is how long the task waited parked, in all (ms).
func (c *Client) ThrottledMS(ctx context.Context, queue, id string) (int64, error) {
	n, err := c.r.HGet(ctx, TaskKey(queue, id), TaskThrottledMS).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return n, err
}

// ParkedHost is one host key with tasks parked in a queue.
type ParkedHost struct {
	Key    string
	Parked int64
	Due    time.Time
}

// ParkedHosts lists up to n host keys with tasks parked in queue, with
// how many, the soonest due first.
func (c *Client) ParkedHosts(ctx context.Context, queue string, n int) ([]ParkedHost, error) {
	due, err := c.DueParked(ctx, queue, n)
	if err != nil || len(due) == 0 {
		return nil, err
	}
	cmds := make([]*redis.IntCmd, len(due))
	_, err = c.r.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, d := range due {
			cmds[i] = p.LLen(ctx, ParkKey(queue, d.Key))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("parked hosts: %w", err)
	}
	out := make([]ParkedHost, len(due))
	for i, d := range due {
		out[i] = ParkedHost{Key: d.Key, Parked: cmds[i].Val(), Due: d.At}
	}
	return out, nil
}
