#!/usr/bin/env bash
# End-to-end check of the dashboard in a real browser (e2e/ui, build tag
# uie2e): Debian's chromium, headless, driven by chromedp, against a real
# redis-server with tasks in every state. Installs chromium (and
# redis-server) with apt-get when they are missing and it can (as root on
# Debian or Ubuntu). DOCKET_UI_SCREENSHOTS=dir keeps the screenshots there
# (docs/screenshots holds those the README shows). Extra arguments go to
# `go test`.
set -euo pipefail
if [ -n "${DOCKET_UI_SCREENSHOTS:-}" ]; then
  # Relative to where the script is run, not to the package go test runs in.
  DOCKET_UI_SCREENSHOTS="$(realpath -m -- "$DOCKET_UI_SCREENSHOTS")"
  export DOCKET_UI_SCREENSHOTS
fi
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v go >/dev/null 2>&1; then
  echo "ui-e2e.sh: go is not on PATH: install Go 1.26 or later" >&2
  exit 1
fi
missing=()
if [ -z "${DOCKET_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  missing+=(chromium)
fi
if ! command -v redis-server >/dev/null 2>&1; then
  missing+=(redis-server)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "--- installing ${missing[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "ui-e2e.sh: ${missing[*]} missing: install them (Debian/Ubuntu: sudo apt-get install ${missing[*]})," >&2
    echo "or set DOCKET_CHROMIUM to a Chromium or Chrome binary" >&2
    exit 1
  fi
fi
DOCKET_REQUIRE_REDIS=1 exec go test -tags uie2e -count=1 -v -timeout 5m "$@" ./e2e/ui/
