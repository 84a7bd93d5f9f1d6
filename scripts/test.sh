#!/usr/bin/env bash
# Runs the whole test suite with the race detector.
#
# The integration tests start their own redis-server on a free loopback
# port. When redis-server is missing, this script installs it with apt-get
# if it can (as root on Debian or Ubuntu); otherwise it says how, and the
# tests that need it are skipped (they fail instead with
# DOCKET_REQUIRE_REDIS=1, as in CI). Extra arguments go to `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1; then
  echo "go is not on PATH: install Go 1.26 or later (https://go.dev/dl/)" >&2
  exit 1
fi

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "redis-server is missing; installing it with apt-get" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "redis-server is missing: install it (Debian/Ubuntu: sudo apt-get install redis-server;" >&2
    echo "macOS: brew install redis). Without it the tests against a real Redis are skipped." >&2
    if [ "${DOCKET_REQUIRE_REDIS:-}" = 1 ]; then
      exit 1
    fi
  fi
fi

exec go test -race -count=1 "$@" ./...
