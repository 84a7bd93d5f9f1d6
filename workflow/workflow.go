package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/docket-go/docket/internal/core"
	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/telemetry"
)

// ErrParked is what a primitive returns when the run must wait (a child not
// ended, a signal not received, a sleep not over): return it from the task,
// wrapped or not. The run parks — its attempt ends, its worker slot frees —
// and the workflow runs again when what it waits for happens; whatever the
// function returns after a primitive parked, the run parks, and no
// primitive does anything more in that run. Returned when no primitive
// parked the run, it is an error like any other, that says so.
var ErrParked = core.ErrParked

// ErrDuplicateName reports a name given twice in one run to the same kind of
// primitive (two steps, two children, two sleeps): names are how a run
// finds what an earlier run of the execution did.
var ErrDuplicateName = core.ErrDuplicate

// ErrNoName reports a primitive called with an empty name.
var ErrNoName = core.ErrNoName

// ErrChildFailed marks the error Future.Get returns for a child that did
// not complete (it also wraps the child's *sdk.TaskError). A workflow that
// returns it fails for good, with reason "child": running it again would
// find the same child's outcome. Wrap it in sdk.Permanent, or handle it, to
// decide otherwise.
var ErrChildFailed = core.ErrChildFailed

// ErrKeyTaken reports a child that could not be started: a live task
// that is not the workflow's child (one added with sdk.Key, say) holds the
// child's key, <workflow key>/<name>. Nothing is adopted; the children
// started in the same call are, and a later run finds them. Returned, the
// error fails the run as any error does: a retry may find the key free.
var ErrKeyTaken = core.ErrKeyTaken

// ErrNotAChild reports a wait (Wait, Get, All) for a Future that this
// execution of the workflow did not start: another workflow's child, or a
// child of an earlier execution of its key kept in a variable. Its end
// would never wake this workflow. It comes wrapped in sdk.Permanent: a
// retry would find the same.
var ErrNotAChild = core.ErrNotAChild

// ErrNotInTask reports a primitive called outside a running task.
var ErrNotInTask = core.ErrNotInTask

// ErrSignalTimeout reports a wait for a signal that timed out. It comes
// wrapped in sdk.Permanent; a workflow that returns it fails (reason
// permanent), and the error of its Result matches it too.
var ErrSignalTimeout = core.ErrSignalTimeout

// run returns the state of the run in ctx.
func run(ctx context.Context) (*core.Attempt, error) {
	if ctx == nil {
		return nil, fmt.Errorf("%w: the context.Context is nil (pass the task's own context)", sdk.ErrNilArgument)
	}
	a := core.AttemptFrom(ctx)
	if a == nil || a.Flow == nil {
		return nil, ErrNotInTask
	}
	return a, nil
}

// load checks that the run may go on and reads what the execution did. A
// run whose context ended may not: the primitive returns the cause.
func load(ctx context.Context, a *core.Attempt) error {
	if ctx.Err() != nil {
		// Before anything that takes the flow's lock, which a read left
		// behind (see promptly) may hold until Redis answers it.
		return context.Cause(ctx)
	}
	if err := a.Flow.Err(); err != nil {
		return err
	}
	_, err := promptly(ctx, a.Flow.Load)
	return err
}

