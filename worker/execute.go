package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/docket-go/docket/internal/core"
	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/telemetry"
)

// attempt is one claimed task on its way through this worker.
type attempt struct {
	r   *run
	msg store.Message
	// ctx is the attempt's context, which only cancel ends (its parent is
	// the background's).
	ctx       context.Context
	cancelCtx context.CancelCauseFunc

	// returned says that the function has returned, to an
	// abandonAfterGrace waiting for it: nil until one waits (it makes it:
	// most attempts are never cancelled, and need none), returnedAlready
	// once the function has returned. graceMu guards it.
	graceMu  sync.Mutex
	returned chan struct{}

	// called is when its task's function was called (see runTask), and
	// carrier the context it was called with (under a Timeout, the
	// deadline's context around it): the span's around the call, or the
	// attempt's, carrying the state the function sees through sdk.Current
	// (carrier.Attempt, nil until the call).
	called  time.Time
	carrier core.Carrier

	// claimed is the Redis clock's reading when the task was claimed, and
	// claimedLocal this worker's, so that redisNow can tell the Redis time.
	claimed, claimedLocal time.Time

	// leased is when, by the run's clock (run.clock), the call that last
	// set the task's lease in Redis was sent: the lease runs until Lease
	// after that at the earliest (see fenceLoop).
	leased atomic.Int64

	// measured holds the attributes of the attempt's measurements, set
	// before the task's function is called.
	measured *telemetry.TaskOptions

	// result is the JSON of what a task with a result returned.
	result []byte

	// registry is the tasks registered when its claim was sent. def is
	// the attempt's task among them (nil when there is none), and in its
	// input decoded, or badInput why it could not be (see decode).
	registry core.Registry
	def      *core.TaskDef
	in       any
	badInput error

	// started is when it left for its goroutine (for one that took a free
	// slot at once, when its claim came back). The slots write and read it
	// under their lock. (One claimed ahead was put in line as its claim
	// came back: claimedLocal.)
	started time.Time
	// ended is when its function returned or was abandoned (zero for an
	// attempt that called none), written as it settles, before its slot
	// frees (see slots.free).
	ended time.Time

	// out is the outcome it settled with (see newOutcome), carried to
	// Redis by the claim loop (through its exchangers) or the acker, who
	// alone may touch it once it is sent.
	out store.Outcome

	// The flags, together, and only two: with the allocator's header of 8
	// bytes, an attempt of 656 bytes took an allocation of 704; one of at
	// most 632 takes 640.
	//
	// While its function runs, watching is set: when the context ends,
	// cancel has abandonAfterGrace settle it (see abandonedOutcome),
	// unless the function returns first (see abandonWhenDone). settled is
	// set by whichever comes first: the function returning, or the attempt
	// being abandoned when its context ends. The loser's result is ignored.
	watching, settled atomic.Bool
}

// unknown reports whether the attempt is being handed back for a worker
// that has its task: it has none here, and no Fallback (see slots.launch).
// Only once it is launched: launch decodes it.
func (a *attempt) unknown() bool { return a.def == nil && a.r.opts.Fallback == nil }

// returnedAlready is an attempt's returned once its function has returned.
var returnedAlready = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// newOutcome sets the attempt's outcome to one of kind, and returns it
// for the caller to complete. The outcome lives in the attempt rather than
// an allocation of its own: what a busy worker allocates a task is what
// its garbage collector works for.
func (a *attempt) newOutcome(kind store.OutcomeKind) *store.Outcome {
	a.out = store.Outcome{Key: a.msg.Key, Gen: a.msg.Gen, Kind: kind}
	return &a.out
}

// newAttempt is an attempt of a task claimed at the Redis clock's instant
// claimed, whose claim's reply this worker received at its own instant
// received.
func newAttempt(r *run, m store.Message, claimed, received time.Time) *attempt {
	ctx, cancel := context.WithCancelCause(context.Background()) // see slots.cancelAll
	return &attempt{r: r, msg: m, ctx: ctx, cancelCtx: cancel, claimed: claimed, claimedLocal: received}
}

// cancel ends the attempt's context with cause; should its function be
// running, it is abandoned after its grace (see abandonWhenDone).
func (a *attempt) cancel(cause error) {
	a.cancelCtx(cause)
	if a.watching.CompareAndSwap(true, false) {
		go a.abandonAfterGrace()
	}
}

// attrs are the attributes of the attempt's measurements.
func (a *attempt) attrs() *telemetry.TaskOptions {
	if a.measured == nil {
		a.measured = a.r.w.metrics.Task(a.r.w.c.Name, a.msg.Name)
	}
	return a.measured
}

