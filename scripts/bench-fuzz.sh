#!/usr/bin/env bash
# Fuzzing section of BENCHMARKS.md (`make fuzz`, `make bench`): runs every target of crates/fuzz
# for FUZZ_SECONDS seconds (default 60), one at a time, built with the `fuzz` cargo profile
# (optimised, overflow checks and debug assertions on), and prints executions per second and
# crashes per target as Markdown on stdout; progress on stderr. Crash inputs are appended to
# crates/fuzz/regressions/<target>.jsonl, which `make test` replays.
# `scripts/bench-fuzz.sh --check` exits 1 when the fuzz section of BENCHMARKS.md lists crashes.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--check" ]; then
  crashes=$(awk '/^<!-- bench:fuzz /{on=1} on && /^Crashes found: /{print $3; exit}' BENCHMARKS.md)
  if [ "${crashes:-missing}" != "0" ]; then
    echo "make fuzz: crashes found: ${crashes:-no fuzz section} (see BENCHMARKS.md and crates/fuzz/regressions/)" >&2
    exit 1
  fi
  exit 0
fi
SECS=${FUZZ_SECONDS:-60}
REPORT=$(mktemp)
trap 'rm -f "$REPORT"' EXIT
echo "bench-fuzz: cargo nextest run -p mdlc-fuzz --cargo-profile fuzz, $SECS s per target" >&2
cargo nextest run -p mdlc-fuzz --cargo-profile fuzz --no-run >&2
status=0
MDLC_FUZZ_SECONDS=$SECS MDLC_FUZZ_REPORT=$REPORT \
  cargo nextest run -p mdlc-fuzz --cargo-profile fuzz --profile fuzz >&2 || status=$?
targets=$(wc -l <"$REPORT")
new=$(awk -F'|' '{s += $6} END {print s + 0}' "$REPORT")
known=$(awk -F'|' '{s += $7} END {print s + 0}' "$REPORT")
cat <<MD
## Fuzzing (crates/fuzz)

\`make fuzz\` ran each of the $targets targets for $SECS s, one at a time on one thread, built with the
\`fuzz\` profile (optimised, overflow checks and debug assertions on). A fresh seed per target (in the
log); inputs come from proptest generators of ASL definitions (valid most of the time), JSONPath,
intrinsic functions, JSONata, execution inputs, the pipeline's execution input, CSV and
hyperparameters; each is parsed, validated and executed on the virtual clock. A crash is a panic, a
case running longer than 20 s, or a broken property (an error without a name or a JSON pointer).
*Executions* include the replayed regression inputs; *Outcomes* are the shares of what the
executions ended in.

| Target | Seconds | Executions | Executions/s | New crashes | Known crashes still failing | Outcomes |
|---|---:|---:|---:|---:|---:|---|
$(cat "$REPORT")

Crashes found: $((new + known)) (new $new, replayed from crates/fuzz/regressions/ $known).$( [ "$status" = 0 ] || echo " The test run failed (exit $status): see the make fuzz log.")
MD
