-- pending: whether the docket holds unfinished work other than the future
-- runs of perpetual and cron chains (what RunUntilFinished waits for): a
-- task running (or the run of a cancelled or replaced one ending), waiting
-- for a concurrency slot, due, or scheduled later and not the run of a chain.
-- KEYS[1] scheduled zset
-- ARGV[1] docket key prefix, ARGV[2] where to start in the tasks scheduled
-- later (0, or where the previous call stopped), ARGV[3] N, the most of them
-- to look at, then the names of the chain tasks
-- Returns: 1 (pending), 0 (not), -1 (look again from ARGV[2] + N), or 2
-- (nothing pending but workflows parked until a signal, which only a
-- Signal can wake, or tasks a strike holds, which only a Restore
-- releases); and, when pending because of a task scheduled later, its due
-- instant (else 0).
local now = clock_us()
if redis.call('ZCARD', K.running) > 0 or redis.call('ZCARD', K.draining) > 0 then
  return {1, 0}
end
for _, id in ipairs(redis.call('SMEMBERS', K.limits)) do
  if redis.call('ZCARD', K.waiting .. id) > 0 then
    return {1, 0}
  end
end
if redis.call('LLEN', K.ready) > 0 or #redis.call('ZRANGEBYSCORE', K.scheduled, '-inf', now, 'LIMIT', 0, 1) > 0 then
  return {1, 0}
end
local chains = {}
for i = 4, #ARGV do
  chains[ARGV[i]] = true
end
local n = tonumber(ARGV[3])
local later = redis.call('ZRANGEBYSCORE', K.scheduled, '(' .. int(now), '+inf', 'WITHSCORES', 'LIMIT', tonumber(ARGV[2]), n)
for i = 1, #later, 2 do
  local name = read(later[i], 'name')[1] -- a key that is not a hash: pending, failed when due
  if not chains[name] then
    return {1, score(later[i + 1])}
  end
end
if #later == 2 * n then
  return {-1, 0}
end
if redis.call('ZCARD', K.parked) > 0 or redis.call('ZCARD', K.struck) > 0 then
  return {2, 0}
end
return {0, 0}
