package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/internal/text"
)

// Flow is the workflow side of one run of a task: what the execution did
// (its flow, read from the store at the first primitive the run calls), the
// names the run has used, and its decision to park, once a primitive made
// it. A task that calls no primitive never reads anything.
type Flow struct {
	Store *store.Store
	Key   string
	Gen   string // the run's: only it may record what it did
	// MaxOutput is the most bytes of JSON a step's output, a child's
	// input or a perpetual task's next input may have (the docket's
	// WithMaxInputSize, as for results); 0 for no limit.
	MaxOutput int

	mu     sync.Mutex
	loaded bool
	data   store.Flow
	used   map[string]int
	park   *store.Park
	why    string
}

// ErrParked reports that the run parks: a primitive found that what it waits
// for has not happened yet. The task's function should return it (wrapped
// or not); whatever it returns, the run parks, and the workflow runs again
// when what it waits for happens.
var ErrParked = errors.New("docket: the workflow parks until what it waits for happens")

// ErrDuplicate reports a name used twice in one run for the same kind of
// primitive.
var ErrDuplicate = errors.New("docket: a name used twice in one run of a workflow")

// ErrChildFailed marks the error of a workflow's child that did not
// complete, as its workflow gets it: a workflow that returns it fails for
// good, since running it again would find the same child's outcome.
var ErrChildFailed = errors.New("docket: child")

// ErrSignalTimeout is workflow.ErrSignalTimeout, here so that sdk's
// TaskError can give it back to those who wait for a workflow that failed
// with it (see TaskError.Unwrap).
var ErrSignalTimeout = errors.New("docket: no signal came in time")

// ErrNoName reports a primitive called without a name.
var ErrNoName = errors.New("docket: a workflow primitive needs a name: names are how a run finds what an earlier run did")

// NoName is ErrNoName for what (a step, a signal, ...), wrapped as sdk's
// TaskError finds it by its text: ": " after it (see carriedByText).
func NoName(what string) error {
	return fmt.Errorf("%w: %s without one", ErrNoName, what)
}

// ErrKeyTaken, ErrNotAChild and ErrNotInTask are workflow's, here (as
// ErrSignalTimeout is) so that sdk's TaskError can give them back to those
// who wait for a workflow that failed with one (see TaskError.Unwrap).
var (
	ErrKeyTaken  = errors.New("docket: the child's key is taken")
	ErrNotAChild = errors.New("docket: not a child of this workflow")
	ErrNotInTask = errors.New("docket: workflow primitives run inside a task, with the task's context")
)

// Load reads the execution's flow, once per run. The lock is not held
// across the round trip: a read left behind by a run whose context ended
// (see workflow's promptly) must not block the run's other calls.
func (f *Flow) Load(ctx context.Context) (store.Flow, error) {
	f.mu.Lock()
	loaded := f.loaded
	f.mu.Unlock()
	if loaded {
		return f.snapshot(), nil
	}
	data, err := f.Store.ReadFlow(ctx, f.Key)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.loaded { // keep what the run recorded meanwhile (Set)
		for k, v := range f.data {
			data[k] = v
		}
		f.data, f.loaded = data, true
	}
	return f.data, nil
}

func (f *Flow) snapshot() store.Flow {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.data
}

// Used reports whether the run called a workflow primitive (which loads
// the flow first): whether it ran as a workflow.
func (f *Flow) Used() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loaded
}

// Lookup reads one field of the flow as loaded (see Load).
func (f *Flow) Lookup(field string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.data[field]
	return v, ok
}

// Set notes a field the run recorded.
func (f *Flow) Set(field, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.data == nil {
		f.data = store.Flow{}
	}
	f.data[field] = value
}

// Use claims a name of a kind of primitive (step, child, sleep) for this
// run: ErrDuplicate if the run used it already.
func (f *Flow) Use(kind, name string) error {
	if name == "" {
		return NoName("a " + kind)
	}
	if n := f.Count(kind + ":" + name); n > 1 {
		return fmt.Errorf("%w: %s %q", ErrDuplicate, kind, text.Truncate(name, ShownNameRunes))
	}
	return nil
}

// ShownNameRunes is how much of a primitive's name an error quotes: a name
// may be thousands of bytes.
const ShownNameRunes = 100

// Count counts the uses of an identity in this run, this one included: the
// n-th wait for a signal of one name is its n-th use.
func (f *Flow) Count(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.used == nil {
		f.used = map[string]int{}
	}
	f.used[id]++
	return f.used[id]
}

// Park decides that the run parks until p happens, unless it already
// decided to (the first decision stands: the run stops at its first wait).
// It returns the error the primitive returns, which wraps ErrParked.
func (f *Flow) Park(p store.Park, why string) error {
	f.mu.Lock()
	if f.park == nil {
		f.park, f.why = &p, why
	}
	f.mu.Unlock()
	return f.Err()
}

// Parked returns the run's decision to park and what it waits for; nil
// when it made none.
func (f *Flow) Parked() (*store.Park, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.park, f.why
}

// Err is ErrParked, wrapped, once the run decided to park: then no
// primitive does anything more.
func (f *Flow) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.park == nil {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrParked, f.why)
}

// StepRecord describes one run of a workflow step's function, for the
// testsuite.
type StepRecord struct {
	Workflow string // the workflow's key
	Name     string
	Start    time.Time
	End      time.Time
	Err      error
}
