#!/usr/bin/env bash
# The cost of Redis durability modes for ingest, measured interleaved in one run: single events and
# batches of 100 at one destination (ingest-fanout1), alternating mode every round so machine noise
# hits all alike:
#   everysec  `appendfsync everysec` (HERALD_DURABILITY=fast), no replica
#   always    `appendfsync always` (what strict relies on before Redis 7.2)
#   replica   everysec with one replica, ingest not waiting for it (the default with Sentinel)
#   wait1     everysec with one replica, ingest answering after `WAIT 1` (HERALD_ACK_REPLICAS=1)
# Prints a Markdown table of medians, min-max and ratios to the first mode; JSON of each round stays
# in $BENCH_RESULTS/durability-<stamp>/. BENCH_DURABILITY_MODES picks modes (space-separated).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${BENCH_DURABILITY_ROUNDS:-3}
stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
out=${BENCH_RESULTS:-bench/results}/durability-$stamp
mkdir -p "$out"
read -r -a modes <<< "${BENCH_DURABILITY_MODES:-everysec always replica wait1}"
mode_env() {
  case "$1" in
    everysec) echo "BENCH_REDIS_ARGS=--appendfsync%everysec" ;;
    always) echo "BENCH_REDIS_ARGS=--appendfsync%always" ;;
    replica) echo "BENCH_REDIS_ARGS=--appendfsync%everysec BENCH_REDIS_REPLICAS=1" ;;
    wait1) echo "BENCH_REDIS_ARGS=--appendfsync%everysec BENCH_REDIS_REPLICAS=1 BENCH_ACK_REPLICAS=1" ;;
    *) echo "unknown durability mode $1 (everysec, always, replica, wait1)" >&2; exit 2 ;;
  esac
}
for r in $(seq 1 "$rounds"); do
  for m in "${modes[@]}"; do
    echo "round $r: $m" >&2
    vars=()
    for kv in $(mode_env "$m"); do vars+=("${kv//%/ }"); done
    env "${vars[@]}" BENCH_ONLY=ingest-fanout1 BENCH_RUNS=1 BENCH_RESULTS="$out/$m-$r" \
      node bench/dist/run.js --mode quick > "$out/$m-$r.log" 2>&1
  done
done
node bench/durability-summary.mjs "$out" "${modes[@]}" | tee "$out/summary.md"
