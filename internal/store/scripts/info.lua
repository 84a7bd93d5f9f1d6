-- info: one execution record, with the Redis clock to tell queued from scheduled.
-- KEYS[1] task hash; ARGV[1] docket key prefix
-- Returns: now (us), then the hash as field, value pairs (empty when absent).
local result = redis.call('HGETALL', KEYS[1])
table.insert(result, 1, int(clock_us()))
return result
