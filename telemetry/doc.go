// Package telemetry names the spans, metrics and attributes that dockets
// and workers emit, and carries trace context through task messages. It
// uses the OpenTelemetry API only: until the program installs an SDK (for
// example with telemetry/otlp.Setup), every instrument is a no-op.
package telemetry
