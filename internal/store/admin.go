package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The scripts behind the dashboard and the administrative calls of sdk
// (RunNow, Retry): each reads only what one page shows.
var (
	runNowScript   = load("runnow.lua")
	retryScript    = load("retry.lua")
	pageScript     = load("page.lua")
	overviewScript = load("overview.lua")
	chainsScript   = load("chains.lua")
	statesScript   = load("states.lua")
)

// StatsTTL is how long the counters of one minute (keys.stats) live: the
// dashboard charts the last hour, and the margin keeps a minute whole while
// it is shown.
const StatsTTL = 2 * time.Hour

// ActionCode says what RunNow or Retry did.
type ActionCode int

// What RunNow and Retry did with a task.
const (
	// ActionDone: the task is due now (RunNow), or scheduled again, due
	// now (Retry).
	ActionDone ActionCode = 1
	// ActionAlready: RunNow found the task due already (queued); nothing
	// changed.
	ActionAlready ActionCode = 2
	// ActionNotFound: no live task (RunNow), no record at all (Retry).
	ActionNotFound ActionCode = 0
	// ActionWrongState: the task is not in a state the call applies to
	// (RunNow: not scheduled; Retry: not failed). The state says which.
	ActionWrongState ActionCode = -1
	// ActionUnusable: Retry found a failed record that cannot run (no task
	// name or input, or not a hash).
	ActionUnusable ActionCode = -2
	// ActionChildOfLive: Retry found a failed child of a live workflow,
	// which has been told how the child ended (and may have handled it):
	// the child must not end another way.
	ActionChildOfLive ActionCode = -3
)

// RunNow makes the scheduled task with key due now, without changing its
// execution (attempt, input, generation), and wakes idle workers. It
// returns what it did, and the task's stored state.
func (s *Store) RunNow(ctx context.Context, key string) (ActionCode, State, error) {
	reply, err := runNowScript.Run(ctx, s.rdb, []string{s.k.task(key)}, s.k.prefix, key).Slice()
	if err != nil {
		return 0, "", fmt.Errorf("docket: run now: %w", err)
	}
	if len(reply) != 3 {
		return 0, "", fmt.Errorf("%w: run now reply has %d elements", ErrMalformed, len(reply))
	}
	var d decoder
	code, state := ActionCode(d.int(reply[0])), State(d.str(reply[2]))
	return code, state, d.err
}

// Retry runs the failed execution with key again, due now, from attempt 1,
// with the same task name, input and trace context (see retry.lua for what
// a workflow keeps). It returns what it did, the stored state it found,
// and for ActionChildOfLive the workflow's key. The record keeps the
// call's id, as Cancel's: a call go-redis sends again after the network lost
// its reply reports what the first did.
func (s *Store) Retry(ctx context.Context, key string) (ActionCode, State, string, error) {
	reply, err := retryScript.Run(ctx, s.rdb, []string{s.k.task(key)}, s.k.prefix, key, callID()).Slice()
	if err != nil {
		return 0, "", "", fmt.Errorf("docket: retry: %w", err)
	}
	if len(reply) != 2 && len(reply) != 3 {
		return 0, "", "", fmt.Errorf("%w: retry reply has %d elements", ErrMalformed, len(reply))
	}
	var d decoder
	code, state := ActionCode(d.int(reply[0])), State(d.str(reply[1]))
	parent := ""
	if len(reply) == 3 {
		parent = d.str(reply[2])
	}
	return code, state, parent, d.err
}

// List names a list of tasks a Page reads.
type List string

// The lists of tasks.
const (
	ListQueued    List = "queued"    // due, waiting for a worker: the schedule's, earliest due first, then those added to run at once, first added first
	ListScheduled List = "scheduled" // not yet due; earliest due first
	ListRunning   List = "running"   // by lease expiry, earliest first
	ListParked    List = "parked"    // workflows parked until a child or a signal; longest parked first
	ListDead      List = "dead"      // dead-lettered within the retention; latest first
	ListFailed    List = "failed"    // failed within the retention (dead letters too); latest first
	ListWaiting   List = "waiting"   // the line of one concurrency limit (PageQuery.Limit); first in line first
	ListStruck    List = "struck"    // held by a strike until it is restored; longest held first
)

// PageQuery asks for one page of a list of tasks.
type PageQuery struct {
	List  List
	Limit string // ListWaiting: the id of the limit whose line to read
	// Offset is how many entries of the list to skip: 0, then a Page's
	// Next.
	Offset int
	// Size is the most tasks to return; Budget the most entries to look
	// at, filters or not (at least Size). Zero Size means 50; zero Budget,
	// Size.
	Size, Budget int
	// Name and Prefix, when not empty, keep the tasks of that task name
	// and those whose key starts with Prefix.
	Name, Prefix string
}

