package store

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// MaxBatch is the most tasks one script call carries. Larger batches are
// split; this keeps each call's Lua stack and blocking time bounded.
const MaxBatch = 1000

// Store is one docket's view of Redis: every read and state change of tasks
// goes through it, and each state change is one atomic script.
type Store struct {
	rdb redis.UniversalClient
	k   keys
}

// New returns the store of the docket called name on rdb.
func New(rdb redis.UniversalClient, name string) (*Store, error) {
	k, err := newKeys(name)
	if err != nil {
		return nil, err
	}
	return &Store{rdb: rdb, k: k}, nil
}

// Client is the Redis client the store uses.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Mode says what Add does with a key that is already scheduled or running.
type Mode string

const (
	// ModeAdd leaves a live task alone.
	ModeAdd Mode = "add"
	// ModeReplace overwrites a live task's input and schedule, and
	// supersedes its running attempt, if any.
	ModeReplace Mode = "replace"
	// ModeSeed adds as ModeAdd does, and marks the task as the chain of an
	// automatic task: when it ends otherwise than by its own decision, the
	// workers hear of it (Event.Chain) and start it again.
	ModeSeed Mode = "seed"
)

// When is when a task becomes due: at an absolute instant, or a delay after
// the Redis clock's now. The zero When is now.
type When struct {
	At    time.Time
	After time.Duration
}

// arg is w as the scripts take it: "+<µs>" for a delay, or an instant (unix
// µs). The store keeps whole microseconds: an instant between two is rounded
// up, so that a task is never due before the instant it was given; and
// past 2^53 µs (June 2255), where Redis's numbers (doubles) hold every 2nd
// to 32nd microsecond only, up to the next it holds (see Exact).
func (w When) arg() string {
	switch {
	case w.At.IsZero():
		d := max(w.After, 0)
		us := d.Microseconds()
		if d%time.Microsecond != 0 {
			us++
		}
		return "+" + strconv.FormatInt(us, 10)
	case w.At.Year() < 1: // past: now (and UnixMicro would overflow)
		return "+0"
	}
	return strconv.FormatInt(Exact(w.At).UnixMicro(), 10)
}

// Exact is the instant the store keeps for t, a due time: t in whole
// microseconds, rounded up, and past 2^53 µs after 1970 (2255-06-05
// 23:47:34.740992 UTC) rounded up to the next microsecond a double holds
// (every 2nd until 2^54, every 32nd by the year 9999), which Redis's
// sorted sets and scripts keep exactly: never before t, but in the last
// 32 µs of the year 9999, rounded down to stay in it. It is t's own
// location's.
func Exact(t time.Time) time.Time {
	floor := t.UnixMicro() // rounded down: nanoseconds are never negative
	us := floor
	if t.Nanosecond()%1000 != 0 {
		us++
	}
	if us > 1<<53 {
		step := int64(1) << (bits.Len64(uint64(us)) - 53)
		us = (us + step - 1) &^ (step - 1)
		if time.UnixMicro(us).UTC().Year() > 9999 && t.UTC().Year() <= 9999 {
			us = floor &^ (step - 1) // the year 9999's last: a time in JSON has four digits of year
		}
	}
	return time.UnixMicro(us).In(t.Location())
}

// NewTask is a task to add.
type NewTask struct {
	Key   string
	Name  string
	Input []byte
	When  When
	Trace string // W3C trace context of the producer, may be empty
}

// AddCode says what Add did with one task.
type AddCode int

// What Add did with a task.
const (
	Existed    AddCode = 0 // a live task had the key; nothing changed
	Added      AddCode = 1 // the task was scheduled
	Superseded AddCode = 2 // a live task had the key and was replaced
	Refused    AddCode = 3 // a strike matches the task: nothing was written
	// Unconfirmed: the call that carried the task failed, or was not made
	// (Add returned an error). It may or may not have been added: a call
	// whose reply was lost may have run.
	Unconfirmed AddCode = -1
)

// AddResult is the outcome of adding one task.
type AddResult struct {
	Code   AddCode
	Due    time.Time
	Strike string // for Refused: the strike that matched, described
}

