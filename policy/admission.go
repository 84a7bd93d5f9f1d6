package policy

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// ConcurrencyPolicy limits how many runs of a task may run at once. Build
// it with Concurrency or TaskConcurrency; Compile refuses a struct literal
// (ErrNotBuilt).
type ConcurrencyPolicy struct {
	Arg   string // JSON name of the input field whose value has its own limit; empty for the whole task
	Max   int    // the most runs at once
	Scope string // limits with the same scope and value share their slots, across tasks

	built bool // set by Concurrency and TaskConcurrency alone: Compile refuses a struct literal
	drop  bool // DropOverLimit was given, which does not apply
	flaws flaws
}

// LimitOption adjusts a concurrency limit or a rate limit.
type LimitOption func(*limitOptions)

// ConcurrencyOption is LimitOption, by its earlier name.
type ConcurrencyOption = LimitOption

type limitOptions struct {
	scope      string
	drop       bool
	emptyScope bool // Scope("") was given
}

// flaws are what a builder was given that Compile refuses, rather than
// read as another policy: a per-argument builder without a field name
// (which would limit the whole task), a Scope without a name (which would
// leave the limit the task's own).
type flaws struct {
	noArg      bool
	emptyScope bool
}

// check returns the error of the first flaw; task names the builder for
// the whole task.
func (f flaws) check(builder, task string) error {
	switch {
	case f.noArg:
		return fmt.Errorf("%w: %s needs the JSON name of an input field; for one limit on the whole task, use %s", ErrInvalid, builder, task)
	case f.emptyScope:
		return fmt.Errorf("%w: Scope needs a name; without Scope a limit is its task's own", ErrInvalid)
	}
	return nil
}

// checkScope refuses a scope that is not UTF-8 text: scopes travel to
// Redis as JSON text, which writes each bad byte as U+FFFD, so two such
// scopes would share one limit.
func checkScope(scope string) error {
	if !utf8.ValidString(scope) {
		return fmt.Errorf("%w: Scope %q is not UTF-8 text", ErrInvalid, scope)
	}
	return nil
}

