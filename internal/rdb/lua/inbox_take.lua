-- inboxTake moves up to ARGV[3] entries from the inbox's tail (the oldest)
-- to the processing list, each stamped "BATCH\nSEQ\n" + entry, for the
-- forwarder holding the lease.
--
-- KEYS[1] -> reqfleet:{<qname>}:inbox
-- KEYS[2] -> reqfleet:{<qname>}:inbox:processing
-- KEYS[3] -> reqfleet:{<qname>}:inbox:lease
-- KEYS[4] -> reqfleet:{<qname>}:inbox:seq
-- --
-- ARGV[1] -> the forwarder's lease token
-- ARGV[2] -> batch id
-- ARGV[3] -> the most entries to take
--
-- Output:
-- The stamped entries, oldest first
-- An error "NOLEASE ..." if ARGV[1] is not the lease's token
if redis.call('GET', KEYS[3]) ~= ARGV[1] then
  return redis.error_reply('NOLEASE inbox lease lost')
end
local out = {}
for i = 1, tonumber(ARGV[3]) do
  local v = redis.call('RPOP', KEYS[1])
  if not v then break end
  local n = redis.call('INCR', KEYS[4])
  local e = ARGV[2] .. '\n' .. tostring(n) .. '\n' .. v
  redis.call('LPUSH', KEYS[2], e)
  out[#out + 1] = e
end
return out
