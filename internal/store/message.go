package store

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrMalformed reports a reply from Redis that is not what a script returns:
// a different script version, or data written by something else.
var ErrMalformed = errors.New("docket: malformed reply from redis")

// Message is a claimed task, as a worker receives it.
type Message struct {
	Key        string
	Name       string
	Input      []byte
	Attempt    int // 1-based
	Deliveries int // how many times this attempt was handed to a worker, this one included
	Due        time.Time
	Trace      string
	Gen        string // the generation this claim holds; outcomes must quote it
	WaitedFor  string // the concurrency limit it waited for before this claim, if any; WaitedParked after a park
}

// WaitedParked is a Message's WaitedFor when the task is a workflow that
// parked before this claim: the claim resumes it.
const WaitedParked = "(parked)"

// Claim is the result of one claim call.
type Claim struct {
	Now time.Time // the Redis clock when the claim ran
	// Wait is how long until the next due task or lease expiry: zero when
	// more tasks may be due now (the claim got all it asked for, or looked
	// at as many as it may), negative when nothing is scheduled or running.
	Wait     time.Duration
	Messages []Message
	Dropped  []Dropped // tasks ended without running
	// Malformed lists claimed entries that could not be decoded, with why.
	// Their tasks stay leased: redelivered when the lease lapses, and in the
	// end dead-lettered.
	Malformed []error
	// Applied has, for each outcome reported with the claim (see
	// Store.Exchange), whether it was recorded: false when it was stale.
	Applied []bool
}

// Dropped is a task ended without running: a submission admission control
// turned away (it ended cancelled), or, when Failure is set, a task that
// ended failed: dead-lettered after too many deliveries, input its admission
// rules cannot read, or a record that cannot be used.
type Dropped struct {
	Key     string
	Name    string
	Reason  string
	Trace   string // the producer's trace context
	Failure string // empty for a drop; else FailureDeadLetter, FailureBadInput or FailureCorrupt
	Held    bool   // not ended: a strike holds it until it is restored
}

// Why the claim script failed a task without running it, as it says.
const (
	FailureDeadLetter = "dead_letter" // its workers died while running it, MaxDeliveries times
	FailureBadInput   = "bad_input"   // its admission rules cannot read its input
	FailureCorrupt    = "corrupt"     // its record cannot be used (written by another program)
)

// Recycle hands the claim's messages back, for a later claim to decode
// into: the caller has copied what it keeps, and uses them no more. (A
// list of messages a claim was a fifteenth of the bytes a busy worker
// allocated a task.) A claim not recycled is garbage like any other.
func (c *Claim) Recycle() {
	if cap(c.Messages) > 0 {
		messageLists.put(c.Messages)
	}
	c.Messages = nil
}

// messageLists are the lists of messages claims decode into (see Recycle).
var messageLists messagePool

type messagePool struct{ pool sync.Pool } // of *[]Message

// get returns an empty list with room for n messages.
func (p *messagePool) get(n int) []Message {
	if l, ok := p.pool.Get().(*[]Message); ok && cap(*l) >= n {
		return (*l)[:0]
	}
	return make([]Message, 0, max(n, 16))
}

// put keeps l, emptied of what its messages refer to, for get.
func (p *messagePool) put(l []Message) {
	l = l[:cap(l)]
	clear(l)
	l = l[:0]
	p.pool.Put(&l)
}

