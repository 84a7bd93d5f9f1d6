-- counts: how many tasks are queued (due), scheduled (not yet due), running
-- waiting for a concurrency slot, and workflows parked until a child or a
-- signal wakes them (those parked until an instant count as scheduled).
-- Queued and scheduled include the tasks in line behind their key's drain
-- (see in_line).
-- KEYS[1] scheduled zset; ARGV[1] docket key prefix
-- Returns: COUNTS (held by a strike is struck).
local now = clock_us()
local queued, all = in_line(now)
local waiting = 0
for _, id in ipairs(redis.call('SMEMBERS', K.limits)) do
  waiting = waiting + redis.call('ZCARD', K.waiting .. id)
end
local result = {}
put(result, COUNTS, {queued = queued, scheduled = all - queued,
  running = redis.call('ZCARD', K.running), waiting = waiting, parked = redis.call('ZCARD', K.parked),
  struck = redis.call('ZCARD', K.struck)})
return result
