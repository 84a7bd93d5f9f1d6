-- clear: cancel up to N scheduled, queued and waiting tasks (running tasks
-- are left to finish).
-- KEYS[1] scheduled zset
-- ARGV[1] docket key prefix, ARGV[2] N, ARGV[3] retention (ms)
-- Returns how many were cancelled; call again until it returns 0.
local now = clock_us()
local n, retention = tonumber(ARGV[2]), tonumber(ARGV[3])
local keys = redis.call('ZRANGE', K.scheduled, 0, n - 1)
for _, id in ipairs(redis.call('SMEMBERS', K.limits)) do
  if #keys >= n then
    break
  end
  for _, key in ipairs(redis.call('LRANGE', K.waiting .. id, 0, n - #keys - 1)) do
    keys[#keys + 1] = key
  end
end
for _, key in ipairs(keys) do
  local tk = K.task .. key
  local f = redis.call('HMGET', tk, 'state', 'gen', 'attempt', 'auto')
  if f[1] == 'scheduled' or f[1] == 'waiting' then
    unlink(key, f[1], now)
    redis.call('HSET', tk, 'state', 'cancelled', 'gen', int(tonumber(f[2]) + 1),
      'finished', int(now), 'error', 'cleared')
    redis.call('PEXPIRE', tk, retention)
    announce(key, 'cancelled', f[3], 'cleared')
    chain_ended(key, f[4])
  else -- not live: a stale member (should not happen); drop it
    redis.call('ZREM', K.scheduled, key)
  end
end
return #keys
