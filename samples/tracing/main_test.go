package main

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/docket-go/docket/telemetry"
	"github.com/docket-go/docket/telemetry/otlp/otlptest"
)

func named(spans []otlptest.Span, name string, kind tracepb.Span_SpanKind) []otlptest.Span {
	var out []otlptest.Span
	for _, s := range spans {
		if s.GetName() == name && s.GetKind() == kind {
			out = append(out, s)
		}
	}
	return out
}

// The sample, run against an in-process OTLP receiver, exports the
// checkout trace with its producer spans, one span per attempt of
// charge_card, each linked to the add's span, and the spans of the
// fulfil_order workflow (see checkWorkflow); the trace IDs it prints are
// those exported.
func TestTracingSample(t *testing.T) {
	t.Setenv("DOCKET_URL", "")
	r := otlptest.NewHTTPReceiver(t)
	r.Setenv(t)
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "")

	var out bytes.Buffer
	require.NoError(t, run(t.Context(), &out))
	t.Log("\n" + out.String())
	spans := r.Spans() // run's shutdown has flushed them all

	checkouts := named(spans, "checkout", tracepb.Span_SPAN_KIND_INTERNAL)
	require.Len(t, checkouts, 1)
	checkout := checkouts[0]
	assert.Equal(t, ServiceName, checkout.Service)
	assert.Contains(t, out.String(), "checkout      add charge_card, add send_receipt, add fulfil_order  trace "+hex.EncodeToString(checkout.GetTraceId()))

	adds := named(spans, "add charge_card", tracepb.Span_SPAN_KIND_PRODUCER)
	require.Len(t, adds, 1)
	add := adds[0]
	assert.Equal(t, checkout.GetTraceId(), add.GetTraceId(), "the add is in the checkout trace")
	assert.Equal(t, checkout.GetSpanId(), add.GetParentSpanId())
	require.Len(t, named(spans, "add send_receipt", tracepb.Span_SPAN_KIND_PRODUCER), 1)

	attempts := named(spans, "charge_card", tracepb.Span_SPAN_KIND_CONSUMER)
	require.Len(t, attempts, 3, "one span per attempt")
	slices.SortFunc(attempts, func(a, b otlptest.Span) int {
		return cmp.Compare(a.Attr(telemetry.AttrAttempt).GetIntValue(), b.Attr(telemetry.AttrAttempt).GetIntValue())
	})
	for i, s := range attempts {
		n := i + 1
		assert.Equal(t, int64(n), s.Attr(telemetry.AttrAttempt).GetIntValue())
		assert.Equal(t, "charge_card", s.Attr(telemetry.AttrTask).GetStringValue())
		assert.Equal(t, "tracing", s.Attr(telemetry.AttrDocket).GetStringValue())
		assert.Equal(t, add.Attr(telemetry.AttrKey).GetStringValue(), s.Attr(telemetry.AttrKey).GetStringValue())
		assert.NotEmpty(t, s.Attr(telemetry.AttrWorker).GetStringValue())
		require.Len(t, s.GetLinks(), 1, "attempt %d", n)
		assert.Equal(t, add.GetTraceId(), s.GetLinks()[0].GetTraceId(), "attempt %d links to the add", n)
		assert.Equal(t, add.GetSpanId(), s.GetLinks()[0].GetSpanId(), "attempt %d links to the add", n)
		assert.NotEqual(t, add.GetTraceId(), s.GetTraceId(), "attempt %d is a trace of its own", n)
		assert.Contains(t, out.String(), "trace "+hex.EncodeToString(s.GetTraceId()))

		calls := 0
		for _, c := range named(spans, "POST /v1/charges", tracepb.Span_SPAN_KIND_CLIENT) {
			if bytes.Equal(c.GetParentSpanId(), s.GetSpanId()) {
				calls++
			}
		}
		assert.Equal(t, 1, calls, "attempt %d has its gateway call as a child span", n)
	}
	for _, s := range attempts[:2] {
		assert.Equal(t, tracepb.Status_STATUS_CODE_ERROR, s.GetStatus().GetCode())
		assert.Equal(t, "retry", s.Attr(telemetry.AttrOutcome).GetStringValue())
	}
	assert.Equal(t, "completed", attempts[2].Attr(telemetry.AttrOutcome).GetStringValue())
	assert.NotEqual(t, tracepb.Status_STATUS_CODE_ERROR, attempts[2].GetStatus().GetCode())

	receipts := named(spans, "send_receipt", tracepb.Span_SPAN_KIND_CONSUMER)
	require.Len(t, receipts, 1)
	assert.Contains(t, out.String(), "completed after 3 attempts")

	checkWorkflow(t, spans, checkout, out.String())

	names := r.MetricNames()
	for _, m := range []string{telemetry.MetricAdded, telemetry.MetricStarted, telemetry.MetricSucceeded, telemetry.MetricRetried, telemetry.MetricDuration} {
		assert.Contains(t, names, m)
	}
}

