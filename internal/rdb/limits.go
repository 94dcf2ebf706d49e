package rdb

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Per-host limits, fleet-wide: the limits table (one hash for the fleet,
// with a version the workers poll), and each limited host's state, under
// the host's own hash tag (a host is not a queue's: its keys live in their
// own Redis Cluster slot, and every call here touches one host's keys
// only): its leased concurrency slots, its pause (Retry-After) and its
// GCRA rate state (github.com/go-redis/redis_rate). The queue side of
// throttling (parked jobs) is park.go's.

var (
	//go:embed lua/host_admit.lua
	hostAdmitLua string
	//go:embed lua/pause_host.lua
	pauseHostLua string
	//go:embed lua/set_limit.lua
	setLimitLua string

	hostAdmitScript = newScript(hostAdmitLua)
	pauseHostScript = newScript(pauseHostLua)
	setLimitScript  = newScript(setLimitLua)
)

func init() {
	scriptsByName["host_admit"] = hostAdmitScript
	scriptsByName["pause_host"] = pauseHostScript
	scriptsByName["set_limit"] = setLimitScript
}

// MaxLimits is the most entries the limits table holds (hosts and
// patterns); SetLimit refuses a new one past it.
const MaxLimits = 1000

// ErrLimitsFull: the limits table holds MaxLimits entries already.
var ErrLimitsFull = errors.New("limits table full")

// LimitsTableKey is the fleet's limits: host or pattern -> HostLimit JSON.
const LimitsTableKey = "reqfleet:{limits}:table"

// LimitsVersionKey counts the changes to the limits table.
const LimitsVersionKey = "reqfleet:{limits}:version"

// hostTag is the hash tag of a limited host's keys (key: a host name, a
// pattern, as the limits table names it).
func hostTag(key string) string { return "reqfleet:{host:" + key + "}:" }

// HostSlotsKey is a host's sorted set of concurrency slot holders
// ("<queue> <task id>"), scored by their lease's end (Unix ms).
func HostSlotsKey(key string) string { return hostTag(key) + "slots" }

// HostPauseKey holds until when (Unix ms) a host is paused.
func HostPauseKey(key string) string { return hostTag(key) + "pause" }

// HostRateKey is the host's GCRA state, less redis_rate's own "rate:"
// prefix (the key in Redis is "rate:" + HostRateKey).
func HostRateKey(key string) string { return hostTag(key) + "rate" }

// HostAutoKey is a host's adaptive throttling state (hash).
func HostAutoKey(key string) string { return hostTag(key) + "auto" }

// HostLimit is one entry of the limits table. Rate 0: no rate limit;
// Concurrency 0: no concurrency limit.
type HostLimit struct {
	Rate        int           `json:"rate,omitempty"`   // requests a Period
	Period      time.Duration `json:"period,omitempty"` // default a second
	Burst       int           `json:"burst,omitempty"`  // requests at once above the rate; default 1
	Concurrency int           `json:"concurrency,omitempty"`
	Auto        bool          `json:"auto,omitempty"` // adaptive throttling
}

// SetLimit sets the limit of a host or pattern (ErrLimitsFull past
// MaxLimits) and raises the table's version. [set_limit.lua]
func (c *Client) SetLimit(ctx context.Context, pattern string, l HostLimit) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	n, err := setLimitScript.Run(ctx, c.r, []string{LimitsTableKey, LimitsVersionKey}, pattern, b, MaxLimits).Int()
	if err == nil && n < 0 {
		err = fmt.Errorf("%w: at most %d hosts and patterns", ErrLimitsFull, MaxLimits)
	}
	if err == nil {
		_ = c.PublishLimits(ctx, LimitsMsgTable) // the workers poll too
	}
	return err
}

// DeleteLimit removes the limit of a host or pattern; false when it had
// none. [set_limit.lua]
func (c *Client) DeleteLimit(ctx context.Context, pattern string) (bool, error) {
	n, err := setLimitScript.Run(ctx, c.r, []string{LimitsTableKey, LimitsVersionKey}, pattern, "", MaxLimits).Int()
	if err == nil && n == 1 {
		_ = c.PublishLimits(ctx, LimitsMsgTable)
	}
	return n == 1, err
}

