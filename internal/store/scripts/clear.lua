-- clear: cancel up to N scheduled, queued, parked and waiting tasks (running
-- tasks are left to finish): first those ready to run at once (K.ready)
-- and the schedule's, then the workflows
-- parked until a child or a signal wakes them, those a strike holds, the
-- next runs waiting for a drain, then from the lines of the
-- limits in use, which it walks with a cursor over the registry of limits
-- (SSCAN), so that no call looks at more than N limits or N tasks.
-- KEYS[1] scheduled zset
-- ARGV[1] docket key prefix, ARGV[2] N, ARGV[3] retention (ms), ARGV[4] the
-- cursor over the limits: "0" for the first call, then what the last returned
-- Returns: how many tasks were cancelled, how many entries were handled
-- (cancelled, or stale ones dropped), and the cursor for the next call ("0"
-- once the walk is over). Call again until a call handles none and returns
-- the cursor "0".
local now = clock_us()
local n, retention = tonumber(ARGV[2]), tonumber(ARGV[3])
local cursor = ARGV[4]
local keys = redis.call('LRANGE', K.ready, 0, n - 1) -- each first in K.ready as it is cancelled
for _, key in ipairs(redis.call('ZRANGE', K.scheduled, 0, n - #keys - 1)) do
  keys[#keys + 1] = key
end
for _, held in ipairs({K.parked, K.struck, K.deferred}) do
  if #keys < n then
    for _, key in ipairs(redis.call('ZRANGE', held, 0, n - #keys - 1)) do
      keys[#keys + 1] = key
    end
  end
end
local lines = {} -- the limit whose line keys[i] was taken from, if any
local looked = 0
while #keys < n and looked < n do
  local page = redis.call('SSCAN', K.limits, cursor, 'COUNT', 100)
  local finished = true -- every line of the page taken whole
  for _, id in ipairs(page[2]) do
    looked = looked + 1
    local room = n - #keys
    local line = {}
    if room > 0 then
      line = redis.call('ZRANGE', K.waiting .. id, 0, room - 1)
    end
    for _, key in ipairs(line) do
      keys[#keys + 1] = key
      lines[#keys] = id
    end
    if room <= 0 or #line == room and redis.call('ZCARD', K.waiting .. id) > room then
      finished = false -- the next call reads this page again
      break
    end
  end
  if not finished then
    break
  end
  cursor = page[1]
  if cursor == '0' then
    break
  end
end

local cancelled = 0
for i, key in ipairs(keys) do
  local f = read(key, 'state', 'waiting')
  if f[1] == STATE.scheduled or f[1] == STATE.parked or f[1] == STATE.struck or f[1] == STATE.waiting and (lines[i] == nil or f[2] == lines[i]) then
    cancel_task(key, now, retention, 'cleared')
    cancelled = cancelled + 1
  elseif lines[i] then -- not waiting in this line: a stale entry (should not happen); drop it
    redis.call('ZREM', K.waiting .. lines[i], key)
    touch(lines[i])
  else -- not live: a stale member of the schedule (should not happen); drop it
    redis.call('LREM', K.ready, 1, key)
    redis.call('ZREM', K.scheduled, key)
    redis.call('ZREM', K.parked, key)
    redis.call('ZREM', K.struck, key)
    redis.call('ZREM', K.deferred, key)
  end
end
return {cancelled, #keys, cursor}
