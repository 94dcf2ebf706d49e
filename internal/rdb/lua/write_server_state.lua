-- writeServerState writes a server's entry and its running tasks, to
-- expire after the TTL.
--
-- mirrors asynq v0.26.0 writeServerStateCmd; differs: nothing (the same
-- text; asynq:servers and asynq:workers are written by the caller, as
-- rdb.WriteServerState does).
--
-- KEYS[1]  -> asynq:servers:{<host:pid:sid>}
-- KEYS[2]  -> asynq:workers:{<host:pid:sid>}
-- --
-- ARGV[1]  -> TTL in seconds
-- ARGV[2]  -> server info (encoded ServerInfo)
-- ARGV[3:] -> alternate key-value pair of (task ID, encoded WorkerInfo)
--
-- Output:
-- OK
redis.call("SETEX", KEYS[1], ARGV[1], ARGV[2])
redis.call("DEL", KEYS[2])
for i = 3, table.getn(ARGV)-1, 2 do
	redis.call("HSET", KEYS[2], ARGV[i], ARGV[i+1])
end
redis.call("EXPIRE", KEYS[2], ARGV[1])
return redis.status_reply("OK")
