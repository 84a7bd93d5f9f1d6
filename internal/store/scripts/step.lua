-- step: a workflow's run records what it did, if it still holds its task:
-- a step's output, or a signal it received.
-- KEYS[1] the workflow's task hash
-- ARGV[1] docket key prefix, ARGV[2] the workflow's key, ARGV[3] the run's
-- gen, then field, value pairs of its flow to set
-- Returns 1 recorded, 0 the run no longer holds its task (nothing changed).
over_maxmemory() -- a worker's script: see lib.lua
local key, gen = ARGV[2], ARGV[3]
if not held(key, gen) then
  return 0
end
local pairs_ = {}
for i = 4, #ARGV do
  pairs_[#pairs_ + 1] = ARGV[i]
end
redis.call('HSET', open_flow(key), unpack(pairs_))
return 1