// redisNow estimates the Redis clock's reading now: the worker's own clock
// only measures the time since the claim.
func (a *attempt) redisNow() time.Time { return a.redisAt(time.Now()) }

// redisAt estimates the Redis clock's reading at local, a reading of this
// worker's clock.
func (a *attempt) redisAt(local time.Time) time.Time {
	return a.claimed.Add(local.Sub(a.claimedLocal))
}

// Failure reasons, for the failed counter and logs.
const (
	reasonUnknownTask = sdk.ReasonUnknownTask
	reasonBadInput    = sdk.ReasonBadInput
	reasonError       = sdk.ReasonError
	reasonPanic       = sdk.ReasonPanic
	reasonTimeout     = sdk.ReasonTimeout
	reasonPermanent   = sdk.ReasonPermanent // sdk.Permanent: not retried
	reasonChild       = sdk.ReasonChild     // a child did not complete: not retried
)

// errReleased ends an attempt claimed ahead that waited in line too long
// (see slots.releaseStale): it is handed back, as at shutdown.
var errReleased = errors.New("docket: claimed ahead, it waited too long for a slot: handed back")

// errStruckInLine ends an attempt claimed ahead that waited in line when a
// strike was placed (see slots.releaseLine): it is handed back, for the
// claim that takes it again to hold it if the strike matches it.
var errStruckInLine = errors.New("docket: claimed ahead, a strike was placed while it waited for a slot: handed back")

// decode finds the attempt's task and decodes its input as it is claimed,
// on the claim loop's goroutine, whose stack has grown to what decoding
// JSON takes, also for an attempt that waits in line. On the attempt's new
// goroutine, or on that of the attempt whose slot it takes (which decoded
// nothing), the stack would grow (be copied) for each task: 12-19% of a
// busy worker's CPU in profiles. An input type whose UnmarshalJSON panics
// fails the task as bad input: the worker goes on. (Like every task's
// code, an UnmarshalJSON should not block: here it would hold the worker's
// claims.)
//
// The task is looked up among those registered when the claim was sent,
// whose admission rules it carried (a task registered since is not
// started: see run.startAttempt).
func (a *attempt) decode() {
	a.def = a.registry.Task(a.msg.Name)
	if a.def == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			a.in, a.badInput = nil, fmt.Errorf("docket: decoding the input of task %q panicked: %v", a.msg.Name, p)
		}
	}()
	a.in, a.badInput = a.def.Decode(a.msg.Input)
}

// run runs the attempt. Its input was decoded as it was claimed (see
// slots.launch). If its context ended while it waited in line, it settles
// without running (see endInLine).
func (a *attempt) run() {
	m := a.msg
	if a.ctx.Err() != nil {
		a.endUnstarted()
		return
	}
	def := a.def
	if def == nil && a.r.opts.Fallback == nil {
		a.handBack()
		return
	}
	if def == nil {
		a.runFallback(reasonUnknownTask, fmt.Errorf("docket: unknown task %q: no function is registered under that name on this worker", m.Name))
		return
	}
	if a.badInput != nil {
		a.runFallback(reasonBadInput, a.badInput)
		return
	}
	a.runTask()
}

// endUnstarted settles an attempt whose context ended while it waited in
// line, without calling anything (see stopped): one handed back says it
// never started, so that its claim uses none of its rate limits.
func (a *attempt) endUnstarted() {
	a.settle(func() *store.Outcome {
		o := a.stopped()
		if o != nil && o.Kind == store.Released {
			o.Kind = store.Unstarted
		}
		return o
	})
}

