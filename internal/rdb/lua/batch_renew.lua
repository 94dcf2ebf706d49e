-- batchRenew extends the leases of open batches (their enqueuer is alive),
-- and clears a sweep's sighting of a lease run out (seal_orphans.lua).
--
-- KEYS[1] -> reqfleet:{<qname>}:batches:open
-- --
-- ARGV[1]    -> the lease in ms, from Redis' clock
-- ARGV[2]    -> the batch key prefix, reqfleet:{<qname>}:batch:
-- ARGV[3...] -> batch ids
--
-- Output:
-- One per batch, in order: 1 if renewed, 0 if not open (sealed, by its
-- enqueuer or, its lease gone, by seal_orphans.lua; or dropped)
local t = redis.call('TIME')
local expiry = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local out = {}
for i = 3, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], expiry, ARGV[i])
    redis.call('HDEL', ARGV[2] .. ARGV[i], 'suspect')
    out[i-2] = 1
  else
    out[i-2] = 0
  end
end
return out
