package store

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This is the one place that spells the docket's Redis keys. Every key
// shares the hash tag {name}, so a whole docket lives in one Redis Cluster
// slot and every script touches keys of one slot only. The scripts see the
// same names as the table K, generated from the lists below (see luaKeys).
//
//	docket:{name}:ready            LIST   task keys of queued tasks added to run at once, oldest first (their
//	                                      due time is their record's created); claimed with the schedule's, in due order
//	docket:{name}:scheduled        ZSET   task key -> due time (unix µs); every other scheduled or queued task
//	docket:{name}:running          ZSET   task key -> lease expiry (unix µs); claimed tasks
//	docket:{name}:draining         ZSET   task key -> the lease expiry of a cancelled or replaced run whose
//	                                      function may still be running: its slots and its key's next run wait
//	docket:{name}:drains           HASH   task key -> the draining run's generation and slots: "<gen>\n<id>\n<id>..."
//	docket:{name}:deferred         ZSET   task key -> due time (unix µs): next runs waiting for their key's drain
//	docket:{name}:task:<key>       HASH   one execution: name, input, gen, attempt, state, times, error, slots, call
//	                                      (attempt and deliveries left out while they hold 1 and 0, gen
//	                                      and due while they hold the instant of created, wf until the
//	                                      first claim, state while it is scheduled and was never claimed)
//	docket:{name}:limits           SET    ids of the concurrency limits in use
//	docket:{name}:limit:<id>       SET    task keys holding a slot of limit <id>
//	docket:{name}:waiting:<id>     ZSET   task key -> place in line, waiting for a slot of limit <id>, first come first served
//	docket:{name}:cooldown:<id>    STRING when the cooldown window <id> closes (unix µs); has a TTL
//	docket:{name}:debounce:<id>    HASH   the burst <id>: its first submission and last submission time; has a TTL
//	docket:{name}:rate:<id>        ZSET   the starts within the window of rate limit <id> (unix µs); has a TTL
//	docket:{name}:rates            ZSET   rate limit id -> when its window holds no start (unix µs): the rate
//	                                      limits that counted a start lately; has a TTL
//	docket:{name}:raterule:<id>    STRING the rule of rate limit <id> that counted its latest start, "<limit> <window µs>";
//	                                      has a TTL
//	docket:{name}:progress:<key>   HASH   a running task's progress: current, total, message, updated, call
//	docket:{name}:deadletters      ZSET   task key -> when it was dead-lettered; has a TTL (the retention)
//	docket:{name}:failed           ZSET   task key -> when its execution failed (dead letters too); has a TTL (the retention)
//	docket:{name}:unknown:<task>   ZSET   keys of tasks called <task> that a worker without that task handed back; has a TTL
//	docket:{name}:flow:<key>       HASH   a workflow's state: steps done, children started and ended, timers,
//	                                      signals (and the ids of the latest); no TTL while the task is live,
//	                                      the record's when it ends
//	docket:{name}:parked           ZSET   task key -> since when: workflows parked until a child or a signal wakes them
//	docket:{name}:reaping          HASH   ended workflow key -> cursor: workflows whose live children are being cancelled; has a TTL
//	docket:{name}:strikes          HASH   strike id -> the strike (JSON): tasks it matches do not start; no TTL (an operator's decision)
//	docket:{name}:struck           ZSET   task key -> when it was held: due tasks a strike holds until it is restored
//	docket:{name}:restored         STRING the id of the last Restore call that removed a strike (see restore.lua); has a TTL
//	docket:{name}:watchers         ZSET   task key -> until when someone watches it (unix µs); has a TTL
//	docket:{name}:workers          ZSET   worker id -> live until (unix µs); has a TTL
//	docket:{name}:worker:<id>      STRING worker description (JSON); has a TTL
//	docket:{name}:claim:<id>       STRING what the worker's exchange <id> did: its instant, its tasks' lease
//	                                      expiry, the outcomes it applied, to answer it sent again; has a TTL (a third
//	                                      of the lease)
//	docket:{name}:stats:<minute>   HASH   counters of the attempts that ended in one minute (unix minutes):
//	                                      field <outcome> and <outcome>:<task>; has a TTL (StatsTTL)
//	docket:{name}:events           pub/sub channel: "w" wakes workers, "c:<gen>:<key>" cancels a run,
//	                                      "a:<key>" says the chain of the automatic task <key> ended,
//	                                      "r" that ended workflows have children to cancel (reaping)
//	docket:{name}:watch:<key>      pub/sub channel: state and progress events of one task (JSON)
//
// A task hash has no TTL while its task is scheduled, queued, waiting or
// running; when the task ends it gets the retention TTL (a completed one
// whose docket keeps none is deleted, or, if watched, replaced by a
// tombstone of 2×WatchFor, or until its watch registration ends and
// WatchFor more: state, name, gen, attempt, finished). A progress
// hash lives while its task does; when the task ends, its fields are copied
// into the task hash and it is deleted. The sets and sorted sets hold live
// tasks only, and vanish when empty.
//
// Limit ids: "t:<task>:<field>:<value>" for a task's own limit (field and
// value empty for TaskConcurrency), "s:<scope>:<value>" for a scoped one.
// Cooldown and debounce ids: "<task>:<field>:<value>". Rate limit ids are
// built as concurrency limit ids are. In task, field and scope names '%'
// is written "%25" and ':' "%3A" (claim.lua's id_part), so that no two
// rules share an id; the value, last, is the field's as Go reads it (see
// claim.lua's field: an object or an array in one spelling), its newlines
// and backslashes escaped.

