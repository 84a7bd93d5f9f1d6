-- finish: record the outcomes of attempts (see finish_attempts).
-- KEYS[1] running zset
-- ARGV[1] docket key prefix, ARGV[2] retention (ms)
-- then the outcomes, in groups (see finish_attempts)
-- Returns per attempt: 1 applied, 0 stale.
over_maxmemory()
return finish_attempts(3, #ARGV, ARGV[2], clock_us())
