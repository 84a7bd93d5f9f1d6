-- states: the state of each of a few tasks (a workflow's children, for the
-- dashboard), with the Redis clock to tell queued from scheduled.
-- KEYS[1] scheduled zset
-- ARGV[1] docket key prefix, then task keys
-- Returns: now, then a TASK_STATE per key (state '' when it has no
-- record; its error cut at 300 bytes).
local result = {int(clock_us())}
for i = 2, #ARGV do
  local f = record(ARGV[i], {'state', 'due', 'error', 'created'})
  put(result, TASK_STATE, {state = f.state or '', due = f.due or f.created or '', error = string.sub(f.error or '', 1, 300)})
end
return result
