-- add: schedule tasks, or replace them.
-- KEYS[1] scheduled zset
-- ARGV[1] docket key prefix, ARGV[2] mode: "add", "replace", or "seed" (an add
-- that marks the record as an automatic task's chain: see chain_ended)
-- then groups of tasks that share a task name, a when and a trace context
-- (AddMany's tasks are one group): the group's count, task name, when and
-- trace context, then per task 2 values: key and input JSON. (Two values a
-- task rather than five: Redis reads each argument, and Lua gets each as a
-- string, about 900 instructions apiece under callgrind.)
-- Returns a string of one code per task (1 scheduled, 0 already scheduled,
-- 2 replaced, 3 refused: a strike matches it), the instant of the call,
-- then for each task whose due instant is not that instant, its place (from
-- 1) and its due instant (for 3, the strike, described). (Two values in
-- all for an AddMany run at once, rather than two per task.)
local now = clock_us()
local now_s = int(now)
local mode = ARGV[2]
local seed = mode == 'seed'
if seed then
  mode = 'add'
end
-- Workers wait for the earliest due task; with tasks ready, none waits.
local before = 0
if redis.call('LLEN', K.ready) == 0 then
  before = earliest(K.scheduled)
end
-- Whether any key drains (see start_drain): most calls need not ask per task.
local any_drains = redis.call('EXISTS', K.draining) == 1
local soonest = nil
local codes, result = {}, {'', now_s}
local n = 0 -- the task being added, from 1
-- report says what became of task n: its code, and its due instant (or,
-- refused, its strike, which is always listed). (n is passed: a function
-- reads no variable the top level writes, see lib.lua's header.)
local function report(n, code, due)
  codes[n] = code
  if code == '3' or due ~= now_s then
    result[#result + 1] = n
    result[#result + 1] = due
  end
end
-- Tasks enter the schedule in one call, at the end: scores and keys, or
-- the keys of those added to run at once, which join K.ready (a list:
-- about 40 bytes a task, against 134 in the sorted set). Should a task
-- fail midway, those written before it are scheduled all the same, so
-- that no record is left outside every set.
local schedule, ready = {}, {}
-- A key that has no record yet, the common case, reads as ABSENT: an
-- EXISTS costs Redis much less than an HMGET of six missing fields,
-- whose reply becomes a new table (about 10% of an add, counted by
-- callgrind).
local ABSENT = {false, false, false, false, false, false}
local function enter_schedule()
  if #schedule > 0 then
    redis.call('ZADD', K.scheduled, unpack(schedule))
    schedule = {}
  end
  if #ready > 0 then
    redis.call('RPUSH', K.ready, unpack(ready))
    ready = {}
  end
end

local i = 3
while i <= #ARGV do
  local count, name, when, trace = whole(ARGV[i]), ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if not count or i + 3 + 2 * count > #ARGV then -- not sent by the store: nothing of it is written
    enter_schedule()
    wake_if_earlier(before, soonest)
    return redis.error_reply('add: a group of ' .. tostring(ARGV[i]) .. ' tasks, with ' .. (#ARGV - i - 3) .. ' values after it')
  end
  -- The group's due time, read once: an instant past means now.
  local due, due_s = now, now_s
  if when ~= '+0' then
    local asked = due_at(when, now)
    if not asked then
      enter_schedule()
      wake_if_earlier(before, soonest)
      return redis.error_reply('task ' .. tostring(ARGV[i + 4]) .. ': bad due time ' .. when)
    end
    due = math.max(asked, now)
    due_s = int(due)
  end
  i = i + 4
  for at = i, i + 2 * count - 1, 2 do
    n = n + 1
    local key, input = ARGV[at], ARGV[at + 1]
    local tk = K.task .. key
    local f = ABSENT
    if redis.call('EXISTS', tk) == 1 then
      f = redis.pcall('HMGET', tk, 'state', 'gen', 'due', 'parent', 'child', 'created')
    end
    if f.err then
      enter_schedule()
      wake_if_earlier(before, soonest)
      return redis.error_reply('task ' .. key .. ': ' .. f.err)
    end
    -- An earlier execution's record (created stands for a gen and a due the
    -- record leaves out: see ATTEMPT_1); a tombstone has a gen alone.
    local earlier = f[2] or f[6]
    local state, gen = state_of(f[1], f[6]), whole(earlier) or 0
    local live = is_live(state)
    local strike = struck(name, input)

    if strike then
      report(n, '3', describe(strike))
    elseif live and mode == 'add' then
      report(n, '0', f[3] or f[6])
    else
      if live then
        enter_schedule() -- the key may be this call's own, not yet in line
        unlink(key, state, now)
        any_drains = any_drains or state == STATE.running -- its run drains now
      end
      -- Generations only grow, even across executions of the same key whose
      -- records expired in between: a copy from any earlier execution is stale.
      local gen_s = now_s
      if earlier then
        gen_s = int(math.max(gen + 1, now))
        if live then
          -- A live execution replaced: its children, found started again
          -- under their names, are the new execution's.
          redis.call('HDEL', K.reaping, key)
        else
          -- An ended one's children still being cancelled are cancelled
          -- now, while its flow lists them (see finish_reaping).
          finish_reaping(key)
        end
        redis.call('DEL', tk) -- an earlier execution's record
        redis.call('DEL', K.flow .. key) -- and what it did as a workflow
        redis.call('ZREM', K.failed, key) -- and its place in the failed list
      end
      -- A new record leaves out attempt (1) and deliveries (0), gen and due
      -- while they are the instant it is created, wf with gen, and its state
      -- (scheduled): the readers take their absence as those values (see
      -- ATTEMPT_1 and open_flow), and Redis keeps about 100 bytes less per
      -- queued task.
      if trace ~= '' then
        redis.call('HSET', tk, 'name', name, 'input', input, 'created', now_s, 'trace', trace)
      else
        redis.call('HSET', tk, 'name', name, 'input', input, 'created', now_s)
      end
      if gen_s ~= now_s then -- after an earlier execution's; with a gen, wf is written (see open_flow)
        redis.call('HSET', tk, 'gen', gen_s, 'wf', '0')
      end
      if seed then
        redis.call('HSET', tk, 'auto', '1')
      end
      if when ~= '+0' then -- added for later: when it was asked to be due, which hand-backs do not move (see debounce)
        if due_s ~= now_s then
          redis.call('HSET', tk, 'asked', due_s, 'due', due_s)
        else
          redis.call('HSET', tk, 'asked', due_s)
        end
      end
      if live and f[4] then -- a replaced child stays its workflow's
        redis.call('HSET', tk, 'parent', f[4], 'child', f[5] or '')
      end
      -- A run of an earlier execution of the key still ending comes first.
      if any_drains and deferred(key, due_s) then
        -- in line behind the run of its key's earlier execution
      elseif due == now then
        -- Due at once (an instant past means now), at its created instant:
        -- in line in the order added.
        ready[#ready + 1] = key
        soonest = now
      else
        schedule[#schedule + 1] = due_s
        schedule[#schedule + 1] = key
        if soonest == nil or due < soonest then
          soonest = due
        end
      end
      announce(key, STATE.scheduled, 1)
      report(n, live and '2' or '1', due_s)
    end
  end
  i = i + 2 * count
end

enter_schedule()
wake_if_earlier(before, soonest)
result[1] = table.concat(codes)
return result
