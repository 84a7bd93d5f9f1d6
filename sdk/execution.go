package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/docket-go/docket/internal/store"
)

// Execution is a handle on the task with one key: what Add returned, or
// Docket.Execution for any key.
type Execution struct {
	d           *Docket
	key         string
	disposition Disposition
	due         time.Time
}

// Execution returns a handle on the task with key, without checking that
// there is one.
func (d *Docket) Execution(key string) *Execution {
	return &Execution{d: d, key: key}
}

// usable checks the context a call is given, and that e is an execution
// of an open docket with a key a task can have.
func (e *Execution) usable(ctx context.Context) error {
	if e == nil {
		return fmt.Errorf("%w: the *sdk.Execution is nil", ErrNilArgument)
	}
	return usableKey(ctx, e.d, e.key)
}

// Key is the task's key; empty for a nil Execution (AddMany's element for
// a task it could not confirm).
func (e *Execution) Key() string {
	if e == nil {
		return ""
	}
	return e.key
}

// Disposition says what the Add or Replace that returned e did; zero for a
// handle from Docket.Execution, and for a nil Execution.
func (e *Execution) Disposition() Disposition {
	if e == nil {
		return 0
	}
	return e.disposition
}

// Due is when the task was due when Add returned (for AlreadyScheduled,
// the existing task's due time); zero for a handle from Docket.Execution,
// and for a nil Execution.
func (e *Execution) Due() time.Time {
	if e == nil {
		return time.Time{}
	}
	return e.due
}

// State is where an execution is in its life.
type State string

// States of an execution.
const (
	StateScheduled State = "scheduled" // waiting for its due time
	StateQueued    State = "queued"    // due, waiting for a worker or a concurrency slot
	StateRunning   State = "running"   // a worker runs it
	StateParked    State = "parked"    // a workflow waiting for children, a signal or a sleep; it holds no worker
	StateStruck    State = "struck"    // held by a strike until it is restored (see Docket.Strike)
	StateCompleted State = "completed" // succeeded
	StateFailed    State = "failed"    // failed its last attempt, or could not run
	StateCancelled State = "cancelled" // cancelled or dropped
)

// Finished reports whether the state is final.
func (s State) Finished() bool {
	return s == StateCompleted || s == StateFailed || s == StateCancelled
}

// Info is an execution's record at one instant.
type Info struct {
	Key        string          // the execution's key
	Task       string          // the name of its task
	State      State           // where it is in its life
	Attempt    int             // the current or last attempt, 1-based
	Deliveries int             // times the current attempt (a workflow's current run) was handed to a worker, more than 1 after a worker died; 0 while it waits for its next (a retry, a snooze, a parked workflow)
	Input      json.RawMessage // its input, as JSON
	Due        time.Time       // when its current or last attempt was, or is, due (by the Redis clock)
	Created    time.Time       // when it was added (Retry and a perpetual chain keep it; a Replace, a new execution and a new submission to Debounce, sets it anew)
	Started    time.Time       // when a worker claimed the last attempt (one claimed ahead starts when a slot frees: see worker.Options.ClaimAhead); zero before the first
	Finished   time.Time       // zero until the execution ends
	Error      string          // why the last attempt failed, or why the execution ended
	Worker     string          // the worker of the last attempt
	// WaitingFor names the concurrency limit a queued task waits for a slot
	// of; empty otherwise. See Snapshot.Limits.
	WaitingFor string
	// Progress is the progress an attempt reported, kept once the attempt
	// ended and the next was to start afresh, or the execution ended.
	// Execution.Progress reads the live one: a running task's, and a
	// workflow's between its runs, which carries over to the next.
	Progress ProgressInfo
	// Result is what a task with a result (NewResultTask) returned, as
	// JSON, once it completed; see Result for it decoded.
	Result json.RawMessage
	// Reason says why an execution that did not complete ended (one of the
	// Reason… constants); Err gives it as an error.
	Reason string
	// Parent is, for a child a workflow started, the workflow's key, and
	// ChildName its name there.
	Parent    string
	ChildName string // see Parent
	// Workflow is what the execution did as a workflow: its steps, its
	// children, what it waits for; nil when it called no workflow
	// primitive.
	Workflow *WorkflowInfo
	// Trace is the W3C traceparent of the span that added the task, empty
	// when the producer had none: its trace ID finds the producer's trace
	// (each attempt's span links to it).
	Trace string
	// Retried is when Docket.Retry last made the execution run again;
	// zero if it never did.
	Retried time.Time
}

// Info reads the execution's record. It returns ErrNotFound when the key has
// none: never added, or finished longer ago than the retention.
func (e *Execution) Info(ctx context.Context) (Info, error) {
	if err := e.usable(ctx); err != nil {
		return Info{}, err
	}
	r, ok, err := e.d.core.Store.Info(ctx, e.key)
	if err != nil {
		return Info{}, err
	}
	if !ok {
		return Info{}, fmt.Errorf("%w: %q", ErrNotFound, e.key)
	}
	wf, err := e.d.workflowInfo(ctx, e.key)
	if err != nil {
		return Info{}, err
	}
	if wf != nil && r.State != store.StateParked {
		wf.WaitingFor = "" // what its last park waited for, which is over
	}
	return Info{
		Key:        r.Key,
		Task:       r.Name,
		State:      publicState(r.State, r.Due, r.Now),
		Attempt:    r.Attempt,
		Deliveries: r.Deliveries,
		Input:      r.Input,
		Due:        r.Due,
		Created:    r.Created,
		Started:    r.Started,
		Finished:   r.Finished,
		Error:      r.Error,
		Worker:     r.Worker,
		WaitingFor: r.WaitingFor,
		Progress:   progressInfo(r.Progress),
		Result:     r.Result,
		Reason:     r.Reason,
		Parent:     r.Parent,
		ChildName:  r.Child,
		Workflow:   wf,
		Trace:      r.Trace,
		Retried:    r.Retried,
	}, nil
}

// publicState tells queued from scheduled by the Redis clock's now; a task
// waiting for a concurrency slot is queued too.
func publicState(s store.State, due, now time.Time) State {
	if s == store.StateWaiting || s == store.StateScheduled && !due.After(now) {
		return StateQueued
	}
	return State(s)
}
