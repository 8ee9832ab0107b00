#!/usr/bin/env bash
# Runs CMD against a moto server of its own that executes state machines, for comparing moto's
# Step Functions with `mdlc serve` on the same client suites:
#   tests/sfn_clients/moto.sh tests/sfn_clients/operations.py '$SFN_ENDPOINT'   (quoted: CMD sees it)
# moto listens on a fixed free loopback port (its ASL interpreter calls SQS and other services of the
# same server through that port), without IAM enforcement (fake keys are fine, as for `mdlc serve`),
# with `stepfunctions.execute_state_machine` turned on (otherwise moto's executions never run).
# Exports SFN_ENDPOINT; stops moto after CMD. Tools: scripts/tools.sh test (.tools/venv).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
PY=$root/.tools/venv/bin/python
[ -x "$PY" ] || { echo "missing $PY: run scripts/tools.sh test" >&2; exit 2; }
[ $# -ge 1 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
log=$(mktemp -t sfn-moto.XXXXXX.log)
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
"$root/.tools/venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true; wait $moto 2>/dev/null || true; rm -f "$log"' EXIT INT TERM
export SFN_ENDPOINT="http://127.0.0.1:$port"
"$PY" - "$SFN_ENDPOINT" <<'PY' || { echo "moto did not start; its log:" >&2; cat "$log" >&2; exit 1; }
import json, sys, time, urllib.request
endpoint = sys.argv[1]
for _ in range(300):
    try:
        urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("moto did not answer within 30 s")
body = json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode()
urllib.request.urlopen(urllib.request.Request(endpoint + "/moto-api/config", data=body, method="POST"))
PY
AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 bash -c "$*"
