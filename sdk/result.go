package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/docket-go/docket/internal/core"
	"github.com/docket-go/docket/policy"
)

// ResultTask is a task whose function returns a value: the result, stored
// as JSON with the execution (for as long as its record, see WithRetention)
// and returned to whoever waits for it (Result, Call), or to the workflow
// that started it as a child. It is a Task in every other way: the same
// policies, Add, Replace, AddMany and registration.
type ResultTask[In, Out any] struct {
	*Task[In]
}

// NewResultTask declares a task called name that runs fn with the policies
// given, and keeps what fn returns: Out's JSON encoding, when fn returns a
// nil error. See NewTask for the rest.
func NewResultTask[In, Out any](name string, fn func(ctx context.Context, in In) (Out, error), policies ...policy.Policy) *ResultTask[In, Out] {
	t := &Task[In]{name: name, policies: policies, result: reflect.TypeFor[Out](), made: true}
	if fn != nil {
		t.withResult = func(ctx context.Context, in In) (any, error) { return fn(ctx, in) }
	}
	return &ResultTask[In, Out]{Task: t}
}

// Add schedules the task with input in: see Task.Add.
func (t *ResultTask[In, Out]) Add(ctx context.Context, d *Docket, in In, opts ...AddOption) (*Execution, error) {
	task, err := t.inner()
	if err != nil {
		return nil, err
	}
	return task.Add(ctx, d, in, opts...)
}

// Replace schedules the task under a key whether or not it is live: see
// Task.Replace.
func (t *ResultTask[In, Out]) Replace(ctx context.Context, d *Docket, in In, opts ...AddOption) (*Execution, error) {
	task, err := t.inner()
	if err != nil {
		return nil, err
	}
	return task.Replace(ctx, d, in, opts...)
}

// AddMany schedules one task per input: see Task.AddMany.
func (t *ResultTask[In, Out]) AddMany(ctx context.Context, d *Docket, ins []In, opts ...AddOption) ([]*Execution, error) {
	task, err := t.inner()
	if err != nil {
		return nil, err
	}
	return task.AddMany(ctx, d, ins, opts...)
}

// Name is the task's name; empty for a nil *ResultTask.
func (t *ResultTask[In, Out]) Name() string {
	if t == nil {
		return ""
	}
	return t.Task.Name()
}

// Policies returns the task's validated policies: see Task.Policies.
func (t *ResultTask[In, Out]) Policies() (*policy.Set, error) {
	task, err := t.inner()
	if err != nil {
		return nil, err
	}
	return task.Policies()
}

// definition is the Task's, checked for a nil *ResultTask first.
func (t *ResultTask[In, Out]) definition() (*core.TaskDef, error) {
	task, err := t.inner()
	if err != nil {
		return nil, err
	}
	return task.definition()
}

// inner is the task t wraps: errNilTask for a nil t, and for a zero
// ResultTask (a struct literal, which has none) an error that says how to
// declare one.
func (t *ResultTask[In, Out]) inner() (*Task[In], error) {
	switch {
	case t == nil:
		return nil, errNilTask
	case t.Task == nil:
		return nil, fmt.Errorf("%w: a zero ResultTask (a struct literal): declare a task with sdk.NewResultTask(name, fn, policies...)", ErrBadTask)
	}
	return t.Task, nil
}

// Result waits for ex, an execution of this task, to finish, and returns its
// result: see the package function Result.
func (t *ResultTask[In, Out]) Result(ctx context.Context, ex *Execution) (Out, error) {
	return Result[Out](ctx, ex)
}

// Call adds the task with input in and waits for its result: Add, then
// Result. With a Key that is live already, it waits for that execution.
//
// It follows the execution (as Watch does) before adding it, so that a
// task that ends at once leaves its result for Call even on a docket that
// keeps no completed records (WithCompletedRetention(0)).
func (t *ResultTask[In, Out]) Call(ctx context.Context, d *Docket, in In, opts ...AddOption) (Out, error) {
	var zero Out
	if _, err := t.inner(); err != nil {
		return zero, err
	}
	if err := usable(ctx, d); err != nil {
		return zero, err
	}
	o := collectAdd(opts)
	if !o.Keyed && !o.KeysGiven {
		o.Key = newKey()
		opts = append(slices.Clip(opts), Key(o.Key))
	}
	if checkKey(o.Key) == nil {
		if _, err := d.core.Store.Follow(ctx, o.Key, d.core.WatchDuration()); err != nil {
			return zero, err
		}
	}
	ex, err := t.Add(ctx, d, in, opts...)
	if err != nil {
		return zero, err
	}
	return Result[Out](ctx, ex)
}

