-- claim: lease up to N tasks to a worker: first those whose lease lapsed
-- (their worker died), then due tasks in due order, each through admission
-- control when its task has any.
-- KEYS[1] scheduled zset, KEYS[2] running zset
-- ARGV[1] docket key prefix, ARGV[2] worker id, ARGV[3] N, ARGV[4] lease,
-- ARGV[5] retention (ms), ARGV[6] admission rules by task name (JSON, may be
-- empty): {"task": {"d": {"a": arg, "s": settle}, "cd": [{"a": arg, "w": window}],
-- "c": [{"a": arg, "m": max, "sc": scope}]}}, ARGV[7] the most deliveries of
-- one attempt: a task whose workers died that many times is dead-lettered,
-- ARGV[8] the number of outcomes the worker reports first (see
-- finish_attempts), then 6 values per outcome
-- Returns: now, wait (until the next due task or lease expiry; -1 for none,
-- 0 when more due tasks may remain: N were claimed, or a thousand looked
-- at), the number of claimed tasks, the number of
-- tasks turned away, then 9 values per claimed task: key, name, input,
-- attempt, deliveries, due, trace, gen, the limit it waited for (or ''); then
-- 5 per task turned away: key, name, reason, trace, and "dropped" (by
-- admission control: cancelled) or "dead" (dead-lettered: failed); then per
-- outcome reported, 1 applied or 0 stale.
--
-- Outcomes come with the claim so that a busy worker makes one round trip
-- per batch of tasks, not two; they are recorded first, so that the slots
-- and due retries they free are claimable at once.
--
-- Each task is taken out of its sorted set only as it is handled, and its
-- lease added at once, so that whatever happens to the script midway, no
-- task is left outside every set.
local now = clock_us()
local worker = ARGV[2]
local want, lease, retention = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local max_deliveries = tonumber(ARGV[7])
local rules = {}
if ARGV[6] ~= '' then
  rules = cjson.decode(ARGV[6])
end
-- A task's fields a claim reads; the bulk path reads only the first eight.
local FIELDS = {'name', 'input', 'attempt', 'deliveries', 'due', 'trace', 'gen', 'waited', 'state', 'created', 'admitted'}
local BULK_FIELDS = {'name', 'input', 'attempt', 'deliveries', 'due', 'trace', 'gen', 'waited'}
-- Numbers passed to redis.call are formatted by Lua with a float format:
-- the instants used for every task are formatted once, as integers.
local now_s, lease_until = int(now), int(now + lease)
local any_rules = next(rules) ~= nil

local claimed, turned = {}, {}
local n_claimed = 0

local outcomes = tonumber(ARGV[8] or '0')
local applied = {}
if outcomes > 0 then
  applied = finish_attempts(9, 8 + 6 * outcomes, ARGV[5], now)
end

-- hand_over marks a task leased (its lease is in the running set already)
-- and adds it to the reply.
local function hand_over(key, f)
  local gen = int(tonumber(f[7]) + 1)
  local deliveries = int(tonumber(f[4]) + 1)
  if f[8] and f[8] ~= '' then
    redis.call('HSET', K.task .. key, 'state', 'running', 'gen', gen, 'deliveries', deliveries,
      'worker', worker, 'started', now_s, 'waited', '')
  else
    redis.call('HSET', K.task .. key, 'state', 'running', 'gen', gen, 'deliveries', deliveries,
      'worker', worker, 'started', now_s)
  end
  announce(key, 'running', f[3])
  local n = #claimed
  claimed[n + 1] = key
  claimed[n + 2] = f[1]
  claimed[n + 3] = f[2] or ''
  claimed[n + 4] = f[3]
  claimed[n + 5] = deliveries
  claimed[n + 6] = f[5]
  claimed[n + 7] = f[6] or ''
  claimed[n + 8] = gen
  claimed[n + 9] = f[8] or ''
  n_claimed = n_claimed + 1
end

local function deliver(key, f)
  redis.call('ZADD', K.running, lease_until, key)
  hand_over(key, f)
end

-- turn_away ends a task without running it: a submission admission control
-- dropped (state cancelled), or a poison task (state failed).
local function turn_away(key, f, state, reason, kind)
  release_slots(key, now)
  redis.call('HSET', K.task .. key, 'state', state, 'gen', int(tonumber(f[7]) + 1),
    'finished', int(now), 'error', reason)
  redis.call('PEXPIRE', K.task .. key, retention)
  end_progress(key)
  announce(key, state, f[3], reason)
  chain_ended(key, redis.call('HGET', K.task .. key, 'auto'))
  local n = #turned
  turned[n + 1] = key
  turned[n + 2] = f[1]
  turned[n + 3] = reason
  turned[n + 4] = f[6] or ''
  turned[n + 5] = kind
end

-- dead_letter ends a task whose workers kept dying while running it, and
-- keeps it listed (for Snapshot) as long as its record.
local function dead_letter(key, f)
  turn_away(key, f, 'failed', 'dead-lettered: delivered ' .. f[4] ..
    ' times, and its worker stopped without finishing it each time', 'dead')
  redis.call('ZADD', K.deadletters, now, key)
  redis.call('ZREMRANGEBYSCORE', K.deadletters, '-inf', now - retention * 1000)
  redis.call('PEXPIRE', K.deadletters, retention)
