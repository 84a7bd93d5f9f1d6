package sdk

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"

	"github.com/docket-go/docket/internal/core"
	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/telemetry"
)

// MaxKeyLength is the longest task key, in bytes.
const MaxKeyLength = core.MaxKeyLength

// AddOption chooses the key and due time of an added task. Each option
// is given once per call: one given twice (two Keys, say), or At and After
// together, is ErrBadInput, as one would silently win over the other.
type AddOption func(*core.AddOptions)

// Key gives the task an explicit key. Adding a key that is scheduled,
// queued or running again does nothing (Disposition AlreadyScheduled).
// Without Key, each task gets a new UUIDv7. AddMany takes Keys instead (Key
// given to AddMany is ErrBadKey).
func Key(key string) AddOption {
	return func(o *core.AddOptions) {
		o.Key, o.Keyed = key, true
		o.Given(core.OptKey, "sdk.Key")
	}
}

// Keys gives the tasks of an AddMany their keys: key(i) is the key of the
// task of the i-th input. As with Key, a task whose key is scheduled, queued
// or running is left alone (AlreadyScheduled), so an AddMany that failed
// midway can be made again with the same inputs and keys: the tasks it added
// before are not added twice. (A task that has already ended frees its key:
// adding it again adds it again.) Only AddMany takes Keys (Add refuses it
// with ErrBadKey); Keys(nil) is an error matching ErrNilArgument.
func Keys(key func(i int) string) AddOption {
	return func(o *core.AddOptions) {
		o.Keys, o.KeysGiven = key, true
		o.Given(core.OptKeys, "sdk.Keys")
	}
}

// Spread spreads the tasks of an AddMany evenly over the window over: the
// i-th of n is due i·over/n after the time the other options make them due
// (now, At, After). 10,000 reminders over the next hour are one every
// 360ms, in one round trip per thousand. Only AddMany takes Spread; over
// must not be negative, nor longer than MaxSpread (ErrBadInput, as Spread
// given to Add is).
func Spread(over time.Duration) AddOption {
	return func(o *core.AddOptions) {
		o.Spread = over
		o.Given(core.OptSpread, "sdk.Spread")
	}
}

// Jitter moves each task of a Spread by a random offset within ±j/2, so
// that tasks added by several producers do not fall due in step; a task is
// never due before the window's start. Only AddMany takes Jitter; j must
// not be negative, nor longer than MaxSpread (ErrBadInput, as Jitter given
// to Add is).
func Jitter(j time.Duration) AddOption {
	return func(o *core.AddOptions) {
		o.Jitter = j
		o.Given(core.OptJitter, "sdk.Jitter")
	}
}

// MaxSignals is how many signals of one name may wait to be received by a
// workflow (see Docket.Signal).
const MaxSignals = store.MaxSignals

// MaxSpread is the longest Spread, and the longest Jitter: 100 years. A
// window of time.Duration's ~292 years would overflow once the due time's
// delay (After) or the jitter is added to it.
const MaxSpread = 100 * 365 * 24 * time.Hour

// At makes the task due at t. A time in the past means now: the task is
// due, and recorded as due, at the instant it is added. A time after the
// year 9999 is refused (ErrBadInput): cancel a task that should never run.
// The task is due at t in whole microseconds, rounded up; past June 2255,
// where Redis's numbers hold every 2nd to 32nd microsecond only, rounded
// up to the next they hold. Never before t, but in the last 32 µs of the
// year 9999, which round down to stay in it.
// One due time per add: At and After together, or either twice, is
// ErrBadInput.
func At(t time.Time) AddOption {
	return func(o *core.AddOptions) { o.When, o.Timed = store.When{At: t}, o.Timed+1 }
}

// After makes the task due d from now, by the Redis clock; a d of zero or
// less means now. With At, or given twice, it is ErrBadInput.
func After(d time.Duration) AddOption {
	return func(o *core.AddOptions) { o.When, o.Timed = store.When{After: d}, o.Timed+1 }
}

// Disposition says what an Add or Replace did.
type Disposition int

// Dispositions.
const (
	// Scheduled: the task was added.
	Scheduled Disposition = iota + 1
	// AlreadyScheduled: a task with the key was scheduled, queued or
	// running; it was left as it was.
	AlreadyScheduled
	// Replaced: a live task with the key was replaced.
	Replaced
	// Struck: a strike matches the task (see Docket.Strike): nothing was
	// added.
	Struck
)

