-- strike: record a strike (see struck in lib.lua); tasks it matches do not
-- start while it holds.
-- KEYS[1] strikes hash
-- ARGV[1] docket key prefix, ARGV[2] its id, ARGV[3] the strike (a JSON
-- object, a StrikeSpec without STRIKE.at), stored as written, with STRIKE.at, the Redis
-- clock's reading, added as an integer. (Decoded and encoded again by
-- cjson, its numbers would lose digits — 1.50 became 1.5, a large integer
-- or the instant itself kept 14 significant digits, 1.7960333722501e+15 —
-- and the strike would read back as another than the one struck.)
-- Returns 1 when it is new, 0 when it held already. A new one tells the
-- workers (event "s"): the tasks waiting in their lines, claimed before it,
-- go back for the claim to judge.
local s = ARGV[3]
if string.sub(s, 1, 1) ~= '{' or string.sub(s, -1) ~= '}' then
  return redis.error_reply('ERR strike: want a JSON object')
end
local new = redis.call('HSETNX', K.strikes, ARGV[2], string.sub(s, 1, -2) .. ',"' .. STRIKE.at .. '":' .. int(clock_us()) .. '}')
if new == 1 then
  publish(K.events, 's')
end
return new
