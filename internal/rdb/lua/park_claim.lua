-- park_claim takes a host's release lock in a queue for a releaser, and
-- lists the oldest parked task ids, up to ARGV[3]. An empty park list
-- leaves the parked set (and the lock is not taken).
--
-- KEYS[1] -> reqfleet:{<qname>}:park:<key>:lock (string: the releaser's token)
-- KEYS[2] -> reqfleet:{<qname>}:park:<key>
-- KEYS[3] -> reqfleet:{<qname>}:parked
-- --
-- ARGV[1] -> the releaser's token
-- ARGV[2] -> the lock's TTL, ms
-- ARGV[3] -> the most ids to list
-- ARGV[4] -> host key
--
-- Output: {} when another releaser holds the lock or nothing is parked;
-- else {"1", id...}, the oldest first
if redis.call('LLEN', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[3], ARGV[4])
  return {}
end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {}
end
local ids = redis.call('LRANGE', KEYS[2], -tonumber(ARGV[3]), -1)
local out = {'1'}
for i = #ids, 1, -1 do
  out[#out+1] = ids[i]
end
return out