// Page is one page of a list of tasks.
type Page struct {
	Now   time.Time // the Redis clock
	Total int       // how many entries the list holds, filters aside
	// Next is the offset past the last entry looked at: the next page's
	// Offset. More says whether entries remain there.
	Next  int
	More  bool
	Tasks []PageTask
}

// PageTask is one task of a Page.
type PageTask struct {
	TaskEntry
	// Score is the task's score in its list: unix µs for the due time
	// (queued, scheduled), the lease's expiry (running), when it parked
	// (parked), was dead-lettered (dead) or held (struck); a place in line
	// (waiting).
	Score int64
}

// Page reads one page of a list of tasks: O(log N + Budget) in Redis,
// however long the list and however deep the page (but for the queued
// tasks added to run at once, in a Redis list: reaching a page of them
// walks its nodes, of some two hundred tasks each, up to the page).
func (s *Store) Page(ctx context.Context, q PageQuery) (Page, error) {
	if q.Size <= 0 {
		q.Size = 50
	}
	q.Size = min(q.Size, MaxBatch)
	q.Budget = min(max(q.Budget, q.Size), 100*MaxBatch)
	q.Offset = max(q.Offset, 0)
	var set, part, state string
	switch q.List {
	case ListQueued:
		set, part = s.k.scheduled, partDue
	case ListScheduled:
		set, part = s.k.scheduled, partNotDue
	case ListRunning:
		set, part = s.k.running, partAll
	case ListParked:
		set, part = s.k.parked, partAll
	case ListStruck:
		set, part = s.k.struck, partAll
	case ListDead:
		set, part = s.k.deadletters, partLatest
	case ListFailed:
		set, part, state = s.k.failed, partLatest, string(StateFailed)
	case ListWaiting:
		set, part = s.k.prefix+"waiting:"+q.Limit, partAll
	default:
		return Page{}, fmt.Errorf("docket: page: unknown list %q", q.List)
	}
	reply, err := pageScript.Run(ctx, s.rdb, []string{set}, s.k.prefix, part, q.Offset, q.Size, q.Budget, q.Name, q.Prefix, state).Slice()
	if err != nil {
		return Page{}, fmt.Errorf("docket: page of %s tasks: %w", q.List, err)
	}
	return decodePage(reply)
}

func decodePage(reply []any) (Page, error) {
	if len(reply) < pageHeader {
		return Page{}, fmt.Errorf("%w: page reply has %d elements", ErrMalformed, len(reply))
	}
	var d decoder
	p := Page{Now: time.UnixMicro(d.int(reply[pageNow])), Total: int(d.int(reply[pageTotal])),
		Next: int(d.int(reply[pageNext])), More: d.int(reply[pageMore]) == 1}
	n := int(d.int(reply[pageFound]))
	if d.err != nil || n < 0 || len(reply) != pageHeader+listedFields*n {
		return Page{}, fmt.Errorf("%w: page reply has %d elements", ErrMalformed, len(reply))
	}
	rest := reply[pageHeader:]
	for f := range entries(&rest, n, listedFields) {
		t, score := decodeListed(&d, f)
		p.Tasks = append(p.Tasks, PageTask{TaskEntry: t, Score: score})
	}
	return p, d.err
}

// Overview is what the dashboard's overview shows, read in one call whose
// work does not grow with the number of tasks.
type Overview struct {
	Now         time.Time
	Counts      Counts
	DeadLetters int       // dead-lettered within the retention
	Failed      int       // failed within the retention, dead letters included (see ListFailed)
	Earliest    time.Time // the earliest due time in the schedule; zero when it is empty
	Limits      int       // concurrency limits in use
	Workers     int       // live workers
	Strikes     int       // strikes in effect (Counts.Struck counts the tasks they hold)
	// Sampled is how many tasks of each list the names were read from:
	// running, queued, scheduled, parked (at most the sample asked for).
	Sampled [4]int
	// Names counts the tasks of the sample by task name, in the order
	// first seen.
	Names []NameCount
	// Minutes are the counters of the last minutes, oldest first; a minute
	// without any has an empty Counts.
	Minutes []MinuteStats
}

// NameCount is how many tasks of one task name a sample holds, by list.
type NameCount struct {
	Name                               string
	Running, Queued, Scheduled, Parked int
}

// MinuteStats are the counters of the attempts that ended in one minute
// (keys.stats): by outcome ("completed", "failed", "retry", …) and by
// outcome and task name ("completed:<task>").
type MinuteStats struct {
	Minute time.Time
	Counts map[string]int64
}