end

-- text renders an input value for a key: strings as they are, integers
-- without an exponent, anything else as JSON. Newlines are escaped: they
-- separate the limits a task holds.
local function text(v)
  local s
  if type(v) == 'string' then
    s = v
  elseif type(v) == 'number' and v == math.floor(v) and math.abs(v) < 2 ^ 53 then
    s = string.format('%d', v)
  elseif type(v) == 'number' then
    s = string.format('%.17g', v)
  elseif type(v) == 'boolean' then
    s = tostring(v)
  elseif v == nil or v == cjson.null then
    s = ''
  else
    s = cjson.encode(v)
  end
  return (string.gsub(s, '\n', '\\n'))
end

local function is_holder(key, id)
  local f = redis.call('HMGET', K.task .. key, 'state', 'slots')
  return (f[1] == 'running' or f[1] == 'scheduled' or f[1] == 'waiting') and holds(f[2], id)
end

-- free_stale drops holders that no longer hold the slot, and hands the
-- slots freed to waiters (a safety net: the scripts free slots whenever a
-- task ends).
local function free_stale(id)
  for _, holder in ipairs(redis.call('SMEMBERS', K.limit .. id)) do
    if not is_holder(holder, id) then
      redis.call('SREM', K.limit .. id, holder)
      promote(id, now)
    end
  end
  touch(id)
end

-- release_after frees the slots a task holds of the limits that come after
-- id in the order limits are taken, keeping the others.
local function release_after(key, id)
  local slots = redis.call('HGET', K.task .. key, 'slots')
  if not slots or slots == '' then
    return
  end
  local kept = ''
  for held in string.gmatch(slots, '[^\n]+') do
    if held < id then
      kept = with_slot(kept, held)
    else
      redis.call('SREM', K.limit .. held, key)
      promote(held, now)
      touch(held)
    end
  end
  redis.call('HSET', K.task .. key, 'slots', kept)
end