// Add schedules tasks, in calls of at most MaxBatch tasks, one after the
// other, and returns a result per task, even on error: then the tasks of
// the call that failed are Unconfirmed, and so are those of the calls not
// made. Once a call fails (or ctx ends) no other starts.
//
// The calls are not made several at once, though Redis could run one while
// the next is encoded: two calls under way at once may reach Redis in
// either order, and tasks added to run at once are claimed in the order
// Redis put them in line (those of one Add too: see README, Workers).
func (s *Store) Add(ctx context.Context, mode Mode, tasks []NewTask) ([]AddResult, error) {
	out := make([]AddResult, len(tasks))
	for i := range out {
		out[i].Code = Unconfirmed
	}
	for start := 0; start < len(tasks); start += MaxBatch {
		if start > 0 && ctx.Err() != nil {
			return out, fmt.Errorf("docket: add: %w", context.Cause(ctx))
		}
		chunk := tasks[start:min(start+MaxBatch, len(tasks))]
		res, err := s.addChunk(ctx, mode, chunk)
		if err != nil {
			return out, err
		}
		copy(out[start:], res)
	}
	return out, nil
}

func (s *Store) addChunk(ctx context.Context, mode Mode, chunk []NewTask) ([]AddResult, error) {
	args := make([]any, 0, 6+2*len(chunk))
	args = append(args, s.k.prefix, string(mode))
	// Tasks in a row that share a name, a when and a trace context are one
	// group: its count and what they share, then each task's key and input
	// (see add.lua).
	whens := make([]string, len(chunk))
	for i, t := range chunk {
		whens[i] = t.When.arg()
	}
	alike := func(a, b int) bool {
		return chunk[a].Name == chunk[b].Name && chunk[a].Trace == chunk[b].Trace && whens[a] == whens[b]
	}
	for start, end := range runs(len(chunk), alike) {
		first := chunk[start]
		args = append(args, end-start, first.Name, whens[start], first.Trace)
		for _, t := range chunk[start:end] {
			args = append(args, t.Key, t.Input)
		}
	}
	reply, err := addScript.Run(ctx, s.rdb, []string{s.k.scheduled}, args...).Slice()
	if err != nil {
		return nil, fmt.Errorf("docket: add: %w", err)
	}
	return decodeAdd(reply, len(chunk))
}

// Claim leases up to n tasks to the worker for the lease duration. Tasks
// whose lease lapsed come first, then due tasks in due order, each through
// the admission rules of its task: a task turned away is dropped (it ends
// cancelled, kept for retention), rescheduled, or set waiting for a slot.
//
// A task whose lease lapsed after maxDeliveries deliveries is dead-lettered
// instead: it ends failed, and is listed in Snapshot for the retention.
func (s *Store) Claim(ctx context.Context, worker string, n int, lease, retention time.Duration, rules Rules, maxDeliveries int) (Claim, error) {
	return s.Exchange(ctx, nil, worker, AllFree(n), lease, retention, rules, maxDeliveries)
}

// Want is how many tasks a claim asks for.
type Want struct {
	N int // the most the claim takes
	// Free is how many of them the worker has free slots for: the others
	// wait in its line for one (see worker.Options.ClaimAhead). A claim
	// takes no task whose rules count its start in windows of time (rate
	// limits, cooldowns) beyond those: its start would come later than its
	// claim, which the windows count.
	Free int
}

// AllFree is a Want of n tasks, each with a free slot.
func AllFree(n int) Want { return Want{N: n, Free: n} }

