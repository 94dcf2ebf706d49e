-- recordMany records outcomes of one queue exactly once, several in one
-- call. A duplicate (its "attempt:id" already in the batch's seen set, or
-- met earlier in the same call: a job that ran twice) is dropped. What the
-- new outcomes push, add and count is gathered and written once a key, in
-- the order first met: the same end state as one outcome after the other,
-- in a few commands a call instead of several an outcome. An outcome of a
-- fetched task (task id not "") also finishes the task as asynq's doneCmd
-- does, only while the task is still on the active list: if its lease ran
-- out and asynq's recoverer moved it away, it runs again and that run's
-- outcome is the duplicate. The keys of a batch get their TTL once, at the
-- end, whether their outcomes were new or not.
--
-- mirrors asynq v0.26.0 doneCmd; differs: doneUniqueCmd too; many tasks a
-- call, each with its outcome; the task hash named by prefix and id; the
-- active list's LREM takes one id, from the tail; the ZREMs and DELs of a
-- call's tasks are one command each; a task no longer active is left alone
-- instead of a NOT FOUND error; the uniqueness lock is an ARGV ("" for
-- none), not a KEY; the processed counters are raised once a call by the
-- count, and the total is not wrapped at max int64. An exception also
-- raises asynq's failed counters as its retryCmd/archiveCmd do (with the
-- processed ones when finishing the task; alone, for a new outcome of kind
-- "f", when asynq's processor finishes it), so asynq's error rate counts
-- it. Each new outcome raises its detail field in its batch and its host's
-- in the hosts hash (at most ARGV[3] fields; past that a new host counts
-- as "other").
--
-- KEYS[1] -> reqfleet:{<qname>}:results
-- KEYS[2] -> reqfleet:{<qname>}:exceptions
-- KEYS[3] -> asynq:{<qname>}:active
-- KEYS[4] -> asynq:{<qname>}:lease
-- KEYS[5] -> asynq:{<qname>}:processed:<yyyy-mm-dd>
-- KEYS[6] -> asynq:{<qname>}:processed
-- KEYS[7] -> reqfleet:{<qname>}:hosts
-- KEYS[8] -> asynq:{<qname>}:failed:<yyyy-mm-dd>
-- KEYS[9] -> asynq:{<qname>}:failed
-- two KEYS per batch b of the call (k = 9 + 2*(b-1)):
-- KEYS[k+1] -> reqfleet:{<qname>}:seen:<batch_id>
-- KEYS[k+2] -> reqfleet:{<qname>}:batch:<batch_id>
-- --
-- ARGV[1] -> TTL in seconds of the batch keys (0: none)
-- ARGV[2] -> stats expiration timestamp (unix seconds)
-- ARGV[3] -> the hosts hash's cap of fields
-- ARGV[4] -> task key prefix (asynq:{<qname>}:t:)
-- eight ARGV per outcome i (a = 4 + 8*(i-1)):
-- ARGV[a+1] -> its batch b (1, 2, ...: the KEYS pair above)
-- ARGV[a+2] -> "attempt:id"
-- ARGV[a+3] -> the outcome's JSON line
-- ARGV[a+4] -> "r": a response; "e": an exception; "f": an exception that,
--              new and without task ID, counts as failed (asynq's
--              processor finishes its task, as done)
-- ARGV[a+5] -> asynq task ID ("" when asynq's processor finishes the task)
-- ARGV[a+6] -> uniqueness lock key ("" for none)
-- ARGV[a+7] -> the detail field ("code:200", "exc:ConnectionError"; "" for none)
-- ARGV[a+8] -> the host ("" for none)
--
-- Output:
-- One per outcome, in order: 1 if recorded, 0 if recorded before; an
-- error, nothing written, if KEYS[1] or KEYS[2] is not a list
local ttl = tonumber(ARGV[1])
local cap = tonumber(ARGV[3])
local prefix = ARGV[4]
local n = (#ARGV - 4) / 8
local nb = (#KEYS - 9) / 2
local out = {}

-- The lists must be lists (or none yet) before anything is written: an
-- RPUSH failing after the seen sets took the outcomes would lose them.
for k = 1, 2 do
  local t = redis.call('TYPE', KEYS[k]).ok
  if t ~= 'list' and t ~= 'none' then
    return redis.error_reply('WRONGTYPE ' .. KEYS[k] .. ' is not a list: no outcome recorded')
  end
end

-- cmd (on key, if one) with vals, in calls of 1000 values at most: unpack
-- takes a few thousand at most.
local function each1000(vals, cmd, key)
  for s = 1, #vals, 1000 do
    local e = math.min(s + 999, #vals)
    if key then
      redis.call(cmd, key, unpack(vals, s, e))
    else
      redis.call(cmd, unpack(vals, s, e))
    end
  end
end

-- Which outcomes are new: one SMISMEMBER a batch (an SISMEMBER a member
-- on Redis before 6.2, which lacks it), and an outcome met twice in the
-- call is new only the first time.
local asked, known, added = {}, {}, {} -- by batch: its members in the call, those seen, those new
for b = 1, nb do
  asked[b], known[b], added[b] = {}, {}, {}
end
for i = 0, n - 1 do
  local m = asked[tonumber(ARGV[5 + 8*i])]
  m[#m+1] = ARGV[6 + 8*i]
end
for b = 1, nb do
  local m = asked[b]
  for s = 1, #m, 1000 do
    local e = math.min(s + 999, #m)
    local r = redis.pcall('SMISMEMBER', KEYS[8 + 2*b], unpack(m, s, e))
    if r.err then -- Redis before 6.2: one SISMEMBER a member
      r = {}
      for j = s, e do
        r[#r+1] = redis.call('SISMEMBER', KEYS[8 + 2*b], m[j])
      end
    end
    for j = 1, #r do
      if r[j] == 1 then
        known[b][m[s + j - 1]] = true
      end
    end
  end
end

local results, exceptions = {}, {}
local counts, countOrder = {}, {}
local hostCounts, hostDetail, hostOrder = {}, {}, {}
local ids, taskKeys = {}, {}
local processed, failed = 0, 0
local function count(b, field)
  local c = counts[b]
  if not c[field] then
    c[field] = 0
    countOrder[b][#countOrder[b]+1] = field
  end
  c[field] = c[field] + 1
end
for b = 1, nb do
  counts[b], countOrder[b] = {}, {}
end
for i = 0, n - 1 do
  local a = 4 + 8*i
  local b, member, kind = tonumber(ARGV[a+1]), ARGV[a+2], ARGV[a+4]
  local exc = kind ~= 'r'
  if known[b][member] then
    out[i+1] = 0
  else
    known[b][member] = true
    added[b][#added[b]+1] = member
    if exc then
      exceptions[#exceptions+1] = ARGV[a+3]
      count(b, 'exceptions')
    else
      results[#results+1] = ARGV[a+3]
      count(b, 'responses')
    end
    local d, h = ARGV[a+7], ARGV[a+8]
    if d ~= '' then
      count(b, d)
      if h ~= '' then
        local f = h .. ' ' .. d
        if not hostCounts[f] then
          hostCounts[f], hostDetail[f] = 0, d
          hostOrder[#hostOrder+1] = f
        end
        hostCounts[f] = hostCounts[f] + 1
      end
    end
    if kind == 'f' then
      failed = failed + 1
    end
    out[i+1] = 1
  end
  local id = ARGV[a+5]
  -- An id is on the active list once (fetched from pending once): LREM
  -- -1 stops at it, looking from the tail, where the oldest tasks are, so
  -- that a record costs no more with many tasks active. (The count as a
  -- string: a Lua number is formatted with snprintf on every call.)
  if id ~= '' and redis.call('LREM', KEYS[3], '-1', id) > 0 then
    ids[#ids+1] = id
    taskKeys[#taskKeys+1] = prefix .. id
    local u = ARGV[a+6]
    if u ~= '' and redis.call('GET', u) == id then
      redis.call('DEL', u)
    end
    processed = processed + 1
    if exc then
      failed = failed + 1
    end
  end
end

for b = 1, nb do
  local seen, batch = KEYS[8 + 2*b], KEYS[9 + 2*b]
  if #added[b] > 0 then
    each1000(added[b], 'SADD', seen)
    redis.call('HINCRBY', batch, 'done', #added[b])
    for _, field in ipairs(countOrder[b]) do
      redis.call('HINCRBY', batch, field, counts[b][field])
    end
  end
  if ttl > 0 then
    redis.call('EXPIRE', seen, ttl)
    redis.call('EXPIRE', batch, ttl)
  end
end
each1000(results, 'RPUSH', KEYS[1])
each1000(exceptions, 'RPUSH', KEYS[2])
-- One call a host field; a new field over the cap goes to other.
for _, f in ipairs(hostOrder) do
  local c = hostCounts[f]
  if redis.call('HINCRBY', KEYS[7], f, c) == c and redis.call('HLEN', KEYS[7]) > cap then
    redis.call('HDEL', KEYS[7], f)
    redis.call('HINCRBY', KEYS[7], 'other ' .. hostDetail[f], c)
  end
end
each1000(ids, 'ZREM', KEYS[4])
each1000(taskKeys, 'DEL')
for _, c in ipairs({{KEYS[5], KEYS[6], processed}, {KEYS[8], KEYS[9], failed}}) do
  if c[3] > 0 then
    if redis.call('INCRBY', c[1], c[3]) == c[3] then
      redis.call('EXPIREAT', c[1], ARGV[2])
    end
    redis.call('INCRBY', c[2], c[3])
  end
end
return out
