-- unregister: a worker that stops cleanly leaves the list of live workers.
-- KEYS[1] workers zset; ARGV[1] worker key prefix, ARGV[2] worker id
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('DEL', ARGV[1] .. ARGV[2])
return 1
