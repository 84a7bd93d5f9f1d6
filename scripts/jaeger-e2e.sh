#!/usr/bin/env bash
# End-to-end check of docket's traces in a real Jaeger (e2e/jaeger, build
# tag jaegere2e): builds Jaeger with scripts/jaeger.sh unless it is cached
# (about 5 minutes on 2 cores the first time), starts it on free loopback
# ports with tools/jaeger/config.yaml, runs samples/tracing against it over
# OTLP/gRPC and OTLP/HTTP, each under a unique OTEL_SERVICE_NAME, and checks
# through Jaeger's HTTP query API (/api/traces?service=…) that the three
# attempts of the retried task are there as separate spans (docket.attempt
# 1, 2, 3), each referring to the producer span "add charge_card", and that
# the workflow fulfil_order's runs have their step spans and parked/resumed
# events, its children's attempts FOLLOWS_FROM the run that started them.
# Jaeger is stopped at the end. Exits non-zero, saying which span is
# missing, on any failure. Extra arguments go to `go test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v go >/dev/null 2>&1; then
  echo "jaeger-e2e.sh: go is not on PATH: install Go 1.26 or later" >&2
  exit 1
fi
# Built here, outside go test's timeout.
DOCKET_JAEGER_BIN=${DOCKET_JAEGER_BIN:-$(scripts/jaeger.sh)}
export DOCKET_JAEGER_BIN
exec go test -tags jaegere2e -count=1 -v -timeout 10m "$@" ./e2e/jaeger/