// handBack returns a task this worker does not have to the schedule, for a
// worker that has it: producers may be deployed before the workers that run
// their tasks, and a fleet may run two versions at once. It waits with a
// backoff that grows with the time it has waited, capped at
// maxUnknownBackoff, and is due at once when a worker that has it starts
// or registers it, back in its place in line (see Store.Known). Then, in a fleet running two versions, a worker
// without it may take it first, the task waiting from before or added
// since: it hands it back after knownRaceWait rather than its backoff,
// when the task was made due by a worker that has it or when the workers'
// registrations show one (see fleet), so that that worker takes it soon.
// Once it has waited Options.UnknownTaskWait, it fails.
func (a *attempt) handBack() {
	m := a.msg
	ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
	since, known, err := a.r.store.UnknownSince(ctx, m.Key)
	cancel()
	now := a.redisNow()
	if err != nil || since.IsZero() {
		since = now // on an error, the horizon is judged at the next hand-back
	}
	waited := now.Sub(since)
	if limit := a.r.opts.UnknownTaskWait; waited >= limit {
		cause := fmt.Errorf("docket: unknown task %q: no worker that has it registered took it within %v", m.Name, limit)
		a.r.log.Error("task cannot run", "key", m.Key, "task", m.Name, "reason", reasonUnknownTask, "err", cause)
		a.settle(func() *store.Outcome { return a.final(store.Failed, cause.Error(), reasonUnknownTask) })
		return
	}
	delay := min(max(waited, minUnknownBackoff), maxUnknownBackoff)
	// A worker that has it is up: it made the task due (known), or the
	// workers' registrations show one. The latter only for the first
	// moments of the wait: a worker that has it but is busy would
	// otherwise see the task handed back ten times a second until it frees.
	elsewhere := !known.IsZero() && now.Sub(known) < maxUnknownBackoff ||
		waited < knownRacePatience && a.r.fleet.has(a.ctx, m.Name)
	if elsewhere {
		delay = knownRaceWait // a worker that has it is up: leave it the task
	}
	log := a.r.log.Debug
	if waited == 0 && !elsewhere {
		log = a.r.log.Warn
	}
	log("task not registered on this worker; handing it back for a worker that has it",
		"key", m.Key, "task", m.Name, "again_in", delay, "fails_after", since.Add(a.r.opts.UnknownTaskWait))
	missing := fmt.Sprintf("no running worker has task %q registered", m.Name)
	if elsewhere {
		missing = fmt.Sprintf("a worker without task %q took it, and handed it back for one that has it", m.Name)
	}
	reason := fmt.Sprintf("%s (the last to try was %s); waiting for one since %s, until %s",
		missing, a.r.w.id, since.UTC().Format(time.RFC3339), since.Add(a.r.opts.UnknownTaskWait).UTC().Format(time.RFC3339))
	a.settle(func() *store.Outcome {
		o := a.newOutcome(store.Unknown)
		o.Delay, o.Error = delay, reason
		return o
	})
}

// The backoff of a task handed back for want of a worker that has it: as
// long as it has waited, within these bounds.
const (
	minUnknownBackoff = time.Second
	maxUnknownBackoff = time.Minute
)

// knownRacePatience is how long a task a worker without it hands back, when
// the workers' registrations show one that has it, is handed back after
// knownRaceWait rather than its backoff.
const knownRacePatience = 2 * time.Second

// knownRaceWait is how long a task waits, handed back by a worker that
// does not have it, once a worker that has it made it due (see handBack).
const knownRaceWait = 100 * time.Millisecond

// runFallback handles a message no registered task can run: the fallback
// handler decides, or the execution fails with reason.
func (a *attempt) runFallback(reason string, cause error) {
	fallback := a.r.opts.Fallback
	if fallback == nil {
		a.r.log.Error("task cannot run", "key", a.msg.Key, "task", a.msg.Name, "reason", reason, "err", cause)
		a.settle(func() *store.Outcome { return a.final(store.Failed, cause.Error(), reason) })
		return
	}
	// A handler that ignores its context is abandoned as a task's function
	// is (see runTask).
	a.abandonWhenDone()
	a.call(a.ctx, a.r.wrap(a, func(ctx context.Context) error { return fallback(ctx, a.msg.Name, a.msg.Input) }),
		func(err error) {
			if a.functionReturned() {
				a.settleFallback(err, reason, cause)
			}
		})
}

// stopped is the outcome of an attempt stopped from outside, by its
// context's cause: handed back (Released) at shutdown or when released
// from the line, for another worker; drained when its execution was
// cancelled or replaced; nil (nothing to record: the store has moved on)
// when its lease was lost.
func (a *attempt) stopped() *store.Outcome {
	switch cause := context.Cause(a.ctx); {
	case errors.Is(cause, sdk.ErrShutdown), errors.Is(cause, errReleased), errors.Is(cause, errStruckInLine):
		return a.newOutcome(store.Released)
	case errors.Is(cause, sdk.ErrCancelled):
		return a.drained()
	}
	return nil
}

// settleFallback records what the fallback handler's call ended with.
func (a *attempt) settleFallback(err error, reason string, cause error) {
	a.settle(func() *store.Outcome {
		switch stopped := context.Cause(a.ctx); {
		case errors.Is(stopped, sdk.ErrCancelled):
			return a.drained() // whatever it returned: the execution has moved on
		case err == nil:
			return a.final(store.Completed, "", "")
		case errors.Is(stopped, sdk.ErrShutdown), errors.Is(stopped, sdk.ErrLeaseLost):
			return a.stopped()
		}
		// The fallback's own error first: it is what failed; the reason
		// says why the message went to it.
		return a.final(store.Failed, fmt.Sprintf("fallback: %v (it had the message because %v)", err, cause), reason)
	})
}

