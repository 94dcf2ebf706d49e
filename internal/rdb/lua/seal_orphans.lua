-- sealOrphans seals the open batches whose lease ran out (their enqueuer
-- died, or lost Redis for longer than the lease) with total = the jobs
-- queued for them (the queued count enqueue_many.lua keeps in the same
-- step as it queues each) and the inbox entries rejected into them
-- (inbox_reject.lua), and takes them, and any sealed or gone, off the
-- open batches. Once sealed, enqueue_many.lua refuses the batch's jobs, so
-- that total stays exact. With a grace, a batch is sealed only when its
-- lease was seen run out grace ago (the "suspect" field) and not renewed
-- since (batch_renew.lua clears it): an enqueuer that lost Redis while
-- Redis was down for everyone (a restart) renews within the grace of its
-- return and keeps its batch.
--
-- KEYS[1] -> reqfleet:{<qname>}:batches:open
-- --
-- ARGV[1] -> the batch key prefix, reqfleet:{<qname>}:batch:
-- ARGV[2] -> the sealed batch hash's TTL in ms
-- ARGV[3] -> batches looked at, at most
-- ARGV[4] -> the grace in ms (0: seal at once)
--
-- Output:
-- Flat list of the batches sealed by this call: id, total, id, total, ...
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local key = ARGV[1] .. id
  local grace = tonumber(ARGV[4])
  if redis.call('EXISTS', key) == 0 or redis.call('HGET', key, 'sealed') == '1' then
    redis.call('ZREM', KEYS[1], id)
  else
    local seen = redis.call('HGET', key, 'suspect')
    if grace > 0 and not seen then
      redis.call('HSET', key, 'suspect', now)
    elseif grace <= 0 or now - tonumber(seen) >= grace then
      local n = tonumber(redis.call('HGET', key, 'queued') or '0') + tonumber(redis.call('HGET', key, 'rejected') or '0')
      redis.call('HSET', key, 'accepted', n, 'total', n, 'sealed', 1, 'orphaned', 1)
      redis.call('HDEL', key, 'suspect')
      redis.call('PEXPIRE', key, ARGV[2])
      redis.call('ZREM', KEYS[1], id)
      out[#out+1] = id
      out[#out+1] = n
    end
  end
end
return out
