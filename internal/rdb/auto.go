package rdb

import (
	"context"
	_ "embed"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed lua/auto_observe.lua
	autoObserveLua    string
	autoObserveScript = newScript(autoObserveLua)
)

func init() { scriptsByName["auto_observe"] = autoObserveScript }

// AutoKind is how a response moves adaptive throttling.
type AutoKind string

const (
	AutoOK      AutoKind = "ok"      // a 200: the delay follows the latency
	AutoOther   AutoKind = "other"   // another status: the delay does not go down
	AutoBackoff AutoKind = "backoff" // a 429, a 503, a timeout: the delay doubles
)

// AutoParams are adaptive throttling's settings.
type AutoParams struct {
	Target          float64       // target concurrency, fleet-wide
	Min, Max, Start time.Duration // the delay's bounds, and its first value
	TTL             time.Duration // the state's life without a response
}

// AutoObserve feeds a response of host key (its latency and kind) to the
// host's adaptive state, for the fleet, and returns the new delay between
// requests. [auto_observe.lua]
func (c *Client) AutoObserve(ctx context.Context, key string, latency time.Duration, kind AutoKind, p AutoParams) (time.Duration, error) {
	s, err := autoObserveScript.Run(ctx, c.r, []string{HostAutoKey(key)},
		latency.Seconds(), string(kind), p.Target, p.Min.Seconds(), p.Max.Seconds(), p.Start.Seconds(), int64(p.TTL/time.Second)).Text()
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	return time.Duration(f * float64(time.Second)), nil
}

// AutoState is a host's adaptive throttling state, shared by the fleet:
// the rate it lets through now (requests a second) and its latency
// estimate (seconds).
type AutoState struct {
	Rate    float64
	Latency float64
	Delay   float64 // seconds between requests (1/Rate)
}

// AutoState reads host key's adaptive throttling state (zero when none).
func (c *Client) AutoState(ctx context.Context, key string) (AutoState, error) {
	vals, err := c.r.HMGet(ctx, HostAutoKey(key), "rate", "latency", "delay").Result()
	if errors.Is(err, redis.Nil) {
		return AutoState{}, nil
	}
	if err != nil {
		return AutoState{}, err
	}
	var a AutoState
	if s, ok := vals[0].(string); ok {
		a.Rate, _ = strconv.ParseFloat(s, 64)
	}
	if s, ok := vals[1].(string); ok {
		a.Latency, _ = strconv.ParseFloat(s, 64)
	}
	if s, ok := vals[2].(string); ok {
		a.Delay, _ = strconv.ParseFloat(s, 64)
	}
	return a, nil
}
