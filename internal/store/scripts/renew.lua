-- renew: extend the leases a worker still holds and record its heartbeat.
-- KEYS[1] running zset
-- ARGV[1] docket key prefix, ARGV[2] worker id, ARGV[3] worker description,
-- ARGV[4] lease, ARGV[5] worker TTL (ms), then per held task: key, gen
-- Returns, for each held task whose lease this worker no longer holds, its
-- position (0-based) and 1 if its execution was cancelled, 2 if it was
-- cancelled or replaced and its key drains the run (whose deadline moves on
-- as its lease would), else 0: the worker tells its task why it stops even
-- when the cancel event, sent over pub/sub, has not reached it yet.
over_maxmemory()
local now = clock_us()
local id, info = ARGV[2], ARGV[3]
local lease, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local lost = {}

for i = 6, #ARGV, 2 do
  local key, gen = ARGV[i], ARGV[i + 1]
  local position = (i - 6) / 2
  local f = read(key, 'gen', 'state')
  if f[1] == gen and f[2] == STATE.running and redis.call('ZSCORE', K.running, key) then
    redis.call('ZADD', K.running, 'XX', now + lease, key)
  else
    lost[#lost + 1] = position
    local code = f[2] == STATE.cancelled and 1 or 0
    if drain_of(key) == gen then
      -- Cancelled or replaced, its key drains this run (see start_drain),
      -- which its worker still has: the drain lasts as its lease would.
      redis.call('ZADD', K.draining, 'XX', now + math.max(lease, DRAIN_US), key)
      code = 2
    end
    lost[#lost + 1] = code
  end
end

-- A worker's score is when it stops counting as live without another beat.
redis.call('ZADD', K.workers, now + ttl * 1000, id)
redis.call('ZREMRANGEBYSCORE', K.workers, '-inf', now)
local longest = redis.call('ZRANGE', K.workers, -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', K.workers, math.ceil((score(longest[2]) - now) / 1000) + 1000)
redis.call('SET', K.worker .. id, info, 'PX', ttl)
return lost
