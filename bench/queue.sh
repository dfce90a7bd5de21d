#!/usr/bin/env bash
# End-to-end throughput of a queue-triggered workflow under `conflux serve`:
# RabbitMQ queue -> AMQP `receiveMessages` trigger -> one Redis `increment`
# action, stateless and stateful. The rate is measured from the first publish
# until the Redis counter shows that every run completed.
#
#   bench/queue.sh           (STATELESS_MESSAGES=20000 STATEFUL_MESSAGES=5000 by default)
#
# Needs RabbitMQ and Redis; their addresses come from AMQP_URL and REDIS_URL
# (loopback defaults), which also override the project's app settings.
set -euo pipefail
cd "$(dirname "$0")/.."

STATELESS_MESSAGES=${STATELESS_MESSAGES:-20000}
STATEFUL_MESSAGES=${STATEFUL_MESSAGES:-5000}
CONFLUX_ADDR=127.0.0.1:7197
export CONFLUX_ADMIN_KEY=bench-admin-key
export AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}

cargo build --release -q -p conflux --bin conflux --example queue_load

data=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

load() { target/release/examples/queue_load --queue "queue-bench-$1" --counter "queue-bench-$1:completed" "${@:2}"; }

# The trigger expects its queue to exist: create (and empty) both first.
load stateless --messages 0
load stateful --messages 0

target/release/conflux serve examples/queue-bench --listen "$CONFLUX_ADDR" --data "$data/store" >"$data/serve.log" 2>&1 &
pids+=($!); conflux_pid=$!
for _ in $(seq 1 500); do grep -q 'listening on' "$data/serve.log" && break; sleep 0.01; done
grep -q 'listening on' "$data/serve.log" || { cat "$data/serve.log" >&2; echo "conflux serve did not start" >&2; exit 1; }

echo "== conflux stateless: AMQP receiveMessages -> Redis increment ($STATELESS_MESSAGES messages)"
load stateless --messages "$STATELESS_MESSAGES"
echo "== conflux stateful: AMQP receiveMessages -> Redis increment ($STATEFUL_MESSAGES messages)"
load stateful --messages "$STATEFUL_MESSAGES"
echo "RSS after load: $(awk '/VmRSS/ {print $2, $3}' /proc/$conflux_pid/status)"
if grep -qiE 'error|warn' "$data/serve.log"; then
  echo "== server log warnings/errors (first 10)"; grep -iE 'error|warn' "$data/serve.log" | head -10
fi