// LimitsVersion is the limits table's version: it changes with every
// change to the table.
func (c *Client) LimitsVersion(ctx context.Context) (int64, error) {
	n, err := c.r.Get(ctx, LimitsVersionKey).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return n, err
}

// Limits reads the limits table, and its version, in one transaction. An
// entry that does not decode is left out (and reported in bad).
func (c *Client) Limits(ctx context.Context) (table map[string]HostLimit, version int64, bad []string, err error) {
	var all *redis.MapStringStringCmd
	var ver *redis.StringCmd
	_, err = c.r.TxPipelined(ctx, func(p redis.Pipeliner) error {
		all = p.HGetAll(ctx, LimitsTableKey)
		ver = p.Get(ctx, LimitsVersionKey)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, 0, nil, err
	}
	if v, err := ver.Int64(); err == nil {
		version = v
	}
	table = make(map[string]HostLimit, len(all.Val()))
	for k, v := range all.Val() {
		var l HostLimit
		if json.Unmarshal([]byte(v), &l) != nil {
			bad = append(bad, k)
			continue
		}
		table[k] = l
	}
	return table, version, bad, nil
}

// SlotMember is a job's member in a host's slots: "<queue> <task id>" (a
// queue's name has no space).
func SlotMember(queue, taskID string) string { return queue + " " + taskID }

// Admit codes, per member, of HostAdmit.
const (
	AdmitRefused = 0 // no slot: paused, or all taken (or adopt only)
	AdmitTaken   = 1 // a slot taken now
	AdmitHeld    = 2 // the member held a slot already (admitted by a releaser): renewed
)

// Admission is HostAdmit's answer.
type Admission struct {
	PausedUntil  time.Time // the host is paused until then (every member refused); zero: not paused
	FirstSlotEnd time.Time // a member was refused for want of a slot: the first slot lease to end; else zero
	Codes        []int     // per member: AdmitRefused, AdmitTaken or AdmitHeld
}

// HostAdmit takes (or renews) a leased concurrency slot of host key for
// each member in order, until lease end, while the host is not paused and
// fewer than concurrency (0: any number) are held; adoptOnly renews the
// slots held and takes none. Expired slots are freed first.
// [host_admit.lua]
func (c *Client) HostAdmit(ctx context.Context, key string, members []string, concurrency int, adoptOnly bool, leaseEnd, now time.Time) (Admission, error) {
	argv := make([]any, 0, 4+len(members))
	argv = append(argv, now.UnixMilli(), leaseEnd.UnixMilli(), concurrency, boolArg(adoptOnly))
	for _, m := range members {
		argv = append(argv, m)
	}
	res, err := hostAdmitScript.Run(ctx, c.r, []string{HostSlotsKey(key), HostPauseKey(key)}, argv...).Int64Slice()
	if err != nil {
		return Admission{}, err
	}
	if len(res) != 2+len(members) {
		return Admission{}, fmt.Errorf("%w: host admit script returned %d values for %d members", ErrReply, len(res), len(members))
	}
	a := Admission{Codes: make([]int, len(members))}
	if res[0] > 0 {
		a.PausedUntil = time.UnixMilli(res[0])
	}
	if res[1] > 0 {
		a.FirstSlotEnd = time.UnixMilli(res[1])
	}
	for i, v := range res[2:] {
		a.Codes[i] = int(v)
	}
	return a, nil
}

// ReleaseSlots gives the slots of members of host key up.
func (c *Client) ReleaseSlots(ctx context.Context, key string, members ...string) error {
	if len(members) == 0 {
		return nil
	}
	ms := make([]any, len(members))
	for i, m := range members {
		ms[i] = m
	}
	return c.r.ZRem(ctx, HostSlotsKey(key), ms...).Err()
}

// RenewSlots extends the leases of the slots held (host key -> members)
// to leaseEnd, every host in one pipelined call (ZADD XX: a slot freed as
// expired stays freed).
func (c *Client) RenewSlots(ctx context.Context, held map[string][]string, leaseEnd, now time.Time) error {
	if len(held) == 0 {
		return nil
	}
	score := float64(leaseEnd.UnixMilli())
	ttl := leaseEnd.Sub(now) + time.Minute
	_, err := c.r.Pipelined(ctx, func(p redis.Pipeliner) error {
		for key, members := range held {
			zs := make([]redis.Z, len(members))
			for i, m := range members {
				zs[i] = redis.Z{Score: score, Member: m}
			}
			p.ZAddXX(ctx, HostSlotsKey(key), zs...)
			p.PExpire(ctx, HostSlotsKey(key), ttl)
		}
		return nil
	})
	return err
}

// InFlight counts the host's slots held (leases not ended by now).
func (c *Client) InFlight(ctx context.Context, key string, now time.Time) (int64, error) {
	return c.r.ZCount(ctx, HostSlotsKey(key), "("+strconv.FormatInt(now.UnixMilli(), 10), "+inf").Result()
}

// LimitsChannel is where changes to the limits are published: "table"
// (the table changed: read it again) or "pause <until ms> <host key>", so
// that every worker applies them at once; the workers also poll the
// version every second, should a message be lost.
const LimitsChannel = "reqfleet:{limits}:changed"

// Messages on LimitsChannel.
const (
	LimitsMsgTable = "table"
	LimitsMsgPause = "pause"
)

// PublishLimits tells the workers the limits changed (msg: LimitsMsgTable
// or a pause, see LimitsChannel); best effort.
func (c *Client) PublishLimits(ctx context.Context, msg string) error {
	return c.r.Publish(ctx, LimitsChannel, msg).Err()
}

// SubscribeLimits subscribes to LimitsChannel; the caller closes it.
func (c *Client) SubscribeLimits(ctx context.Context) *redis.PubSub {
	return c.r.Subscribe(ctx, LimitsChannel)
}

// ParsePauseMsg reads a pause message of LimitsChannel.
func ParsePauseMsg(msg string) (key string, until time.Time, ok bool) {
	rest, ok := strings.CutPrefix(msg, LimitsMsgPause+" ")
	if !ok {
		return "", time.Time{}, false
	}
	ms, key, ok := strings.Cut(rest, " ")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || !ValidHostKey(key) {
		return "", time.Time{}, false
	}
	return key, time.UnixMilli(n), true
}

// PausedHostsKey is the fleet's paused hosts, each scored by its pause's
// end (Unix ms): the workers read it with the limits table, so that a
// host without a limit is paused too (within a refresh).
const PausedHostsKey = "reqfleet:{limits}:paused"

// MaxPausedHosts is the most hosts PausedHostsKey holds (the soonest to
// end go first).
const MaxPausedHosts = 10000

// PauseHost pauses host key until until (unless paused until later),
// fleet-wide: HostAdmit refuses every job meanwhile, and the host joins
// the paused hosts. It returns the pause's end. [pause_host.lua]
func (c *Client) PauseHost(ctx context.Context, key string, until, now time.Time) (time.Time, error) {
	ms, err := pauseHostScript.Run(ctx, c.r, []string{HostPauseKey(key)}, until.UnixMilli(), now.UnixMilli()).Int64()
	if err != nil {
		return time.Time{}, err
	}
	_, err = c.r.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAddArgs(ctx, PausedHostsKey, redis.ZAddArgs{GT: true, Members: []redis.Z{{Score: float64(ms), Member: key}}})
		p.ZRemRangeByScore(ctx, PausedHostsKey, "-inf", strconv.FormatInt(now.UnixMilli(), 10))
		p.ZRemRangeByRank(ctx, PausedHostsKey, 0, -MaxPausedHosts-1)
		return nil
	})
	if err == nil {
		_ = c.PublishLimits(ctx, LimitsMsgPause+" "+strconv.FormatInt(ms, 10)+" "+key) // the workers poll too
	}
	return time.UnixMilli(ms), err
}

