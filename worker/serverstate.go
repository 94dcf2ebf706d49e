package worker

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/encoding/protowire"
)

// The fetcher shows itself in asynq's server list as its heartbeater does
// for an asynq server (asynq v0.26.0's rdb.WriteServerState): Inspector's
// Servers, asynqmon, `reqfleet stats` and the metrics then count its
// sessions and the jobs it is running. serverstate_test.go reads it back
// with asynq's Inspector.

const (
	asynqAllServers = "asynq:servers"
	asynqAllWorkers = "asynq:workers"
	// asynqServerStateTTL is twice the heartbeat interval, as asynq's.
	asynqServerStateTTL = 2 * asynqLeaseExtendEvery
)

func asynqServerInfoKey(host string, pid int, id string) string {
	return fmt.Sprintf("asynq:servers:{%s:%d:%s}", host, pid, id)
}

func asynqWorkersKey(host string, pid int, id string) string {
	return fmt.Sprintf("asynq:workers:{%s:%d:%s}", host, pid, id)
}

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
	msg             *taskMessage
	start, deadline time.Time
}

// encodeServerInfo is base.EncodeServerInfo: internal/proto's ServerInfo.
func (s serverIdentity) encodeServerInfo(status string, active int) []byte {
	b := appendProtoString(nil, 1, s.host)
	b = appendProtoVarint(b, 2, uint64(int64(int32(s.pid))))
	b = appendProtoString(b, 3, s.id)
	b = appendProtoVarint(b, 4, uint64(int64(int32(s.concurrency))))
	qs := make([]string, 0, len(s.queues))
	for q := range s.queues {
		qs = append(qs, q)
	}
	slices.Sort(qs)
	for _, q := range qs {
		entry := appendProtoString(nil, 1, q)
		entry = appendProtoVarint(entry, 2, uint64(int64(int32(s.queues[q]))))
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendBytes(b, entry)
	}
	if s.strict {
		b = appendProtoVarint(b, 6, 1)
	}
	b = appendProtoString(b, 7, status)
	b = appendTimestamp(b, 8, s.started)
	return appendProtoVarint(b, 9, uint64(int64(int32(active))))
}

// encodeWorkerInfo is base.EncodeWorkerInfo: internal/proto's WorkerInfo.
func (s serverIdentity) encodeWorkerInfo(r runningTask) []byte {
	b := appendProtoString(nil, 1, s.host)
	b = appendProtoVarint(b, 2, uint64(int64(int32(s.pid))))
	b = appendProtoString(b, 3, s.id)
	b = appendProtoString(b, 4, r.msg.id)
	b = appendProtoString(b, 5, r.msg.typ)
	if len(r.msg.payload) > 0 {
		b = protowire.AppendTag(b, 6, protowire.BytesType)
		b = protowire.AppendBytes(b, r.msg.payload)
	}
	b = appendProtoString(b, 7, r.queue)
	b = appendTimestamp(b, 8, r.start)
	return appendTimestamp(b, 9, r.deadline)
}

// writeServerState writes the fetcher's entry and its running jobs, to
// expire unless written again within asynqServerStateTTL.
func (s serverIdentity) writeServerState(ctx context.Context, rdb redis.UniversalClient, now time.Time, status string, running []runningTask) error {
	skey, wkey := asynqServerInfoKey(s.host, s.pid, s.id), asynqWorkersKey(s.host, s.pid, s.id)
	exp := float64(now.Add(asynqServerStateTTL).Unix())
	args := []any{asynqServerStateTTL.Seconds(), s.encodeServerInfo(status, len(running))}
	for _, r := range running {
		args = append(args, r.msg.id, s.encodeWorkerInfo(r))
	}
	if err := rdb.ZAdd(ctx, asynqAllServers, redis.Z{Score: exp, Member: skey}).Err(); err != nil {
		return err
	}
	if err := rdb.ZAdd(ctx, asynqAllWorkers, redis.Z{Score: exp, Member: wkey}).Err(); err != nil {
		return err
	}
	return writeServerStateScript.Run(ctx, rdb, []string{skey, wkey}, args...).Err()
}

// clearServerState is rdb.ClearServerState: the entry goes at shutdown.
func (s serverIdentity) clearServerState(ctx context.Context, rdb redis.UniversalClient) error {
	skey, wkey := asynqServerInfoKey(s.host, s.pid, s.id), asynqWorkersKey(s.host, s.pid, s.id)
	if err := rdb.ZRem(ctx, asynqAllServers, skey).Err(); err != nil {
		return err
	}
	if err := rdb.ZRem(ctx, asynqAllWorkers, wkey).Err(); err != nil {
		return err
	}
	return rdb.Del(ctx, skey, wkey).Err()
}

// Proto3 encoding as protobuf-go writes it: zero values left out.

func appendProtoString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendProtoVarint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// appendTimestamp writes a google.protobuf.Timestamp as timestamppb.New
// makes it (a zero time too: its seconds are negative).
func appendTimestamp(b []byte, num protowire.Number, t time.Time) []byte {
	ts := appendProtoVarint(nil, 1, uint64(t.Unix()))
	ts = appendProtoVarint(ts, 2, uint64(int64(int32(t.Nanosecond()))))
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, ts)
}