// DecodeClaim turns the claim script's reply into a Claim. It checks every
// element and never panics: a reply of the wrong shape is ErrMalformed, and
// an entry that does not decode is set aside in Claim.Malformed, so that the
// others still run.
func DecodeClaim(reply []any) (Claim, error) {
	if len(reply) < claimHeader {
		return Claim{}, fmt.Errorf("%w: claim reply has %d elements", ErrMalformed, len(reply))
	}
	var d decoder
	nowUS := d.int(reply[headNow])
	wait := d.int(reply[headWait])
	nc, nd := d.int(reply[headClaimed]), d.int(reply[headTurned])
	if d.err != nil || nc < 0 || nd < 0 || int64(len(reply)) != claimHeader+claimFields*nc+droppedField*nd {
		return Claim{}, fmt.Errorf("%w: claim reply has %d elements", ErrMalformed, len(reply))
	}
	c := Claim{Now: time.UnixMicro(nowUS), Wait: time.Duration(wait) * time.Microsecond}
	if wait < 0 {
		c.Wait = -1
	}
	if nc > 0 {
		c.Messages = messageLists.get(int(nc))
	}
	end := claimHeader + claimFields*int(nc)
	for i := claimHeader; i < end; i += claimFields {
		f := reply[i : i+claimFields]
		var d decoder
		m := Message{
			Key:   d.str(f[claimedKey]),
			Name:  d.str(f[claimedName]),
			Input: []byte(d.str(f[claimedInput])),
			Trace: d.str(f[claimedTrace]),
		}
		d.head(&m, d.str(f[claimedHead]))
		if m.Key == "" || m.Gen == "" || m.Attempt < 1 {
			d.fail("claimed task %q without key, generation or attempt", m.Key)
		}
		if d.err != nil {
			c.Malformed = append(c.Malformed, d.err)
			continue
		}
		c.Messages = append(c.Messages, m)
	}
	for i := end; i < len(reply); i += droppedField {
		f := reply[i : i+droppedField]
		fate := d.str(f[turnedFate])
		failure, ok := failures[fate]
		if !ok && fate != fateHeld {
			d.fail("task turned away as %q", fate)
		}
		c.Dropped = append(c.Dropped, Dropped{
			Key: d.str(f[turnedKey]), Name: d.str(f[turnedName]), Reason: d.str(f[turnedReason]),
			Trace: d.str(f[turnedTrace]), Failure: failure, Held: fate == fateHeld,
		})
	}
	if d.err != nil {
		return Claim{}, d.err
	}
	return c, nil
}

// decodeAdd reads add.lua's reply for n tasks: their codes, one digit each,
// the instant of the call, which is every task's due instant but for those
// listed after it, each by its place (from 1) and its due instant (for a
// task Refused, the strike).
func decodeAdd(reply []any, n int) ([]AddResult, error) {
	if len(reply) < 2 || len(reply)%2 != 0 {
		return nil, fmt.Errorf("%w: add reply has %d elements", ErrMalformed, len(reply))
	}
	var d decoder
	codes, now := d.str(reply[0]), time.UnixMicro(d.int(reply[1]))
	if len(codes) != n {
		return nil, fmt.Errorf("%w: add reply has %d codes for %d tasks", ErrMalformed, len(codes), n)
	}
	out := make([]AddResult, n)
	for i := range out {
		out[i] = AddResult{Code: AddCode(codes[i] - '0'), Due: now}
		if out[i].Code < Existed || out[i].Code > Refused {
			d.fail("add code %q", codes[i])
		}
	}
	named := make([]bool, n)
	for i := 2; i+1 < len(reply); i += 2 {
		at := d.int(reply[i]) - 1
		if at < 0 || at >= int64(n) || named[at] {
			return nil, fmt.Errorf("%w: add reply names task %d of %d, or twice", ErrMalformed, at+1, n)
		}
		named[at] = true
		if out[at].Code == Refused {
			out[at].Strike, out[at].Due = d.str(reply[i+1]), time.Time{}
		} else {
			out[at].Due = time.UnixMicro(d.int(reply[i+1]))
		}
	}
	for i, r := range out {
		if r.Code == Refused && r.Strike == "" {
			d.fail("add reply refuses task %d without its strike", i+1)
		}
	}
	return out, d.err
}

// State is the stored state of an execution.
type State string

// Stored states. "queued" is not stored: it is a scheduled task whose due
// time has come, or a task waiting for a concurrency slot.
const (
	// StateQueued is announced to watchers (and counted), never stored.
	StateQueued    State = "queued"
	StateScheduled State = "scheduled"
	StateWaiting   State = "waiting"
	StateRunning   State = "running"
	StateParked    State = "parked"
	StateStruck    State = "struck"
	StateCompleted State = "completed"
	StateFailed    State = "failed"
	StateCancelled State = "cancelled"
)

