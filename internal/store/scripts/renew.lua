-- renew: extend the leases a worker still holds and record its heartbeat.
-- KEYS[1] running zset, KEYS[2] workers zset
-- ARGV[1] task hash prefix, ARGV[2] worker key prefix, ARGV[3] worker id,
-- ARGV[4] worker description, ARGV[5] lease, ARGV[6] worker TTL (ms),
-- then per held task: key, gen
-- Returns the positions (0-based) of the held tasks whose lease this worker
-- no longer holds.
local now = clock_us()
local prefix, wprefix, id, info = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local lease, ttl = tonumber(ARGV[5]), tonumber(ARGV[6])
local lost = {}

for i = 7, #ARGV, 2 do
  local key, gen = ARGV[i], ARGV[i + 1]
  local position = (i - 7) / 2
  local f = redis.call('HMGET', prefix .. key, 'gen', 'state')
  if f[1] == gen and f[2] == 'running' and redis.call('ZSCORE', KEYS[1], key) then
    redis.call('ZADD', KEYS[1], 'XX', now + lease, key)
  else
    lost[#lost + 1] = position
  end
end

-- A worker's score is when it stops counting as live without another beat.
redis.call('ZADD', KEYS[2], now + ttl * 1000, id)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local longest = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[2], math.ceil((tonumber(longest[2]) - now) / 1000) + 1000)
redis.call('SET', wprefix .. id, info, 'PX', ttl)
return lost
