package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/policy"
)

// Docket is the state behind an sdk.Docket.
type Docket struct {
	Name         string
	Store        *store.Store
	Logger       *slog.Logger
	Retention    time.Duration // how long finished executions are kept
	MaxInputSize int           // bytes of JSON input accepted by Add

	// CompletedRetention is how long completed executions are kept; zero
	// deletes their records at once.
	CompletedRetention time.Duration

	// Hooks are set by the testsuite before any worker starts.
	Hooks Hooks

	// WatchFor is how long a watch registration lasts (Watch, Result,
	// Call), renewed every third of it; zero is store.WatchFor. The
	// testsuite sets an hour (see its watchFor).
	WatchFor time.Duration

	// Idle lets the testsuite wait until workers have nothing to do.
	Idle Idle

	mu      sync.Mutex // serializes registration
	tasks   atomic.Pointer[map[string]*TaskDef]
	changed chan struct{} // closed by the next registration; nil until asked for

	runsMu   sync.Mutex
	closing  chan struct{}  // closed by Close
	closed   bool           // Close was called
	runs     sync.WaitGroup // worker runs under way
	released atomic.Bool    // Close stopped the runs: the connection goes
}

// ErrClosed reports a docket that was closed: workers stop, and a worker
// started later refuses to run.
var ErrClosed = errors.New("docket: the docket is closed")

// BeginRun counts a worker run that starts; it returns ErrClosed when the
// docket is closed. The run stops when Closing is closed, and calls EndRun
// when it has stopped.
func (d *Docket) BeginRun() error {
	d.runsMu.Lock()
	defer d.runsMu.Unlock()
	if d.closed {
		return ErrClosed
	}
	d.runs.Add(1)
	return nil
}

// Closed reports whether Close has stopped the worker runs and is
// releasing the connection: calls made from then on are refused. Until
// then the docket serves calls, those of tasks reacting to the shutdown
// included.
func (d *Docket) Closed() bool { return d.released.Load() }

// EndRun counts a worker run that has stopped.
func (d *Docket) EndRun() { d.runs.Done() }

// Closing is closed when the docket is being closed.
func (d *Docket) Closing() <-chan struct{} {
	d.runsMu.Lock()
	defer d.runsMu.Unlock()
	if d.closing == nil {
		d.closing = make(chan struct{})
	}
	return d.closing
}

// StopRuns tells the worker runs to stop, and waits until they have: then
// nothing uses the store any more. Runs that begin later are refused.
func (d *Docket) StopRuns() {
	d.runsMu.Lock()
	if !d.closed {
		d.closed = true
		if d.closing == nil {
			d.closing = make(chan struct{})
		}
		close(d.closing)
	}
	d.runsMu.Unlock()
	d.runs.Wait()
	d.released.Store(true)
}

// Handle is how an sdk.Docket holds its core so that the packages of this
// module (worker, testsuite, ui) can reach it and no other can: sdk.Docket
// embeds it under an unexported alias, which promotes the unexported method
// below into sdk.Docket's method set, so *sdk.Docket satisfies Wrapper.
// Code outside this module can neither import core nor call the method;
// nothing of it shows in sdk's documentation.
//
// It replaces a function variable that sdk set from init: a package-level
// mutable variable that every user of the core depended on being set, and
// that nothing checked at compile time.
type Handle struct{ docket *Docket }

// NewHandle returns the handle of d, for sdk.Docket to embed.
func NewHandle(d *Docket) Handle { return Handle{docket: d} }

func (h Handle) unwrap() *Docket { return h.docket }

// Wrapper is what embeds a Handle: *sdk.Docket.
type Wrapper interface{ unwrap() *Docket }

// Unwrap returns the core of an *sdk.Docket.
func Unwrap(d Wrapper) *Docket { return d.unwrap() }

// TaskDef is a registered task, with its input type erased.
type TaskDef struct {
	Name     string
	Input    reflect.Type
	Policies *policy.Set
	// Decode turns JSON input into a value of the input type.
	Decode func(raw []byte) (any, error)
	// Call runs the task's function on a decoded input. result is what a
	// task with a result returned; nil for a task without one.
	Call func(ctx context.Context, in any) (result any, err error)
	// Result is the type of the task's result; nil for a task without one.
	Result reflect.Type
	// ReadBackInput and ReadBackResult, when not nil, report JSON of an
	// input or a result that does not decode back into its type: set for a
	// type that holds an interface with methods (a field of type error),
	// whose non-nil values JSON writes as it cannot read ({}). Nil for the
	// others: their JSON always reads back.
	ReadBackInput, ReadBackResult func(raw []byte) error
	// Owner is the task value (the *sdk.Task) that built this definition:
	// two definitions are the same task only when they have the same owner.
	// Comparing functions instead would make the answer depend on what the
	// compiler inlines and on whether two closures share their code.
	Owner any
}

