-- pop removes the given entries from a list, one occurrence each, so that
-- two readers never both get an entry.
--
-- KEYS[1] -> reqfleet:{<qname>}:results or reqfleet:{<qname>}:exceptions
-- --
-- ARGV[1:] -> the entries
--
-- Output:
-- One per entry, in order: 1 if this call removed it, else 0
local out = {}
for i, e in ipairs(ARGV) do
  out[i] = redis.call('LREM', KEYS[1], 1, e)
end
return out
