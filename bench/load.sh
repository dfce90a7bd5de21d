#!/usr/bin/env bash
# Load benchmark of `conflux serve` (webhook -> Compose -> Response), stateless and
# stateful, next to a minimal axum echo server measured in the same run as the
# physical bound. Also measures start-up to first served request and idle memory.
#
#   bench/load.sh            (DURATION=10s CONNECTIONS=64 THREADS=2 by default)
#
# CARGO_TARGET_DIR picks the build directory (default `target`); CONFLUX_BIN
# runs an already built `conflux` binary instead of building one.
#
# Needs `wrk` (Debian package `wrk`).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
CONFLUX_ADDR=127.0.0.1:7198
ECHO_ADDR=127.0.0.1:7199
export CONFLUX_ADMIN_KEY=bench-admin-key
MGMT="http://$CONFLUX_ADDR/runtime/webhooks/workflow/api/management"

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
TARGET=${CARGO_TARGET_DIR:-target}
ECHO_BIN=$TARGET/release/examples/echo_server
if [ -z "${CONFLUX_BIN:-}" ]; then
  cargo build --release -q -p conflux
  cargo build --release -q -p conflux-server --example echo_server
  CONFLUX_BIN=$TARGET/release/conflux
fi
[ -x "$ECHO_BIN" ] || cargo build --release -q -p conflux-server --example echo_server

data=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

wait_for() { # url
  for _ in $(seq 1 500); do curl -s -o /dev/null "$1" && return 0; sleep 0.01; done
  echo "no answer from $1" >&2; return 1
}

echo "== start-up"
start=$(date +%s%N)
"$CONFLUX_BIN" serve examples/bench --listen "$CONFLUX_ADDR" --data "$data/store" >"$data/serve.log" 2>&1 &
pids+=($!); conflux_pid=$!
wait_for "$MGMT/workflows"
end=$(date +%s%N)
echo "start-up to first served request: $(( (end - start) / 1000000 )) ms"
sleep 1
echo "idle RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$conflux_pid/status)"

"$ECHO_BIN" "$ECHO_ADDR" >/dev/null 2>&1 &
pids+=($!)
wait_for "http://$ECHO_ADDR/"

callback() { # workflow
  curl -s -X POST -H "Authorization: Bearer $CONFLUX_ADMIN_KEY" -H 'content-length: 0' \
    "$MGMT/workflows/$1/triggers/manual/listCallbackUrl" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["value"])'
}

run() { # label url
  echo "== $1"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s bench/post.lua "$2" | grep -E 'Requests/sec|Latency|Non-2xx|errors'
}

run "echo server (axum, physical bound)" "http://$ECHO_ADDR/echo"
run "conflux stateless: Request -> Compose -> Response" "$(callback stateless)"
run "conflux stateless with WithStatelessRunHistory (every call's trigger history written)" "$(callback stateless_history)"
run "conflux stateful: Request -> Compose -> Response" "$(callback stateful)"
echo "RSS after load: $(awk '/VmRSS/ {print $2, $3}' /proc/$conflux_pid/status)"
