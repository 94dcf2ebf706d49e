-- auto_observe feeds one response to a host's adaptive throttling, shared
-- by the fleet (Scrapy's AutoThrottle, with the state in Redis so that
-- every worker acts as one client): the delay between requests moves
-- halfway towards latency / target concurrency, never below that target;
-- a non-200 answer never lowers it (error pages are quick); a 429, a 503
-- or a timeout doubles it. It stays within [min, max].
--
-- KEYS[1] -> reqfleet:{host:<key>}:auto (hash: delay, latency, rate)
-- --
-- ARGV[1] -> the response's latency, seconds
-- ARGV[2] -> "ok" (a 200), "other" (another status) or "backoff" (429, 503, a timeout)
-- ARGV[3] -> target concurrency (requests in flight fleet-wide)
-- ARGV[4] -> the least delay, seconds
-- ARGV[5] -> the most delay, seconds
-- ARGV[6] -> the first delay, seconds (no state yet)
-- ARGV[7] -> the state's TTL, seconds
--
-- Output: the new delay, seconds, as a string
local d = tonumber(redis.call('HGET', KEYS[1], 'delay') or ARGV[6])
local lat = tonumber(ARGV[1])
local new
if ARGV[2] == 'backoff' then
  new = d * 2
else
  local target = lat / tonumber(ARGV[3])
  new = math.max(target, (d + target) / 2)
  if ARGV[2] ~= 'ok' and new < d then
    new = d
  end
end
new = math.min(math.max(tonumber(ARGV[4]), new), tonumber(ARGV[5]))
redis.call('HSET', KEYS[1], 'delay', tostring(new), 'latency', tostring(lat), 'rate', tostring(1 / new))
redis.call('EXPIRE', KEYS[1], ARGV[7])
return tostring(new)
