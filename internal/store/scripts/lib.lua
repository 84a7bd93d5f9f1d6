-- Shared prelude, prepended to every script when it is loaded, after the
-- generated table K of the docket's keys (see keys.go).
--
-- The scripts also run on miniredis (memory://), whose Lua (gopher-lua)
-- parts a function's variables from the top level's once pcall has caught
-- an error raised in Lua: from then on, what a function writes to a local
-- of the top level, the top level does not see, and the other way round.
-- So the top level of a script never reads a variable that its functions
-- write, nor writes one that they read; tables they share are filled, not
-- replaced. TestClaimAfterAnUnreadableInput catches the one script whose
-- pcall catches such errors (claim.lua's admission checks).
--
-- Time always comes from the Redis clock, so every worker of the fleet agrees
-- on it. Instants and durations are microseconds (unix time for instants):
-- exact in a Lua number up to the year 2255, and precise enough that a worker
-- wakes at the very instant a task is due. Only PEXPIRE takes milliseconds.

local function clock_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- int formats a number without an exponent (tostring(1.8e15) would not).
local function int(n)
  return string.format('%d', n)
end

-- duration renders microseconds for people: 30s, 500ms, 1500µs.
local function duration(us)
  if us % 1000000 == 0 then
    return int(us / 1000000) .. 's'
  elseif us % 1000 == 0 then
    return int(us / 1000) .. 'ms'
  end
  return int(us) .. 'µs'
end

-- due_at reads a "when" argument: "+N" is N microseconds after base_us, a
-- bare number an absolute instant.
local function due_at(when, base_us)
  if string.sub(when, 1, 1) == '+' then
    local after = tonumber(string.sub(when, 2))
    return after and base_us + after
  end
  return tonumber(when)
end

-- put appends an entry to list, its values in the order of layout L (see
-- schema.go): entry maps each field's name to its value. A field the
-- entry lacks is an error (a misspelt name); false, a hash field HMGET
-- found missing, goes out as ''.
local function put(list, L, entry)
  L.put(list, entry)
end

-- get reads the entry of layout L that starts at list[at], by name: into
-- a new table, or into into (an entry read before, whose table a loop
-- reuses: filling one costs Redis less than making one per entry).
local function get(list, at, L, into)
  return L.at(list, at, into)
end

-- score reads a sorted set's score as a reply gives it; nil for none.
-- miniredis (memory://) writes round numbers with an exponent and no point
-- (2e+15), which its Lua's tonumber does not read: a point is put in.
local function score(v)
  if not v then
    return nil
  end
  return tonumber(v) or tonumber((string.gsub(v, '^(%-?%d+)([eE])', '%1.0%2')))
end

-- earliest returns the lowest score of a sorted set, or nil when it is empty.
local function earliest(zset)
  return score(redis.call('ZRANGE', zset, 0, 0, 'WITHSCORES')[2])
end

-- Records are read defensively: another program may have written a task's
-- key (a string where a hash should be, a field that is not a number), and
-- one bad record must never stop a script that handles others.

-- A record leaves out the fields that hold their first value, so that a
-- queued task costs Redis less memory: attempt (1) and deliveries (0), and
-- gen and due while they hold the instant the record was created (its
-- field created, which every record has and no script changes; a task
-- that has been claimed has its gen, and a task given another due time
-- its due). Whoever reads them reads an absent one as that value (gen or
-- due: f.gen or f.created); records written before they were left out hold
-- them, and read the same. A record added by add.lua leaves out its state
-- too, while it is scheduled and was never claimed (every later change
-- writes a state): read (or state_of) reads it, with created, as
-- scheduled. A tombstone (see task_ended) has a gen alone, and no state.
local ATTEMPT_1, DELIVERIES_0, DELIVERIES_1 = '1', '0', '1'

-- state_of is a record's state given its state and created fields as
-- HMGET reads them: nil for no record.
local function state_of(state, created)
  return state or (created and STATE.scheduled) or nil
end

-- not_a_hash says what is wrong with a task key that holds something else
-- than a record, given the error reading it raised.
local function not_a_hash(err)
  return 'the key is not a hash (' .. tostring(err) .. ')'
end

-- read reads fields of a task's record (read_at: of the record at tk, the
-- key's K.task .. key, which a caller that has it need not build again:
-- each is a new string). A key that is not a hash reads as
-- missing (every field nil), with the error second. A state read first
-- is the record's (see state_of): scheduled when the record leaves it out.
local function read_at(tk, first, ...)
  if first == 'state' then -- read with created, which the caller does not see
    local f = redis.pcall('HMGET', tk, 'created', first, ...)
    if type(f) == 'table' and f.err then
      return {}, f.err
    end
    f[2] = state_of(f[2], f[1]) or false
    table.remove(f, 1)
    return f, nil
  end
  local f = redis.pcall('HMGET', tk, first, ...)
  if type(f) == 'table' and f.err then
    return {}, f.err
  end
  return f, nil
end

local function read(key, first, ...)
  return read_at(K.task .. key, first, ...)
end

-- due_of reads a task's due time as its record holds it (a string), or
-- nil: created, while the record leaves due out; nil too for a key that
-- is not a hash (see read).
local function due_of(key)
  local d = read(key, 'due', 'created')
  return d[1] or d[2] or nil
end

-- record reads fields of a task's record into a table by name (see read).
local function record(key, fields)
  local values, err = read(key, unpack(fields))
  local f = {}
  for i = 1, #fields do
    f[fields[i]] = values[i]
  end
  return f, err
end

-- list_task appends a task to out as a LISTED entry (key, score, its
-- record's fields; a nil score is its due time, for K.ready's tasks), when
-- its record exists and its name is want_name (any name when want_name is
-- ''); its error cut at max_error bytes (0: whole).
-- It returns whether the task was listed: an expired record is not. A
-- record garbled by another program (no name, or a key that is not a hash)
-- is listed as it is, or as failed, with its corruption, when any name is.
-- (state first, so that read reads a record that leaves it out)
local LISTED_FIELDS = {'state', 'name', 'attempt', 'deliveries', 'started', 'worker', 'created', 'due', 'error', 'waiting'}
local function list_task(out, key, score, want_name, max_error, want_state)
  local f, unreadable = record(key, LISTED_FIELDS)
  if unreadable and want_name == '' then
    f = {}
    for _, name in ipairs(LISTED_FIELDS) do
      f[name] = false -- as HMGET reads a missing field
    end
    f.state, f.error = STATE.failed, 'corrupt record: ' .. not_a_hash(unreadable)
  elseif want_name ~= '' and f.name ~= want_name then
    return false
  elseif not f.name and not f.state then
    return false
  elseif want_state and want_state ~= '' and f.state ~= want_state then
    return false
  end
  local err = f.error or ''
  if max_error > 0 then
    err = string.sub(err, 1, max_error)
  end
  if score == nil then
    score = int(tonumber(f.due or f.created) or 0)
  end
  put(out, LISTED, {key = key, score = score, name = f.name or '', state = f.state, attempt = f.attempt or ATTEMPT_1,
    deliveries = f.deliveries or DELIVERIES_0, started = f.started, worker = f.worker, created = f.created,
    due = f.due or f.created, error = err,
    waiting = f.waiting})
  return true
end

-- whole reads a non-negative integer field; nil when it is not one. (It
-- runs several times per task: tonumber and 2^53 are looked up and
-- computed once, and n % 1 tells an integer without calling math.floor.)
local tonumber, EXACT = tonumber, 2 ^ 53
local function whole(v)
  local n = tonumber(v)
  if n and n >= 0 and n < EXACT and n % 1 == 0 then
    return n
  end
  return nil
end

-- gen_after is the generation of a task's next run, given its record's gen
-- (digits: see corruption, which every record a claim hands over passes)
-- and the claim's instant, formatted: that instant when it is later, as it
-- is but for a change within its microsecond, else gen + 1, as next_gen
-- would. Two strings of digits of one length compare as their numbers do,
-- which spares the common case converting both (about a tenth of a claimed
-- task's cost, by callgrind).
local function gen_after(gen, now_s)
  if #gen == #now_s and gen < now_s then
    return now_s
  end
  return int(whole(gen) + 1)
end

-- next_gen is the generation after gen, never behind the clock: a garbled
-- one is replaced by the clock's reading, which every generation since the
-- record was added has been below or, within the clock's microsecond, at.
local function next_gen(gen, now)
  return int(math.max((whole(gen) or 0) + 1, now))
end

-- over_maxmemory lets the worker's scripts (claim, finish, renew, and those
-- a running attempt calls: step, start, receive, progress, known, reap)
-- run on a Redis over its maxmemory under noeviction: Redis refuses there only the
-- first write of a script that may grow memory (later ones would leave it
-- halfway), so a first write that cannot (a ZREM of nothing) lets the rest
-- through. Producers' adds are still refused, while workers drain the
-- backlog, which is what frees the memory: refused too, they retried for
-- ever, and nothing ran until an operator stepped in.
local function over_maxmemory()
  redis.call('ZREM', K.running, '')
end

-- publish sends a message on a channel, and goes on whatever comes of it:
-- a message only hurries its listeners (workers poll, renewals report
-- cancellations, watches catch up), and a refusal — a Redis user without
-- the right to the channel — raised by redis.call would end the script
-- halfway, its writes so far kept: a claim that freed a slot and handed it
-- on, then failed, was sent again, and handed it on again.
local function publish(channel, message)
  redis.pcall('PUBLISH', channel, message)
end

-- wake tells idle workers that a task became due earlier than anything they
-- were waiting for.
local function wake_if_earlier(before, new_due)
  if new_due ~= nil and (before == nil or new_due < before) then
    publish(K.events, 'w')
  end
end

-- Keys whose TTL only collects garbage live this long past their logical
-- expiry, which their value holds.
local GC_MARGIN_MS = 3600000

local function expire_after(key, until_us, now)
  redis.call('PEXPIRE', key, math.max(math.ceil((until_us - now) / 1000), 0) + GC_MARGIN_MS)
end

-- announce tells watchers of a task (docket watch, Execution.Watch) about a
-- change of its state.
-- Only watched tasks are announced: watchers register the keys they follow
-- in K.watchers, and with nobody watching a script looks once and skips.
local anyone_watching = nil

-- watched_until is until when someone watches the task (unix µs), or nil.
local function watched_until(key)
  if anyone_watching == nil then
    anyone_watching = redis.call('EXISTS', K.watchers) == 1
  end
  if not anyone_watching then
    return nil
  end
  return score(redis.call('ZSCORE', K.watchers, key))
end

local function watched(key)
  return watched_until(key) ~= nil
end

local function announce(key, state, attempt, err)
  -- (anyone_watching first: the common case, without two calls a task)
  if anyone_watching == false or not watched(key) then
    return
  end
  publish(K.watch .. key, cjson.encode({type = 'state', state = state,
    attempt = tonumber(attempt or ATTEMPT_1) or 0, error = err or ''}))
end

-- end_progress keeps a task's last progress in its record and deletes the
-- live progress hash.
local function end_progress(key)
  local p = redis.call('HMGET', K.progress .. key, 'current', 'total', 'message', 'updated')
  if p[1] or p[2] or p[3] then
    redis.call('HSET', K.task .. key, 'progress_current', p[1] or '0', 'progress_total', p[2] or '0',
      'progress_message', p[3] or '', 'progress_updated', p[4] or '')
    redis.call('DEL', K.progress .. key)
  end
  redis.call('HDEL', K.task .. key, 'progress')
end

-- Concurrency slots. A limit is a set of the task keys holding its slots
-- (running tasks, and waiters a freed slot was handed to) and a line of the
-- keys waiting for one, first come first served: a sorted set scored by
-- place in line, so that a task leaves the line from anywhere in it at the
-- cost of one ZREM, however long the line. A task's "slots" field lists the
-- limits it holds, one per line, so that whatever ends it frees them.

local function holds(slots, id)
  return string.find('\n' .. (slots or '') .. '\n', '\n' .. id .. '\n', 1, true) ~= nil
end

local function with_slot(slots, id)
  if not slots or slots == '' then
    return id
  end
  return slots .. '\n' .. id
end

-- touch keeps the registry of limits in use, for Snapshot and the leak check.
local function touch(id)
  if redis.call('SCARD', K.limit .. id) == 0 and redis.call('ZCARD', K.waiting .. id) == 0 then
    redis.call('SREM', K.limits, id)
  else
    redis.call('SADD', K.limits, id)
  end
end

-- wait_in_line puts a task at the back of the line of limit id: one place
-- after the last.
local function wait_in_line(id, key)
  local last = redis.call('ZRANGE', K.waiting .. id, -1, -1, 'WITHSCORES')
  redis.call('ZADD', K.waiting .. id, int((score(last[2]) or 0) + 1), key)
end

-- STALE_WAITERS is the most entries promote drops from a line in one go
-- without finding a task that still waits. Every script takes a task out of
-- its line when it stops waiting, so there are none unless something else
-- changed the records; the bound keeps even that from making one call's
-- work grow with the line.
local STALE_WAITERS = 100

-- promote hands a free slot of limit id to the first task waiting for it:
-- the slot is reserved for it, and it is due now.
local function promote(id, now)
  for _ = 0, STALE_WAITERS do
    local w = redis.call('ZPOPMIN', K.waiting .. id)[1]
    if not w then
      return
    end
    local f = read(w, 'state', 'waiting', 'slots')
    if f[1] == STATE.waiting and f[2] == id then
      redis.call('SADD', K.limit .. id, w)
      redis.call('HSET', K.task .. w, 'state', STATE.scheduled, 'waiting', '', 'slots', with_slot(f[3], id), 'due', int(now))
      redis.call('ZADD', K.scheduled, now, w)
      publish(K.events, 'w')
      return
    end
  end
end

-- release_slots frees every slot the task holds, handing each to the first
-- waiter.
local function release_slots(key, now)
  local slots = read(key, 'slots')[1]
  if not slots or slots == '' then
    return
  end
  for id in string.gmatch(slots, '[^\n]+') do
    redis.call('SREM', K.limit .. id, key)
    promote(id, now)
    touch(id)
  end
  redis.call('HSET', K.task .. key, 'slots', '')
end

-- Draining. A run cancelled or replaced while its function runs does not
-- free what it holds at once: the function goes on until its worker hears
-- (pub/sub) and it returns. Until then its key drains, whatever becomes of
-- its record: K.draining holds the key, scored with the run's lease expiry
-- (by when its worker has fenced it) or the worker's grace for it
-- (store.CancelGrace), whichever is later; renew.lua moves it on while the
-- worker still has the run), and K.drains the run's generation and the
-- concurrency slots it held ("<gen>\n<id>\n<id>..."). The key's next run
-- (a replacement, an add after the cancel, a workflow's child started
-- again) waits in K.deferred, scored with its due time, rather than in the
-- schedule. The drain ends when the worker reports the run ended (any
-- outcome of that generation: KIND.drained when it was cancelled, see
-- finish_attempts) or at the deadline (claim.lua): the slots pass to their
-- waiters, and the next run enters the schedule. So a concurrency limit
-- holds, and two runs of one key never overlap, across a Cancel or a
-- Replace of a task whose function honours its context.

-- drain_of returns the generation of the run key drains and the slots it
-- holds (newline-separated), or nil when the key does not drain.
local function drain_of(key)
  local d = redis.call('HGET', K.drains, key)
  if not d then
    return nil, ''
  end
  return string.match(d, '^([^\n]*)\n?(.*)$')
end

-- start_drain takes the running task key off its worker's lease and keeps
-- what it holds until its run ends. It returns false when the lease has
-- lapsed already (its worker stopped the run): what it holds is freed now.
local function start_drain(key, gen, now)
  local lease = score(redis.call('ZSCORE', K.running, key))
  redis.call('ZREM', K.running, key)
  if not lease or lease <= now then
    return false
  end
  -- Until the lease would lapse, and at least as long as the worker gives
  -- the function to return (store.CancelGrace), a second more.
  redis.call('ZADD', K.draining, math.max(lease, now + DRAIN_US), key)
  redis.call('HSET', K.drains, key, (gen or '') .. '\n' .. (read(key, 'slots')[1] or ''))
  redis.call('HSET', K.task .. key, 'slots', '')
  return true
end

-- in_line counts the tasks in line to run: the schedule's, K.ready's (all
-- due), and those waiting for their key's drain (K.deferred), which
-- readers (Snapshot, Count, the overview) tell queued or scheduled by their
-- due time as the others. It returns how many are due by now, how many in all, and how
-- many of the schedule's are due (its first ranks).
local function in_line(now)
  local ready = redis.call('LLEN', K.ready)
  local due = redis.call('ZCOUNT', K.scheduled, '-inf', now)
  return ready + due + redis.call('ZCOUNT', K.deferred, '-inf', now),
    ready + redis.call('ZCARD', K.scheduled) + redis.call('ZCARD', K.deferred), due
end

-- unschedule takes a scheduled task out of line: the schedule, K.deferred
-- or K.ready. K.ready is in the order added, so a task is looked for from
-- the end whose first task was added nearer its own time: at once when it
-- is first or last (as clear takes them, or a cancel of the latest), while
-- one deep in a long line costs a walk of up to half of it (on a line of a
-- million, tens of milliseconds), as BullMQ's removal of a waiting job.
local function unschedule(key)
  if redis.call('ZREM', K.scheduled, key) == 1 or redis.call('ZREM', K.deferred, key) == 1 then
    return
  end
  local first = redis.call('LINDEX', K.ready, 0)
  if first == key then
    redis.call('LPOP', K.ready)
    return
  end
  local last = redis.call('LINDEX', K.ready, -1)
  local from = -1
  if first and last then
    local at, head, tail = tonumber(due_of(key)), tonumber(due_of(first)), tonumber(due_of(last))
    if at and head and tail and at - head < tail - at then
      from = 1
    end
  end
  redis.call('LREM', K.ready, from, key)
end

-- deferred puts a task due at due (unix µs) in K.deferred if its key
-- drains, and reports whether it did: if not, the caller schedules it.
local function deferred(key, due)
  if redis.call('ZSCORE', K.draining, key) then
    redis.call('ZADD', K.deferred, due, key)
    return true
  end
  return false
end

-- end_drain ends the drain of key (see start_drain), whose run held slots
-- (as drain_of gives them): they go to their waiters, and its next run, if
-- one waits, enters the schedule. It returns when that run is due, or nil.
local function end_drain(key, now, slots)
  for id in string.gmatch(slots, '[^\n]+') do
    redis.call('SREM', K.limit .. id, key)
    promote(id, now)
    touch(id)
  end
  redis.call('ZREM', K.draining, key)
  redis.call('HDEL', K.drains, key)
  local due = score(redis.call('ZSCORE', K.deferred, key))
  if not due then
    return nil
  end
  redis.call('ZREM', K.deferred, key)
  redis.call('ZADD', K.scheduled, due, key)
  return due
end

-- unlink takes a live task out of wherever it is (the schedule, a waiting
-- list, or a worker: its run is cancelled) and frees its slots: a running
-- one's when its run ends (see start_drain).
local function unlink(key, state, now)
  local f = read(key, 'gen', 'waiting')
  if state == STATE.scheduled then
    unschedule(key) -- in the schedule, in line behind its key's drain, or ready
  elseif state == STATE.running then
    -- The worker is told to stop; the generation bump that follows makes
    -- anything it reports later stale.
    publish(K.events, 'c:' .. (f[1] or '') .. ':' .. key)
    start_drain(key, f[1], now)
  elseif state == STATE.waiting and f[2] then
    redis.call('ZREM', K.waiting .. f[2], key)
    touch(f[2])
    redis.call('HSET', K.task .. key, 'waiting', '') -- Info's WaitingFor: it waits no more
  elseif state == STATE.parked then -- in the schedule when a timer or deadline wakes it
    redis.call('ZREM', K.parked, key)
    redis.call('ZREM', K.scheduled, key)
  elseif state == STATE.struck then
    redis.call('ZREM', K.struck, key)
  end
  release_slots(key, now)
  end_progress(key)
end

-- chain_ended tells workers that the chain of an automatic task (a record
-- seeded with auto = '1') ended: cancelled, cleared, dead-lettered or
-- failed. Those that register the task start it again at once.
local function chain_ended(key, auto)
  if auto == '1' then
    publish(K.events, 'a:' .. key)
  end
end

local function is_live(state)
  return state == STATE.scheduled or state == STATE.running or state == STATE.waiting or state == STATE.parked or state == STATE.struck
end

-- Workflows. A workflow is a task whose runs call workflow primitives; what
-- they did is kept in its flow hash (K.flow .. key), which lives as its
-- record does: no TTL while the task is live, the record's when it ends.
--   s:<step>       a step's output (JSON)
--   c:<name>       the key of a child started under that name; n counts them
--   o:<child key>  how an ended child ended: {s: state, r: result, e: error, x: reason}
--   t:<timer>      when a durable sleep ends (unix µs)
--   d:<wait>       when a wait for a signal times out (unix µs)
--   q:<signal>     signals delivered and not yet received (a JSON array of payloads)
--   qs:<signal>    when each was sent (a JSON array of instants, as strings), aligned
--                  with the end of q:<signal> (see queued)
--   r:<wait>       what a wait for a signal received: "p" and the payload, or "t" (timed out)
--   sent           the ids of the latest signals delivered, each followed by a space (see signal.lua)
-- and, while a run is parked: w:<child key> for each child it awaits, a how
-- many they are, ws the signal it awaits, why what it waits for (for people).
-- A child's record names its parent ('parent', 'child'): when the child
-- ends, its outcome is copied into its parent's flow, and a parent parked
-- waiting for it is resumed when the last child it awaits ends.

-- MAX_SIGNALS (store.MaxSignals) bounds the signals of one name waiting to
-- be received.

-- REAP_BATCH is how many children of an ended workflow one call cancels;
-- the rest are cancelled by later calls (K.reaping, reap.lua).
local REAP_BATCH = 100

-- open_flow returns the key of a task's flow hash, for a script about to
-- write it, and marks the task's record as having one: field wf, '0'
-- while it has none, so that the end of a task that never had one does not
-- look for it (task_ended): most tasks are not workflows. A new record
-- leaves it out with its gen: a record without either never ran, and has
-- no flow (a signal sent before its first run opens one, and writes '1'),
-- so the claim that first hands it over writes '0' (claim.lua's
-- hand_over); add.lua and start.lua write it with a gen. A record with a
-- gen and no wf (written by an earlier version) may have a flow: its end
-- looks.
local function open_flow(key)
  redis.call('HSET', K.task .. key, 'wf', '1')
  return K.flow .. key
end

-- is_flow reports whether a task has a flow hash: not a key that another
-- program wrote with another type, which would make every command on it
-- fail, and the scripts that look at many tasks' flows (the reaper, a
-- child's end) fail for all of them.
local function is_flow(key)
  return redis.call('TYPE', K.flow .. key)['ok'] == 'hash'
end

-- uncount_start takes a task's claim out of the rate windows it counted in:
-- its worker handed it back without calling its function (claimed ahead,
-- it waited too long in line, or the worker stopped), and a start that did
-- not happen uses no rate. start_counts (claim.lua) lists the windows' ids in the record's
-- rated field, a JSON array; its entry in each is the key at the claim's
-- instant, the record's started field.
local function uncount_start(key, now)
  local r = redis.call('HMGET', K.task .. key, 'rated', 'started')
  if not r[1] then
    return
  end
  local ok, ids = pcall(cjson.decode, r[1])
  if r[2] and ok and type(ids) == 'table' then
    for _, id in ipairs(ids) do
      if type(id) == 'string' then
        redis.call('ZREM', K.rate .. id, key .. '@' .. r[2])
        local per = tonumber(string.match(redis.call('GET', K.raterule .. id) or '', ' (%d+)$'))
        if not per or redis.call('ZCOUNT', K.rate .. id, '(' .. int(now - per), '+inf') == 0 then
          redis.call('ZREM', K.rates, id) -- its window holds no start (see start_counts)
        end
      end
    end
  end
  redis.call('HDEL', K.task .. key, 'rated')
end

-- resume makes a parked workflow due at once.
local function resume(key, now)
  redis.call('ZREM', K.parked, key)
  redis.call('HSET', K.task .. key, 'state', STATE.scheduled, 'due', int(now))
  redis.call('ZADD', K.scheduled, now, key)
  redis.call('HDEL', K.flow .. key, 'a', 'ws', 'why')
  publish(K.events, 'w')
  announce(key, STATE.queued, read(key, 'attempt')[1])
end

-- notify_parent tells the parent of a child that ended how it ended (the
-- child's record must say it already). parent is the record's parent
-- field when the caller read it already (false or '' for none), nil when
-- it did not.
local function notify_parent(key, now, parent)
  if parent == false or parent == '' then
    return
  end
  local f = read(key, 'parent', 'state', 'result', 'error', 'reason', 'child')
  if not f[1] or f[1] == '' then
    return
  end
  local parent = f[1]
  local flow = K.flow .. parent
  -- pcall: a flow that is not a hash (see is_flow) must not fail the
  -- finish of every outcome reported with this one.
  if redis.pcall('HGET', flow, 'c:' .. (f[6] or '')) ~= key then
    return -- a child of an earlier execution (or run) of the workflow, or its flow is gone or garbled
  end
  -- Recorded even when the workflow has ended (the flow lives as long as
  -- its record, and keeps its TTL): its Info shows how the child ended, and
  -- a Retry of the workflow keeps a child that completed since (retried on
  -- its own) rather than run it again.
  redis.call('HSET', flow, 'o:' .. key, cjson.encode({s = f[2] or '', r = f[3] or '', e = f[4] or '', x = f[5] or ''}))
  local awaited = redis.call('HDEL', flow, 'w:' .. key) == 1
  local state = read(parent, 'state')[1]
  if not is_live(state) then
    return -- it ended: nobody awaits the child
  end
  if awaited then
    local left = redis.call('HINCRBY', flow, 'a', -1)
    if left <= 0 and state == STATE.parked then
      resume(parent, now)
    elseif left > 0 then
      -- why ("3 of 10 children", see park) counts the children left.
      local why = redis.call('HGET', flow, 'why')
      if why then
        redis.call('HSET', flow, 'why', (string.gsub(why, '^%d+', tostring(left), 1)))
      end
    end
  end
end

-- Signals queued for a workflow: q:<name> holds their payloads, as a
-- worker of any version reads them, and qs:<name> when each was sent, so
-- that a wait whose deadline came first times out rather than take one
-- sent after it (its run late: workers down or busy). A worker of an
-- earlier version takes payloads off q:<name> alone: the times align with
-- the end of the payloads, and a payload without one counts as on time.

-- queued reads the signals called name waiting to be received: their
-- payloads, and their send times aligned with them (times[i] is the
-- i-th's, or nil).
local function queued(flow, name)
  local v = redis.call('HMGET', flow, 'q:' .. name, 'qs:' .. name)
  local q = v[1] and cjson.decode(v[1]) or {}
  local all = v[2] and cjson.decode(v[2]) or {}
  local times = {}
  for i = 1, #q do
    times[i] = all[#all - #q + i]
  end
  return q, times
end

-- in_time reports whether the first of the queued signals q (send times
-- times, see queued) was sent before deadline (nil: no deadline): whether
-- a wait with that deadline takes it.
local function in_time(q, times, deadline)
  local sent = tonumber(times[1])
  return #q > 0 and not (deadline and sent and sent >= deadline)
end

-- unhex is the bytes that the hex text h spells.
local function unhex(h)
  return (string.gsub(h, '%x%x', function(b) return string.char(tonumber(b, 16)) end))
end

-- exact is the text of p's field: JSON text cannot hold one that is not
-- UTF-8, whose bytes come in hex as field_hex (see store.Park.Encode).
local function exact(p, field)
  local h = p[field .. '_hex']
  if type(h) == 'string' then
    return unhex(h)
  end
  return p[field]
end

-- park records what a workflow's run waits for (payload: JSON, see
-- store.Park), and returns when the workflow is due again: now when what it
-- waits for happened already, the instant of its timer or deadline, or nil
-- when only a child or a signal can wake it.
local function park(key, payload, now)
  local flow = open_flow(key)
  local ok, p = pcall(cjson.decode, payload)
  redis.call('HDEL', flow, 'a', 'ws', 'why')
  if not ok or type(p) ~= 'table' then
    return now -- cannot happen: the worker wrote it; running again is safe
  end
  if p.k == 'children' then
    local pending, awaited, seen = 0, 0, {}
    local keys = p.keys or {}
    if type(p.keys_hex) == 'table' then -- keys that are not UTF-8, exactly
      keys = {}
      for i, h in ipairs(p.keys_hex) do
        keys[i] = unhex(h)
      end
    end
    for _, child in ipairs(keys) do
      if not seen[child] then -- each child once, however often it is listed
        seen[child] = true
        awaited = awaited + 1
        if redis.call('HEXISTS', flow, 'o:' .. child) == 0 then
          redis.call('HSET', flow, 'w:' .. child, '1')
          pending = pending + 1
        end
      end
    end
    if pending == 0 then
      return now
    end
    local why = awaited == 1 and '1 child' or pending .. ' of ' .. awaited .. ' children'
    redis.call('HSET', flow, 'a', pending, 'why', why)
    return nil
  elseif p.k == 'signal' then
    p.name, p.wait = exact(p, 'name'), exact(p, 'wait')
    local deadline = nil
    if p.timeout then
      deadline = tonumber(redis.call('HGET', flow, 'd:' .. p.wait))
      if not deadline then
        deadline = now + p.timeout
        redis.call('HSET', flow, 'd:' .. p.wait, int(deadline))
      end
    end
    local q, times = queued(flow, p.name)
    if in_time(q, times, deadline) or deadline and deadline <= now then
      return now
    end
    redis.call('HSET', flow, 'ws', p.name, 'why', 'signal ' .. p.name)
    return deadline
  elseif p.k == 'sleep' then
    p.timer = exact(p, 'timer')
    local at = tonumber(redis.call('HGET', flow, 't:' .. p.timer))
    if not at then
      at = tonumber(p['until']) or now + (tonumber(p['for']) or 0)
      redis.call('HSET', flow, 't:' .. p.timer, int(at))
    end
    if at <= now then
      return now
    end
    redis.call('HSET', flow, 'why', 'sleep ' .. p.timer)
    return at
  end
  return now
end

local reap -- below: cancels the live children of an ended workflow

-- keep_in lists a task that ended in set (a sorted set by when), for as
-- long as its record lasts (keep, ms): entries older than that are dropped
-- as others are listed, and the set expires with the last of them.
local function keep_in(set, key, now, keep)
  if keep <= 0 then
    return
  end
  redis.call('ZADD', set, now, key)
  redis.call('ZREMRANGEBYSCORE', set, '-inf', now - keep * 1000)
  redis.call('PEXPIRE', set, keep)
end

-- keep_failed lists a failed execution (K.failed), latest first, for the
-- dashboard. Only failures write it.
local function keep_failed(key, now, keep)
  keep_in(K.failed, key, now, keep)
end

-- task_ended does what follows the end of any task, once its record says
-- how it ended: its parent learns of it; an automatic task's chain is
-- started again; a workflow's flow takes the record's lifetime (keep, ms;
-- 0 deletes it), and unless it completed, its live children are cancelled
-- by the reaper (reap.lua, which workers run at once on the "r" event), or
-- with inline a page of them at once (an explicit Cancel), the rest by the
-- reaper. parent is as notify_parent takes it; wf is the record's wf
-- field when the caller read it already ('0': it never had a flow, see
-- open_flow), nil when it did not.
local function task_ended(key, state, now, keep, auto, inline, parent, wf)
  if state == STATE.failed then
    keep_failed(key, now, keep)
  end
  notify_parent(key, now, parent)
  chain_ended(key, auto)
  if wf == '0' then
    return
  end
  local flow = K.flow .. key
  local kind = redis.call('TYPE', flow)['ok']
  if kind == 'none' then
    return
  end
  if state ~= STATE.completed and kind == 'hash' then -- not a key of another type (see is_flow)
    local cursor = '0'
    if inline then
      cursor = reap(key, '0', keep)
    end
    if not inline or cursor ~= '0' then
      redis.call('HSET', K.reaping, key, cursor)
      redis.call('PEXPIRE', K.reaping, keep + GC_MARGIN_MS)
      publish(K.events, 'r')
    end
  end
  if keep == 0 then
    redis.call('DEL', flow)
  else
    redis.call('PEXPIRE', flow, keep)
  end
end

-- cancel_task ends a live task as cancelled, with the reason: the one way
-- Cancel, Clear and the end of a workflow cancel a task.
local function cancel_task(key, now, retention, message, inline)
  local f = read(key, 'state', 'gen', 'attempt', 'auto', 'created')
  if not is_live(f[1]) then
    return false
  end
  unlink(key, f[1], now)
  redis.call('HSET', K.task .. key, 'state', STATE.cancelled, 'gen', next_gen(f[2] or f[5], now),
    'finished', int(now), 'error', message, 'reason', REASON.cancelled)
  redis.call('PEXPIRE', K.task .. key, retention)
  announce(key, STATE.cancelled, f[3], message)
  task_ended(key, STATE.cancelled, now, retention, f[4], inline)
  return true
end

-- reap cancels the live children of the ended workflow key found in one
-- page of its flow (HSCAN from cursor); it returns the next cursor ('0' at
-- the end).
reap = function(key, cursor, retention)
  local now = clock_us()
  local page = redis.call('HSCAN', K.flow .. key, cursor, 'MATCH', 'c:*', 'COUNT', REAP_BATCH)
  for i = 2, #page[2], 2 do
    local child = page[2][i]
    -- Only a record that names the workflow as its parent: once a child's
    -- record expired, its key may be another task's.
    if read(child, 'parent')[1] == key then
      cancel_task(child, now, retention, 'cancelled: its workflow ' .. key .. ' ended', false)
    end
  end
  return page[1]
end

-- finish_reaping cancels the live children of the ended workflow key that
-- the reaper has yet to cancel (K.reaping), before a new execution of the
-- key deletes its flow, which lists them: once it goes, the reaper cannot
-- find them, and a child the new execution does not start again under the
-- same name would run on, orphaned. The reaper is quick, and a worker
-- reaps before it seeds an automatic chain again, so this is rare; it does
-- at most REAP_PAGES pages (a thousand children or so), which bounds how
-- long one add may hold Redis, and leaves any children past them to run
-- on, as they did before. The children's records are kept as long as the
-- workflow's record had left to live.
local REAP_PAGES = 10
local function finish_reaping(key)
  local cursor = redis.call('HGET', K.reaping, key)
  if not cursor then
    return
  end
  local keep = redis.call('PTTL', K.task .. key)
  if keep < 0 then
    keep = GC_MARGIN_MS
  end
  if is_flow(key) then
    for _ = 1, REAP_PAGES do
      cursor = reap(key, cursor, keep)
      if cursor == '0' then
        break
      end
    end
  end
  redis.call('HDEL', K.reaping, key)
end

-- keep_dead lists a task that failed without running to its end (a poison
-- task, a corrupt record) for Snapshot, as long as its record.
local function keep_dead(key, now, retention)
  keep_in(K.deadletters, key, now, retention)
end

-- fail_corrupt ends a task whose record cannot be used (see corruption): it
-- leaves the schedule and the running set, frees its slots, and ends failed
-- with the reason, kept for the retention (ms) and listed with the dead
-- letters. A key that is not a hash cannot hold a state: it is listed with
-- the dead letters all the same, and left to expire after the retention.
local function fail_corrupt(key, reason, now, retention)
  redis.call('ZREM', K.scheduled, key)
  redis.call('ZREM', K.deferred, key)
  redis.call('ZREM', K.running, key)
  redis.call('ZREM', K.parked, key)
  redis.call('ZREM', K.struck, key)
  local tk = K.task .. key
  local kind = redis.call('TYPE', tk)['ok']
  if kind == 'hash' then
    local f = read(key, 'gen', 'waiting', 'auto', 'created')
    if f[2] and f[2] ~= '' then
      redis.call('ZREM', K.waiting .. f[2], key)
      touch(f[2])
    end
    release_slots(key, now)
    redis.call('HSET', tk, 'state', STATE.failed, 'gen', next_gen(f[1] or f[4], now), 'finished', int(now),
      'error', 'corrupt record: ' .. reason, 'reason', REASON.corrupt)
    redis.call('PEXPIRE', tk, retention)
    end_progress(key)
    announce(key, STATE.failed, 0, 'corrupt record: ' .. reason)
    keep_dead(key, now, retention)
    task_ended(key, STATE.failed, now, retention, f[3])
  elseif kind ~= 'none' then
    redis.call('PEXPIRE', tk, retention)
    announce(key, STATE.failed, 0, 'corrupt record: ' .. reason)
    keep_dead(key, now, retention)
    keep_failed(key, now, retention)
  end
end

-- shown is a field's value in a message: quoted, or "missing" (HMGET reads
-- a field that is not there as false).
local function shown(v)
  if not v then
    return 'missing'
  end
  return '"' .. v .. '"'
end

-- digits tells whether v is a whole number written in digits alone, below
-- 2^53.
local function digits(v)
  return whole(v) ~= nil and not string.find(v, '%D')
end

-- valid_due is the last due time corruption found an instant: the tasks
-- added by one call share theirs, and a string compares with another at no
-- cost (Lua keeps one copy of each), where reading it as a number costs
-- Redis a conversion each.
local valid_due = nil

-- corruption tells what makes a task's record unusable, or nil: its fields
-- name, attempt, deliveries, due and gen, in this order, as read (false when
-- absent: for attempt and deliveries, their first value), or err when it
-- could not be read at all. A due time and a generation are digits, as the
-- scripts write them (whole would take "1e15" or " 7"): gen_after compares
-- them as text.
local function corruption(name, attempt, deliveries, due, gen, err)
  if err then
    return not_a_hash(err)
  elseif not name or name == '' then
    return 'no task name'
  elseif attempt and attempt ~= ATTEMPT_1 and (whole(attempt) or 0) < 1 then
    return 'attempt is not a positive integer: ' .. shown(attempt)
  elseif deliveries and deliveries ~= DELIVERIES_0 and not whole(deliveries) then
    return 'deliveries is not an integer: ' .. shown(deliveries)
  elseif due ~= valid_due and not digits(due) then
    return 'due is not an instant: ' .. shown(due)
  elseif gen ~= due and not digits(gen) then
    return 'gen is not an integer: ' .. shown(gen)
  end
  valid_due = due
  return nil
end

-- discard_record deletes the record of a completed task whose docket keeps
-- none. If someone watches the task, it leaves a tombstone instead: a record
-- that says the task completed, until the watch's registration ends and as
-- long again as one usually lasts (WATCH_FOR_MS, from store.WatchFor; twice
-- that at least), so that a watcher that missed the announcement (its
-- connection dropped) finds proof of the completion when it reconnects,
-- rather than nothing, which it reports as a loss. (A registration may last
-- longer than WatchFor: the testsuite's last an hour of fake time.) The
-- tombstone keeps the generation, so that adding the key again starts anew.
-- tk is the record's key, if the caller has it (see read_at).
local function discard_record(key, attempt, now_s, result, tk)
  tk = tk or K.task .. key
  local until_us = watched_until(key)
  if not until_us then
    redis.call('DEL', tk)
    return
  end
  local keep = math.max(2 * WATCH_FOR_MS, math.ceil((until_us - tonumber(now_s)) / 1000) + WATCH_FOR_MS)
  local f = redis.call('HMGET', tk, 'name', 'gen')
  redis.call('DEL', tk)
  redis.call('HSET', tk, 'state', STATE.completed, 'name', f[1] or '', 'gen', f[2] or '0',
    'attempt', attempt or '1', 'finished', now_s)
  if result and result ~= '' then
    redis.call('HSET', tk, 'result', result)
  end
  redis.call('PEXPIRE', tk, keep)
end

-- check_groups checks the groups of outcomes in ARGV[first..last] (see
-- finish_attempts) before any is applied: a count that does not fit the
-- values after it (never sent by the store) fails the call, and nothing
-- of it is written.
local function check_groups(first, last, g_size, o_size)
  local i = first
  while i <= last do
    local n = whole(get(ARGV, i, OUTCOMES).count)
    if not n or n < 1 or i + g_size + n * o_size - 1 > last then
      error('outcomes: a group of ' .. tostring(ARGV[i]) .. ' outcomes, with ' .. (last - i - g_size + 1) ..
        ' values after it', 0)
    end
    i = i + g_size + n * o_size
  end
end

-- count_outcome adds an outcome of a task of name to counts, for the minute's
-- statistics: by outcome (n), and by name within it (by). Tables rather
-- than a string "outcome:name" a task, which would cost Redis a new
-- string each.
local function count_outcome(counts, outcome, name)
  local c = counts[outcome]
  if not c then
    c = {n = 0, by = {}}
    counts[outcome] = c
  end
  c.n = c.n + 1
  c.by[name] = (c.by[name] or 0) + 1
end

-- finish_attempts records the outcomes of attempts, each only if its
-- generation still matches (a stale copy changes nothing), and frees the
-- slots of every task it applies to. The outcomes are ARGV[first..last],
-- in groups of outcomes in a row that share their kind, when, error and
-- reason (why a failed one failed), each group an OUTCOMES head (its count
-- and those four) then an OUTCOME per outcome: key, gen, payload (a
-- perpetual task's next input, a completed task's result). A batch of
-- tasks that completed alike is one group: three arguments an outcome
-- rather than seven, each costing Redis about 800 instructions.
-- outcome: completed | failed      -> the execution ends and is kept for retention (ms);
--                                     a completed one for "when" ms instead unless
--                                     empty, 0 deleting its record at once
--          retry                   -> attempt+1, due at "when" (relative to now)
--          perpetual               -> the next run: attempt 1, due at "when" (relative
--                                     to this attempt's start), never in the past;
--                                     the next input replaces the input unless empty
--          release                 -> back to the queue, due when it was (now at the latest),
--                                     this delivery not counted
--          snooze                  -> the same attempt again, due at "when" (relative to
--                                     now); deliveries start again
--          unknown                 -> no task of that name on the worker: due at "when"
--                                     (relative to now), error says why; listed for the
--                                     workers that know the name (K.unknown), and the
--                                     instant it was first handed back kept in unknown_since,
--                                     and when it was due then in unknown_due
--          drained                 -> a run cancelled or replaced has ended: nothing
--                                     to apply
-- A stale outcome (any kind) of the run a key drains ends the drain (see
-- start_drain): that run has ended.
-- Any other outcome forgets unknown_since, unknown_due and known_at.
-- Returns per attempt: 1 applied, 0 stale (a drained one always).
local function finish_attempts(first, last, retention, now)
  local now_s = int(now)
  local before = nil -- the earliest due task before this call, read when needed
  local soonest = nil
  local result = {}
  -- Leases end in one call, at the end.
  local ended, n_ended = {}, 0
  -- (Counters rather than #t: a table's length costs Redis a search of it
  -- each time.)
  local n = 0
  -- The outcomes, and the outcomes by task, counted for the minute's
  -- statistics (K.stats, the dashboard's chart), written once at the end.
  local counts = {}

  local g_size, o_size = #OUTCOMES, #OUTCOME
  check_groups(first, last, g_size, o_size)
  -- Each outcome in turn, a group's head read at its start: the group's
  -- values are the outcome's kind, when, error and reason.
  local g, o
  local outcome, when, err, reason
  local group_end = first - 1 -- the last index of the group read
  local at = first
  while at <= last do
    if at > group_end then
      g = get(ARGV, at, OUTCOMES, g)
      outcome, when, err, reason = g.kind, g.when, g.error, g.reason
      group_end = at + g_size + whole(g.count) * o_size - 1
      at = at + g_size
    end
    o = get(ARGV, at, OUTCOME, o)
    at = at + o_size
    n = n + 1
    result[n] = 1 -- applied, unless stale (below)
    local key, gen, input = o.key, o.gen, o.payload
    local tk = K.task .. key
    -- A key that is not a hash reads as stale: its lease lapses, and the
    -- claim that finds it fails it (see fail_corrupt).
    local f = outcome ~= KIND.drained and
      read_at(tk, 'gen', 'state', 'attempt', 'slots', 'progress', 'unknown_since', 'auto', 'name', 'parent', 'wf')
    if f then
      f[3] = f[3] or ATTEMPT_1
    end
    if not f or f[1] ~= gen or f[2] ~= STATE.running then
      -- Stale, but the run of gen has ended: if its key drains it (it was
      -- cancelled or replaced, drained or not), the drain ends.
      local drained, slots = drain_of(key)
      if drained == gen then
        if soonest == nil then
          before = earliest(K.scheduled)
        end
        local due = end_drain(key, now, slots)
        if due and (soonest == nil or due < soonest) then
          soonest = due
        end
      end
      result[n] = 0
    elseif f[3] ~= ATTEMPT_1 and not whole(f[3]) then -- the outcome cannot be applied to it
      n_ended = n_ended + 1
      ended[n_ended] = key
      fail_corrupt(key, 'attempt is not a positive integer: ' .. tostring(f[3]), now, tonumber(retention))
    else
      n_ended = n_ended + 1
      ended[n_ended] = key
      count_outcome(counts, outcome, f[8] or '')
      if f[4] and f[4] ~= '' then
        release_slots(key, now)
      end
      local has_progress = f[5] ~= false
      -- A run that goes again redoes its work: its progress counts from
      -- nothing. A workflow's carries over: the steps that reported it do
      -- not run again.
      local progress_resets = has_progress and f[10] ~= '1'
      if f[6] and outcome ~= KIND.unknown then
        redis.call('HDEL', tk, 'unknown_since', 'unknown_due', 'known_at')
      end
      local keep = retention
      if outcome == KIND.completed and when ~= '' then
        keep = when
      end
      if outcome == KIND.completed and when == '0' then -- not kept
        if has_progress then
          redis.call('DEL', K.progress .. key)
        end
        local parent = f[9] or ''
        if parent ~= '' then
          redis.call('HSET', tk, 'state', STATE.completed, 'result', input) -- for its parent to read
        end
        task_ended(key, STATE.completed, now, 0, f[7], false, parent, f[10])
        discard_record(key, f[3], now_s, input, tk)
        announce(key, outcome, f[3], err)
      elseif outcome == KIND.completed or outcome == KIND.failed then
        redis.call('HSET', tk, 'state', outcome, 'finished', now_s, 'error', err)
        if input ~= '' then
          redis.call('HSET', tk, 'result', input)
        end
        if reason ~= '' then
          redis.call('HSET', tk, 'reason', reason)
        end
        redis.call('PEXPIRE', tk, keep)
        if has_progress then
          end_progress(key)
        end
        announce(key, outcome, f[3], err)
        task_ended(key, outcome, now, tonumber(keep), f[7], false, f[9] or '', f[10])
      else
        local due
        if outcome == KIND.retry then
          due = due_at(when, now)
          redis.call('HSET', tk, 'attempt', int(tonumber(f[3]) + 1), 'deliveries', '0', 'error', err)
          redis.call('HDEL', tk, 'run_started')
          if progress_resets then
            end_progress(key)
          end
          announce(key, STATE.scheduled, tonumber(f[3]) + 1, err)
        elseif outcome == KIND.perpetual then
          -- After the start of the run: its first claim, when it parked
          -- and was resumed since (run_started).
          local s = redis.call('HMGET', tk, 'run_started', 'started')
          due = math.max(due_at(when, whole(s[1]) or whole(s[2]) or now), now)
          redis.call('HDEL', tk, 'run_started')
          redis.call('HSET', tk, 'attempt', '1', 'deliveries', '0', 'error', err)
          if input ~= '' then
            redis.call('HSET', tk, 'input', input)
          end
          if has_progress then
            end_progress(key)
          end
          redis.call('DEL', K.flow .. key) -- the next run is a workflow of its own
          announce(key, STATE.scheduled, 1, err)
        elseif outcome == KIND.snooze then
          due = due_at(when, now)
          redis.call('HSET', tk, 'deliveries', '0')
          if progress_resets then
            end_progress(key)
          end
          announce(key, STATE.scheduled, f[3])
        elseif outcome == KIND.unknown then
          due = due_at(when, now)
          -- It never ran here: this claim's delivery is undone, not those
          -- before it (a worker that died with it), which count towards
          -- its dead letter.
          redis.call('HINCRBY', tk, 'deliveries', -1)
          redis.call('HSET', tk, 'error', err)
          if not f[6] then -- the first hand-back: when, and when it was due (see known.lua)
            redis.call('HSET', tk, 'unknown_since', now_s, 'unknown_due', due_of(key) or now_s)
          end
          local waiting = K.unknown .. (redis.call('HGET', tk, 'name') or '')
          redis.call('ZADD', waiting, now, key)
          expire_after(waiting, due, now)
          announce(key, STATE.scheduled, f[3], err)
        elseif outcome == KIND.park then
          due = park(key, input, now)
          redis.call('HSETNX', tk, 'run_started', redis.call('HGET', tk, 'started') or now_s)
          redis.call('HSET', tk, 'deliveries', '0', 'waited', WAITED_PARKED)
        else -- release: back in line where it was, due when it was due
          -- (its due time stays that of the attempt, as a redelivery's does)
          due = math.min(whole(due_of(key)) or now, now)
          if outcome == KIND.unstarted then
            uncount_start(key, now)
          end
          -- Back where it was: before the tasks of its instant still in
          -- K.ready, added after it (see returned, in claim.lua).
          redis.call('HSET', tk, 'back', int(due))
          redis.call('HINCRBY', tk, 'deliveries', -1)
          if progress_resets then
            end_progress(key)
          end
          announce(key, STATE.queued, f[3])
        end
        local next_gen_s = int(tonumber(gen) + 1)
        if outcome == KIND.park and (due == nil or due > now) then
          -- Parked: due at its timer or deadline, or woken by a child or a
          -- signal (K.parked).
          redis.call('HSET', tk, 'state', STATE.parked, 'gen', next_gen_s, 'due', int(due or 0))
          if due == nil then
            redis.call('ZADD', K.parked, now, key)
          end
          announce(key, STATE.parked, f[3])
        else
          redis.call('HSET', tk, 'state', STATE.scheduled, 'gen', next_gen_s, 'due', int(due))
          if outcome == KIND.park then
            announce(key, STATE.queued, f[3])
          end
        end
        if due ~= nil then
          if soonest == nil then
            before = earliest(K.scheduled) -- nothing of this call is in it yet
          end
          redis.call('ZADD', K.scheduled, int(due), key)
          if soonest == nil or due < soonest then
            soonest = due
          end
        end
      end
    end
  end

  if n_ended > 0 then
    redis.call('ZREM', K.running, unpack(ended))
    local sk = K.stats .. int(math.floor(now / 60000000))
    for outcome, c in pairs(counts) do
      redis.call('HINCRBY', sk, outcome, c.n)
      for name, n in pairs(c.by) do
        redis.call('HINCRBY', sk, outcome .. ':' .. name, n)
      end
    end
    redis.call('PEXPIRE', sk, STATS_TTL_MS)
  end
  if soonest ~= nil then
    wake_if_earlier(before, soonest)
  end
  return result
end

-- held reports whether the run of key holding gen still holds its task:
-- only that run may change what its workflow did.
local function held(key, gen)
  local f = read(key, 'gen', 'state')
  return f[1] == gen and f[2] == STATE.running
end

-- Whole numbers beyond 2^53: cjson reads every number as a double, which
-- cannot tell 1234567890123456789 from 1234567890123456790, where Go reads
-- an int64 field exactly. Where a whole number read from JSON is that
-- large, the scripts go back to its text (exact_int), so that two
-- customers' ids are two limits, two cooldowns, and a strike of one does
-- not hold the other.
local JSON = {}

function JSON.inexact(v)
  return type(v) == 'number' and v == math.floor(v) and math.abs(v) >= 2 ^ 53
end

-- skip_string returns the index after the JSON string that starts at i.
function JSON.skip_string(s, i)
  local j = i + 1
  while true do
    local q = string.find(s, '["\\]', j)
    if not q then
      return nil
    elseif string.sub(s, q, q) == '"' then
      return q + 1
    end
    j = q + 2
  end
end

-- skip_value returns the index after the JSON value that starts at i.
function JSON.skip_value(s, i)
  local c = string.sub(s, i, i)
  if c == '"' then
    return JSON.skip_string(s, i)
  elseif c ~= '{' and c ~= '[' then
    return string.find(s, '[,}%]%s]', i) or #s + 1
  end
  local depth, j = 0, i
  while true do
    local p = string.find(s, '[][{}"]', j)
    if not p then
      return nil
    end
    local d = string.sub(s, p, p)
    if d == '"' then
      j = JSON.skip_string(s, p)
      if not j then
        return nil
      end
    else
      depth = depth + ((d == '{' or d == '[') and 1 or -1)
      j = p + 1
      if depth == 0 then
        return j
      end
    end
  end
end

-- member returns the text of the value of the top-level member name of
-- the JSON object s (the last, if several: as cjson and Go read it), or
-- nil.
function JSON.member(s, name)
  local found = nil
  local i = string.find(s, '%S')
  if not i or string.sub(s, i, i) ~= '{' then
    return nil
  end
  i = i + 1
  while true do
    i = string.find(s, '[^%s,]', i)
    if not i or string.sub(s, i, i) ~= '"' then
      return found
    end
    local e = JSON.skip_string(s, i)
    local colon = e and string.find(s, '%S', e)
    if not colon or string.sub(s, colon, colon) ~= ':' then
      return found
    end
    local v = string.find(s, '%S', colon + 1)
    local ve = v and JSON.skip_value(s, v)
    if not ve then
      return found
    end
    local ok, k = pcall(cjson.decode, string.sub(s, i, e - 1))
    if ok and k == name then
      found = string.sub(s, v, ve - 1)
    end
    i = ve
  end
end

-- exact_int returns the decimal text of member name of the JSON object s
-- when its value v (as cjson read it) is a whole number too large for a
-- double to hold exactly, and s writes it as an integer; else nil.
function JSON.exact_int(v, s, name)
  if not JSON.inexact(v) then
    return nil
  end
  local t = JSON.member(s or '', name)
  if t and string.find(t, '^%-?%d+$') then
    return t
  end
  return nil
end

-- compare_ints orders two decimal integers given as text: -1, 0 or 1.
function JSON.compare_ints(x, y)
  local nx, ny = string.sub(x, 1, 1) == '-', string.sub(y, 1, 1) == '-'
  if nx ~= ny then
    return nx and -1 or 1
  end
  x, y = string.match(x, '^%-?0*(%d-%d)$'), string.match(y, '^%-?0*(%d-%d)$')
  local c = 0
  if #x ~= #y then
    c = #x < #y and -1 or 1
  elseif x ~= y then
    c = x < y and -1 or 1
  end
  return nx and -c or c
end

-- Strikes (strike.lua, restore.lua): K.strikes holds them, id → the JSON
-- of a StrikeSpec, whose keys STRIKE names (task or '', field or '', op,
-- value). A task a strike matches does not start while it holds: an add
-- refuses it, a claim holds it (state struck, in K.struck) until a restore
-- releases it.
local strikes_read = nil
local strike_texts = {} -- a strike read → its JSON, for its value's text (JSON.exact_int)

local function strikes()
  if strikes_read == nil then
    strikes_read = {}
    for _, v in ipairs(redis.call('HVALS', K.strikes)) do
      local ok, s = pcall(cjson.decode, v)
      if ok and type(s) == 'table' then
        strikes_read[#strikes_read + 1] = s
        strike_texts[s] = v
      end
    end
  end
  return strikes_read
end

-- compare applies a strike's operator: numbers as numbers, strings as
-- strings; values of different kinds are only ever different. ta and tb,
-- when both given, are a and b written as whole numbers too large for a
-- double (JSON.exact_int): compared as written.
local function compare(a, op, b, ta, tb)
  if type(a) ~= type(b) or (type(a) ~= 'number' and type(a) ~= 'string' and type(a) ~= 'boolean') then
    return op == '!=' and a ~= nil
  end
  if ta and tb then
    a, b = JSON.compare_ints(ta, tb), 0
  end
  if op == '==' then
    return a == b
  elseif op == '!=' then
    return a ~= b
  elseif type(a) == 'boolean' then
    return false
  elseif op == '<' then
    return a < b
  elseif op == '<=' then
    return a <= b
  elseif op == '>' then
    return a > b
  elseif op == '>=' then
    return a >= b
  end
  return false
end

-- describe renders a strike for people.
local function describe(s)
  local task, field = s[STRIKE.task], s[STRIKE.field]
  local what = task ~= '' and task or 'every task'
  if field ~= '' then
    local v = s[STRIKE.value]
    local shown = JSON.inexact(v) and JSON.member(strike_texts[s] or '', STRIKE.value) or cjson.encode(v)
    what = what .. ' with ' .. field .. ' ' .. s[STRIKE.op] .. ' ' .. shown
  end
  return what
end

-- folded is a key as Go's encoding/json compares it with a field's name:
-- without case, and with the two non-ASCII letters that fold to ASCII ones
-- (U+017F to s, U+212A to k).
local function folded(k)
  if string.find(k, '[\197\226]') then -- the lead bytes of the two: most keys have neither
    k = string.gsub(k, '\197\191', 's')
    k = string.gsub(k, '\226\132\170', 'k')
  end
  return string.lower(k)
end

-- exact_pair returns the texts of an input's field value a and a strike's
-- value b when either is a whole number too large for a double and both
-- are written as integers (see JSON.exact_int); else nothing.
local function exact_pair(a, raw, field, b, spec)
  if type(a) ~= 'number' or type(b) ~= 'number' or not (JSON.inexact(a) or JSON.inexact(b)) then
    return nil
  end
  local ta = JSON.member(raw or '', field)
  local tb = JSON.member(spec or '', STRIKE.value)
  if ta and tb and string.find(ta, '^%-?%d+$') and string.find(tb, '^%-?%d+$') then
    return ta, tb
  end
  return nil
end

-- struck_field reports whether strike s on field holds an input: its
-- member field, or one Go would bind to the field (another case: Go
-- matches names without case, and the last such member wins, an order the
-- decoded table has lost, so any of them matching holds the task: a strike
-- errs on the side of holding).
local function struck_field(input, raw, field, s)
  local want, b = folded(field), s[STRIKE.value]
  for k, a in pairs(input) do
    if type(k) == 'string' and (k == field or folded(k) == want)
        and compare(a, s[STRIKE.op], b, exact_pair(a, raw, k, b, strike_texts[s])) then
      return true
    end
  end
  return false
end

-- struck returns the strike a task (its name and input JSON) matches, or
-- nil. An input that cannot be read matches no strike on a field.
local function struck(name, raw)
  local list = strikes()
  if #list == 0 then
    return nil
  end
  local input = nil
  for _, s in ipairs(list) do
    local task, field = s[STRIKE.task], s[STRIKE.field]
    if task == '' or task == name then
      if field == '' then
        return s
      end
      if input == nil then
        local ok, v = pcall(cjson.decode, raw or '')
        input = ok and type(v) == 'table' and v or false
      end
      if input and struck_field(input, raw, field, s) then
        return s
      end
    end
  end
  return nil
end

-- hold takes a due task out of the schedule until the strike it matches is
-- restored, and gives up a slot it was handed while it waited in line (the
-- next in line gets it): a strike keeps no other task of the limit waiting.
local function hold(key, attempt, s, now)
  release_slots(key, now)
  redis.call('ZREM', K.scheduled, key)
  redis.call('ZADD', K.struck, now, key)
  redis.call('HSET', K.task .. key, 'state', STATE.struck, 'error', 'held: struck (' .. describe(s) .. ')')
  announce(key, STATE.struck, attempt)
end