// Overview reads the counts by state, the earliest due time, the dead
// letters within retention, the task names of up to sample tasks of each
// live list, and the per-minute counters of the last minutes.
func (s *Store) Overview(ctx context.Context, sample, minutes int, retention time.Duration) (Overview, error) {
	reply, err := overviewScript.Run(ctx, s.rdb, []string{s.k.scheduled}, s.k.prefix, max(sample, 0), max(minutes, 0), retentionMS(retention)).Slice()
	if err != nil {
		return Overview{}, fmt.Errorf("docket: overview: %w", err)
	}
	return decodeOverview(reply)
}

func decodeOverview(reply []any) (Overview, error) {
	bad := func() (Overview, error) {
		return Overview{}, fmt.Errorf("%w: overview reply has %d elements", ErrMalformed, len(reply))
	}
	if len(reply) < overviewHeader+1 {
		return bad()
	}
	var d decoder
	o := Overview{
		Now: time.UnixMicro(d.int(reply[ovNow])),
		Counts: Counts{Queued: d.int(reply[ovQueued]), Scheduled: d.int(reply[ovScheduled]), Running: d.int(reply[ovRunning]),
			Waiting: d.int(reply[ovWaiting]), Parked: d.int(reply[ovParked]), Struck: d.int(reply[ovStruck])},
		DeadLetters: int(d.int(reply[ovDead])),
		Failed:      int(d.int(reply[ovFailed])),
		Limits:      int(d.int(reply[ovLimits])),
		Workers:     int(d.int(reply[ovWorkers])),
		Strikes:     int(d.int(reply[ovStrikes])),
	}
	if e := score(&d, reply[ovEarliest]); e != 0 {
		o.Earliest = time.UnixMicro(e)
	}
	for i, at := range []int{ovSampledRunning, ovSampledQueued, ovSampledScheduled, ovSampledParked} {
		o.Sampled[i] = int(d.int(reply[at]))
	}
	n := int(d.int(reply[ovNames]))
	rest := reply[overviewHeader:]
	if d.err != nil || n < 0 || len(rest) < nameCountFields*n+1 {
		return bad()
	}
	for f := range entries(&rest, n, nameCountFields) {
		o.Names = append(o.Names, NameCount{Name: d.str(f[ncName]), Running: int(d.int(f[ncRunning])),
			Queued: int(d.int(f[ncQueued])), Scheduled: int(d.int(f[ncScheduled])), Parked: int(d.int(f[ncParked]))})
	}
	m := int(d.int(rest[0]))
	rest = rest[1:]
	for range m {
		if len(rest) < 2 {
			return bad()
		}
		minute, k := d.int(rest[0]), int(d.int(rest[1]))
		if k < 0 || k%2 != 0 || len(rest) < 2+k {
			return bad()
		}
		ms := MinuteStats{Minute: time.Unix(minute*60, 0), Counts: map[string]int64{}}
		for j := 0; j < k; j += 2 {
			v, err := strconv.ParseInt(d.str(rest[2+j+1]), 10, 64)
			if err == nil { // a counter another program garbled is left out
				ms.Counts[d.str(rest[2+j])] = v
			}
		}
		o.Minutes = append(o.Minutes, ms)
		rest = rest[2+k:]
	}
	if len(rest) != 0 {
		return bad()
	}
	return o, d.err
}

// TaskState is where a task is, as States reads it.
type TaskState struct {
	Key   string
	State State     // empty when the key has no record
	Due   time.Time // scheduled tasks
	Error string    // its first 300 bytes
}

// States reads the state of each task of keys (at most MaxBatch), and the
// Redis clock: one call, a record read per key.
func (s *Store) States(ctx context.Context, keys []string) (time.Time, []TaskState, error) {
	keys = keys[:min(len(keys), MaxBatch)]
	args := make([]any, 0, 1+len(keys))
	args = append(args, s.k.prefix)
	for _, k := range keys {
		args = append(args, k)
	}
	reply, err := statesScript.Run(ctx, s.rdb, []string{s.k.scheduled}, args...).Slice()
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("docket: states: %w", err)
	}
	if len(reply) != 1+taskStateFields*len(keys) {
		return time.Time{}, nil, fmt.Errorf("%w: states reply has %d elements for %d keys", ErrMalformed, len(reply), len(keys))
	}
	var d decoder
	now := time.UnixMicro(d.int(reply[0]))
	out := make([]TaskState, len(keys))
	rest := reply[1:]
	i := 0
	for f := range entries(&rest, len(keys), taskStateFields) {
		out[i] = TaskState{Key: keys[i], State: State(d.str(f[tsState])), Due: d.lenientInstant(f[tsDue]),
			Error: strings.ToValidUTF8(d.str(f[tsError]), "…")}
		i++
	}
	return now, out, d.err
}