// keyNames are the docket's single keys; keyPrefixes start families of keys.
var (
	keyNames    = []string{"ready", "scheduled", "running", "draining", "drains", "deferred", "limits", "rates", "deadletters", "failed", "watchers", "workers", "events", "parked", "reaping", "strikes", "struck", "restored"}
	keyPrefixes = []string{"task", "progress", "limit", "waiting", "cooldown", "debounce", "rate", "worker", "watch", "unknown", "flow", "stats", "claim", "raterule"}
)

// keys holds the key names of one docket.
type keys struct {
	prefix      string // docket:{name}:
	ready       string
	scheduled   string
	running     string
	draining    string
	drains      string
	deferred    string
	limits      string
	deadletters string
	failed      string
	parked      string
	reaping     string
	strikes     string
	struck      string
	restored    string
	watchers    string
	workers     string
	events      string
}

// MaxNameLength is the longest docket name, in bytes.
const MaxNameLength = 200

// ErrBadName reports a docket name that cannot be used in a Redis key.
var ErrBadName = errors.New("docket: invalid docket name")

func newKeys(name string) (keys, error) {
	if name == "" || !utf8.ValidString(name) || strings.ContainsAny(name, "{}") || strings.ContainsFunc(name, isSpaceOrControl) {
		return keys{}, fmt.Errorf("%w %q: it must be non-empty UTF-8 and contain no braces, spaces, control or format characters", ErrBadName, name)
	}
	if len(name) > MaxNameLength { // it is in every key of the docket
		return keys{}, fmt.Errorf("%w: %d bytes; the limit is %d", ErrBadName, len(name), MaxNameLength)
	}
	p := "docket:{" + name + "}:"
	return keys{
		prefix:      p,
		ready:       p + "ready",
		scheduled:   p + "scheduled",
		running:     p + "running",
		draining:    p + "draining",
		drains:      p + "drains",
		deferred:    p + "deferred",
		limits:      p + "limits",
		deadletters: p + "deadletters",
		failed:      p + "failed",
		parked:      p + "parked",
		reaping:     p + "reaping",
		strikes:     p + "strikes",
		struck:      p + "struck",
		restored:    p + "restored",
		watchers:    p + "watchers",
		workers:     p + "workers",
		events:      p + "events",
	}, nil
}

// isSpaceOrControl tells the characters a name may not hold: a name is in
// every key and log line of its docket, where a space splits it and a
// control character (C0 or C1) or a format character (U+202E, which
// reorders what follows) garbles it.
func isSpaceOrControl(r rune) bool {
	return r <= ' ' || unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}

func (k keys) task(key string) string { return k.prefix + "task:" + key }

func (k keys) progress(key string) string { return k.prefix + "progress:" + key }

func (k keys) watch(key string) string { return k.prefix + "watch:" + key }

func (k keys) flow(key string) string { return k.prefix + "flow:" + key }

func (k keys) worker(id string) string { return k.prefix + "worker:" + id }

// stats is the key of the counters of one minute (unix minutes).
func (k keys) stats(minute int64) string { return k.prefix + "stats:" + strconv.FormatInt(minute, 10) }

// is reports whether a key of the docket belongs to the family prefix, and
// the rest of it.
func (k keys) is(key, family string) (string, bool) {
	return strings.CutPrefix(key, k.prefix+family+":")
}

// pattern matches every key of the docket, for SCAN.
func (k keys) pattern() string { return escapeGlob(k.prefix) + "*" }

// luaKeys is the Lua prelude that gives every script the table K of the
// docket's keys, built from its prefix, which every script takes as ARGV[1].
// A key is made the first time a script reads it, then kept in K: a script
// reads a few of them, and making all forty at each call cost Redis about
// 40,000 instructions, a fifth of an Info. A name not in the lists is an
// error, as a misspelt word is (see strict).
func luaKeys() string {
	var b strings.Builder
	b.WriteString("local K = setmetatable({}, {__index = function(t, n)\n  local v\n  ")
	for _, n := range keyNames {
		fmt.Fprintf(&b, "if n == '%s' then v = ARGV[1] .. '%s'\n  else", n, n)
	}
	for _, p := range keyPrefixes {
		fmt.Fprintf(&b, "if n == '%s' then v = ARGV[1] .. '%s:'\n  else", p, p)
	}
	b.WriteString(" error('K has no ' .. tostring(n), 2) end\n  rawset(t, n, v)\n  return v\nend})\n")
	return b.String()
}

// escapeGlob escapes the characters SCAN MATCH treats specially.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
