-- forward moves the tasks of a queue that are due from the scheduled set
-- (asynq's ProcessAt, ProcessIn) and from the retry set (asynq's and
-- reqfleet's retries) to the pending list, or to their group, as asynq's
-- forwarder does every few seconds in an asynq server: the fetcher runs
-- no asynq server, so each worker runs this instead (worker/forward.go).
--
-- mirrors asynq v0.26.0 forwardCmd; differs: both sets in one call (the
-- scheduled set first, as forwardAll), up to ARGV[5] tasks each; the due
-- time has milliseconds (the group score stays whole seconds, ARGV[6]);
-- returns how many tasks it moved and the earliest score left in either
-- set, so that the caller knows when to call again.
--
-- KEYS[1] -> asynq:{<qname>}:scheduled
-- KEYS[2] -> asynq:{<qname>}:retry
-- KEYS[3] -> asynq:{<qname>}:pending
-- --
-- ARGV[1] -> now, Unix time in seconds (with a fraction)
-- ARGV[2] -> task key prefix (asynq:{<qname>}:t:)
-- ARGV[3] -> now, Unix time in nanoseconds
-- ARGV[4] -> group key prefix (asynq:{<qname>}:g:)
-- ARGV[5] -> the most tasks to move from each set
-- ARGV[6] -> now, Unix time in whole seconds
--
-- Output:
-- {moved, earliest score left ("" when both sets are empty)}
local moved = 0
for k = 1, 2 do
  local ids = redis.call("ZRANGEBYSCORE", KEYS[k], "-inf", ARGV[1], "LIMIT", 0, tonumber(ARGV[5]))
  for _, id in ipairs(ids) do
    local taskKey = ARGV[2] .. id
    local group = redis.call("HGET", taskKey, "group")
    if group and group ~= '' then
      redis.call("ZADD", ARGV[4] .. group, ARGV[6], id)
      redis.call("ZREM", KEYS[k], id)
      redis.call("HSET", taskKey, "state", "aggregating")
    else
      redis.call("LPUSH", KEYS[3], id)
      redis.call("ZREM", KEYS[k], id)
      redis.call("HSET", taskKey, "state", "pending", "pending_since", ARGV[3])
    end
  end
  moved = moved + #ids
end
local next = ""
for k = 1, 2 do
  local first = redis.call("ZRANGE", KEYS[k], 0, 0, "WITHSCORES")
  if #first == 2 and (next == "" or tonumber(first[2]) < tonumber(next)) then
    next = first[2]
  end
end
return {moved, next}
