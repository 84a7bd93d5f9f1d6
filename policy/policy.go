package policy

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// Policy is one behaviour of a task, built by a function of this package.
type Policy interface {
	// String describes the policy as it was declared, for error messages.
	String() string
	apply(*Set) error
	// origin names the function that builds such a policy, and reports
	// whether this value was built by it (a copy of a built value was).
	origin() (builder string, built bool)
}

// Errors wrapped by *Error, for errors.Is.
var (
	// ErrInvalid reports a policy argument out of its range: Retry(0), a
	// negative delay, a maximum under its minimum, a timeout that is not
	// positive, an interval or window under a microsecond (Redis's clock,
	// which schedules them, counts microseconds), a limit of less than one,
	// an empty field name (Concurrency, Cooldown, Debounce, RateLimit), a
	// scope name (Scope) that is empty or not UTF-8 text; and a task input
	// type that is not a struct.
	ErrInvalid = errors.New("invalid argument")
	// ErrDuplicate reports a policy given twice to one task (two Retry, say).
	ErrDuplicate = errors.New("declared more than once")
	// ErrConflict reports policies that cannot go together: Perpetual and
	// Cron (a task has one schedule); limits of one kind in one scope with
	// different numbers, whether one task declares them or two (see Scope:
	// Register refuses them).
	ErrConflict = errors.New("conflicts with another policy")
	// ErrUnknownField reports an admission rule on a field the task's input
	// type does not have (matched by its JSON name).
	ErrUnknownField = errors.New("no such input field")
	// ErrAutomaticInput reports an automatic task whose input type has
	// fields: nobody adds it, so nothing could fill them.
	ErrAutomaticInput = errors.New("an automatic task must take an input struct without fields")
	// ErrBadCron reports a cron expression that cannot be parsed.
	ErrBadCron = errors.New("bad cron expression")
	// ErrNotBuilt reports a policy written as a struct literal instead of
	// built by its function, whose defaults its zero fields lack (see the
	// package documentation).
	ErrNotBuilt = errors.New("written as a struct literal, not built by its function")
)

// Error is a policy that cannot apply to a task. It names the task and the
// policy and wraps one of this package's sentinel errors.
type Error struct {
	Task   string // the task's name
	Policy string // the policy, as String gives it
	Err    error  // why it cannot apply: wraps a sentinel error of this package
}

// Error names the task and the policy, and says why.
func (e *Error) Error() string {
	return fmt.Sprintf("docket: task %q: %s: %v", e.Task, e.Policy, e.Err)
}

// Unwrap returns Err, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// Unlimited, as a retry policy's attempts, retries until the task succeeds.
const Unlimited = -1

// notBuilt is the error for a policy that its builder did not make.
func notBuilt(builder string) error {
	return fmt.Errorf("%w; build it with %s", ErrNotBuilt, builder)
}

// literal describes a policy that was not built as the struct literal it
// is, with its non-zero exported fields: the String of a built policy names
// its builder, which would misdescribe a literal (an unbuilt CronPolicy
// reads as Manual, for one).
func literal(p any) string {
	v := reflect.ValueOf(p)
	var fields []string
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !f.IsExported() || v.Field(i).IsZero() {
			continue
		}
		switch x := v.Field(i).Interface().(type) {
		case string:
			fields = append(fields, fmt.Sprintf("%s: %q", f.Name, x))
		default:
			fields = append(fields, fmt.Sprintf("%s: %v", f.Name, x))
		}
	}
	return fmt.Sprintf("policy.%s{%s}", v.Type().Name(), strings.Join(fields, ", "))
}