// Exchange records outcomes, as Finish does, then claims up to n tasks, as
// Claim does, in one call: a busy worker reports the tasks it finished as it
// asks for more, one round trip instead of two. Claim.Applied says which
// outcomes applied. n may be zero: then it only records.
//
// Each exchange has a random id. go-redis sends a command again when the
// connection fails before the reply comes, though Redis may have carried
// out the first: the script knows the id for a third of the lease (a
// worker hands back the tasks of a claim that took longer to come back),
// and answers with the tasks the first send claimed (those still leased to
// this worker by it) and the outcomes it applied, rather than leaving those
// tasks to lapse as the worker never saw them (see claim.lua's replay).
func (s *Store) Exchange(ctx context.Context, outcomes []Outcome, worker string, want Want, lease, retention time.Duration, rules Rules, maxDeliveries int) (Claim, error) {
	var early []bool
	if len(outcomes) > MaxBatch { // the claim carries the last MaxBatch
		var err error
		if early, err = s.Finish(ctx, retention, outcomes[:len(outcomes)-MaxBatch]); err != nil {
			return Claim{}, err
		}
		outcomes = outcomes[len(outcomes)-MaxBatch:]
	}
	line := claimLines.Get().(*[]any)
	args := append((*line)[:0], "evalsha", claimScript.Hash(), 2, s.k.scheduled, s.k.running,
		s.k.prefix, worker, min(want.N, MaxBatch), lease.Microseconds(), retentionMS(retention),
		rules.encoded, maxDeliveries, len(outcomes), max(want.Free, 0), callID())
	args = appendOutcomes(args, outcomes)
	reply, err := s.runLine(ctx, args, claimSource).Slice()
	clear(args) // the outcomes' strings and results: a line in the pool holds nothing
	*line = args[:0]
	claimLines.Put(line)
	if err != nil {
		return Claim{}, fmt.Errorf("docket: claim: %w", err)
	}
	if len(reply) < len(outcomes) {
		return Claim{}, fmt.Errorf("%w: claim reply has %d elements for %d outcomes", ErrMalformed, len(reply), len(outcomes))
	}
	split := len(reply) - len(outcomes)
	c, err := DecodeClaim(reply[:split])
	if err != nil {
		return Claim{}, err
	}
	if len(outcomes) > 0 {
		c.Applied = append(early, make([]bool, len(outcomes))...)
		var d decoder
		for i, v := range reply[split:] {
			c.Applied[len(early)+i] = d.int(v) == 1
		}
		if d.err != nil {
			return Claim{}, d.err
		}
	}
	return c, nil
}

// claimLines are the command lines of claims, kept for the next: a busy
// worker's claims carry tens of outcomes each, and go-redis copied the
// arguments of Script.Run into a line of its own. Together they were a
// tenth of the bytes a worker allocated a task, and the garbage
// collector's work grows with them.
var claimLines = sync.Pool{New: func() any { return new([]any) }}

// runLine runs a script's command line, "evalsha", the script's hash, the
// number of keys, the keys and the arguments, as Script.Run does: when the
// server does not have the script (NOSCRIPT), it sends it, src, with EVAL.
// The line is go-redis's own: the command uses it as it is, and on
// NOSCRIPT runLine overwrites line[0] and line[1] in the caller's slice.
func (s *Store) runLine(ctx context.Context, line []any, src string) *redis.Cmd {
	cmd := s.rdb.Do(ctx, line...)
	if err := cmd.Err(); err != nil && (errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT")) {
		line[0], line[1] = "eval", src
		cmd = s.rdb.Do(ctx, line...)
	}
	return cmd
}

// CancelGrace is how long a worker gives the function of a task cancelled
// or replaced while it runs to return before it abandons it (and reports
// Drained). A drain lasts at least that long, and a second more, after the
// cancel, and after each renewal of the run, whatever the lease: a worker
// cut off from Redis meanwhile cannot say when its function returned.
const CancelGrace = 5 * time.Second

// drainMargin is what a drain lasts beyond CancelGrace: the time for the
// worker to hear of the cancel, and for clocks to disagree.
const drainMargin = time.Second

// OutcomeKind is how an attempt ended, as far as the store is concerned.
type OutcomeKind string

