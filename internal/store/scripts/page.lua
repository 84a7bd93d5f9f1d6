-- page: one page of a list of tasks, for the dashboard. Entries are read by
-- rank (ZRANGE by index), so a page costs O(log N + what it reads) however
-- deep it is; filters look at no more than a budget of entries per call.
-- KEYS[1] the sorted set listed: the schedule (its due or not yet due part,
-- followed by the same part of the tasks in line behind their key's drain),
-- the running set, the parked set, the dead letters, a limit's line of
-- waiting tasks, or the tasks held by a strike
-- ARGV[1] docket key prefix, ARGV[2] which part of it (PART: see
-- schema.go), ARGV[3] offset: entries of that part skipped, ARGV[4] page
-- size: the most tasks returned, ARGV[5] budget: the most entries looked at
-- (at least the page size), ARGV[6] the task name a task must have ('' for
-- any), ARGV[7] the prefix its key must have ('' for any), ARGV[8] the
-- state its record must be in ('' for any: the failed list's entries whose
-- key was added again since are skipped)
-- Returns: a PAGE_HEAD (now, how many entries the part holds, the offset
-- past the last entry looked at, 1 when entries remain beyond it (else 0),
-- how many tasks follow), then a LISTED per task (see list_task; its error
-- cut at 300 bytes). An entry whose record is gone (expired, or not a
-- hash) is looked at and skipped.
local now = clock_us()
local part, offset, size, budget = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local want_name, want_prefix, want_state = ARGV[6], ARGV[7], ARGV[8]
budget = math.max(budget, size)

-- The part is one to three segments, each ranks [first, first + count) of
-- its set, read one after the other: the schedule's due (or not yet due)
-- tasks, then the due part's tasks added to run at once (K.ready, a list:
-- O(offset / its nodes' size) to reach a page of it), then those in line
-- behind their key's drain (K.deferred, see in_line) due (or not) alike.
local function segment(set)
  if set == K.ready then -- every one due, in the order added
    return {set = set, first = 0, count = redis.call('LLEN', set), list = true}
  end
  local first, count = 0, redis.call('ZCARD', set)
  if part == PART.due or part == PART.not_due then
    local due = redis.call('ZCOUNT', set, '-inf', now)
    if part == PART.due then
      count = due
    else
      first, count = due, count - due
    end
  end
  return {set = set, first = first, count = count}
end
local segments = {segment(KEYS[1])}
if part == PART.due then -- after the schedule's, those added to run at once
  segments[2] = segment(K.ready)
end
if part == PART.due or part == PART.not_due then -- the schedule's parts
  segments[#segments + 1] = segment(K.deferred)
end
local total = 0
for _, seg in ipairs(segments) do
  seg.start = total -- its first entry's place in the part
  total = total + seg.count
end

local out = {}
local found, looked = 0, 0
local CHUNK = 200
while found < size and looked < budget and offset + looked < total do
  local at = offset + looked
  local seg = segments[1]
  for _, s in ipairs(segments) do
    if at >= s.start and at < s.start + s.count then
      seg = s
    end
  end
  local n = math.min(CHUNK, budget - looked, seg.start + seg.count - at)
  local from = seg.first + at - seg.start
  local entries
  if seg.list then
    entries = {}
    for _, key in ipairs(redis.call('LRANGE', seg.set, from, from + n - 1)) do
      entries[#entries + 1] = key
      entries[#entries + 1] = false -- list_task lists it with its due time
    end
  elseif part == PART.latest then
    entries = redis.call('ZREVRANGE', seg.set, from, from + n - 1, 'WITHSCORES')
  else
    entries = redis.call('ZRANGE', seg.set, from, from + n - 1, 'WITHSCORES')
  end
  if #entries == 0 then
    break
  end
  for i = 1, #entries, 2 do
    local key = entries[i]
    looked = looked + 1
    if (want_prefix == '' or string.sub(key, 1, #want_prefix) == want_prefix)
        and list_task(out, key, entries[i + 1] or nil, want_name, 300, want_state) then
      found = found + 1
      if found == size then
        break
      end
    end
  end
end
local next_offset = offset + looked
local more = 0
if next_offset < total then
  more = 1
end
local result = {}
put(result, PAGE_HEAD, {now = int(now), total = total, next = next_offset, more = more, found = found})
for _, v in ipairs(out) do
  result[#result + 1] = v
end
return result