// Result waits until the execution ex finishes and returns its result,
// decoded from JSON into Out. It waits without polling: it follows the
// execution's changes as Watch does, and returns as soon as it ends, or
// when ctx does (with ctx's error).
//
// When the execution did not complete, the error is a *TaskError carrying
// the task's final error message and why it ended: errors.Is matches
// ErrTimeout, ErrCancelled, ErrPermanent or ErrBadInput as the case may be,
// and errors.As finds a *PanicError for a panic. A task without a result
// (NewTask) gives Out's zero value on success. ErrNotFound means no
// execution has the key, or its record is gone (finished longer ago than
// the retention; a docket with a zero completed retention keeps no
// result); ErrLost that its record vanished while it was live; ErrStruck
// that ex is an add a strike refused, so nothing was added.
func Result[Out any](ctx context.Context, ex *Execution) (Out, error) {
	var zero Out
	if err := ex.usable(ctx); err != nil {
		return zero, err
	}
	if ex.disposition == Struck {
		return zero, fmt.Errorf("%w: %q was not added, as a strike matches it (see Docket.Strikes)", ErrStruck, ex.key)
	}
	info, err := ex.wait(ctx)
	if err != nil {
		return zero, err
	}
	if err := info.Err(); err != nil {
		return zero, err
	}
	if len(info.Result) == 0 {
		return zero, nil
	}
	var out Out
	if err := json.Unmarshal(info.Result, &out); err != nil {
		return zero, fmt.Errorf("%w: the result of %q does not decode into %v: %w", ErrBadInput, ex.key, reflect.TypeFor[Out](), err)
	}
	return out, nil
}

// wait waits until the execution finishes, and returns its final record.
func (e *Execution) wait(ctx context.Context) (Info, error) {
	events, err := e.Watch(ctx)
	if err != nil {
		return Info{}, ctxErr(ctx, err)
	}
	var last Event
	for ev := range events {
		last = ev
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	if last.Err != nil {
		return Info{}, last.Err
	}
	info, err := e.Info(ctx)
	return info, ctxErr(ctx, err)
}

// Err is the error of an execution that ended without completing, as a
// *TaskError; nil for one that completed, or has not ended.
func (i Info) Err() error {
	if i.State != StateFailed && i.State != StateCancelled {
		return nil
	}
	return &TaskError{Key: i.Key, Task: i.Task, State: i.State, Reason: i.Reason, Message: i.Error}
}

// TaskError is how an execution that did not complete ended, as those who
// wait for it see it (Result, a workflow awaiting a child). Its message is
// the task's final error message; Unwrap gives the sentinel of its reason,
// so that errors.Is and errors.As work as they would on the task's own
// error: ErrTimeout, ErrPermanent, ErrCancelled, ErrBadInput, *PanicError,
// and for a workflow failed by a child, workflow.ErrChildFailed. A task
// that failed with an error of docket's own (or one wrapping it) keeps it
// too, told by its text in the message, which no other error says:
// workflow.ErrSignalTimeout (a workflow that returned the timeout of its
// wait for a signal, with ErrPermanent), ErrBadInput (a signal's payload
// that did not decode, a step's output that does not read back, an instant
// past the year 9999) and ErrInputTooLarge, and the errors of workflow's
// primitives used wrongly: workflow.ErrNotAChild (with ErrPermanent),
// workflow.ErrKeyTaken, workflow.ErrDuplicateName, workflow.ErrNoName and
// workflow.ErrNotInTask. The task's own error values do not travel
// through Redis, only their message: an errors.Is against an
// error of the task's own package does not match (testsuite.Env.Runs keeps
// each attempt's error as returned).
type TaskError struct {
	Key     string // the execution's key
	Task    string // the name of its task
	State   State  // StateFailed or StateCancelled
	Reason  string // as Info.Reason
	Message string // the task's final error message
}

// Error is the task's final error message, as its function returned it
// (what errors.New("card declined") says, not "docket: …"), so that a
// caller passes it on unchanged; when there is none (a cancel without a
// message), which execution ended how. The fields say the rest.
func (e *TaskError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("docket: task %q (%s) %s", e.Key, e.Task, e.State)
	}
	return e.Message
}

