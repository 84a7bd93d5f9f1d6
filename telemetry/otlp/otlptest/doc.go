// Package otlptest is an OTLP receiver for tests: an in-process server,
// over HTTP (POST /v1/traces, /v1/metrics, protobuf) or gRPC, that keeps
// what the program exported so a test can look at it. Point a program's
// exporters at it with Receiver.Setenv, call telemetry/otlp.Setup, and
// read Spans and MetricNames after the shutdown that Setup returned has
// flushed everything.
package otlptest
