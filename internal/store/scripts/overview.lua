-- overview: what the dashboard's overview shows, in one call whose work
-- does not grow with the number of tasks: the counts by state, the earliest
-- due task, the dead letters kept, the names of a sample of the live tasks,
-- and the per-minute counters of the last minutes (K.stats).
-- KEYS[1] scheduled zset
-- ARGV[1] docket key prefix, ARGV[2] sample: the most tasks of each list
-- (running, queued, scheduled, parked) whose names are read, ARGV[3] how
-- many minutes of counters, up to the current one, ARGV[4] the retention
-- (ms): dead letters older than it are not counted
-- Returns: an OVERVIEW_HEAD (now; the counts by list: queued, scheduled
-- not yet due, running, waiting for a slot, parked until a child or a
-- signal, dead letters, failed executions (both within the retention; a
-- failed one whose key was added again since still counts), with the earliest due instant as Redis writes a
-- score, perhaps 1e+15, 0 when nothing is scheduled; limits in use, live
-- workers, tasks held by a strike, strikes in effect; how many tasks of
-- each list the sample read; how many names follow), then a NAME_COUNT
-- per name (within the sample; a workflow parked until an instant is in
-- the schedule, and counted parked); then how many minutes
-- follow, and per minute: the minute (unix minutes), how many values
-- follow, then its field, value pairs.
-- Counting the waiting tasks reads every limit in use, as Count does.
local now = clock_us()
local sample, minutes, retention = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local queued, all, due = in_line(now)
local waiting = 0
local limits = redis.call('SMEMBERS', K.limits)
for _, id in ipairs(limits) do
  waiting = waiting + redis.call('ZCARD', K.waiting .. id)
end
local head = {now = int(now), queued = queued, scheduled = all - queued, running = redis.call('ZCARD', K.running),
  waiting = waiting, parked = redis.call('ZCARD', K.parked),
  dead = redis.call('ZCOUNT', K.deadletters, now - retention * 1000, '+inf'),
  failed = redis.call('ZCOUNT', K.failed, now - retention * 1000, '+inf'),
  earliest = redis.call('ZRANGE', K.scheduled, 0, 0, 'WITHSCORES')[2] or '0', limits = #limits,
  workers = redis.call('ZCOUNT', K.workers, now, '+inf'), struck = redis.call('ZCARD', K.struck),
  strikes = redis.call('HLEN', K.strikes)}

-- The names of the sampled tasks, in the order first seen, and their
-- counts by column of NAME_COUNT.
local names, order = {}, {}
local function count(keys, column)
  for _, key in ipairs(keys) do
    local f = read(key, 'name', 'state')
    local name = f[1]
    if name then
      if not names[name] then
        names[name] = {name = name, running = 0, queued = 0, scheduled = 0, parked = 0}
        order[#order + 1] = name
      end
      local c = column
      if f[2] == STATE.parked then
        c = 'parked' -- parked until an instant: in the schedule
      end
      names[name][c] = names[name][c] + 1
    end
  end
  return #keys
end
-- ranks returns the keys of ranks [from, to] of a sorted set.
local function ranks(set, from, to)
  if to < from then
    return {}
  end
  return redis.call('ZRANGE', set, from, to)
end
head.sampled_running = count(ranks(K.running, 0, sample - 1), 'running')
-- The sample reads K.ready and the schedule alone (not the few tasks in
-- line behind their key's drain, see in_line): the due tasks first.
local ready = {}
if sample > 0 then
  ready = redis.call('LRANGE', K.ready, 0, sample - 1)
end
head.sampled_queued = count(ready, 'queued') + count(ranks(K.scheduled, 0, math.min(sample - #ready, due) - 1), 'queued')
head.sampled_scheduled = count(ranks(K.scheduled, due, due + sample - 1), 'scheduled')
head.sampled_parked = count(ranks(K.parked, 0, sample - 1), 'parked')
-- The earliest due task may be K.ready's first, added to run at once.
local first_ready = redis.call('LINDEX', K.ready, 0)
if first_ready then
  local at = tonumber(due_of(first_ready)) -- nil for a garbled record
  if at and (head.earliest == '0' or at < score(head.earliest)) then
    head.earliest = int(at)
  end
end
head.names = #order
local result = {}
put(result, OVERVIEW_HEAD, head)
for _, name in ipairs(order) do
  put(result, NAME_COUNT, names[name])
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
