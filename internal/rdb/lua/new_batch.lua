-- newBatch creates a batch hash unless its id is taken, and gives it its
-- enqueuer's lease in the open batches. Idempotent: run again with the same
-- token (its reply lost, the caller tries again) it answers 1 again.
--
-- KEYS[1] -> reqfleet:{<qname>}:batch:<batch_id>
-- KEYS[2] -> reqfleet:{<qname>}:batches
-- KEYS[3] -> reqfleet:{<qname>}:batches:open
-- --
-- ARGV[1] -> the created field name ("created")
-- ARGV[2] -> created, unix ms
-- ARGV[3] -> the batch hash's TTL in ms
-- ARGV[4] -> batch id
-- ARGV[5] -> the accepted field name ("accepted")
-- ARGV[6] -> the lease in ms, from Redis' clock (0: none, not in the open batches)
-- ARGV[7] -> the creator's token, random (kept in the "owner" field)
--
-- Output:
-- Returns 1 if the batch was created (by this call, or an earlier one with
--   the same token)
-- Returns 0 if the id exists
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  if redis.call('HGET', KEYS[1], 'owner') == ARGV[7] then
    return 1
  end
  return 0
end
redis.call('HSET', KEYS[1], ARGV[5], 0, 'owner', ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
local lease = tonumber(ARGV[6])
if lease > 0 then
  local t = redis.call('TIME')
  redis.call('ZADD', KEYS[3], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + lease, ARGV[4])
end
return 1
