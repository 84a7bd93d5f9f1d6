package telemetry

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of every span and metric.
const ScopeName = "github.com/docket-go/docket"

// Attribute keys on spans and metrics.
const (
	AttrDocket      = "docket.name"
	AttrTask        = "docket.task"
	AttrKey         = "docket.key"
	AttrAttempt     = "docket.attempt"
	AttrWorker      = "docket.worker"
	AttrOutcome     = "docket.outcome"
	AttrReason      = "docket.reason"
	AttrCount       = "docket.count"
	AttrDisposition = "docket.disposition"
	AttrDelay       = "docket.delay_seconds"
	AttrLimit       = "docket.limit"
	AttrNextDue     = "docket.next_due"
	AttrState       = "docket.state"
	AttrStep        = "docket.step"
	AttrWaitingFor  = "docket.waiting_for"
)

// Span events on attempt spans (and, for EventChildStarted, on the step
// span a child was started in).
const (
	EventRetry     = "retry scheduled"
	EventTimeout   = "timed out"
	EventCancelled = "cancelled"
	EventNextRun   = "next run scheduled"
	EventWaited    = "waited for a concurrency slot"
	EventDropped   = "dropped"
	EventSnoozed   = "snoozed"
	EventPermanent = "failed permanently"
	EventUnknown   = "waiting for a worker that knows the task"
	EventParked    = "parked"
	EventResumed   = "resumed"
	// EventChildStarted names a child a workflow started (docket.key,
	// docket.task): the child's attempts link to the span that has it.
	EventChildStarted = "child started"
)

// Metric names.
const (
	MetricAdded       = "docket.tasks.added"
	MetricStarted     = "docket.tasks.started"
	MetricSucceeded   = "docket.tasks.succeeded"
	MetricFailed      = "docket.tasks.failed"
	MetricRetried     = "docket.tasks.retried"
	MetricPerpetuated = "docket.tasks.perpetuated"
	MetricDropped     = "docket.tasks.dropped"
	MetricSnoozed     = "docket.tasks.snoozed"
	MetricParked      = "docket.tasks.parked"
	MetricStruck      = "docket.tasks.struck"
	MetricDepth       = "docket.tasks.depth"
	MetricDuration    = "docket.task.duration"
	MetricPunctuality = "docket.task.punctuality"
)

// traceContext is W3C Trace Context, used whatever global propagator the
// program set: it is the format stored in task messages.
var traceContext = propagation.TraceContext{}

// InjectTrace returns the W3C traceparent of the span in ctx, or "" when
// there is none.
func InjectTrace(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	traceContext.Inject(ctx, c)
	return c.Get("traceparent")
}

// ExtractTrace returns the span context a traceparent names; invalid when
// it names none.
func ExtractTrace(traceparent string) trace.SpanContext {
	if traceparent == "" {
		return trace.SpanContext{}
	}
	ctx := traceContext.Extract(context.Background(), propagation.MapCarrier{"traceparent": traceparent})
	return trace.SpanContextFromContext(ctx)
}

// Tracer is the tracer of the global TracerProvider. It is looked up once
// per provider: the lookup (a lock and a map, in the global provider and in
// the SDK's) was a few percent of a busy worker's CPU, once per attempt.
func Tracer() trace.Tracer {
	t, _ := Tracing()
	return t
}

// Tracing reports whether a TracerProvider has been set (otel.SetTracerProvider)
// and gives its tracer. Until one is, every span started is one that
// records nothing, and a worker starts no span for a task that has none
// around it: starting one (the global provider's placeholder span and a
// new context) was 5% of a busy worker's CPU.
func Tracing() (trace.Tracer, bool) {
	p := otel.GetTracerProvider()
	if c := lastTracer.Load(); c != nil && p == c.provider {
		return c.tracer, c.set
	}
	t := p.Tracer(ScopeName)
	set := !isPlaceholder(t)
	if reflect.ValueOf(p).Kind() == reflect.Pointer {
		lastTracer.Store(&providerTracer{provider: p, tracer: t, set: set})
	}
	return t, set
}

// isPlaceholder tells a tracer of otel's placeholder provider, the one
// otel.GetTracerProvider gives until one is set, before any is: of otel's
// internal package global, it records nothing, and hands spans to a
// provider set later. Once one has been set, the placeholder gives that
// provider's tracers (also when a program sets the placeholder back as
// the global provider). Should otel move it, this reads false, and spans
// are started as before: TestTracingTellsAProviderSet fails. (otel's eBPF
// auto-instrumentation records spans of the placeholder's tracers with no
// provider set: under it, a worker's attempts have no span of their own.)
func isPlaceholder(t trace.Tracer) bool {
	rt := reflect.TypeOf(t)
	return rt != nil && rt.Kind() == reflect.Pointer && rt.Elem().PkgPath() == "go.opentelemetry.io/otel/internal/global"
}

// providerTracer is a TracerProvider and its tracer for ScopeName. Only a
// provider held by pointer is kept (the SDK's, the global one): another
// provider compared with it with == never panics (== on interfaces panics
// for a dynamic type, shared by both, that is not comparable, as a struct
// with a slice is, or with an interface holding one; for different types
// it is false).
type providerTracer struct {
	provider trace.TracerProvider
	tracer   trace.Tracer
	set      bool // not otel's placeholder
}

// lastTracer is the tracer of the provider Tracing saw last.
var lastTracer atomic.Pointer[providerTracer]

