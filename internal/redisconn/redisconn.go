// Package redisconn opens Redis connections from URLs and runs the embedded
// Redis (miniredis) that lets reqfleet work on a machine with no Redis server.
package redisconn

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// ErrURL: the Redis URL cannot be used.
var ErrURL = errors.New("invalid Redis URL")

// ErrCluster: the Redis Cluster addresses cannot be used.
var ErrCluster = errors.New("invalid Redis Cluster addresses")

// Open connects to redis://, rediss:// (TLS), redis-socket:// or
// redis-sentinel:// URLs, as asynq.ParseRedisURI reads them. poolSize is the
// connection pool size (0: go-redis' default); give at least one connection
// per concurrent job. Errors never repeat the URL's password.
func Open(rawURL string, poolSize int) (redis.UniversalClient, error) {
	opt, err := ConnOpt(rawURL, poolSize)
	if err != nil {
		return nil, err
	}
	return client(opt, rawURL)
}

// client is the go-redis client of an asynq option, as its MakeRedisClient
// makes it but for MaxRetries: -1. go-redis would otherwise send a command
// again (3 times by default) after a read timeout or a connection lost
// with the command sent, scripts included; a non-idempotent script (the
// inbox's take, a fetch, a new batch) that ran the first time would then
// run twice, or find its work gone. reqfleet's own retries
// (internal/redisretry) cover the failures that pass, at the call sites
// that are safe to repeat.
func client(opt asynq.RedisConnOpt, rawURL string) (redis.UniversalClient, error) {
	switch o := opt.(type) {
	case asynq.RedisClientOpt:
		return redis.NewClient(&redis.Options{
			Network:      o.Network,
			Addr:         o.Addr,
			Username:     o.Username,
			Password:     o.Password,
			DB:           o.DB,
			DialTimeout:  o.DialTimeout,
			ReadTimeout:  o.ReadTimeout,
			WriteTimeout: o.WriteTimeout,
			PoolSize:     o.PoolSize,
			TLSConfig:    o.TLSConfig,
			MaxRetries:   -1,
		}), nil
	case asynq.RedisFailoverClientOpt:
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:       o.MasterName,
			SentinelAddrs:    o.SentinelAddrs,
			SentinelUsername: o.SentinelUsername,
			SentinelPassword: o.SentinelPassword,
			Username:         o.Username,
			Password:         o.Password,
			DB:               o.DB,
			DialTimeout:      o.DialTimeout,
			ReadTimeout:      o.ReadTimeout,
			WriteTimeout:     o.WriteTimeout,
			PoolSize:         o.PoolSize,
			TLSConfig:        o.TLSConfig,
			MaxRetries:       -1,
		}), nil
	}
	return nil, fmt.Errorf("%w %s: unsupported kind", ErrURL, Redact(rawURL))
}

// ConnOpt is the asynq connection option of a Redis URL (see Open), for the
// parts that open connections of their own, such as the asynqmon web UI.
func ConnOpt(rawURL string, poolSize int) (asynq.RedisConnOpt, error) {
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
	return opt, nil
}

// Cluster names a Redis Cluster: seed nodes (host:port; the client learns
// the others from them) and the credentials of every node.
type Cluster struct {
	Addrs    []string
	Username string
	Password string
}

// ParseClusterAddrs reads "host:port,host:port,..." (spaces allowed).
func ParseClusterAddrs(s string) ([]string, error) {
	var addrs []string
	for part := range strings.SplitSeq(s, ",") {
		a := strings.TrimSpace(part)
		if a == "" {
			continue
		}
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" || port == "" {
			return nil, fmt.Errorf("%w: %q is not host:port", ErrCluster, a)
		}
		addrs = append(addrs, a)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%w: give one or more host:port", ErrCluster)
	}
	return addrs, nil
}

// OpenCluster connects to a Redis Cluster. poolSize is the pool size per
// node (0: go-redis' default). Every reqfleet key carries its queue's hash
// tag ("{QUEUE}"), as asynq's do, so one queue's keys live on one node and
// its Lua scripts run there.
func OpenCluster(c Cluster, poolSize int) (redis.UniversalClient, error) {
	if len(c.Addrs) == 0 {
		return nil, fmt.Errorf("%w: no address", ErrCluster)
	}
	return redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:      c.Addrs,
		Username:   c.Username,
		Password:   c.Password,
		PoolSize:   poolSize,
		MaxRetries: -1, // the nodes' clients: see client
		// The cluster client also sends a command again, up to
		// MaxRedirects times, after a read timeout or a lost connection,
		// besides following MOVED and ASK: none of it here. A MOVED or ASK
		// reply (the command did not run) passes in internal/redisretry,
		// so reqfleet's own retries send it again, to the node the client
		// learnt from the reply.
		MaxRedirects: -1,
	}), nil
}

// ClusterConnOpt is the asynq connection option of a Redis Cluster.
func ClusterConnOpt(c Cluster) asynq.RedisConnOpt {
	return asynq.RedisClusterClientOpt{Addrs: c.Addrs, Username: c.Username, Password: c.Password}
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
