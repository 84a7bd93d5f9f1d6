-- restore: remove a strike, and release the tasks it held that no other
-- strike matches: they are due at once. N held tasks per call.
-- KEYS[1] struck zset
-- ARGV[1] docket key prefix, ARGV[2] the strike's id ('' to release only),
-- ARGV[3] where to start among the held tasks, ARGV[4] N, ARGV[5] the
-- Restore call's id (see Store.Restore)
-- Returns: 1 if the strike held (or an earlier send of the call removed
-- it; 0 if not), how many held tasks it looked
-- at, and how many of those stay held; call again from ARGV[3] + those
-- that stay, until it looks at none.
local now = clock_us()
local removed = 0
if ARGV[2] ~= '' then
  removed = redis.call('HDEL', K.strikes, ARGV[2])
  -- go-redis sends a call again when the connection failed before the
  -- reply came: the call's id, kept a minute, says the first removed it.
  if removed == 1 then
    redis.call('SET', K.restored, ARGV[5], 'PX', RESTORED_MS)
  elseif redis.call('GET', K.restored) == ARGV[5] then
    removed = 1
  end
end
local keys = redis.call('ZRANGE', K.struck, tonumber(ARGV[3]), tonumber(ARGV[3]) + tonumber(ARGV[4]) - 1)
local kept, released = 0, false
for _, key in ipairs(keys) do
  local f = read(key, 'state', 'name', 'input', 'attempt')
  if f[1] ~= STATE.struck then
    redis.call('ZREM', K.struck, key) -- not held any more (a stale entry)
  elseif struck(f[2], f[3]) then
    kept = kept + 1
  else
    redis.call('ZREM', K.struck, key)
    redis.call('HSET', K.task .. key, 'state', STATE.scheduled, 'due', int(now), 'error', '')
    redis.call('ZADD', K.scheduled, now, key)
    announce(key, STATE.queued, f[4])
    released = true
  end
end
if released then
  publish(K.events, 'w')
end
return {removed, #keys, kept}
