#!/usr/bin/env bash
# Step Functions server benchmark: `mdlc serve` side by side with moto's server, both driven by
# boto3 (tests/sfn_clients/bench.py, whose documentation says exactly what is measured). Prints a
# Markdown section (`## Step Functions server (mdlc serve vs moto)`) on stdout, progress on stderr.
#
# MDLC_BENCH_SFN_MDLC=path/to/mdlc (relative to the repository root, or absolute) measures that
# binary instead of building and measuring the release build; a path with a `debug` folder is
# labelled a DEBUG build in the section, whose figures are then no figures of record.
# MDLC_BENCH_SFN_CLIENTS (default "1 10 50") concurrent clients per level,
# MDLC_BENCH_SFN_SECONDS (default 3) per window, MDLC_BENCH_SFN_ROUNDS (default 3),
# MDLC_BENCH_SFN_PROCESSES (default: the number of cores) worker processes for the clients.
# Tools: scripts/tools.sh test (.tools/venv with boto3 and moto[server]).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PY=$ROOT/.tools/venv/bin/python
MOTO=$ROOT/.tools/venv/bin/moto_server
[ -x "$PY" ] && [ -x "$MOTO" ] || { echo "bench-sfn: missing $PY or $MOTO: run scripts/tools.sh test" >&2; exit 2; }

debug=""
if [ -n "${MDLC_BENCH_SFN_MDLC:-}" ]; then
  BIN=$MDLC_BENCH_SFN_MDLC
  build="\`$BIN\` (MDLC_BENCH_SFN_MDLC)"
  case "$BIN" in
    */debug/*) build="a DEBUG build, $build"; debug=yes ;;
  esac
else
  echo "bench-sfn: cargo build --release -p mdlc-cli" >&2
  cargo build --release -p mdlc-cli >&2
  BIN=$CARGO_TARGET_DIR/release/mdlc
  build="the release build"
fi
[ -x "$BIN" ] || { echo "bench-sfn: $BIN is not an executable" >&2; exit 2; }

CLIENTS=${MDLC_BENCH_SFN_CLIENTS:-1 10 50}
SECONDS_EACH=${MDLC_BENCH_SFN_SECONDS:-3}
ROUNDS=${MDLC_BENCH_SFN_ROUNDS:-3}
PROCESSES=${MDLC_BENCH_SFN_PROCESSES:-$(nproc)}
table=$("$PY" tests/sfn_clients/bench.py --mdlc "$BIN" --moto "$MOTO" --levels "$CLIENTS" \
  --seconds "$SECONDS_EACH" --rounds "$ROUNDS" --processes "$PROCESSES")
versions=$("$PY" -c 'import boto3, moto; print(f"moto {moto.__version__}, boto3 {boto3.__version__}")')

rounds="$ROUNDS rounds"
[ "$ROUNDS" = 1 ] && rounds="1 round"

echo "## Step Functions server (mdlc serve vs moto)"
echo
[ -z "$debug" ] || { echo "**A DEBUG build of mdlc: these figures are not figures of record.**"; echo; }
echo "Executions per second and the latency from StartExecution to the DescribeExecution that shows"
echo "the final status: \`mdlc serve\` side by side with moto's server on loopback, both driven by"
echo "boto3 (tests/sfn_clients/bench.py). mdlc: $build, \`--state-dir\` a temporary directory"
echo "(each execution's record is written and synced twice). moto: $versions, with"
echo "\`stepfunctions.execute_state_machine\` on. For each number of concurrent clients, $rounds of"
echo "${SECONDS_EACH} s per server, the servers taking turns. One STANDARD state machine, Pass → Choice →"
echo "Pass; each client starts an execution, polls DescribeExecution (at once, then backing off from"
echo "1 ms to 20 ms) until it is not RUNNING, checks its status and output, and starts the next; a"
echo "wrong status or output, a client error or a timeout is an error. Clients are threads, each with"
echo "its own boto3 client, spread over $PROCESSES forked processes (one interpreter's GIL would cap"
echo "the load generator at one core). Executions/s: median of the rounds; latencies: over every"
echo "execution; server CPU: the server process's CPU time per execution; load generator CPU: cores"
echo "busy in the client processes. The clients run on the same $(nproc) cores as the servers: when"
echo "the load generator nears $(nproc) cores the client is the limit, and the server CPU per"
echo "execution is the fairer comparison. Target (issue 14): at least 100 times moto's executions per"
echo "second."
echo
echo "$table"