// runTask runs a registered task's function (a.def's, with a.in), under
// its timeout, in a span. What the attempt needs once the function returns
// is kept in its fields rather than in closures: each closure that outlives
// the call is an allocation, on every task's way through a busy worker.
func (a *attempt) runTask() {
	def, m := a.def, &a.msg
	state := core.NewAttempt(core.Attempt{
		Key: m.Key, Task: m.Name, Number: m.Attempt, Deliveries: m.Deliveries, Due: m.Due, Input: def.Input,
		Last:    def.Policies.Retry == nil || !def.Policies.Retry.Retries(m.Attempt),
		Claimed: a.claimed, Received: a.claimedLocal,
		Hooks: &a.r.w.c.Hooks,
		Added: a.r.w.added,
	}, a.r.store, m.Gen, a.r.w.c.MaxInputSize)
	if t := def.Policies.Timeout; t != nil {
		state.Deadline = core.NewDeadline(t.Duration, func() { a.cancel(sdk.ErrTimeout) })
	}
	if p := def.Policies.Perpetual; p != nil {
		state.Schedule = core.NewSchedule(p.Every, false)
	} else if def.Policies.Cron != nil {
		state.Schedule = core.NewSchedule(0, true)
	}
	ctx, span := a.startSpan(def)
	a.carrier = core.Carrier{Context: ctx, Attempt: state}
	switch m.WaitedFor {
	case "":
	case store.WaitedParked:
		span.AddEvent(telemetry.EventResumed)
	default:
		span.AddEvent(telemetry.EventWaited, trace.WithAttributes(attribute.String(telemetry.AttrLimit, m.WaitedFor)))
	}
	ctx = &a.carrier
	if state.Deadline != nil {
		ctx = core.WithDeadline(ctx, state.Deadline)
	}
	a.called = time.Now()
	attrs := a.attrs()
	a.r.w.metrics.Started.Add(context.Background(), 1, attrs.Add...)
	// Lateness by the Redis clock, which set the due time.
	a.r.w.metrics.Punctuality.Record(context.Background(), max(a.redisAt(a.called).Sub(m.Due), 0).Seconds(), attrs.Record...)

	// If the context ends first (timeout, lost lease, end of the drain),
	// the attempt settles at once, and the function, should it ignore its
	// context, is abandoned: what it returns later is ignored.
	//
	// At shutdown or when the execution is cancelled or replaced, though,
	// the function gets a grace to return first (shutdownGrace,
	// store.CancelGrace): the task is handed back to another worker, or its
	// slots and its key's next run wait for this one to end (see
	// store.Drained); neither must run while this copy still does.
	a.abandonWhenDone()
	then := func(err error) {
		if a.functionReturned() {
			a.settle(func() *store.Outcome { return a.conclude(err, false) })
		}
	}
	if len(a.r.opts.Middleware) == 0 {
		a.call(ctx, a.callTask, then) // no middleware: a method value that needs no allocation
		return
	}
	a.call(ctx, a.r.wrap(a, a.callTask), then)
}

// callTask calls the task's function, and encodes its result.
func (a *attempt) callTask(ctx context.Context) error {
	result, err := a.def.Call(ctx, a.in)
	if err == nil && a.def.Result != nil {
		a.result, err = a.encodeResult(result)
	}
	return err
}

