-- park takes an active task off the active list and its lease and parks it
-- on its host's park list (a job whose host is over its limit), in one
-- step, so that a crash either leaves it active (the lease recoverer
-- requeues it) or parked (a releaser releases it). The queue's parked set
-- gets the host, due at the wake time (or sooner, if due sooner already).
--
-- KEYS[1] -> asynq:{<qname>}:active
-- KEYS[2] -> asynq:{<qname>}:lease
-- KEYS[3] -> reqfleet:{<qname>}:park:<key> (list: task ids, the newest at the head)
-- KEYS[4] -> reqfleet:{<qname>}:parked (sorted set: host key -> due, Unix ms)
-- KEYS[5] -> asynq:{<qname>}:t:<task_id>
-- --
-- ARGV[1] -> task id
-- ARGV[2] -> host key
-- ARGV[3] -> due, Unix ms
-- ARGV[4] -> now, Unix ms
--
-- Output: 1 parked; 0 the task was not active (left alone)
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('EXISTS', KEYS[5]) == 0 then
  return 0
end
redis.call('LPUSH', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[5], 'state', 'pending', 'parked_at', ARGV[4])
local s = redis.call('ZSCORE', KEYS[4], ARGV[2])
if not s or tonumber(s) > tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])
end
return 1
