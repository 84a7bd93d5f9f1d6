package telemetry_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/docket-go/docket/telemetry"
)

// spanIn starts and ends a span through telemetry.Tracer.
func spanIn(name string) {
	_, span := telemetry.Tracer().Start(context.Background(), name)
	span.End()
}

// Tracer keeps the tracer of the provider it saw last, and follows the
// global provider when it changes: each span goes to the provider set
// when it started.
func TestTracerFollowsTheGlobalProvider(t *testing.T) {
	prev := otel.GetTracerProvider()
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	first, second := tracetest.NewInMemoryExporter(), tracetest.NewInMemoryExporter()

	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(first)))
	spanIn("one")
	spanIn("two")
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(second)))
	spanIn("three")

	names := func(e *tracetest.InMemoryExporter) (out []string) {
		for _, s := range e.GetSpans() {
			out = append(out, s.Name)
		}
		return out
	}
	assert.Equal(t, []string{"one", "two"}, names(first))
	assert.Equal(t, []string{"three"}, names(second))
	assert.Equal(t, telemetry.ScopeName, second.GetSpans()[0].InstrumentationScope.Name)
}

// listed is a provider whose type cannot be compared (a slice field).
type listed struct {
	noop.TracerProvider
	names []string
}

func (l listed) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return l.TracerProvider.Tracer(name, opts...)
}

// A provider of a type == cannot compare does not make Tracer panic: only
// providers held by pointer are kept, and this one is asked for its tracer
// each time.
func TestTracerTakesAProviderOfAnIncomparableType(t *testing.T) {
	prev := otel.GetTracerProvider()
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	otel.SetTracerProvider(listed{names: []string{"a"}})
	assert.NotPanics(t, func() {
		spanIn("one")
		spanIn("two")
	})
	otel.SetTracerProvider(listed{names: []string{"b"}})
	assert.NotPanics(t, func() { spanIn("three") })
}

// boxed is a provider whose type == can compare, until its interface field
// holds a value that cannot be compared.
type boxed struct {
	noop.TracerProvider
	v any
}

func (b boxed) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return b.TracerProvider.Tracer(name, opts...)
}

// A provider whose type is comparable but whose value is not (a slice in
// an interface field) does not make Tracer panic either.
func TestTracerTakesAProviderOfAnIncomparableValue(t *testing.T) {
	prev := otel.GetTracerProvider()
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	otel.SetTracerProvider(boxed{v: []string{"a"}})
	assert.NotPanics(t, func() {
		spanIn("one")
		spanIn("two")
	})
}
