-- pause_host pauses a host until ARGV[1], unless it is paused until later
-- already; the key expires with the pause.
--
-- KEYS[1] -> reqfleet:{host:<key>}:pause (string: paused until, ms)
-- --
-- ARGV[1] -> paused until, Unix ms
-- ARGV[2] -> now, Unix ms
--
-- Output: the pause's end after the call, Unix ms
local until_ = tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur >= until_ then
  return cur
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', math.max(until_ - tonumber(ARGV[2]), 1))
return until_
