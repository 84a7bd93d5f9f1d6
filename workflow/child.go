package workflow

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/docket-go/docket/internal/core"
	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/internal/text"
	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/telemetry"
)

// Future is a child task a workflow started: Get waits for it.
type Future[Out any] struct {
	key  string
	task string // the child's task, for its TaskError
}

// Key is the child's key: its workflow's key, a slash, and its name; empty
// for a nil Future.
func (f *Future[Out]) Key() string {
	if f == nil {
		return ""
	}
	return f.key
}

// childKey is what Future keys the child by: its own key.
func (f *Future[Out]) childKey() string { return f.key }

// errNilTask is the error of a child whose task is nil.
var errNilTask = fmt.Errorf("%w: the child's task is nil", sdk.ErrNilArgument)

// Awaitable is a child that Wait can wait for: a *Future of any result.
type Awaitable interface {
	childKey() string
}

// Get returns the child's result once it has ended, parking until then.
// A child that did not complete returns an error that names it and wraps
// ErrChildFailed and its *sdk.TaskError, as sdk.Result returns it (errors.Is matches
// sdk.ErrTimeout, sdk.ErrCancelled, sdk.ErrPermanent…): the workflow may
// handle it — run a compensating step, say — or return it, which fails the
// workflow for good (reason "child": a retry would find the same).
func (f *Future[Out]) Get(ctx context.Context) (Out, error) {
	var zero Out
	if f == nil {
		return zero, fmt.Errorf("%w: Get of a nil Future", sdk.ErrNilArgument)
	}
	if err := Wait(ctx, f); err != nil {
		return zero, err
	}
	// Read from the run in ctx, which Wait loaded: a Future kept from an
	// earlier run (a variable outside the function) has that run's flow.
	a, err := run(ctx)
	if err != nil {
		return zero, err
	}
	raw, _ := a.Flow.Lookup(store.FlowEnded + f.key)
	o, err := store.ParseChildOutcome(raw)
	if err != nil {
		return zero, err
	}
	if o.State != store.StateCompleted {
		te := &sdk.TaskError{Key: f.key, Task: f.task, State: sdk.State(o.State), Reason: o.Reason, Message: o.Error}
		return zero, fmt.Errorf("%w %q %s: %w", ErrChildFailed, f.key, o.State, te)
	}
	if o.Result == "" {
		return zero, nil
	}
	var out Out
	if err := json.Unmarshal([]byte(o.Result), &out); err != nil {
		// Permanent: a retry would read the same result.
		return zero, sdk.Permanent(fmt.Errorf("%w: the result of child %q does not decode into %T: %w", sdk.ErrBadInput, f.key, out, err))
	}
	return out, nil
}

// Wait parks the workflow until every child given has ended, whether it
// completed or not (Get tells): the fan-in of a fan-out. It returns nil when
// they all have.
func Wait(ctx context.Context, children ...Awaitable) error {
	a, err := run(ctx)
	if err != nil {
		return err
	}
	if err := load(ctx, a); err != nil {
		return err
	}
	var awaited []string // each once, in order
	pending := 0
	seen := map[string]bool{}
	for i, c := range children {
		if c == nil || reflect.ValueOf(c).IsNil() {
			return fmt.Errorf("%w: child %d of %d to wait for is nil", sdk.ErrNilArgument, i+1, len(children))
		}
		key := c.childKey()
		if key == "" {
			return fmt.Errorf("%w: child %d of %d to wait for is a zero Future: wait for the one Start returns",
				sdk.ErrNilArgument, i+1, len(children))
		}
		if seen[key] {
			continue
		}
		if name, ok := strings.CutPrefix(key, a.Key+"/"); !ok || !startedHere(a, name, key) {
			return sdk.Permanent(fmt.Errorf("%w: %q is not a child %q started (child %d of %d to wait for)",
				ErrNotAChild, key, a.Key, i+1, len(children)))
		}
		seen[key] = true
		awaited = append(awaited, key)
		if _, ok := a.Flow.Lookup(store.FlowEnded + key); !ok {
			pending++
		}
	}
	if pending == 0 {
		return nil
	}
	what := fmt.Sprintf("%d of %d children", pending, len(awaited))
	if len(awaited) == 1 {
		what = "1 child"
	}
	// Every child awaited goes to the park, ended or not: it counts them
	// all ("2 of 3 children"), and skips those that ended.
	return a.Flow.Park(store.Park{Kind: store.ParkChildren, Children: awaited}, what)
}

