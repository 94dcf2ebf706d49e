-- recordNew records outcomes of one queue that the caller takes to be new,
-- several in one call, as record_many.lua records them: the same end
-- state, key by key, when none of them is recorded yet. The caller has
-- gathered what they push, add and count (each in the order first met);
-- the script checks that none is in its batch's seen set and then writes
-- it all, with few values an outcome (its line, its member, its task's
-- id) and no work of Lua's an outcome but the active list's LREM. If any
-- is recorded before (a job that ran twice), it writes nothing and
-- returns 0: the caller then records them with record_many.lua, which
-- sorts the new from the old one by one. An outcome met twice in one
-- call is the caller's to send to record_many.lua.
--
-- mirrors asynq v0.26.0 doneCmd; differs: as record_many.lua (doneUniqueCmd
-- too; many tasks a call; the task hash named by prefix and id; a task no
-- longer active is left alone; the uniqueness lock an ARGV; the counters
-- raised once a call by the count; an exception raises asynq's failed
-- counters), all or nothing: any outcome recorded before and none is
-- written.
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
-- ARGV[1]  -> TTL in seconds of the batch keys ("0": none)
-- ARGV[2]  -> stats expiration timestamp (unix seconds)
-- ARGV[3]  -> the hosts hash's cap of fields
-- ARGV[4]  -> task key prefix (asynq:{<qname>}:t:)
-- ARGV[5]  -> R, the responses' lines
-- ARGV[6]  -> E, the exceptions' lines
-- ARGV[7]  -> F, the new exceptions without task ID that count as failed
--             (asynq's processor finishes their tasks, as done)
-- ARGV[8]  -> T, the tasks to finish (outcomes with a task ID)
-- ARGV[9]  -> of them the last TE, the tasks of exceptions (failed when
--             finished)
-- ARGV[10] -> H, the host fields to raise
-- ARGV[11] -> U, the uniqueness locks
-- ARGV[12] -> "1": the caller pushed the R and E lines onto KEYS[1] and
--             KEYS[2] just before, in the transaction (MULTI) of this call,
--             and they are not among the ARGV; the script takes them off
--             the lists' tails again when it writes nothing; else "0"
-- two ARGV per batch b (a = 11 + 2*b): ARGV[a] -> M, its members; ARGV[a+1]
-- -> K, its count fields beside done
-- then, one after the other (p = 13 + 2*(number of batches)):
-- R response lines, then E exception lines, in order (unless pushed);
-- per batch: its M members ("attempt:id"), then K pairs: field, increment
-- (responses, exceptions, code:200, exc:ConnectionError, ...; done is M);
-- H triples: host field ("<host> <detail>"), its detail, increment;
-- T task IDs, the exceptions' TE last;
-- U pairs: task ID, uniqueness lock key (released if the task is finished
-- and the lock still its)
--
-- Output:
-- 1 if all were recorded; 0 if any was recorded before: nothing written;
-- an error, nothing written, if KEYS[1] or KEYS[2] is not a list (lines
-- the caller pushed are taken off again in both cases)
local ttl, expires = ARGV[1], tonumber(ARGV[1]) > 0
local cap = tonumber(ARGV[3])
local prefix = ARGV[4]
local nr, ne, nf = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local nt, nte, nh, nu = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local pushed = ARGV[12] == '1'
local nb = (#KEYS - 9) / 2

-- cmd on key with ARGV[s] to ARGV[e], in calls of 1000 values at most:
-- unpack takes a few thousand at most.
local function each1000(cmd, key, s, e)
  for c = s, e, 1000 do
    redis.call(cmd, key, unpack(ARGV, c, math.min(c + 999, e)))
  end
end

-- Lines the caller pushed, taken off the lists' tails again (nothing ran
-- between its RPUSHes and this script); a list's RPUSH that failed (the
-- key not a list) pushed none.
local function unpush()
  if pushed then
    for k, n in ipairs({nr, ne}) do
      if n > 0 and redis.call('TYPE', KEYS[k]).ok == 'list' then
        redis.call('LTRIM', KEYS[k], 0, -n - 1)
      end
    end
  end
end

