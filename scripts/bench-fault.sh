#!/usr/bin/env bash
# Fault-injection section of BENCHMARKS.md (`make fault`, `make bench`; issue 19): runs
# tests/tests/crash_faults.rs with FAULT_DEMO_KILLS (default 20) kills of `mdlc demo` and
# FAULT_SERVE_KILLS (default 20) kills of `mdlc serve` under load, seed FAULT_SEED (default 19),
# and prints its figures as Markdown on stdout; progress on stderr. `make test` runs the same
# test with 3 + 3 kills.
# `scripts/bench-fault.sh --check` exits 1 when the fault section of BENCHMARKS.md shows a broken
# invariant.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--check" ]; then
  verdict=$(awk '/^<!-- bench:fault /{on=1} on && /^Invariants: /{print $2; exit}' BENCHMARKS.md)
  if [ "${verdict:-missing}" != "held" ]; then
    echo "make fault: invariants ${verdict:-not measured} (see the fault section of BENCHMARKS.md)" >&2
    exit 1
  fi
  exit 0
fi
DEMO=${FAULT_DEMO_KILLS:-20}
SERVE=${FAULT_SERVE_KILLS:-20}
SEED=${FAULT_SEED:-19}
REPORT=$(mktemp)
trap 'rm -f "$REPORT"' EXIT
echo "bench-fault: $DEMO demo kills, $SERVE server kills, seed $SEED" >&2
start=$(date +%s)
status=0
MDLC_FAULT_DEMO_KILLS=$DEMO MDLC_FAULT_SERVE_KILLS=$SERVE MDLC_FAULT_SEED=$SEED MDLC_FAULT_REPORT=$REPORT \
  cargo nextest run -p mdlc-tests --test crash_faults --profile fault --run-ignored all --no-capture >&2 || status=$?
took=$(( $(date +%s) - start ))
if [ ! -s "$REPORT" ]; then
  echo "bench-fault: the suite wrote no figures" >&2
  exit 1
fi
python3 - "$REPORT" "$DEMO" "$SERVE" "$SEED" "$took" "$status" <<'PY'
import json, sys
report, demo, serve, seed, took, status = sys.argv[1:]
f = json.load(open(report))
held = status == "0" and all(f[k] == 0 for k in (
    "executions_lost", "orphans", "corrupt_files", "jobs_left_running", "next_runs_failed"))
print("## Fault injection (kill -9, restart)")
print()
print(f"`make fault`: tests/tests/crash_faults.rs (debug build) with seed {seed}: `mdlc demo` killed "
      f"with `kill -9` of its whole process group {demo} times at moments drawn uniformly over one "
      f"whole demo's duration, each followed by `mdlc executions list`, the local cloud reopened "
      f"(its jobs described) and the next `mdlc demo` on the same state directory; `mdlc serve` "
      f"killed {serve} times 0.3-3.3 s into a load of 4 clients starting executions of a Pass "
      f"machine and of one whose Lambda (`sh -c 'sleep 600; cat'`) outlives the round, each "
      f"followed by a restart on the same state directory, DescribeExecution of every "
      f"acknowledged execution and a new execution. An orphan is a process still naming the "
      f"killed run's state directory (working directory, command line or environment) "
      f"5 s after the kill and the restart's sweep. {took} s in all.")
print()
print("| kills | executions started before a kill | executions lost | orphans | corrupt files | "
      "jobs interrupted (read as Failed) | jobs left running | next runs failed | temporary files left |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
print(f"| {f['kills']} | {f['executions_started']} | {f['executions_lost']} | {f['orphans']} | "
      f"{f['corrupt_files']} | {f['jobs_interrupted']} | {f['jobs_left_running']} | "
      f"{f['next_runs_failed']} | {f['temp_files_left']} |")
print()
print("*Executions started* counts what a client was told: StartExecution answered, or the "
      "execution's `execution started` log line written. A *temporary file left* is the "
      "`.<name>.tmp-<pid>-<n>` of a write the kill cut short: never read as data, it breaks no "
      "invariant.")
print()
print(f"Invariants: {'held' if held else 'BROKEN'}")
if f["findings"]:
    print()
    for line in f["findings"][:20]:
        print(f"- {line}")
PY
exit $status
