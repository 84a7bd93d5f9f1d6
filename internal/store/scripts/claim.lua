-- claim: lease up to N tasks to a worker: first those whose lease lapsed
-- (their worker died), then those that are due.
-- KEYS[1] scheduled zset, KEYS[2] running zset
-- ARGV[1] task hash prefix, ARGV[2] worker id, ARGV[3] N, ARGV[4] lease
-- Returns: now, wait (until the next due task or lease expiry, -1 for none), then 8 values per claimed task: key, name, input, attempt,
-- deliveries, due, trace, gen.
local now = clock_us()
local prefix, worker = ARGV[1], ARGV[2]
local want, lease = tonumber(ARGV[3]), tonumber(ARGV[4])
local result = {'', ''}
local leases = {}

local function deliver(key)
  local tk = prefix .. key
  local f = redis.call('HMGET', tk, 'name', 'input', 'attempt', 'deliveries', 'due', 'trace', 'gen')
  if not f[1] then
    return false
  end
  local gen = tonumber(f[7]) + 1
  local deliveries = tonumber(f[4]) + 1
  redis.call('HSET', tk, 'state', 'running', 'gen', int(gen), 'deliveries', int(deliveries),
    'worker', worker, 'started', int(now))
  leases[#leases + 1] = now + lease
  leases[#leases + 1] = key
  local n = #result
  result[n + 1] = key
  result[n + 2] = f[1]
  result[n + 3] = f[2] or ''
  result[n + 4] = f[3]
  result[n + 5] = int(deliveries)
  result[n + 6] = f[5]
  result[n + 7] = f[6] or ''
  result[n + 8] = int(gen)
  return true
end

local claimed = 0
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, want)
for _, key in ipairs(lapsed) do
  if deliver(key) then
    claimed = claimed + 1
  else
    redis.call('ZREM', KEYS[2], key)
  end
end

if claimed < want then
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, want - claimed)
  if #due > 0 then
    redis.call('ZREM', KEYS[1], unpack(due))
    for _, key in ipairs(due) do
      deliver(key)
    end
  end
end

if #leases > 0 then
  redis.call('ZADD', KEYS[2], unpack(leases))
end

local nxt = earliest(KEYS[1])
local lapse = earliest(KEYS[2])
if lapse ~= nil and (nxt == nil or lapse < nxt) then
  nxt = lapse
end
result[1] = int(now)
if nxt == nil then
  result[2] = '-1'
else
  result[2] = int(math.max(0, nxt - now))
end
return result
