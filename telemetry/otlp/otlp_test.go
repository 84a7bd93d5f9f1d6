package otlp_test

import (
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/telemetry"
	"github.com/docket-go/docket/telemetry/otlp"
	"github.com/docket-go/docket/telemetry/otlp/otlptest"
)

// restoreGlobals puts back the global providers a test's Setup replaced.
func restoreGlobals(t *testing.T) {
	tp, mp, prop := otel.GetTracerProvider(), otel.GetMeterProvider(), otel.GetTextMapPropagator()
	t.Cleanup(func() {
		otel.SetTracerProvider(tp)
		otel.SetMeterProvider(mp)
		otel.SetTextMapPropagator(prop)
	})
}

// setup runs Setup and shuts it down at the end of the test, if the test
// has not.
func setup(t *testing.T, opts ...otlp.Option) func(context.Context) error {
	t.Helper()
	restoreGlobals(t)
	shutdown, err := otlp.Setup(t.Context(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = shutdown(context.Background()) })
	return shutdown
}

// A span made after Setup reaches the OTLP endpoint, under the service
// name, over either protocol; so do docket's metrics.
func TestSetupExports(t *testing.T) {
	for _, tc := range []struct {
		name     string
		receiver func(testing.TB) *otlptest.Receiver
		protocol string // "" leaves the default, grpc
	}{
		{"http/protobuf", otlptest.NewHTTPReceiver, "http/protobuf"},
		{"grpc by default", otlptest.NewGRPCReceiver, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.receiver(t)
			r.Setenv(t)
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", tc.protocol)
			t.Setenv("OTEL_SERVICE_NAME", "")
			t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "")
			shutdown := setup(t, otlp.WithServiceName("otlp-test"))

			ctx, span := otel.Tracer("test").Start(t.Context(), "hello", trace.WithAttributes(attribute.Int("n", 7)))
			assert.Contains(t, otel.GetTextMapPropagator().Fields(), "traceparent", "the W3C propagator is global")
			telemetry.NewMetrics().Added.Add(ctx, 1, metric.WithAttributes(attribute.String(telemetry.AttrTask, "t")))
			span.End()
			require.NoError(t, shutdown(t.Context()))

			spans := r.Spans()
			require.Len(t, spans, 1)
			assert.Equal(t, "hello", spans[0].GetName())
			assert.Equal(t, "otlp-test", spans[0].Service)
			assert.Equal(t, int64(7), spans[0].Attr("n").GetIntValue())
			assert.Equal(t, span.SpanContext().TraceID().String(), hex.EncodeToString(spans[0].GetTraceId()))
			assert.Contains(t, r.MetricNames(), telemetry.MetricAdded)
		})
	}
}

// OTEL_SERVICE_NAME wins over WithServiceName.
func TestServiceNameFromTheEnvironment(t *testing.T) {
	r := otlptest.NewHTTPReceiver(t)
	r.Setenv(t)
	t.Setenv("OTEL_SERVICE_NAME", "from-env")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")
	shutdown := setup(t, otlp.WithServiceName("from-code"))
	_, span := otel.Tracer("test").Start(t.Context(), "named")
	span.End()
	require.NoError(t, shutdown(t.Context()))
	spans := r.Spans()
	require.Len(t, spans, 1)
	assert.Equal(t, "from-env", spans[0].Service)
}

// Nothing leaves before it is due; shutdown sends it all, and answers the
// same when called again.
func TestShutdownFlushes(t *testing.T) {
	r := otlptest.NewHTTPReceiver(t)
	r.Setenv(t)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "600000")     // 10 minutes
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "600000") // 10 minutes
	shutdown := setup(t)

	for range 3 {
		_, span := otel.Tracer("test").Start(t.Context(), "pending")
		span.End()
	}
	telemetry.NewMetrics().Started.Add(t.Context(), 1)
	assert.Empty(t, r.Spans(), "nothing exported before the batch is due")
	assert.Empty(t, r.MetricNames())

	require.NoError(t, shutdown(t.Context()))
	assert.Len(t, r.Spans(), 3)
	assert.Contains(t, r.MetricNames(), telemetry.MetricStarted)
	assert.True(t, strings.HasPrefix(r.Spans()[0].Service, "unknown_service:"), "no name given: %q", r.Spans()[0].Service)
	require.NoError(t, shutdown(t.Context()))
}

