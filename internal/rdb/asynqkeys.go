package rdb

// asynq v0.26.0's keys (its internal/base) and the constants of its rdb and
// heartbeater, as far as reqfleet writes and reads them without asynq's own
// code.

import (
	"fmt"
	"time"
)

// Keys of all queues and servers.
const (
	AllQueues  = "asynq:queues"  // set of queue names
	AllServers = "asynq:servers" // sorted set of server info keys, by expiry
	AllWorkers = "asynq:workers" // sorted set of workers keys, by expiry
)

// A queue's keys. Each carries the queue's name as a Redis Cluster hash tag.
func PendingKey(q string) string        { return "asynq:{" + q + "}:pending" }
func PausedKey(q string) string         { return "asynq:{" + q + "}:paused" }
func ActiveKey(q string) string         { return "asynq:{" + q + "}:active" }
func LeaseKey(q string) string          { return "asynq:{" + q + "}:lease" }
func ArchivedKey(q string) string       { return "asynq:{" + q + "}:archived" }
func RetryKey(q string) string          { return "asynq:{" + q + "}:retry" }
func ScheduledKey(q string) string      { return "asynq:{" + q + "}:scheduled" }
func GroupKeyPrefix(q string) string    { return "asynq:{" + q + "}:g:" }
func TaskKeyPrefix(q string) string     { return "asynq:{" + q + "}:t:" }
func TaskKey(q, id string) string       { return TaskKeyPrefix(q) + id }
func ProcessedTotalKey(q string) string { return "asynq:{" + q + "}:processed" }
func FailedTotalKey(q string) string    { return "asynq:{" + q + "}:failed" }

// AsynqQueuePattern matches every asynq key of a queue (for SCAN).
func AsynqQueuePattern(q string) string { return "asynq:{" + q + "}:*" }

// ProcessedKey is the queue's count of tasks processed on t's day (UTC).
func ProcessedKey(q string, t time.Time) string {
	return "asynq:{" + q + "}:processed:" + t.UTC().Format("2006-01-02")
}

// FailedKey is the queue's count of tasks failed on t's day (UTC).
func FailedKey(q string, t time.Time) string {
	return "asynq:{" + q + "}:failed:" + t.UTC().Format("2006-01-02")
}

// ServerInfoKey holds a server's ServerInfo.
func ServerInfoKey(host string, pid int, id string) string {
	return fmt.Sprintf("asynq:servers:{%s:%d:%s}", host, pid, id)
}

// WorkersKey holds a server's running tasks' WorkerInfo, by task id.
func WorkersKey(host string, pid int, id string) string {
	return fmt.Sprintf("asynq:workers:{%s:%d:%s}", host, pid, id)
}

// asynq's constants: a lease lasts 30s (rdb.LeaseDuration) and the
// heartbeater extends it every 5s; daily stats live 90 days (statsTTL);
// archived tasks are kept 90 days and at most 10,000 a queue.
const (
	LeaseDuration    = 30 * time.Second
	LeaseExtendEvery = 5 * time.Second
	StatsTTL         = 90 * 24 * time.Hour
	ArchivedDays     = 90
	MaxArchiveSize   = 10000
)
