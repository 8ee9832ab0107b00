#!/usr/bin/env bash
# Lambda start-up benchmark; prints a Markdown section (`## Lambda start-up`) on stdout for
# BENCHMARKS.md, progress on stderr:
#   scripts/bench-lambda.sh [FUNCTION...]          (default: all eight functions)
# For each function: the native release binary's time from process start to its first answered
# invocation against a local Lambda Runtime API (scripts/bench-lambda/lambda_bench.py, which says
# exactly what is measured), its peak memory, and the size of its arm64 bootstrap.zip from
# `make build` (scripts/build-lambdas.sh; run with MDLC_BENCH_BUILD_ZIPS=1 to build them first).
# Events: scripts/bench-lambda/events/<function>.json, one valid input per function.
# MDLC_BENCH_LAMBDA_RUNS sets the number of measured starts per function (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ $# -gt 0 ]; then
  functions=("$@")
else
  functions=(initialize train create-model register-model find-model monitor-performance is-retraining-needed track-experiment)
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

if [ "${MDLC_BENCH_BUILD_ZIPS:-0}" = 1 ]; then
  scripts/build-lambdas.sh "${functions[@]}" >&2
fi

args=()
for fn in "${functions[@]}"; do args+=(-p "$fn"); done
echo "bench-lambda: cargo build --release ${args[*]} --bins" >&2
cargo build --release "${args[@]}" --bins >&2

python3 scripts/bench-lambda/lambda_bench.py "${functions[@]}" \
  --bin-dir "$CARGO_TARGET_DIR/release" \
  --events-dir scripts/bench-lambda/events \
  --zip-dir "$ROOT/target/lambda" \
  --runs "${MDLC_BENCH_LAMBDA_RUNS:-20}"
