-- signal: deliver a named signal to a workflow, whether it runs, is parked
-- (a run waiting for that signal is resumed at once) or has not reached
-- its wait yet (the signal waits for it). Each queued signal keeps when it
-- was sent (qs:<name>, see queued): a wait whose deadline came first
-- times out rather than receive it, however late its run looks.
-- KEYS[1] the workflow's task hash
-- ARGV[1] docket key prefix, ARGV[2] the workflow's key, ARGV[3] the
-- signal's name, ARGV[4] its payload (JSON), ARGV[5] the signal's id (see
-- Store.Signal)
-- Returns 1 delivered (now, or by an earlier call with the id), 0 no live
-- execution has the key, -1 MAX_SIGNALS of that name wait to be received
-- already.
local now = clock_us()
local key, name, payload, id = ARGV[2], ARGV[3], ARGV[4], ARGV[5] .. ' '
-- The same signal sent again (go-redis sends a command again when its
-- connection failed before the reply came: the first may have been
-- carried out) is known by its id, among the latest SIGNALS_REMEMBERED:
-- even if the workflow has received it and ended since.
local sent = redis.pcall('HGET', K.flow .. key, 'sent') -- pcall: see is_flow
if type(sent) ~= 'string' then
  sent = ''
end
if string.find(sent, id, 1, true) then
  return 1
end
local state = read(key, 'state')[1]
if not is_live(state) then
  return 0
end
local flow = open_flow(key)
local q, times = queued(flow, name)
if #q >= MAX_SIGNALS then
  return -1
end
q[#q + 1] = payload
times[#q] = int(now)
for i = 1, #q do -- a payload queued without a time counts as on time: sent at 0
  times[i] = times[i] or '0'
end
redis.call('HSET', flow, 'q:' .. name, cjson.encode(q), 'qs:' .. name, cjson.encode(times),
  'sent', string.sub(sent .. id, -SIGNALS_REMEMBERED * #id))
if state == STATE.parked and redis.call('HGET', flow, 'ws') == name then
  resume(key, now)
end
return 1