// Outcome kinds.
const (
	Completed OutcomeKind = "completed" // the execution ends, successfully
	Failed    OutcomeKind = "failed"    // the execution ends in failure
	Retried   OutcomeKind = "retry"     // the next attempt is due after Delay
	Perpetual OutcomeKind = "perpetual" // the next run is due at Next
	Released  OutcomeKind = "release"   // handed back undone, due when it was (now at the latest): a run its worker's stop cut short
	// Unstarted: handed back as Released, by a worker that never called
	// its function (it waited in line too long, a stop or a strike came, it
	// was claimed late, or registered late): its claim is also taken out of
	// the rate windows it counted in, since it did not start.
	Unstarted OutcomeKind = "unstarted"
	Snoozed   OutcomeKind = "snooze" // the same attempt runs again after Delay; no delivery counted
	// Unknown: the worker has no task of the message's name. The task
	// goes back to the schedule, due after Delay, with Error as the reason,
	// and is listed as waiting for a worker that knows its name (see
	// Store.Known); the instant it was first handed back is kept (see
	// Store.UnknownSince).
	Unknown OutcomeKind = "unknown"
	// Parked: a workflow's run waits (Input is the Park, encoded): the
	// workflow is due again when what it waits for happens.
	Parked OutcomeKind = "park"
	// Drained: the attempt of an execution that was cancelled or replaced
	// while it ran has ended (its function returned, or was abandoned).
	// Nothing of it is recorded; what it held is freed: its concurrency
	// slots, and its key's next run, which waited for it (see K.draining).
	Drained OutcomeKind = "drained"
)

// Outcome is the end of one attempt, reported by the worker that ran it.
type Outcome struct {
	Key   string
	Gen   string
	Kind  OutcomeKind
	Delay time.Duration // Retried: how long after now the next attempt is due
	// Next is when a Perpetual task's next run is due: an instant, or a
	// delay after this attempt's start (by the Redis clock). A time in the
	// past means now.
	Next  When
	Error string
	Input []byte // Perpetual: the next run's input; nil keeps this run's
	// Result is a Completed task's result (JSON), if it has one.
	Result []byte
	// Reason is why a Failed execution failed (sdk.Reason…).
	Reason string
	// Keep is how long a Completed execution's record stays: zero for the
	// retention the call names, Discard to delete it at once.
	Keep time.Duration
}

// when is the outcome's "when" script argument: when the next attempt or
// run is due; for a completed execution, how long its record is kept (ms;
// "" for the retention, 0 to delete it).
func (o Outcome) when() string {
	switch {
	case o.Kind == Perpetual:
		return o.Next.arg()
	case o.Kind == Completed && o.Keep == Discard:
		return "0"
	case o.Kind == Completed && o.Keep > 0:
		return strconv.FormatInt(retentionMS(o.Keep), 10)
	case o.Kind == Completed:
		return ""
	}
	return When{After: o.Delay}.arg()
}

// retentionMS is a retention as PEXPIRE takes it: whole milliseconds, at
// least one, since a zero would delete a record there and then.
func retentionMS(d time.Duration) int64 { return max(d.Milliseconds(), 1) }

// Discard, as an Outcome's Keep, deletes a completed execution's record as
// soon as the outcome is recorded.
const Discard time.Duration = -1

// Finish records outcomes in one call (split at MaxBatch). applied[i] is
// false when outcome i was stale: the task was cancelled, replaced, or
// redelivered to another worker meanwhile.
func (s *Store) Finish(ctx context.Context, retention time.Duration, outcomes []Outcome) (applied []bool, err error) {
	applied = make([]bool, 0, len(outcomes))
	for start := 0; start < len(outcomes); start += MaxBatch {
		chunk := outcomes[start:min(start+MaxBatch, len(outcomes))]
		args := make([]any, 0, 2+(groupArgs+outcomeArgs)*len(chunk))
		args = append(args, s.k.prefix, retentionMS(retention))
		args = appendOutcomes(args, chunk)
		reply, err := finishScript.Run(ctx, s.rdb, []string{s.k.running}, args...).Int64Slice()
		if err != nil {
			return applied, fmt.Errorf("docket: finish: %w", err)
		}
		if len(reply) != len(chunk) {
			return applied, fmt.Errorf("docket: finish: %d results for %d outcomes", len(reply), len(chunk))
		}
		for _, r := range reply {
			applied = append(applied, r == 1)
		}
	}
	return applied, nil
}

