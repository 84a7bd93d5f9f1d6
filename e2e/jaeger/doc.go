// Package jaeger is an end-to-end check of docket's traces in a real
// Jaeger: it starts Jaeger all-in-one on loopback (built by
// scripts/jaeger.sh from the module pinned in tools/jaeger), runs
// samples/tracing against it over OTLP (gRPC and HTTP), and asserts through
// Jaeger's HTTP query API that every attempt of the retried task is there
// as a span of its own, with docket.attempt 1, 2, 3, each referring to the
// producer span of the add; and that the workflow fulfil_order shows as a
// tree: each run's trace has its step spans (CHILD_OF the run's span) and
// its "parked" or "resumed" event, and each child's attempt is a trace of
// its own that FOLLOWS_FROM the span of the run that started it, which
// names the child in a "child started" event.
//
// The test sits behind the build tag jaegere2e, so `go test ./...` skips
// it. Run it with
//
//	scripts/jaeger-e2e.sh
//
// which builds Jaeger first if it is not cached (about 5 minutes on 2
// cores) and then runs `go test -tags jaegere2e ./e2e/jaeger`.
// DOCKET_JAEGER_BIN names a Jaeger binary to use instead of building one.
package jaeger
