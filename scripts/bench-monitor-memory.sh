#!/usr/bin/env bash
# monitor-performance's memory on a large evaluation batch (issue 17); prints a Markdown section
# (`## monitor-performance memory`) on stdout for BENCHMARKS.md, progress on stderr.
#   scripts/bench-monitor-memory.sh
# Builds the release monitor-performance and lambda-bench (its `lambda-invoke`), generates a
# seeded batch (scripts/bench-monitor-memory/batch.py: MDLC_BENCH_MONITOR_ROWS rows, default
# 2,000,000, in MDLC_BENCH_MONITOR_PARTS parts, default 4; 20 features, binary labels and scores,
# a baseline profile), and under scripts/with-servers.sh uploads it to moto's S3 and invokes the
# binary once under the local Runtime API, reading its peak resident memory (VmHWM).
# MDLC_BENCH_MONITOR_BEFORE=<binary> also measures another build (e.g. the handler before the
# streaming pass) on the same batch, as a second row.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
rows=${MDLC_BENCH_MONITOR_ROWS:-2000000}
parts=${MDLC_BENCH_MONITOR_PARTS:-4}

# Two cargo invocations, as in scripts/bench-lambda.sh: the harness's server features must not
# be unified into the function's dependencies.
echo "bench-monitor-memory: cargo build --release -p lambda-bench" >&2
cargo build --release -p lambda-bench >&2
echo "bench-monitor-memory: cargo build --release -p monitor-performance --bins" >&2
cargo build --release -p monitor-performance --bins >&2

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-monitor-memory.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The binary is copied: a build running meanwhile cannot change what is measured.
cp "$CARGO_TARGET_DIR/release/monitor-performance" "$work/monitor-performance"
binaries=("streaming=$work/monitor-performance")
if [ -n "${MDLC_BENCH_MONITOR_BEFORE:-}" ]; then
  binaries+=("before (whole objects)=$MDLC_BENCH_MONITOR_BEFORE")
fi
echo "bench-monitor-memory: generating $rows rows in $parts parts" >&2
.tools/venv/bin/python scripts/bench-monitor-memory/batch.py generate "$work/data" "$rows" "$parts"
scripts/with-servers.sh .tools/venv/bin/python scripts/bench-monitor-memory/batch.py measure \
  "$work/data" "$CARGO_TARGET_DIR/release" "${binaries[@]}"
