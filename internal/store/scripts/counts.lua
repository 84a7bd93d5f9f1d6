-- counts: how many tasks are queued (due), scheduled (not yet due), running
-- waiting for a concurrency slot, and workflows parked until a child or a
-- signal wakes them (those parked until an instant count as scheduled).
-- KEYS[1] scheduled zset; ARGV[1] docket key prefix
-- Returns: COUNTS (held by a strike is struck).
local now = clock_us()
local queued = redis.call('ZCOUNT', K.scheduled, '-inf', now)
local waiting = 0
for _, id in ipairs(redis.call('SMEMBERS', K.limits)) do
  waiting = waiting + redis.call('ZCARD', K.waiting .. id)
end
local result = {}
put(result, COUNTS, {queued = queued, scheduled = redis.call('ZCARD', K.scheduled) - queued,
  running = redis.call('ZCARD', K.running), waiting = waiting, parked = redis.call('ZCARD', K.parked),
  struck = redis.call('ZCARD', K.struck)})
return result