// conclude ends the run of a task's function, which returned err or was
// abandoned: it stops the timeout, measures, tells the hooks, ends the span,
// and returns the outcome.
func (a *attempt) conclude(err error, abandoned bool) *store.Outcome {
	def, m, span := a.def, &a.msg, trace.SpanFromContext(a.carrier.Context)
	if a.carrier.Attempt.Deadline != nil {
		a.carrier.Attempt.Deadline.Stop()
	}
	end := time.Now()
	a.ended = end
	a.r.w.metrics.Duration.Record(context.Background(), end.Sub(a.called).Seconds(), a.attrs().Record...)
	if abandoned || a.ctx.Err() != nil && err != nil {
		err = a.causeError(def)
	}
	if hook := a.r.w.c.Hooks.AttemptDone; hook != nil {
		hook(core.AttemptRecord{Key: m.Key, Task: m.Name, Attempt: m.Attempt, Start: a.called, End: end, Input: m.Input, Err: err})
	}
	o := a.outcome(def, err)
	if err != nil && (o == nil || o.Kind != store.Snoozed && o.Kind != store.Parked) { // neither is a failure
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	annotate(span, err, o)
	span.End()
	return o
}

// abandonedOutcome is the outcome of an attempt whose function was
// abandoned (see abandonWhenDone): a task's (see conclude), or the
// fallback's, which settles as stopped.
func (a *attempt) abandonedOutcome() *store.Outcome {
	if a.carrier.Attempt == nil { // the fallback's: runTask sets the state
		return a.stopped()
	}
	return a.conclude(nil, true)
}

// abandonWhenDone settles the attempt with abandonedOutcome once its
// context ends (see runTask), unless the function returns first: the
// caller calls functionReturned when it does. (context.AfterFunc did this
// at the cost of six allocations per attempt; the attempt's context ends
// only by its cancel, which looks at watching.)
func (a *attempt) abandonWhenDone() {
	a.watching.Store(true)
	if a.ctx.Err() != nil && a.watching.CompareAndSwap(true, false) { // it ended already
		go a.abandonAfterGrace()
	}
}

// functionReturned stops the watch abandonWhenDone started, and reports
// whether the attempt settles with what the function returned. It does
// unless its context ended first with no grace to return (a timeout, a lost
// lease): then the attempt is abandoned, at once, whatever the function
// returns even a moment later, and abandonAfterGrace settles it. (Settling
// with the function's nil there would record a run cut off by its
// timeout as completed, by whichever of the two settled first.)
func (a *attempt) functionReturned() bool {
	watched := a.watching.CompareAndSwap(true, false)
	a.graceMu.Lock()
	if a.returned != nil { // an abandonAfterGrace waits
		close(a.returned)
	}
	a.returned = returnedAlready
	a.graceMu.Unlock()
	return watched || graceFor(context.Cause(a.ctx)) > 0
}

// abandonAfterGrace settles an attempt whose context ended while its
// function ran (see abandonedOutcome), once the function has had its grace
// to return (see graceFor).
func (a *attempt) abandonAfterGrace() {
	if grace := graceFor(context.Cause(a.ctx)); grace > 0 {
		a.graceMu.Lock()
		if a.returned == nil {
			a.returned = make(chan struct{})
		}
		returned := a.returned
		a.graceMu.Unlock()
		timer := time.NewTimer(grace)
		defer timer.Stop()
		select {
		case <-returned:
			return // it settles with its own result
		case <-timer.C:
		}
	}
	a.settle(a.abandonedOutcome)
}

// graceFor is how long a function whose context ended with cause has to
// return before it is abandoned.
func graceFor(cause error) time.Duration {
	switch {
	case errors.Is(cause, sdk.ErrShutdown):
		return shutdownGrace
	case errors.Is(cause, sdk.ErrCancelled):
		return store.CancelGrace
	}
	return 0
}

// parked returns what a workflow's run decided to wait for, if it parks:
// unless its context ended (a timeout, a cancellation), which decides.
func (a *attempt) parked() (*store.Park, string) {
	if a.carrier.Attempt == nil || a.carrier.Attempt.Flow == nil || a.ctx.Err() != nil {
		return nil, ""
	}
	return a.carrier.Attempt.Flow.Parked()
}

// encodeResult encodes a task's result as JSON, within the docket's input
// size limit: a result that does not encode fails the attempt.
func (a *attempt) encodeResult(result any) ([]byte, error) {
	raw, err := json.Marshal(result)
	if err != nil {
		return nil, fmt.Errorf("docket: task %q: its result does not encode as JSON: %w", a.msg.Name, err)
	}
	if a.def.ReadBackResult != nil {
		// Saved, it would complete the execution with a result no caller
		// can read. Not retried, as a step's output that does not read back
		// is not: the task's code chose the value, and a retry would run
		// its work again to find out whether it chooses another.
		if err := a.def.ReadBackResult(raw); err != nil {
			return nil, sdk.Permanent(fmt.Errorf("task %q: %w", a.msg.Name, err))
		}
	}
	if err := core.CheckSize(raw, a.r.w.c.MaxInputSize, func() string { return fmt.Sprintf("task %q: its result", a.msg.Name) }); err != nil {
		return nil, err
	}
	return raw, nil
}

// The outcomes of attempts that record none, as their spans say them.
const (
	outcomeCancelled = "cancelled"  // Cancel, Replace, or its workflow's end
	outcomeLeaseLost = "lease_lost" // fenced: its lease could not be renewed
)

// annotate records on an attempt's span what became of the attempt.
func annotate(span trace.Span, err error, o *store.Outcome) {
	if !span.IsRecording() {
		return // nothing to build attributes for
	}
	switch {
	case errors.Is(err, sdk.ErrTimeout):
		span.AddEvent(telemetry.EventTimeout)
	case errors.Is(err, sdk.ErrCancelled), errors.Is(err, sdk.ErrLeaseLost), errors.Is(err, sdk.ErrShutdown):
		span.AddEvent(telemetry.EventCancelled, trace.WithAttributes(attribute.String(telemetry.AttrReason, err.Error())))
	case errors.Is(err, sdk.ErrPermanent):
		span.AddEvent(telemetry.EventPermanent)
	}
	if o == nil || o.Kind == store.Drained {
		// Nothing recorded: the store moved on while the attempt ran.
		switch {
		case errors.Is(err, sdk.ErrCancelled):
			span.SetAttributes(attribute.String(telemetry.AttrOutcome, outcomeCancelled))
		case errors.Is(err, sdk.ErrLeaseLost):
			span.SetAttributes(attribute.String(telemetry.AttrOutcome, outcomeLeaseLost))
		}
		return
	}
	kind := o.Kind
	if kind == store.Unstarted {
		kind = store.Released // one name for a hand-back, as before Unstarted
	}
	span.SetAttributes(attribute.String(telemetry.AttrOutcome, string(kind)))
	switch o.Kind {
	case store.Retried:
		span.AddEvent(telemetry.EventRetry, trace.WithAttributes(attribute.Float64(telemetry.AttrDelay, o.Delay.Seconds())))
	case store.Snoozed:
		span.AddEvent(telemetry.EventSnoozed, trace.WithAttributes(attribute.Float64(telemetry.AttrDelay, o.Delay.Seconds())))
	case store.Parked:
		span.AddEvent(telemetry.EventParked, trace.WithAttributes(attribute.String(telemetry.AttrWaitingFor, o.Error)))
	case store.Perpetual:
		next := o.Next.At.UTC().Format(time.RFC3339Nano)
		if o.Next.At.IsZero() {
			next = "+" + o.Next.After.String()
		}
		span.AddEvent(telemetry.EventNextRun, trace.WithAttributes(attribute.String(telemetry.AttrNextDue, next)))
	}
}

// causeError is the error of an attempt whose context ended.
func (a *attempt) causeError(def *core.TaskDef) error {
	cause := context.Cause(a.ctx)
	if errors.Is(cause, sdk.ErrTimeout) {
		allowed := def.Policies.Timeout.Duration
		if a.carrier.Attempt != nil && a.carrier.Attempt.Deadline != nil {
			allowed = a.carrier.Attempt.Deadline.Allowed() // extensions included
		}
		return fmt.Errorf("%w after %v", sdk.ErrTimeout, allowed)
	}
	return cause
}

// consumerSpan starts the span of an attempt without a producer's trace;
// built once, since it is the same for every such attempt.
var consumerSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer)}

