#!/usr/bin/env bash
# Starts or stops a local Redis Cluster of three masters (no replicas) on
# free loopback ports, for the integration tests:
#
#   url=$(scripts/cluster.sh start)      # prints redis+cluster://127.0.0.1:P1?addr=127.0.0.1:P2&addr=127.0.0.1:P3
#   DOCKET_CLUSTER_URL=$url go test -race ./...
#   scripts/cluster.sh stop
#
# start prints only the URL on stdout (progress goes to stderr). The cluster
# lives in a temporary directory (logs, nodes.conf, pid files) whose path is
# kept in the state file, $DOCKET_CLUSTER_STATE or, by default,
# ${TMPDIR:-/tmp}/docket-cluster.state; stop reads it, kills the servers it
# started (by pid) and removes the directory. `status` prints the URL of a
# running cluster. Needs redis-server and redis-cli (Redis 5 or later).
set -euo pipefail

state=${DOCKET_CLUSTER_STATE:-${TMPDIR:-/tmp}/docket-cluster.state}
masters=3

die() { echo "cluster.sh: $*" >&2; exit 1; }

# free_port picks a random loopback port on which nothing listens, nor on
# its cluster bus port (port+10000), and that clashes with none of the ports
# given as arguments (those already picked) or their bus ports. Both lie
# below the system's range of ephemeral ports (from 32768 by default): a
# port there may be the local end of another program's connection, which
# no probe sees and which makes redis-server's bind fail (it did, once,
# right after the chaos driver's run).
free_port() {
  local p q clash low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  [ "$low" -gt 20000 ] 2>/dev/null || low=32768
  for _ in $(seq 1 100); do
    p=$(( (RANDOM % (low - 20000)) + 10000 ))
    clash=
    for q in "$@"; do
      case $((p - q)) in 0 | 10000 | -10000) clash=1 ;; esac
    done
    if [ -z "$clash" ] && ! port_busy "$p" && ! port_busy $((p + 10000)); then
      echo "$p"; return 0
    fi
  done
  die "no free port pair found"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop() {
  [ -f "$state" ] || { echo "cluster.sh: no cluster running ($state is missing)" >&2; return 0; }
  local dir
  dir=$(sed -n 's/^dir=//p' "$state")
  if [ -n "$dir" ] && [ -d "$dir" ]; then
    for pidfile in "$dir"/*/redis.pid; do
      [ -f "$pidfile" ] || continue
      pid=$(cat "$pidfile")
      port=$(basename "$(dirname "$pidfile")")
      redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      # Still there: kill it, if it is a redis-server we started (it runs in
      # our directory, --dir).
      if kill -0 "$pid" 2>/dev/null && [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$(dirname "$pidfile")" ]; then
        kill -9 "$pid" 2>/dev/null || true
      fi
    done
    rm -rf "$dir"
  fi
  rm -f "$state"
  echo "cluster.sh: stopped" >&2
}

failed() {
  echo "cluster.sh: start failed" >&2
  for l in "$1"/*/redis.log "$1"/create.log; do
    [ -s "$l" ] && { echo "== $l" >&2; tail -n 20 "$l" >&2; }
  done
  stop
}

start() {
  command -v redis-server >/dev/null || die "redis-server is not on PATH (apt-get install redis-server)"
  command -v redis-cli >/dev/null || die "redis-cli is not on PATH (apt-get install redis-tools)"
  if [ -f "$state" ]; then
    die "a cluster may already be running ($state exists): run '$0 stop' first, or set DOCKET_CLUSTER_STATE"
  fi
  local dir ports=() p
  dir=$(mktemp -d "${TMPDIR:-/tmp}/docket-cluster.XXXXXX")
  printf 'dir=%s\n' "$dir" >"$state"
  # Whatever fails from here on (die, or a command under set -e), the servers
  # started so far are stopped, after their logs are shown.
  trap 'failed "$dir"' EXIT
  for _ in $(seq 1 "$masters"); do
    p=$(free_port "${ports[@]}")
    ports+=("$p")
    mkdir -p "$dir/$p"
    # AOF, as README's "Running Redis for Docket" asks: sdk.Open reads the
    # settings, and on a server without AOF it asks CONFIG GET for the RDB
    # save points, which the tests' least-privilege user may not run.
    redis-server --port "$p" --bind 127.0.0.1 --dir "$dir/$p" \
      --cluster-enabled yes --cluster-config-file "$dir/$p/nodes.conf" \
      --cluster-node-timeout 5000 --save "" --appendonly yes --appendfsync everysec \
      --daemonize yes --pidfile "$dir/$p/redis.pid" --logfile "$dir/$p/redis.log" \
      --loglevel warning
  done
  for p in "${ports[@]}"; do
    for _ in $(seq 1 100); do
      [ "$(redis-cli -h 127.0.0.1 -p "$p" ping 2>/dev/null)" = PONG ] && break
      sleep 0.1
    done
    [ "$(redis-cli -h 127.0.0.1 -p "$p" ping 2>/dev/null)" = PONG ] || die "redis-server on port $p did not start"
  done
  local nodes=()
  for p in "${ports[@]}"; do nodes+=("127.0.0.1:$p"); done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$dir/create.log" 2>&1 ||
    die "redis-cli --cluster create failed"
  # Wait until every node sees the cluster as ok with all slots assigned.
  for p in "${ports[@]}"; do
    for _ in $(seq 1 100); do
      redis-cli -h 127.0.0.1 -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' && break
      sleep 0.1
    done
    redis-cli -h 127.0.0.1 -p "$p" cluster info | grep -q '^cluster_state:ok' || die "node $p: cluster_state is not ok"
  done
  trap - EXIT
  local url="redis+cluster://${nodes[0]}"
  local sep="?"
  for n in "${nodes[@]:1}"; do url+="${sep}addr=$n"; sep="&"; done
  printf 'url=%s\n' "$url" >>"$state"
  echo "cluster.sh: $masters masters on ports ${ports[*]}, in $dir (state: $state)" >&2
  echo "$url"
}

status() {
  [ -f "$state" ] || die "no cluster running ($state is missing)"
  sed -n 's/^url=//p' "$state"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
