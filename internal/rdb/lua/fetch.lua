-- fetch takes up to ARGV[3] tasks from a queue: each moves from the
-- pending list to the active list under a lease, unless the queue is
-- paused.
--
-- mirrors asynq v0.26.0 dequeueCmd; differs: up to ARGV[3] tasks a call,
-- returned as a list of messages (empty when paused or empty); the ids
-- move from the pending list's tail to the active list's head with one
-- LRANGE, LTRIM and LPUSH, in the order one RPOPLPUSH after the other
-- would leave them, and their leases are set in one ZADD; an id without
-- a task hash (which dequeueCmd would leave on the active list for good)
-- is dropped.
--
-- KEYS[1] -> asynq:{<qname>}:pending
-- KEYS[2] -> asynq:{<qname>}:paused
-- KEYS[3] -> asynq:{<qname>}:active
-- KEYS[4] -> asynq:{<qname>}:lease
-- --
-- ARGV[1] -> initial lease expiration Unix time
-- ARGV[2] -> task key prefix (asynq:{<qname>}:t:)
-- ARGV[3] -> the most tasks to take
--
-- Output:
-- The encoded TaskMessages taken, in the order taken
local out = {}
if redis.call('EXISTS', KEYS[2]) == 1 then
  return out
end
local most = tonumber(ARGV[3])
if most < 1 then
  return out
end
-- The oldest tasks are at the tail: RPOPLPUSH would take the last first.
local ids = redis.call('LRANGE', KEYS[1], -most, -1)
if #ids == 0 then
  return out
end
redis.call('LTRIM', KEYS[1], 0, -#ids - 1)
local taken, leased = {}, {}
for i = #ids, 1, -1 do
  local id = ids[i]
  local key = ARGV[2] .. id
  local msg = redis.call('HGET', key, 'msg')
  if msg then
    redis.call('HSET', key, 'state', 'active')
    redis.call('HDEL', key, 'pending_since')
    taken[#taken+1] = id
    leased[#leased+1] = ARGV[1]
    leased[#leased+1] = id
    out[#out+1] = msg
  end
end
-- LPUSH pushes its values one after the other, as the RPOPLPUSHes did;
-- the leases in one ZADD (unpack takes a few thousand values at most).
for s = 1, #taken, 1000 do
  redis.call('LPUSH', KEYS[3], unpack(taken, s, math.min(s + 999, #taken)))
end
for s = 1, #leased, 1000 do
  redis.call('ZADD', KEYS[4], unpack(leased, s, math.min(s + 999, #leased)))
end
return out
