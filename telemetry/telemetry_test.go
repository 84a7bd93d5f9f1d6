package telemetry_test

import (
	"context"
	"os"
	"os/exec"
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

// Tracing tells whether a TracerProvider has been set: not while otel's
// placeholder stands in (a process that set none, run here as a child so
// that no other test has set one), and from the first one set on.
func TestTracingTellsAProviderSet(t *testing.T) {
	if os.Getenv("TRACING_CHILD") == "1" {
		if _, set := telemetry.Tracing(); set {
			t.Fatal("Tracing says a provider is set before any was")
		}
		_, span := telemetry.Tracer().Start(context.Background(), "before")
		if span.IsRecording() {
			t.Fatal("otel's placeholder recorded a span")
		}
		placeholder := otel.GetTracerProvider()
		exporter := tracetest.NewInMemoryExporter()
		otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter)))
		if _, set := telemetry.Tracing(); !set {
			t.Fatal("Tracing says no provider is set after one was")
		}
		// The placeholder set back hands its spans to the provider set.
		otel.SetTracerProvider(placeholder)
		tracer, set := telemetry.Tracing()
		if !set {
			t.Fatal("Tracing says no provider is set with the placeholder set back, which records to the one set")
		}
		_, span = tracer.Start(context.Background(), "after")
		span.End()
		if n := len(exporter.GetSpans()); n != 1 {
			t.Fatalf("%d spans recorded through the placeholder set back, want 1", n)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestTracingTellsAProviderSet$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TRACING_CHILD=1")
	out, err := cmd.CombinedOutput()
	assert.NoError(t, err, "%s", out)

	prev := otel.GetTracerProvider()
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	otel.SetTracerProvider(noop.NewTracerProvider())
	_, set := telemetry.Tracing()
	assert.True(t, set, "a provider that records nothing is a provider set all the same")
}

// valued is a provider that == cannot compare when v holds a slice: its
// type is comparable, its value is not. (listed's type is not.)
type valued struct {
	noop.TracerProvider
	v any
}

type listed struct {
	noop.TracerProvider
	names []string
}

// A provider that == cannot compare, by its type or by its value, does not
// make Tracer panic: only providers held by pointer are kept, and these are
// asked for their tracer each time.
func TestTracerTakesProvidersThatCannotBeCompared(t *testing.T) {
	prev := otel.GetTracerProvider()
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	for _, p := range []trace.TracerProvider{listed{names: []string{"a"}}, valued{v: []string{"a"}}} {
		otel.SetTracerProvider(p)
		assert.NotPanics(t, func() {
			spanIn("one")
			spanIn("two")
		}, "%T", p)
	}
}