// appendOutcomes appends the outcomes to a script's arguments, in groups
// of outcomes in a row that share kind, when, error and reason: each an
// OUTCOMES head, then an OUTCOME per outcome. A batch of tasks that
// completed alike is one group, three arguments an outcome rather than
// seven: Redis reads each argument, and Lua gets each as a string.
func appendOutcomes(args []any, outcomes []Outcome) []any {
	whens := make([]string, len(outcomes))
	for i, o := range outcomes {
		whens[i] = o.when()
	}
	alike := func(a, b int) bool {
		x, y := &outcomes[a], &outcomes[b]
		return x.Kind == y.Kind && x.Error == y.Error && x.Reason == y.Reason && whens[a] == whens[b]
	}
	for start, end := range runs(len(outcomes), alike) {
		first := outcomes[start]
		var head [groupArgs]any
		head[groupCount], head[groupKind], head[groupWhen] = end-start, string(first.Kind), whens[start]
		head[groupError], head[groupReason] = first.Error, first.Reason
		args = append(args, head[:]...)
		for _, o := range outcomes[start:end] {
			var a [outcomeArgs]any
			a[outcomeKey], a[outcomeGen], a[outcomePayload] = o.Key, o.Gen, o.payload()
			args = append(args, a[:]...)
		}
	}
	return args
}

// runs yields the bounds [start, end) of each run of consecutive items of
// n that are alike (alike(start, i) for each i of the run): the groups in
// which adds and outcomes reach the scripts.
func runs(n int, alike func(a, b int) bool) iter.Seq2[int, int] {
	return func(yield func(int, int) bool) {
		for start := 0; start < n; {
			end := start + 1
			for end < n && alike(start, end) {
				end++
			}
			if !yield(start, end) {
				return
			}
			start = end
		}
	}
}

// payload is the outcome's payload argument: a Perpetual task's next input,
// a Completed task's result.
func (o Outcome) payload() []byte {
	if o.Kind == Completed {
		return o.Result
	}
	return o.Input
}

// Held is a task a worker is running: its key and the generation it claimed.
type Held struct {
	Key string
	Gen string
}

// Heartbeat describes a live worker.
type Heartbeat struct {
	ID          string
	Description []byte        // JSON, shown by Snapshot
	TTL         time.Duration // how long the worker counts as live without another heartbeat
}

// Renew extends the leases of held tasks and records the worker's heartbeat,
// in one call. It returns the positions in held of the tasks whose lease the
// worker no longer holds.
func (s *Store) Renew(ctx context.Context, hb Heartbeat, lease time.Duration, held []Held) (lost []Lost, err error) {
	args := make([]any, 0, 5+2*len(held))
	args = append(args, s.k.prefix, hb.ID, hb.Description, lease.Microseconds(), hb.TTL.Milliseconds())
	for _, h := range held {
		args = append(args, h.Key, h.Gen)
	}
	positions, err := renewScript.Run(ctx, s.rdb, []string{s.k.running}, args...).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("docket: renew: %w", err)
	}
	if len(positions)%2 != 0 {
		return nil, fmt.Errorf("%w: renew reply has %d elements", ErrMalformed, len(positions))
	}
	for i := 0; i < len(positions); i += 2 {
		p := positions[i]
		if p < 0 || int(p) >= len(held) {
			return nil, fmt.Errorf("%w: renew reported position %d of %d", ErrMalformed, p, len(held))
		}
		code := positions[i+1]
		lost = append(lost, Lost{Index: int(p), Cancelled: code == 1 || code == 2, Draining: code == 2})
	}
	return lost, nil
}

// Lost is a held task whose lease its worker no longer holds.
type Lost struct {
	Index     int  // its position in the list of held tasks
	Cancelled bool // its execution was cancelled or replaced, rather than handed to another worker
	// Draining: and its key drains the run, whose deadline the renewal
	// moved on as it would have moved the lease: the run may wind down.
	Draining bool
}

