// Package sdk is the client of a docket: the tasks, and what producers do
// with them.
//
// # Dockets
//
// Open connects to the Redis a URL names (redis, rediss, unix, Cluster,
// Sentinel, or the embedded memory://) and returns the Docket there;
// OpenClient uses a go-redis client you have. Options (WithName,
// WithLogger, WithRetention, WithCompletedRetention, WithMaxInputSize)
// have useful defaults. Close stops the docket's workers and releases the
// connection.
//
// # Tasks
//
// NewTask declares a task: a Go function with a typed input (a struct,
// whose JSON travels through Redis) and policies from package policy,
// validated against the input when the task is registered (Register) or
// first added. NewResultTask declares one whose function returns a value,
// kept with the execution; Result and ResultTask.Call wait for it. A task
// is the value NewTask returns: declare it once, in a package-level var.
//
// # Producing
//
// Add schedules a task now, at a time (At) or after a delay by the Redis
// clock (After), under a new UUIDv7 or under a Key; AddMany adds many in
// one round trip per thousand (Keys makes a retry safe); Replace overwrites
// a live task; Cancel and Clear end tasks; RunNow makes a scheduled task
// due now and Retry runs a failed or dead-lettered one again; Signal sends
// a workflow a signal. AddByName adds by name, for producers that do not
// link the task.
//
// go-redis sends a command again when the connection fails before its
// reply comes, though Redis may have carried it out. Signal, Cancel, Retry,
// Restore and a progress increment carry an id that makes the second send
// do nothing and report what the first did; an Add under a key it made
// reports Scheduled.
//
// # Inspecting
//
// Execution gives a handle on a key: Info reads its record (state,
// attempts, times, error, result, and what it did as a workflow), Progress
// its progress, Watch follows its changes. Snapshot lists what the docket
// holds at one instant: running, queued, scheduled and parked tasks,
// limits, workers, dead letters.
//
// # Strikes
//
// Strike pauses work at runtime without a deploy: every run of a task, or
// those whose input field compares with a value (Strike(ctx, "charge",
// "customer_id", "==", 42)). While a strike holds, an add it matches writes
// nothing (Disposition Struck; a wait for its result returns ErrStruck), and
// a task it matches is held when it falls due (state struck, in
// Snapshot.Held); running tasks finish. Restore lifts it and releases what
// it held; Strikes lists those in effect. A strike that cannot be struck is
// ErrBadStrike.
//
// # Inside a task
//
// Current(ctx) is the running task's view of itself: key, attempt
// (LastAttempt), due time, its Timeout (also the context's deadline),
// Progress, and for a perpetual or cron task its Perpetual control.
// Returning Permanent(err) fails it without a retry, Snooze(d) runs it
// again later without counting an attempt.
//
// # Errors
//
// Errors are tested with errors.Is: ErrBadInput and ErrInputTooLarge for
// input refused at once (a null or oversized input, two due times),
// ErrNilArgument for a nil context, docket, execution or task, ErrNotFound
// and ErrWrongState for a key the call does not apply to, ErrClosed after
// Close. An execution that did not complete comes back from Result as a
// *TaskError that unwraps to the sentinel of how it ended (ErrTimeout,
// ErrPermanent, ErrCancelled, ErrBadInput, workflow.ErrChildFailed) or a
// *PanicError.
//
// Workers that execute tasks live in package worker; durable workflows in
// package workflow; the test environment with a fake clock in package
// testsuite.
package sdk
