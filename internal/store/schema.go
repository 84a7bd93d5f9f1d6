package store

import (
	"fmt"
	"reflect"
	"strings"
)

// The wire schema: every layout, word and number the scripts share with Go
// is declared here, once, in Go, and handed to the scripts as Lua tables
// (luaSchema, prepended to each script like the table K of keys). Neither
// side spells a position or a state by hand:
//
//   - a layout lists, in order, the values of one entry of a script's reply
//     or arguments. Go indexes an entry with the constants declared beside
//     the layout; a script writes an entry with put(list, LAYOUT, {name =
//     value, ...}) and reads one with get(list, at, LAYOUT) (lib.lua), by
//     name, through accessors generated for the layout (writeAccessors).
//     Adding a field is one constant and one name here, and the value
//     where the script makes it.
//   - the words (states, outcome kinds, fates, the keys of the admission
//     rules' JSON) become strict Lua tables: STATE.running is "running",
//     and STATE.runing is an error, not nil. TestScriptsSpellNoWord fails
//     on a word written in a script as a literal.

// A layout names the values of one wire entry, in their order. Its Lua
// name is the table the scripts know it by.
type layout struct {
	lua    string
	fields []string
}

// The head of a claim's reply, before its entries.
const (
	headNow     = iota // the Redis clock (µs)
	headWait           // µs until the next due task or lease expiry; -1 none, 0 look again
	headClaimed        // how many claimed entries follow
	headTurned         // how many turned-away entries follow them
	claimHeader
)

// A claimed task in a claim's reply. Its head is its numbers and what it
// waited for in one string, "attempt deliveries due gen waited" (the last
// the limit it waited for, WaitedParked or nothing, up to the string's
// end): Redis writes each value of a reply, and go-redis reads each into
// two allocations, so one string costs both less than five.
const (
	claimedKey = iota
	claimedName
	claimedInput
	claimedTrace
	claimedHead
	claimFields
)

// A task a claim turned away (see Dropped), after the claimed ones.
const (
	turnedKey = iota
	turnedName
	turnedReason
	turnedTrace
	turnedFate // a fate: what became of it
	droppedField
)

// Outcomes, as the claim and finish scripts take them in ARGV: in groups
// of outcomes in a row that share their kind, when, error and reason, each
// group its head (OUTCOMES) then each outcome's own values (OUTCOME). See
// appendOutcomes.
const (
	groupCount = iota // how many OUTCOMEs follow
	groupKind
	groupWhen   // see Outcome.when
	groupError  // the attempts' error
	groupReason // why the failed executions failed
	groupArgs
)

// An outcome's own values, after its group's head.
const (
	outcomeKey = iota
	outcomeGen
	outcomePayload // a perpetual task's next input, a completed task's result
	outcomeArgs
)

// A task listed by a snapshot or a page (see list_task in lib.lua).
const (
	listedKey   = iota
	listedScore // its score in the set it is listed from, as Redis writes it (maybe 1e+15)
	listedName
	listedState
	listedAttempt
	listedDeliveries
	listedStarted
	listedWorker
	listedCreated
	listedDue
	listedError
	listedWaiting // the limit whose line it waits in
	listedFields
)

// The head of a snapshot's reply, then its entries: SNAP_WORKER,
// LISTED, SNAP_LIMIT, SNAP_MEMBER, SNAP_RATE, as many of each as the head
// says.
const (
	snapNow = iota
	snapScheduled
	snapRunning
	snapWaiting
	snapParked
	snapHeld // tasks held by a strike
	snapWorkers
	snapTasks
	snapLimits
	snapMembers
	snapRates      // rate limits listed
	snapRatesTotal // rate limits whose window holds a start
	snapshotHeader
)

// A rate limit whose window holds a start, in a snapshot.
const (
	rateID      = iota
	rateLimit   // the most starts its window holds
	ratePer     // its window (µs)
	rateStarted // the starts its window holds now
	rateNext    // when a full window lets the next start (unix µs); 0 while it has room
	rateFields
)

// A live worker in a snapshot.
const (
	workerID = iota
	workerLiveUntil
	workerDescription
	workerFields
)

// A concurrency limit in use, in a snapshot.
const (
	limitID      = iota
	limitHolders // how many hold a slot
	limitWaiters // how many wait in its line
	limitFields
)

// A holder or waiter of a limit, in a snapshot.
const (
	memberLimit = iota
	memberRole  // memberHolds or memberWaits
	memberKey
	memberFields
)