// Unregister removes a worker from the live workers.
func (s *Store) Unregister(ctx context.Context, id string) error {
	err := unregisterScript.Run(ctx, s.rdb, []string{s.k.workers}, s.k.prefix, id).Err()
	if err != nil {
		return fmt.Errorf("docket: unregister worker: %w", err)
	}
	return nil
}

// callID is a random id for a call that go-redis may send twice: it sends
// a command again when the connection fails before the reply comes,
// though Redis may have carried out the first. The scripts of Cancel,
// Retry, Restore, Signal and Progress know a call they carried out by its
// id. 16 hex digits, as every one.
func callID() string {
	return strconv.FormatUint(rand.Uint64()|1<<63, 16)
}

// Cancel ends a scheduled, queued or running task as cancelled. It reports
// false when no live task has the key.
//
// Each call has a random id, which the cancelled record keeps: a call
// go-redis sends again after the network lost its reply (MaxRetries)
// reports the cancel the first send made.
func (s *Store) Cancel(ctx context.Context, key string, retention time.Duration) (bool, error) {
	n, err := cancelScript.Run(ctx, s.rdb, []string{s.k.task(key)}, s.k.prefix, key, retentionMS(retention), callID()).Int64()
	if err != nil {
		return false, fmt.Errorf("docket: cancel: %w", err)
	}
	return n == 1, nil
}

// Clear cancels every scheduled, queued and waiting task, a thousand per
// call; running tasks are left to finish. It returns how many it cancelled.
// Each call looks at no more than a thousand tasks and a thousand limits,
// however long the lines of waiting tasks are.
func (s *Store) Clear(ctx context.Context, retention time.Duration) (int, error) {
	total, cursor := 0, "0"
	for {
		reply, err := clearScript.Run(ctx, s.rdb, []string{s.k.scheduled}, s.k.prefix, MaxBatch, retentionMS(retention), cursor).Slice()
		if err != nil {
			return total, fmt.Errorf("docket: clear: %w", err)
		}
		if len(reply) != 3 {
			return total, fmt.Errorf("%w: clear reply has %d elements", ErrMalformed, len(reply))
		}
		var d decoder
		cancelled, handled := d.int(reply[0]), d.int(reply[1])
		cursor = d.str(reply[2])
		if d.err != nil {
			return total, d.err
		}
		total += int(cancelled)
		if handled == 0 && cursor == "0" {
			return total, nil
		}
	}
}

// Info reads the execution record of key. ok is false when there is none.
func (s *Store) Info(ctx context.Context, key string) (rec Record, ok bool, err error) {
	reply, err := infoScript.Run(ctx, s.rdb, []string{s.k.task(key)}, s.k.prefix).StringSlice()
	if err != nil {
		return Record{}, false, fmt.Errorf("docket: info: %w", err)
	}
	return decodeRecord(key, reply)
}

// Snapshot reads up to limit running, limit scheduled and limit waiting
// tasks, their totals, the concurrency limits in use (with up to limit
// holders and limit waiters of each, and how many there are) and the live
// workers.
func (s *Store) Snapshot(ctx context.Context, limit int) (Snapshot, error) {
	reply, err := snapshotScript.Run(ctx, s.rdb, []string{s.k.scheduled}, s.k.prefix, limit).Slice()
	if err != nil {
		return Snapshot{}, fmt.Errorf("docket: snapshot: %w", err)
	}
	return decodeSnapshot(reply)
}

// Subscribe listens to the docket's events channel.
func (s *Store) Subscribe(ctx context.Context) *redis.PubSub {
	return s.rdb.Subscribe(ctx, s.k.events)
}

// EventsChannel is the name of the docket's events channel (see Subscribe).
func (s *Store) EventsChannel() string { return s.k.events }

// Counts is how many tasks a docket holds, by state.
type Counts struct {
	Queued, Scheduled, Running, Waiting, Parked, Struck int64
}