// Record is an execution record as stored.
type Record struct {
	Now        time.Time // the Redis clock when it was read
	Key        string
	Name       string
	Input      []byte
	State      State
	Attempt    int
	Deliveries int
	Due        time.Time
	Created    time.Time
	Started    time.Time
	Finished   time.Time
	Error      string
	Worker     string
	WaitingFor string // the concurrency limit a waiting task waits for
	// Progress is the last progress reported, kept when the task ended.
	Progress ProgressState
	Result   []byte // what a task with a result returned (JSON)
	Reason   string // why it ended without completing
	Parent   string // a child's workflow's key
	Child    string // a child's name under its workflow

	// Trace is the producer's W3C traceparent, if it had a span.
	Trace string
	// Retried is when Retry last made the execution run again; zero if
	// never.
	Retried time.Time
}

func decodeRecord(key string, reply []string) (Record, bool, error) {
	if len(reply) < 1 || len(reply)%2 != 1 {
		return Record{}, false, fmt.Errorf("%w: info reply has %d elements", ErrMalformed, len(reply))
	}
	var d decoder
	r := Record{Key: key, Now: time.UnixMicro(d.int(reply[0]))}
	if len(reply) == 1 {
		return r, false, d.err
	}
	// The record's own fields are read leniently: one that another program
	// garbled reads as zero, and the record (whose Error then says what the
	// scripts made of it) stays readable.
	num := func(v string) int64 {
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	instant := func(v string) time.Time {
		if n := num(v); n != 0 {
			return time.UnixMicro(n)
		}
		return time.Time{}
	}
	// A record leaves out attempt and deliveries while they hold 1 and 0,
	// due while it is the instant the record was created, and its state
	// while it is scheduled and was never claimed.
	r.Attempt = 1
	hasDue, hasCreated := false, false
	for i := 1; i < len(reply); i += 2 {
		v := reply[i+1]
		switch reply[i] {
		case "name":
			r.Name = v
		case "input":
			r.Input = []byte(v)
		case "state":
			r.State = State(v)
		case "attempt":
			r.Attempt = int(num(v))
		case "deliveries":
			r.Deliveries = int(num(v))
		case "due":
			r.Due, hasDue = instant(v), true
		case "created":
			r.Created, hasCreated = instant(v), true
		case "started":
			r.Started = instant(v)
		case "finished":
			r.Finished = instant(v)
		case "error":
			r.Error = v
		case "worker":
			r.Worker = v
		case "waiting":
			r.WaitingFor = v
		case "progress_current":
			r.Progress.Current = num(v)
		case "progress_total":
			r.Progress.Total = num(v)
		case "progress_message":
			r.Progress.Message = v
		case "progress_updated":
			r.Progress.Updated = instant(v)
		case "result":
			r.Result = []byte(v)
		case "reason":
			r.Reason = v
		case "parent":
			r.Parent = v
		case "child":
			r.Child = v
		case "trace":
			r.Trace = v
		case "retried":
			r.Retried = instant(v)
		}
	}
	if !hasDue {
		r.Due = r.Created
	}
	if r.State == "" && hasCreated {
		r.State = StateScheduled
	}
	return r, true, d.err
}

// Snapshot is what a docket holds at one instant.
type Snapshot struct {
	Now            time.Time
	TotalScheduled int // scheduled and queued tasks
	TotalRunning   int
	TotalWaiting   int // tasks waiting for a concurrency slot
	TotalParked    int // workflows parked until a child or a signal wakes them
	TotalHeld      int // tasks held by a strike
	Workers        []WorkerEntry
	Tasks          []TaskEntry // running, then scheduled in due order, then waiting, then dead-lettered (latest first)
	Limits         []LimitEntry
	Rates          []RateEntry // those whose window empties last first
	TotalRates     int         // rate limits whose window holds a start
}

// RateEntry is a rate limit whose window holds a start.
type RateEntry struct {
	ID      string
	Limit   int           // the most starts its window holds
	Per     time.Duration // its window
	Started int           // the starts its window holds
	Next    time.Time     // when a full window lets the next start; zero while it has room
}

// WorkerEntry is a live worker.
type WorkerEntry struct {
	ID          string
	LiveUntil   time.Time // when it stops counting as live without another heartbeat
	Description []byte
}

// TaskEntry is a scheduled, queued, waiting or running task in a snapshot.
type TaskEntry struct {
	Key        string
	Name       string
	State      State
	Due        time.Time // scheduled and waiting tasks
	LeaseUntil time.Time // running tasks
	Attempt    int
	Deliveries int
	Started    time.Time
	Worker     string
	Created    time.Time
	WaitingFor string
	Error      string // for a dead-lettered task, why
}

// LimitEntry is a concurrency limit in use: the tasks holding its slots
// (running, or about to) and those waiting for one, in order; as many of
// each as the snapshot lists, and how many there are in all.
type LimitEntry struct {
	ID           string
	Holders      []string
	Waiters      []string // the first in line
	TotalHolders int
	TotalWaiters int
}

func decodeSnapshot(reply []any) (Snapshot, error) {
	if len(reply) < snapshotHeader {
		return Snapshot{}, fmt.Errorf("%w: snapshot reply has %d elements", ErrMalformed, len(reply))
	}
	var d decoder
	s := Snapshot{
		Now:            time.UnixMicro(d.int(reply[snapNow])),
		TotalScheduled: int(d.int(reply[snapScheduled])),
		TotalRunning:   int(d.int(reply[snapRunning])),
		TotalWaiting:   int(d.int(reply[snapWaiting])),
		TotalParked:    int(d.int(reply[snapParked])),
		TotalHeld:      int(d.int(reply[snapHeld])),
		TotalRates:     int(d.int(reply[snapRatesTotal])),
	}
	nw, nt := int(d.int(reply[snapWorkers])), int(d.int(reply[snapTasks]))
	nl, nm, nr := int(d.int(reply[snapLimits])), int(d.int(reply[snapMembers])), int(d.int(reply[snapRates]))
	if d.err != nil || nw < 0 || nt < 0 || nl < 0 || nm < 0 || nr < 0 ||
		len(reply) != snapshotHeader+workerFields*nw+listedFields*nt+limitFields*nl+memberFields*nm+rateFields*nr {
		return Snapshot{}, fmt.Errorf("%w: snapshot reply has %d elements", ErrMalformed, len(reply))
	}
	rest := reply[snapshotHeader:]
	for f := range entries(&rest, nw, workerFields) {
		s.Workers = append(s.Workers, WorkerEntry{ID: d.str(f[workerID]), LiveUntil: time.UnixMicro(d.int(f[workerLiveUntil])),
			Description: []byte(d.str(f[workerDescription]))})
	}
	for f := range entries(&rest, nt, listedFields) {
		t, score := decodeListed(&d, f)
		t.Due = time.Time{} // a snapshot's due time is the task's score (none for parked or held tasks)
		if t.State != StateRunning && score != 0 {
			t.Due = time.UnixMicro(score)
		}
		s.Tasks = append(s.Tasks, t)
	}
	index := map[string]int{}
	for f := range entries(&rest, nl, limitFields) {
		index[d.str(f[limitID])] = len(s.Limits)
		s.Limits = append(s.Limits, LimitEntry{ID: d.str(f[limitID]), TotalHolders: int(d.int(f[limitHolders])),
			TotalWaiters: int(d.int(f[limitWaiters]))})
	}
	for f := range entries(&rest, nm, memberFields) {
		j, ok := index[d.str(f[memberLimit])]
		if !ok {
			d.fail("member of unlisted limit %q", d.str(f[memberLimit]))
			break
		}
		if d.str(f[memberRole]) == memberHolds {
			s.Limits[j].Holders = append(s.Limits[j].Holders, d.str(f[memberKey]))
		} else {
			s.Limits[j].Waiters = append(s.Limits[j].Waiters, d.str(f[memberKey]))
		}
	}
	for f := range entries(&rest, nr, rateFields) {
		r := RateEntry{ID: d.str(f[rateID]), Limit: int(d.int(f[rateLimit])),
			Per: time.Duration(d.int(f[ratePer])) * time.Microsecond, Started: int(d.int(f[rateStarted]))}
		if next := d.int(f[rateNext]); next != 0 { // 0: the window has room
			r.Next = time.UnixMicro(next)
		}
		s.Rates = append(s.Rates, r)
	}
	return s, d.err
}

// entries yields the next n entries of size values each from *rest, and
// leaves *rest after them. The caller has checked the length.
func entries(rest *[]any, n, size int) func(func([]any) bool) {
	return func(yield func([]any) bool) {
		all := *rest
		*rest = all[n*size:]
		for i := range n {
			if !yield(all[i*size : (i+1)*size]) {
				return
			}
		}
	}
}

// decodeListed reads a LISTED entry, and its score. The record's fields
// are read leniently: one another program garbled reads as zero. A
// running task's score is its lease's expiry.
func decodeListed(d *decoder, f []any) (TaskEntry, int64) {
	score := score(d, f[listedScore])
	t := TaskEntry{
		Key:        d.str(f[listedKey]),
		Name:       d.str(f[listedName]),
		State:      State(d.str(f[listedState])),
		Attempt:    int(d.lenient(f[listedAttempt])),
		Deliveries: int(d.lenient(f[listedDeliveries])),
		Started:    d.lenientInstant(f[listedStarted]),
		Worker:     d.str(f[listedWorker]),
		Created:    d.lenientInstant(f[listedCreated]),
		Due:        d.lenientInstant(f[listedDue]),
		Error:      strings.ToValidUTF8(d.str(f[listedError]), "…"),
		WaitingFor: d.str(f[listedWaiting]),
	}
	if t.State == StateRunning {
		t.LeaseUntil = time.UnixMicro(score)
	}
	return t, score
}

// Event is a message on the docket's events channel.
type Event struct {
	Wake   bool   // a task became due earlier than workers expected
	Cancel string // the key of a running task to stop, when not empty
	Gen    string // the generation of the run to stop
	Chain  string // the key of an automatic task's chain that ended, when not empty
	Reap   bool   // workflows ended whose live children are to be cancelled (Store.Reap)
	Strike bool   // a strike was placed: tasks waiting in a worker's line go back, for the claim to judge
}

// ParseEvent reads an events channel payload. Unknown payloads yield the
// zero Event, which asks nothing of anyone.
func ParseEvent(payload string) Event {
	switch payload {
	case "w":
		return Event{Wake: true}
	case "r":
		return Event{Reap: true}
	case "s":
		return Event{Strike: true}
	}
	if key, ok := strings.CutPrefix(payload, "a:"); ok && key != "" {
		return Event{Chain: key}
	}
	if rest, ok := strings.CutPrefix(payload, "c:"); ok {
		if gen, key, ok := strings.Cut(rest, ":"); ok && gen != "" && key != "" {
			return Event{Cancel: key, Gen: gen}
		}
	}
	return Event{}
}

// decoder converts reply elements, remembering the first error so the
// caller checks once.
type decoder struct{ err error }

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

// head reads a claimed task's head into m: "attempt deliveries due gen
// waited", the last up to the end (see claimedHead).
func (d *decoder) head(m *Message, head string) {
	attempt, rest, ok1 := strings.Cut(head, " ")
	deliveries, rest, ok2 := strings.Cut(rest, " ")
	due, rest, ok3 := strings.Cut(rest, " ")
	gen, waited, ok4 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !ok3 || !ok4 {
		d.fail("claimed task %q: head %q", m.Key, head)
		return
	}
	m.Attempt, m.Deliveries = int(d.number(attempt)), int(d.number(deliveries))
	m.Due, m.Gen, m.WaitedFor = time.UnixMicro(d.number(due)), gen, waited
}

// number reads a whole number written in a string (int takes any: a
// string passed to it is boxed, an allocation for each).
func (d *decoder) number(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		d.fail("not an integer: %q", s)
	}
	return n
}

func (d *decoder) str(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case nil:
		return ""
	case int64:
		return strconv.FormatInt(s, 10)
	}
	d.fail("unexpected %T", v)
	return ""
}

func (d *decoder) int(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		return d.number(x)
	}
	d.fail("unexpected %T", v)
	return 0
}

// lenient reads an integer field of a task's record, which another program
// may have garbled: anything else than an integer reads as zero.
func (d *decoder) lenient(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	d.fail("unexpected %T", v)
	return 0
}

// lenientInstant reads an instant field of a task's record leniently (see
// lenient); zero and garbage are the zero time.
func (d *decoder) lenientInstant(v any) time.Time {
	if n := d.lenient(v); n != 0 {
		return time.UnixMicro(n)
	}
	return time.Time{}
}

// instant reads an optional unix-microseconds field; empty is the zero time.
func (d *decoder) instant(v string) time.Time {
	if v == "" {
		return time.Time{}
	}
	return time.UnixMicro(d.int(v))
}