// With WithPrometheus, a docket's metrics are served at /metrics, in
// Prometheus names, until shutdown.
func TestPrometheusEndpoint(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	t.Setenv("OTEL_METRICS_EXPORTER", "none")
	var addr net.Addr
	shutdown := setup(t, otlp.WithPrometheus("127.0.0.1:0"), otlp.WithPrometheusListening(func(a net.Addr) { addr = a }))
	require.NotNil(t, addr)
	url := "http://" + addr.String() + "/metrics"

	d, err := sdk.Open(t.Context(), "memory://otlp-prometheus", sdk.WithName("prom"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	ping := sdk.NewTask("ping", func(ctx context.Context, _ struct{}) error { return nil })
	require.NoError(t, d.Register(ping))
	_, err = ping.Add(t.Context(), d, struct{}{})
	require.NoError(t, err)

	body := get(t, url)
	assert.Regexp(t, `(?m)^docket_tasks_added_total\{[^}]*docket_task="ping"[^}]*\} 1$`, body)
	assert.Regexp(t, `(?m)^docket_tasks_depth\{[^}]*docket_name="prom"[^}]*docket_state="queued"[^}]*\} 1$`, body)
	assert.Contains(t, body, "go_goroutines", "the Go runtime collector")

	require.NoError(t, shutdown(t.Context()))
	_, err = http.Get(url)
	require.Error(t, err, "the endpoint is closed by shutdown")
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(body)
}

// A Prometheus address in use is an error from Setup, which leaves the
// globals alone.
func TestPrometheusAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	t.Setenv("OTEL_METRICS_EXPORTER", "none")
	restoreGlobals(t)
	before := otel.GetTracerProvider()
	_, err = otlp.Setup(t.Context(), otlp.WithPrometheus(ln.Addr().String()))
	require.ErrorContains(t, err, "docket: Prometheus endpoint")
	assert.Equal(t, before, otel.GetTracerProvider())
}

// Unsupported settings are errors that name the variable.
func TestUnsupportedSettings(t *testing.T) {
	for name, value := range map[string]string{
		"OTEL_EXPORTER_OTLP_PROTOCOL":         "http/json",
		"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "udp",
		"OTEL_TRACES_EXPORTER":                "zipkin",
		"OTEL_METRICS_EXPORTER":               "console",
	} {
		t.Run(name, func(t *testing.T) {
			otlptest.NewHTTPReceiver(t).Setenv(t)
			t.Setenv(name, value)
			restoreGlobals(t)
			_, err := otlp.Setup(t.Context())
			require.Error(t, err)
			assert.Contains(t, err.Error(), name)
			assert.Contains(t, err.Error(), value)
		})
	}
}

// Importing the library does not bring in gRPC: only this package does.
func TestLibraryDoesNotImportGRPC(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	deps := func(pkg string) []string {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		require.NoError(t, err, "%s", out)
		return strings.Fields(string(out))
	}
	hasGRPC := func(deps []string) bool {
		for _, d := range deps {
			if d == "google.golang.org/grpc" || strings.HasPrefix(d, "google.golang.org/grpc/") {
				return true
			}
		}
		return false
	}
	for _, pkg := range []string{"github.com/docket-go/docket/worker", "github.com/docket-go/docket/sdk"} {
		assert.False(t, hasGRPC(deps(pkg)), "%s depends on google.golang.org/grpc", pkg)
	}
	assert.True(t, hasGRPC(deps("github.com/docket-go/docket/telemetry/otlp")), "the check would see gRPC")
}