// startedHere reports whether the run's execution started the child key
// under name: its end is written to this flow.
func startedHere(a *core.Attempt, name, key string) bool {
	started, ok := a.Flow.Lookup(store.FlowChild + name)
	return ok && started == key
}

// All waits for every child (see Wait), and returns their results in
// order, or the first error among them.
func All[Out any](ctx context.Context, children []*Future[Out]) ([]Out, error) {
	awaited := make([]Awaitable, len(children))
	for i, c := range children {
		awaited[i] = c
	}
	if err := Wait(ctx, awaited...); err != nil {
		return nil, err
	}
	out := make([]Out, len(children))
	for i, c := range children {
		v, err := c.Get(ctx)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// Start starts a child: task with input in, under name. The child's key is
// the workflow's key, a slash, and name, so that a run of the workflow that
// comes again finds it started instead of starting it twice; a child is
// started once per execution of its workflow. It runs like any task (its
// own policies, on any worker); when it ends, its workflow learns of it.
// opts may delay it (sdk.After, sdk.At); it is keyed by its name. Its input
// is held to the docket's sdk.WithMaxInputSize (sdk.ErrInputTooLarge). A
// perpetual or cron task cannot be a child (sdk.ErrBadInput): its chain never
// ends. Those errors, and those of options a child cannot take (sdk.Key, an
// instant past the year 9999), are permanent (sdk.Permanent): every run
// would get them again.
//
// Starting is one round trip to Redis, none for a child started by an
// earlier run. The child is cancelled if its workflow is cancelled or fails.
// A live task that is not the workflow's child holding the key (added with
// sdk.Key) is left alone, and Start returns ErrKeyTaken; a live child of
// an earlier execution of the workflow (replaced), or of an earlier run of
// its perpetual or cron chain, is adopted (see the package doc).
func Start[In, Out any](ctx context.Context, task *sdk.ResultTask[In, Out], name string, in In, opts ...sdk.AddOption) (*Future[Out], error) {
	if task == nil {
		return nil, errNilTask
	}
	if err := endingTask(task.Name(), task.Policies); err != nil {
		return nil, err
	}
	fs, err := start[Out](ctx, task.Name(), []string{name}, []In{in}, opts)
	if err != nil {
		return nil, err
	}
	return fs[0], nil
}

// StartTask starts a child task without a result; see Start.
func StartTask[In any](ctx context.Context, task *sdk.Task[In], name string, in In, opts ...sdk.AddOption) (*Future[struct{}], error) {
	if task == nil {
		return nil, errNilTask
	}
	if err := endingTask(task.Name(), task.Policies); err != nil {
		return nil, err
	}
	fs, err := start[struct{}](ctx, task.Name(), []string{name}, []In{in}, opts)
	if err != nil {
		return nil, err
	}
	return fs[0], nil
}

// StartMany starts one child per input, named name/0, name/1, … (see
// Start), in one round trip per thousand: the fan-out of thousands of
// children. The numbers are padded to one width (name/007 among a thousand),
// so that children due at once are claimed in the order of their inputs.
// Wait or All waits for them. Children are not spread: sdk.Spread and
// sdk.Jitter are refused (sdk.ErrBadInput); sdk.After and sdk.At delay them.
func StartMany[In, Out any](ctx context.Context, task *sdk.ResultTask[In, Out], name string, ins []In, opts ...sdk.AddOption) ([]*Future[Out], error) {
	if task == nil {
		return nil, errNilTask
	}
	if err := endingTask(task.Name(), task.Policies); err != nil {
		return nil, err
	}
	if name == "" { // its children's names would still be "/0", "/1", ...
		return nil, core.NoName("children started together")
	}
	names := make([]string, len(ins))
	width := len(strconv.Itoa(max(len(ins)-1, 0)))
	for i := range ins {
		names[i] = fmt.Sprintf("%s/%0*d", name, width, i)
	}
	return start[Out](ctx, task.Name(), names, ins, opts)
}

// endingTask refuses a task whose policies do not compile (as Add does),
// and a perpetual or cron task as a child: its chain never ends, so a
// workflow waiting for it would wait for ever. (A step may add one with
// Add.)
func endingTask(name string, policies func() (*policy.Set, error)) error {
	set, err := policies()
	if err != nil {
		return sdk.Permanent(fmt.Errorf("child of task %q: %w", name, err))
	}
	if set.Perpetual == nil && set.Cron == nil {
		return nil
	}
	return sdk.Permanent(fmt.Errorf("%w: task %q is perpetual (or cron): its chain never ends, so it cannot be a workflow's child; add it with Add, from a step",
		sdk.ErrBadInput, name))
}

func start[Out, In any](ctx context.Context, task string, names []string, ins []In, opts []sdk.AddOption) ([]*Future[Out], error) {
	a, err := run(ctx)
	if err != nil {
		return nil, err
	}
	if err := load(ctx, a); err != nil {
		return nil, err
	}
	// The code chose these: every run would get the same error, which is
	// permanent (see sdk.Permanent), as SleepUntil's is.
	o := core.Collect(opts)
	if err := o.Check(); err != nil {
		return nil, sdk.Permanent(fmt.Errorf("child of task %q: %w", task, err))
	}
	if o.Keyed || o.KeysGiven {
		return nil, sdk.Permanent(fmt.Errorf("%w: a child is keyed by its name under its workflow", sdk.ErrBadKey))
	}
	if o.Spread != 0 || o.Jitter != 0 {
		return nil, sdk.Permanent(fmt.Errorf("%w: children are not spread: Spread and Jitter are for AddMany; delay children with sdk.After or sdk.At",
			sdk.ErrBadInput))
	}
	traceparent := telemetry.InjectTrace(ctx)
	futures := make([]*Future[Out], len(names))
	var children []store.Child
	var at []int
	for i, name := range names {
		if err := a.Flow.Use("child", name); err != nil {
			return nil, err
		}
		if key, ok := a.Flow.Lookup(store.FlowChild + name); ok {
			futures[i] = &Future[Out]{key: key, task: task}
			continue
		}
		shown := text.Truncate(name, core.ShownNameRunes)
		raw, err := json.Marshal(ins[i])
		if err != nil {
			return nil, fmt.Errorf("%w: child %q of task %q: %w", sdk.ErrBadInput, shown, task, err)
		}
		if err := core.CheckSize(raw, a.Flow.MaxOutput, func() string { return fmt.Sprintf("child %q of task %q: its input", shown, task) }); err != nil {
			return nil, err
		}
		key := a.Key + "/" + name
		if err := core.CheckKey(key); err != nil {
			return nil, fmt.Errorf("child %q: %w", shown, err)
		}
		children = append(children, store.Child{Name: name, Key: key, Task: task, Input: raw, When: o.When, Trace: traceparent})
		at = append(at, i)
	}
	if len(children) > 0 {
		started, err := promptly(ctx, func(ctx context.Context) ([]store.Started, error) {
			return a.Flow.Store.Start(ctx, a.Key, a.Flow.Gen, children)
		})
		if err != nil {
			return nil, held(err)
		}
		// The children's attempt spans link to the span in ctx, but a link
		// is on their side only: an event names each child on this span
		// too, so that the workflow's trace leads to its children's.
		span := trace.SpanFromContext(ctx)
		var taken error
		added := 0
		defer func() {
			if added > 0 && a.Added != nil {
				a.Added(ctx, task, added)
			}
		}()
		for j, s := range started {
			if s.Taken {
				holder := "unnamed"
				if s.Holder != "" {
					holder = strconv.Quote(s.Holder)
				}
				taken = cmp.Or(taken, fmt.Errorf("%w: child %q, a %q task: %q is held by a live %s task that is not this workflow's %q",
					ErrKeyTaken, children[j].Name, task, s.Key, holder, children[j].Name))
				continue
			}
			futures[at[j]] = &Future[Out]{key: s.Key, task: task}
			a.Flow.Set(store.FlowChild+children[j].Name, s.Key)
			if s.New {
				added++
			}
			if s.New && span.IsRecording() {
				span.AddEvent(telemetry.EventChildStarted, trace.WithAttributes(
					attribute.String(telemetry.AttrKey, s.Key), attribute.String(telemetry.AttrTask, task)))
			}
		}
		if taken != nil {
			return nil, taken
		}
	}
	return futures, nil
}
