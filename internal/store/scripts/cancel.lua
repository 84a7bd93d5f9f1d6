-- cancel: end a scheduled, queued, parked or running task as cancelled (and
-- a workflow's live children with it; see task_ended).
-- KEYS[1] the task's hash
-- ARGV[1] docket key prefix, ARGV[2] task key, ARGV[3] retention (ms),
-- ARGV[4] the call's id (see Store.Cancel)
-- Returns 1 when a live task was cancelled (now, or by an earlier call with
-- the id), 0 when there was none.
local key, id = ARGV[2], ARGV[4]
if cancel_task(key, clock_us(), tonumber(ARGV[3]), STATE.cancelled, true) then -- a page of its children at once
  -- The record keeps the call's id (field call) as long as it lasts: go-redis
  -- sends a call again when the connection failed before the reply came,
  -- though the first may have been carried out.
  redis.call('HSET', K.task .. key, 'call', id)
  return 1
end
if id and read(key, 'call')[1] == id then -- read: the key may hold another type
  return 1
end
return 0
