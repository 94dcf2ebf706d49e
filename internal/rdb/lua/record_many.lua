-- recordMany records outcomes exactly once, several in one call. Each
-- outcome's SADD, RPUSH and counters come in the same call (the pushes and
-- counters gathered, one command a key), and a duplicate (its
-- "attempt:id" already in the batch's seen set: a job that ran twice) is
-- dropped. An outcome of a fetched task (task id not "") also finishes the
-- task as asynq's doneCmd does, only while the task is still on the active
-- list: if its lease ran out and asynq's recoverer moved it away, it runs
-- again and that run's outcome is the duplicate. The keys of a batch get
-- their TTL once, at the end, whether their outcomes were new or not.
--
-- mirrors asynq v0.26.0 doneCmd; differs: doneUniqueCmd too; many tasks a
-- call, each with its outcome; the active list's LREM takes one id, from
-- the tail; the ZREMs and DELs of a call's tasks are one command each; a
-- task no longer active is left alone instead of a NOT FOUND error; the uniqueness lock is an ARGV ("" for
-- none), not a KEY; the processed counters are raised once per day key by
-- the count, and the total is not wrapped at max int64. An exception also
-- raises asynq's failed counters as its retryCmd/archiveCmd do (with the
-- processed ones when finishing the task; alone, when new and ARGV[a+8]
-- says so, when asynq's processor finishes it), so asynq's error rate
-- counts it. Each new outcome raises its detail field in its batch and
-- its host's in the hosts hash (at most ARGV[3] fields; past that a new
-- host counts as "other").
--
-- Eleven KEYS per outcome i (k = 11*(i-1)):
-- KEYS[k+1] -> reqfleet:{<qname>}:results or reqfleet:{<qname>}:exceptions
-- KEYS[k+2] -> reqfleet:{<qname>}:seen:<batch_id>
-- KEYS[k+3] -> reqfleet:{<qname>}:batch:<batch_id>
-- KEYS[k+4] -> asynq:{<qname>}:active
-- KEYS[k+5] -> asynq:{<qname>}:lease
-- KEYS[k+6] -> asynq:{<qname>}:t:<task_id>
-- KEYS[k+7] -> asynq:{<qname>}:processed:<yyyy-mm-dd>
-- KEYS[k+8] -> asynq:{<qname>}:processed
-- KEYS[k+9] -> reqfleet:{<qname>}:hosts
-- KEYS[k+10] -> asynq:{<qname>}:failed:<yyyy-mm-dd>
-- KEYS[k+11] -> asynq:{<qname>}:failed
-- --
-- ARGV[1] -> TTL in seconds of the batch keys (0: none)
-- ARGV[2] -> stats expiration timestamp (unix seconds)
-- ARGV[3] -> the hosts hash's cap of fields
-- eight ARGV per outcome i (a = 3 + 8*(i-1)):
-- ARGV[a+1] -> "attempt:id"
-- ARGV[a+2] -> the outcome's JSON line
-- ARGV[a+3] -> the batch counter raised ("responses" or "exceptions")
-- ARGV[a+4] -> asynq task ID ("" when asynq's processor finishes the task)
-- ARGV[a+5] -> uniqueness lock key ("" for none)
-- ARGV[a+6] -> the detail field ("code:200", "exc:ConnectionError"; "" for none)
-- ARGV[a+7] -> the host ("" for none)
-- ARGV[a+8] -> "1": a new exception without task ID counts as failed
--
-- Output:
-- One per outcome, in order: 1 if recorded, 0 if recorded before
local ttl = tonumber(ARGV[1])
local cap = tonumber(ARGV[3])
local n = #KEYS / 11
local out = {}
local touched = {}
local processed = {}
local failed = {}
local function count(t, day, total)
  local p = t[day]
  if p then
    p[2] = p[2] + 1
  else
    t[day] = {total, 1}
  end
end
-- What the outcomes raise and push is gathered, then written once a key
-- (in the order first met), all in this one call: the same end state as
-- one outcome after the other, in fewer commands.
local lists, listOrder = {}, {}
local counts, batchOrder = {}, {}
local done = {}
local finished, leaseOrder = {}, {}
local function add(t, order, k, v)
  local l = t[k]
  if not l then
    l = {}
    t[k] = l
    order[#order+1] = k
  end
  l[#l+1] = v
end
for i = 0, n - 1 do
  local k, a = 11*i, 3 + 8*i
  local exc = ARGV[a+3] == 'exceptions'
  local seen, batch = KEYS[k+2], KEYS[k+3]
  if redis.call('SADD', seen, ARGV[a+1]) == 0 then
    out[i+1] = 0
  else
    add(lists, listOrder, KEYS[k+1], ARGV[a+2])
    add(counts, batchOrder, batch, ARGV[a+3])
    done[batch] = (done[batch] or 0) + 1
    local d, h = ARGV[a+6], ARGV[a+7]
    if d ~= '' then
      add(counts, batchOrder, batch, d)
    end
    if d ~= '' and h ~= '' then
      -- one call a known host; a new field over the cap goes to other
      local f = h .. ' ' .. d
      if redis.call('HINCRBY', KEYS[k+9], f, 1) == 1 and redis.call('HLEN', KEYS[k+9]) > cap then
        redis.call('HDEL', KEYS[k+9], f)
        redis.call('HINCRBY', KEYS[k+9], 'other ' .. d, 1)
      end
    end
    if exc and ARGV[a+8] == '1' then
      count(failed, KEYS[k+10], KEYS[k+11])
    end
    out[i+1] = 1
  end
  touched[seen] = true
  touched[batch] = true
  local id = ARGV[a+4]
  -- An id is on the active list once (fetched from pending once): LREM
  -- -1 stops at it, looking from the tail, where the oldest tasks are, so
  -- that a record costs no more with many tasks active.
  if id ~= '' and redis.call('LREM', KEYS[k+4], -1, id) > 0 then
    add(finished, leaseOrder, KEYS[k+5], {id, KEYS[k+6]})
    local u = ARGV[a+5]
    if u ~= '' and redis.call('GET', u) == id then
      redis.call('DEL', u)
    end
    count(processed, KEYS[k+7], KEYS[k+8])
    if exc then
      count(failed, KEYS[k+10], KEYS[k+11])
    end
  end
end
-- unpack takes a few thousand values at most: chunks of 1000.
local function each1000(cmd, key, vals)
  for s = 1, #vals, 1000 do
    redis.call(cmd, key, unpack(vals, s, math.min(s + 999, #vals)))
  end
end
for _, list in ipairs(listOrder) do
  each1000('RPUSH', list, lists[list])
end
for _, batch in ipairs(batchOrder) do
  redis.call('HINCRBY', batch, 'done', done[batch])
  local by, order = {}, {}
  for _, counter in ipairs(counts[batch]) do
    if not by[counter] then
      by[counter] = 0
      order[#order+1] = counter
    end
    by[counter] = by[counter] + 1
  end
  for _, counter in ipairs(order) do
    redis.call('HINCRBY', batch, counter, by[counter])
  end
end
for _, lease in ipairs(leaseOrder) do
  local ids, keys = {}, {}
  for j, f in ipairs(finished[lease]) do
    ids[j], keys[j] = f[1], f[2]
  end
  each1000('ZREM', lease, ids)
  for s = 1, #keys, 1000 do
    redis.call('DEL', unpack(keys, s, math.min(s + 999, #keys)))
  end
end
if ttl > 0 then
  for k in pairs(touched) do
    redis.call('EXPIRE', k, ttl)
  end
end
for _, t in ipairs({processed, failed}) do
  for day, p in pairs(t) do
    if redis.call('INCRBY', day, p[2]) == p[2] then
      redis.call('EXPIREAT', day, ARGV[2])
    end
    redis.call('INCRBY', p[1], p[2])
  end
end
return out
