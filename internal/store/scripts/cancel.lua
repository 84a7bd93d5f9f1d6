-- cancel: end a scheduled, queued or running task as cancelled.
-- KEYS[1] scheduled zset, KEYS[2] running zset
-- ARGV[1] task hash prefix, ARGV[2] events channel, ARGV[3] task key, ARGV[4] retention (ms)
-- Returns 1 when a live task was cancelled, 0 when there was none.
local now = clock_us()
local key = ARGV[3]
local tk = ARGV[1] .. key
local f = redis.call('HMGET', tk, 'state', 'gen')
if f[1] == 'scheduled' then
  redis.call('ZREM', KEYS[1], key)
elseif f[1] == 'running' then
  redis.call('ZREM', KEYS[2], key)
  redis.call('PUBLISH', ARGV[2], 'c:' .. f[2] .. ':' .. key)
else
  return 0
end
redis.call('HSET', tk, 'state', 'cancelled', 'gen', int(tonumber(f[2]) + 1),
  'finished', int(now), 'error', 'cancelled')
redis.call('PEXPIRE', tk, tonumber(ARGV[4]))
return 1
