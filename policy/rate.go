package policy

import (
	"fmt"
	"time"
)

// RateLimitPolicy limits how many runs of a task may start in a sliding
// window. Build it with RateLimit or TaskRateLimit; Compile refuses a
// struct literal (ErrNotBuilt).
type RateLimitPolicy struct {
	Arg   string        // JSON name of the input field whose value has its own limit; empty for the whole task
	Limit int           // the most starts in any window of Per
	Per   time.Duration // the window
	Scope string        // limits with the same scope and value share their window, across tasks
	Drop  bool          // drop a submission over the limit instead of making it wait

	built bool // set by RateLimit and TaskRateLimit alone: Compile refuses a struct literal
	flaws flaws
}

// RateLimit allows at most limit starts per sliding window of per for each
// value of the input field arg (its JSON name), across all workers. Every
// start counts — a retry's, a workflow's resumption — and a task over the
// limit waits, holding no worker, and is due at the very instant the window
// has room for it: no polling. With DropOverLimit a submission over the
// limit is dropped instead; with Scope the window is shared across tasks.
// An empty arg is refused (ErrInvalid): TaskRateLimit covers the whole task.
func RateLimit(arg string, limit int, per time.Duration, opts ...LimitOption) RateLimitPolicy {
	r := TaskRateLimit(limit, per, opts...)
	r.Arg, r.flaws.noArg = arg, arg == ""
	return r
}

// TaskRateLimit allows at most limit starts of the task per sliding window
// of per, whatever the input; see RateLimit.
func TaskRateLimit(limit int, per time.Duration, opts ...LimitOption) RateLimitPolicy {
	o := collectLimit(opts)
	return RateLimitPolicy{Limit: limit, Per: per, Scope: o.scope, Drop: o.drop, built: true, flaws: flaws{emptyScope: o.emptyScope}}
}

// String is the policy as the call that builds it reads (for errors and
// logs); a struct literal says it is one.
func (r RateLimitPolicy) String() string {
	if !r.built {
		return literal(r)
	}
	s := fmt.Sprintf("TaskRateLimit(%d, %v", r.Limit, r.Per)
	if r.Arg != "" || r.flaws.noArg {
		s = fmt.Sprintf("RateLimit(%q, %d, %v", r.Arg, r.Limit, r.Per)
	}
	if r.Scope != "" || r.flaws.emptyScope {
		s += fmt.Sprintf(", Scope(%q)", r.Scope)
	}
	if r.Drop {
		s += ", DropOverLimit()"
	}
	return s + ")"
}

func (r RateLimitPolicy) origin() (string, bool) {
	if r.Arg == "" {
		return "policy.TaskRateLimit(limit, per, ...)", r.built
	}
	return "policy.RateLimit(field, limit, per, ...)", r.built
}

func (r RateLimitPolicy) apply(s *Set) error {
	if err := r.flaws.check("RateLimit", "policy.TaskRateLimit(limit, per)"); err != nil {
		return err
	}
	if err := checkScope(r.Scope); err != nil {
		return err
	}
	switch {
	case r.Limit < 1:
		return fmt.Errorf("%w: the limit must be at least 1", ErrInvalid)
	case r.Per < time.Microsecond || r.Per > MaxWindow:
		return checkWindow("window", r.Per)
	}
	if r.Arg != "" {
		if err := s.requireField(r.Arg); err != nil {
			return err
		}
	}
	for _, o := range s.RateLimit {
		if o.Arg == r.Arg && o.Scope == r.Scope {
			return fmt.Errorf("%w (already %s)", ErrDuplicate, o)
		}
	}
	s.RateLimit = append(s.RateLimit, r)
	return nil
}
