package sdk

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/docket-go/docket/internal/core"
	"github.com/docket-go/docket/internal/store"
)

var (
	// ErrNotFound reports that no execution has the key: none was added,
	// or it finished longer ago than the retention.
	ErrNotFound = errors.New("docket: task not found")

	// ErrLost reports, in the last Event of a watch, an execution whose
	// record vanished while it was live: Redis lost it (a restart without
	// persistence, an eviction, a flush) while the watch was cut off from
	// Redis. Whether the task ran is unknown; it is not reported completed,
	// since nobody saw it complete.
	ErrLost = errors.New("docket: task lost")

	// ErrTaskConflict reports a task registered under a name that another
	// task (the *Task of another NewTask call) holds on the docket.
	ErrTaskConflict = core.ErrTaskConflict

	// ErrInputTooLarge reports JSON larger than the docket accepts (see
	// WithMaxInputSize): a task's input, a signal's payload, a result, a
	// workflow step's output; and a progress message longer than
	// MaxProgressMessage.
	ErrInputTooLarge = core.ErrInputTooLarge

	// ErrBadInput reports input that is not valid JSON, is null, or does not
	// decode into the task's input type (or, for a task with admission
	// rules, is not a JSON object the rules can read); an option out of its
	// range (a due time after the year 9999, a negative Limit, a Spread
	// beyond MaxSpread); or, at Register, an input or result type JSON
	// cannot encode or decode, or an input type that is not a struct. A
	// value whose JSON does not decode back into its type (a non-nil error
	// in a field of type error, which JSON writes as {}) is ErrBadInput
	// too: an input at Add; a result fails its attempt, permanently (the
	// execution's error then matches ErrPermanent, and says so).
	ErrBadInput = core.ErrBadInput

	// ErrBadKey reports an unusable task key: an empty one, or one longer
	// than MaxKeyLength (1024 bytes). Any other bytes are fine. Given to a
	// call that names a task (Cancel, RunNow, Retry, Signal, Watch, an
	// Execution's Info, Progress, Result), such a key's error matches
	// ErrNotFound too: no task has it.
	ErrBadKey = core.ErrBadKey

	// ErrBadURL reports a URL that Open cannot use: malformed, an unknown
	// scheme, or options go-redis does not know.
	ErrBadURL = store.ErrBadURL

	// ErrUnreachable reports a Redis server that did not answer Open's ping
	// (refused, timed out, or refused the credentials).
	ErrUnreachable = store.ErrUnreachable

	// ErrBadName reports a docket name that cannot be used in Redis keys.
	ErrBadName = store.ErrBadName

	// ErrTooManySignals reports a signal refused because MaxSignals of its
	// name already wait to be received by the workflow.
	ErrTooManySignals = store.ErrTooManySignals

	// ErrStruck reports a wait for the result of an add that a strike
	// refused (Disposition Struck): nothing was added, so nothing will end.
	// Call and Result return it.
	ErrStruck = errors.New("docket: a strike refused the task")

	// ErrClosed reports a docket that was closed: its workers' Run returns
	// an error that matches it, and so does every call made on it after
	// Close.
	ErrClosed = core.ErrClosed
)

// Causes of a task's context being cancelled, for context.Cause.
var (
	// ErrTimeout: the attempt ran past its Timeout policy's deadline, which
	// is also the task context's deadline. It matches
	// context.DeadlineExceeded with errors.Is, like the context's Err.
	ErrTimeout error = timeoutError{}
	// ErrCancelled: the task was cancelled, or replaced, while it ran.
	ErrCancelled = errors.New("docket: task cancelled")
	// ErrLeaseLost: the worker lost the task's lease (it could not renew it
	// in time) and another worker may run it.
	ErrLeaseLost = errors.New("docket: task lease lost")
	// ErrShutdown: the worker stopped, and its drain timeout ran out or the
	// docket was closed; the task goes back to the queue.
	ErrShutdown = errors.New("docket: worker shutting down")
)

// ErrPermanent marks a failure that the retry policy must not retry: the
// execution ends failed on this attempt (a perpetual or cron chain goes on
// with its next run, as after any failure). Return Permanent(err) from a
// task; errors.Is(err, ErrPermanent) tells one.
var ErrPermanent = errors.New("docket: permanent failure")