// noSpan is the attempt's span when none is started: one that records
// nothing (see startSpan).
var noSpan = trace.SpanFromContext(context.Background())

// startSpan starts the attempt's span. Its attributes are set once it is
// known to record: samplers see its name, kind and producer link, and a
// worker without tracing builds no attributes for each task.
func (a *attempt) startSpan(def *core.TaskDef) (context.Context, trace.Span) {
	tracer, tracing := telemetry.Tracing()
	if !tracing && !trace.SpanContextFromContext(a.ctx).IsValid() {
		return a.ctx, noSpan // no provider, no span around: one would record nothing, and be no one's parent
	}
	m := a.msg
	opts := consumerSpan
	if producer := telemetry.ExtractTrace(m.Trace); producer.IsValid() {
		opts = []trace.SpanStartOption{consumerSpan[0], trace.WithLinks(trace.Link{SpanContext: producer})}
	}
	ctx, span := tracer.Start(a.ctx, def.Name, opts...)
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String(telemetry.AttrDocket, a.r.w.c.Name),
			attribute.String(telemetry.AttrTask, m.Name),
			attribute.String(telemetry.AttrKey, m.Key),
			attribute.Int(telemetry.AttrAttempt, m.Attempt),
			attribute.String(telemetry.AttrWorker, a.r.w.id),
		)
	}
	return ctx, span
}

// call runs fn, counting it while it runs, then passes what it ended with
// to then: its error, a *sdk.PanicError for a panic, or errGoexit. then
// runs deferred, since a function that calls runtime.Goexit ends the
// goroutine: whatever follows the call would never run, and the attempt
// would hold its slot for ever.
func (a *attempt) call(ctx context.Context, fn func(context.Context) error, then func(error)) {
	a.r.slots.called()
	hook := a.r.w.c.Hooks.Calls
	if hook != nil {
		hook(1)
	}
	var err error
	returned := false
	defer func() {
		if v := recover(); v != nil {
			err = &sdk.PanicError{Value: v, Stack: debug.Stack()}
		} else if !returned {
			err = errGoexit
		}
		a.r.slots.returned()
		if hook != nil {
			hook(-1)
		}
		then(err)
	}()
	err = core.Usable(fn(ctx))
	returned = true
}

