-- retry moves an active task to the retry set, to run again at ARGV[4]:
-- its job's retry policy tries it again (the worker's own decision, not a
-- crash), and adds the try just made to the task's tries history, in the
-- same step. No outcome is recorded: the job's one outcome is its last
-- try's. The task keeps its id; asynq's forwarder (or the worker's,
-- worker/forward.go) puts it back on the pending list when it is due.
--
-- mirrors asynq v0.26.0 retryCmd; differs: as asynq's Retry with
-- isFailure false (asynq's IsFailure returning false): the retried count
-- is not raised and the processed and failed stats are not counted (the
-- retried count is the job's crash count, recover.go, and its asynq
-- MaxRetry budget); a task no longer active, or whose message is not the
-- one the worker fetched (another worker's recoverer took it), is left
-- alone (returns 0) instead of a NOT FOUND error; the lease's ZREM is not
-- checked; the score has milliseconds; the tries history is appended.
--
-- KEYS[1] -> asynq:{<qname>}:t:<task_id>
-- KEYS[2] -> asynq:{<qname>}:active
-- KEYS[3] -> asynq:{<qname>}:lease
-- KEYS[4] -> asynq:{<qname>}:retry
-- KEYS[5] -> reqfleet:{<qname>}:tries:<task_id>
-- --
-- ARGV[1] -> task ID
-- ARGV[2] -> the encoded TaskMessage the worker fetched
-- ARGV[3] -> the updated TaskMessage (error_msg, last_failed_at)
-- ARGV[4] -> when to run it again, Unix seconds (with a fraction)
-- ARGV[5] -> the try's JSON
-- ARGV[6] -> the most tries the history keeps
-- ARGV[7] -> TTL in seconds of the history
--
-- Output:
-- Returns 1 if moved to the retry set
-- Returns 0 if the task is not active or its message changed
if redis.call("HGET", KEYS[1], "msg") ~= ARGV[2] then
  return 0
end
if redis.call("LREM", KEYS[2], 0, ARGV[1]) == 0 then
  return 0
end
redis.call("ZREM", KEYS[3], ARGV[1])
redis.call("ZADD", KEYS[4], ARGV[4], ARGV[1])
redis.call("HSET", KEYS[1], "msg", ARGV[3], "state", "retry")
redis.call("RPUSH", KEYS[5], ARGV[5])
redis.call("LTRIM", KEYS[5], -tonumber(ARGV[6]), -1)
redis.call("EXPIRE", KEYS[5], ARGV[7])
return 1
