package worker

import (
	"context"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/reqfleet/reqfleet/internal/asynqwire"
)

// The fetcher shows itself in asynq's server list as its heartbeater does
// for an asynq server (asynq v0.26.0's rdb.WriteServerState): Inspector's
// Servers, asynqmon, `reqfleet stats` and the metrics then count its
// sessions and the jobs it is running. serverstate_test.go reads it back
// with asynq's Inspector.

// asynqServerStateTTL is twice the heartbeat interval, as asynq's.
const asynqServerStateTTL = 2 * asynqwire.LeaseExtendEvery

// writeServerStateScript is asynq's writeServerStateCmd.
var writeServerStateScript = redis.NewScript(`
redis.call("SETEX", KEYS[1], ARGV[1], ARGV[2])
redis.call("DEL", KEYS[2])
for i = 3, table.getn(ARGV)-1, 2 do
	redis.call("HSET", KEYS[2], ARGV[i], ARGV[i+1])
end
redis.call("EXPIRE", KEYS[2], ARGV[1])
return redis.status_reply("OK")`)

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
	msg             *asynqwire.TaskMessage
	start, deadline time.Time
}

// encodeServerInfo is base.EncodeServerInfo: internal/proto's ServerInfo.
func (s serverIdentity) encodeServerInfo(status string, active int) []byte {
	b := asynqwire.AppendString(nil, 1, s.host)
	b = asynqwire.AppendVarint(b, 2, uint64(int64(int32(s.pid))))
	b = asynqwire.AppendString(b, 3, s.id)
	b = asynqwire.AppendVarint(b, 4, uint64(int64(int32(s.concurrency))))
	qs := make([]string, 0, len(s.queues))
	for q := range s.queues {
		qs = append(qs, q)
	}
	slices.Sort(qs)
	for _, q := range qs {
		entry := asynqwire.AppendString(nil, 1, q)
		entry = asynqwire.AppendVarint(entry, 2, uint64(int64(int32(s.queues[q]))))
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendBytes(b, entry)
	}
	if s.strict {
		b = asynqwire.AppendVarint(b, 6, 1)
	}
	b = asynqwire.AppendString(b, 7, status)
	b = asynqwire.AppendTimestamp(b, 8, s.started)
	return asynqwire.AppendVarint(b, 9, uint64(int64(int32(active))))
}

// encodeWorkerInfo is base.EncodeWorkerInfo: internal/proto's WorkerInfo.
func (s serverIdentity) encodeWorkerInfo(r runningTask) []byte {
	b := asynqwire.AppendString(nil, 1, s.host)
	b = asynqwire.AppendVarint(b, 2, uint64(int64(int32(s.pid))))
	b = asynqwire.AppendString(b, 3, s.id)
	b = asynqwire.AppendString(b, 4, r.msg.ID)
	b = asynqwire.AppendString(b, 5, r.msg.Type)
	if len(r.msg.Payload) > 0 {
		b = protowire.AppendTag(b, 6, protowire.BytesType)
		b = protowire.AppendBytes(b, r.msg.Payload)
	}
	b = asynqwire.AppendString(b, 7, r.queue)
	b = asynqwire.AppendTimestamp(b, 8, r.start)
	return asynqwire.AppendTimestamp(b, 9, r.deadline)
}

// writeServerState writes the fetcher's entry and its running jobs, to
// expire unless written again within asynqServerStateTTL.
func (s serverIdentity) writeServerState(ctx context.Context, rdb redis.UniversalClient, now time.Time, status string, running []runningTask) error {
	skey, wkey := asynqwire.ServerInfoKey(s.host, s.pid, s.id), asynqwire.WorkersKey(s.host, s.pid, s.id)
	exp := float64(now.Add(asynqServerStateTTL).Unix())
	args := []any{asynqServerStateTTL.Seconds(), s.encodeServerInfo(status, len(running))}
	for _, r := range running {
		args = append(args, r.msg.ID, s.encodeWorkerInfo(r))
	}
	if err := rdb.ZAdd(ctx, asynqwire.AllServers, redis.Z{Score: exp, Member: skey}).Err(); err != nil {
		return err
	}
	if err := rdb.ZAdd(ctx, asynqwire.AllWorkers, redis.Z{Score: exp, Member: wkey}).Err(); err != nil {
		return err
	}
	return writeServerStateScript.Run(ctx, rdb, []string{skey, wkey}, args...).Err()
}

// clearServerState is rdb.ClearServerState: the entry goes at shutdown.
func (s serverIdentity) clearServerState(ctx context.Context, rdb redis.UniversalClient) error {
	skey, wkey := asynqwire.ServerInfoKey(s.host, s.pid, s.id), asynqwire.WorkersKey(s.host, s.pid, s.id)
	if err := rdb.ZRem(ctx, asynqwire.AllServers, skey).Err(); err != nil {
		return err
	}
	if err := rdb.ZRem(ctx, asynqwire.AllWorkers, wkey).Err(); err != nil {
		return err
	}
	return rdb.Del(ctx, skey, wkey).Err()
}