// errGoexit is the error of an attempt whose function called
// runtime.Goexit rather than returning.
var errGoexit = errors.New("docket: the task's function called runtime.Goexit instead of returning " +
	"(t.FailNow, or a failed require assertion, inside a task does that)")

// outcome decides what becomes of an attempt that ended with err.
func (a *attempt) outcome(def *core.TaskDef, err error) *store.Outcome {
	if errors.Is(context.Cause(a.ctx), sdk.ErrCancelled) {
		return a.drained() // whatever it returned: the execution has moved on
	}
	if p, why := a.parked(); p != nil {
		a.r.w.metrics.Parked.Add(context.Background(), 1, a.attrs().Add...)
		o := a.newOutcome(store.Parked)
		o.Input, o.Error = p.Encode(), why
		return o
	}
	if snooze, ok := errors.AsType[*sdk.SnoozeError](err); ok && snooze != nil && a.ctx.Err() == nil {
		a.r.w.metrics.Snoozed.Add(context.Background(), 1, a.attrs().Add...)
		o := a.newOutcome(store.Snoozed)
		o.Delay = snooze.Delay
		return o
	}
	if err == nil {
		a.r.w.metrics.Succeeded.Add(context.Background(), 1, a.attrs().Add...)
		return a.end(def, store.Completed, "", "")
	}
	if a.ctx.Err() == nil && errors.Is(err, core.ErrParked) {
		// Returned, but no primitive of the run parked it: the run has
		// nothing to wait for, and fails, saying why rather than "parks".
		err = fmt.Errorf("docket: task %q returned workflow.ErrParked, but none of its primitives parked this run (return the error a primitive gave, not ErrParked itself): %w", a.msg.Name, err)
	}
	// The attempt's own context decides first: an error that only wraps
	// ErrCancelled or ErrTimeout (a child's, say) is the task's error.
	if cause := context.Cause(a.ctx); a.ctx.Err() != nil {
		switch {
		case errors.Is(cause, sdk.ErrLeaseLost), errors.Is(cause, sdk.ErrShutdown):
			return a.stopped()
		case errors.Is(cause, sdk.ErrTimeout):
			return a.failure(def, err, reasonTimeout)
		}
	}
	// A child of this workflow did not complete: running it again would
	// find the same. This comes before ErrPermanent, which the error of a
	// child that failed for good also wraps, unless the workflow itself
	// said so (sdk.Permanent around the child's error). (A task that is no
	// workflow and returns the error of a workflow it waited for, which a
	// child failed, is retried as for any error: a retry starts that work
	// anew.)
	if errors.Is(err, core.ErrChildFailed) && a.carrier.Attempt != nil && a.carrier.Attempt.Flow != nil && a.carrier.Attempt.Flow.Used() &&
		!saysPermanent(err) {
		return a.failure(def, err, reasonChild)
	}
	if errors.Is(err, sdk.ErrPermanent) {
		return a.failure(def, err, reasonPermanent)
	}
	if _, ok := errors.AsType[*sdk.PanicError](err); ok {
		return a.failure(def, err, reasonPanic)
	}
	return a.failure(def, err, reasonError)
}

// saysPermanent reports whether err itself is, or wraps, ErrPermanent
// (sdk.Permanent) outside the *sdk.TaskError of another execution it
// wraps: a task that failed for good unwraps to ErrPermanent too, and
// says so only of itself.
func saysPermanent(err error) bool {
	if err == sdk.ErrPermanent {
		return true
	}
	if _, ok := err.(*sdk.TaskError); ok {
		return false
	}
	if is, ok := err.(interface{ Is(error) bool }); ok && is.Is(sdk.ErrPermanent) {
		return true // an error type of its own that says so, as errors.Is asks
	}
	switch e := err.(type) {
	case interface{ Unwrap() []error }:
		return slices.ContainsFunc(e.Unwrap(), saysPermanent)
	case interface{ Unwrap() error }:
		return saysPermanent(e.Unwrap())
	}
	return false
}

// drained is the outcome of an attempt whose execution was cancelled or
// replaced while it ran: nothing is recorded, but the slots it held and
// its key's next run, which waited for it, are freed.
func (a *attempt) drained() *store.Outcome {
	return a.newOutcome(store.Drained)
}

