// Package policy declares how a task behaves: retries, timeouts, perpetual
// and cron schedules, and admission control (concurrency limits, cooldown,
// debounce). Policies are values built by the functions of this package and
// passed to sdk.NewTask; Compile validates a task's policies against its
// input type.
//
// The package holds only the arithmetic of policies (the delay before a
// retry, the next run of a cron schedule): no Redis, no I/O, no clock.
package policy