// A snapshot member's role.
const (
	memberHolds = "holds"
	memberWaits = "waits"
)

// The head of a page's reply, before its LISTED entries.
const (
	pageNow   = iota
	pageTotal // entries in the part listed
	pageNext  // the offset past the last entry looked at
	pageMore  // 1 when entries remain beyond it
	pageFound // how many entries follow
	pageHeader
)

// The head of the overview's reply, then a NAME_COUNT per name, then the
// minutes' counters (see overview.lua).
const (
	ovNow = iota
	ovQueued
	ovScheduled // not yet due
	ovRunning
	ovWaiting
	ovParked
	ovDead   // dead letters within the retention
	ovFailed // failed executions within the retention, dead letters included
	ovEarliest
	ovLimits
	ovWorkers
	ovStruck  // tasks held by a strike
	ovStrikes // strikes in effect
	ovSampledRunning
	ovSampledQueued
	ovSampledScheduled
	ovSampledParked
	ovNames // how many NAME_COUNT entries follow
	overviewHeader
)

// A task name's count among the tasks the overview sampled.
const (
	ncName = iota
	ncRunning
	ncQueued
	ncScheduled
	ncParked
	nameCountFields
)

// A chain's record (see Chains).
const (
	chainName = iota
	chainState
	chainDue
	chainStarted
	chainFinished
	chainAttempt
	chainAuto
	chainError
	chainFields
)

// A task's state (see States).
const (
	tsState = iota
	tsDue
	tsError
	taskStateFields
)

// The counts of a docket's tasks by list (see Count).
const (
	countQueued = iota
	countScheduled
	countRunning
	countWaiting
	countParked
	countStruck
	countFields
)

// The layouts, each named field by field so that a constant without a name
// (or a name without a constant) fails TestLayoutsAreWhole.
var layouts = []layout{
	{"CLAIM_HEAD", names(claimHeader, map[int]string{headNow: "now", headWait: "wait",
		headClaimed: "claimed", headTurned: "turned"})},
	{"CLAIMED", names(claimFields, map[int]string{claimedKey: "key", claimedName: "name",
		claimedInput: "input", claimedTrace: "trace", claimedHead: "head"})},
	{"TURNED", names(droppedField, map[int]string{turnedKey: "key", turnedName: "name",
		turnedReason: "reason", turnedTrace: "trace", turnedFate: "fate"})},
	{"LISTED", names(listedFields, map[int]string{listedKey: "key", listedScore: "score", listedName: "name",
		listedState: "state", listedAttempt: "attempt", listedDeliveries: "deliveries", listedStarted: "started",
		listedWorker: "worker", listedCreated: "created", listedDue: "due", listedError: "error", listedWaiting: "waiting"})},
	{"SNAP_HEAD", names(snapshotHeader, map[int]string{snapNow: "now", snapScheduled: "scheduled",
		snapRunning: "running", snapWaiting: "waiting", snapParked: "parked", snapHeld: "held", snapWorkers: "workers",
		snapTasks: "tasks", snapLimits: "limits", snapMembers: "members", snapRates: "rates",
		snapRatesTotal: "rates_total"})},
	{"SNAP_WORKER", names(workerFields, map[int]string{workerID: "id", workerLiveUntil: "live_until",
		workerDescription: "description"})},
	{"SNAP_LIMIT", names(limitFields, map[int]string{limitID: "id", limitHolders: "holders", limitWaiters: "waiters"})},
	{"SNAP_MEMBER", names(memberFields, map[int]string{memberLimit: "limit", memberRole: "role", memberKey: "key"})},
	{"SNAP_RATE", names(rateFields, map[int]string{rateID: "id", rateLimit: "limit", ratePer: "per",
		rateStarted: "started", rateNext: "next"})},
	{"PAGE_HEAD", names(pageHeader, map[int]string{pageNow: "now", pageTotal: "total", pageNext: "next",
		pageMore: "more", pageFound: "found"})},
	{"OVERVIEW_HEAD", names(overviewHeader, map[int]string{ovNow: "now", ovQueued: "queued", ovScheduled: "scheduled",
		ovRunning: "running", ovWaiting: "waiting", ovParked: "parked", ovDead: "dead", ovFailed: "failed", ovEarliest: "earliest",
		ovLimits: "limits", ovWorkers: "workers", ovStruck: "struck", ovStrikes: "strikes",
		ovSampledRunning: "sampled_running", ovSampledQueued: "sampled_queued",
		ovSampledScheduled: "sampled_scheduled", ovSampledParked: "sampled_parked", ovNames: "names"})},
	{"NAME_COUNT", names(nameCountFields, map[int]string{ncName: "name", ncRunning: "running", ncQueued: "queued",
		ncScheduled: "scheduled", ncParked: "parked"})},
	{"CHAIN", names(chainFields, map[int]string{chainName: "name", chainState: "state", chainDue: "due",
		chainStarted: "started", chainFinished: "finished", chainAttempt: "attempt", chainAuto: "auto", chainError: "error"})},
	{"TASK_STATE", names(taskStateFields, map[int]string{tsState: "state", tsDue: "due", tsError: "error"})},
	{"COUNTS", names(countFields, map[int]string{countQueued: "queued", countScheduled: "scheduled",
		countRunning: "running", countWaiting: "waiting", countParked: "parked", countStruck: "struck"})},
	{"OUTCOMES", names(groupArgs, map[int]string{groupCount: "count", groupKind: "kind", groupWhen: "when",
		groupError: "error", groupReason: "reason"})},
	{"OUTCOME", names(outcomeArgs, map[int]string{outcomeKey: "key", outcomeGen: "gen", outcomePayload: "payload"})},
}

