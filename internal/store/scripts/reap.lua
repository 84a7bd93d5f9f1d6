-- reap: cancel the live children of workflows that ended without
-- completing, a batch per call (see task_ended).
-- KEYS[1] the reaping hash
-- ARGV[1] docket key prefix, ARGV[2] retention (ms)
-- Returns how many workflows it worked on: call again until it returns 0.
over_maxmemory() -- a worker's script: see lib.lua
local retention = tonumber(ARGV[2])
local page = redis.call('HSCAN', K.reaping, '0', 'COUNT', 10)
local worked = 0
for i = 1, #page[2], 2 do
  local key, cursor = page[2][i], page[2][i + 1]
  local after = '0'
  if is_flow(key) then
    after = reap(key, cursor, retention)
  end
  if after == '0' then
    redis.call('HDEL', K.reaping, key)
  else
    redis.call('HSET', K.reaping, key, after)
  end
  worked = worked + 1
  if worked >= 10 then
    break
  end
end
return worked
