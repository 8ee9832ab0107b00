#!/usr/bin/env bash
# ASL engine benchmark: transitions per second in process (counter loop of Choice + Pass with
# States.MathAdd; inline Map over 10,000 items), and the whole-process time of
# `mdlc execute` running 1,000 loop iterations. Prints a Markdown section on stdout, progress on
# stderr. Environment: MDLC_BENCH_LOOP (loop iterations in process, default 1000000),
# MDLC_BENCH_RUNS (process runs, default 20), MDLC_BENCH_ASL_BASELINE (optional: the bench example
# of an older build, measured in the same run for a before/after ratio).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
echo "bench-asl: cargo build --release -p mdlc-asl --example bench and -p mdlc-cli" >&2
cargo build --release -p mdlc-asl --example bench >&2
cargo build --release -p mdlc-cli >&2
BENCH=$CARGO_TARGET_DIR/release/examples/bench
MDLC=$CARGO_TARGET_DIR/release/mdlc
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

RESULTS=$("$BENCH")
loop_line=$(grep '^loop ' <<<"$RESULTS")
map_line=$(grep '^map ' <<<"$RESULTS")
BASELINE_ROWS=""
if [ -n "${MDLC_BENCH_ASL_BASELINE:-}" ]; then
  base=$("$MDLC_BENCH_ASL_BASELINE")
  read -r _ blt bls blr <<<"$(grep '^loop ' <<<"$base")"
  read -r _ bmt bms bmr <<<"$(grep '^map ' <<<"$base")"
  BASELINE_ROWS="| baseline (${MDLC_BENCH_ASL_BASELINE_LABEL:-an older build}): counter loop | $blt | $bls | $blr |
| baseline (${MDLC_BENCH_ASL_BASELINE_LABEL:-an older build}): inline Map | $bmt | $bms | $bmr |"
fi

cat >"$WORK/loop.json" <<'JSON'
{"StartAt":"Init","States":{
  "Init":{"Type":"Pass","Parameters":{"i":0,"n.$":"$.n"},"Next":"Check"},
  "Check":{"Type":"Choice","Choices":[{"Variable":"$.i","NumericLessThanPath":"$.n","Next":"Inc"}],"Default":"Done"},
  "Inc":{"Type":"Pass","Parameters":{"i.$":"States.MathAdd($.i, 1)","n.$":"$.n"},"Next":"Check"},
  "Done":{"Type":"Succeed","OutputPath":"$.i"}}}
JSON
RUNS=${MDLC_BENCH_RUNS:-20}
"$MDLC" execute "$WORK/loop.json" --input '{"n": 1000}' | grep -q '"output":1000' || {
  echo "bench-asl: mdlc execute gave an unexpected result" >&2
  exit 1
}
times=()
for _ in $(seq "$RUNS"); do
  t0=$(date +%s%N)
  "$MDLC" execute "$WORK/loop.json" --input '{"n": 1000}' >/dev/null
  t1=$(date +%s%N)
  times+=($(( (t1 - t0) / 1000 )))
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
min_us=$(head -1 <<<"$sorted")
median_us=$(sed -n "$(( (RUNS + 1) / 2 ))p" <<<"$sorted")

fmt() { awk -v n="$1" 'BEGIN { printf "%\047.0f", n }' 2>/dev/null || echo "$1"; }
read -r _ lt ls lr <<<"$loop_line"
read -r _ mt ms mr <<<"$map_line"
cat <<MD
## ASL engine (mdlc-asl)

In-process throughput (release build, \`crates/asl/examples/bench.rs\`, best of three batches, one
thread, virtual clock, no history; each execution stays under Step Functions' 25,000 history
events, so a batch is many executions back to back), and the whole \`mdlc execute\` process for a 1,000-iteration
loop (best and median of $RUNS runs). Target: at least 1,000,000 transitions/s on the loop, and the
process under 50 ms.

| workload | state transitions | seconds | transitions/s |
|---|---:|---:|---:|
| counter loop (Choice + Pass with States.MathAdd), 5,000 iterations × 200 executions | $lt | $ls | $(fmt "$lr") |
| inline Map over 5,000 items (ItemSelector + Pass with States.MathAdd) × 20 executions | $mt | $ms | $(fmt "$mr") |
$BASELINE_ROWS

| command | best | median |
|---|---:|---:|
| \`mdlc execute loop.json --input '{"n": 1000}'\` (2,003 transitions) | $(awk -v u="$min_us" 'BEGIN{printf "%.1f ms", u/1000}') | $(awk -v u="$median_us" 'BEGIN{printf "%.1f ms", u/1000}') |
MD