// events lists the names of a span's events.
func events(s otlptest.Span) []string {
	var out []string
	for _, e := range s.GetEvents() {
		out = append(out, e.GetName())
	}
	return out
}

// checkWorkflow checks the spans of fulfil_order: a run that parks, with
// its step as a child span and a "child started" event per child; the
// children's attempts, traces of their own linked to that run's span; the
// run that resumes, with its own step. Every run links to the add in the
// checkout trace.
func checkWorkflow(t *testing.T, spans []otlptest.Span, checkout otlptest.Span, out string) {
	adds := named(spans, "add fulfil_order", tracepb.Span_SPAN_KIND_PRODUCER)
	require.Len(t, adds, 1)
	add := adds[0]
	assert.Equal(t, checkout.GetSpanId(), add.GetParentSpanId())

	runs := named(spans, "fulfil_order", tracepb.Span_SPAN_KIND_CONSUMER)
	require.Len(t, runs, 2, "a run that parks, and one that resumes")
	slices.SortFunc(runs, func(a, b otlptest.Span) int { return cmp.Compare(a.GetStartTimeUnixNano(), b.GetStartTimeUnixNano()) })
	parked, resumed := runs[0], runs[1]
	for _, s := range runs {
		require.Len(t, s.GetLinks(), 1)
		assert.Equal(t, add.GetSpanId(), s.GetLinks()[0].GetSpanId(), "each run links to the add")
		assert.NotEqual(t, tracepb.Status_STATUS_CODE_ERROR, s.GetStatus().GetCode())
	}
	assert.Contains(t, events(parked), telemetry.EventParked)
	assert.Equal(t, "park", parked.Attr(telemetry.AttrOutcome).GetStringValue())
	assert.Contains(t, events(resumed), telemetry.EventResumed)
	assert.Equal(t, "completed", resumed.Attr(telemetry.AttrOutcome).GetStringValue())
	assert.Contains(t, out, "fulfil_order  parked until pack_parcel and print_label end  trace "+hex.EncodeToString(parked.GetTraceId()))
	assert.Contains(t, out, "fulfil_order  resumed: step dispatch  trace "+hex.EncodeToString(resumed.GetTraceId()))

	for step, run := range map[string]otlptest.Span{"reserve_stock": parked, "dispatch": resumed} {
		steps := named(spans, "step "+step, tracepb.Span_SPAN_KIND_INTERNAL)
		require.Len(t, steps, 1, "step %s", step)
		assert.Equal(t, step, steps[0].Attr(telemetry.AttrStep).GetStringValue())
		assert.Equal(t, run.GetTraceId(), steps[0].GetTraceId(), "step %s is in its run's trace", step)
		assert.Equal(t, run.GetSpanId(), steps[0].GetParentSpanId(), "step %s is a child of its run's span", step)
	}

	key := parked.Attr(telemetry.AttrKey).GetStringValue()
	var started []string
	for _, e := range parked.GetEvents() {
		if e.GetName() == telemetry.EventChildStarted {
			for _, kv := range e.GetAttributes() {
				if kv.GetKey() == telemetry.AttrKey {
					started = append(started, kv.GetValue().GetStringValue())
				}
			}
		}
	}
	assert.Equal(t, []string{key + "/pack", key + "/label"}, started, "the run names the children it started")
	for _, task := range []string{"pack_parcel", "print_label"} {
		children := named(spans, task, tracepb.Span_SPAN_KIND_CONSUMER)
		require.Len(t, children, 1, task)
		c := children[0]
		assert.True(t, strings.HasPrefix(c.Attr(telemetry.AttrKey).GetStringValue(), key+"/"), "%s is a child of %s", task, key)
		assert.NotEqual(t, parked.GetTraceId(), c.GetTraceId(), "%s is a trace of its own", task)
		require.Len(t, c.GetLinks(), 1, task)
		assert.Equal(t, parked.GetTraceId(), c.GetLinks()[0].GetTraceId(), "%s links to the run that started it", task)
		assert.Equal(t, parked.GetSpanId(), c.GetLinks()[0].GetSpanId(), "%s links to the run that started it", task)
		assert.Contains(t, out, "trace "+hex.EncodeToString(c.GetTraceId()))
	}
	assert.Contains(t, out, "fulfil_order "+key+": completed")
}
