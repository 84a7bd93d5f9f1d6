-- overview: what the dashboard's overview shows, in one call whose work
-- does not grow with the number of tasks: the counts by state, the earliest
-- due task, the dead letters kept, the names of a sample of the live tasks,
-- and the per-minute counters of the last minutes (K.stats).
-- KEYS[1] scheduled zset
-- ARGV[1] docket key prefix, ARGV[2] sample: the most tasks of each list
-- (running, queued, scheduled, parked) whose names are read, ARGV[3] how
-- many minutes of counters, up to the current one, ARGV[4] the retention
-- (ms): dead letters older than it are not counted
-- Returns: now, queued, scheduled (not yet due), running, waiting for a
-- slot, parked (until a child or a signal), dead letters, the earliest due
-- instant (unix µs, as Redis writes a score: perhaps 1e+15; 0 when nothing
-- is scheduled), limits in use, live workers, tasks held by a strike,
-- strikes in effect; then how many tasks of each list the sample read
-- (running, queued, scheduled, parked); then how many names follow, and per name: name, running,
-- queued, scheduled, parked (within the sample; a workflow parked until
-- an instant is in the schedule, and counted parked); then how many minutes
-- follow, and per minute: the minute (unix minutes), how many values
-- follow, then its field, value pairs.
-- Counting the waiting tasks reads every limit in use, as Count does.
local now = clock_us()
local sample, minutes, retention = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local queued = redis.call('ZCOUNT', K.scheduled, '-inf', now)
local all = redis.call('ZCARD', K.scheduled)
local waiting = 0
local limits = redis.call('SMEMBERS', K.limits)
for _, id in ipairs(limits) do
  waiting = waiting + redis.call('ZCARD', K.waiting .. id)
end
local result = {int(now), queued, all - queued, redis.call('ZCARD', K.running), waiting,
  redis.call('ZCARD', K.parked), redis.call('ZCOUNT', K.deadletters, now - retention * 1000, '+inf'),
  redis.call('ZRANGE', K.scheduled, 0, 0, 'WITHSCORES')[2] or '0', #limits,
  redis.call('ZCOUNT', K.workers, now, '+inf'), redis.call('ZCARD', K.struck),
  redis.call('HLEN', K.strikes)}

local names, order = {}, {}
local function count(set, from, to, column)
  if to < from then
    return 0
  end
  local keys = redis.call('ZRANGE', set, from, to)
  for _, key in ipairs(keys) do
    local f = read(key, 'name', 'state')
    local name = f[1]
    if name then
      if not names[name] then
        names[name] = {0, 0, 0, 0}
        order[#order + 1] = name
      end
      local c = column
      if f[2] == STATE.parked then
        c = 4 -- parked until an instant: in the schedule
      end
      names[name][c] = names[name][c] + 1
    end
  end
  return #keys
end
result[#result + 1] = count(K.running, 0, sample - 1, 1)
result[#result + 1] = count(K.scheduled, 0, math.min(sample, queued) - 1, 2)
result[#result + 1] = count(K.scheduled, queued, queued + sample - 1, 3)
result[#result + 1] = count(K.parked, 0, sample - 1, 4)
result[#result + 1] = #order
for _, name in ipairs(order) do
  local c = names[name]
  result[#result + 1] = name
  for j = 1, 4 do
    result[#result + 1] = c[j]
  end
end

local minute = math.floor(now / 60000000)
result[#result + 1] = minutes
for m = minute - minutes + 1, minute do
  local fields = redis.call('HGETALL', K.stats .. int(m))
  result[#result + 1] = int(m)
  result[#result + 1] = #fields
  for _, v in ipairs(fields) do
    result[#result + 1] = v
  end
end
return result
