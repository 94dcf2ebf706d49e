-- inboxRenew extends the inbox lease, if the caller holds it.
--
-- KEYS[1] -> reqfleet:{<qname>}:inbox:lease
-- --
-- ARGV[1] -> the forwarder's lease token
-- ARGV[2] -> the lease's new TTL in ms
--
-- Output:
-- Returns 1 if extended
-- Returns 0 if the lease is another's or gone
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
