#!/usr/bin/env bash
# Load benchmark of `conflux serve` (webhook -> Compose -> Response), stateless and
# stateful, next to a minimal axum echo server measured in the same run as the
# physical bound. Also measures start-up to first served request and idle memory.
#
#   bench/load.sh    (ROUNDS=5 DURATION=10s WARMUP=2s CONNECTIONS=64 THREADS=2 by default)
#
# CARGO_TARGET_DIR picks the build directory (default `target`); CONFLUX_BIN
# runs an already built `conflux` binary instead of building one.
# BASELINE_BIN adds another `conflux` binary (an earlier build, say), whose
# stateless workflow is measured in the same rounds as `baseline_stateless`.
#
# Needs `wrk` (Debian package `wrk`).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
ROUNDS=${ROUNDS:-5}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
CONFLUX_ADDR=127.0.0.1:7198
ECHO_ADDR=127.0.0.1:7199
BASELINE_ADDR=127.0.0.1:7197
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

callback() { # workflow [management base]
  curl -s -X POST -H "Authorization: Bearer $CONFLUX_ADMIN_KEY" -H 'content-length: 0' \
    "${2:-$MGMT}/workflows/$1/triggers/manual/listCallbackUrl" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["value"])'
}

rps() { # url -> requests/s of one measured run, after an unmeasured warm-up
  # The warm-up opens the connections and warms buffers and the allocator.
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s bench/post.lua "$1" >/dev/null
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s bench/post.lua "$1" |
    awk '/Non-2xx|Socket errors/ {print "  " $0 > "/dev/stderr"} /Requests\/sec/ {print int($2)}'
}

median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : int((v[NR/2]+v[NR/2+1])/2)}'; }

# Throughput on a shared 2-core machine swings by a fifth from minute to
# minute, so each target is measured ROUNDS times, interleaved with the echo
# bound, and each round's share of echo is reported with the median.
# The echo bound is measured on the same request as the stateless workflow:
# the echo server answers any path, so it is sent the callback URL's path and
# signed query (hyper parses and carries ~150 more bytes than for `/echo`).
# Earlier rounds in BENCHMARKS.md called `/echo`; that figure is still
# measured (`echo_short`) and the stateless share of it reported beside.
declare -A urls=(
  [stateless]="$(callback stateless)"
  [stateless_history]="$(callback stateless_history)"
  [stateful]="$(callback stateful)"
)
targets=(stateless stateless_history stateful)
if [ -n "${BASELINE_BIN:-}" ]; then
  "$BASELINE_BIN" serve examples/bench --listen "$BASELINE_ADDR" --data "$data/baseline" >"$data/baseline.log" 2>&1 &
  pids+=($!)
  baseline_mgmt="http://$BASELINE_ADDR/runtime/webhooks/workflow/api/management"
  wait_for "$baseline_mgmt/workflows"
  urls[baseline_stateless]="$(callback stateless "$baseline_mgmt")"
  targets=(stateless baseline_stateless stateless_history stateful)
fi
# The stateless callback's path and query, e.g. /api/stateless/triggers/manual/invoke?api-version=...&sig=...
same_request=/${urls[stateless]#http://*/}
declare -A results
for round in $(seq 1 "$ROUNDS"); do
  echo_rps=$(rps "http://$ECHO_ADDR$same_request")
  short_rps=$(rps "http://$ECHO_ADDR/echo")
  results[echo]+="$echo_rps "
  results[echo_short]+="$short_rps "
  line="round $round: echo $echo_rps, echo_short $short_rps"
  for t in "${targets[@]}"; do
    r=$(rps "${urls[$t]}")
    results[$t]+="$r "
    results[$t.share]+="$(( 100 * r / echo_rps )) "
    results[$t.short_share]+="$(( 100 * r / short_rps )) "
    line+=", $t $r ($(( 100 * r / echo_rps ))%)"
  done
  echo "$line"
done
med() { tr ' ' '\n' <<<"$1" | grep . | median; }
echo "== medians over $ROUNDS rounds (requests/s, share of the echo bound in the same round)"
echo "echo server (axum, physical bound, same request): $(med "${results[echo]}")"
echo "echo server on the short /echo request: $(med "${results[echo_short]}")"
for t in "${targets[@]}"; do
  echo "conflux $t (Request -> Compose -> Response): $(med "${results[$t]}"), $(med "${results[$t.share]}")% of echo ($(med "${results[$t.short_share]}")% of echo_short)"
done
echo "RSS after load: $(awk '/VmRSS/ {print $2, $3}' /proc/$conflux_pid/status)"
