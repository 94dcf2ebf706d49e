-- host_admit admits jobs to a limited host's concurrency slots: a leased
-- slot for each member (a job, "<queue> <task id>"), in order, while the
-- host is not paused and its slots are not all taken. A member that holds
-- a slot already (a job admitted by a releaser, or run again) keeps it,
-- its lease renewed. Expired slots (a dead worker's) are freed first.
--
-- KEYS[1] -> reqfleet:{host:<key>}:slots (sorted set: member -> lease end, ms)
-- KEYS[2] -> reqfleet:{host:<key>}:pause (string: paused until, ms)
-- --
-- ARGV[1] -> now, Unix ms
-- ARGV[2] -> lease end of the slots taken or renewed, Unix ms
-- ARGV[3] -> the most slots held at once (0: no concurrency limit)
-- ARGV[4] -> "1": adopt only (members without a slot are refused, none taken)
-- ARGV[5..] -> the members
--
-- Output: {paused_until, earliest_lease_end, code...}: paused_until is the
-- pause's end when paused (every code 0) else 0; earliest_lease_end is the
-- first slot lease to end when a member was refused for want of a slot,
-- else 0; then one code per member: 0 refused, 1 slot taken, 2 slot held
-- already (renewed).
local now = tonumber(ARGV[1])
local out = {0, 0}
local p = redis.call('GET', KEYS[2])
if p and tonumber(p) > now then
  out[1] = tonumber(p)
  for i = 5, #ARGV do
    out[#out+1] = 0
  end
  return out
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local limit = tonumber(ARGV[3])
local adoptOnly = ARGV[4] == '1'
local n = redis.call('ZCARD', KEYS[1])
local refused = false
for i = 5, #ARGV do
  local m = ARGV[i]
  if redis.call('ZSCORE', KEYS[1], m) then
    redis.call('ZADD', KEYS[1], ARGV[2], m)
    out[#out+1] = 2
  elseif not adoptOnly and (limit == 0 or n < limit) then
    redis.call('ZADD', KEYS[1], ARGV[2], m)
    n = n + 1
    out[#out+1] = 1
  else
    out[#out+1] = 0
    refused = true
  end
end
if refused and limit > 0 and n >= limit then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if first[2] then
    out[2] = tonumber(first[2])
  end
end
if n > 0 then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) - now + 60000)
end
return out
