-- cancel: end a scheduled, queued or running task as cancelled.
-- KEYS[1] the task's hash
-- ARGV[1] docket key prefix, ARGV[2] task key, ARGV[3] retention (ms)
-- Returns 1 when a live task was cancelled, 0 when there was none.
local now = clock_us()
local key = ARGV[2]
local tk = K.task .. key
local f = read(key, 'state', 'gen', 'auto')
if not is_live(f[1]) then
  return 0
end
unlink(key, f[1], now)
redis.call('HSET', tk, 'state', 'cancelled', 'gen', next_gen(f[2], now),
  'finished', int(now), 'error', 'cancelled', 'reason', 'cancelled')
redis.call('PEXPIRE', tk, tonumber(ARGV[3]))
announce(key, 'cancelled', redis.call('HGET', tk, 'attempt'), 'cancelled')
chain_ended(key, f[3])
return 1
