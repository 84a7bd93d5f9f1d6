-- info: one execution record, with the Redis clock to tell queued from scheduled.
-- KEYS[1] task hash; ARGV[1] docket key prefix
-- Returns: now (us), then the hash as field, value pairs (empty when absent).
-- A key that is not a hash reads as what a claim makes of it (see
-- fail_corrupt): a failed execution whose record is corrupt.
local now = int(clock_us())
local result = redis.pcall('HGETALL', KEYS[1])
if type(result) == 'table' and result.err then
  return {now, 'state', STATE.failed, 'reason', REASON.corrupt,
    'error', 'corrupt record: ' .. not_a_hash(result.err)}
end
table.insert(result, 1, now)
return result
