#!/usr/bin/env bash
# The cost of Redis durability modes for ingest, measured interleaved in one run: single events and
# batches of 100 at one destination (ingest-fanout1), with `appendfsync everysec` (fast) and
# `appendfsync always` (strict), alternating mode every round so machine noise hits both alike.
# Prints a Markdown table of medians and ratios; JSON of each round stays in $BENCH_RESULTS/durability-<stamp>/.
# WAITAOF (Redis >= 7.2) is measured too when redis-server supports it (BENCH_DURABILITY_WAITAOF=1 forces it).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${BENCH_DURABILITY_ROUNDS:-3}
stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
out=${BENCH_RESULTS:-bench/results}/durability-$stamp
mkdir -p "$out"
modes=(everysec always)
for r in $(seq 1 "$rounds"); do
  for m in "${modes[@]}"; do
    echo "round $r: appendfsync $m" >&2
    BENCH_ONLY=ingest-fanout1 BENCH_RUNS=1 BENCH_RESULTS="$out/$m-$r" BENCH_REDIS_ARGS="--appendfsync $m" \
      node bench/dist/run.js --mode quick > "$out/$m-$r.log" 2>&1
  done
done
node bench/durability-summary.mjs "$out" "${modes[@]}" | tee "$out/summary.md"