// promptly makes a round trip to Redis for the run in ctx, and returns when
// it does or as soon as ctx ends, with ctx's cause. go-redis finishes a call
// in progress whatever its context: a Redis that stalls, or a worker cut
// off from it, would hold the run past its end — past its Timeout, or past
// the lease it lost while another worker runs the workflow — until Redis
// answers or the client's timeouts give up. The call left behind may still
// apply: every script a primitive runs checks that the run still holds its
// task, so one that applies does so in time, as if only its reply were
// lost, and the next run finds what it did.
func promptly[T any](ctx context.Context, call func(context.Context) (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := call(ctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, context.Cause(ctx)
	}
}

// held turns store.ErrNotHeld into the error the run sees.
func held(err error) error {
	if errors.Is(err, store.ErrNotHeld) {
		return fmt.Errorf("%w (%w)", sdk.ErrLeaseLost, err)
	}
	return err
}

// stepKey is the context key of a running step's identity.
type stepKey struct{}

// Step runs fn once for the execution: its output is saved (as JSON) when
// it returns a nil error, and when the workflow runs again — a retry, a
// redelivery after its worker died, a resumption after it parked — the step
// returns the saved output without running. The run that ran fn gets the
// output as saved too, decoded from its JSON: every run sees the same. An
// error is returned as is and saves nothing: the workflow decides
// (returning it fails the attempt, which the retry policy may retry).
//
// A step runs at least once, not exactly once: a worker that dies inside
// fn (or before the output is saved) runs it again. Make its side effects
// idempotent, for instance by passing StepKey(ctx) to the outside world as
// an idempotency key. Saving the output is one round trip to Redis; a step
// found saved costs none. An output larger than the docket's
// sdk.WithMaxInputSize is not saved: Step returns an error wrapping
// sdk.ErrInputTooLarge (fn ran; a retry runs it again). Nor is an output
// whose JSON does not decode back into Out (a field of interface type
// holding a non-nil error encodes as {}): Step returns a permanent error
// (sdk.ErrPermanent, sdk.ErrBadInput), which no retry would mend.
func Step[Out any](ctx context.Context, name string, fn func(ctx context.Context) (Out, error)) (Out, error) {
	var zero Out
	if fn == nil {
		return zero, fmt.Errorf("%w: step %q has a nil function", sdk.ErrNilArgument, name)
	}
	a, err := run(ctx)
	if err != nil {
		return zero, err
	}
	if err := load(ctx, a); err != nil {
		return zero, err
	}
	if err := a.Flow.Use("step", name); err != nil {
		return zero, err
	}
	field := store.FlowStep + name
	if raw, ok := a.Flow.Lookup(field); ok {
		return saved[Out](name, raw)
	}

	ctx, span := telemetry.Tracer().Start(ctx, "step "+name)
	span.SetAttributes(attribute.String(telemetry.AttrStep, name), attribute.String(telemetry.AttrKey, a.Key))
	start := time.Now()
	ended := func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
		if a.Hooks != nil && a.Hooks.StepDone != nil {
			a.Hooks.StepDone(core.StepRecord{Workflow: a.Key, Name: name, Start: start, End: time.Now(), Err: err})
		}
	}
	returned := false
	defer func() {
		if !returned { // fn panicked, on its way to the worker (a *sdk.PanicError)
			ended(fmt.Errorf("step %q panicked", name))
		}
	}()
	out, err := fn(context.WithValue(ctx, stepKey{}, a.Key+"/"+name))
	returned = true
	err = core.Usable(err)
	var raw string
	if err == nil {
		var enc []byte
		if enc, err = encoded(name, out); err == nil {
			raw, err = record(ctx, a, field, enc)
		}
	}
	ended(err)
	if err != nil {
		return zero, err
	}
	// The output as saved, not fn's own value: every run of the execution
	// then sees the same (JSON drops fields tagged "-", makes a map's
	// numbers float64, a time's monotonic reading goes).
	return saved[Out](name, raw)
}

// partOf tells whether type want is part of t itself, as JSON encodes it:
// t, or what its pointers, slices, arrays and maps hold, or its exported
// fields' types — not what an interface holds, which each value chooses.
func partOf(t, want reflect.Type, seen map[reflect.Type]bool) bool {
	if t == want {
		return true
	}
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return partOf(t.Elem(), want, seen)
	case reflect.Map:
		return partOf(t.Key(), want, seen) || partOf(t.Elem(), want, seen)
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if (f.IsExported() || f.Anonymous) && f.Tag.Get("json") != "-" && partOf(f.Type, want, seen) {
				return true
			}
		}
	}
	return false
}