// PausedHosts is the hosts paused past now, with their pause's end.
func (c *Client) PausedHosts(ctx context.Context, now time.Time) (map[string]time.Time, error) {
	zs, err := c.r.ZRangeByScoreWithScores(ctx, PausedHostsKey, &redis.ZRangeBy{
		Min: "(" + strconv.FormatInt(now.UnixMilli(), 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string]time.Time, len(zs))
	for _, z := range zs {
		if m, ok := z.Member.(string); ok {
			out[m] = time.UnixMilli(int64(z.Score))
		}
	}
	return out, nil
}

// HostPausedUntil is when the pause of host key ends; zero when it is
// not paused (as of now).
func (c *Client) HostPausedUntil(ctx context.Context, key string, now time.Time) (time.Time, error) {
	ms, err := c.r.Get(ctx, HostPauseKey(key)).Int64()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	if until := time.UnixMilli(ms); until.After(now) {
		return until, nil
	}
	return time.Time{}, nil
}

// RateLimit is a GCRA limit: Rate requests a Period, Burst at once.
type RateLimit = redis_rate.Limit

// Rate is a host's GCRA rate limiter (redis_rate, on Redis' clock).
type Rate struct {
	l *redis_rate.Limiter
}

// Rate is the rate limiter of the hosts' keys.
func (c *Client) Rate() *Rate { return &Rate{l: redis_rate.NewLimiter(c.r)} }

// AllowAtMost takes up to n of host key's tokens: how many it took, and,
// when fewer than n, how long until the next one is due.
//
// The first token is taken with redis_rate's AllowN, the others with its
// AllowAtMost: AllowAtMost alone tests "remaining < 1" on a float computed
// from Redis' clock (about 3e8 seconds), which at a whole token comes out
// a hair under it: with a burst of 1 it never allows anything (and says
// to retry in nanoseconds), and a releaser waking at its RetryAfter would
// find none. AllowN's test ("remaining < 0") has no such edge.
func (r *Rate) AllowAtMost(ctx context.Context, key string, limit RateLimit, n int) (allowed int, retryAfter time.Duration, err error) {
	res, err := r.l.AllowN(ctx, HostRateKey(key), limit, 1)
	if err != nil {
		return 0, 0, err
	}
	if res.Allowed == 0 {
		return 0, max(res.RetryAfter, 0), nil
	}
	interval := limit.Period / time.Duration(max(limit.Rate, 1))
	if n <= 1 {
		return 1, 0, nil
	}
	if limit.Burst <= 1 {
		return 1, interval, nil
	}
	more, err := r.l.AllowAtMost(ctx, HostRateKey(key), limit, n-1)
	if err != nil {
		return 1, interval, nil // the one taken stands
	}
	if more.Allowed >= n-1 {
		return n, 0, nil
	}
	if more.RetryAfter <= 0 {
		return 1 + more.Allowed, interval, nil
	}
	return 1 + more.Allowed, more.RetryAfter, nil
}

// Peek is how many of host key's tokens are there now, none taken, and
// when none, how long until one is
// (redis_rate's AllowN of 0). It counts them from the GCRA state's
// ResetAfter (burst - ResetAfter/interval) rather than from Remaining,
// which at a whole token comes out one short (the float edge of
// AllowAtMost, below): a fresh key would show none for ever.
func (r *Rate) Peek(ctx context.Context, key string, limit RateLimit) (n int, wait time.Duration, err error) {
	res, err := r.l.AllowN(ctx, HostRateKey(key), limit, 0)
	if err != nil {
		return 0, 0, err
	}
	interval := limit.Period.Seconds() / float64(max(limit.Rate, 1))
	reset := max(res.ResetAfter.Seconds(), 0)
	n = min(max(int(math.Floor(float64(limit.Burst)-reset/interval+1e-6)), 0), limit.Burst)
	if n == 0 {
		wait = time.Duration((reset - float64(limit.Burst-1)*interval) * float64(time.Second))
	}
	return n, max(wait, 0), nil
}

// ValidHostKey reports whether key may name a host's keys: 1 to 255
// bytes, no space or control characters, no braces (a hash tag).
func ValidHostKey(key string) bool {
	if key == "" || len(key) > 255 {
		return false
	}
	return !strings.ContainsFunc(key, func(r rune) bool { return r <= ' ' || r == '{' || r == '}' || r == 0x7f })
}
