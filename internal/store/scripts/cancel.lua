-- cancel: end a scheduled, queued, parked or running task as cancelled (and
-- a workflow's live children with it; see task_ended).
-- KEYS[1] the task's hash
-- ARGV[1] docket key prefix, ARGV[2] task key, ARGV[3] retention (ms)
-- Returns 1 when a live task was cancelled, 0 when there was none.
if cancel_task(ARGV[2], clock_us(), tonumber(ARGV[3]), STATE.cancelled) then
  return 1
end
return 0
