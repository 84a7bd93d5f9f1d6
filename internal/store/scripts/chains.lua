-- chains: the records of the tasks keyed by their own task's name, for the
-- names given: the chains of automatic perpetual and cron tasks (see
-- ModeSeed), and any task added under its task's name.
-- KEYS[1] scheduled zset
-- ARGV[1] docket key prefix, then task names
-- Returns: now, then per name whose key holds a record of that task: name,
-- state, due, started, finished, attempt, auto ('1' for an automatic
-- chain), error (its first 300 bytes).
local result = {int(clock_us())}
for i = 2, #ARGV do
  local name = ARGV[i]
  local f = read(name, 'name', 'state', 'due', 'started', 'finished', 'attempt', 'auto', 'error')
  if f[1] == name then
    result[#result + 1] = name
    for j = 2, 7 do
      result[#result + 1] = f[j] or ''
    end
    result[#result + 1] = string.sub(f[8] or '', 1, 300)
  end
end
return result