func collectLimit(opts []LimitOption) limitOptions {
	var o limitOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// Scope puts a limit in a named scope: limits of one kind with the same
// scope (and, for per-argument limits, the same value) share their slots or
// their window, even across tasks. Without a scope a limit belongs to its
// task. A scope is one limit: the tasks of a docket that share it must
// declare the same numbers (the same max; the same limit and window), or
// Register refuses the later one (ErrConflict): left to the claims, a task
// of a smaller max would take a slot a larger one's run freed, and a
// shorter window would forget the starts a longer one counts.
// An empty name is refused (ErrInvalid), rather than read as no scope, and
// so is one that is not UTF-8 text.
func Scope(name string) LimitOption {
	return func(o *limitOptions) { o.scope, o.emptyScope = name, name == "" }
}

// DropOverLimit makes a rate limit drop a submission that comes over the
// limit (it ends cancelled, as with a cooldown) instead of making it wait
// for the window. A retry, or a workflow resuming, still waits. It applies
// to rate limits only.
func DropOverLimit() LimitOption {
	return func(o *limitOptions) { o.drop = true }
}

// Concurrency allows at most max runs at once for each value of the input
// field arg (its JSON name), across all workers. An empty arg is refused
// (ErrInvalid): TaskConcurrency limits the whole task.
//
// A task with several limits takes their slots one at a time: its own
// limits first, in the order it declares them, then those it shares
// through a Scope, by id; waiting for a full one, it keeps the slots it
// took before it. Declare the narrow limit first (a customer's before a
// region's), so that a task waiting for it holds none of the wider one's.
func Concurrency(arg string, max int, opts ...LimitOption) ConcurrencyPolicy {
	c := TaskConcurrency(max, opts...)
	c.Arg, c.flaws.noArg = arg, arg == ""
	return c
}

// TaskConcurrency allows at most max runs of the task at once, whatever the
// input, across all workers.
func TaskConcurrency(max int, opts ...LimitOption) ConcurrencyPolicy {
	o := collectLimit(opts)
	return ConcurrencyPolicy{Max: max, Scope: o.scope, built: true, drop: o.drop, flaws: flaws{emptyScope: o.emptyScope}}
}

// String is the policy as the call that builds it reads (for errors and
// logs); a struct literal says it is one.
func (c ConcurrencyPolicy) String() string {
	if !c.built {
		return literal(c)
	}
	s := fmt.Sprintf("TaskConcurrency(%d", c.Max)
	if c.Arg != "" || c.flaws.noArg {
		s = fmt.Sprintf("Concurrency(%q, %d", c.Arg, c.Max)
	}
	if c.Scope != "" || c.flaws.emptyScope {
		s += fmt.Sprintf(", Scope(%q)", c.Scope)
	}
	return s + ")"
}

func (c ConcurrencyPolicy) origin() (string, bool) {
	if c.Arg == "" {
		return "policy.TaskConcurrency(max, ...)", c.built
	}
	return "policy.Concurrency(field, max, ...)", c.built
}

func (c ConcurrencyPolicy) apply(s *Set) error {
	if err := c.flaws.check("Concurrency", "policy.TaskConcurrency(max)"); err != nil {
		return err
	}
	if err := checkScope(c.Scope); err != nil {
		return err
	}
	if c.Max < 1 {
		return fmt.Errorf("%w: the limit must be at least 1", ErrInvalid)
	}
	if c.drop {
		return fmt.Errorf("%w: DropOverLimit applies to rate limits: a task over a concurrency limit waits for a slot", ErrInvalid)
	}
	if c.Arg != "" {
		if err := s.requireField(c.Arg); err != nil {
			return err
		}
	}
	for _, o := range s.Concurrency {
		if o.Arg == c.Arg && o.Scope == c.Scope {
			return fmt.Errorf("%w (already %s)", ErrDuplicate, o)
		}
	}
	s.Concurrency = append(s.Concurrency, c)
	return nil
}

// CooldownPolicy drops submissions that come too soon after a run. Build it
// with Cooldown or TaskCooldown; Compile refuses a struct literal
// (ErrNotBuilt).
type CooldownPolicy struct {
	Arg    string        // JSON name of the input field with its own window; empty for the whole task
	Window time.Duration // how long after the submission that ran those that follow are dropped

	built bool // set by Cooldown and TaskCooldown alone: Compile refuses a struct literal
	flaws flaws
}

// Cooldown runs the first submission for each value of the input field arg
// at once and drops those that follow within window of it. An empty arg
// is refused (ErrInvalid): TaskCooldown covers the whole task.
func Cooldown(arg string, window time.Duration) CooldownPolicy {
	return CooldownPolicy{Arg: arg, Window: window, built: true, flaws: flaws{noArg: arg == ""}}
}

// TaskCooldown runs the first submission of the task at once and drops those
// that follow within window of it.
func TaskCooldown(window time.Duration) CooldownPolicy {
	return CooldownPolicy{Window: window, built: true}
}

// String is the policy as the call that builds it reads (for errors and
// logs); a struct literal says it is one.
func (c CooldownPolicy) String() string {
	if !c.built {
		return literal(c)
	}
	if c.Arg == "" && !c.flaws.noArg {
		return fmt.Sprintf("TaskCooldown(%v)", c.Window)
	}
	return fmt.Sprintf("Cooldown(%q, %v)", c.Arg, c.Window)
}

func (c CooldownPolicy) origin() (string, bool) {
	if c.Arg == "" {
		return "policy.TaskCooldown(window)", c.built
	}
	return "policy.Cooldown(field, window)", c.built
}

func (c CooldownPolicy) apply(s *Set) error {
	if err := c.flaws.check("Cooldown", "policy.TaskCooldown(window)"); err != nil {
		return err
	}
	if err := checkWindow("window", c.Window); err != nil {
		return err
	}
	if c.Arg != "" {
		if err := s.requireField(c.Arg); err != nil {
			return err
		}
	}
	for _, o := range s.Cooldown {
		if o.Arg == c.Arg {
			return fmt.Errorf("%w (already %s)", ErrDuplicate, o)
		}
	}
	s.Cooldown = append(s.Cooldown, c)
	return nil
}

// DebouncePolicy runs one submission per burst, once submissions have
// settled. Build it with Debounce or TaskDebounce; Compile refuses a struct
// literal (ErrNotBuilt).
type DebouncePolicy struct {
	Arg    string        // JSON name of the input field with its own burst; empty for the whole task
	Settle time.Duration // how long the burst must be quiet before it runs

	built bool // set by Debounce and TaskDebounce alone: Compile refuses a struct literal
	flaws flaws
}

// Debounce turns each burst of submissions with the same value of the input
// field arg into one run, settle after the last submission of the burst:
// the run of the burst's first submission, with its input; the others are
// dropped (cancelled). An empty arg is refused (ErrInvalid): TaskDebounce
// covers the whole task.
func Debounce(arg string, settle time.Duration) DebouncePolicy {
	return DebouncePolicy{Arg: arg, Settle: settle, built: true, flaws: flaws{noArg: arg == ""}}
}

// TaskDebounce turns each burst of submissions of the task into one run,
// settle after the last submission of the burst (the first submission's:
// see Debounce).
func TaskDebounce(settle time.Duration) DebouncePolicy {
	return DebouncePolicy{Settle: settle, built: true}
}

// String is the policy as the call that builds it reads (for errors and
// logs); a struct literal says it is one.
func (d DebouncePolicy) String() string {
	if !d.built {
		return literal(d)
	}
	if d.Arg == "" && !d.flaws.noArg {
		return fmt.Sprintf("TaskDebounce(%v)", d.Settle)
	}
	return fmt.Sprintf("Debounce(%q, %v)", d.Arg, d.Settle)
}

func (d DebouncePolicy) origin() (string, bool) {
	if d.Arg == "" {
		return "policy.TaskDebounce(settle)", d.built
	}
	return "policy.Debounce(field, settle)", d.built
}

func (d DebouncePolicy) apply(s *Set) error {
	if err := d.flaws.check("Debounce", "policy.TaskDebounce(settle)"); err != nil {
		return err
	}
	switch {
	case s.Debounce != nil:
		return fmt.Errorf("%w (already %s); a task has one settle window", ErrDuplicate, s.Debounce)
	case d.Settle < time.Microsecond || d.Settle > MaxWindow:
		return checkWindow("settle time", d.Settle)
	}
	if d.Arg != "" {
		if err := s.requireField(d.Arg); err != nil {
			return err
		}
	}
	s.Debounce = &d
	return nil
}

// MaxWindow is the longest window of a cooldown, a rate limit or a debounce:
// 100 years. A longer one (math.MaxInt64, as a "for ever") overflows the
// expiry Redis gives the window's key, and would not hold.
const MaxWindow = 100 * 365 * 24 * time.Hour

// checkWindow checks a window's length; what names it in the error.
func checkWindow(what string, d time.Duration) error {
	switch {
	case d < time.Microsecond:
		return fmt.Errorf("%w: the %s must be positive (1µs at least)", ErrInvalid, what)
	case d > MaxWindow:
		return fmt.Errorf("%w: the %s must be at most 100 years (policy.MaxWindow), not %v", ErrInvalid, what, d)
	}
	return nil
}
