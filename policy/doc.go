// Package policy declares how a task behaves: retries, timeouts, perpetual
// and cron schedules, and admission control (concurrency limits, rate
// limits, cooldown, debounce). Policies are values built by the functions of
// this package and passed to sdk.NewTask; Compile validates a task's
// policies against its input type.
//
// # Retries and timeouts
//
// Retry(attempts, delay) and ExponentialRetry(attempts, min, max) say how a
// failed attempt is tried again (Unlimited for no end); Timeout(d) bounds
// one attempt, whose context is cancelled at its deadline.
//
// # Schedules
//
// Perpetual(every) runs a task again after every run; Cron(expr) at every
// instant a cron expression matches, in a location (In). A cron task is
// automatic (it starts its own chain, keyed by its name) unless Manual; a
// perpetual one is not, unless Automatic.
//
// # Admission control
//
// Checked when a task falls due, in one script: Concurrency and
// TaskConcurrency bound the runs at once (per input field value, or for the
// whole task; Scope shares a limit across tasks), and a task over the limit
// waits in line for a slot; RateLimit and TaskRateLimit bound the starts per
// window (DropOverLimit drops the excess rather than delaying it); Cooldown
// and TaskCooldown drop the submissions that follow one that ran within a
// window; Debounce and TaskDebounce run a burst of submissions once, when it
// has settled.
//
// # Errors
//
// A policy that cannot apply to its task is an *Error naming both, which
// wraps ErrInvalid, ErrDuplicate, ErrConflict, ErrUnknownField,
// ErrAutomaticInput, ErrBadCron or ErrNotBuilt, for errors.Is.
//
// # Built, never written as literals
//
// Every policy must come from its function (Cron, Retry, Timeout, …), never
// from a struct literal such as policy.CronPolicy{Expr: "* * * * *"}. A
// builder sets defaults that a literal's zero fields do not: a cron schedule
// is automatic unless Manual, but that literal's zero Automatic would make
// it manual without a word. Rather than guess what a literal meant,
// Compile, and so sdk.Docket.Register and a task's first Add, refuses it
// with an *Error wrapping ErrNotBuilt that names the builder to use; a
// literal CronPolicy's Next reports the same. The fields stay exported, to
// be read (the worker reads them, and so may tests and tools); a copy of a
// built policy is built, and if its fields are changed it is checked like
// any other.
//
// The package holds only the arithmetic of policies (the delay before a
// retry, the next run of a cron schedule): no Redis, no I/O, no clock.
package policy
