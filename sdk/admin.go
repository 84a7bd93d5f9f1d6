package sdk

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"

	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/telemetry"
)

// ErrWrongState reports an administrative call on a task whose state it
// does not apply to: RunNow on a task that is not scheduled (running,
// waiting for a concurrency slot, a parked workflow), Retry on an execution
// that did not fail. The message names the state.
var ErrWrongState = errors.New("docket: the task is not in a state this applies to")

// RunNow makes the scheduled task with key due now: a task added for later,
// a retry waiting out its delay, the next run of a perpetual or cron chain.
// Its execution stays the same (attempt, input); only its due time moves,
// to the Redis clock's now, and idle workers are woken. A cron chain's run
// after this one is due at the expression's first instant after now, as it
// would be after a run that was due now.
//
// A task due already (queued) is left as it is, and RunNow returns nil. It
// returns ErrNotFound when no live task has the key (an execution that
// ended matches ErrWrongState too, and the message names its state), and
// ErrWrongState when the task is live but not scheduled: running, waiting
// for a concurrency slot, or a parked workflow (a workflow parked in a sleep stays parked:
// running it early would only park it again).
func (d *Docket) RunNow(ctx context.Context, key string) (err error) {
	if err := usableKey(ctx, d, key); err != nil {
		return err
	}
	ctx, span := d.producerSpan(ctx, "run now", attribute.String(telemetry.AttrKey, key))
	defer func() { endSpan(span, err) }()
	code, state, err := d.core.Store.RunNow(ctx, key)
	if err != nil {
		return err
	}
	switch code {
	case store.ActionDone, store.ActionAlready:
		return nil
	case store.ActionNotFound:
		if state == "" {
			return fmt.Errorf("%w: %q is not scheduled, queued, parked, held or running", ErrNotFound, key)
		}
		// It ended: no live task has the key (ErrNotFound, as for Cancel),
		// and its state is why (ErrWrongState).
		hint := ""
		if state == store.StateFailed {
			hint = "; Retry runs a failed execution again"
		}
		return &endedError{msg: fmt.Sprintf("docket: run now: %q is %s, not scheduled%s", key, describeState(state), hint)}
	}
	return fmt.Errorf("%w: run now: %q is %s, not scheduled", ErrWrongState, key, describeState(state))
}

// endedError is the error of an administrative call on an execution that
// ended: errors.Is matches both ErrNotFound (no live task has the key) and
// ErrWrongState (its state is why).
type endedError struct{ msg string }

func (e *endedError) Error() string   { return e.msg }
func (e *endedError) Unwrap() []error { return []error{ErrNotFound, ErrWrongState} }

// Retry runs the failed execution with key again, now: one whose retries
// ran out, one that failed permanently or for bad input, one dead-lettered
// (it leaves Snapshot.DeadLetters). It becomes a live task again under the
// same key, with the same task, input and trace context, from attempt 1 —
// the retry policy's attempts start again — due at once. Until its next
// attempt ends, Info keeps the last error; Info.Retried says when Retry ran.
//
// A workflow keeps what it did: steps done stay done, children that
// completed stay completed, and children that did not complete (they
// failed, or were cancelled when the workflow failed) are forgotten, so
// that its run starts them again under the same keys. Retry reads a
// workflow's whole flow (20,000 fields for 10,000 children) in one script.
//
// A failed child of a workflow that is still live is not retried: the
// workflow has been told how the child ended, and may have handled the
// failure (a compensating step, say), so the child must not end another
// way under it. Retry the workflow instead, once it has failed: its
// failed children start again.
//
// It returns ErrNotFound when the key has no record (never added, or it
// ended longer ago than the retention), and ErrWrongState when the
// execution did not fail (it is live, completed or cancelled), its record
// cannot run (garbled by another program: no task name or input), or it
// is a failed child of a live workflow.
func (d *Docket) Retry(ctx context.Context, key string) (err error) {
	if err := usableKey(ctx, d, key); err != nil {
		return err
	}
	ctx, span := d.producerSpan(ctx, "retry", attribute.String(telemetry.AttrKey, key))
	defer func() { endSpan(span, err) }()
	code, state, parent, err := d.core.Store.Retry(ctx, key)
	if err != nil {
		return err
	}
	switch code {
	case store.ActionDone:
		return nil
	case store.ActionNotFound:
		return fmt.Errorf("%w: %q", ErrNotFound, key)
	case store.ActionUnusable:
		return fmt.Errorf("%w: retry: %q failed, and its record cannot run (no task name or input)", ErrWrongState, key)
	case store.ActionChildOfLive:
		return fmt.Errorf("%w: retry: %q failed as a child of the workflow %q, which is live and has been told so: retry the workflow once it has failed",
			ErrWrongState, key, parent)
	}
	return fmt.Errorf("%w: retry: %q is %s, not failed", ErrWrongState, key, describeState(state))
}

// describeState names a stored state for people.
func describeState(s store.State) string {
	switch s {
	case store.StateWaiting:
		return "waiting for a concurrency slot"
	case store.StateScheduled: // Info's queued too, once due: the script does not tell
		return "scheduled or queued"
	case "":
		return "in no state (its record is garbled)"
	}
	return string(s)
}