-- The lists must be lists (or none yet) before anything is written: an
-- RPUSH failing after the seen sets took the outcomes would lose them.
for k = 1, 2 do
  local t = redis.call('TYPE', KEYS[k]).ok
  if t ~= 'list' and t ~= 'none' then
    unpush()
    return redis.error_reply('WRONGTYPE ' .. KEYS[k] .. ' is not a list: no outcome recorded')
  end
end

local lines = 13 + 2*nb
local p = lines
if not pushed then
  p = lines + nr + ne
end
local starts = {} -- by batch: where its members are
for b = 1, nb do
  local m, k = tonumber(ARGV[11 + 2*b]), tonumber(ARGV[12 + 2*b])
  starts[b] = p
  local seen = KEYS[8 + 2*b]
  for s = p, p + m - 1, 1000 do
    local e = math.min(s + 999, p + m - 1)
    local r = redis.pcall('SMISMEMBER', seen, unpack(ARGV, s, e))
    if r.err then -- Redis before 6.2: one SISMEMBER a member
      r = {}
      for j = s, e do
        r[#r+1] = redis.call('SISMEMBER', seen, ARGV[j])
      end
    end
    for j = 1, #r do
      if r[j] == 1 then
        unpush()
        return 0
      end
    end
  end
  p = p + m + 2*k
end

for b = 1, nb do
  local m, k, s = tonumber(ARGV[11 + 2*b]), tonumber(ARGV[12 + 2*b]), starts[b]
  local seen, batch = KEYS[8 + 2*b], KEYS[9 + 2*b]
  if m > 0 then
    each1000('SADD', seen, s, s + m - 1)
    redis.call('HINCRBY', batch, 'done', ARGV[11 + 2*b])
    for f = s + m, s + m + 2*k - 1, 2 do
      redis.call('HINCRBY', batch, ARGV[f], ARGV[f+1])
    end
  end
  if expires then
    redis.call('EXPIRE', seen, ttl)
    redis.call('EXPIRE', batch, ttl)
  end
end
if not pushed then
  each1000('RPUSH', KEYS[1], lines, lines + nr - 1)
  each1000('RPUSH', KEYS[2], lines + nr, lines + nr + ne - 1)
end
-- One call a host field; a new field over the cap goes to other.
for f = p, p + 3*nh - 1, 3 do
  local c = ARGV[f+2]
  if redis.call('HINCRBY', KEYS[7], ARGV[f], c) == tonumber(c) and redis.call('HLEN', KEYS[7]) > cap then
    redis.call('HDEL', KEYS[7], ARGV[f])
    redis.call('HINCRBY', KEYS[7], 'other ' .. ARGV[f+1], c)
  end
end
p = p + 3*nh

-- An id is on the active list once (fetched from pending once): LREM
-- -1 stops at it, looking from the tail, where the oldest tasks are.
local ids, taskKeys, finished = {}, {}, {}
local processed, failed = 0, nf
for t = p, p + nt - 1 do
  local id = ARGV[t]
  if redis.call('LREM', KEYS[3], '-1', id) > 0 then
    ids[#ids+1] = id
    taskKeys[#taskKeys+1] = prefix .. id
    processed = processed + 1
    if t >= p + nt - nte then
      failed = failed + 1
    end
    if nu > 0 then
      finished[id] = true
    end
  end
end
p = p + nt
for u = p, p + 2*nu - 1, 2 do
  if finished[ARGV[u]] and redis.call('GET', ARGV[u+1]) == ARGV[u] then
    redis.call('DEL', ARGV[u+1])
  end
end
for s = 1, #ids, 1000 do
  local e = math.min(s + 999, #ids)
  redis.call('ZREM', KEYS[4], unpack(ids, s, e))
  redis.call('DEL', unpack(taskKeys, s, e))
end
for _, c in ipairs({{KEYS[5], KEYS[6], processed}, {KEYS[8], KEYS[9], failed}}) do
  if c[3] > 0 then
    if redis.call('INCRBY', c[1], c[3]) == c[3] then
      redis.call('EXPIREAT', c[1], ARGV[2])
    end
    redis.call('INCRBY', c[2], c[3])
  end
end
return 1
