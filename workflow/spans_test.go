package workflow_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/telemetry"
	"github.com/docket-go/docket/testsuite"
	"github.com/docket-go/docket/workflow"
)

// withSpans installs an in-memory span exporter for one test.
func withSpans(t *testing.T) *tracetest.InMemoryExporter {
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() {
		otel.SetTracerProvider(prev)
		_ = tp.Shutdown(context.Background())
	})
	return exporter
}

func attr(s tracetest.SpanStub, key string) attribute.Value {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// event returns the span's event called name, and whether it has one.
func event(s tracetest.SpanStub, name string) (sdktrace.Event, bool) {
	for _, e := range s.Events {
		if e.Name == name {
			return e, true
		}
	}
	return sdktrace.Event{}, false
}

func eventAttr(e sdktrace.Event, key string) attribute.Value {
	for _, kv := range e.Attributes {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

func spansNamed(all tracetest.SpanStubs, name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range all {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// A workflow's telemetry, run by run: each run's attempt span (a trace of
// its own) says whether the run parked, and for what, or resumed; each step
// it ran is a child span "step <name>", with an error status if it failed;
// and each child's attempt span links to the span that started the child —
// the workflow's attempt span, or the step span it was started in — so that
// the children's traces lead back into the workflow's; that span names the
// child in a "child started" event, the way from the workflow to the child.
func TestWorkflowSpans(t *testing.T) {
	exporter := withSpans(t)
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		label := sdk.NewTask("label", func(ctx context.Context, in Order) error { return nil })
		notify := sdk.NewTask("notify", func(ctx context.Context, in Order) error { return nil })
		flaky := 0
		checkout := sdk.NewTask("checkout", func(ctx context.Context, in Order) error {
			// A child started inside a step: its attempt links to the step's span.
			if err := workflow.Do(ctx, "ship", func(ctx context.Context) error {
				_, err := workflow.StartTask(ctx, label, "label", in)
				return err
			}); err != nil {
				return err
			}
			// A child started by the workflow itself, due later so that the
			// workflow parks for it.
			n, err := workflow.StartTask(ctx, notify, "notify", in, sdk.After(time.Minute))
			if err != nil {
				return err
			}
			// Fails in the first run, which the retry policy runs again.
			if err := workflow.Do(ctx, "flaky", func(ctx context.Context) error {
				if flaky++; flaky == 1 {
					return errors.New("not yet")
				}
				return nil
			}); err != nil {
				return err
			}
			_, err = n.Get(ctx)
			return err
		}, policy.Retry(2, time.Second))
		env.Register(label)
		env.Register(notify)
		env.Register(checkout)
		ex, err := checkout.Add(t.Context(), env.Docket(), Order{ID: 7}, sdk.Key("checkout-7"))
		require.NoError(t, err)
		env.RunUntilFinished()
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		require.Equal(t, sdk.StateCompleted, info.State)

		all := exporter.GetSpans()
		// Three runs: attempt 1 fails in step flaky; attempt 2 parks for
		// notify; its resumption completes.
		runs := spansNamed(all, "checkout")
		require.Len(t, runs, 3)
		failed, parked, resumed := runs[0], runs[1], runs[2]
		for _, s := range runs {
			assert.Equal(t, trace.SpanKindConsumer, s.SpanKind)
			assert.Equal(t, "checkout-7", attr(s, telemetry.AttrKey).AsString())
		}
		assert.Equal(t, codes.Error, failed.Status.Code)
		assert.Equal(t, "retry", attr(failed, telemetry.AttrOutcome).AsString())

		assert.Equal(t, "park", attr(parked, telemetry.AttrOutcome).AsString())
		assert.Equal(t, codes.Unset, parked.Status.Code, "parking is no failure")
		e, ok := event(parked, telemetry.EventParked)
		if assert.True(t, ok, "the run that parked has a %q event", telemetry.EventParked) {
			assert.Equal(t, "1 child", eventAttr(e, telemetry.AttrWaitingFor).AsString())
		}
		_, ok = event(parked, telemetry.EventResumed)
		assert.False(t, ok, "the run that parked was not itself a resumption")

		assert.Equal(t, "completed", attr(resumed, telemetry.AttrOutcome).AsString())
		_, ok = event(resumed, telemetry.EventResumed)
		assert.True(t, ok, "the run after the park has a %q event", telemetry.EventResumed)
		_, ok = event(resumed, telemetry.EventParked)
		assert.False(t, ok)

		// Steps: spans "step <name>", children of the attempt span of the
		// run that ran them; a step saved by an earlier run has none.
		ship := spansNamed(all, "step ship")
		require.Len(t, ship, 1, "the step ran once: later runs found its output saved")
		assertStepOf(t, ship[0], "ship", failed)
		assert.Equal(t, codes.Unset, ship[0].Status.Code)
		flakySpans := spansNamed(all, "step flaky")
		require.Len(t, flakySpans, 2, "it failed in the first run, and ran again in the second")
		assertStepOf(t, flakySpans[0], "flaky", failed)
		assert.Equal(t, codes.Error, flakySpans[0].Status.Code, "the step failed")
		assert.Equal(t, "not yet", flakySpans[0].Status.Description)
		assertStepOf(t, flakySpans[1], "flaky", parked)
		assert.Equal(t, codes.Unset, flakySpans[1].Status.Code)

		// Children: each attempt is a trace of its own, linked to the span
		// that started the child, in the workflow's trace.
		labels := spansNamed(all, "label")
		require.Len(t, labels, 1)
		assertLinkedTo(t, labels[0], ship[0], "label was started in step ship")
		assert.Equal(t, "checkout-7/label", attr(labels[0], telemetry.AttrKey).AsString())
		notifies := spansNamed(all, "notify")
		require.Len(t, notifies, 1)
		assertLinkedTo(t, notifies[0], failed, "notify was started by the workflow's first run")
		assert.Equal(t, "checkout-7/notify", attr(notifies[0], telemetry.AttrKey).AsString())

		// And the span that started a child names it: the way from the
		// workflow's trace to the child's. A run that finds the child
		// started already does not.
		assert.Equal(t, []string{"checkout-7/label label"}, childrenStarted(ship[0]))
		assert.Equal(t, []string{"checkout-7/notify notify"}, childrenStarted(failed))
		assert.Empty(t, childrenStarted(parked))
		assert.Empty(t, childrenStarted(resumed))
	})
}

// childrenStarted lists the children s says were started: "key task".
func childrenStarted(s tracetest.SpanStub) []string {
	var out []string
	for _, e := range s.Events {
		if e.Name == telemetry.EventChildStarted {
			out = append(out, eventAttr(e, telemetry.AttrKey).AsString()+" "+eventAttr(e, telemetry.AttrTask).AsString())
		}
	}
	return out
}

// assertStepOf checks that s is the span of step name, run by the run whose
// attempt span is run.
func assertStepOf(t *testing.T, s tracetest.SpanStub, name string, run tracetest.SpanStub) {
	t.Helper()
	assert.Equal(t, name, attr(s, telemetry.AttrStep).AsString())
	assert.Equal(t, run.SpanContext.TraceID(), s.SpanContext.TraceID(), "step %s is in its run's trace", name)
	assert.Equal(t, run.SpanContext.SpanID(), s.Parent.SpanID(), "step %s is a child of its run's span", name)
}

// assertLinkedTo checks that the child attempt span s is a trace of its own
// linked to the span from.
func assertLinkedTo(t *testing.T, s, from tracetest.SpanStub, why string) {
	t.Helper()
	assert.Equal(t, trace.SpanKindConsumer, s.SpanKind)
	assert.NotEqual(t, from.SpanContext.TraceID(), s.SpanContext.TraceID(), "%s: its attempt is a trace of its own", why)
	require.Len(t, s.Links, 1, why)
	assert.Equal(t, from.SpanContext.TraceID(), s.Links[0].SpanContext.TraceID(), why)
	assert.Equal(t, from.SpanContext.SpanID(), s.Links[0].SpanContext.SpanID(), why)
}

// A step whose function panics is a run of the step too: listed by
// env.Steps with an error, its span ended with an error status. Both were
// skipped (the panic went past them to the worker), and the span never
// ended.
func TestAPanickingStepIsListedAndItsSpanEnds(t *testing.T) {
	exporter := withSpans(t)
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		runs := 0
		w := sdk.NewTask("w", func(ctx context.Context, _ struct{}) error {
			_, err := workflow.Step(ctx, "boom", func(ctx context.Context) (int, error) {
				runs++
				if runs == 1 {
					panic("the first time")
				}
				return runs, nil
			})
			return err
		}, policy.Retry(2, time.Second))
		env.Register(w)
		ex, err := w.Add(t.Context(), env.Docket(), struct{}{}, sdk.Key("w"))
		require.NoError(t, err)
		env.RunUntilFinished()
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		require.Equal(t, sdk.StateCompleted, info.State)

		steps := env.Steps("w")
		require.Len(t, steps, 2, "the run that panicked, and the one that returned")
		require.Error(t, steps[0].Err)
		assert.Contains(t, steps[0].Err.Error(), `step "boom" panicked`)
		assert.NoError(t, steps[1].Err)
	})
	var statuses []codes.Code
	for _, s := range exporter.GetSpans() {
		if s.Name == "step boom" {
			statuses = append(statuses, s.Status.Code)
		}
	}
	assert.Equal(t, []codes.Code{codes.Error, codes.Unset}, statuses, "both runs' spans ended")
}