// ErrTaskConflict reports another task under a registered name.
var ErrTaskConflict = errors.New("docket: another task is registered under this name")

// Register adds task definitions to the registry, all or none. Registering
// the same task (the same Owner) again is allowed; another task under a
// taken name is ErrTaskConflict; a scoped limit that contradicts another
// task's in its scope is a *policy.Error wrapping policy.ErrConflict (see
// scopes).
func (d *Docket) Register(defs ...*TaskDef) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	next := map[string]*TaskDef{}
	if cur := d.tasks.Load(); cur != nil {
		for k, v := range *cur {
			next[k] = v
		}
	}
	for _, def := range defs {
		if old, ok := next[def.Name]; ok && old.Owner != def.Owner {
			return fmt.Errorf("%w: %q was registered by another sdk.NewTask call; each call makes a task of its own, "+
				"even with the same function: declare the task once (say, in a package-level var) and register that value",
				ErrTaskConflict, def.Name)
		}
		next[def.Name] = def
	}
	if err := checkScopes(next, defs); err != nil {
		return err
	}
	d.tasks.Store(&next)
	if d.changed != nil {
		close(d.changed)
		d.changed = nil
	}
	return nil
}

// Changed returns a channel that the next registration closes: a running
// worker waits on it to start what newly registered tasks need at once.
func (d *Docket) Changed() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.changed == nil {
		d.changed = make(chan struct{})
	}
	return d.changed
}

// Task returns the registered task called name, or nil.
func (d *Docket) Task(name string) *TaskDef { return d.Registry().Task(name) }

// Registry returns the tasks registered now: a snapshot, which later
// registrations leave as it is.
func (d *Docket) Registry() Registry { return Registry{tasks: d.tasks.Load()} }

// Registry is the registered tasks at one moment (see Docket.Registry). Two
// snapshots are equal (==) when no registration came between them. The
// zero Registry has no tasks.
type Registry struct{ tasks *map[string]*TaskDef }

// Task returns the task called name in the snapshot, or nil.
func (r Registry) Task(name string) *TaskDef {
	if r.tasks == nil {
		return nil
	}
	return (*r.tasks)[name]
}

// Tasks returns every task of the snapshot.
func (r Registry) Tasks() []*TaskDef {
	if r.tasks == nil {
		return nil
	}
	out := make([]*TaskDef, 0, len(*r.tasks))
	for _, def := range *r.tasks {
		out = append(out, def)
	}
	return out
}

// Chains returns the names of the registered tasks whose runs form chains:
// those with a Perpetual or Cron policy.
func (d *Docket) Chains() []string {
	var names []string
	for _, def := range d.Tasks() {
		if def.Policies.Perpetual != nil || def.Policies.Cron != nil {
			names = append(names, def.Name)
		}
	}
	return names
}

// Tasks returns every registered task.
func (d *Docket) Tasks() []*TaskDef { return d.Registry().Tasks() }

// Hooks observe a worker, for the testsuite.
type Hooks struct {
	// AttemptDone is called after each attempt that ran the task's function.
	AttemptDone func(AttemptRecord)
	// StepDone is called after each run of a workflow step's function.
	StepDone func(StepRecord)
	// Calls is called with 1 when a task's function starts and -1 when it
	// returns, abandoned ones (that ignored their context) included.
	Calls func(delta int)
	// Watching is called when a caller starts to watch a task (Watch, and
	// Result and Call, which watch it to its end).
	Watching func()
}

// AttemptRecord describes one attempt that ran a task's function.
type AttemptRecord struct {
	Key     string
	Task    string
	Attempt int
	Start   time.Time
	End     time.Time
	Input   []byte
	Err     error
}

// WatchDuration is how long a watch registration lasts (see WatchFor).
func (d *Docket) WatchDuration() time.Duration {
	if d.WatchFor > 0 {
		return d.WatchFor
	}
	return store.WatchFor
}

// checkScopes checks the scoped limits of the tasks added against those of
// the others in the registry next (which holds them all): the tasks there
// before first, by name, so that an error names a task added.
func checkScopes(next map[string]*TaskDef, added []*TaskDef) error {
	adding := map[string]bool{}
	for _, def := range added {
		adding[def.Name] = true
	}
	var seen scopes
	for _, name := range slices.Sorted(maps.Keys(next)) {
		if !adding[name] {
			_ = seen.add(name, next[name].Policies) // they agreed when registered
		}
	}
	for _, def := range added {
		if err := seen.add(def.Name, def.Policies); err != nil {
			return err
		}
	}
	return nil
}
