package worker

import (
	"context"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/reqfleet/reqfleet/tasks"
)

// Defaults of the worker's throughput settings.
const (
	// DefaultTaskCheckInterval is Config.TaskCheckInterval's default. An
	// idle fetcher sleeps between a half and one and a half of it between
	// polls (one Redis call a queue each), so a job enqueued into an idle
	// fleet waits 75ms at most and an idle worker costs Redis 20 polls a
	// second a queue; a queue just emptied is polled again after 1ms, then
	// 2, 4, ... up to the interval (fetch.go's loop). The asynq servers
	// beside the fetcher poll every maintenanceCheckInterval; with
	// AsynqProcessor, shard i polls every i+1 intervals
	// (shardCheckInterval). See the README's Performance section.
	DefaultTaskCheckInterval = 50 * time.Millisecond
	// maintenanceCheckInterval is the idle poll of the asynq servers that
	// run beside the fetcher (asynq's default).
	maintenanceCheckInterval = time.Second
	// DefaultRecordBatch is Config.RecordBatch's default.
	DefaultRecordBatch = 64
	// DefaultRecordLinger is Config.RecordLinger's default.
	DefaultRecordLinger = 2 * time.Millisecond
	// sessionsPerShard is how many sessions make one more default shard.
	sessionsPerShard = 8
	// maxDefaultShards caps the default number of shards.
	maxDefaultShards = 8
	// recordFlushers is how many batched record calls may be in flight.
	recordFlushers = 2
)

// shardCount is Config.Shards: n when given (but never more than the
// sessions, so that each shard has one), else one per sessionsPerShard
// sessions, between 1 and maxDefaultShards.
func shardCount(n, concurrency int) int {
	if n == 0 {
		n = min(max(concurrency/sessionsPerShard, 1), maxDefaultShards)
	}
	return max(min(n, concurrency), 1)
}

// shardConcurrencies splits the sessions among the shards, as evenly as
// possible; they add up to concurrency, so that a job a shard takes always
// finds a free session waiting.
func shardConcurrencies(concurrency, shards int) []int {
	out := make([]int, shards)
	for i := range out {
		out[i] = concurrency / shards
		if i < concurrency%shards {
			out[i]++
		}
	}
	return out
}

// shardCheckInterval is how often shard i polls an empty queue: the first
// every interval, the next ones less and less often (the i-th every i+1
// intervals). A job enqueued into an idle worker waits for the first
// shard's poll as it would with one shard, while the idle Redis calls of S
// shards add up to those of about 1 + ln S shards, not S. Under load no
// shard sleeps: asynq polls again at once while it finds jobs.
func shardCheckInterval(interval time.Duration, i int) time.Duration {
	return interval * time.Duration(i+1)
}

// startShards starts one asynq server per concurrency; if one fails, those
// started are shut down again.
func startShards(newServer func(shard, concurrency int) *asynq.Server, h asynq.Handler, concurrencies []int) ([]*asynq.Server, error) {
	servers := make([]*asynq.Server, 0, len(concurrencies))
	for i, c := range concurrencies {
		srv := newServer(i, c)
		if err := srv.Start(h); err != nil {
			shutdownShards(servers)
			return nil, err
		}
		servers = append(servers, srv)
	}
	return servers, nil
}

// shutdownShards shuts the servers down at once; each gives its jobs in
// flight the shutdown timeout.
func shutdownShards(servers []*asynq.Server) {
	var wg sync.WaitGroup
	for _, srv := range servers {
		wg.Go(srv.Shutdown)
	}
	wg.Wait()
}

// recordOnce records an outcome through the batcher while the worker runs,
// else on its own.
func (w *Worker) recordOnce(ctx context.Context, queue string, t tasks.Task, o tasks.Outcome, a *ack) (bool, error) {
	if w.batch != nil {
		return w.batch.finish(ctx, queue, t, o, a)
	}
	return w.rec.finish(ctx, queue, t, o, a)
}