// Metrics are the instruments of dockets and workers, from the global
// MeterProvider.
type Metrics struct {
	attrsMu sync.RWMutex
	attrs   map[[2]string]*TaskOptions // by docket and task

	Added       metric.Int64Counter     // tasks added (MetricAdded)
	Started     metric.Int64Counter     // attempts started (MetricStarted)
	Succeeded   metric.Int64Counter     // attempts that succeeded (MetricSucceeded)
	Failed      metric.Int64Counter     // executions that failed (MetricFailed)
	Retried     metric.Int64Counter     // failed attempts to be retried (MetricRetried)
	Perpetuated metric.Int64Counter     // runs of perpetual and cron tasks that scheduled the next (MetricPerpetuated)
	Dropped     metric.Int64Counter     // submissions cooldown or debounce dropped (MetricDropped)
	Snoozed     metric.Int64Counter     // attempts snoozed (MetricSnoozed)
	Parked      metric.Int64Counter     // workflow runs that parked (MetricParked)
	Struck      metric.Int64Counter     // tasks a strike held as they fell due (MetricStruck)
	Duration    metric.Float64Histogram // how long attempts ran (MetricDuration)
	Punctuality metric.Float64Histogram // how late attempts started (MetricPunctuality)
}

// NewMetrics creates the instruments. Creation errors leave a no-op
// instrument in place: telemetry never stops a worker.
func NewMetrics() *Metrics {
	m := otel.Meter(ScopeName)
	counter := func(name, desc string) metric.Int64Counter {
		c, _ := m.Int64Counter(name, metric.WithDescription(desc))
		return c
	}
	hist := func(name, desc string) metric.Float64Histogram {
		h, _ := m.Float64Histogram(name, metric.WithDescription(desc), metric.WithUnit("s"),
			metric.WithExplicitBucketBoundaries(secondBuckets...))
		return h
	}
	return &Metrics{
		Added:       counter(MetricAdded, "Tasks added (replacements included; adds of a live key excluded)."),
		Started:     counter(MetricStarted, "Attempts started."),
		Succeeded:   counter(MetricSucceeded, "Attempts that succeeded."),
		Failed:      counter(MetricFailed, "Executions that ended in failure, by reason."),
		Retried:     counter(MetricRetried, "Failed attempts scheduled to run again."),
		Perpetuated: counter(MetricPerpetuated, "Runs of perpetual and cron tasks that scheduled the next run."),
		Dropped:     counter(MetricDropped, "Submissions dropped by cooldown or debounce."),
		Snoozed:     counter(MetricSnoozed, "Runs that ended with sdk.Snooze, to run again later."),
		Parked:      counter(MetricParked, "Runs of workflows that parked, waiting for children, a signal or a sleep."),
		Struck:      counter(MetricStruck, "Tasks a strike held as they fell due, until it is restored."),
		Duration:    hist(MetricDuration, "How long attempts ran."),
		Punctuality: hist(MetricPunctuality, "How late attempts started: start minus due time."),
	}
}

// DepthGauge reports, at each collection, how many tasks a docket holds in
// each state (queued, scheduled, running, waiting, parked, struck). count
// is called then;
// unregister stops it.
func DepthGauge(docket string, count func(ctx context.Context) (map[string]int64, error)) (unregister func()) {
	m := otel.Meter(ScopeName)
	g, err := m.Int64ObservableGauge(MetricDepth, metric.WithDescription("Tasks a docket holds, by state."))
	if err != nil {
		return func() {}
	}
	reg, err := m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		byState, err := count(ctx)
		if err != nil {
			return err
		}
		for state, n := range byState {
			o.ObserveInt64(g, n, metric.WithAttributes(attribute.String(AttrDocket, docket), attribute.String(AttrState, state)))
		}
		return nil
	}, g)
	if err != nil {
		return func() {}
	}
	return func() { _ = reg.Unregister() }
}

// secondBuckets bound the duration and punctuality histograms: from a
// millisecond to an hour.
var secondBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}

// TaskOptions are the options of the measurements about one task of one
// docket, its attribute set, as a counter's Add and a histogram's Record
// take them: Add(ctx, 1, o.Add...). Built once and reused, slices and all,
// since measurements are on every task's hot path (a single option passed
// to Add allocates a slice at each call). Every caller shares them: read
// them, never write them.
type TaskOptions struct {
	Add    []metric.AddOption
	Record []metric.RecordOption
}

// Task is the options of measurements about one task of one docket.
func (m *Metrics) Task(docket, task string) *TaskOptions {
	key := [2]string{docket, task} // unlike a concatenation, no allocation to look up
	m.attrsMu.RLock()
	o, ok := m.attrs[key]
	m.attrsMu.RUnlock()
	if ok {
		return o
	}
	set := metric.WithAttributeSet(attribute.NewSet(attribute.String(AttrDocket, docket), attribute.String(AttrTask, task)))
	o = &TaskOptions{Add: []metric.AddOption{set}, Record: []metric.RecordOption{set}}
	m.attrsMu.Lock()
	if m.attrs == nil {
		m.attrs = map[[2]string]*TaskOptions{}
	}
	m.attrs[key] = o
	m.attrsMu.Unlock()
	return o
}

// Failure is the attribute set of a failure of one task of one docket.
func Failure(docket, task, reason string) metric.MeasurementOption {
	return metric.WithAttributes(attribute.String(AttrDocket, docket), attribute.String(AttrTask, task), attribute.String(AttrReason, reason))
}
