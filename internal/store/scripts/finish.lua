-- finish: record the outcome of attempts, each only if its generation still
-- matches (a stale copy changes nothing). Every applied outcome frees the
-- task's concurrency slots.
-- KEYS[1] running zset
-- ARGV[1] docket key prefix, ARGV[2] retention (ms)
-- then per attempt, 6 values: key, gen, outcome, when, error, next input
-- outcome: completed | failed      -> the execution ends and is kept for retention
--          retry                   -> attempt+1, due at "when" (relative to now)
--          perpetual               -> the next run: attempt 1, due at "when" (relative
--                                     to this attempt's start), never in the past;
--                                     the next input replaces the input unless empty
--          release                 -> back to the queue, due now, this delivery not counted
-- Returns per attempt: 1 applied, 0 stale.
local now = clock_us()
local now_s, retention = int(now), ARGV[2]
local before = earliest(K.scheduled)
local soonest = nil
local result = {}
-- Leases end in one call, at the end.
local ended = {}

for i = 3, #ARGV, 6 do
  local key, gen, outcome, when, err, input = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local tk = K.task .. key
  local f = redis.call('HMGET', tk, 'gen', 'state', 'attempt', 'slots', 'progress')
  if f[1] ~= gen or f[2] ~= 'running' then
    result[#result + 1] = 0
  else
    ended[#ended + 1] = key
    if f[4] and f[4] ~= '' then
      release_slots(key, now)
    end
    local function done_with_progress()
      if f[5] then
        end_progress(key)
      end
    end
    if outcome == 'completed' or outcome == 'failed' then
      redis.call('HSET', tk, 'state', outcome, 'finished', now_s, 'error', err)
      redis.call('PEXPIRE', tk, retention)
      done_with_progress()
      announce(key, outcome, f[3], err)
    else
      local due
      if outcome == 'retry' then
        due = due_at(when, now)
        redis.call('HSET', tk, 'attempt', int(tonumber(f[3]) + 1), 'deliveries', '0', 'error', err)
        announce(key, 'scheduled', tonumber(f[3]) + 1, err)
      elseif outcome == 'perpetual' then
        due = math.max(due_at(when, tonumber(redis.call('HGET', tk, 'started'))), now)
        redis.call('HSET', tk, 'attempt', '1', 'deliveries', '0', 'error', err)
        if input ~= '' then
          redis.call('HSET', tk, 'input', input)
        end
        done_with_progress()
        announce(key, 'scheduled', 1, err)
      else -- release
        due = now
        redis.call('HINCRBY', tk, 'deliveries', -1)
        announce(key, 'queued', f[3])
      end
      redis.call('HSET', tk, 'state', 'scheduled', 'gen', int(tonumber(gen) + 1), 'due', int(due))
      redis.call('ZADD', K.scheduled, due, key)
      if soonest == nil or due < soonest then
        soonest = due
      end
    end
    result[#result + 1] = 1
  end
end

if #ended > 0 then
  redis.call('ZREM', K.running, unpack(ended))
end
wake_if_earlier(before, soonest)
return result
