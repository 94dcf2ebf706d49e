-- markStarted marks an active task as started by its holder: its request
-- is about to go out. The fetcher marks the tasks it runs again after a
-- lost worker (retried > 0), before their requests, so that when their
-- worker is lost again, recovery tells the task that was running (marked:
-- it may be what kills its workers) from those only held (not marked: not
-- counted as a crash). Recovery and requeue clear the mark; the task's
-- end deletes its hash, mark and all.
--
-- KEYS[1] -> asynq:{<qname>}:t:<task_id>
-- --
-- ARGV[1] -> the field (reqfleet_started)
-- ARGV[2] -> the holder (the worker's name)
--
-- Output:
-- 1 if marked; 0 if the task is not active (no longer the holder's)
if redis.call('HGET', KEYS[1], 'state') ~= 'active' then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
