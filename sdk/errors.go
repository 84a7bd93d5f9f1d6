package sdk

import (
	"errors"
	"fmt"
	"reflect"

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

	// ErrTaskConflict reports a second, different task registered under a
	// name that is taken.
	ErrTaskConflict = core.ErrTaskConflict

	// ErrInputTooLarge reports input whose JSON is larger than the docket
	// accepts (see WithMaxInputSize).
	ErrInputTooLarge = errors.New("docket: task input is too large")

	// ErrBadInput reports input that is not a JSON object, or that does not
	// decode into the task's input type.
	ErrBadInput = errors.New("docket: bad task input")

	// ErrBadKey reports an unusable task key.
	ErrBadKey = errors.New("docket: bad task key")

	// ErrBadURL reports a URL that Open cannot use: malformed, an unknown
	// scheme, or options go-redis does not know.
	ErrBadURL = store.ErrBadURL

	// ErrUnreachable reports a Redis server that did not answer Open's ping
	// (refused, timed out, or refused the credentials).
	ErrUnreachable = store.ErrUnreachable

	// ErrBadName reports a docket name that cannot be used in Redis keys.
	ErrBadName = store.ErrBadName
)

// Causes of a task's context being cancelled, for context.Cause.
var (
	// ErrTimeout: the attempt ran past its Timeout policy's deadline.
	ErrTimeout = errors.New("docket: task timed out")
	// ErrCancelled: the task was cancelled, or replaced, while it ran.
	ErrCancelled = errors.New("docket: task cancelled")
	// ErrLeaseLost: the worker lost the task's lease (it could not renew it
	// in time) and another worker may run it.
	ErrLeaseLost = errors.New("docket: task lease lost")
	// ErrShutdown: the worker stopped and its drain timeout ran out; the
	// task goes back to the queue.
	ErrShutdown = errors.New("docket: worker shutting down")
)

// DecodeError reports task input that does not decode into the task's
// input type. It wraps ErrBadInput.
type DecodeError struct {
	Task string
	Type reflect.Type
	Err  error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("docket: task %q: input does not decode into %v: %v", e.Task, e.Type, e.Err)
}

// Unwrap returns ErrBadInput and the decoding error.
func (e *DecodeError) Unwrap() []error { return []error{ErrBadInput, e.Err} }

// PanicError is a task function's panic, recovered by the worker: a failed
// attempt.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("panic: %v\n\n%s", e.Value, e.Stack)
}