// String is the disposition's name in lower case: "scheduled",
// "already scheduled", and so on.
func (d Disposition) String() string {
	switch d {
	case Scheduled:
		return "scheduled"
	case AlreadyScheduled:
		return "already scheduled"
	case Replaced:
		return "replaced"
	case Struck:
		return "struck"
	}
	return "unknown"
}

// Add schedules the task with input in; by default it is due now under a
// new key. An automatic perpetual or cron task (policy.Automatic) is keyed
// by its name instead: Add without Key (and AddByName, and AddMany without
// Keys) adds its one chain, and reports AlreadyScheduled while it lives.
func (t *Task[In]) Add(ctx context.Context, d *Docket, in In, opts ...AddOption) (*Execution, error) {
	return t.add(ctx, d, store.ModeAdd, in, opts)
}

// Replace schedules the task under a key whether or not a task with that
// key is live: a scheduled or queued task's input and due time are
// overwritten, and a running attempt is cancelled (its context ends with
// ErrCancelled and its result is ignored). The replacement starts once that
// attempt's function has returned, or, should it ignore its context, once
// it is abandoned 5 s later: not alongside it. Replace needs Key.
func (t *Task[In]) Replace(ctx context.Context, d *Docket, in In, opts ...AddOption) (*Execution, error) {
	return t.add(ctx, d, store.ModeReplace, in, opts)
}

func (t *Task[In]) add(ctx context.Context, d *Docket, mode store.Mode, in In, opts []AddOption) (*Execution, error) {
	if err := usable(ctx, d); err != nil {
		return nil, err
	}
	def, err := t.definition()
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("%w: task %q: %w", ErrBadInput, t.name, err)
	}
	if def.ReadBackInput != nil {
		if err := def.ReadBackInput(raw); err != nil {
			return nil, fmt.Errorf("task %q: %w", t.name, err)
		}
	}
	mode, opts = chainAdd(def, mode, opts)
	return d.addOne(ctx, mode, t.name, raw, opts)
}

// addsChain reports whether an add of the task def (nil when unknown) in
// mode with options o adds its one chain: an automatic task added without
// a key. Its chain is keyed by the task's name: AlreadyScheduled while it
// lives, never a second chain. (Replace still needs a key: with the name,
// it replaces the chain.)
func addsChain(def *core.TaskDef, mode store.Mode, o core.AddOptions) bool {
	return def != nil && def.Policies.Automatic() && mode == store.ModeAdd && !o.Keyed && !o.KeysGiven
}

// chainAdd keys a single add that adds a chain (see addsChain) by the
// task's name, and marks it the chain's.
func chainAdd(def *core.TaskDef, mode store.Mode, opts []AddOption) (store.Mode, []AddOption) {
	if !addsChain(def, mode, collectAdd(opts)) {
		return mode, opts
	}
	return store.ModeSeed, append([]AddOption{Key(def.Name)}, opts...)
}