// names lists n names by their constants; a constant left out is "".
func names(n int, byIndex map[int]string) []string {
	out := make([]string, n)
	for i, name := range byIndex {
		if i >= 0 && i < n {
			out[i] = name
		}
	}
	return out
}

// What became of a task a claim turned away: its fate in the reply.
const (
	fateDropped  = "dropped"   // admission control turned a submission away: cancelled
	fateDead     = "dead"      // dead-lettered: failed
	fateBadInput = "bad_input" // its admission rules cannot read its input: failed
	fateCorrupt  = "corrupt"   // its record cannot be used: failed
	fateHeld     = "held"      // a strike holds it: not ended
)

// failures maps the fates that end a task to Dropped.Failure values.
var failures = map[string]string{fateDropped: "", fateDead: FailureDeadLetter,
	fateBadInput: FailureBadInput, fateCorrupt: FailureCorrupt}

// The parts of a sorted set page.lua reads.
const (
	partDue    = "due"     // the schedule's due entries, earliest first
	partNotDue = "not_due" // the schedule's entries not yet due, earliest first
	partAll    = "all"     // lowest score first
	partLatest = "latest"  // highest score first
)

// Why an execution ended without completing, as the scripts record it in
// its reason field (the sdk's Reason… constants are these).
const (
	ReasonCancelled = "cancelled" // Cancel, Clear, Replace, or its workflow's end
	ReasonDropped   = "dropped"   // turned away by admission control
)

// words are the strict tables of words: each maps a Go name to the word.
var words = []struct {
	lua   string
	words []string
}{
	{"STATE", []string{string(StateQueued), string(StateScheduled), string(StateWaiting), string(StateRunning), string(StateParked),
		string(StateStruck), string(StateCompleted), string(StateFailed), string(StateCancelled)}},
	{"KIND", []string{string(Completed), string(Failed), string(Retried), string(Perpetual), string(Released),
		string(Unstarted), string(Snoozed), string(Unknown), string(Parked), string(Drained)}},
	{"FATE", []string{fateDropped, fateDead, fateBadInput, fateCorrupt, fateHeld}},
	{"REASON", []string{ReasonCancelled, ReasonDropped, FailureDeadLetter, FailureBadInput, FailureCorrupt}},
	{"PART", []string{partDue, partNotDue, partAll, partLatest}},
	{"ROLE", []string{memberHolds, memberWaits}},
}

// ruleTables are the JSON objects the scripts read — the admission rules'
// and a strike's — by the Go field's name: RULE.debounce is the key of
// Rule's debounce, STRIKE.field the key of StrikeSpec's Field.
var ruleTables = []struct {
	lua string
	of  any
}{
	{"RULE", wireRule{}}, {"WINDOW", wireWindow{}}, {"LIMIT", wireLimit{}}, {"RATE", wireRate{}},
	{"STRIKE", StrikeSpec{}},
}

// luaSchema is the Lua prelude of the schema: the layouts, the words, the
// rules' keys and the constants the scripts share with Go.
func luaSchema() string { return luaSchemaFor(func(string) bool { return true }) }

