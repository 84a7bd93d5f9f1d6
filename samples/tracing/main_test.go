package main

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"slices"
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
// checkout trace with its producer spans, and one span per attempt of
// charge_card, each linked to the add's span; the trace IDs it prints are
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
	assert.Contains(t, out.String(), "checkout      add charge_card, add send_receipt  trace "+hex.EncodeToString(checkout.GetTraceId()))

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

	names := r.MetricNames()
	for _, m := range []string{telemetry.MetricAdded, telemetry.MetricStarted, telemetry.MetricSucceeded, telemetry.MetricRetried, telemetry.MetricDuration} {
		assert.Contains(t, names, m)
	}
}
