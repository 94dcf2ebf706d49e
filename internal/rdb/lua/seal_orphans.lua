-- sealOrphans seals the open batches whose lease ran out (their enqueuer
-- died, or lost Redis for longer than the lease) with total = the jobs
-- queued for them (the queued count enqueue_many.lua keeps in the same
-- step as it queues each), and takes them, and any sealed or gone, off the
-- open batches. Once sealed, enqueue_many.lua refuses the batch's jobs, so
-- that total stays exact.
--
-- KEYS[1] -> reqfleet:{<qname>}:batches:open
-- --
-- ARGV[1] -> the batch key prefix, reqfleet:{<qname>}:batch:
-- ARGV[2] -> the sealed batch hash's TTL in ms
-- ARGV[3] -> batches looked at, at most
--
-- Output:
-- Flat list of the batches sealed by this call: id, total, id, total, ...
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local key = ARGV[1] .. id
  if redis.call('EXISTS', key) == 1 and redis.call('HGET', key, 'sealed') ~= '1' then
    local n = tonumber(redis.call('HGET', key, 'queued') or '0')
    redis.call('HSET', key, 'accepted', n, 'total', n, 'sealed', 1, 'orphaned', 1)
    redis.call('PEXPIRE', key, ARGV[2])
    out[#out+1] = id
    out[#out+1] = n
  end
  redis.call('ZREM', KEYS[1], id)
end
return out
