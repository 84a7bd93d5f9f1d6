-- claim: lease up to N tasks to a worker: first those whose lease lapsed
-- (their worker died), then due tasks in due order, each through admission
-- control when its task has any.
-- KEYS[1] scheduled zset, KEYS[2] running zset
-- ARGV[1] docket key prefix, ARGV[2] worker id, ARGV[3] N, ARGV[4] lease,
-- ARGV[5] retention (ms), ARGV[6] admission rules by task name (JSON, may be
-- empty): {"task": {"d": {"a": arg, "s": settle}, "cd": [{"a": arg, "w": window}],
-- "c": [{"a": arg, "m": max, "sc": scope}]}}, ARGV[7] the most deliveries of
-- one attempt: a task whose workers died that many times is dead-lettered
-- Returns: now, wait (until the next due task or lease expiry; -1 for none,
-- 0 when more due tasks remain), the number of claimed tasks, the number of
-- dropped tasks, then 9 values per claimed task: key, name, input, attempt,
-- deliveries, due, trace, gen, the limit it waited for (or ''); then 5 per
-- task turned away: key, name, reason, trace, and "dropped" (by admission
-- control: cancelled) or "dead" (dead-lettered: failed).
local now = clock_us()
local worker = ARGV[2]
local want, lease, retention = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local max_deliveries = tonumber(ARGV[7])
local rules = {}
if ARGV[6] ~= '' then
  rules = cjson.decode(ARGV[6])
end
local FIELDS = {'name', 'input', 'attempt', 'deliveries', 'due', 'trace', 'gen', 'created', 'admitted', 'waited'}

local claimed, dropped = {}, {}
local leases = {}

