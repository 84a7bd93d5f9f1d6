-- add: schedule tasks, or replace them.
-- KEYS[1] scheduled zset, KEYS[2] running zset
-- ARGV[1] task hash prefix, ARGV[2] events channel, ARGV[3] mode: "add" or "replace"
-- then per task, 5 values: key, task name, input JSON, when, trace context
-- Returns per task: a code (1 scheduled, 0 already scheduled, 2 replaced) and the due instant.
local now = clock_us()
local prefix, channel, mode = ARGV[1], ARGV[2], ARGV[3]
local before = earliest(KEYS[1])
local soonest = nil
local result = {}

for i = 4, #ARGV, 5 do
  local key, name, input, when, trace = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local tk = prefix .. key
  local fields = redis.call('HMGET', tk, 'state', 'gen', 'due')
  local state, gen = fields[1], tonumber(fields[2] or '0')
  local live = state == 'scheduled' or state == 'running'

  if live and mode == 'add' then
    result[#result + 1] = 0
    result[#result + 1] = fields[3]
  else
    if state == 'running' then
      -- The running attempt is superseded: its worker is told to stop, and
      -- the generation bump makes anything it reports later stale.
      redis.call('ZREM', KEYS[2], key)
      redis.call('PUBLISH', channel, 'c:' .. int(gen) .. ':' .. key)
    end
    local due = math.max(due_at(when, now), 0)
    -- Generations only grow, even across executions of the same key whose
    -- records expired in between: a copy from any earlier execution is stale.
    gen = math.max(gen + 1, now)
    redis.call('DEL', tk)
    redis.call('HSET', tk, 'name', name, 'input', input, 'trace', trace,
      'state', 'scheduled', 'gen', int(gen), 'attempt', 1, 'deliveries', 0,
      'due', int(due), 'created', int(now))
    redis.call('ZADD', KEYS[1], due, key)
    if soonest == nil or due < soonest then
      soonest = due
    end
    if live then result[#result + 1] = 2 else result[#result + 1] = 1 end
    result[#result + 1] = int(due)
  end
end

wake_if_earlier(channel, before, soonest)
return result
