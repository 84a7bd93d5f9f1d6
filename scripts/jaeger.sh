#!/usr/bin/env bash
# Builds Jaeger's all-in-one binary, at the version pinned in
# tools/jaeger/go.mod, into a cache directory, and prints its path:
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/docket/jaeger-<version>/jaeger
#
# The first build takes about 5 minutes on 2 cores (Go module proxy only;
# Jaeger cannot be built with `go run pkg@version` because its go.mod has a
# replace directive, hence a tools module of its own); later calls reuse the
# binary and return at once.
#
#   scripts/jaeger.sh              # build if needed, print the path
#   scripts/jaeger.sh run [args]   # build if needed, then run Jaeger on loopback
#                                  # (tools/jaeger/config.yaml: in-memory storage,
#                                  # OTLP 127.0.0.1:4317/4318, query API 127.0.0.1:16686)
#
# A build from the module proxy has no UI (its assets are not part of the Go
# module): 16686 serves a placeholder page and the HTTP query API, e.g.
#   curl 'http://127.0.0.1:16686/api/traces?service=NAME&limit=20'
#   curl 'http://127.0.0.1:16686/api/traces/TRACE_ID'
# Jaeger's own default configuration (the binary run without --config) also
# keeps in-memory storage, but serves 16686 and 16685 on every interface;
# `run` uses tools/jaeger/config.yaml, on loopback only.
#
# Build progress goes to stderr; only the path goes to stdout.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=$root/tools/jaeger
pkg=github.com/jaegertracing/jaeger/cmd/jaeger

version=$(awk '$1 == "github.com/jaegertracing/jaeger" { print $2; exit }' "$tools/go.mod")
if [ -z "$version" ]; then
  echo "jaeger.sh: no github.com/jaegertracing/jaeger requirement in $tools/go.mod" >&2
  exit 1
fi
dir=${XDG_CACHE_HOME:-$HOME/.cache}/docket/jaeger-$version
bin=$dir/jaeger

if [ ! -x "$bin" ]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "jaeger.sh: go is not on PATH: install Go 1.26 or later" >&2
    exit 1
  fi
  mkdir -p "$dir"
  echo "jaeger.sh: building Jaeger $version into $dir (about 5 minutes the first time)..." >&2
  start=$SECONDS
  tmp=$(mktemp "$dir/jaeger.XXXXXX")
  # Jaeger's modules and build cache (about 3 GB) go to a directory of
  # their own, removed once the binary is built: only the binary is kept,
  # so CI machines and laptops do not carry them from run to run.
  work=$(mktemp -d "$dir/build.XXXXXX")
  trap 'rm -rf "$tmp" "$work"' EXIT
  (cd "$tools" && GOMODCACHE="$work/mod" GOCACHE="$work/cache" GOFLAGS="${GOFLAGS:-} -modcacherw" \
    go build -buildvcs=false -o "$tmp" \
    -ldflags "-X github.com/jaegertracing/jaeger/internal/version.latestVersion=$version" "$pkg")
  chmod +x "$tmp"
  mv -f "$tmp" "$bin" # atomic: a concurrent build leaves one whole binary
  rm -rf "$work"
  trap - EXIT
  echo "jaeger.sh: built in $((SECONDS - start))s" >&2
fi

if [ "${1:-}" = run ]; then
  shift
  exec "$bin" --config "$tools/config.yaml" "$@"
fi
echo "$bin"