// saved decodes a step's saved output.
func saved[Out any](name, raw string) (Out, error) {
	var out Out
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		var zero Out
		return zero, fmt.Errorf("docket: step %q: its saved output does not decode into %T: %w", name, out, err)
	}
	return out, nil
}

// encoded is a step's output as JSON. An output that would not decode back
// into Out is refused, not saved: a field of interface type holding a
// non-nil error, say, encodes as {}, which no run could read, and saved it
// would fail every run of the execution. Since the same type would fail
// the same way, the error is permanent (sdk.Permanent): not retried. So is
// an output whose type JSON cannot encode (a channel, a function) as part
// of Out itself; one held in an interface, or a value JSON cannot encode
// (a NaN), may differ in the next run, and is retried.
func encoded[Out any](name string, out Out) ([]byte, error) {
	raw, err := json.Marshal(out)
	var unsupported *json.UnsupportedTypeError
	if errors.As(err, &unsupported) && partOf(reflect.TypeFor[Out](), unsupported.Type, map[reflect.Type]bool{}) {
		return nil, sdk.Permanent(fmt.Errorf("%w: step %q: its output does not encode as JSON, whatever its value: %w",
			sdk.ErrBadInput, name, err))
	}
	if err != nil {
		return nil, fmt.Errorf("docket: step %q: its output does not encode as JSON: %w", name, err)
	}
	var back Out
	if err := json.Unmarshal(raw, &back); err != nil {
		return nil, sdk.Permanent(fmt.Errorf("%w: step %q: its output, as JSON, does not decode into %T (%w); it is not saved: "+
			"give it a type that JSON can read back (a field of interface type must be nil, or hold what decodes into it)",
			sdk.ErrBadInput, name, back, err))
	}
	return raw, nil
}

// record saves a step's output, encoded, in the execution's flow, and
// returns it as saved.
func record(ctx context.Context, a *core.Attempt, field string, raw []byte) (string, error) {
	name := field[len(store.FlowStep):]
	if err := core.CheckSize(raw, a.Flow.MaxOutput, func() string { return fmt.Sprintf("step %q: its output", name) }); err != nil {
		return "", err
	}
	if _, err := promptly(ctx, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, a.Flow.Store.Record(ctx, a.Key, a.Flow.Gen, field, string(raw))
	}); err != nil {
		return "", held(err)
	}
	a.Flow.Set(field, string(raw))
	return string(raw), nil
}

// Do is a Step without an output, for work done for its effect.
func Do(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	if fn == nil {
		return fmt.Errorf("%w: step %q has a nil function", sdk.ErrNilArgument, name)
	}
	_, err := Step(ctx, name, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) })
	return err
}

// StepKey is the identity of the step running in ctx: the workflow's key
// and the step's name, the same in every run of the step. Pass it to
// services that take an idempotency key, so that a step run again after a
// crash does its work once. Empty outside a step (and for a nil ctx).
func StepKey(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	k, _ := ctx.Value(stepKey{}).(string)
	return k
}

// Sleep parks the workflow until d has passed since the first run that
// reached this sleep (by the Redis clock): a durable sleep, which costs no
// worker and survives restarts. name identifies it in the execution. A d
// of zero or less returns at once.
func Sleep(ctx context.Context, name string, d time.Duration) error {
	return sleep(ctx, name, store.Park{Kind: store.ParkSleep, Timer: name, For: d})
}

// SleepUntil parks the workflow until t (by the Redis clock); see Sleep. A
// t already past returns at once; one after the year 9999 is an error
// matching sdk.ErrBadInput, permanent (see sdk.Permanent): a run gets its
// instant as every run does, from what earlier runs saved, and a retry
// would get the same.
func SleepUntil(ctx context.Context, name string, t time.Time) error {
	if err := core.CheckInstant("workflow.SleepUntil", t); err != nil {
		return sdk.Permanent(err)
	}
	return sleep(ctx, name, store.Park{Kind: store.ParkSleep, Timer: name, Until: t})
}