// AddMany schedules one task per input, in one round trip to Redis per
// thousand tasks, one after the other, so that those to run at once are
// claimed in the order of ins (see package worker). Each gets a new key, unless
// Keys gives them theirs; Key is not allowed here. exs[i] is the execution
// of ins[i].
//
// On error, once some tasks may have been sent, exs still has one element
// per input: exs[i] is the execution of ins[i] when Redis confirmed it
// (Scheduled, or AlreadyScheduled for a key that was live), and nil when
// AddMany cannot tell whether it was added: its call failed or was cut short
// (a cancelled ctx, a lost connection: the call may have run all the same),
// or was never made, since no call starts after one failed. To retry safely,
// give the tasks keys with Keys and make the same AddMany again: it adds
// none twice. Before anything is sent (an input that is not valid JSON, a
// bad key), exs is nil.
func (t *Task[In]) AddMany(ctx context.Context, d *Docket, ins []In, opts ...AddOption) (exs []*Execution, err error) {
	if err := usable(ctx, d); err != nil {
		return nil, err
	}
	def, err := t.definition()
	if err != nil {
		return nil, err
	}
	o := collectAdd(opts)
	if err := o.Check(); err != nil {
		return nil, err
	}
	if o.Keyed {
		return nil, fmt.Errorf("%w: AddMany takes Keys, not Key (use Add for a single keyed task)", ErrBadKey)
	}
	if o.KeysGiven && o.Keys == nil { // else every task would get a new key, and a retry add them twice
		return nil, fmt.Errorf("%w: sdk.Keys(nil): give the function that keys each input", ErrNilArgument)
	}
	mode := store.ModeAdd
	if addsChain(def, mode, o) { // the first is Scheduled, the others AlreadyScheduled
		mode = store.ModeSeed
		o.Keys = func(int) string { return t.name }
	}
	if err := checkSpread(o); err != nil {
		return nil, err
	}
	tasks := make([]store.NewTask, len(ins))
	var keys keySource
	for i, in := range ins {
		raw, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("%w: task %q, input %d: %w", ErrBadInput, t.name, i, err)
		}
		if def.ReadBackInput != nil {
			if err := def.ReadBackInput(raw); err != nil {
				return nil, fmt.Errorf("task %q, input %d: %w", t.name, i, err)
			}
		}
		if err := d.checkEncoded(t.name, raw); err != nil {
			return nil, err
		}
		var key string
		if o.Keys != nil {
			key = o.Keys(i)
			if err := checkKey(key); err != nil {
				return nil, fmt.Errorf("%w (the key of input %d)", err, i)
			}
		} else {
			key = keys.next()
		}
		tasks[i] = store.NewTask{Key: key, Name: t.name, Input: raw, When: spread(o, i, len(ins))}
	}
	if len(tasks) == 0 {
		return []*Execution{}, nil
	}
	return d.addTasks(ctx, mode, tasks, o.Keys == nil)
}

// checkSpread refuses a Spread or Jitter that is negative or over
// MaxSpread, and a window that would end past time.Duration's range after
// After's delay: the offsets would overflow (rand.N panics, a due time
// wraps to the past).
func checkSpread(o core.AddOptions) error {
	if o.Spread < 0 || o.Jitter < 0 || o.Spread > MaxSpread || o.Jitter > MaxSpread {
		return fmt.Errorf("%w: Spread (%v) and Jitter (%v) must be between 0 and %v (sdk.MaxSpread)",
			ErrBadInput, o.Spread, o.Jitter, MaxSpread)
	}
	if o.When.After > math.MaxInt64-o.Spread-o.Jitter {
		return fmt.Errorf("%w: After (%v) plus Spread (%v) and Jitter (%v) is beyond %v",
			ErrBadInput, o.When.After, o.Spread, o.Jitter, time.Duration(math.MaxInt64))
	}
	return nil
}

// AddByName schedules the task called name with JSON input, for producers
// that do not link the task's function. When the task is registered on d,
// the input is checked against its type now; otherwise a worker that cannot
// decode it records the failure. A name NewTask does not take (longer than
// 1024 bytes, or not UTF-8 text), which no worker could run, is
// ErrBadInput.
func (d *Docket) AddByName(ctx context.Context, name string, input json.RawMessage, opts ...AddOption) (*Execution, error) {
	if err := usable(ctx, d); err != nil {
		return nil, err
	}
	if name == "" {
		return nil, fmt.Errorf("%w: empty task name", ErrBadInput)
	}
	if err := core.CheckTaskName(name); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	def := d.core.Task(name)
	if def != nil {
		if _, err := def.Decode(input); err != nil {
			return nil, err
		}
	}
	mode, opts := chainAdd(def, store.ModeAdd, opts)
	return d.addOne(ctx, mode, name, input, opts)
}

func (d *Docket) addOne(ctx context.Context, mode store.Mode, name string, raw []byte, opts []AddOption) (*Execution, error) {
	o := collectAdd(opts)
	if err := o.Check(); err != nil {
		return nil, err
	}
	if o.KeysGiven {
		return nil, fmt.Errorf("%w: Keys is for AddMany; use Key for a single task", ErrBadKey)
	}
	if o.Spread != 0 || o.Jitter != 0 {
		return nil, fmt.Errorf("%w: Spread and Jitter are for AddMany; use At or After for a single task", ErrBadInput)
	}
	if mode == store.ModeReplace && !o.Keyed {
		return nil, fmt.Errorf("%w: Replace needs a Key", ErrBadKey)
	}
	made := !o.Keyed
	if made {
		o.Key = newKey()
	}
	if err := checkKey(o.Key); err != nil {
		return nil, err
	}
	if err := d.checkInput(name, raw); err != nil {
		return nil, err
	}
	exs, err := d.addTasks(ctx, mode, []store.NewTask{{
		Key: o.Key, Name: name, Input: raw, When: o.When,
	}}, made)
	if err != nil {
		return nil, err
	}
	return exs[0], nil
}

