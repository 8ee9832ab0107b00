#!/usr/bin/env bash
# Model server benchmark: requests per second of `mdlc-trainer serve` on POST /invocations, the
# requests a batch transform sends (crates/trainer/examples/serve_load.rs says exactly what is
# measured). Prints a Markdown section (`## Model server (mdlc-trainer serve)`) on stdout,
# progress on stderr.
#
# MDLC_BENCH_SERVE_BASELINE=/path/to/an/older/mdlc-trainer also measures that binary in the same
# run, the two taking turns (for a before/after comparison on one machine); its row is labelled
# MDLC_BENCH_SERVE_BASELINE_LABEL (default "baseline").
# MDLC_BENCH_SERVE_SECONDS (default 3) per measurement, MDLC_BENCH_SERVE_ROUNDS (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
echo "bench-serve: cargo build --release -p mdlc-trainer --bins --example serve_load" >&2
cargo build --release -p mdlc-trainer --bins --example serve_load >&2
BIN=$CARGO_TARGET_DIR/release/mdlc-trainer
servers=("this tree=$BIN")
if [ -n "${MDLC_BENCH_SERVE_BASELINE:-}" ]; then
  servers=("${MDLC_BENCH_SERVE_BASELINE_LABEL:-baseline}=$MDLC_BENCH_SERVE_BASELINE" "${servers[@]}")
fi
SECONDS_EACH=${MDLC_BENCH_SERVE_SECONDS:-3}
ROUNDS=${MDLC_BENCH_SERVE_ROUNDS:-3}
table=$("$CARGO_TARGET_DIR/release/examples/serve_load" "$SECONDS_EACH" "$ROUNDS" "${servers[@]}")
echo "## Model server (mdlc-trainer serve)"
echo
echo "Requests per second of \`POST /invocations\` answered by the release \`mdlc-trainer serve\`"
echo "(2 request threads, its default) on loopback, from 2 keep-alive connections (the"
echo "MaxConcurrentTransforms it advertises), with a seeded binary-logistic model of 50 trees"
echo "(depth 6, 20 features): one row per request (SingleRecord) and 5,000 rows, about 1 MB, per"
echo "request (MultiRecord). Each cell is the median of $ROUNDS rounds of ${SECONDS_EACH} s, the"
echo "servers taking turns; every answer is checked (200, one prediction per row). The load"
echo "generator runs on the same $(nproc) cores."
echo
echo "$table"
