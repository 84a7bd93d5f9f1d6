-- receive: a workflow's run takes the next signal of a name it waits for,
-- or learns that the wait timed out; either is recorded (r:<wait>), so that
-- later runs of the execution see the same.
-- KEYS[1] the workflow's task hash
-- ARGV[1] docket key prefix, ARGV[2] the workflow's key, ARGV[3] the run's
-- gen, ARGV[4] the signal's name, ARGV[5] the wait's identity, ARGV[6] "1"
-- for a wait whose time has passed already (a negative timeout): it gets a
-- signal sent before now, or times out now
-- Returns: {"p", payload} received; {"t"} timed out; {"-"} nothing yet;
-- {"x"} the run no longer holds its task.
over_maxmemory() -- a worker's script: see lib.lua
local now = clock_us()
local key, gen, name, wait = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if not held(key, gen) then
  return {'x'}
end
local flow = open_flow(key)
local got = redis.call('HGET', flow, 'r:' .. wait)
if got then
  return {string.sub(got, 1, 1), string.sub(got, 2)}
end
local deadline = tonumber(redis.call('HGET', flow, 'd:' .. wait))
if not deadline and ARGV[6] == '1' then
  deadline = now
end
-- A signal sent once the deadline had passed is not this wait's (its run
-- was late: workers down or busy); it stays for a later wait.
local q, times = queued(flow, name) -- times has holes where a payload has none
if in_time(q, times, deadline) then
  local payload = q[1]
  local rest, rest_times = {}, {}
  for i = 2, #q do
    rest[i - 1], rest_times[i - 1] = q[i], times[i] or '0'
  end
  if #rest == 0 then
    redis.call('HDEL', flow, 'q:' .. name, 'qs:' .. name)
  else
    redis.call('HSET', flow, 'q:' .. name, cjson.encode(rest), 'qs:' .. name, cjson.encode(rest_times))
  end
  redis.call('HSET', flow, 'r:' .. wait, 'p' .. payload)
  return {'p', payload}
end
if deadline and deadline <= now then
  redis.call('HSET', flow, 'r:' .. wait, 't')
  return {'t', ''}
end
return {'-', ''}
