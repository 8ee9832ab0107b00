#!/usr/bin/env bash
# The local cloud at the size of real data (issue 17): `mdlc demo --dataset` on generated,
# seeded regression data of MDLC_BENCH_SCALE_ROWS rows (default "200000 2000000") x 20 features,
# with a quarter as many validation and holdout rows each. Prints a Markdown section on stdout
# (`## Scale`), progress on stderr. Per size: the wall time of the whole life cycle, the peak
# resident memory of the mdlc process (the VmHWM line the demo prints last) and of each kind of
# job (every job program is started through a small wrapper that waits for it with wait4:
# scripts/bench-scale/measure.py), the state directory's size over the data's, and real
# XGBoost's peak memory (.tools/venv, /usr/bin/time) on the channels and hyperparameters of the
# training job whose built-in trainer peaked highest. Nothing generated is kept.
# MDLC_BENCH_SCALE_BIN=<dir> measures the binaries of that directory instead of building them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
rows_list=${MDLC_BENCH_SCALE_ROWS:-200000 2000000}
PY=$ROOT/.tools/venv/bin/python
if [ ! -x "$PY" ] || ! "$PY" -c 'import xgboost' 2>/dev/null; then
  echo "bench-scale: python xgboost is missing; run scripts/tools.sh first" >&2
  exit 1
fi
for tool in /usr/bin/time /usr/bin/python3; do
  [ -x "$tool" ] || { echo "bench-scale: needs $tool" >&2; exit 1; }
done
# MDLC_BENCH_SCALE_BIN=<dir>: measure the mdlc and mdlc-trainer in that directory, unbuilt.
bin_dir=${MDLC_BENCH_SCALE_BIN:-}
if [ -z "$bin_dir" ]; then
  echo "bench-scale: cargo build --release -p mdlc-cli -p mdlc-trainer" >&2
  cargo build --release -p mdlc-cli -p mdlc-trainer >&2
  bin_dir=$CARGO_TARGET_DIR/release
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-scale.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The binaries are copied: a build running meanwhile cannot change what is measured.
mkdir -p "$work/bin"
cp "$bin_dir/mdlc" "$bin_dir/mdlc-trainer" "$work/bin/"
results=$work/results.jsonl
for rows in $rows_list; do
  mkdir -p "$work/$rows"
  /usr/bin/python3 scripts/bench-scale/measure.py run "$rows" "$work/$rows" "$work/bin" >> "$results"
  rm -rf "${work:?}/$rows"
  # MDLC_BENCH_SCALE_RESULTS=<file>: the figures are also kept there (JSON lines)
  if [ -n "${MDLC_BENCH_SCALE_RESULTS:-}" ]; then tail -1 "$results" >> "$MDLC_BENCH_SCALE_RESULTS"; fi
done
/usr/bin/python3 scripts/bench-scale/measure.py report < "$results"
