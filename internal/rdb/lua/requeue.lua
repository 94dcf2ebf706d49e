-- requeue puts active tasks back at the head of the pending list (RPUSH:
-- where the next task is taken).
--
-- mirrors asynq v0.26.0 requeueCmd; differs: many tasks a call, the task
-- hash named by prefix and id; a task no longer active (its lease ran out
-- and the recoverer took it) is left alone instead of a NOT FOUND error;
-- the task's started mark (mark_started.lua) is cleared.
--
-- KEYS[1] -> asynq:{<qname>}:active
-- KEYS[2] -> asynq:{<qname>}:lease
-- KEYS[3] -> asynq:{<qname>}:pending
-- --
-- ARGV[1]  -> task key prefix (asynq:{<qname>}:t:)
-- ARGV[2]  -> the started mark's field (reqfleet_started)
-- ARGV[3:] -> task IDs
--
-- Output:
-- OK
for i = 3, #ARGV do
  local id = ARGV[i]
  if redis.call('LREM', KEYS[1], 0, id) > 0 then
    redis.call('ZREM', KEYS[2], id)
    redis.call('RPUSH', KEYS[3], id)
    redis.call('HSET', ARGV[1] .. id, 'state', 'pending')
    redis.call('HDEL', ARGV[1] .. id, ARGV[2])
  end
end
return redis.status_reply('OK')
