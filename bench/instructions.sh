#!/usr/bin/env bash
# Instructions the server executes per stateless trigger call (Request -> Compose
# -> Response), counted by valgrind's callgrind: unlike throughput on a shared
# machine, the count barely moves from run to run, so it separates two builds
# whose difference is a few percent.
#
#   CONFLUX_BIN=target/release/conflux bench/instructions.sh      (CALLS=4000)
#   ECHO_BIN=target/release/examples/echo_server bench/instructions.sh
#
# The second form counts the echo server's instructions per call instead, the
# floor that hyper, tokio and serde_json set for the same request.
#
# One client calls the signed URL CALLS times over one connection after 300
# unmeasured calls; the counters are zeroed in between. Prints instructions per
# call and leaves the profile in $OUT (default /tmp/conflux-callgrind) for
# `callgrind_annotate --inclusive=yes $OUT.1`. Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."

CALLS=${CALLS:-4000}
OUT=${OUT:-/tmp/conflux-callgrind}
ADDR=127.0.0.1:7196
BIN=${CONFLUX_BIN:-target/release/conflux}
export CONFLUX_ADMIN_KEY=bench-admin-key
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
[ -n "${ECHO_BIN:-}" ] || [ -x "$BIN" ] ||
  { echo "no conflux binary at $BIN (cargo build --release -p conflux)" >&2; exit 1; }

data=$(mktemp -d)
rm -f "$OUT" "$OUT".*
if [ -n "${ECHO_BIN:-}" ]; then
  valgrind --tool=callgrind --callgrind-out-file="$OUT" "$ECHO_BIN" "$ADDR" >"$data/serve.log" 2>&1 &
else
  valgrind --tool=callgrind --callgrind-out-file="$OUT" "$BIN" serve examples/bench \
    --listen "$ADDR" --data "$data/store" >"$data/serve.log" 2>&1 &
fi
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT
for _ in $(seq 1 600); do curl -s -o /dev/null "http://$ADDR/" && break; sleep 0.1; done
if [ -n "${ECHO_BIN:-}" ]; then
  url="http://$ADDR/echo"
else
  url=$(curl -s -X POST -H "Authorization: Bearer $CONFLUX_ADMIN_KEY" -H 'content-length: 0' \
    "http://$ADDR/runtime/webhooks/workflow/api/management/workflows/stateless/triggers/manual/listCallbackUrl" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["value"])')
fi

call() { # count
  python3 - "$url" "$1" <<'PY'
import http.client, sys, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
connection = http.client.HTTPConnection(url.hostname, url.port)
for _ in range(int(sys.argv[2])):
    target = url.path + ("?" + url.query if url.query else "")
    connection.request("POST", target, body=b'{"name":"Ada","id":42}',
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    assert response.status == 200, response.status
PY
}

call 300
callgrind_control -z "$pid" >/dev/null
call "$CALLS"
callgrind_control -d "$pid" >/dev/null
total=$(callgrind_annotate "$OUT.1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "instructions per call: $((total / CALLS)) ($total over $CALLS calls; profile in $OUT.1)"