// Count counts the docket's tasks by state, cheaply: no task is read.
func (s *Store) Count(ctx context.Context) (Counts, error) {
	n, err := countsScript.Run(ctx, s.rdb, []string{s.k.scheduled}, s.k.prefix).Int64Slice()
	if err != nil {
		return Counts{}, fmt.Errorf("docket: count: %w", err)
	}
	if len(n) != countFields {
		return Counts{}, fmt.Errorf("%w: count reply has %d elements", ErrMalformed, len(n))
	}
	return Counts{Queued: n[countQueued], Scheduled: n[countScheduled], Running: n[countRunning],
		Waiting: n[countWaiting], Parked: n[countParked], Struck: n[countStruck]}, nil
}

// Known makes the tasks called by one of names that workers without them
// handed back (see Unknown) due at once, back in line where they were when
// first handed back (due when they were due then), a thousand per call: a
// worker calls it when it starts, when tasks are registered, and before
// its first claim that carries their admission rules.
func (s *Store) Known(ctx context.Context, names []string) error {
	if len(names) == 0 {
		return nil
	}
	args := make([]any, 0, 2+len(names))
	args = append(args, s.k.prefix, MaxBatch)
	for _, n := range names {
		args = append(args, n)
	}
	for {
		n, err := knownScript.Run(ctx, s.rdb, []string{s.k.scheduled}, args...).Int()
		if err != nil {
			return fmt.Errorf("docket: known tasks: %w", err)
		}
		if n == 0 {
			return nil
		}
	}
}

// UnknownSince reads when a worker first handed the task with key back for
// not having its task (see Unknown), and when a worker that has it last
// made it due (see Known); each zero when none did since it last ran.
func (s *Store) UnknownSince(ctx context.Context, key string) (since, known time.Time, err error) {
	v, err := s.rdb.HMGet(ctx, s.k.task(key), "unknown_since", "known_at").Result()
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("docket: unknown task: %w", err)
	}
	var d decoder
	if text, ok := v[0].(string); ok {
		since = d.instant(text)
	}
	if text, ok := v[1].(string); ok {
		known = d.instant(text)
	}
	return since, known, d.err
}

// WorkerDescriptions returns the descriptions of up to MaxBatch registered
// workers, as they wrote them (see Heartbeat): those live, and those gone
// whose registration has not expired yet.
func (s *Store) WorkerDescriptions(ctx context.Context) ([][]byte, error) {
	ids, err := s.rdb.ZRevRange(ctx, s.k.workers, 0, MaxBatch-1).Result() // the latest live-until first
	if err != nil {
		return nil, fmt.Errorf("docket: worker descriptions: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.k.worker(id)
	}
	values, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("docket: worker descriptions: %w", err)
	}
	var out [][]byte
	for _, v := range values {
		if text, ok := v.(string); ok {
			out = append(out, []byte(text))
		}
	}
	return out, nil
}

// Pending reports whether the docket holds unfinished work other than the
// future runs of the chain tasks named (perpetual and cron tasks): a task
// running, waiting for a concurrency slot, due, or scheduled later, or a
// workflow parked. next is when the earliest such task scheduled later is
// due; zero when the work is running, waiting or due. signal is set when
// the only work left is workflows parked until a signal, which nothing in
// the docket but a Signal can wake.
func (s *Store) Pending(ctx context.Context, chains []string) (pending bool, next time.Time, signal bool, err error) {
	args := make([]any, 0, 3+len(chains))
	args = append(args, s.k.prefix, 0, MaxBatch)
	for _, c := range chains {
		args = append(args, c)
	}
	for from := 0; ; from += MaxBatch {
		args[1] = from
		reply, err := pendingScript.Run(ctx, s.rdb, []string{s.k.scheduled}, args...).Int64Slice()
		if err != nil {
			return false, time.Time{}, false, fmt.Errorf("docket: pending: %w", err)
		}
		if len(reply) != 2 {
			return false, time.Time{}, false, fmt.Errorf("%w: pending reply has %d elements", ErrMalformed, len(reply))
		}
		switch reply[0] {
		case 0:
			return false, time.Time{}, false, nil
		case 1:
			if reply[1] > 0 {
				next = time.UnixMicro(reply[1])
			}
			return true, next, false, nil
		case 2:
			return true, time.Time{}, true, nil
		}
	}
}

// Now reads the Redis clock.
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	return s.rdb.Time(ctx).Result()
}
