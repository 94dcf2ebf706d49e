-- newBatch creates a batch hash unless its id is taken.
--
-- KEYS[1] -> reqfleet:{<qname>}:batch:<batch_id>
-- KEYS[2] -> reqfleet:{<qname>}:batches
-- --
-- ARGV[1] -> the created field name ("created")
-- ARGV[2] -> created, unix ms
-- ARGV[3] -> the batch hash's TTL in ms
-- ARGV[4] -> batch id
-- ARGV[5] -> the accepted field name ("accepted")
--
-- Output:
-- Returns 1 if the batch was created
-- Returns 0 if the id exists
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[5], 0)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
return 1
