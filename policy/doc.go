// Package policy declares how a task behaves: retries, timeouts, perpetual
// and cron schedules, and admission control (concurrency limits, cooldown,
// debounce). Policies are values built by the functions of this package and
// passed to sdk.NewTask; Compile validates a task's policies against its
// input type.
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
