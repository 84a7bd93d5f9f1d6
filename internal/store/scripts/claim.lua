-- claim: lease up to N tasks to a worker: first those whose lease lapsed
-- (their worker died), then due tasks in due order, each through admission
-- control when its task has any.
-- KEYS[1] scheduled zset, KEYS[2] running zset (K.ready too: see next_due)
-- ARGV[1] docket key prefix, ARGV[2] worker id, ARGV[3] N, ARGV[4] lease,
-- ARGV[5] retention (ms), ARGV[6] admission rules by task name (JSON, may be
-- empty; {name: RULE}, see rules.go and the tables RULE, WINDOW, LIMIT and
-- RATE), ARGV[7] the most deliveries of one attempt: a task whose workers
-- died that many times is dead-lettered, ARGV[8] the number of outcomes the
-- worker reports first (see finish_attempts), ARGV[9] how many of the N
-- the worker has free slots for (the rest wait in its line: see
-- claim_due), ARGV[10] the exchange's id (see replay), then the outcomes,
-- in groups (see finish_attempts).
-- Returns: a CLAIM_HEAD (now; wait until the next due task or lease expiry,
-- -1 for none, 0 when more due tasks may remain: N were claimed, or a
-- thousand looked at; how many claimed; how many turned away), then a
-- CLAIMED per claimed task, a TURNED per task turned away, its fate what
-- became of it: FATE.dropped (by admission control: cancelled), FATE.dead
-- (dead-lettered: failed), FATE.bad_input (its input could not be read for
-- its admission rules: failed), FATE.corrupt (its record could not be used:
-- failed) or FATE.held (a strike holds it until it is restored: not ended);
-- then per outcome reported, 1 applied or 0 stale.
--
-- Outcomes come with the claim so that a busy worker makes one round trip
-- per batch of tasks, not two; they are recorded first, so that the slots
-- and due retries they free are claimable at once.
--
-- Each task is taken out of its sorted set only as it is handled, and its
-- lease added at once, so that whatever happens to the script midway, no
-- task is left outside every set. Whatever one task holds — a record that
-- is not a hash or has garbled fields, input the admission rules cannot
-- read — ends that task alone, failed with the reason: the others of the
-- claim are handled as usual.
over_maxmemory()
local now = clock_us()
local worker = ARGV[2]
local want, lease, retention = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local max_deliveries = tonumber(ARGV[7])
local free_slots = tonumber(ARGV[9]) or want
local rules = {}
if ARGV[6] ~= '' then
  rules = cjson.decode(ARGV[6])
end
-- The tasks whose rules count starts in windows of time (rate limits,
-- cooldowns): none is claimed to wait in a worker's line (see claim_due).
local timed = {}
for name, rule in pairs(rules) do
  if rule[RULE.rates] or rule[RULE.cooldowns] then
    timed[name] = true
  end
end
local any_timed = next(timed) ~= nil
-- A task's fields a claim reads, into a record by name.
-- A task delivered in bulk (see deliver_all) needs the first ten: its
-- rules' and its state's are not read, each field read costing Redis a
-- scan of the record. (created stands for gen and due while the record
-- leaves them out: see ATTEMPT_1; wf is read to be written if absent: see
-- open_flow.)
local RECORD = {'name', 'input', 'attempt', 'deliveries', 'due', 'trace', 'gen', 'created', 'wf', 'waited', 'state',
  'admitted'}
local BULK = 10 -- (read_few spells as many falses)
-- Numbers passed to redis.call are formatted by Lua with a float format:
-- the instants used for every task are formatted once, as integers.
local now_s, lease_until = int(now), int(now + lease)
local any_rules = next(rules) ~= nil
local any_strikes = #strikes() > 0

local claimed, turned = {}, {}
local n_claimed = 0

