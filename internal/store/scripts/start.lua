-- start: a workflow's run starts children, or finds them started by an
-- earlier run of the same execution (a child is known by its name).
-- KEYS[1] scheduled zset
-- ARGV[1] docket key prefix, ARGV[2] the workflow's key, ARGV[3] the run's
-- gen, then per child 6 values: its name under the workflow, its key, task
-- name, input JSON, when, trace context
-- Returns -1 when the run no longer holds its task (nothing is started);
-- else per child: 1 started, 0 started before, and the child's key; or 2
-- and the name of the task that holds the key, live and not a child of
-- this workflow (the child is not started: see below).
over_maxmemory() -- a worker's script: see lib.lua
local now = clock_us()
local now_s = int(now)
local parent, gen = ARGV[2], ARGV[3]
if not held(parent, gen) then
  return {-1}
end
local flow = open_flow(parent)
local before = earliest(K.scheduled)
local soonest = nil
local result = {}
local schedule = {}
-- Whether any key drains (see start_drain): most calls need not ask per child.
local any_drains = redis.call('EXISTS', K.draining) == 1
for i = 4, #ARGV, 6 do
  local name, key, task, input, when, trace = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local started = redis.call('HGET', flow, 'c:' .. name)
  if started then
    result[#result + 1] = 0
    result[#result + 1] = started
  else
    local f = read(key, 'state', 'gen', 'name', 'parent', 'created')
    local live = is_live(f[1])
    if live and (f[3] ~= task or f[4] ~= parent) then
      -- Someone else's task holds the key: adopting it would give the
      -- workflow another task's result. It is left alone, and the run
      -- told (a retry may find the key free).
      result[#result + 1] = 2
      result[#result + 1] = f[3] or ''
    else
      if live then
        -- Started by an earlier execution of the workflow (it was
        -- replaced) and live still: this run adopts it.
        redis.call('HSET', K.task .. key, 'child', name)
      else
        local due = now
        if when ~= '+0' then
          due = math.max(due_at(when, now) or now, now) -- an instant past means now
        end
        local gen_s = now_s
        if f[2] or f[5] then -- an earlier child under the key
          gen_s = next_gen(f[2] or f[5], now)
          redis.call('ZREM', K.failed, key) -- its failure is not this child's
        end
        finish_reaping(key) -- an earlier child that was a workflow: its children still being cancelled
        redis.call('DEL', K.task .. key, K.flow .. key)
        -- gen and due are left out while they are the instant it is
        -- created, and wf with gen, as add.lua leaves them out (see
        -- ATTEMPT_1 and open_flow).
        redis.call('HSET', K.task .. key, 'name', task, 'input', input, 'state', STATE.scheduled,
          'created', now_s, 'parent', parent, 'child', name)
        if gen_s ~= now_s then -- with a gen, wf is written (see open_flow)
          redis.call('HSET', K.task .. key, 'gen', gen_s, 'wf', '0')
        end
        if trace ~= '' then
          redis.call('HSET', K.task .. key, 'trace', trace)
        end
        if when ~= '+0' then -- started for later: when it was asked to be due (see claim's debounce)
          redis.call('HSET', K.task .. key, 'asked', int(due))
          if int(due) ~= now_s then
            redis.call('HSET', K.task .. key, 'due', int(due))
          end
        end
        -- An earlier child under this key (of an earlier run or
        -- execution) still ending comes first.
        if not (any_drains and deferred(key, int(due))) then
          schedule[#schedule + 1] = int(due)
          schedule[#schedule + 1] = key
          if soonest == nil or due < soonest then
            soonest = due
          end
        end
      end
      redis.call('HSET', flow, 'c:' .. name, key)
      redis.call('HDEL', flow, 'o:' .. key) -- an outcome of an earlier child under that key
      result[#result + 1] = 1
      result[#result + 1] = key
    end
  end
end
if #schedule > 0 then
  redis.call('ZADD', K.scheduled, unpack(schedule))
end
wake_if_earlier(before, soonest)
return result
