package rdb

import (
	"context"
	"errors"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// AutoState is a host's adaptive throttling state, shared by the fleet:
// the rate it lets through now (requests a second) and its latency
// estimate (seconds).
type AutoState struct {
	Rate    float64
	Latency float64
}

// AutoState reads host key's adaptive throttling state (zero when none).
func (c *Client) AutoState(ctx context.Context, key string) (AutoState, error) {
	vals, err := c.r.HMGet(ctx, HostAutoKey(key), "rate", "latency").Result()
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
	return a, nil
}
