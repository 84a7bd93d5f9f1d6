-- retry: run a failed execution again, now: one whose retries ran out, one
-- that failed permanently or for bad input, one dead-lettered. It becomes a
-- live task again under the same key, with the same task name, input and
-- trace context, from attempt 1 (the retry policy's attempts start again),
-- due at once; its record loses its TTL, its finish, reason and result,
-- keeps its last error until the next attempt ends, and is stamped
-- 'retried' with the instant. It leaves the dead letters. A workflow keeps
-- what it did (its flow loses its TTL and leaves the reaper's list): steps
-- done stay done and children that completed stay completed, while children
-- that did not complete (failed, cancelled, or cancelled with it) are
-- forgotten, so that the run starts them again. Reading the flow is O(its
-- fields): a workflow of 10,000 children reads 20,000.
-- KEYS[1] the task's hash
-- ARGV[1] docket key prefix, ARGV[2] task key, ARGV[3] the call's id (see
-- Store.Retry)
-- Returns: a code and the stored state ('' when there is no record):
--    1  scheduled again, due now (or by an earlier call with the id: the
--       state is then the one that call found, failed)
--    0  no record has the key (never added, or expired after the retention)
--   -1  the execution did not fail (live, completed or cancelled): nothing changed
--   -2  failed, but its record cannot run (no task name or no input: a
--       record garbled by another program, or not a hash): nothing changed
--   -3  failed, but it is a child of a workflow that is live and started
--       it: the workflow has been told how it ended (and may have handled
--       it), so it must not end another way; nothing changed. A third
--       value is the workflow's key.
local now = clock_us()
local key, id = ARGV[2], ARGV[3]
local tk = K.task .. key
local f, err = read(key, 'state', 'gen', 'name', 'input', 'parent', 'child', 'call', 'created')
if err then
  return {-2, ''}
end
if id and f[7] == id then -- go-redis sent the call again: the first was carried out (see cancel.lua)
  return {1, STATE.failed}
end
local state = f[1] or ''
if state == '' and not f[3] then
  return {0, ''}
end
if state ~= STATE.failed then
  return {-1, state}
end
if not f[3] or f[3] == '' or not f[4] then
  return {-2, state}
end
local parent = f[5] or ''
if parent ~= '' and is_live(read(parent, 'state')[1]) and
    redis.pcall('HGET', K.flow .. parent, 'c:' .. (f[6] or '')) == key then -- pcall: see is_flow
  return {-3, state, parent}
end

local before = earliest(K.scheduled)
redis.call('PERSIST', tk)
redis.call('HDEL', tk, 'finished', 'reason', 'result', 'waiting', 'unknown_since', 'unknown_due', 'known_at',
  'progress_current', 'progress_total', 'progress_message', 'progress_updated')
redis.call('HSET', tk, 'state', STATE.scheduled, 'gen', next_gen(f[2] or f[8], now), 'attempt', '1',
  'deliveries', '0', 'due', int(now), 'retried', int(now), 'slots', '', 'call', id)
if not deferred(key, now) then -- a run of it still ending (see start_drain) comes first
  redis.call('ZADD', K.scheduled, now, key)
end
redis.call('ZREM', K.deadletters, key)
redis.call('ZREM', K.failed, key)

local flow = K.flow .. key
local has_flow = is_flow(key)
-- The mark that says whether it has a flow (see open_flow): an execution
-- that failed before its first claim has a gen and no mark yet, and its
-- claim, seeing the gen, would not write one.
redis.call('HSET', tk, 'wf', has_flow and '1' or '0')
if has_flow then -- not a key of another type, left to its TTL
  redis.call('PERSIST', flow)
  redis.call('HDEL', K.reaping, key)
  local fields = redis.call('HGETALL', flow)
  local completed = {}
  for i = 1, #fields, 2 do
    local child = string.match(fields[i], '^o:(.*)$')
    if child then
      local ok, o = pcall(cjson.decode, fields[i + 1])
      if ok and type(o) == 'table' and o.s == STATE.completed then
        completed[child] = true
      end
    end
  end
  local forget = {}
  for i = 1, #fields, 2 do
    local name = string.match(fields[i], '^c:(.*)$')
    if name and not completed[fields[i + 1]] then
      forget[#forget + 1] = fields[i]
      forget[#forget + 1] = 'o:' .. fields[i + 1]
      forget[#forget + 1] = 'w:' .. fields[i + 1]
    end
  end
  for i = 1, #forget, 300 do
    redis.call('HDEL', flow, unpack(forget, i, math.min(i + 299, #forget)))
  end
  redis.call('HDEL', flow, 'a', 'ws', 'why')
end

announce(key, STATE.queued, 1)
wake_if_earlier(before, now)
return {1, state}
