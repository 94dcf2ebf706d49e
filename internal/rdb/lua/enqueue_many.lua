-- enqueueMany enqueues many task messages, each as one enqueueCmd call
-- would: checked, written and pushed before the next.
--
-- mirrors asynq v0.26.0 enqueueCmd; differs: many tasks a call (KEYS[1] is
-- the pending list, then one task hash per task; ARGV[1] is the time, then
-- id and message per task) and one result per task.
--
-- KEYS[1]    -> asynq:{<qname>}:pending
-- KEYS[2...] -> asynq:{<qname>}:t:<task_id>, one per task
-- --
-- ARGV[1]        -> current unix time in nsec
-- ARGV[2*i]      -> task i's ID (i = 1...)
-- ARGV[2*i+1]    -> task i's message data
--
-- Output:
-- One per task, in order: 1 if enqueued, 0 if the task ID already exists
local out = {}
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    out[i-1] = 0
  else
    redis.call('HSET', KEYS[i], 'msg', ARGV[2*i-1], 'state', 'pending', 'pending_since', ARGV[1])
    redis.call('LPUSH', KEYS[1], ARGV[2*i-2])
    out[i-1] = 1
  end
end
return out
