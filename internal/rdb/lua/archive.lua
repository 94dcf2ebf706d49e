-- archive moves an active task to the archive, as asynq does with a task
-- whose handler returns SkipRetry, and trims the archive by age and size.
--
-- mirrors asynq v0.26.0 archiveCmd; differs: a task no longer active is
-- left alone (returns 0) instead of a NOT FOUND error, and the lease's ZREM
-- is not checked; returns 1 instead of OK.
--
-- KEYS[1] -> asynq:{<qname>}:t:<task_id>
-- KEYS[2] -> asynq:{<qname>}:active
-- KEYS[3] -> asynq:{<qname>}:lease
-- KEYS[4] -> asynq:{<qname>}:archived
-- KEYS[5] -> asynq:{<qname>}:processed:<yyyy-mm-dd>
-- KEYS[6] -> asynq:{<qname>}:failed:<yyyy-mm-dd>
-- KEYS[7] -> asynq:{<qname>}:processed
-- KEYS[8] -> asynq:{<qname>}:failed
-- KEYS[9] -> asynq:{<qname>}:t:
-- --
-- ARGV[1] -> task ID
-- ARGV[2] -> updated TaskMessage value (error_msg, last_failed_at)
-- ARGV[3] -> died_at UNIX timestamp
-- ARGV[4] -> cutoff timestamp (90 days ago)
-- ARGV[5] -> max number of tasks in archive (10,000)
-- ARGV[6] -> stats expiration timestamp
-- ARGV[7] -> max int64 value
--
-- Output:
-- Returns 1 if archived
-- Returns 0 if the task is not active
if redis.call("LREM", KEYS[2], 0, ARGV[1]) == 0 then
  return 0
end
redis.call("ZREM", KEYS[3], ARGV[1])
redis.call("ZADD", KEYS[4], ARGV[3], ARGV[1])
local old = redis.call("ZRANGE", KEYS[4], "-inf", ARGV[4], "BYSCORE")
if #old > 0 then
	for _, id in ipairs(old) do
		redis.call("DEL", KEYS[9] .. id)
	end
	redis.call("ZREM", KEYS[4], unpack(old))
end
local extra = redis.call("ZRANGE", KEYS[4], 0, -ARGV[5])
if #extra > 0 then
	for _, id in ipairs(extra) do
		redis.call("DEL", KEYS[9] .. id)
	end
	redis.call("ZREM", KEYS[4], unpack(extra))
end
redis.call("HSET", KEYS[1], "msg", ARGV[2], "state", "archived")
local n = redis.call("INCR", KEYS[5])
if tonumber(n) == 1 then
	redis.call("EXPIREAT", KEYS[5], ARGV[6])
end
local m = redis.call("INCR", KEYS[6])
if tonumber(m) == 1 then
	redis.call("EXPIREAT", KEYS[6], ARGV[6])
end
local total = redis.call("GET", KEYS[7])
if tonumber(total) == tonumber(ARGV[7]) then
	redis.call("SET", KEYS[7], 1)
	redis.call("SET", KEYS[8], 1)
else
	redis.call("INCR", KEYS[7])
	redis.call("INCR", KEYS[8])
end
return 1
