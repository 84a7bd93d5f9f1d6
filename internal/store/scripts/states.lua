-- states: the state of each of a few tasks (a workflow's children, for the
-- dashboard), with the Redis clock to tell queued from scheduled.
-- KEYS[1] scheduled zset
-- ARGV[1] docket key prefix, then task keys
-- Returns: now, then per key: state ('' when it has no record), due, error
-- (its first 300 bytes).
local result = {int(clock_us())}
for i = 2, #ARGV do
  local f = read(ARGV[i], 'state', 'due', 'error')
  result[#result + 1] = f[1] or ''
  result[#result + 1] = f[2] or ''
  result[#result + 1] = string.sub(f[3] or '', 1, 300)
end
return result