-- replay answers an exchange that go-redis sent again after the network
-- lost its reply (MaxRetries), which Redis carried out the first time,
-- from what the first send left (K.claim, see the end of this script): its
-- instant, its tasks' lease expiry, and which outcomes it applied (their
-- number, and the places of those it found stale). The
-- tasks it claimed are those whose lease ends at that instant, leased to
-- this worker by a claim at its instant and still running: one since
-- cancelled is not handed out. Without it they would stay leased to a
-- worker that never saw them until their lease lapsed, and their delivery
-- would count against them. Nothing is claimed or recorded again. The tasks
-- come in due order (not always the first send's, which put lapsed leases
-- first, and listed tasks in the order added); what each waited for before
-- the claim, and the tasks the first send turned away, are not told again.
local function replay(sent)
  local at, until_us, outcomes, stale = string.match(sent, '^(%d+) (%d+) (%d+) ([%d,]*)$')
  if not at then
    return nil -- not what a claim writes: claim as if it were the first send
  end
  local found = {}
  for _, key in ipairs(redis.call('ZRANGEBYSCORE', K.running, until_us, until_us)) do
    local f = read(key, 'state', 'worker', 'started', 'name', 'input', 'trace', 'attempt', 'deliveries', 'gen', 'due',
      'created')
    if f[1] == STATE.running and f[2] == worker and f[3] == at and f[9] and (f[10] or f[11]) then
      found[#found + 1] = {key = key, name = f[4], input = f[5], trace = f[6],
        head = (f[7] or ATTEMPT_1) .. ' ' .. (f[8] or DELIVERIES_1) .. ' ' .. (f[10] or f[11]) .. ' ' .. f[9] .. ' ',
        due = tonumber(f[10] or f[11]) or 0}
    end
  end
  table.sort(found, function(a, b)
    if a.due ~= b.due then
      return a.due < b.due
    end
    return a.key < b.key
  end)
  local result = {}
  put(result, CLAIM_HEAD, {now = int(now), wait = '0', claimed = #found, turned = 0})
  for _, t in ipairs(found) do
    t.due = nil
    put(result, CLAIMED, t)
  end
  local n = #result
  for i = 1, tonumber(outcomes) do
    result[n + i] = 1
  end
  for i in string.gmatch(stale, '%d+') do
    result[n + tonumber(i)] = 0
  end
  return result
end

local sent_before = redis.call('GET', K.claim .. ARGV[10])
local replayed = sent_before and replay(sent_before)
if replayed then
  return replayed
end

local outcomes = tonumber(ARGV[8] or '0')
local applied = {}
if outcomes > 0 then
  applied = finish_attempts(11, #ARGV, ARGV[5], now)
end

-- named makes the values of RECORD's fields, as read, a record by name:
-- a new table, built in one constructor in RECORD's order (filled name by
-- name, a new table costs Redis twice as much), or into, a record a loop
-- reuses (see get). fresh: the record has neither gen nor wf, so it never
-- ran and has no flow (a signal sent before its first run opens one: see
-- open_flow).
local function named(v, into)
  if not into then
    return {name = v[1], input = v[2], attempt = v[3] or ATTEMPT_1, deliveries = v[4] or DELIVERIES_0,
      due = v[5] or v[8], trace = v[6], gen = v[7] or v[8], created = v[8], waited = v[10], state = v[11],
      admitted = v[12], fresh = not (v[7] or v[9])}
  end
  into.name, into.input, into.attempt, into.deliveries, into.due, into.trace, into.gen, into.created, into.waited,
    into.state, into.admitted, into.fresh = v[1], v[2], v[3] or ATTEMPT_1, v[4] or DELIVERIES_0, v[5] or v[8], v[6],
    v[7] or v[8], v[8], v[10], v[11], v[12], not (v[7] or v[9])
  return into
end

-- read_few reads the first BULK fields of RECORD from the record at tk as
-- read_at does (false for one absent), in one HGETALL: for the record of a
-- task in K.ready, which has only the few fields of an added task, that
-- costs Redis less than asking for ten, most of them absent, each a scan
-- of the record (4,500 instructions a task fewer, by callgrind). A
-- record's fields come back as new strings, which is why a record that
-- ran before is read by name (read_at).
local PLACE = {}
for i, name in ipairs(RECORD) do
  PLACE[name] = i
end
local function read_few(tk)
  local all = redis.pcall('HGETALL', tk)
  if all.err then
    return {}, all.err
  end
  local v = {false, false, false, false, false, false, false, false, false, false} -- BULK of them
  for i = 1, #all, 2 do
    local at = PLACE[all[i]]
    if at and at <= BULK then
      v[at] = all[i + 1]
    end
  end
  return v, nil
end

-- fetch reads a task's record (the first n fields of RECORD, all by
-- default; few: the first BULK of a record in K.ready, see read_few) by
-- name, into into if given (see named), and tells what makes it unusable,
-- if anything (see corruption); third, the values as read; fourth, the
-- record's key (see read_at).
local function fetch(key, n, into, few)
  local tk = K.task .. key
  local v, err
  if few then
    v, err = read_few(tk)
  else
    v, err = read_at(tk, unpack(RECORD, 1, n or #RECORD))
  end
  local f = named(v, into)
  return f, corruption(f.name, f.attempt, f.deliveries, f.due, f.gen, err), v, tk
end

-- hand_over marks a task leased (its lease is in the running set already)
-- and adds it to the reply, through handed, the one CLAIMED entry every
-- task of the claim fills in turn (see get). tk is its record's key, if
-- the caller has it (see read_at).
local handed = {}
local function hand_over(key, f, tk)
  tk = tk or K.task .. key
  local gen = gen_after(f.gen, now_s)
  local deliveries = DELIVERIES_1
  if f.deliveries ~= DELIVERIES_0 then
    deliveries = int(whole(f.deliveries) + 1)
  end
  if f.waited and f.waited ~= '' then
    redis.call('HSET', tk, 'state', STATE.running, 'gen', gen, 'deliveries', deliveries,
      'worker', worker, 'started', now_s, 'waited', '')
    if f.fresh then
      redis.call('HSET', tk, 'wf', '0')
    end
  elseif f.fresh then -- its first run: no flow yet (see open_flow)
    redis.call('HSET', tk, 'state', STATE.running, 'gen', gen, 'deliveries', deliveries,
      'worker', worker, 'started', now_s, 'wf', '0')
  else
    redis.call('HSET', tk, 'state', STATE.running, 'gen', gen, 'deliveries', deliveries,
      'worker', worker, 'started', now_s)
  end
  announce(key, STATE.running, f.attempt)
  handed.key, handed.name, handed.input, handed.trace = key, f.name, f.input, f.trace
  handed.head = f.attempt .. ' ' .. deliveries .. ' ' .. f.due .. ' ' .. gen .. ' ' .. (f.waited or '')
  put(claimed, CLAIMED, handed)
  n_claimed = n_claimed + 1
end

local function deliver(key, f)
  redis.call('ZADD', K.running, lease_until, key)
  hand_over(key, f)
end

-- report adds a task turned away to the reply.
local function report(key, name, reason, trace, fate)
  put(turned, TURNED, {key = key, name = name or '', reason = reason, trace = trace or '', fate = fate})
end

-- turn_away ends a task without running it: a submission admission control
-- dropped (state cancelled), a poison task or one whose input cannot be
-- read (state failed).
local REASONS = {[FATE.dropped] = REASON.dropped, [FATE.dead] = REASON.dead_letter, [FATE.bad_input] = REASON.bad_input}

local function turn_away(key, f, state, reason, kind)
  release_slots(key, now)
  redis.call('HSET', K.task .. key, 'state', state, 'gen', next_gen(f.gen, now),
    'finished', now_s, 'error', reason, 'reason', REASONS[kind])
  redis.call('PEXPIRE', K.task .. key, retention)
  end_progress(key)
  announce(key, state, f.attempt, reason)
  task_ended(key, state, now, retention, redis.call('HGET', K.task .. key, 'auto'))
  report(key, f.name, reason, f.trace, kind)
end

-- corrupt ends a task whose record cannot be used.
local function corrupt(key, f, reason)
  fail_corrupt(key, reason, now, retention)
  report(key, f.name, 'corrupt record: ' .. reason, f.trace, FATE.corrupt)
end

-- dead_letter ends a task whose workers kept dying while running it, and
-- keeps it listed (for Snapshot) as long as its record.
local function dead_letter(key, f)
  local times = f.deliveries .. ' times, and its worker stopped without finishing it each time'
  if tonumber(f.deliveries) == 1 then
    times = 'once, and its worker stopped without finishing it'
  end
  turn_away(key, f, STATE.failed, 'dead-lettered: delivered ' .. times, FATE.dead)
  keep_dead(key, now, retention)
end

-- died_too_often tells a task whose workers died running it as many times
-- as a worker may hand it over (its deliveries: a hand-back of a claim that
-- never started it, from a worker stopping or one without its task, undoes
-- only that claim's). Such a task is dead-lettered rather than run again,
-- whether its lease lapsed (see reclaim) or it is due.
local function died_too_often(f)
  return f.deliveries ~= DELIVERIES_0 and whole(f.deliveries) >= max_deliveries
end

-- Admission control.

-- unreadable is raised (as an error) by the admission checks when a task's
-- input cannot be read as Go reads it; the task then fails with the reason.
local UNREADABLE = 'input cannot be read for the admission rules: '

-- decode reads a task's input for its admission rules: a JSON object.
local function decode(raw)
  if not string.find(raw or '', '^%s*{') then
    error(UNREADABLE .. 'it is not a JSON object', 0)
  end
  -- miniredis's cjson returns nil and a message rather than raising.
  local ok, input, why = pcall(cjson.decode, raw)
  if not ok or type(input) ~= 'table' then
    error(UNREADABLE .. tostring(ok and why or input), 0)
  end
  return input
end

-- escaped writes a value's text for an id: its newlines, which separate the
-- limits a task holds, as \n, and so its backslashes as \\ (else the
-- values "a", newline, "b" and "a\nb" would share an id).
local ESCAPES = {['\\'] = '\\\\', ['\n'] = '\\n'}
local function escaped(s)
  if not string.find(s, '[\\\n]') then
    return s -- the common case: a new string would cost Redis one more allocation
  end
  return (string.gsub(s, '[\\\n]', ESCAPES))
end

-- text renders a value cjson read for an id: strings as they are, whole
-- numbers without an exponent, other numbers with every digit a double
-- holds, booleans as JSON writes them, nothing (absent, null) as ''.
local function text(v)
  if type(v) == 'string' then
    return v
  elseif type(v) == 'number' and v == math.floor(v) and math.abs(v) < 2 ^ 53 then
    return string.format('%d', v)
  elseif type(v) == 'number' then
    return string.format('%.17g', v)
  elseif type(v) == 'boolean' then
    return tostring(v)
  end
  return ''
end

-- canonical writes the JSON value that starts at s[i] (an object or an
-- array an input field holds) in one spelling for all the ways of writing
-- it, so that equal values share an id and different ones do not: members
-- sorted by name (the last of a name, as Go reads it), no spaces, strings
-- with only '"', '\' and control characters escaped, whole numbers written
-- as integers exactly however large (as for a field: see JSON.exact_int),
-- other numbers as text does. It returns the text and the index after the
-- value; nil and why not if the JSON cannot be read, or is nested more
-- than MAX_DEPTH deep (each level copies what it holds: a value nested a
-- thousand deep around a long string would hold Redis for seconds).
local MAX_DEPTH = 32
local canonical
local function quoted(raw)
  local ok, v = pcall(cjson.decode, raw)
  if not ok or type(v) ~= 'string' then
    return nil
  end
  return '"' .. string.gsub(v, '[%c"\\]', function(c) return string.format('\\u%04x', string.byte(c)) end) .. '"'
end
local function members(s, i, close, keyed, depth)
  local values, order = {}, {}
  i = string.find(s, '%S', i + 1)
  if i and string.sub(s, i, i) == close then
    return i + 1, values, order
  end
  while i do
    local name
    i = string.find(s, '%S', i)
    if not i then
      return nil
    elseif keyed then
      local e = string.sub(s, i, i) == '"' and JSON.skip_string(s, i)
      name = e and quoted(string.sub(s, i, e - 1))
      local colon = e and string.find(s, '%S', e)
      if not name or string.sub(s, colon, colon) ~= ':' then
        return nil
      end
      i = colon + 1
    else
      name = #order + 1
    end
    local v, after = canonical(s, i, depth)
    if not v then
      return nil, after
    end
    if values[name] == nil then
      order[#order + 1] = name
    end
    values[name] = v
    i = string.find(s, '%S', after)
    local c = i and string.sub(s, i, i)
    if c == close then
      return i + 1, values, order
    elseif c ~= ',' then
      return nil
    end
    i = i + 1
  end
  return nil
end
canonical = function(s, i, depth)
  i = string.find(s, '%S', i)
  local c = i and string.sub(s, i, i)
  if c == '{' or c == '[' then
    if depth >= MAX_DEPTH then
      return nil, 'is nested more than ' .. MAX_DEPTH .. ' deep'
    end
    local after, values, order = members(s, i, c == '{' and '}' or ']', c == '{', depth + 1)
    if not after then
      return nil, values
    end
    local parts = {}
    if c == '{' then
      table.sort(order)
      for n, name in ipairs(order) do
        parts[n] = name .. ':' .. values[name]
      end
      return '{' .. table.concat(parts, ',') .. '}', after
    end
    for n = 1, #order do
      parts[n] = values[n]
    end
    return '[' .. table.concat(parts, ',') .. ']', after
  elseif c == '"' then
    local e = JSON.skip_string(s, i)
    local q = e and quoted(string.sub(s, i, e - 1))
    if not q then
      return nil
    end
    return q, e
  elseif not c then
    return nil
  end
  local e = string.find(s, '[,}%]%s]', i) or #s + 1
  local t = string.sub(s, i, e - 1)
  if t == 'true' or t == 'false' or t == 'null' then
    return t, e
  end
  local ok, n = pcall(cjson.decode, t) -- not tonumber: miniredis's reads no exponent
  if not ok or type(n) ~= 'number' then
    return nil
  end
  if string.find(t, '^%-?%d+$') and JSON.inexact(n) then
    return t, e
  end
  return text(n), e
end

-- field reads the value of input field arg as text, the way Go would bind
-- it: a whole number beyond a double's precision as raw, the input's JSON,
-- writes it; an object or an array as its canonical JSON; a string as it
-- is; nothing (absent, null) as ''. Go matches keys to fields without
-- case, and the last of several keys that match wins, an order a decoded
-- Lua table has lost: a key that Go could bind to arg, other than arg
-- itself, makes the input unreadable.
local function field(input, arg, raw)
  if arg == '' then
    return ''
  end
  local want = folded(arg)
  for k in pairs(input) do
    if type(k) == 'string' and k ~= arg and folded(k) == want then
      error(UNREADABLE .. 'key "' .. k .. '" could be field "' .. arg .. '"', 0)
    end
  end
  local v = input[arg]
  if type(v) == 'table' then
    local t, why = canonical(JSON.member(raw or '', arg) or '', 1, 0)
    if not t then
      error(UNREADABLE .. 'field "' .. arg .. '" ' .. (why or 'is JSON it cannot read'), 0)
    end
    return escaped(t)
  end
  return escaped(JSON.exact_int(v, raw, arg) or text(v))
end

local function is_holder(key, id)
  local f = read(key, 'state', 'slots')
  return is_live(f[1]) and holds(f[2], id) or holds(select(2, drain_of(key)), id)
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

-- release_after frees the slots a task holds of limit id and of those that
-- come after it in the order its limits are taken (see needs), keeping
-- those before it.
local function release_after(key, id, limits)
  local slots = redis.call('HGET', K.task .. key, 'slots')
  if not slots or slots == '' then
    return
  end
  local order = {}
  for i, l in ipairs(limits) do
    order[l.id] = i
  end
  local kept = ''
  for held in string.gmatch(slots, '[^\n]+') do
    if order[held] and order[held] < order[id] then
      kept = with_slot(kept, held)
    else
      redis.call('SREM', K.limit .. held, key)
      promote(held, now)
      touch(held)
    end
  end
  redis.call('HSET', K.task .. key, 'slots', kept)
end

-- The checks of admit, each a function of the task and its rule's values,
-- returning nil to go on, or a verdict (see admit).

-- debounce: a burst's first submission runs, settle after its last one.
-- A submission's instant is when it was asked to be due: its add's, or,
-- added for later, the instant it was added for ('asked'), so that
-- submissions added for later form bursts and settle as they fall due.
-- Submissions are judged as they are claimed, which may be long after they
-- fell due (a backlog, workers down): when the burst's first submission
-- starts, its record stays, saying when it ran, so that a submission due
-- before that instant (by its add: 'asked', or its creation) and claimed
-- only after it is dropped as part of the burst that ran, not taken for a
-- burst of its own; one due from that instant on (added later, or added
-- for later) starts the next burst. The
-- record lasts an hour past the run: a submission claimed later than that
-- starts a burst of its own.
local function debounce(key, f, id, settle)
  local bk = K.debounce .. id
  local st = redis.call('HMGET', bk, 'winner', 'created', 'last', 'ran')
  local submitted = whole(redis.call('HGET', K.task .. key, 'asked')) or whole(f.created) or now
  local ran = whole(st[4])
  if ran then
    if submitted < ran then
      return 'drop', 'debounced: the burst ran as ' .. st[1]
    end
    redis.call('DEL', bk) -- that burst is over: this submission starts the next
    st = {false, false, false}
  end
  -- A burst is identified by its first submission: key and creation
  -- instant, since a key can be added again after it ended (then its
  -- record is the new submission's, which starts a new burst).
  local is_winner = st[1] == key and st[2] == f.created
  if st[1] and st[1] ~= key and is_live(read(st[1], 'state')[1]) then
    -- A later submission of the burst: it moves the settle time, and the
    -- burst's first submission runs.
    local last = math.max(tonumber(st[3]) or 0, submitted)
    redis.call('HSET', bk, 'last', int(last))
    expire_after(bk, last + settle, now)
    -- The first submission is due when the burst has settled.
    -- (One in line behind its key's drain keeps its place there.)
    if read(st[1], 'state')[1] == STATE.scheduled then
      if not redis.call('ZSCORE', K.deferred, st[1]) then
        unschedule(st[1]) -- from the schedule, or K.ready if added again since it won
        redis.call('ZADD', K.scheduled, last + settle, st[1])
      end
      redis.call('HSET', K.task .. st[1], 'due', int(last + settle))
    end
    return 'drop', 'debounced: the burst runs as ' .. st[1]
  end
  local last = tonumber(st[3]) or submitted
  if not is_winner then -- the first submission of a burst
    last = submitted
    redis.call('HSET', bk, 'winner', key, 'created', f.created or now_s, 'last', int(last))
  end
  expire_after(bk, last + settle, now)
  if now < last + settle then
    return 'later', last + settle
  end
  return nil
end

-- cooldown: nothing within window of a run; the window it would open.
local function cooldown(id, window, what)
  local ck = K.cooldown .. id
  local closes = tonumber(redis.call('GET', ck) or '0') or 0
  if closes > now then
    return 'drop', 'cooldown: ' .. what .. ' ran less than ' .. duration(window) .. ' ago'
  end
  return nil, {ck, now + window}
end

-- rate checks the windows of a task's rate limits: nil when each has room
-- for one more start; else "drop" (a fresh submission over a limit that
-- drops) or "later" with the instant every window has room again (the
-- latest of theirs: a task due at the first would be claimed only to wait
-- again).
local function rate(rates, fresh)
  local later = nil
  for _, r in ipairs(rates) do
    local rk = K.rate .. r.id
    redis.call('ZREMRANGEBYSCORE', rk, '-inf', now - r.per) -- out of the window
    local n = redis.call('ZCARD', rk)
    if n >= r.limit then
      if r.drop and fresh then
        return 'drop', 'rate limit: ' .. r.what .. ' reached ' .. r.limit .. ' per ' .. duration(r.per)
      end
      -- Room once as many starts have left the window as it holds beyond
      -- the limit, and one more: the (n - limit + 1)th oldest leaves it.
      local leaves = score(redis.call('ZRANGE', rk, n - r.limit, n - r.limit, 'WITHSCORES')[2]) + r.per
      if later == nil or leaves > later then
        later = leaves -- every window must have room
      end
    end
  end
  if later then
    return 'later', later
  end
  return nil
end

-- take_slots takes a slot of each limit, in the order given (see taken_before); it stops
-- at the first full one, to wait for it.
local function take_slots(key, limits)
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
  return nil
end

-- taken_before orders the concurrency limits a task takes slots of: its
-- own limits first, in the order the task declares them, then those it
-- shares through a scope, by id. The order is the same wherever a limit
-- appears (a task's own limits belong to it alone; shared ones are ordered
-- by id alone), so tasks that hold slots while they wait for the next one
-- cannot wait for each other in a circle. Own limits first, as declared:
-- the narrow limit a task declares first (one customer's) is taken before
-- a wide shared one (a region's), so that a task waiting for its
-- customer's slot holds none of its region's meanwhile.
local function taken_before(a, b)
  if a.shared ~= b.shared then
    return not a.shared
  end
  if a.shared then
    return a.id < b.id
  end
  return a.declared < b.declared
end

-- id_part escapes a part of a rule's id that another part follows (a task's
-- name, a field's, a scope's), '%' as '%25' and ':' as '%3A', so that
-- names holding ':' cannot spell another rule's id: task "email" on field
-- "send:to" and task "email:send" on field "to" would otherwise share
-- "email:send:to:<value>", and with it their slots or window. The value
-- comes last and needs no escape. A name without either is as written.
local ID_ESCAPES = {['%'] = '%25', [':'] = '%3A'}
local function id_part(s)
  if not string.find(s, '[%%:]') then
    return s
  end
  return (string.gsub(s, '[%%:]', ID_ESCAPES))
end

-- needs reads every value a task's rules need from its input, before
-- anything is written: an input the rules cannot read raises an error
-- here, and changes nothing. Debounce and cooldown judge submissions: a
-- retry, or the next run of a perpetual task, has none of them.
local function needs(f, rule)
  local input = decode(f.input)
  local fresh = f.admitted ~= '1'
  local values = {} -- each field's, read once
  local function value(arg)
    local v = values[arg]
    if v == nil then
      v = field(input, arg, f.input)
      values[arg] = v
    end
    return v
  end
  local function id_of(arg)
    return id_part(f.name) .. ':' .. id_part(arg) .. ':' .. value(arg)
  end
  -- A limit shared by a scope's tasks, or the task's own.
  local function limit_id(scope, arg)
    if scope ~= '' then
      return 's:' .. id_part(scope) .. ':' .. value(arg)
    end
    return 't:' .. id_of(arg)
  end
  local function what(arg)
    return arg == '' and 'the task' or (arg .. '=' .. value(arg))
  end

  local n = {fresh = fresh, cooldowns = {}, rates = {}, limits = {}}
  local d = rule[RULE.debounce]
  if d and fresh then
    n.burst = {id = id_of(d[WINDOW.arg]), settle = tonumber(d[WINDOW.settle]) or 0}
  end
  for _, c in ipairs(fresh and rule[RULE.cooldowns] or {}) do
    local arg = c[WINDOW.arg]
    n.cooldowns[#n.cooldowns + 1] = {id = id_of(arg), window = tonumber(c[WINDOW.window]) or 0, what = what(arg)}
  end
  for _, r in ipairs(rule[RULE.rates] or {}) do
    n.rates[#n.rates + 1] = {id = limit_id(r[RATE.scope], r[RATE.arg]), limit = tonumber(r[RATE.limit]) or 1,
      per = tonumber(r[RATE.per]) or 0, drop = r[RATE.drop] == true, what = what(r[RATE.arg])}
  end
  for i, c in ipairs(rule[RULE.limits] or {}) do
    n.limits[#n.limits + 1] = {id = limit_id(c[LIMIT.scope], c[LIMIT.arg]), max = tonumber(c[LIMIT.max]) or 1,
      shared = c[LIMIT.scope] ~= '', declared = i}
  end
  table.sort(n.limits, taken_before)
  return n
end

-- start_counts records what a task that passed every check holds from now on:
-- the cooldown windows it opens, its place in the rate windows; its burst
-- is over.
local function start_counts(key, n, windows)
  local rated = {}
  for i, r in ipairs(n.rates) do
    local rk = K.rate .. r.id
    redis.call('ZADD', rk, now, key .. '@' .. now_s)
    expire_after(rk, now + r.per, now)
    rated[i] = r.id
    -- Listed until its window holds no start, with the rule that counted
    -- this one (for Snapshot and the dashboard: see snapshot.lua).
    local listed = score(redis.call('ZSCORE', K.rates, r.id)) -- (ZADD GT would need Redis 6.2)
    if not listed or listed < now + r.per then
      redis.call('ZADD', K.rates, now + r.per, r.id)
    end
    redis.call('SET', K.raterule .. r.id, int(r.limit) .. ' ' .. int(r.per), 'PX',
      math.ceil(r.per / 1000) + GC_MARGIN_MS)
  end
  if #rated > 0 then -- for a hand-back to take back (see uncount_start)
    redis.call('HSET', K.task .. key, 'rated', cjson.encode(rated))
    redis.call('ZREMRANGEBYSCORE', K.rates, '-inf', now)
    expire_after(K.rates, score(redis.call('ZRANGE', K.rates, -1, -1, 'WITHSCORES')[2]), now)
  end
  for _, w in ipairs(windows) do
    redis.call('SET', w[1], int(w[2]), 'PX', math.ceil((w[2] - now) / 1000) + GC_MARGIN_MS)
  end
  if n.burst then -- the burst ran: kept, to drop its submissions claimed later (see debounce)
    local bk = K.debounce .. n.burst.id
    redis.call('HSET', bk, 'ran', now_s)
    expire_after(bk, now, now)
  end
  redis.call('HSET', K.task .. key, 'admitted', '1')
end

-- admit decides whether a due task may start: "run", "drop" (with the
-- reason), "later" (with the instant) or "wait" (with the limit, then the
-- task's limits in the order they are taken). The checks run in this
-- order: debounce, cooldown, rate limits, concurrency; a task starts only
-- if it passes them all, and only then does it open cooldown windows and
-- count in the rate windows (start_counts). Its slots it takes as it
-- checks them (take_slots), and keeps those before a full one while it
-- waits for that. Rate limits count every start.
--
-- Concurrency slots are taken in one order (see taken_before). A task that
-- must wait for a slot keeps those it holds of earlier limits: holding and
-- waiting in one order, tasks cannot wait for each other in a circle.
local function admit(key, f, rule)
  local n = needs(f, rule)
  if n.burst then
    local verdict, arg = debounce(key, f, n.burst.id, n.burst.settle)
    if verdict then
      return verdict, arg
    end
  end
  local windows = {}
  for _, c in ipairs(n.cooldowns) do
    local verdict, arg = cooldown(c.id, c.window, c.what)
    if verdict then
      return verdict, arg
    end
    windows[#windows + 1] = arg
  end
  local verdict, arg = rate(n.rates, n.fresh)
  if verdict then
    return verdict, arg
  end
  verdict, arg = take_slots(key, n.limits)
  if verdict then
    return verdict, arg, n.limits
  end
  start_counts(key, n, windows)
  return 'run'
end

-- judge runs a due task through its admission rules and acts on the
-- verdict. An error in the rules (input they cannot read) fails the task
-- alone, with the reason.
local function judge(key, f, rule)
  local ok, verdict, arg, limits = pcall(admit, key, f, rule)
  if not ok then
    local reason = tostring(verdict)
    if string.sub(reason, 1, #UNREADABLE) ~= UNREADABLE then
      reason = 'admission check failed: ' .. reason
    end
    turn_away(key, f, STATE.failed, reason, FATE.bad_input)
  elseif verdict == 'run' then
    deliver(key, f)
  elseif verdict == 'drop' then
    turn_away(key, f, STATE.cancelled, arg, FATE.dropped)
  elseif verdict == 'later' then
    release_slots(key, now) -- no slot is held while waiting for a burst to settle
    -- A workflow woken by its timer waits no more for what it parked on,
    -- but for the rate limit: it is scheduled, as any task delayed so.
    redis.call('HSET', K.task .. key, 'state', STATE.scheduled, 'due', int(arg))
    redis.call('ZADD', K.scheduled, arg, key)
    announce(key, STATE.scheduled, f.attempt)
  else -- wait for a slot of limit arg, keeping those of earlier limits
    release_after(key, arg, limits)
    wait_in_line(arg, key)
    redis.call('HSET', K.task .. key, 'state', STATE.waiting, 'waiting', arg, 'waited', arg)
    touch(arg)
    announce(key, STATE.queued, f.attempt)
  end
end

-- DRAINS is the most drains one claim ends at their deadline.
local DRAINS = 100

-- The earliest deadline of a drain (see start_drain), read once: most
-- claims find none, and need not look again.
local first_drain = earliest(K.draining)

-- end_lapsed_drains ends the drains whose deadline has passed: the run's
-- worker died, or could not tell (see start_drain). Their tasks' next runs
-- are claimable at once, by this claim.
local function end_lapsed_drains()
  if first_drain == nil or first_drain > now then
    return
  end
  for _, key in ipairs(redis.call('ZRANGEBYSCORE', K.draining, '-inf', now, 'LIMIT', 0, DRAINS)) do
    end_drain(key, now, select(2, drain_of(key)))
  end
end

-- reclaim takes over the tasks whose worker died (their lease lapsed):
-- they keep their slots, and are dead-lettered after max_deliveries.
local function reclaim()
  if want <= 0 then
    return
  end
  for _, key in ipairs(redis.call('ZRANGEBYSCORE', K.running, '-inf', now, 'LIMIT', 0, want)) do
    local f, problem = fetch(key)
    if problem then
      corrupt(key, f, problem)
    elseif f.state ~= STATE.running then -- not a live run (a safety net)
      redis.call('ZREM', K.running, key)
    elseif died_too_often(f) then
      redis.call('ZREM', K.running, key)
      dead_letter(key, f)
    else
      if redis.call('HGET', K.task .. key, 'wf') ~= '1' then
        end_progress(key) -- the new run redoes the work (a workflow's steps do not)
      end
      deliver(key, f) -- its lease is renewed in place
    end
  end
end

-- deliver_all hands over due tasks when no task has rules and no strike is
-- in effect: the common case, in bulk. Leases are added before the tasks
-- leave the schedule (or K.ready, whose head they are), so that each is
-- always in a set.
local function deliver_all(due, ready)
  local values, problems, dead, leases, tks, f = {}, {}, {}, {}, {}, nil
  local n = 0
  -- (Numeric loops, not ipairs: a call of it each step costs Redis more
  -- than the loop's body of a few table writes.)
  for i = 1, #due do
    local key = due[i]
    f, problems[i], values[i], tks[i] = fetch(key, BULK, f, ready)
    dead[i] = not problems[i] and died_too_often(f)
    if not problems[i] and not dead[i] then
      leases[n + 1], leases[n + 2] = lease_until, key
      n = n + 2
    end
  end
  if n > 0 then
    redis.call('ZADD', K.running, unpack(leases))
  end
  if ready then
    redis.call('LTRIM', K.ready, #due, -1)
  else
    redis.call('ZREM', K.scheduled, unpack(due))
  end
  for i = 1, #due do
    local key = due[i]
    f = named(values[i], f)
    if problems[i] then
      corrupt(key, f, problems[i])
    elseif dead[i] then
      dead_letter(key, f)
    else
      hand_over(key, f, tks[i])
    end
  end
end

-- consider hands over a due task, or holds it for a strike, or runs it
-- through its admission rules.
local function consider(key, ready)
  if ready then
    -- First in K.ready (see next_due), unless an earlier task's rules took
    -- it out of line (a debounce moves its burst's first submission).
    if redis.call('LREM', K.ready, 1, key) == 0 then
      return
    end
  else
    redis.call('ZREM', K.scheduled, key)
  end
  local f, problem = fetch(key)
  if problem then
    corrupt(key, f, problem)
    return
  elseif died_too_often(f) then
    dead_letter(key, f)
    return
  end
  local strike = struck(f.name, f.input)
  local rule = rules[f.name]
  if strike then
    hold(key, f.attempt, strike, now)
    report(key, f.name, 'struck (' .. describe(strike) .. ')', f.trace, FATE.held)
  elseif rule then
    judge(key, f, rule)
  else
    deliver(key, f)
  end
end

-- returned reports whether a task of the schedule is one added to run at
-- once (due at its created instant) that a worker handed back (its back
-- field, written by the hand-back, is that instant, and it is due then):
-- it waited in K.ready ahead of every task still there, and goes before
-- those due at its instant, in the order tasks were added.
local function returned(key)
  local f = read(key, 'back', 'due', 'created')
  return f[1] ~= nil and f[1] ~= false and f[1] == f[2] and f[1] == f[3]
end

-- next_due returns up to n due tasks, in due order, from one of the two
-- places due tasks are: the schedule, or K.ready, whose tasks are due at
-- their created instant, in the order added; and whether they are
-- K.ready's first. Of two tasks due at one instant, K.ready's comes first.
local function next_due(n)
  local ready = redis.call('LRANGE', K.ready, 0, n - 1)
  if #ready == 0 then
    return redis.call('ZRANGEBYSCORE', K.scheduled, '-inf', now, 'LIMIT', 0, n), false
  end
  local due = redis.call('ZRANGEBYSCORE', K.scheduled, '-inf', now, 'WITHSCORES', 'LIMIT', 0, n)
  if #due == 0 then
    return ready, true
  end
  -- Both hold due tasks: those of K.ready due by the schedule's first, or
  -- the schedule's due before K.ready's first. At one instant K.ready's
  -- come first, but for a task that waited there and was handed back
  -- (see returned). (A record whose times cannot be read is taken at
  -- once: the claim fails it.)
  local first, taken = score(due[2]), {}
  local first_returned = nil -- whether the schedule's first was returned, once asked
  for _, key in ipairs(ready) do
    local at = tonumber(due_of(key)) or first
    if at == first and first_returned == nil then
      first_returned = returned(due[1])
    end
    if at > first or at == first and first_returned then
      break
    end
    taken[#taken + 1] = key
  end
  if #taken > 0 then
    return taken, true
  end
  local head = tonumber(due_of(ready[1])) or first -- a number: it was not taken
  for i = 1, #due, 2 do
    local at = score(due[i + 1])
    if at > head or at == head and not returned(due[i]) then
      break
    end
    taken[#taken + 1] = due[i]
  end
  return taken, false
end

-- for_a_free_slot tells a task that must not wait in a worker's line: one
-- whose rules count its start in windows of time, due when the worker's
-- free slots are taken by the tasks claimed before it. Its windows would
-- count the claim, and its start come later, when a slot frees: the
-- windows would let more starts through than their limit (see Options.ClaimAhead).
local function for_a_free_slot(key)
  return any_timed and n_claimed >= free_slots and timed[read(key, 'name')[1] or ''] ~= nil
end

-- claim_due takes due tasks, in due order, until N are claimed or a
-- thousand were looked at; it returns whether more may be due, and whether
-- it stopped at a task that waits for a free slot (for_a_free_slot).
local function claim_due()
  local looked = 0
  while n_claimed < want do
    local due, ready = next_due(want - n_claimed)
    if #due == 0 then
      return false, false
    end
    looked = looked + #due
    if not any_rules and not any_strikes then
      deliver_all(due, ready)
    else
      for _, key in ipairs(due) do
        if for_a_free_slot(key) then
          return false, true
        end
        consider(key, ready)
      end
    end
    if looked >= 1000 then
      return true, false
    end
  end
  return false, false
end

-- sooner returns the earlier of two instants, either of which may be nil.
local function sooner(a, b)
  if a == nil or b ~= nil and b < a then
    return b
  end
  return a
end

-- wait_for is the claim's wait: until the next due task or lease expiry;
-- '-1' for none, '0' when more may be due (the worker looks again at once).
-- A claim that stopped at a task for a free slot says none: the worker
-- looks again as a slot frees.
local function wait_for(more, held)
  if held then
    return '-1'
  end
  if more or want > 0 and n_claimed == want then
    return '0'
  end
  -- A claim that wanted tasks took K.ready's all (see claim_due); one that
  -- wanted none (it reported outcomes) says whether any wait there.
  if want == 0 and redis.call('LLEN', K.ready) > 0 then
    return '0'
  end
  -- A task is due, a lease lapses, or a drain ends at its deadline.
  local nxt = sooner(earliest(K.scheduled), earliest(K.running))
  if first_drain ~= nil then
    nxt = sooner(nxt, earliest(K.draining))
  end
  if nxt == nil then
    return '-1'
  end
  return int(math.max(0, nxt - now))
end

end_lapsed_drains()
reclaim()
local more, held = claim_due()
local result = {}
-- The count comes from the entries, not from n_claimed: the top level must
-- not read a variable that functions write (see lib.lua's header).
put(result, CLAIM_HEAD, {now = int(now), wait = wait_for(more, held), claimed = #claimed / #CLAIMED, turned = #turned / #TURNED})
local n = #result -- (and a counter: a table's length costs a search of it)
for _, part in ipairs({claimed, turned, applied}) do
  for i = 1, #part do
    result[n + i] = part[i]
  end
  n = n + #part
end
-- What a send of this exchange again needs to answer as this one did (see
-- replay), for a third of the tasks' lease: go-redis sends again within
-- seconds, and a worker hands back, unstarted, the tasks of a claim that
-- took longer than that to come back (their lease runs from its sending).
-- The outcomes as their number and the places of the stale ones, which
-- are rare: the usual "all applied" costs Redis no string a flag.
if #claimed > 0 or #applied > 0 then
  local stale = {}
  for i = 1, #applied do
    if applied[i] == 0 then
      stale[#stale + 1] = int(i)
    end
  end
  redis.call('SET', K.claim .. ARGV[10], now_s .. ' ' .. lease_until .. ' ' .. int(#applied) .. ' ' ..
    table.concat(stale, ','), 'PX', int(math.ceil(lease / 3000)))
end
return result
