-- inboxReject moves a processing entry to the exceptions list as the given
-- exception line.
--
-- KEYS[1] -> reqfleet:{<qname>}:inbox:processing
-- KEYS[2] -> reqfleet:{<qname>}:exceptions
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
return 1
