-- park_release moves parked tasks, admitted by a releaser (their rate
-- tokens and slots taken), back to the head of the pending list, the
-- oldest to be taken first; adds the time each waited to its task's
-- throttled_ms; sets the host's next due time in the parked set (or takes
-- it off when its park list is empty); and gives the release lock up.
--
-- KEYS[1] -> reqfleet:{<qname>}:park:<key>
-- KEYS[2] -> reqfleet:{<qname>}:parked
-- KEYS[3] -> asynq:{<qname>}:pending
-- KEYS[4] -> reqfleet:{<qname>}:park:<key>:lock
-- --
-- ARGV[1] -> the releaser's token
-- ARGV[2] -> host key
-- ARGV[3] -> next due, Unix ms
-- ARGV[4] -> now, Unix ms
-- ARGV[5] -> task key prefix (asynq:{<qname>}:t:)
-- ARGV[6] -> now, Unix ns (asynq's pending_since)
-- ARGV[7..] -> the task ids to release, the oldest first
--
-- Output: how many tasks moved (an id no longer parked is skipped)
local now = tonumber(ARGV[4])
local moved = 0
for i = #ARGV, 7, -1 do
  local id = ARGV[i]
  if redis.call('LREM', KEYS[1], -1, id) == 1 then
    local key = ARGV[5] .. id
    if redis.call('EXISTS', key) == 1 then
      local at = redis.call('HGET', key, 'parked_at')
      if at then
        redis.call('HINCRBY', key, 'throttled_ms', math.max(0, now - tonumber(at)))
        redis.call('HDEL', key, 'parked_at')
      end
      redis.call('HSET', key, 'pending_since', ARGV[6])
      redis.call('RPUSH', KEYS[3], id)
      moved = moved + 1
    end
  end
end
if redis.call('LLEN', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[2])
else
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
end
if redis.call('GET', KEYS[4]) == ARGV[1] then
  redis.call('DEL', KEYS[4])
end
return moved