// luaNames is the set of names in Lua source src, as a reader would pick
// them out (a word in a comment counts), for luaSchemaFor.
func luaNames(src string) map[string]bool {
	names := map[string]bool{}
	word := func(c byte) bool {
		return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
	}
	for i := 0; i < len(src); {
		if !word(src[i]) {
			i++
			continue
		}
		j := i
		for j < len(src) && word(src[j]) {
			j++
		}
		if c := src[i]; c < '0' || c > '9' {
			names[src[i:j]] = true
		}
		i = j
	}
	return names
}

// luaSchemaFor writes the schema's prelude, with the tables named is true
// of: a script's prelude has only the layouts, words and rule tables it
// names (see load). Each table is built at every call of a script, and a
// layout brings two closures: leaving out those a script never names took
// about a sixth off an empty claim (535k to 452k Redis instructions under
// callgrind, with the shared metatable). The strict tables share one
// metatable (their names are looked up when a missing word is read),
// rather than one metatable and one closure each at every call.
func luaSchemaFor(named func(string) bool) string {
	var b strings.Builder
	b.WriteString(`local strict_names = {}
local strict_meta = {__index = function(t, k) error(strict_names[t] .. ' has no ' .. tostring(k), 2) end}
local function strict(name, t)
  strict_names[t] = name
  return setmetatable(t, strict_meta)
end
`)
	for _, l := range layouts {
		if !named(l.lua) {
			continue
		}
		fmt.Fprintf(&b, "local %s = {%s}\n", l.lua, luaList(l.fields))
		writeAccessors(&b, l)
	}
	for _, w := range words {
		if !named(w.lua) {
			continue
		}
		fmt.Fprintf(&b, "local %s = strict('%s', {", w.lua, w.lua)
		for i, word := range w.words {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s = %q", word, word)
		}
		b.WriteString("})\n")
	}
	for _, r := range ruleTables {
		if !named(r.lua) {
			continue
		}
		fmt.Fprintf(&b, "local %s = strict('%s', {", r.lua, r.lua)
		for i, f := range jsonKeys(r.of) {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s = %q", f[0], f[1])
		}
		b.WriteString("})\n")
	}
	fmt.Fprintf(&b, "local WATCH_FOR_MS = %d\nlocal MAX_SIGNALS = %d\nlocal WAITED_PARKED = %q\nlocal STATS_TTL_MS = %d\nlocal DRAIN_US = %d\nlocal SIGNALS_REMEMBERED = %d\nlocal RESTORED_MS = %d\n",
		WatchFor.Milliseconds(), MaxSignals, WaitedParked, StatsTTL.Milliseconds(), (CancelGrace + drainMargin).Microseconds(),
		signalsRemembered, restoredFor.Milliseconds())
	return b.String()
}

// writeAccessors gives a layout's Lua table the two functions put and get
// (lib.lua) call: at, which reads an entry into a table by name, in one
// constructor or into a table it was given (an earlier entry's: a loop
// over a batch reuses one table, rather than making one per task), and
// put, which appends an entry's values in order, an absent name an error
// (false, a field HMGET found missing, goes out as an empty string).
// Written out field by field rather than looped over: the scripts run them
// for every task of a batch, and a loop that fills a new table name by
// name costs Redis twice as much (each name is a new key, and the table
// grows).
func writeAccessors(b *strings.Builder, l layout) {
	fmt.Fprintf(b, "%s.at = function(l, a, t)\n  if not t then return {", l.lua)
	for i, f := range l.fields {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, "%s = l[a + %d]", f, i)
	}
	b.WriteString("} end\n")
	for i, f := range l.fields {
		fmt.Fprintf(b, "  t.%s = l[a + %d]\n", f, i)
	}
	b.WriteString("  return t\nend\n")
	fmt.Fprintf(b, "%s.put = function(l, e)\n  local n, v = #l\n", l.lua)
	for i, f := range l.fields {
		fmt.Fprintf(b, "  v = e.%s; if v == nil then error('entry without %s', 3) end; l[n + %d] = v or ''\n", f, f, i+1)
	}
	b.WriteString("end\n")
}

func luaList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(quoted, ", ")
}

// jsonKeys lists a struct's fields as {Go name in lower camel case, JSON
// key} pairs.
func jsonKeys(v any) [][2]string {
	t := reflect.TypeOf(v)
	out := make([][2]string, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out = append(out, [2]string{strings.ToLower(f.Name[:1]) + f.Name[1:], key})
	}
	return out
}
