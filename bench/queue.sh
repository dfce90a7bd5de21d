#!/usr/bin/env bash
# End-to-end throughput of a queue-triggered workflow under `conflux serve`:
# RabbitMQ queue -> AMQP `receiveMessages` trigger -> one Redis `increment`
# action, stateless and stateful. "live" times first publish until the Redis
# counter shows every run completed, with the host consuming while messages are
# published; "backlog" fills the queue while the host is stopped and times how
# fast the started host works it off, so the publisher's speed does not count.
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
conflux_pid=
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

load() { target/release/examples/queue_load --queue "queue-bench-$1" --counter "queue-bench-$1:completed" "${@:2}"; }

start_server() {
  target/release/conflux serve examples/queue-bench --listen "$CONFLUX_ADDR" --data "$data/store" >>"$data/serve.log" 2>&1 &
  conflux_pid=$!; pids+=($conflux_pid)
  for _ in $(seq 1 500); do grep -q 'listening on' "$data/serve.log" && return 0; sleep 0.01; done
  cat "$data/serve.log" >&2; echo "conflux serve did not start" >&2; return 1
}
stop_server() { kill "$conflux_pid"; wait "$conflux_pid" 2>/dev/null || true; : >"$data/serve.log"; }

# The trigger expects its queue to exist: create (and empty) both first.
load stateless --messages 0 >/dev/null
load stateful --messages 0 >/dev/null

echo "### live: publishing while the host consumes (bounded by the slower of the two)"
start_server
echo "== stateless: AMQP receiveMessages -> Redis increment ($STATELESS_MESSAGES messages)"
load stateless --messages "$STATELESS_MESSAGES" | tail -n +2
echo "== stateful: AMQP receiveMessages -> Redis increment ($STATEFUL_MESSAGES messages)"
load stateful --messages "$STATEFUL_MESSAGES" | tail -n +2
echo "RSS after load: $(awk '/VmRSS/ {print $2, $3}' /proc/$conflux_pid/status)"
if grep -qE 'ERROR|WARN' "$data/serve.log"; then
  echo "server log warnings/errors (first 5):"; grep -E 'ERROR|WARN' "$data/serve.log" | head -5
fi
stop_server

echo "### backlog: the queue is filled while the host is stopped, then the host works it off"
for kind in stateless stateful; do
  if [ "$kind" = stateless ]; then n=$STATELESS_MESSAGES; else n=$STATEFUL_MESSAGES; fi
  echo "== $kind ($n messages)"
  load "$kind" --messages "$n" --mode prefill | tail -n +2
  start_server
  load "$kind" --messages "$n" --mode drain
  stop_server
done
