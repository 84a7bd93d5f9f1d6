// Package otlp installs the OpenTelemetry SDK for a program that uses
// docket: a TracerProvider and a MeterProvider exporting over OTLP, the W3C
// propagators, and optionally a Prometheus /metrics endpoint. The library
// itself (sdk, worker) uses only the OpenTelemetry API; importing this
// package is what brings in the SDK and the exporters (and gRPC), so a
// program that does not call Setup carries none of them.
//
// Setup reads the standard environment variables:
//
//	OTEL_SERVICE_NAME                    the service name (overrides WithServiceName)
//	OTEL_RESOURCE_ATTRIBUTES             more resource attributes (k=v,k=v)
//	OTEL_EXPORTER_OTLP_PROTOCOL          grpc (the default here) or http/protobuf
//	OTEL_EXPORTER_OTLP_TRACES_PROTOCOL   the same, for traces only
//	OTEL_EXPORTER_OTLP_METRICS_PROTOCOL  the same, for metrics only
//	OTEL_EXPORTER_OTLP_ENDPOINT          e.g. http://localhost:4317 (grpc) or http://localhost:4318 (http/protobuf)
//	OTEL_EXPORTER_OTLP_HEADERS           e.g. api-key=secret
//	OTEL_TRACES_EXPORTER                 otlp (the default) or none
//	OTEL_METRICS_EXPORTER                otlp (the default) or none
//
// The exporters read the endpoint, headers, timeout, compression, TLS and
// temporality variables (OTEL_EXPORTER_OTLP_*, and their _TRACES_ and
// _METRICS_ forms) themselves, the SDK reads OTEL_TRACES_SAMPLER,
// OTEL_BSP_* and OTEL_METRIC_EXPORT_INTERVAL. An endpoint with the http://
// scheme is reached without TLS; without any endpoint the exporters use
// localhost:4317 (grpc) or localhost:4318 (http/protobuf) over TLS, so a
// local collector or Jaeger needs OTEL_EXPORTER_OTLP_ENDPOINT=http://…
// or OTEL_EXPORTER_OTLP_INSECURE=true.
//
// Typical use, first thing in main:
//
//	shutdown, err := otlp.Setup(ctx, otlp.WithServiceName("orders-worker"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer shutdown(context.Background()) // flushes spans and metrics
package otlp
