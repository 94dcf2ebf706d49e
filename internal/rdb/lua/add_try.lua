-- addTry adds a try to a task's tries history, under asynq's processor
-- (which then moves the task to its retry set itself): only when the
-- history holds ARGV[2] tries, the count the worker read before deciding,
-- so that a call run twice (its reply lost) adds the try once.
--
-- KEYS[1] -> reqfleet:{<qname>}:tries:<task_id>
-- --
-- ARGV[1] -> the try's JSON
-- ARGV[2] -> the tries the history held when read
-- ARGV[3] -> the most tries the history keeps
-- ARGV[4] -> TTL in seconds of the history
--
-- Output:
-- Returns 1 if added, 0 if the history held another count
if redis.call("LLEN", KEYS[1]) ~= tonumber(ARGV[2]) then
  return 0
end
redis.call("RPUSH", KEYS[1], ARGV[1])
redis.call("LTRIM", KEYS[1], -tonumber(ARGV[3]), -1)
redis.call("EXPIRE", KEYS[1], ARGV[4])
return 1