// Permanent wraps err as a failure the retry policy must not retry. The
// execution's recorded error is err's message; errors.Is and errors.As see
// both err and ErrPermanent. Permanent(nil) is ErrPermanent.
func Permanent(err error) error {
	if err == nil {
		return ErrPermanent
	}
	return &permanentError{err: err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string   { return e.err.Error() }
func (e *permanentError) Unwrap() []error { return []error{e.err, ErrPermanent} }

// Snooze ends the attempt without failing it, and runs it again after d
// (at once when d <= 0): return it from a task that finds it cannot
// proceed yet (an upstream not ready, a rate limit). A snooze is not an
// attempt in the retry policy's count: the next run has the same attempt
// number. It counts as no delivery either (Info.Deliveries starts again),
// and it frees the task's concurrency slots meanwhile. In a perpetual or
// cron task, the run is snoozed, and the chain goes on after it.
func Snooze(d time.Duration) error {
	return &SnoozeError{Delay: max(d, 0)}
}

// SnoozeError is the error Snooze returns; errors.As finds it through
// wrapping.
type SnoozeError struct {
	Delay time.Duration // how long after now the attempt runs again
}

// Error says for how long.
func (e *SnoozeError) Error() string { return fmt.Sprintf("docket: snoozed for %v", e.Delay) }

// DecodeError reports task input that does not decode into the task's
// input type. It wraps ErrBadInput.
type DecodeError struct {
	Task string       // the task's name
	Type reflect.Type // its input type
	Err  error        // what encoding/json said
}

// Error says which task's input did not decode, into what, and why.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("docket: task %q: input does not decode into %v: %v", e.Task, e.Type, e.Err)
}

// Unwrap returns ErrBadInput and the decoding error.
func (e *DecodeError) Unwrap() []error { return []error{ErrBadInput, e.Err} }

// PanicError is a task function's panic, recovered by the worker: a failed
// attempt.
type PanicError struct {
	// Value is what the function panicked with. A PanicError found in a
	// *TaskError (from Result or Call, read back from Redis) carries its
	// text, as %v printed it: panic(42) gives "42".
	Value any
	Stack []byte // the goroutine's stack when it panicked
}

// Error is "panic: ", the value, a blank line, then the stack.
func (e *PanicError) Error() string {
	return fmt.Sprintf("panic: %v\n\n%s", e.Value, e.Stack)
}

// timeoutError is ErrTimeout: a deadline that passed, as
// context.DeadlineExceeded is.
type timeoutError struct{}

func (timeoutError) Error() string { return "docket: task timed out" }

// Is makes errors.Is(ErrTimeout, context.DeadlineExceeded) true.
func (timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// Timeout reports true, as net.Error's Timeout does for a deadline.
func (timeoutError) Timeout() bool { return true }

// ErrNilArgument reports a nil context.Context, *Docket, *Execution or task
// passed where one is needed.
var ErrNilArgument = errors.New("docket: nil argument")

// ErrBadOption reports an Open option whose value cannot be used: a
// retention that is not positive, a negative completed retention, a largest
// input that is not positive.
var ErrBadOption = errors.New("docket: invalid option")

// ErrBadTask reports a task Register cannot take: it has no name, a name
// longer than a key may be or not UTF-8 text, or a nil function. (A task whose input type
// cannot be decoded, or is not a struct, is refused with ErrBadInput.)
var ErrBadTask = errors.New("docket: invalid task")

// errNilDocket is the error of a call given a nil *Docket.
var errNilDocket = fmt.Errorf("%w: the *sdk.Docket is nil (open one with sdk.Open)", ErrNilArgument)

// errNilTask is the error of a nil task given to Register or a workflow.
var errNilTask = fmt.Errorf("%w: the task is nil", ErrNilArgument)

// usable checks the context and docket a call is given.
func usable(ctx context.Context, d *Docket) error {
	if ctx == nil {
		return fmt.Errorf("%w: the context.Context is nil (pass context.Background() or a request's context)", ErrNilArgument)
	}
	if d == nil || d.core == nil {
		return errNilDocket
	}
	if d.core.Closed() {
		return ErrClosed
	}
	return nil
}

// usableKey is usable for a call that names a task by key: a key no task
// can have (empty, or longer than MaxKeyLength) is an error matching both
// ErrBadKey, for what is wrong with it, and ErrNotFound, since no task has
// it (which callers of Cancel or Info test for).
func usableKey(ctx context.Context, d *Docket, key string) error {
	if err := usable(ctx, d); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return also(fmt.Errorf("%w: no task has it", err), ErrNotFound)
	}
	return nil
}

// also returns err, which matches sentinel too (errors.Is), with err's
// message: an error with a sentinel of its own that belongs to a wider
// class as well.
func also(err, sentinel error) error { return &alsoError{err, sentinel} }

type alsoError struct{ err, sentinel error }

func (e *alsoError) Error() string   { return e.err.Error() }
func (e *alsoError) Unwrap() []error { return []error{e.err, e.sentinel} }
