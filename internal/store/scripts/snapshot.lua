-- snapshot: what the docket holds right now.
-- KEYS[1] scheduled zset
-- ARGV[1] docket key prefix, ARGV[2] limit per list
-- Returns: a SNAP_HEAD (now; #scheduled, due or not, those in line behind
-- their key's drain included (see in_line); #running; #waiting; #parked
-- until a child or a signal wakes them; #held by a strike; then how many of
-- each entry follow),
-- then a SNAP_WORKER per live worker; a LISTED per task (running, added
-- to run at once (K.ready), scheduled, in line behind a drain, parked,
-- held by a strike, waiting, then dead-lettered; score 0 for parked and
-- held ones); a SNAP_LIMIT per limit in use (#holders and
-- #waiters, every one); a SNAP_MEMBER per holder or waiter listed; a
-- SNAP_RATE per rate limit whose window holds a start (K.rates; at most
-- "limit" of them, and how many there are in the head). At most
-- "limit" holders and "limit" waiters (the first in line) are listed per
-- limit, and "limit" waiting tasks in all: the work grows with the limit
-- and the number of limits in use, never with the length of a line.
local now = clock_us()
local limit = tonumber(ARGV[2])
local _, in_line_all = in_line(now)
local head = {now = int(now), scheduled = in_line_all, running = redis.call('ZCARD', K.running),
  waiting = 0, parked = redis.call('ZCARD', K.parked), held = redis.call('ZCARD', K.struck), workers = 0, tasks = 0,
  limits = 0, members = 0, rates = 0, rates_total = 0}
local workers_out, tasks_out, limits_out, members_out, rates_out = {}, {}, {}, {}, {}

local workers = redis.call('ZRANGEBYSCORE', K.workers, now, '+inf', 'WITHSCORES')
for i = 1, #workers, 2 do
  local info = redis.call('GET', K.worker .. workers[i])
  if info then
    put(workers_out, SNAP_WORKER, {id = workers[i], live_until = int(tonumber(workers[i + 1])), description = info})
    head.workers = head.workers + 1
  end
end

-- task lists a task with its score: for nil, its due time (see list_task).
local function task(key, score)
  if list_task(tasks_out, key, score and int(score), '', 0) then
    head.tasks = head.tasks + 1
  end
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
if limit > 0 then -- added to run at once: due at their created instant
  for _, key in ipairs(redis.call('LRANGE', K.ready, 0, limit - 1)) do
    task(key, nil)
  end
end
list(K.scheduled, true)
list(K.deferred, true) -- in line behind their key's drain
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
  head.waiting = head.waiting + n_waiters
  put(limits_out, SNAP_LIMIT, {id = id, holders = redis.call('SCARD', K.limit .. id), waiters = n_waiters})
  head.limits = head.limits + 1
  for _, h in ipairs(holders) do
    put(members_out, SNAP_MEMBER, {limit = id, role = ROLE.holds, key = h})
  end
  for _, w in ipairs(waiters) do
    put(members_out, SNAP_MEMBER, {limit = id, role = ROLE.waits, key = w})
    if listed_waiters < limit then
      listed_waiters = listed_waiters + 1
      task(w, nil) -- listed with its due time
    end
  end
end
head.members = #members_out / #SNAP_MEMBER

-- The rate limits whose window holds a start, "limit" of them, those whose
-- window empties last first: how many starts it holds under the rule that
-- counted the latest, and when it lets the next start if it is full (when
-- as many starts leave it as it holds beyond its limit, and one more).
head.rates_total = redis.call('ZCOUNT', K.rates, '(' .. int(now), '+inf')
local rated = {}
if limit > 0 then
  rated = redis.call('ZREVRANGEBYSCORE', K.rates, '+inf', '(' .. int(now), 'LIMIT', 0, limit)
end
for _, id in ipairs(rated) do
  local limit_s, per_s = string.match(redis.call('GET', K.raterule .. id) or '', '^(%d+) (%d+)$')
  if limit_s then
    local rk = K.rate .. id
    local since = '(' .. int(now - tonumber(per_s))
    local started = redis.call('ZCOUNT', rk, since, '+inf')
    local next_start = '0'
    if started >= tonumber(limit_s) then
      local leaves = redis.call('ZRANGEBYSCORE', rk, since, '+inf', 'WITHSCORES', 'LIMIT', started - tonumber(limit_s), 1)
      next_start = int(score(leaves[2]) + tonumber(per_s))
    end
    if started > 0 then
      put(rates_out, SNAP_RATE, {id = id, limit = limit_s, per = per_s, started = started, next = next_start})
    end
  end
end
head.rates = #rates_out / #SNAP_RATE

local dead = {}
if limit > 0 then
  dead = redis.call('ZREVRANGE', K.deadletters, 0, limit - 1, 'WITHSCORES')
end
for i = 1, #dead, 2 do
  task(dead[i], tonumber(dead[i + 1]))
end

local result = {}
put(result, SNAP_HEAD, head)
for _, part in ipairs({workers_out, tasks_out, limits_out, members_out, rates_out}) do
  for _, v in ipairs(part) do
    result[#result + 1] = v
  end
end
return result
