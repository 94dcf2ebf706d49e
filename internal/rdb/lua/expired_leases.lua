-- expiredLeases lists up to ARGV[3] tasks of a queue whose lease ended
-- before ARGV[1], with their messages, for reqfleet's own recovery of
-- lease-expired tasks (recover_leases then acts on each, if still
-- expired). An id on the lease set without a task hash is dropped from the
-- lease set and the active list (nothing can run or finish it).
--
-- mirrors asynq v0.26.0 listLeaseExpiredCmd; differs: at most ARGV[3]
-- tasks, those whose lease ended before ARGV[1] (not at or before); ids,
-- messages and started marks (mark_started.lua) returned; an id without a
-- task hash is dropped.
--
-- KEYS[1] -> asynq:{<qname>}:lease
-- KEYS[2] -> asynq:{<qname>}:active
-- --
-- ARGV[1] -> now, Unix time in seconds (with a fraction)
-- ARGV[2] -> task key prefix (asynq:{<qname>}:t:)
-- ARGV[3] -> the most tasks to list
-- ARGV[4] -> the started mark's field (reqfleet_started)
--
-- Output:
-- A flat list: id, encoded TaskMessage, started mark ("" for none), id,
-- encoded TaskMessage, started mark, ...
local out = {}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  local msg, started = unpack(redis.call('HMGET', ARGV[2] .. id, 'msg', ARGV[4]))
  if msg then
    out[#out+1] = id
    out[#out+1] = msg
    out[#out+1] = started or ''
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('LREM', KEYS[2], 0, id)
  end
end
return out
