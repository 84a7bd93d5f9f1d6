package otlp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Protocols accepted in OTEL_EXPORTER_OTLP_PROTOCOL and its per-signal
// forms.
const (
	ProtocolGRPC         = "grpc"
	ProtocolHTTPProtobuf = "http/protobuf"
)

// Option configures Setup.
type Option func(*config)

type config struct {
	serviceName    string
	prometheusAddr string
	// prometheusListening, when set, is told the address the Prometheus
	// endpoint listens on (tests listen on port 0).
	prometheusListening func(net.Addr)
}

// WithServiceName sets the service name of the resource, used when
// OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) is not
// set: the environment wins, so an operator can rename a service without
// a rebuild. Without either, the name is "unknown_service:" followed by
// the executable's name, as the OpenTelemetry specification says.
func WithServiceName(name string) Option {
	return func(c *config) { c.serviceName = name }
}

// WithPrometheus also serves the metrics for Prometheus to scrape, at
// http://addr/metrics (for example "127.0.0.1:9464", or ":9464" on every
// interface), on an http.Server of its own that the shutdown function
// returned by Setup stops. Metric names follow the Prometheus
// conventions: docket.tasks.added is docket_tasks_added_total,
// docket.task.duration is docket_task_duration_seconds.
func WithPrometheus(addr string) Option {
	return func(c *config) { c.prometheusAddr = addr }
}

// Setup installs the OpenTelemetry SDK as the global TracerProvider,
// MeterProvider and TextMapPropagator (W3C trace context and baggage):
// spans go to an OTLP trace exporter through a batch span processor,
// metrics to an OTLP metric exporter through a periodic reader (every 60s
// unless OTEL_METRIC_EXPORT_INTERVAL says otherwise) and, with
// WithPrometheus, to a Prometheus endpoint. See the package documentation
// for the environment variables it reads.
//
// The returned shutdown flushes every pending span and metric, stops the
// exporters and the Prometheus server, and returns their errors joined;
// call it before the program exits (further calls return the same
// result).
//
// Call Setup before sdk.Open and worker.New: tracers and instruments
// obtained from the global providers before the first SDK is installed in
// a process are delegated to it, but those obtained afterwards stay bound
// to the provider that was global at the time, so a second Setup in the
// same process reaches only what is created after it.
func Setup(ctx context.Context, opts ...Option) (shutdown func(context.Context) error, err error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}

	var closers []func(context.Context) error
	closeAll := func(ctx context.Context) error {
		var errs []error
		for _, c := range closers {
			errs = append(errs, c(ctx))
		}
		return errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			_ = closeAll(context.Background())
		}
	}()

	res, err := newResource(ctx, cfg.serviceName)
	if err != nil {
		return nil, fmt.Errorf("docket: telemetry resource: %w", err)
	}

	traceOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if on, err := exporterEnabled("OTEL_TRACES_EXPORTER"); err != nil {
		return nil, err
	} else if on {
		exp, err := newTraceExporter(ctx)
		if err != nil {
			return nil, err
		}
		traceOpts = append(traceOpts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(traceOpts...)
	closers = append(closers, tp.Shutdown)

	metricOpts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	if cfg.prometheusAddr != "" {
		reader, stop, err := servePrometheus(cfg)
		if err != nil {
			return nil, err
		}
		closers = append(closers, stop)
		metricOpts = append(metricOpts, sdkmetric.WithReader(reader))
	}
	if on, err := exporterEnabled("OTEL_METRICS_EXPORTER"); err != nil {
		return nil, err
	} else if on {
		// Nothing can fail between here and the meter provider, whose
		// shutdown closes this exporter.
		exp, err := newMetricExporter(ctx)
		if err != nil {
			return nil, err
		}
		metricOpts = append(metricOpts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)))
	}
	mp := sdkmetric.NewMeterProvider(metricOpts...)
	// The meter provider goes first: its shutdown makes the final
	// collection, which the Prometheus server must not have stopped.
	closers = append([]func(context.Context) error{mp.Shutdown}, closers...)

	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))

	var once sync.Once
	var shutdownErr error
	return func(ctx context.Context) error {
		once.Do(func() { shutdownErr = closeAll(ctx) })
		return shutdownErr
	}, nil
}

// newResource describes the program: the service name (the option, then
// the environment over it) and the SDK.
func newResource(ctx context.Context, serviceName string) (*resource.Resource, error) {
	if serviceName == "" {
		serviceName = "unknown_service:" + filepath.Base(os.Args[0])
	}
	return resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName(serviceName)),
		resource.WithFromEnv(), // OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME: later detectors win
	)
}

// exporterEnabled reads OTEL_TRACES_EXPORTER or OTEL_METRICS_EXPORTER:
// otlp (or unset) or none.
func exporterEnabled(name string) (bool, error) {
	switch v := strings.TrimSpace(os.Getenv(name)); v {
	case "", "otlp":
		return true, nil
	case "none":
		return false, nil
	default:
		return false, fmt.Errorf("docket: %s=%q: this program supports otlp or none", name, v)
	}
}

// protocol is the OTLP protocol of a signal: its own variable, else the
// general one, else grpc.
func protocol(signal string) (string, error) {
	name := "OTEL_EXPORTER_OTLP_" + signal + "_PROTOCOL"
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		name = "OTEL_EXPORTER_OTLP_PROTOCOL"
		v = strings.TrimSpace(os.Getenv(name))
	}
	switch v {
	case "", ProtocolGRPC:
		return ProtocolGRPC, nil
	case ProtocolHTTPProtobuf:
		return ProtocolHTTPProtobuf, nil
	default:
		return "", fmt.Errorf("docket: %s=%q: want %s or %s", name, v, ProtocolGRPC, ProtocolHTTPProtobuf)
	}
}

func newTraceExporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	p, err := protocol("TRACES")
	if err != nil {
		return nil, err
	}
	var exp sdktrace.SpanExporter
	if p == ProtocolHTTPProtobuf {
		exp, err = otlptracehttp.New(ctx)
	} else {
		exp, err = otlptracegrpc.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("docket: OTLP trace exporter (%s): %w", p, err)
	}
	return exp, nil
}

func newMetricExporter(ctx context.Context) (sdkmetric.Exporter, error) {
	p, err := protocol("METRICS")
	if err != nil {
		return nil, err
	}
	var exp sdkmetric.Exporter
	if p == ProtocolHTTPProtobuf {
		exp, err = otlpmetrichttp.New(ctx)
	} else {
		exp, err = otlpmetricgrpc.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("docket: OTLP metric exporter (%s): %w", p, err)
	}
	return exp, nil
}

// servePrometheus starts the /metrics endpoint, with a registry of its
// own (so Setup can run more than once in a process) that also carries
// the Go runtime and process collectors.
func servePrometheus(cfg config) (sdkmetric.Reader, func(context.Context) error, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reader, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, nil, fmt.Errorf("docket: Prometheus exporter: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.prometheusAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("docket: Prometheus endpoint: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			otel.Handle(fmt.Errorf("docket: Prometheus endpoint: %w", err))
		}
	}()
	if cfg.prometheusListening != nil {
		cfg.prometheusListening(ln.Addr())
	}
	return reader, srv.Shutdown, nil
}
