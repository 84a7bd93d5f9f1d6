-- chains: the records of the tasks keyed by their own task's name, for the
-- names given: the chains of automatic perpetual and cron tasks (see
-- ModeSeed), and any task added under its task's name.
-- KEYS[1] scheduled zset
-- ARGV[1] docket key prefix, then task names
-- Returns: now, then a CHAIN per name whose key holds a record of that
-- task ("auto" is '1' for an automatic chain; its error cut at 300 bytes).
-- (state first, so that read reads a record that leaves it out)
local FIELDS = {'state', 'name', 'due', 'started', 'finished', 'attempt', 'auto', 'error', 'created'}
local result = {int(clock_us())}
for i = 2, #ARGV do
  local name = ARGV[i]
  local f = record(name, FIELDS)
  if f.name == name then
    f.attempt = f.attempt or ATTEMPT_1
    f.due = f.due or f.created
    f.error = string.sub(f.error or '', 1, 300)
    put(result, CHAIN, f)
  end
end
return result
