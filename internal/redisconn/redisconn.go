// Package redisconn opens Redis connections from URLs and runs the embedded
// Redis (miniredis) that lets reqfleet work on a machine with no Redis server.
package redisconn

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// ErrURL: the Redis URL cannot be used.
var ErrURL = errors.New("invalid Redis URL")

// Open connects to redis://, rediss:// (TLS), redis-socket:// or
// redis-sentinel:// URLs, as asynq.ParseRedisURI reads them. poolSize is the
// connection pool size (0: go-redis' default); give at least one connection
// per concurrent job. Errors never repeat the URL's password.
func Open(rawURL string, poolSize int) (redis.UniversalClient, error) {
	opt, err := asynq.ParseRedisURI(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w %s: use redis://[user:password@]host:port[/db], rediss://... or redis-sentinel://...", ErrURL, Redact(rawURL))
	}
	switch o := opt.(type) {
	case asynq.RedisClientOpt:
		o.PoolSize = poolSize
		opt = o
	case asynq.RedisFailoverClientOpt:
		o.PoolSize = poolSize
		opt = o
	}
	c, ok := opt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, fmt.Errorf("%w %s: unsupported kind", ErrURL, Redact(rawURL))
	}
	return c, nil
}

// Redact returns the URL with its password replaced, for messages and logs;
// a string that does not parse as a URL is not repeated at all.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