// Unwrap returns the sentinel of the execution's end, with docket's own
// errors its message carries: see TaskError.
func (e *TaskError) Unwrap() error {
	sentinel := e.reasonSentinel()
	if e.Reason != ReasonPermanent && e.Reason != ReasonError {
		return sentinel // the message is docket's account of the end, or a child's
	}
	var carried sentinels
	for _, s := range carriedByText {
		if wraps(e.Message, s.Error()) {
			carried = append(carried, s)
		}
	}
	if carried == nil {
		return sentinel
	}
	if sentinel != nil {
		carried = append(sentinels{sentinel}, carried...)
	}
	return carried
}

// carriedByText are docket's errors that a task's own error may hold, and
// that a TaskError tells by their text: each starts "docket: ", and no
// error but one made from it says it. Those that wrap one put ": " or a
// newline after its text (see wraps).
var carriedByText = []error{core.ErrSignalTimeout, core.ErrBadInput, core.ErrInputTooLarge,
	core.ErrNotAChild, core.ErrKeyTaken, core.ErrDuplicate, core.ErrNoName, core.ErrNotInTask}

// wraps reports whether msg is the text of an error that wraps one whose
// text is text, as fmt.Errorf and errors.Join write them: the whole
// message, or the text after ": " or a newline, and before ": ", a newline
// or the end. A sentence that merely mentions the text does not.
func wraps(msg, text string) bool {
	for at := 0; ; {
		i := strings.Index(msg[at:], text)
		if i < 0 {
			return false
		}
		start, end := at+i, at+i+len(text)
		before, after := msg[:start], msg[end:]
		if (before == "" || strings.HasSuffix(before, ": ") || strings.HasSuffix(before, "\n")) &&
			(after == "" || strings.HasPrefix(after, ": ") || strings.HasPrefix(after, "\n")) {
			return true
		}
		at = start + 1
	}
}

// sentinels is more than one sentinel at once, for errors.Is and errors.As.
type sentinels []error

func (s sentinels) Error() string {
	texts := make([]string, len(s))
	for i, err := range s {
		texts[i] = err.Error()
	}
	return strings.Join(texts, ": ")
}

func (s sentinels) Unwrap() []error { return s }

// reasonSentinel is the sentinel of the reason the execution ended for.
func (e *TaskError) reasonSentinel() error {
	switch e.Reason {
	case ReasonTimeout:
		return ErrTimeout
	case ReasonPermanent:
		return ErrPermanent
	case ReasonCancelled, ReasonDropped:
		return ErrCancelled
	case ReasonBadInput:
		return ErrBadInput
	case ReasonPanic:
		return panicFrom(e.Message)
	case ReasonChild:
		return core.ErrChildFailed
	}
	if e.State == StateCancelled {
		return ErrCancelled
	}
	return nil
}

// panicFrom rebuilds a *PanicError from its message: "panic: " the value,
// a blank line, then the stack, which starts "goroutine N [": the value's
// own text may hold blank lines.
func panicFrom(msg string) *PanicError {
	text := strings.TrimPrefix(msg, "panic: ")
	at := strings.Index(text, "\n\ngoroutine ")
	if at < 0 {
		return &PanicError{Value: text}
	}
	return &PanicError{Value: text[:at], Stack: []byte(text[at+2:])}
}

// Reasons an execution ended without completing, in Info.Reason. Those of
// failed executions are also the docket.reason attribute of the
// docket.tasks.failed counter; ReasonCancelled and ReasonDropped are not
// failures (a dropped submission is counted by docket.tasks.dropped).
const (
	ReasonError       = "error"        // the task returned an error, and no retry was left
	ReasonPermanent   = "permanent"    // the task returned Permanent(err)
	ReasonChild       = "child"        // an execution it awaited (a workflow's child) did not complete; not retried
	ReasonTimeout     = "timeout"      // its last attempt ran past its Timeout
	ReasonPanic       = "panic"        // its last attempt panicked
	ReasonUnknownTask = "unknown_task" // no worker that has its task took it in time
	ReasonBadInput    = "bad_input"    // its input did not decode, or its admission rules could not read it
	ReasonDeadLetter  = "dead_letter"  // its workers died while running it, MaxDeliveries times
	ReasonCorrupt     = "corrupt"      // its record was garbled by another program
	ReasonCancelled   = "cancelled"    // Cancel, Clear, Replace, or its workflow's end
	ReasonDropped     = "dropped"      // turned away by cooldown, debounce, or a rate limit with DropOverLimit
)