local function deliver(key, f)
  local gen = tonumber(f[7]) + 1
  local deliveries = tonumber(f[4]) + 1
  redis.call('HSET', K.task .. key, 'state', 'running', 'gen', int(gen), 'deliveries', int(deliveries),
    'worker', worker, 'started', int(now), 'waited', '')
  leases[#leases + 1] = now + lease
  leases[#leases + 1] = key
  announce(key, 'running', f[3])
  local n = #claimed
  claimed[n + 1] = key
  claimed[n + 2] = f[1]
  claimed[n + 3] = f[2] or ''
  claimed[n + 4] = f[3]
  claimed[n + 5] = int(deliveries)
  claimed[n + 6] = f[5]
  claimed[n + 7] = f[6] or ''
  claimed[n + 8] = int(gen)
  claimed[n + 9] = f[10] or ''
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
  local n = #dropped
  dropped[n + 1] = key
  dropped[n + 2] = f[1]
  dropped[n + 3] = reason
  dropped[n + 4] = f[6] or ''
  dropped[n + 5] = kind
end

local function drop(key, f, reason)
  turn_away(key, f, 'cancelled', reason, 'dropped')
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
  return (f[1] == 'running' or f[1] == 'scheduled') and holds(f[2], id)
end

-- free_stale drops holders that no longer hold the slot (a safety net: the
-- scripts free slots whenever a task ends).
local function free_stale(id)
  for _, holder in ipairs(redis.call('SMEMBERS', K.limit .. id)) do
    if not is_holder(holder, id) then
      redis.call('SREM', K.limit .. id, holder)
    end
  end
end

-- admit decides whether a due task may start: "run", "drop" (with the
-- reason), "later" (with the instant) or "wait" (with the limit). The checks
-- run in this order: debounce, cooldown, concurrency; a task starts only if
-- it passes them all, and only then does it open cooldown windows and take
-- slots. Debounce and cooldown judge submissions: a retry, or the next run of
-- a perpetual task, skips them.
local function admit(key, f, rule)
  local ok, input = pcall(cjson.decode, f[2])
  if not ok or type(input) ~= 'table' then
    return 'run' -- the worker reports undecodable input
  end
  local name = f[1]
  local fresh = f[9] ~= '1'
  local function id_of(arg)
    return name .. ':' .. arg .. ':' .. (arg ~= '' and text(input[arg]) or '')
  end

  local debounce = nil
  if rule.d and fresh then
    debounce = K.debounce .. id_of(rule.d.a)
    local st = redis.call('HMGET', debounce, 'winner', 'last')
    local winner, last = st[1], tonumber(st[2] or '0')
    local created = tonumber(f[8])
    local winner_live = winner and winner ~= key and is_live(redis.call('HGET', K.task .. winner, 'state'))
    if winner_live then
      -- A later submission of the burst: it moves the settle time, and the
      -- burst's first submission runs.
      last = math.max(last, created)
      redis.call('HSET', debounce, 'last', int(last))
      expire_after(debounce, last + rule.d.s, now)
      return 'drop', 'debounced: the burst runs as ' .. winner
    end
    if winner ~= key then -- the first submission of a burst
      last = created
      redis.call('HSET', debounce, 'winner', key, 'last', int(last))
    end
    expire_after(debounce, last + rule.d.s, now)
    if now < last + rule.d.s then
      return 'later', last + rule.d.s
    end
  end

  local windows = {}
  if fresh then
    for _, c in ipairs(rule.cd or {}) do
      local ck = K.cooldown .. id_of(c.a)
      local closes = tonumber(redis.call('GET', ck) or '0')
      if closes > now then
        local what = c.a == '' and 'the task' or (c.a .. '=' .. text(input[c.a]))
        return 'drop', 'cooldown: ' .. what .. ' ran less than ' .. int(c.w / 1000000) .. 's ago'
      end
      windows[#windows + 1] = {ck, now + c.w}
    end
  end

  local take = {}
  local slots = redis.call('HGET', K.task .. key, 'slots')
  for _, c in ipairs(rule.c or {}) do
    local id
    if c.sc ~= '' then
      id = 's:' .. c.sc .. ':' .. (c.a ~= '' and text(input[c.a]) or '')
    else
      id = 't:' .. id_of(c.a)
    end
    if not holds(slots, id) then
      if redis.call('SCARD', K.limit .. id) >= c.m then
        free_stale(id)
      end
      if redis.call('SCARD', K.limit .. id) >= c.m then
        return 'wait', id
      end
      take[#take + 1] = id
    end
  end

  for _, id in ipairs(take) do
    redis.call('SADD', K.limit .. id, key)
    slots = with_slot(slots, id)
    touch(id)
  end
  for _, w in ipairs(windows) do
    redis.call('SET', w[1], int(w[2]), 'PX', math.ceil((w[2] - now) / 1000) + GC_MARGIN_MS)
  end
  if debounce then
    redis.call('DEL', debounce) -- the burst is over
  end
  redis.call('HSET', K.task .. key, 'slots', slots or '', 'admitted', '1')
  return 'run'
end

-- Tasks whose worker died: their lease lapsed. They keep their slots.
local lapsed = redis.call('ZRANGEBYSCORE', K.running, '-inf', now, 'LIMIT', 0, want)
for _, key in ipairs(lapsed) do
  local f = redis.call('HMGET', K.task .. key, unpack(FIELDS))
  if not f[1] then
    redis.call('ZREM', K.running, key)
  elseif tonumber(f[4]) >= max_deliveries then
    redis.call('ZREM', K.running, key)
    dead_letter(key, f)
  else
    deliver(key, f)
  end
end

-- Due tasks, in due order, until N are claimed or a thousand were looked at.
local more = false
local looked = 0
while #claimed / 9 < want do
  local due = redis.call('ZRANGEBYSCORE', K.scheduled, '-inf', now, 'LIMIT', 0, want - #claimed / 9)
  if #due == 0 then
    break
  end
  redis.call('ZREM', K.scheduled, unpack(due))
  for _, key in ipairs(due) do
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
        drop(key, f, arg)
      elseif verdict == 'later' then
        redis.call('HSET', K.task .. key, 'due', int(arg))
        redis.call('ZADD', K.scheduled, arg, key)
        announce(key, 'scheduled', f[3])
      else -- wait for a slot of limit arg; reservations go to the next in line
        release_slots(key, now)
        redis.call('RPUSH', K.waiting .. arg, key)
        redis.call('HSET', K.task .. key, 'state', 'waiting', 'waiting', arg, 'waited', arg)
        touch(arg)
        announce(key, 'queued', f[3])
      end
    end
  end
  looked = looked + #due
  if looked >= 1000 then
    more = true
    break
  end
end

if #leases > 0 then
  redis.call('ZADD', K.running, unpack(leases))
end

local result = {int(now), '-1', #claimed / 9, #dropped / 5}
local nxt = earliest(K.scheduled)
local lapse = earliest(K.running)
if lapse ~= nil and (nxt == nil or lapse < nxt) then
  nxt = lapse
end
if more then
  result[2] = '0'
elseif nxt ~= nil then
  result[2] = int(math.max(0, nxt - now))
end
for _, v in ipairs(claimed) do
  result[#result + 1] = v
end
for _, v in ipairs(dropped) do
  result[#result + 1] = v
end
return result