-- admit decides whether a due task may start: "run", "drop" (with the
-- reason), "later" (with the instant) or "wait" (with the limit). The checks
-- run in this order: debounce, cooldown, concurrency; a task starts only if
-- it passes them all, and only then does it open cooldown windows and take
-- slots. Debounce and cooldown judge submissions: a retry, or the next run of
-- a perpetual task, skips them.
--
-- Concurrency slots are taken in the order of their limit ids. A task that
-- must wait for a slot keeps those it holds of earlier limits: holding and
-- waiting in one order, tasks cannot wait for each other in a circle.
local function admit(key, f, rule)
  local ok, input = pcall(cjson.decode, f[2])
  if not ok or type(input) ~= 'table' then
    return 'run' -- the worker reports undecodable input
  end
  local name = f[1]
  local fresh = f[11] ~= '1'
  local function value(arg)
    return arg ~= '' and text(input[arg]) or ''
  end
  local function id_of(arg)
    return name .. ':' .. arg .. ':' .. value(arg)
  end

  local debounce = nil
  if rule.d and fresh then
    debounce = K.debounce .. id_of(rule.d.a)
    local settle = tonumber(rule.d.s) or 0
    local st = redis.call('HMGET', debounce, 'winner', 'created', 'last')
    local created = tonumber(f[10])
    -- A burst is identified by its first submission: key and creation
    -- instant, since a key can be added again after it ended (then its
    -- record is the new submission's, which starts a new burst).
    local is_winner = st[1] == key and st[2] == f[10]
    if st[1] and st[1] ~= key and is_live(redis.call('HGET', K.task .. st[1], 'state')) then
      -- A later submission of the burst: it moves the settle time, and the
      -- burst's first submission runs.
      local last = math.max(tonumber(st[3]) or 0, created)
      redis.call('HSET', debounce, 'last', int(last))
      expire_after(debounce, last + settle, now)
      -- The first submission is due when the burst has settled.
      if redis.call('HGET', K.task .. st[1], 'state') == 'scheduled' then
        redis.call('ZADD', K.scheduled, 'XX', last + settle, st[1])
        redis.call('HSET', K.task .. st[1], 'due', int(last + settle))
      end
      return 'drop', 'debounced: the burst runs as ' .. st[1]
    end
    local last = tonumber(st[3]) or created
    if not is_winner then -- the first submission of a burst
      last = created
      redis.call('HSET', debounce, 'winner', key, 'created', f[10], 'last', int(last))
    end
    expire_after(debounce, last + settle, now)
    if now < last + settle then
      return 'later', last + settle
    end
  end

  local windows = {}
  if fresh then
    for _, c in ipairs(rule.cd or {}) do
      local ck = K.cooldown .. id_of(c.a)
      local window = tonumber(c.w) or 0
      local closes = tonumber(redis.call('GET', ck) or '0')
      if closes > now then
        local what = c.a == '' and 'the task' or (c.a .. '=' .. value(c.a))
        return 'drop', 'cooldown: ' .. what .. ' ran less than ' .. duration(window) .. ' ago'
      end
      windows[#windows + 1] = {ck, now + window}
    end
  end

  local limits = {}
  for _, c in ipairs(rule.c or {}) do
    local id
    if c.sc ~= '' then
      id = 's:' .. c.sc .. ':' .. value(c.a)
    else
      id = 't:' .. id_of(c.a)
    end
    limits[#limits + 1] = {id = id, max = tonumber(c.m) or 1}
  end
  table.sort(limits, function(a, b) return a.id < b.id end)

  local slots = redis.call('HGET', K.task .. key, 'slots')
  for _, l in ipairs(limits) do
    if not holds(slots, l.id) then
      if redis.call('SCARD', K.limit .. l.id) >= l.max then
        free_stale(l.id)
      end
      if redis.call('SCARD', K.limit .. l.id) >= l.max then
        return 'wait', l.id
      end
      redis.call('SADD', K.limit .. l.id, key)
      slots = with_slot(slots, l.id)
      redis.call('HSET', K.task .. key, 'slots', slots)
      touch(l.id)
    end
  end

  for _, w in ipairs(windows) do
    redis.call('SET', w[1], int(w[2]), 'PX', math.ceil((w[2] - now) / 1000) + GC_MARGIN_MS)
  end
  if debounce then
    redis.call('DEL', debounce) -- the burst is over
  end
  redis.call('HSET', K.task .. key, 'admitted', '1')
  return 'run'
end

-- Tasks whose worker died: their lease lapsed. They keep their slots.
local lapsed = {}
if want > 0 then
  lapsed = redis.call('ZRANGEBYSCORE', K.running, '-inf', now, 'LIMIT', 0, want)
end
for _, key in ipairs(lapsed) do
  local f = redis.call('HMGET', K.task .. key, unpack(FIELDS))
  if not f[1] or f[9] ~= 'running' then -- not a live run (a safety net)
    redis.call('ZREM', K.running, key)
  elseif tonumber(f[4]) >= max_deliveries then
    redis.call('ZREM', K.running, key)
    dead_letter(key, f)
  else
    deliver(key, f) -- its lease is renewed in place
  end
end

-- Due tasks, in due order, until N are claimed or a thousand were looked at.
local more = false
local looked = 0
while n_claimed < want do
  local due = redis.call('ZRANGEBYSCORE', K.scheduled, '-inf', now, 'LIMIT', 0, want - n_claimed)
  if #due == 0 then
    break
  end
  looked = looked + #due
  if not any_rules then
    -- The common case, in bulk: every due task runs. Leases are added
    -- before the tasks leave the schedule, so each is always in a set.
    local fields, leases = {}, {}
    for i, key in ipairs(due) do
      fields[i] = redis.call('HMGET', K.task .. key, unpack(BULK_FIELDS))
      if fields[i][1] then
        leases[#leases + 1] = lease_until
        leases[#leases + 1] = key
      end
    end
    if #leases > 0 then
      redis.call('ZADD', K.running, unpack(leases))
    end
    redis.call('ZREM', K.scheduled, unpack(due))
    for i, key in ipairs(due) do
      if fields[i][1] then
        hand_over(key, fields[i])
      end
    end
    due = {}
  end
  for _, key in ipairs(due) do
    redis.call('ZREM', K.scheduled, key)
    local f = redis.call('HMGET', K.task .. key, unpack(FIELDS))
    if f[1] then
      local rule = rules[f[1]]
      local verdict, arg = 'run', nil
      if rule then
        verdict, arg = admit(key, f, rule)
      end
      if verdict == 'run' then
        deliver(key, f)
      elseif verdict == 'drop' then
        turn_away(key, f, 'cancelled', arg, 'dropped')
      elseif verdict == 'later' then
        release_slots(key, now) -- no slot is held while waiting for a burst to settle
        redis.call('HSET', K.task .. key, 'due', int(arg))
        redis.call('ZADD', K.scheduled, arg, key)
        announce(key, 'scheduled', f[3])
      else -- wait for a slot of limit arg, keeping those of earlier limits
        release_after(key, arg)
        wait_in_line(arg, key)
        redis.call('HSET', K.task .. key, 'state', 'waiting', 'waiting', arg, 'waited', arg)
        touch(arg)
        announce(key, 'queued', f[3])
      end
    end
  end
  if looked >= 1000 then
    more = true
    break
  end
end

local result = {int(now), '-1', n_claimed, #turned / 5}
if more or want > 0 and n_claimed == want then
  result[2] = '0' -- more may be due: the worker looks again at once anyway
else
  local nxt = earliest(K.scheduled)
  local lapse = earliest(K.running)
  if lapse ~= nil and (nxt == nil or lapse < nxt) then
    nxt = lapse
  end
  if nxt ~= nil then
    result[2] = int(math.max(0, nxt - now))
  end
end
for _, v in ipairs(claimed) do
  result[#result + 1] = v
end
for _, v in ipairs(turned) do
  result[#result + 1] = v
end
for _, v in ipairs(applied) do
  result[#result + 1] = v
end
return result
