#!/usr/bin/env bash
# Runs a command with the protocol servers the wire tests need, on loopback, and stops them after:
#   moto's server (DynamoDB with transactions, S3, SageMaker, IAM, STS), IAM enforced
#                                                              -> MDLC_TEST_MOTO_ENDPOINT, and the
#     test administrator's keys -> MDLC_TEST_MOTO_ACCESS_KEY_ID, MDLC_TEST_MOTO_SECRET_ACCESS_KEY
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

# moto checks IAM like AWS (signature, access key, the caller's policies) after its first
# INITIAL_NO_AUTH_ACTION_COUNT requests: exactly the three of moto_bootstrap below, which create
# the test administrator. Every later request must be signed by a known access key (the admin's,
# or a role's that a test assumed) and be allowed by its policies.
MOTO_BOOTSTRAP_REQUESTS=3
moto_port=$(free_port)
INITIAL_NO_AUTH_ACTION_COUNT=$MOTO_BOOTSTRAP_REQUESTS \
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$moto_port" > "$run/moto.log" 2>&1 &
pids+=($!)

mlflow_port=$(free_port)
mkdir -p "$run/mlflow"
"$VENV/bin/mlflow" server --host 127.0.0.1 --port "$mlflow_port" --workers 1 \
  --backend-store-uri "sqlite:///$PWD/$run/mlflow/mlflow.db" \
  --default-artifact-root "$PWD/$run/mlflow/artifacts" > "$run/mlflow.log" 2>&1 &
pids+=($!)

wait_http "http://127.0.0.1:$moto_port/moto-api/" moto 30

# Creates the administrator (an IAM user with an inline Allow */*) in the unauthenticated
# requests, then proves that moto now refuses an unknown access key; prints the admin's keys.
moto_bootstrap() {
  "$VENV/bin/python" - "http://127.0.0.1:$moto_port" "$MOTO_BOOTSTRAP_REQUESTS" <<'PY'
import json, sys
import boto3, botocore.exceptions
endpoint, expected = sys.argv[1], int(sys.argv[2])
def iam(key="bootstrap", secret="bootstrap"):
    return boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret)
client = iam()
client.create_user(UserName="mdlc-test-admin")                                   # 1
client.put_user_policy(UserName="mdlc-test-admin", PolicyName="admin",           # 2
    PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
key = client.create_access_key(UserName="mdlc-test-admin")["AccessKey"]           # 3
assert expected == 3, "MOTO_BOOTSTRAP_REQUESTS must count the requests above"
try:
    iam("AKIAUNKNOWNUNKNOWN00", "nope").list_users()
    sys.exit("moto accepted an unknown access key: IAM enforcement is off")
except botocore.exceptions.ClientError as e:
    if e.response["Error"]["Code"] != "InvalidClientTokenId":
        raise
iam(key["AccessKeyId"], key["SecretAccessKey"]).list_users()  # the admin is allowed
print(key["AccessKeyId"], key["SecretAccessKey"])
PY
}
read -r moto_key moto_secret < <(moto_bootstrap) || { echo "moto IAM bootstrap failed; its log:" >&2; cat "$run/moto.log" >&2; exit 1; }
[ -n "${moto_secret:-}" ] || { echo "moto IAM bootstrap failed; its log:" >&2; cat "$run/moto.log" >&2; exit 1; }
wait_http "http://127.0.0.1:$mlflow_port/health" mlflow 90

export MDLC_TEST_MOTO_ENDPOINT="http://127.0.0.1:$moto_port"
export MDLC_TEST_MOTO_ACCESS_KEY_ID="$moto_key" MDLC_TEST_MOTO_SECRET_ACCESS_KEY="$moto_secret"
export MDLC_TEST_MLFLOW_URI="http://127.0.0.1:$mlflow_port"
"$@"
