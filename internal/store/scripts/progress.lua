-- progress: report a running task's progress, and tell its watchers.
-- KEYS[1] the task's hash
-- ARGV[1] docket key prefix, ARGV[2] task key, ARGV[3] the run's gen,
-- ARGV[4] what: "total", "increment", "message" or "read", ARGV[5] the value,
-- ARGV[6] the call's id (see Store.Progress): an increment whose id is the
-- last one counted is that call sent again, and counts once
-- Only the run that holds the task may report: anything else (a cancelled,
-- replaced or redelivered run) changes nothing, so no progress outlives its
-- task. An increment that would take the work done past the largest int64
-- is not applied either (-1): Redis's HINCRBY would refuse it with an
-- error, the embedded Redis wrap it round. Returns: 1 if applied (0 if
-- not, -1 for an overflow), current, total, message, updated.
over_maxmemory() -- a worker's script: see lib.lua
local now = clock_us()
local key, gen, what, value, id = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local pk = K.progress .. key
local f = read(key, 'gen', 'state')
local applied = 0

-- overflows tells whether a + b passes the largest int64, for a and b
-- decimal strings of non-negative integers, exactly: Lua's numbers are
-- doubles, which cannot tell 2^63 - 1 from 2^63. Each is cut into the
-- digits above 10^9 and those below, whose sums doubles hold exactly.
local function overflows(a, b)
  local function halves(s)
    return tonumber(string.sub(s, 1, -10)) or 0, tonumber(string.sub(s, -9)) or 0
  end
  local ah, al = halves(a)
  local bh, bl = halves(b)
  local lo = al + bl
  local hi = ah + bh + math.floor(lo / 1e9)
  lo = lo % 1e9
  return hi > 9223372036 or hi == 9223372036 and lo > 854775807
end
if f[1] == gen and f[2] == STATE.running then
  applied = 1
  redis.call('HSET', K.task .. key, 'progress', '1') -- so that the end of the task looks for it
  if what == 'total' then
    redis.call('HSET', pk, 'total', value, 'updated', int(now))
  elseif what == 'increment' then
    local p = redis.call('HMGET', pk, 'current', 'call')
    if id and p[2] == id then
      -- go-redis sent the call again, its connection having failed before
      -- the reply came: the first send counted it.
    elseif overflows(p[1] or '0', value) then
      applied = -1
    else
      redis.call('HINCRBY', pk, 'current', value)
      redis.call('HSET', pk, 'updated', int(now), 'call', id or '')
    end
  elseif what == 'message' then
    redis.call('HSET', pk, 'message', value, 'updated', int(now))
  else
    applied = 0
  end
end
local p = redis.call('HMGET', pk, 'current', 'total', 'message', 'updated')
local current, total, message, updated = p[1] or '0', p[2] or '0', p[3] or '', p[4] or '0'
if applied == 1 then
  -- Written by hand: Redis's cjson writes numbers with 14 significant
  -- digits (1.2345678901234e+14), which Go cannot read as an int64.
  local function integer(s)
    return string.find(s, '^%-?%d+$') and s or '0'
  end
  publish(K.watch .. key, '{"type":"progress","current":' .. integer(current) .. ',"total":' ..
    integer(total) .. ',"message":' .. cjson.encode(message) .. ',"updated":' .. integer(updated) .. '}')
end
return {applied, current, total, message, updated}
