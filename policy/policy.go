package policy

import (
	"errors"
	"fmt"
)

// Policy is one behaviour of a task, built by a function of this package.
type Policy interface {
	// String describes the policy as it was declared, for error messages.
	String() string
	apply(*Set) error
}

// Errors wrapped by *Error, for errors.Is.
var (
	ErrInvalid        = errors.New("invalid argument")
	ErrDuplicate      = errors.New("declared more than once")
	ErrConflict       = errors.New("conflicts with another policy")
	ErrUnknownField   = errors.New("no such input field")
	ErrAutomaticInput = errors.New("an automatic task must take an input struct without fields")
	ErrBadCron        = errors.New("bad cron expression")
)

// Error is a policy that cannot apply to a task. It names the task and the
// policy and wraps one of this package's sentinel errors.
type Error struct {
	Task   string
	Policy string
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("docket: task %q: %s: %v", e.Task, e.Policy, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Unlimited, as a retry policy's attempts, retries until the task succeeds.
const Unlimited = -1