func sleep(ctx context.Context, name string, p store.Park) error {
	a, err := run(ctx)
	if err != nil {
		return err
	}
	if err := load(ctx, a); err != nil {
		return err
	}
	if err := a.Flow.Use("sleep", name); err != nil {
		return err
	}
	if v, ok := a.Flow.Lookup(store.FlowTimer + name); ok {
		var us int64
		if _, err := fmt.Sscan(v, &us); err == nil && !time.UnixMicro(us).After(a.Now()) {
			return nil // over
		}
	} else if p.Until.IsZero() && p.For <= 0 || !p.Until.IsZero() && !p.Until.After(a.Now()) {
		return nil // no time to wait, or an instant already past
	}
	return a.Flow.Park(p, "sleep "+name)
}

// WaitSignal returns the next signal called name sent to the workflow
// (Docket.Signal), decoded from JSON into T, parking until one comes. With a
// positive timeout, the wait ends with ErrSignalTimeout once timeout has
// passed since the first run that reached it; zero waits for ever. A
// negative timeout has passed already (a deadline minus now, say): the wait
// gets a signal sent before it, else ErrSignalTimeout at once. The timeout
// is recorded, and every run gets it again: its error is permanent (see
// sdk.Permanent), so that returned it fails the workflow without retries
// that could not mend it.
//
// Signals are kept until received: one sent before the workflow reaches the
// wait is received at once. The calls of WaitSignal for one name in a run
// are numbered in the order the run makes them, and each receives one
// signal, the same in every run of the execution.
func WaitSignal[T any](ctx context.Context, name string, timeout time.Duration) (T, error) {
	var zero T
	a, err := run(ctx)
	if err != nil {
		return zero, err
	}
	if err := load(ctx, a); err != nil {
		return zero, err
	}
	if name == "" {
		return zero, core.NoName("a signal")
	}
	wait := fmt.Sprintf("%s#%d", name, a.Flow.Count("signal:"+name))
	got, err := received(ctx, a, name, wait, timeout < 0)
	if err != nil {
		return zero, err
	}
	switch {
	case got.TimedOut:
		// Recorded: every run would get the same, so a retry would not
		// mend it (sdk.Permanent; errors.Is still finds ErrSignalTimeout).
		return zero, sdk.Permanent(fmt.Errorf("%w: signal %q, after %v", ErrSignalTimeout, name, timeout))
	case got.Got:
		var v T
		if err := json.Unmarshal(got.Payload, &v); err != nil {
			// Received, and recorded: every run would get the same.
			return zero, sdk.Permanent(fmt.Errorf("%w: signal %q carried %s, which does not decode into %T: %w",
				sdk.ErrBadInput, name, got.Payload, v, err))
		}
		return v, nil
	}
	park := store.Park{Kind: store.ParkSignal, Signal: name, Wait: wait, Timeout: timeout}
	if timeout < 0 {
		// The wait has a deadline still ahead, set by an earlier run (with
		// a timeout then positive): a timeout keeps the wait to it. (With
		// none, Redis has recorded a signal or the timeout already.)
		park.Timeout = time.Microsecond
	}
	return zero, a.Flow.Park(park, "signal "+name)
}

// received reads what the wait got, from the flow as loaded when it says,
// else from Redis, which hands it the next signal queued, or, when passed
// (a negative timeout), times the wait out (one round trip).
func received(ctx context.Context, a *core.Attempt, name, wait string, passed bool) (store.Received, error) {
	if v, ok := a.Flow.Lookup(store.FlowReceived + wait); ok && v != "" {
		if v[0] == 't' {
			return store.Received{TimedOut: true}, nil
		}
		return store.Received{Got: true, Payload: []byte(v[1:])}, nil
	}
	got, err := promptly(ctx, func(ctx context.Context) (store.Received, error) {
		return a.Flow.Store.Receive(ctx, a.Key, a.Flow.Gen, name, wait, passed)
	})
	return got, held(err)
}
