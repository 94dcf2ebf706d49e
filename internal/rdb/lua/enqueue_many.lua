-- enqueueMany enqueues many task messages, each as one enqueueCmd call
-- would: checked, written and pushed before the next; a task counted in
-- its batch raises the batch's queued in the same step.
--
-- mirrors asynq v0.26.0 enqueueCmd; differs: many tasks a call (KEYS[1] is
-- the pending list, then one task hash and its batch hash per task; ARGV[1]
-- is the time, then id, message and count flag per task), one result per
-- task, and the batch's count of tasks queued (the total of a batch whose
-- enqueuer died: seal_orphans.lua).
--
-- KEYS[1]      -> asynq:{<qname>}:pending
-- KEYS[2*i]    -> asynq:{<qname>}:t:<task_id>, task i's hash (i = 1...)
-- KEYS[2*i+1]  -> reqfleet:{<qname>}:batch:<batch_id>, task i's batch
-- --
-- ARGV[1]        -> current unix time in nsec
-- ARGV[3*i-1]    -> task i's ID
-- ARGV[3*i]      -> task i's message data
-- ARGV[3*i+1]    -> "1": a new job of its batch: HINCRBY queued, refused
--                   when the batch is sealed; "0": not counted (retry)
--
-- Output:
-- One per task, in order: 1 if enqueued, 0 if the task ID already exists,
-- 2 if refused: counted and its batch is sealed (by seal_orphans.lua, its
-- lease gone)
local out = {}
local n = (#KEYS - 1) / 2
for i = 1, n do
  local task, batch = KEYS[2*i], KEYS[2*i+1]
  local counted = ARGV[3*i+1] == '1'
  if redis.call('EXISTS', task) == 1 then
    out[i] = 0
  elseif counted and redis.call('HGET', batch, 'sealed') == '1' then
    out[i] = 2
  else
    redis.call('HSET', task, 'msg', ARGV[3*i], 'state', 'pending', 'pending_since', ARGV[1])
    redis.call('LPUSH', KEYS[1], ARGV[3*i-1])
    if counted and redis.call('EXISTS', batch) == 1 then
      redis.call('HINCRBY', batch, 'queued', 1)
    end
    out[i] = 1
  end
end
return out
