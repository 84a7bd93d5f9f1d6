package worker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/telemetry"
	"github.com/docket-go/docket/testsuite"
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

func events(s tracetest.SpanStub) []string {
	var out []string
	for _, e := range s.Events {
		out = append(out, e.Name)
	}
	return out
}

func spansNamed(all tracetest.SpanStubs, name string, kind trace.SpanKind) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range all {
		if s.Name == name && s.SpanKind == kind {
			out = append(out, s)
		}
	}
	return out
}

// One consumer span per attempt, each linked to the producer span of the
// Add, with the retries as separate spans carrying a retry event, and an
// error status on failure.
func TestSpansOfARetriedTask(t *testing.T) {
	exporter := withSpans(t)
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		flaky := sdk.NewTask("flaky", func(ctx context.Context, in Order) error {
			if sdk.Current(ctx).Attempt() < 3 {
				return errors.New("not yet")
			}
			return nil
		}, policy.Retry(3, time.Second))
		env.Register(flaky)
		ctx, parent := otel.Tracer("test").Start(t.Context(), "request")
		ex, err := flaky.Add(ctx, env.Docket(), Order{ID: 1})
		require.NoError(t, err)
		parent.End()
		env.Advance(time.Minute)

		all := exporter.GetSpans()
		producers := spansNamed(all, "add flaky", trace.SpanKindProducer)
		require.Len(t, producers, 1)
		producer := producers[0]
		assert.Equal(t, parent.SpanContext().TraceID(), producer.SpanContext.TraceID(), "the add is part of the caller's trace")
		assert.Equal(t, ex.Key(), attr(producer, telemetry.AttrKey).AsString())
		assert.Equal(t, "scheduled", attr(producer, telemetry.AttrDisposition).AsString())

		attempts := spansNamed(all, "flaky", trace.SpanKindConsumer)
		require.Len(t, attempts, 3)
		for i, s := range attempts {
			assert.Equal(t, int64(i+1), attr(s, telemetry.AttrAttempt).AsInt64())
			assert.Equal(t, ex.Key(), attr(s, telemetry.AttrKey).AsString())
			assert.Equal(t, "test", attr(s, telemetry.AttrDocket).AsString())
			assert.NotEmpty(t, attr(s, telemetry.AttrWorker).AsString())
			require.Len(t, s.Links, 1)
			assert.Equal(t, producer.SpanContext.SpanID(), s.Links[0].SpanContext.SpanID())
		}
		assert.Equal(t, "Error", attempts[0].Status.Code.String())
		assert.Contains(t, events(attempts[0]), telemetry.EventRetry)
		assert.Equal(t, "retry", attr(attempts[1], telemetry.AttrOutcome).AsString())
		assert.Equal(t, "Unset", attempts[2].Status.Code.String())
		assert.Equal(t, "completed", attr(attempts[2], telemetry.AttrOutcome).AsString())
	})
}

// Timeouts, admission decisions, perpetual runs and cancellations show as
// span events.
func TestSpanEventsOfPolicies(t *testing.T) {
	exporter := withSpans(t)
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		slow := sdk.NewTask("slow", func(ctx context.Context, in Order) error { <-ctx.Done(); return ctx.Err() },
			policy.Timeout(time.Second))
		limited := sdk.NewTask("limited_one", func(ctx context.Context, in Order) error { time.Sleep(time.Second); return nil },
			policy.TaskConcurrency(1), policy.TaskCooldown(time.Hour))
		tick := sdk.NewTask("tick", func(ctx context.Context, in struct{}) error { return nil },
			policy.Perpetual(time.Hour, policy.Automatic()))
		hang := sdk.NewTask("hang", func(ctx context.Context, in Order) error { <-ctx.Done(); return ctx.Err() })
		env.Register(slow, limited, tick, hang)
		d := env.Docket()
		_, _ = slow.Add(t.Context(), d, Order{})
		_, _ = limited.Add(t.Context(), d, Order{ID: 1})
		_, _ = limited.Add(t.Context(), d, Order{ID: 2}) // within the cooldown: dropped
		h, _ := hang.Add(t.Context(), d, Order{})
		env.Advance(time.Minute)
		require.NoError(t, d.Cancel(t.Context(), h.Key()))
		env.Advance(time.Second)

		all := exporter.GetSpans()
		timedOut := spansNamed(all, "slow", trace.SpanKindConsumer)
		require.Len(t, timedOut, 1)
		assert.Contains(t, events(timedOut[0]), telemetry.EventTimeout)
		limitedSpans := spansNamed(all, "limited_one", trace.SpanKindConsumer)
		require.Len(t, limitedSpans, 2, "the run, and the dropped submission")
		var dropped int
		for _, s := range limitedSpans {
			if attr(s, telemetry.AttrOutcome).AsString() == "dropped" {
				dropped++
				assert.Equal(t, []string{telemetry.EventDropped}, events(s))
				require.Len(t, s.Links, 1, "linked to its producer")
			}
		}
		assert.Equal(t, 1, dropped)
		ticks := spansNamed(all, "tick", trace.SpanKindConsumer)
		require.NotEmpty(t, ticks)
		assert.Contains(t, events(ticks[0]), telemetry.EventNextRun)
		hung := spansNamed(all, "hang", trace.SpanKindConsumer)
		require.Len(t, hung, 1)
		assert.Contains(t, events(hung[0]), telemetry.EventCancelled)
		assert.Equal(t, "cancelled", attr(hung[0], telemetry.AttrOutcome).AsString(), "the outcome of a run Cancel ended")
		cancels := spansNamed(all, "cancel", trace.SpanKindProducer)
		require.Len(t, cancels, 1)
		assert.Equal(t, h.Key(), attr(cancels[0], telemetry.AttrKey).AsString())
	})
}

// A task that waited for a concurrency slot says so on its attempt's span.
func TestSpanOfATaskThatWaited(t *testing.T) {
	exporter := withSpans(t)
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		one := sdk.NewTask("one_at_a_time", func(ctx context.Context, in Order) error { time.Sleep(time.Second); return nil },
			policy.TaskConcurrency(1))
		env.Register(one)
		_, _ = one.Add(t.Context(), env.Docket(), Order{ID: 1})
		_, _ = one.Add(t.Context(), env.Docket(), Order{ID: 2})
		env.RunUntilIdle()
		spans := spansNamed(exporter.GetSpans(), "one_at_a_time", trace.SpanKindConsumer)
		require.Len(t, spans, 2)
		assert.NotContains(t, events(spans[0]), telemetry.EventWaited)
		assert.Contains(t, events(spans[1]), telemetry.EventWaited)
	})
}
