-- runnow: make a scheduled task due now — a task added for later, a retry
-- waiting for its delay, the next run of a perpetual or cron chain. The
-- execution stays the same (its attempt, input and generation); only its
-- due time moves, to the Redis clock's now, and idle workers are woken.
-- KEYS[1] the task's hash
-- ARGV[1] docket key prefix, ARGV[2] task key
-- Returns: a code, the task's due instant after the call (unix µs; 0 when
-- it has none) and its stored state ('' when it has no record):
--    1  made due now
--    2  due already (queued): nothing changed
--    0  no live task has the key (none, or it finished)
--   -1  live, but not scheduled: running, waiting for a concurrency slot or
--       a parked workflow (one parked until an instant too: its run would
--       only park again); nothing changed
local now = clock_us()
local key = ARGV[2]
local f = read(key, 'state', 'attempt')
local state = f[1] or ''
if not is_live(state) then
  return {0, 0, state}
end
-- A task waiting for its key's cancelled or replaced run to end (see
-- start_drain) is in K.deferred rather than the schedule: due now once
-- that run has ended.
local set = K.scheduled
local due = score(redis.call('ZSCORE', set, key))
if not due and state == STATE.scheduled then
  set = K.deferred
  due = score(redis.call('ZSCORE', set, key))
end
if state == STATE.scheduled and not due then -- in K.ready, due since it was added
  return {2, int(tonumber(due_of(key)) or now), state}
end
if state ~= STATE.scheduled or not due then
  return {-1, 0, state}
end
if due <= now then
  return {2, int(due), state}
end
local before = earliest(K.scheduled)
redis.call('ZADD', set, now, key)
redis.call('HSET', K.task .. key, 'due', int(now))
if redis.call('HEXISTS', K.task .. key, 'asked') == 1 then
  redis.call('HSET', K.task .. key, 'asked', int(now)) -- asked to be due now: debounce judges it so
end
announce(key, STATE.queued, f[2])
if set == K.scheduled then
  wake_if_earlier(before, now)
end
return {1, int(now), state}
