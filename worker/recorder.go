package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/tasks"
)

// recordScript records one outcome exactly once. KEYS: the results or
// exceptions list, the batch's seen set, the batch hash. ARGV: the outcome's
// "attempt:id", its JSON line, the batch counter to raise ("responses" or
// "exceptions"), the TTL in seconds of the batch's keys. It returns 1 when
// recorded, 0 when this attempt of this job was recorded before (a job that
// asynq ran twice).
var recordScript = redis.NewScript(`
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then
  return 0
end
redis.call('RPUSH', KEYS[1], ARGV[2])
redis.call('HINCRBY', KEYS[3], 'done', 1)
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[2], ttl)
  redis.call('EXPIRE', KEYS[3], ttl)
end
return 1
`)

// recorder writes outcomes to Redis.
type recorder struct {
	rdb redis.UniversalClient
	ttl time.Duration
}

// record stores the outcome of task t run from queue. It reports whether the
// outcome was new; false means a duplicate run whose outcome was dropped.
func (r *recorder) record(ctx context.Context, queue string, t tasks.Task, o tasks.Outcome) (bool, error) {
	line, err := json.Marshal(o)
	if err != nil {
		return false, fmt.Errorf("encode outcome: %w", err)
	}
	list, counter := tasks.ResultsKey(queue), tasks.BatchResponses
	if o.Kind() == "exception" {
		list, counter = tasks.ExceptionsKey(queue), tasks.BatchExceptions
	}
	keys := []string{list, tasks.SeenKey(queue, t.Batch), tasks.BatchKey(queue, t.Batch)}
	n, err := recordScript.Run(ctx, r.rdb, keys, t.OutcomeKey(), line, counter, int64(r.ttl/time.Second)).Int()
	if err != nil {
		return false, fmt.Errorf("record outcome: %w", err)
	}
	return n == 1, nil
}
