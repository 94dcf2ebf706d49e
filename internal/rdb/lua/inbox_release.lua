-- inboxRelease gives the inbox lease up, if the caller holds it.
--
-- KEYS[1] -> reqfleet:{<qname>}:inbox:lease
-- --
-- ARGV[1] -> the forwarder's lease token
--
-- Output:
-- Returns 1 if released
-- Returns 0 if the lease is another's or gone
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
