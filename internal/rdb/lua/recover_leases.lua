-- recoverLeases acts on tasks whose lease ended (listed by expired_leases):
-- each, only if its lease still ended before ARGV[1], it is still on the
-- active list and its message is still the one listed (no other recoverer
-- got it first), either goes back to the pending list with its new message
-- (retried+1, error_msg), as asynq's recoverer and retry would, or is
-- recorded as an exception and finished, as record_many does: the exception
-- goes in exactly once (the batch's seen set), the task is done.
--
-- mirrors asynq v0.26.0 recoverer's retry (retryCmd) and doneCmd; differs:
-- a requeued task goes to the head of the pending list (RPUSH: taken next)
-- instead of the retry set, at once; a task no longer expired, active or
-- with the message listed is left alone instead of a NOT FOUND error; the
-- totals are not wrapped at max int64; the uniqueness lock is an ARGV; a
-- requeue clears the task's started mark.
--
-- KEYS[1] -> asynq:{<qname>}:active
-- KEYS[2] -> asynq:{<qname>}:lease
-- KEYS[3] -> asynq:{<qname>}:pending
-- KEYS[4] -> asynq:{<qname>}:processed:<yyyy-mm-dd>
-- KEYS[5] -> asynq:{<qname>}:failed:<yyyy-mm-dd>
-- KEYS[6] -> asynq:{<qname>}:processed
-- KEYS[7] -> asynq:{<qname>}:failed
-- KEYS[8] -> reqfleet:{<qname>}:exceptions
-- KEYS[9] -> reqfleet:{<qname>}:hosts
-- Three KEYS per task i (k = 9 + 3*(i-1)):
-- KEYS[k+1] -> asynq:{<qname>}:t:<task_id>
-- KEYS[k+2] -> reqfleet:{<qname>}:seen:<batch_id> (a requeue: any key of the queue)
-- KEYS[k+3] -> reqfleet:{<qname>}:batch:<batch_id> (a requeue: any key of the queue)
-- --
-- ARGV[1] -> now, Unix time in seconds (with a fraction)
-- ARGV[2] -> TTL in seconds of the batch keys (0: none)
-- ARGV[3] -> stats expiration timestamp (unix seconds)
-- ARGV[4] -> the hosts hash's cap of fields (as record_many)
-- ARGV[5] -> the started mark's field (mark_started.lua), cleared on a requeue
-- eight ARGV per task i (a = 5 + 8*(i-1)):
-- ARGV[a+1] -> task ID
-- ARGV[a+2] -> the encoded TaskMessage listed
-- ARGV[a+3] -> "requeue" or "record"
-- ARGV[a+4] -> requeue: the new TaskMessage; record: the exception's JSON line
-- ARGV[a+5] -> record: "attempt:id"
-- ARGV[a+6] -> record: uniqueness lock key ("" for none)
-- ARGV[a+7] -> record: the detail field ("exc:WorkerLost"; "" for none)
-- ARGV[a+8] -> record: the host ("" for none)
--
-- Output:
-- One per task, in order: 0 left alone, 1 requeued, 2 recorded, 3 finished
-- (its outcome was recorded before). A recorded exception counts as failed
-- in asynq's counters, and in its batch's and host's details as record_many.
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local n = (#KEYS - 9) / 3
local out = {}
local processed, failed = 0, 0
for i = 0, n - 1 do
  local k, a = 9 + 3*i, 5 + 8*i
  local id, key = ARGV[a+1], KEYS[k+1]
  local score = redis.call('ZSCORE', KEYS[2], id)
  out[i+1] = 0
  if score and tonumber(score) < now and redis.call('HGET', key, 'msg') == ARGV[a+2]
      and redis.call('LREM', KEYS[1], 0, id) > 0 then
    redis.call('ZREM', KEYS[2], id)
    processed = processed + 1
    if ARGV[a+3] == 'requeue' then
      redis.call('HSET', key, 'msg', ARGV[a+4], 'state', 'pending')
      redis.call('HDEL', key, ARGV[5])
      redis.call('RPUSH', KEYS[3], id)
      failed = failed + 1
      out[i+1] = 1
    else
      local seen, batch = KEYS[k+2], KEYS[k+3]
      if redis.call('SADD', seen, ARGV[a+5]) == 1 then
        redis.call('RPUSH', KEYS[8], ARGV[a+4])
        redis.call('HINCRBY', batch, 'done', 1)
        redis.call('HINCRBY', batch, 'exceptions', 1)
        local d, h = ARGV[a+7], ARGV[a+8]
        if d ~= '' then
          redis.call('HINCRBY', batch, d, 1)
        end
        if d ~= '' and h ~= '' then
          -- one call a known host; a new field over the cap goes to other
          local f = h .. ' ' .. d
          if redis.call('HINCRBY', KEYS[9], f, 1) == 1 and redis.call('HLEN', KEYS[9]) > tonumber(ARGV[4]) then
            redis.call('HDEL', KEYS[9], f)
            redis.call('HINCRBY', KEYS[9], 'other ' .. d, 1)
          end
        end
        out[i+1] = 2
      else
        out[i+1] = 3
      end
      if ttl > 0 then
        redis.call('EXPIRE', seen, ttl)
        redis.call('EXPIRE', batch, ttl)
      end
      failed = failed + 1
      redis.call('DEL', key)
      local u = ARGV[a+6]
      if u ~= '' and redis.call('GET', u) == id then
        redis.call('DEL', u)
      end
    end
  end
end
if processed > 0 then
  if redis.call('INCRBY', KEYS[4], processed) == processed then
    redis.call('EXPIREAT', KEYS[4], ARGV[3])
  end
  redis.call('INCRBY', KEYS[6], processed)
end
if failed > 0 then
  if redis.call('INCRBY', KEYS[5], failed) == failed then
    redis.call('EXPIREAT', KEYS[5], ARGV[3])
  end
  redis.call('INCRBY', KEYS[7], failed)
end
return out
