#!/usr/bin/env bash
# Lambda start-up benchmark; prints a Markdown section (`## Lambda start-up`) on stdout for
# BENCHMARKS.md, progress on stderr:
#   scripts/bench-lambda.sh [FUNCTION...]          (default: all eight functions)
# For each function: the native release binary's time from process start to its first answered
# invocation against a local Lambda Runtime API, its CPU time and peak memory until then, and the
# size of its arm64 bootstrap.zip from `make build` (scripts/build-lambdas.sh; run with
# MDLC_BENCH_BUILD_ZIPS=1 to build them first). The harness is the `lambda-bench` binary
# (crates/lambda-bench, whose crate documentation says exactly what is measured), built in
# release just before the functions.
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
# Two cargo invocations: built together, the harness's server features (hyper's and
# hyper-util's `server`, tower's `make`) would be unified into the functions' dependencies, and
# the binaries measured would not be the functions as they are built alone.
echo "bench-lambda: cargo build --release -p lambda-bench" >&2
cargo build --release -p lambda-bench >&2
echo "bench-lambda: cargo build --release ${args[*]} --bins" >&2
cargo build --release "${args[@]}" --bins >&2

"$CARGO_TARGET_DIR/release/lambda-bench" "${functions[@]}" \
  --bin-dir "$CARGO_TARGET_DIR/release" \
  --events-dir scripts/bench-lambda/events \
  --zip-dir "$ROOT/target/lambda" \
  --runs "${MDLC_BENCH_LAMBDA_RUNS:-20}"
