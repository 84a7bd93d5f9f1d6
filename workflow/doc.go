// Package workflow composes tasks into durable multi-step work, with
// nothing but Redis: steps that run once, child tasks started under a name
// and awaited for their results (fan-out and fan-in), durable sleeps, and
// signals from outside.
//
// # Durable execution without replay
//
// A workflow is an ordinary task (sdk.NewTask, sdk.NewResultTask) whose
// function calls the primitives of this package with its context. It is
// never replayed from an event history: its code may read the clock, log
// or call anything between primitives. When it runs again — a retry, a redelivery after its worker died, a
// resumption after it waited — completed work is not redone:
//
//   - Step returns the saved output of a step that completed;
//   - Start finds a child started by an earlier run, instead of starting it
//     again (a child's key is its workflow's key and its name);
//   - Sleep and WaitSignal remember when they began, and what they received.
//
// The rules: name your steps, children, sleeps and waits, each name once
// per run (ErrDuplicateName), and give a name the same meaning in every
// run. A child is found by its name alone, whatever input this run would
// give it: a fan-out built in a map's iteration order pairs names with
// other inputs in the next run (sort the keys, or save the list in a
// step). What decides which names a run reaches must be the same in every
// run: a step's output, not time.Now or rand. The primitives of a run are
// sequential: call them from the workflow's goroutine, one at a time (of
// two waits in two goroutines, the run parks on the first that parks, and
// the function's return is then ignored).
//
// # Waiting costs no worker
//
// When a primitive must wait — a child has not ended, a signal has not
// come, a sleep is not over — it returns ErrParked, and the task returns
// it. The run parks: its attempt ends, its worker slot frees, no goroutine
// waits. The script that records the awaited event (the last awaited
// child's end, the signal's delivery) makes the workflow due at once; a
// sleep or a signal's timeout makes it due at its instant. Then it runs
// again, from the top, and what was done returns at once.
//
// # Guarantees and limits
//
// Steps run at least once: a worker killed inside a step runs it again, so
// give side effects an idempotency key (StepKey). A completed step never
// runs again in the execution, and a child is started once per execution.
// Every park, resumption, step completion and child start is one atomic
// script. Once a run's context ends (its Timeout, a lost lease, a cancel,
// the worker's shutdown), the primitives return its cause at once, even
// with Redis stalled or out of reach: a run stopped to let another worker
// take its task over does stop. A round trip to Redis it left behind takes
// effect only if the run still held its task, as if only its reply were
// lost. A workflow's policies apply to each of its runs: Retry retries a
// run that failed (completed steps stay done), Timeout bounds each run
// between parks (parked time does not count), and concurrency limits are
// taken again by each run. Cancelling a workflow, or its failure, cancels
// its live children. A perpetual or cron workflow starts afresh with each
// run of its chain; its children are keyed under the key its runs share,
// so a run that starts a child under the name of an earlier run's child
// still live takes that child over (its input, its result): name such
// children per run, by a value a step saved (the run's due time, say, read
// with sdk.Current(ctx).Due() inside a step: outside one, each resumption
// reads its own), or wait for them before the run ends.
//
// # Errors
//
// A primitive that must wait returns ErrParked, which the task returns. A
// child that did not complete comes back as an error wrapping
// ErrChildFailed and the child's *sdk.TaskError; returned, it fails the
// workflow for good (reason "child"; wrapped in sdk.Permanent, reason
// "permanent"). ErrKeyTaken reports a child whose
// key a live task that is not the workflow's child holds; ErrSignalTimeout
// a wait for a signal that timed out; ErrDuplicateName and ErrNoName a
// name used twice in a run, or none; ErrNotInTask a primitive called
// outside a running task; ErrNotAChild a wait for a Future this workflow's
// execution did not start.
package workflow
