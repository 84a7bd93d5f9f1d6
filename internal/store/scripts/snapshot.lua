-- snapshot: what the docket holds right now.
-- KEYS[1] scheduled zset
-- ARGV[1] docket key prefix, ARGV[2] limit per list
-- Returns: now, #scheduled, #running, #waiting, #parked (until a child or a
-- signal wakes them), then four counts: workers
-- listed, tasks listed, limits listed, holders and waiters listed; then per
-- worker: id, live-until, description; per task (running, scheduled,
-- parked, held by a strike, waiting, then dead-lettered): key, score (0
-- for parked and held ones), name, attempt, deliveries,
-- started, worker, created, state, waiting-for, error; per limit: id,
-- #holders, #waiters (every one); then per holder or waiter listed: limit
-- id, "h" or "w", key. At most "limit" holders and "limit" waiters (the
-- first in line) are listed per limit, and "limit" waiting tasks in all:
-- the work grows with the limit and the number of limits in use, never
-- with the length of a line.
local now = clock_us()
local limit = tonumber(ARGV[2])
local result = {int(now), redis.call('ZCARD', K.scheduled), redis.call('ZCARD', K.running), 0,
  redis.call('ZCARD', K.parked), 0, 0, 0, 0}
-- The positions of the four counts in result.
local WORKERS, TASKS, LIMITS, MEMBERS = 6, 7, 8, 9
local workers_out, tasks_out, limits_out, members_out = {}, {}, {}, {}

local workers = redis.call('ZRANGEBYSCORE', K.workers, now, '+inf', 'WITHSCORES')
for i = 1, #workers, 2 do
  local info = redis.call('GET', K.worker .. workers[i])
  if info then
    workers_out[#workers_out + 1] = workers[i]
    workers_out[#workers_out + 1] = int(tonumber(workers[i + 1]))
    workers_out[#workers_out + 1] = info
    result[WORKERS] = result[WORKERS] + 1
  end
end

local function task(key, score)
  local f = read(key, 'name', 'attempt', 'deliveries', 'started', 'worker', 'created', 'state', 'waiting', 'error')
  if not f[1] then
    return -- an expired record, or a key another program overwrote
  end
  tasks_out[#tasks_out + 1] = key
  tasks_out[#tasks_out + 1] = int(score)
  for j = 1, 9 do
    tasks_out[#tasks_out + 1] = f[j] or ''
  end
  result[TASKS] = result[TASKS] + 1
end

local function list(zset, scored)
  if limit <= 0 then
    return
  end
  local entries = redis.call('ZRANGE', zset, 0, limit - 1, 'WITHSCORES')
  for i = 1, #entries, 2 do
    task(entries[i], scored and tonumber(entries[i + 1]) or 0)
  end
end
list(K.running, true)
list(K.scheduled, true)
list(K.parked, false)
list(K.struck, false)

-- some_members lists up to n members of a set, a page (SSCAN) at a time,
-- at most ten pages: a set of holders is no larger than its limit's
-- maximum, but need not be read whole.
local function some_members(set, n)
  local out, seen, cursor = {}, {}, '0'
  if n <= 0 then
    return out
  end
  for _ = 1, 10 do
    local page = redis.call('SSCAN', set, cursor, 'COUNT', n)
    for _, m in ipairs(page[2]) do
      if #out < n and not seen[m] then
        seen[m] = true
        out[#out + 1] = m
      end
    end
    cursor = page[1]
    if cursor == '0' or #out >= n then
      break
    end
  end
  return out
end

local listed_waiters = 0
for _, id in ipairs(redis.call('SMEMBERS', K.limits)) do
  local holders = some_members(K.limit .. id, limit)
  local waiters = {}
  if limit > 0 then
    waiters = redis.call('ZRANGE', K.waiting .. id, 0, limit - 1)
  end
  local n_waiters = redis.call('ZCARD', K.waiting .. id)
  result[4] = result[4] + n_waiters
  limits_out[#limits_out + 1] = id
  limits_out[#limits_out + 1] = redis.call('SCARD', K.limit .. id)
  limits_out[#limits_out + 1] = n_waiters
  result[LIMITS] = result[LIMITS] + 1
  for _, h in ipairs(holders) do
    members_out[#members_out + 1] = id
    members_out[#members_out + 1] = 'h'
    members_out[#members_out + 1] = h
  end
  for _, w in ipairs(waiters) do
    members_out[#members_out + 1] = id
    members_out[#members_out + 1] = 'w'
    members_out[#members_out + 1] = w
    if listed_waiters < limit then
      listed_waiters = listed_waiters + 1
      task(w, tonumber(redis.call('HGET', K.task .. w, 'due') or '0'))
    end
  end
end
result[MEMBERS] = #members_out / 3

local dead = {}
if limit > 0 then
  dead = redis.call('ZREVRANGE', K.deadletters, 0, limit - 1, 'WITHSCORES')
end
for i = 1, #dead, 2 do
  task(dead[i], tonumber(dead[i + 1]))
end

for _, part in ipairs({workers_out, tasks_out, limits_out, members_out}) do
  for _, v in ipairs(part) do
    result[#result + 1] = v
  end
end
return result
