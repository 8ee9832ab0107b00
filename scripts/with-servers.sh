#!/usr/bin/env bash
# Runs a command with the protocol servers the wire tests need, on loopback, and stops them after:
#   moto's server (DynamoDB with transactions, S3, SageMaker)  -> MDLC_TEST_MOTO_ENDPOINT
#   an MLflow tracking server (sqlite backend)                   -> MDLC_TEST_MLFLOW_URI
# Usage: scripts/with-servers.sh CMD [ARGS...]   (tools must be installed: scripts/tools.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.tools/venv
mkdir -p .tools/run
# One directory per invocation: concurrent runs (several engineers, make test) never share or wipe
# each other's MLflow database.
run=$(mktemp -d .tools/run/servers.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$run"; }
trap cleanup EXIT INT TERM

free_port() { "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() { # url name seconds
  for _ in $(seq 1 "$3"0); do
    if "$VENV/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('$1', timeout=1)" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$2 did not start; its log:" >&2; cat "$run/$2.log" >&2; return 1
}

moto_port=$(free_port)
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$moto_port" > "$run/moto.log" 2>&1 &
pids+=($!)

mlflow_port=$(free_port)
mkdir -p "$run/mlflow"
"$VENV/bin/mlflow" server --host 127.0.0.1 --port "$mlflow_port" --workers 1 \
  --backend-store-uri "sqlite:///$PWD/$run/mlflow/mlflow.db" \
  --default-artifact-root "$PWD/$run/mlflow/artifacts" > "$run/mlflow.log" 2>&1 &
pids+=($!)

wait_http "http://127.0.0.1:$moto_port/moto-api/" moto 30
wait_http "http://127.0.0.1:$mlflow_port/health" mlflow 90

export MDLC_TEST_MOTO_ENDPOINT="http://127.0.0.1:$moto_port"
export MDLC_TEST_MLFLOW_URI="http://127.0.0.1:$mlflow_port"
"$@"
