package worker

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/rdb"
)

// The fetcher shows itself in asynq's server list as its heartbeater does
// for an asynq server (asynq v0.26.0's rdb.WriteServerState, as
// internal/rdb's WriteServerState writes it): Inspector's Servers, asynqmon, `reqfleet stats` and the metrics then count its
// sessions and the jobs it is running. serverstate_test.go reads it back
// with asynq's Inspector.

// asynqServerStateTTL is twice the heartbeat interval, as asynq's.
const asynqServerStateTTL = 2 * rdb.LeaseExtendEvery

// serverIdentity is how the fetcher appears in asynq's server list.
type serverIdentity struct {
	host        string
	pid         int
	id          string
	concurrency int // shown; the worker's sessions less those of its asynq servers
	queues      map[string]int
	strict      bool
	started     time.Time
}

// runningTask is a job a runner is on, for the server list.
type runningTask struct {
	queue           string
	msg             *rdb.TaskMessage
	start, deadline time.Time
	validUntil      time.Time // the fetcher's lease is known to hold until then (fetch.go)
	lost            bool      // a renewal came too late: the lease may be another's
}

// info is the fetcher's entry in the server list.
func (s serverIdentity) info(status string, active int) rdb.ServerInfo {
	return rdb.ServerInfo{Host: s.host, PID: s.pid, ServerID: s.id, Concurrency: s.concurrency, Queues: s.queues,
		StrictPriority: s.strict, Status: status, Started: s.started, ActiveWorkers: active}
}

// writeServerState writes the fetcher's entry and its running jobs, to
// expire unless written again within asynqServerStateTTL.
func (s serverIdentity) writeServerState(ctx context.Context, client redis.UniversalClient, now time.Time, status string, running []runningTask) error {
	workers := make([]rdb.WorkerInfo, len(running))
	for i, r := range running {
		workers[i] = rdb.WorkerInfo{TaskID: r.msg.ID, TaskType: r.msg.Type, Payload: r.msg.Payload, Queue: r.queue,
			Started: r.start, Deadline: r.deadline}
	}
	return rdb.New(client).WriteServerState(ctx, s.info(status, len(running)), workers, now, asynqServerStateTTL)
}

// clearServerState is rdb.ClearServerState: the entry goes at shutdown.
func (s serverIdentity) clearServerState(ctx context.Context, client redis.UniversalClient) error {
	return rdb.New(client).ClearServerState(ctx, s.host, s.pid, s.id)
}
