-- set_limit sets (or, ARGV[2] empty, removes) a host's limit in the
-- fleet's limits table and raises the table's version, so that every
-- worker reloads it; a new host past ARGV[3] limits is refused.
--
-- KEYS[1] -> reqfleet:{limits}:table (hash: host or pattern -> limit JSON)
-- KEYS[2] -> reqfleet:{limits}:version
-- --
-- ARGV[1] -> host or pattern
-- ARGV[2] -> the limit's JSON, or "" to remove
-- ARGV[3] -> the most limits the table holds
--
-- Output: 1 set or removed; 0 nothing to remove; -1 refused (table full)
if ARGV[2] == '' then
  if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
    return 0
  end
elseif redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  return -1
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
redis.call('INCR', KEYS[2])
return 1
