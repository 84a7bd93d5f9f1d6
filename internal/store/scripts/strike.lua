-- strike: record a strike (see struck in lib.lua); tasks it matches do not
-- start while it holds.
-- KEYS[1] strikes hash
-- ARGV[1] docket key prefix, ARGV[2] its id, ARGV[3] the strike (JSON: t, f,
-- o, v), to which it adds "at", the Redis clock's reading
-- Returns 1 when it is new, 0 when it held already.
local s = cjson.decode(ARGV[3])
s.at = clock_us()
return redis.call('HSETNX', K.strikes, ARGV[2], cjson.encode(s))
