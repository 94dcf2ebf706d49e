-- moveToRetrying takes one exception entry for retry: off the exceptions
-- list, onto the retrying list, and off its batch's counters. When the
-- batch hash has expired, the retried jobs make it anew, sealed, one more
-- job each, so that waiting for it ends when they are done.
--
-- KEYS[1] -> reqfleet:{<qname>}:exceptions
-- KEYS[2] -> reqfleet:{<qname>}:retrying
-- KEYS[3] -> reqfleet:{<qname>}:batch:<batch_id>
-- KEYS[4] -> reqfleet:{<qname>}:batches
-- --
-- ARGV[1] -> the exception entry (its JSON line)
-- ARGV[2] -> the done field name ("done")
-- ARGV[3] -> the exceptions field name ("exceptions")
-- ARGV[4] -> now, unix ms (created, when the batch is made anew)
-- ARGV[5] -> the batch hash's TTL in seconds
-- ARGV[6] -> batch id
-- ARGV[7] -> the exception's detail field ("exc:ConnectionError"; "" for none)
--
-- Output:
-- Returns 1 if moved
-- Returns 2 if the entry is not in the exceptions list but in the retrying
--   list (a try whose reply was lost moved it, or another run is retrying it)
-- Returns 0 if in neither (another run retried it)
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  if redis.call('LPOS', KEYS[2], ARGV[1]) then
    return 2
  end
  return 0
end
redis.call('RPUSH', KEYS[2], ARGV[1])
if redis.call('EXISTS', KEYS[3]) == 1 and not redis.call('HGET', KEYS[3], 'revived') then
  redis.call('HINCRBY', KEYS[3], ARGV[2], -1)
  redis.call('HINCRBY', KEYS[3], ARGV[3], -1)
  if ARGV[7] ~= '' then
    redis.call('HINCRBY', KEYS[3], ARGV[7], -1)
  end
  return 1
end
-- The batch's counters have expired: the retried jobs make it anew, sealed,
-- one more job each, so that waiting for it ends when they are done.
redis.call('HSET', KEYS[3], 'revived', '1', 'sealed', '1')
redis.call('HSETNX', KEYS[3], 'created', ARGV[4])
redis.call('HINCRBY', KEYS[3], 'total', 1)
redis.call('HINCRBY', KEYS[3], 'accepted', 1)
redis.call('EXPIRE', KEYS[3], ARGV[5])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[6])
return 1
