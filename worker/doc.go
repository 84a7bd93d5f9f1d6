// Package worker executes a docket's tasks.
//
// # Running
//
// New returns a Worker for the tasks registered on a docket (now or
// later); Run executes them until its context ends, then drains:
// running tasks get Options.DrainTimeout to finish, and those that do not
// are handed back. RunUntilIdle stops once nothing is due or running;
// RunUntilFinished once every task added has finished (through retries,
// snoozes and admission waits), leaving the future runs of perpetual and
// cron chains scheduled. Options whose zero value means the default
// configure it; Validate reports a field out of range, which Run refuses.
//
// # Delivery
//
// A worker claims due tasks earliest due first, and tasks added to run at
// once in the order they were added (those of one AddMany too), in
// batches, each under a lease it renews every Lease/3, and records their
// outcomes with its next claim: one round trip per batch. With one slot
// (Concurrency 1) it runs them one at a time in that order; with more, the
// tasks of the two claims it keeps in flight may start interleaved. Delivery is at
// least once: the tasks of a worker that dies are redelivered to the
// others when their lease lapses, and after Options.MaxDeliveries they are
// dead-lettered. A worker that cannot renew a lease in time (Redis
// stalled, the worker cut off) stops the attempt before another worker
// can take it over: leases are fences.
//
// When tasks are short, a worker claims ahead of its free slots, about as
// many as its slots start during eight round trips to Redis (see
// Options.ClaimAhead): those wait in line for a slot, leased and holding
// their concurrency limits, and never more than Options.Concurrency run at
// once. A task with a rate limit or a cooldown is claimed only for a free
// slot.
//
// # What it runs
//
// Failures are retried as the task's retry policy says; timeouts cancel
// the attempt's context; perpetual and cron tasks go on with their next
// run; automatic tasks are started when the worker starts or registers
// them; a task no worker has yet waits for one (Options.UnknownTaskWait).
// Admission rules (concurrency, rate limits, cooldown, debounce) and
// strikes are checked in the claim itself. A workflow's run that parks frees its slot; one cancelled
// or replaced frees its slots, and lets the replacement start, once its
// function has returned (or after 5 s, abandoned). Every attempt
// is an OpenTelemetry span, and is counted in the docket's metrics.
//
// # Parts of a run
//
// A running worker is made of parts, each with one job and one lifecycle:
// the slots (the attempts in hand, the line of those claimed ahead, and
// the drain), the claimer (the claim loop), the acker (outcomes on their
// way to Redis), the leaser (lease
// renewals, the heartbeat and the fence), the listener (the events channel)
// and the upkeep (automatic chains, the
// children of ended workflows). They start in this order: upkeep, leaser
// (its first renewal starts the automatic chains, then heartbeats),
// listener; then, once the listener has subscribed and the leaser has
// heartbeaten, the claimer. They stop in the reverse order: the claimer
// first, so that no task starts after it; then the acker takes over the
// outcomes it carried, the slots drain, and the acker, listener, leaser
// and upkeep stop, each before the parts it uses.
package worker
