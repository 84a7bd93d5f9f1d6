-- snapshot: what the docket holds right now.
-- KEYS[1] scheduled zset, KEYS[2] running zset, KEYS[3] workers zset
-- ARGV[1] task hash prefix, ARGV[2] worker key prefix, ARGV[3] limit per list
-- Returns: now, #scheduled, #running, #workers listed, #tasks listed, then
-- per worker: id, live-until, description; then per task: key, score, name,
-- attempt, deliveries, started, worker, created, state.
local now = clock_us()
local prefix, wprefix, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])

local result = {int(now), redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]), 0, 0}

local workers = redis.call('ZRANGEBYSCORE', KEYS[3], now, '+inf', 'WITHSCORES')
for i = 1, #workers, 2 do
  local info = redis.call('GET', wprefix .. workers[i])
  if info then
    result[#result + 1] = workers[i]
    result[#result + 1] = int(tonumber(workers[i + 1]))
    result[#result + 1] = info
    result[4] = result[4] + 1
  end
end

local function list(zset)
  local entries = redis.call('ZRANGE', zset, 0, limit - 1, 'WITHSCORES')
  for i = 1, #entries, 2 do
    local key = entries[i]
    local f = redis.call('HMGET', prefix .. key, 'name', 'attempt', 'deliveries', 'started', 'worker', 'created', 'state')
    result[#result + 1] = key
    result[#result + 1] = int(tonumber(entries[i + 1]))
    for j = 1, 7 do
      result[#result + 1] = f[j] or ''
    end
    result[5] = result[5] + 1
  end
end
list(KEYS[2])
list(KEYS[1])
return result
