-- inboxRestamp replaces a processing entry with its new stamp.
--
-- KEYS[1] -> reqfleet:{<qname>}:inbox:processing
-- --
-- ARGV[1] -> the entry as stamped now
-- ARGV[2] -> the entry with its new stamp
--
-- Output:
-- Returns 1 if replaced
-- Returns 0 if the old entry is gone
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
redis.call('LPUSH', KEYS[1], ARGV[2])
return 1
