-- known: a worker that runs the named tasks came up (or registered them): the
-- tasks of those names that workers without them handed back (see the
-- "unknown" outcome in lib.lua) are due at once, back in line where they
-- were when first handed back (due when they were due then: ahead of the
-- submissions added since, which a cooldown or a debounce judges after
-- them), and their records say when (known_at): a worker without the task
-- that takes it first again hands it back after a short wait, not its
-- backoff (see Store.UnknownSince).
-- KEYS[1] scheduled zset
-- ARGV[1] docket key prefix, ARGV[2] N, the most tasks to look at, then the
-- task names
-- Returns how many tasks it looked at: call again until it returns 0.
over_maxmemory() -- a worker's script: see lib.lua
local now = clock_us()
local n = tonumber(ARGV[2])
local looked, moved = 0, false
for i = 3, #ARGV do
  local name = ARGV[i]
  local waiting = K.unknown .. name
  local keys = redis.call('ZRANGE', waiting, 0, n - looked - 1)
  for _, key in ipairs(keys) do
    local f = read(key, 'state', 'name', 'unknown_since', 'unknown_due')
    -- Only a task still waiting in the schedule under that name: anything
    -- else (it ran, was cancelled, or its key was reused) is a stale entry.
    if f[1] == STATE.scheduled and f[2] == name and f[3] and redis.call('ZSCORE', K.scheduled, key) then
      local due = math.min(whole(f[4]) or now, now)
      redis.call('ZADD', K.scheduled, due, key)
      redis.call('HSET', K.task .. key, 'due', int(due), 'known_at', int(now))
      moved = true
    end
  end
  if #keys > 0 then
    redis.call('ZREM', waiting, unpack(keys))
  end
  looked = looked + #keys
  if looked >= n then
    break
  end
end
if moved then
  publish(K.events, 'w')
end
return looked