// Chain is the record of a task keyed by its own task's name: the chain of
// an automatic perpetual or cron task, or a task added under that key.
type Chain struct {
	Name     string
	State    State
	Due      time.Time // the next run's due time, while it is scheduled
	Started  time.Time // the last run's start
	Finished time.Time
	Attempt  int
	Auto     bool   // seeded by workers as an automatic task's chain
	Error    string // the last error (its first 300 bytes)
}

// Chains reads the records keyed by each of names whose task is that name
// (at most MaxBatch names), and the Redis clock.
func (s *Store) Chains(ctx context.Context, names []string) (time.Time, []Chain, error) {
	names = names[:min(len(names), MaxBatch)]
	args := make([]any, 0, 1+len(names))
	args = append(args, s.k.prefix)
	for _, n := range names {
		args = append(args, n)
	}
	reply, err := chainsScript.Run(ctx, s.rdb, []string{s.k.scheduled}, args...).Slice()
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("docket: chains: %w", err)
	}
	if len(reply) < 1 || (len(reply)-1)%chainFields != 0 {
		return time.Time{}, nil, fmt.Errorf("%w: chains reply has %d elements", ErrMalformed, len(reply))
	}
	var d decoder
	now := time.UnixMicro(d.int(reply[0]))
	var out []Chain
	rest := reply[1:]
	for f := range entries(&rest, len(rest)/chainFields, chainFields) {
		out = append(out, Chain{
			Name: d.str(f[chainName]), State: State(d.str(f[chainState])), Due: d.lenientInstant(f[chainDue]),
			Started: d.lenientInstant(f[chainStarted]), Finished: d.lenientInstant(f[chainFinished]),
			Attempt: int(d.lenient(f[chainAttempt])), Auto: d.str(f[chainAuto]) == "1",
			Error: strings.ToValidUTF8(d.str(f[chainError]), "…"),
		})
	}
	return now, out, d.err
}

// Memory is what INFO memory says of the server that holds the docket's
// keys (for a cluster, the master of the docket's slot).
type Memory struct {
	Used      int64  // used_memory, bytes
	UsedHuman string // used_memory_human
	Max       int64  // maxmemory; 0 for none
}

// ErrNoMemoryInfo reports a server that would not tell its memory (INFO
// refused, or silent about it, as the embedded memory:// backend is).
var ErrNoMemoryInfo = errors.New("docket: the server does not report its memory")

// Memory reads the used memory of the server that holds the docket's keys.
func (s *Store) Memory(ctx context.Context) (Memory, error) {
	if isMemory(s.rdb) {
		return Memory{}, ErrNoMemoryInfo
	}
	var node redis.Cmdable = s.rdb
	if c, ok := s.rdb.(*redis.ClusterClient); ok {
		master, err := c.MasterForKey(ctx, s.k.scheduled)
		if err != nil {
			return Memory{}, fmt.Errorf("docket: find the node of the docket's keys: %w", err)
		}
		node = master
	}
	info, err := node.Info(ctx, "memory").Result()
	if err != nil {
		return Memory{}, fmt.Errorf("%w: %w", ErrNoMemoryInfo, err)
	}
	var m Memory
	found := false
	for line := range strings.Lines(info) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch k {
		case "used_memory":
			m.Used, err = strconv.ParseInt(v, 10, 64)
			found = err == nil
		case "used_memory_human":
			m.UsedHuman = v
		case "maxmemory":
			m.Max, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if !found {
		return Memory{}, ErrNoMemoryInfo
	}
	return m, nil
}

// Stats adds counts to the counters of the minute at (keys.stats), with
// their TTL: what the workers' finish will do once it counts outcomes
// (see the README's Dashboard section), and what tests write.
func (s *Store) Stats(ctx context.Context, at time.Time, counts map[string]int64) error {
	key := s.k.stats(at.Unix() / 60)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for f, n := range counts {
			p.HIncrBy(ctx, key, f, n)
		}
		p.PExpire(ctx, key, StatsTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("docket: stats: %w", err)
	}
	return nil
}

// score reads a sorted set's score as a script passes it on: an integer, or
// a float as Redis writes one (recent versions write 1e+15).
func score(d *decoder, v any) int64 {
	s := d.str(v)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		d.fail("not a score: %q", s)
	}
	return int64(f)
}
