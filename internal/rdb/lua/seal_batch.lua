-- sealBatch seals a batch for its enqueuer: total = accepted = the jobs
-- queued for it (its queued count, when enqueue_many.lua counted its jobs;
-- else the enqueuer's count) and the inbox entries rejected into it
-- (inbox_reject.lua), sealed = 1, the hash's TTL, and takes it off the
-- open batches. Idempotent.
--
-- KEYS[1] -> reqfleet:{<qname>}:batch:<batch_id>
-- KEYS[2] -> reqfleet:{<qname>}:batches:open
-- --
-- ARGV[1] -> the enqueuer's count of the jobs it queued
-- ARGV[2] -> the batch hash's TTL in ms
-- ARGV[3] -> batch id
-- ARGV[4] -> "1": its jobs were counted in queued; "0": not
--
-- Output:
-- Returns the jobs queued: the total written, less the entries rejected
local n = tonumber(ARGV[1])
if ARGV[4] == '1' then
  n = tonumber(redis.call('HGET', KEYS[1], 'queued') or '0')
end
local total = n + tonumber(redis.call('HGET', KEYS[1], 'rejected') or '0')
redis.call('HSET', KEYS[1], 'accepted', total, 'total', total, 'sealed', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[3])
return n