// addTasks adds tasks (all of one task name) in a producer span, whose
// trace context travels with them: each attempt's span links to it. On
// error, it returns an element per task all the same: nil for those Redis
// did not confirm (see AddMany).
//
// keysMade says the tasks' keys were made for this call (newKey): one
// Redis already has was added by this very call, sent again by go-redis
// after the network lost its reply (MaxRetries), and is Scheduled.
func (d *Docket) addTasks(ctx context.Context, mode store.Mode, tasks []store.NewTask, keysMade bool) (_ []*Execution, err error) {
	verb := mode
	if mode == store.ModeSeed { // an add of an automatic task's chain (see chainAdd)
		verb = store.ModeAdd
	}
	ctx, span := d.producerSpan(ctx, string(verb)+" "+tasks[0].Name,
		attribute.String(telemetry.AttrTask, tasks[0].Name), attribute.Int(telemetry.AttrCount, len(tasks)))
	defer func() { endSpan(span, err) }()
	if len(tasks) == 1 {
		span.SetAttributes(attribute.String(telemetry.AttrKey, tasks[0].Key))
	}
	trace := telemetry.InjectTrace(ctx)
	for i := range tasks {
		tasks[i].Trace = trace
	}
	res, err := d.core.Store.Add(ctx, mode, tasks)
	exs := make([]*Execution, len(res))
	added := 0
	for i, r := range res {
		if r.Code == store.Unconfirmed {
			continue
		}
		disp := Scheduled
		switch r.Code {
		case store.Existed:
			if !keysMade {
				disp = AlreadyScheduled
			}
		case store.Superseded:
			disp = Replaced
		case store.Refused:
			disp = Struck
		}
		if disp != AlreadyScheduled && disp != Struck {
			added++
		}
		exs[i] = &Execution{d: d, key: tasks[i].Key, disposition: disp, due: r.Due}
	}
	if len(exs) == 1 && exs[0] != nil {
		span.SetAttributes(attribute.String(telemetry.AttrDisposition, exs[0].disposition.String()))
	}
	d.metrics.Added.Add(ctx, int64(added), d.metrics.Task(d.core.Name, tasks[0].Name).Add...)
	return exs, err
}

func (d *Docket) checkInput(name string, raw []byte) error {
	if err := d.checkSize(name, raw); err != nil {
		return err
	}
	if !json.Valid(raw) {
		return fmt.Errorf("%w: task %q: input is not valid JSON", ErrBadInput, name)
	}
	return notNull(name, raw)
}

// checkEncoded checks an input json.Marshal wrote, valid JSON (a
// MarshalJSON's output is checked by json.Marshal itself), as checkInput
// does.
func (d *Docket) checkEncoded(name string, raw []byte) error {
	if err := d.checkSize(name, raw); err != nil {
		return err
	}
	return notNull(name, raw)
}

// notNull refuses a null input, which decodes into any input type as its
// zero value: a task would run with an input nobody gave it.
func notNull(name string, raw []byte) error {
	if string(bytes.TrimSpace(raw)) == "null" {
		return fmt.Errorf("%w: task %q: input is null", ErrBadInput, name)
	}
	return nil
}

// checkSize refuses an input over the docket's limit.
func (d *Docket) checkSize(name string, raw []byte) error {
	return core.CheckSize(raw, d.core.MaxInputSize, func() string { return fmt.Sprintf("task %q: its input", name) })
}

func checkKey(key string) error { return core.CheckKey(key) }

// spread is when the i-th of n tasks of an AddMany is due (see Spread).
func spread(o core.AddOptions, i, n int) store.When {
	if o.Spread == 0 && o.Jitter == 0 {
		return o.When
	}
	offset := time.Duration(int64(o.Spread) / int64(n) * int64(i))
	if o.Jitter > 0 {
		offset += rand.N(o.Jitter+1) - o.Jitter/2
	}
	offset = max(offset, 0)
	if !o.When.At.IsZero() {
		return store.When{At: o.When.At.Add(offset)}
	}
	return store.When{After: o.When.After + offset}
}

