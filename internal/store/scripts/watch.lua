-- watch: register interest in a task's events for a while, so that the
-- scripts announce its changes (see announce in lib.lua).
-- KEYS[1] watchers zset; ARGV[1] docket key prefix, ARGV[2] task key,
-- ARGV[3] how long (ms)
-- Returns: 1 when the task has a record, 0 when it has none (not added
-- yet, or Redis lost it: a watch that stays connected learns so here).
local now = clock_us()
local ttl = tonumber(ARGV[3])
local until_us = now + ttl * 1000
local current = score(redis.call('ZSCORE', K.watchers, ARGV[2])) or 0
redis.call('ZADD', K.watchers, math.max(current, until_us), ARGV[2])
redis.call('ZREMRANGEBYSCORE', K.watchers, '-inf', now)
local longest = redis.call('ZRANGE', K.watchers, -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', K.watchers, math.ceil((score(longest[2]) - now) / 1000) + 1000)
return redis.call('EXISTS', K.task .. ARGV[2])
