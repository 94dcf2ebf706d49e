-- recordedBefore finishes, as recordMany does, a task run again after its
-- worker was lost whose outcome that worker had recorded.
--
-- mirrors asynq v0.26.0 doneCmd; differs: only when the outcome is in the
-- batch's seen set; a task no longer active is left alone instead of a NOT
-- FOUND error; the uniqueness lock is an ARGV ("" for none); the total is
-- not wrapped at max int64.
--
-- KEYS[1] -> reqfleet:{<qname>}:seen:<batch_id>
-- KEYS[2] -> asynq:{<qname>}:active
-- KEYS[3] -> asynq:{<qname>}:lease
-- KEYS[4] -> asynq:{<qname>}:t:<task_id>
-- KEYS[5] -> asynq:{<qname>}:processed:<yyyy-mm-dd>
-- KEYS[6] -> asynq:{<qname>}:processed
-- --
-- ARGV[1] -> the outcome's "attempt:id"
-- ARGV[2] -> task ID
-- ARGV[3] -> uniqueness lock key ("" for none)
-- ARGV[4] -> stats expiration timestamp (unix seconds)
--
-- Output:
-- Returns 1 if the outcome was recorded before (the task is then finished)
-- Returns 0 if not
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  return 0
end
if redis.call('LREM', KEYS[2], 0, ARGV[2]) > 0 then
  redis.call('ZREM', KEYS[3], ARGV[2])
  redis.call('DEL', KEYS[4])
  if ARGV[3] ~= '' and redis.call('GET', ARGV[3]) == ARGV[2] then
    redis.call('DEL', ARGV[3])
  end
  if redis.call('INCR', KEYS[5]) == 1 then
    redis.call('EXPIREAT', KEYS[5], ARGV[4])
  end
  redis.call('INCR', KEYS[6])
end
return 1