// failure retries the task if its retry policy allows, or fails it.
func (a *attempt) failure(def *core.TaskDef, err error, reason string) *store.Outcome {
	m := a.msg
	if rp := def.Policies.Retry; rp != nil && rp.Retries(m.Attempt) && reason != reasonPermanent && reason != reasonChild {
		delay := rp.DelayAfter(m.Attempt)
		a.r.log.Info("task failed; retrying", "key", m.Key, "task", m.Name, "attempt", m.Attempt, "in", delay, "err", err)
		a.r.w.metrics.Retried.Add(context.Background(), 1, a.attrs().Add...)
		o := a.newOutcome(store.Retried)
		o.Delay, o.Error = delay, err.Error()
		return o
	}
	a.r.log.Warn("task failed", "key", m.Key, "task", m.Name, "attempt", m.Attempt, "reason", reason, "err", err)
	return a.end(def, store.Failed, err.Error(), reason)
}

// end ends a run: a perpetual or cron task's chain goes on with its next
// run, whatever this one's result; any other execution ends.
func (a *attempt) end(def *core.TaskDef, kind store.OutcomeKind, errText, reason string) *store.Outcome {
	next, input, ok := a.nextRun(def)
	if !ok {
		return a.final(kind, errText, reason)
	}
	if kind == store.Failed {
		a.countFailure(reason)
	}
	a.r.w.metrics.Perpetuated.Add(context.Background(), 1, a.attrs().Add...)
	o := a.newOutcome(store.Perpetual)
	o.Next, o.Error, o.Input = next, errText, input
	return o
}

// nextRun is when the next run of a perpetual or cron task is due, and its
// input (nil to keep this run's); ok is false when the chain ends here.
func (a *attempt) nextRun(def *core.TaskDef) (next store.When, input []byte, ok bool) {
	if a.carrier.Attempt == nil || a.carrier.Attempt.Schedule == nil {
		return store.When{}, nil, false
	}
	continues, every, input := a.carrier.Attempt.Schedule.State()
	if !continues && !def.Policies.Automatic() {
		// An automatic task's chain is kept going by the workers that
		// register it: were it to end here, they would start it again at
		// once, in a loop if every run cancels it. It goes on instead.
		return store.When{}, nil, false
	}
	cron := def.Policies.Cron
	if cron == nil {
		return store.When{After: every}, input, true // after this run's start
	}
	// The next instant after this run's due time; if the worker fell so far
	// behind that it has passed too, the next one after now: missed
	// instants are skipped, not caught up one by one.
	at, err := cron.Next(a.msg.Due)
	if now := a.redisNow(); err == nil && !at.After(now) {
		at, err = cron.Next(now)
	}
	if err != nil {
		a.r.log.Error("cron schedule has no next run; the chain ends", "key", a.msg.Key, "task", a.msg.Name, "err", err)
		return store.When{}, nil, false
	}
	return store.When{At: at}, input, true
}

// final ends the execution.
func (a *attempt) final(kind store.OutcomeKind, errText, reason string) *store.Outcome {
	if kind == store.Failed {
		a.countFailure(reason)
	}
	o := a.newOutcome(kind)
	o.Error, o.Reason = errText, reason
	if kind == store.Completed {
		o.Result = a.result
	}
	if c := a.r.w.c; kind == store.Completed && c.CompletedRetention != c.Retention {
		o.Keep = c.CompletedRetention
		if o.Keep == 0 {
			o.Keep = store.Discard
		}
	}
	return o
}

func (a *attempt) countFailure(reason string) {
	a.r.w.metrics.Failed.Add(context.Background(), 1, telemetry.Failure(a.r.w.c.Name, a.msg.Name, reason))
}

// settle records the attempt's outcome, once: the first caller computes
// the outcome, frees the slot and sends the outcome to be acknowledged (or
// forgets the attempt when there is nothing to record); later callers do
// nothing.
func (a *attempt) settle(outcome func() *store.Outcome) {
	if !a.settled.CompareAndSwap(false, true) {
		return
	}
	o := outcome()
	r := a.r
	r.slots.free(a)
	if o == nil {
		r.slots.handedBack(a)
		a.forget()
		r.claims.poke() // the worker may be idle now
		return
	}
	if o != &a.out {
		a.out = *o
	}
	r.acks.send(a)
	r.slots.handedBack(a) // only now: see claimer.send
	// A slot is free: the drain may be over, and the claim loop may claim.
	r.slots.signal()
	r.claims.poke()
}

// forget drops the attempt from the worker's books. It does not poke the
// claim loop: the loop calls it itself, once an outcome is recorded.
func (a *attempt) forget() {
	a.r.slots.forget(a)
	a.cancel(nil)
	a.r.slots.signal()
}
