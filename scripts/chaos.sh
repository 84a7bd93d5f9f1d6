#!/usr/bin/env bash
# Runs the fault-injection driver (chaos/README.md): short (CI, about 65s
# plus the build) or long (about 20 minutes). Installs redis-server with
# apt-get when it is missing and this runs as root. Extra arguments go to
# the driver (-seed N, -keep, -duration d).
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-short}"
shift || true

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "redis-server is missing; installing it with apt-get" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "redis-server is missing: install it (Debian/Ubuntu: sudo apt-get install redis-server;" >&2
    echo "macOS: brew install redis)." >&2
    exit 1
  fi
fi

exec go run ./chaos -mode "$mode" "$@"