func collectAdd(opts []AddOption) core.AddOptions { return core.Collect(opts) }

func newKey() string {
	return uuid.Must(uuid.NewV7()).String()
}

// A keySource makes the keys of an AddMany, as newKey does, from
// randomness read keySourceBatch keys at a time: one read of the system's
// source for many keys rather than one each (a tenth of the CPU an AddMany
// spent, in profiles). The zero value is ready to use.
type keySource struct {
	buf    []byte
	random []byte // what is left of buf
}

// keySourceBatch is how many keys' randomness a keySource reads at once.
const keySourceBatch = 256

func (s *keySource) next() string {
	return uuid.Must(uuid.NewV7FromReader(s)).String()
}

// Read gives the next unused random bytes, reading more when too few are
// left (uuid.NewRandomFromReader asks for 16 at a time).
func (s *keySource) Read(p []byte) (int, error) {
	if len(s.random) < len(p) {
		if s.buf == nil {
			s.buf = make([]byte, 16*keySourceBatch)
		}
		crand.Read(s.buf) // never fails (see crypto/rand.Read)
		s.random = s.buf
	}
	n := copy(p, s.random)
	s.random = s.random[n:]
	return n, nil
}

// Cancel ends a scheduled, queued or running task as cancelled. A running
// task's context is cancelled with ErrCancelled and its result ignored; its
// concurrency slots, and a task added under its key meanwhile, wait until
// its function has returned (or, should it ignore its context, is abandoned
// 5 s later). It returns ErrNotFound when no live task has the key.
func (d *Docket) Cancel(ctx context.Context, key string) (err error) {
	if err := usableKey(ctx, d, key); err != nil {
		return err
	}
	ctx, span := d.producerSpan(ctx, "cancel", attribute.String(telemetry.AttrKey, key))
	defer func() { endSpan(span, err) }()
	ok, err := d.core.Store.Cancel(ctx, key, d.core.Retention)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %q is not scheduled, queued, parked, held or running", ErrNotFound, key)
	}
	// A workflow's children: at once, rather than at the workers' next
	// look. The cancel is done whatever comes of this: should it fail, the
	// workers cancel them.
	if err := d.core.Store.Reap(ctx, d.core.Retention); err != nil {
		d.core.Logger.Warn("docket: cancelled; its workflow's children are left to the workers", "key", key, "error", err)
	}
	return nil
}

// Signal sends the workflow with key a signal called name, carrying payload
// (encoded as JSON), which a run of the workflow receives with
// workflow.WaitSignal: at once if it is parked waiting for it, or when it
// reaches the wait. Signals of one name are received in the order sent;
// MaxSignals of them at most wait to be received (one more is refused with
// ErrTooManySignals). It returns ErrNotFound when no live execution has the
// key. A live task that is not a workflow keeps the signal (it shows in
// Info.Workflow.Signals) until it ends: nothing receives it.
//
// A call whose reply the network lost, and which go-redis sends again
// (see redis.Options.MaxRetries), delivers its signal once. Two calls are
// two signals, even with the same payload.
func (d *Docket) Signal(ctx context.Context, key, name string, payload any) (err error) {
	if err := usableKey(ctx, d, key); err != nil {
		return err
	}
	if name == "" {
		return fmt.Errorf("%w: a signal with an empty name: workflow.WaitSignal receives signals by name", ErrBadInput)
	}
	ctx, span := d.producerSpan(ctx, "signal "+name, attribute.String(telemetry.AttrKey, key))
	defer func() { endSpan(span, err) }()
	raw, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("%w: signal %q: %w", ErrBadInput, name, err)
	}
	if err := core.CheckSize(raw, d.core.MaxInputSize, func() string { return fmt.Sprintf("signal %q: its payload", name) }); err != nil {
		return err
	}
	ok, err := d.core.Store.Signal(ctx, key, name, raw)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %q is not a live workflow", ErrNotFound, key)
	}
	return nil
}

// Clear cancels every task of the docket that is not running: scheduled,
// queued, waiting for a slot, parked (a workflow, whose live children are
// then cancelled too) and held by a strike; running tasks are left to
// finish. It returns how many it cancelled.
func (d *Docket) Clear(ctx context.Context) (int, error) {
	if err := usable(ctx, d); err != nil {
		return 0, err
	}
	return d.core.Store.Clear(ctx, d.core.Retention)
}
