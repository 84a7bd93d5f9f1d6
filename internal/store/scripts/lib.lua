-- Shared prelude, prepended to every script when it is loaded.
-- Time always comes from the Redis clock, so every worker of the fleet agrees
-- on it. Instants and durations are microseconds (unix time for instants):
-- exact in a Lua number up to the year 2255, and precise enough that a worker
-- wakes at the very instant a task is due. Only PEXPIRE takes milliseconds.

local function clock_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- int formats a number without an exponent (tostring(1.8e15) would not).
local function int(n)
  return string.format('%d', n)
end

-- due_at reads a "when" argument: "+N" is N microseconds after base_us, a
-- bare number an absolute instant.
local function due_at(when, base_us)
  if string.sub(when, 1, 1) == '+' then
    return base_us + tonumber(string.sub(when, 2))
  end
  return tonumber(when)
end

-- earliest returns the lowest score of a sorted set, or nil when it is empty.
local function earliest(zset)
  local first = redis.call('ZRANGE', zset, 0, 0, 'WITHSCORES')
  if first[2] then
    return tonumber(first[2])
  end
  return nil
end

-- wake tells idle workers that a task became due earlier than anything they
-- were waiting for.
local function wake_if_earlier(channel, before, new_due)
  if new_due ~= nil and (before == nil or new_due < before) then
    redis.call('PUBLISH', channel, 'w')
  end
end
