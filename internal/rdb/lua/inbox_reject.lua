-- inboxReject moves a processing entry to the exceptions list as the given
-- exception line, and counts it in its batch as a job done with an
-- exception, so that the batch adds up: done, exceptions and rejected
-- (which the seal adds to the total) +1; and, when the batch is sealed
-- already, its total and accepted +1. In one step with the move: a
-- forwarder killed at any point leaves the entry either in the processing
-- list, not counted, or out of it, counted once.
--
-- KEYS[1] -> reqfleet:{<qname>}:inbox:processing
-- KEYS[2] -> reqfleet:{<qname>}:exceptions
-- KEYS[3] -> reqfleet:{<qname>}:batch:<batch_id>, the exception's batch
-- --
-- ARGV[1] -> the stamped entry
-- ARGV[2] -> the exception's JSON line
--
-- Output:
-- Returns 1 if moved
-- Returns 0 if the entry is gone
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
redis.call('RPUSH', KEYS[2], ARGV[2])
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HINCRBY', KEYS[3], 'done', 1)
  redis.call('HINCRBY', KEYS[3], 'exceptions', 1)
  redis.call('HINCRBY', KEYS[3], 'rejected', 1)
  if redis.call('HGET', KEYS[3], 'sealed') == '1' then
    redis.call('HINCRBY', KEYS[3], 'total', 1)
    redis.call('HINCRBY', KEYS[3], 'accepted', 1)
  end
end
return 1
