-- unregister: a worker that stops cleanly leaves the list of live workers.
-- KEYS[1] workers zset; ARGV[1] docket key prefix, ARGV[2] worker id
-- Returns: 1.
redis.call('ZREM', K.workers, ARGV[2])
redis.call('DEL', K.worker .. ARGV[2])
return 1
