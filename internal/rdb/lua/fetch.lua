-- fetch takes up to ARGV[3] tasks from a queue: each moves from the
-- pending list to the active list under a lease, unless the queue is
-- paused.
--
-- mirrors asynq v0.26.0 dequeueCmd; differs: up to ARGV[3] tasks a call,
-- returned as a list of messages (empty when paused or empty), their
-- leases set in one ZADD; an id
-- without a task hash (which dequeueCmd would leave on the active list for
-- good) is dropped from the active list.
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
local leased = {}
for i = 1, tonumber(ARGV[3]) do
  local id = redis.call('RPOPLPUSH', KEYS[1], KEYS[3])
  if not id then
    break
  end
  local key = ARGV[2] .. id
  local msg = redis.call('HGET', key, 'msg')
  if msg then
    redis.call('HSET', key, 'state', 'active')
    redis.call('HDEL', key, 'pending_since')
    leased[#leased+1] = ARGV[1]
    leased[#leased+1] = id
    out[#out+1] = msg
  else
    redis.call('LREM', KEYS[3], 1, id)
  end
end
-- The leases in one ZADD (unpack takes a few thousand values at most).
for s = 1, #leased, 1000 do
  redis.call('ZADD', KEYS[4], unpack(leased, s, math.min(s + 999, #leased)))
end
return out
