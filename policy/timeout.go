package policy

import (
	"fmt"
	"time"
)

// TimeoutPolicy bounds how long one attempt may run. Build it with Timeout;
// Compile refuses a struct literal (ErrNotBuilt).
type TimeoutPolicy struct {
	Duration time.Duration // how long an attempt may run before its context is cancelled

	built bool // set by Timeout alone: Compile refuses a struct literal
}

// Timeout cancels an attempt's context when d has passed since it started.
// A timed-out attempt is a failure, which a retry policy retries with a fresh
// timeout. Inside the task, sdk.Current(ctx).Timeout().Extend() moves the
// deadline. A task that ignores its context is abandoned at the deadline: the
// worker records the timeout and frees the slot, and whatever the function
// returns later is ignored.
func Timeout(d time.Duration) TimeoutPolicy { return TimeoutPolicy{Duration: d, built: true} }

// String is the policy as the call that builds it reads (for errors and
// logs); a struct literal says it is one.
func (t TimeoutPolicy) String() string {
	if !t.built {
		return literal(t)
	}
	return fmt.Sprintf("Timeout(%v)", t.Duration)
}

func (t TimeoutPolicy) origin() (string, bool) { return "policy.Timeout(d)", t.built }

func (t TimeoutPolicy) apply(s *Set) error {
	switch {
	case s.Timeout != nil:
		return fmt.Errorf("%w (already %s)", ErrDuplicate, s.Timeout)
	case t.Duration <= 0:
		return fmt.Errorf("%w: the timeout must be positive", ErrInvalid)
	}
	s.Timeout = &t
	return nil
}
