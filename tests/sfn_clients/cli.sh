#!/usr/bin/env bash
# Step Functions with the AWS CLI (v1, from PyPI, in .tools/venv) against ENDPOINT:
#   tests/sfn_clients/cli.sh ENDPOINT [lambda|sqs]
# create-state-machine, start-execution, describe-execution (until closed), get-execution-history
# (also --reverse-order and --no-include-execution-data), stop-execution, list-executions,
# list-state-machines, validate-state-machine-definition, describe-state-machine,
# update-state-machine, describe-state-machine-for-execution, start-sync-execution (EXPRESS),
# a .waitForTaskToken round trip (send-task-heartbeat, send-task-success, send-task-failure; the
# task is lambda:invoke on function mdlc-sfn-clients-callback, or with `sqs` an SQS queue on the
# same endpoint, as in operations.py), tag-resource / untag-resource / list-tags-for-resource,
# test-state, delete-state-machine, and one error: describe-execution of an unknown
# execution exits 255 (AWS CLI v1: every error is 255; v2 answers 254 for a service error) and prints
# "An error occurred (ExecutionDoesNotExist) when calling the DescribeExecution operation: ...".
# Fake credentials, region us-east-1, no profile or config file read. Prints one JSON line
# {"endpoint", "passed", "failed", "failures"}; exits 1 naming each failed check.
set -uo pipefail
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 ENDPOINT [lambda|sqs]" >&2; exit 2; }
endpoint=$1 callback=${2:-lambda}
root=$(cd "$(dirname "$0")/../.." && pwd)
AWS=$root/.tools/venv/bin/aws
PY=$root/.tools/venv/bin/python
[ -x "$AWS" ] || { echo "missing $AWS: run scripts/tools.sh test" >&2; exit 2; }
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER=""
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_SFN
# StartSyncExecution's host prefix (`sync-<host>`) does not resolve for a loopback endpoint.
export AWS_DISABLE_HOST_PREFIX_INJECTION=true

run=$("$PY" -c 'import uuid; print(uuid.uuid4().hex[:8])')
role=arn:aws:iam::123456789012:role/mdlc-sfn-clients
pass_def='{"StartAt":"Hello","States":{"Hello":{"Type":"Pass","Result":{"greeting":"hi"},"ResultPath":"$.out","End":true}}}'
pass_v2='{"StartAt":"Hello","States":{"Hello":{"Type":"Pass","Result":{"greeting":"hello"},"ResultPath":"$.out","End":true}}}'
export pass_def
passed=() failures=()
ok() { passed+=("$1"); }
fail() { failures+=("$1: $2"); }

sfn() { "$AWS" stepfunctions --endpoint-url "$endpoint" --output json "$@"; }
# json FILTER: evaluates a Python expression over the JSON document `d` read from stdin.
json() { "$PY" -c "import json,os,sys; d=json.load(sys.stdin); print($1)"; }

wait_closed() { # execution-arn -> the final describe-execution document on stdout
  local doc status
  for _ in $(seq 1 600); do
    doc=$(sfn describe-execution --execution-arn "$1") || return 1
    status=$(json 'd["status"]' <<<"$doc")
    if [ "$status" != RUNNING ]; then printf '%s' "$doc"; return 0; fi
    sleep 0.05
  done
  return 1
}

# create-state-machine
if sm=$(sfn create-state-machine --name "cli-pass-$run" --definition "$pass_def" --role-arn "$role" \
    --tags key=team,value=ml | json 'd["stateMachineArn"]'); then
  case "$sm" in
    arn:aws:states:us-east-1:*:stateMachine:cli-pass-$run) ok create-state-machine ;;
    *) fail create-state-machine "unexpected ARN $sm" ;;
  esac
else
  fail create-state-machine "the command failed"; sm=""
fi

# start-execution, describe-execution
exe=""
if [ -n "$sm" ] && exe=$(sfn start-execution --state-machine-arn "$sm" --name "e1-$run" --input '{"x": 1}' \
    | json 'd["executionArn"]'); then
  [ "$exe" = "${sm/:stateMachine:/:execution:}:e1-$run" ] && ok start-execution \
    || fail start-execution "unexpected ARN $exe"
  if doc=$(wait_closed "$exe"); then
    got=$(json '[d["status"], json.loads(d["output"])]' <<<"$doc")
    [ "$got" = "['SUCCEEDED', {'x': 1, 'out': {'greeting': 'hi'}}]" ] && ok describe-execution \
      || fail describe-execution "got $got"
  else
    fail describe-execution "no closed status"
  fi
else
  fail start-execution "the command failed or there is no state machine"
fi

# get-execution-history (the CLI follows nextToken itself)
if [ -n "$exe" ]; then
  types=$(sfn get-execution-history --execution-arn "$exe" | json '[e["type"] for e in d["events"]]')
  [ "$types" = "['ExecutionStarted', 'PassStateEntered', 'PassStateExited', 'ExecutionSucceeded']" ] \
    && ok get-execution-history || fail get-execution-history "event types $types"
  ids=$(sfn get-execution-history --execution-arn "$exe" --reverse-order | json '[e["id"] for e in d["events"]]')
  [ "$ids" = "[4, 3, 2, 1]" ] && ok get-execution-history-reverse || fail get-execution-history-reverse "ids $ids"
  data=$(sfn get-execution-history --execution-arn "$exe" --no-include-execution-data \
    | json 'sorted({k2 for e in d["events"] for k, v in e.items() if k.endswith("EventDetails") for k2 in v} & {"input", "output"})')
  [ "$data" = "[]" ] && ok get-execution-history-no-data || fail get-execution-history-no-data "still sends $data"
fi

# The .waitForTaskToken task (also what keeps an execution RUNNING for stop-execution, whatever the
# server's clock does)
if [ "$callback" = sqs ]; then
  queue=$("$AWS" sqs --endpoint-url "$endpoint" --output json create-queue --queue-name "cli-tokens-$run" | json 'd["QueueUrl"]')
  task='{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken","Parameters":{"QueueUrl":"'$queue'","MessageBody":{"token.$":"$$.Task.Token"}},"HeartbeatSeconds":600,"ResultPath":"$.callback","End":true}'
else
  task='{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken","Parameters":{"FunctionName":"mdlc-sfn-clients-callback","Payload":{"token.$":"$$.Task.Token"}},"HeartbeatSeconds":600,"ResultPath":"$.callback","End":true}'
fi

# stop-execution
if wsm=$(sfn create-state-machine --name "cli-wait-$run" --definition '{"StartAt":"Call","States":{"Call":'"$task"'}}' --role-arn "$role" \
    | json 'd["stateMachineArn"]') \
  && wexe=$(sfn start-execution --state-machine-arn "$wsm" --name "w1-$run" | json 'd["executionArn"]') \
  && stopped=$(sfn stop-execution --execution-arn "$wexe" --error Cli.Stop --cause "stopped by cli.sh"); then
  stop=$(json 'd.get("stopDate", "")' <<<"${stopped:-{\}}")
  status=$(sfn describe-execution --execution-arn "$wexe" | json 'd["status"]')
  [ "$status" = ABORTED ] && [ -n "$stop" ] && ok stop-execution \
    || fail stop-execution "status $status, stop-execution printed '$stopped' (no stopDate)"
else
  fail stop-execution "create/start/stop failed"; wsm="${wsm:-}"
fi

# list-executions, list-state-machines
if [ -n "$sm" ] && [ -n "$exe" ]; then
  listed=$(sfn list-executions --state-machine-arn "$sm" | json '[e["executionArn"] for e in d["executions"]]')
  [ "$listed" = "['$exe']" ] && ok list-executions || fail list-executions "listed $listed"
  n=$(sfn list-state-machines | json "sum(m['stateMachineArn'] == '$sm' for m in d['stateMachines'])")
  [ "$n" = 1 ] && ok list-state-machines || fail list-state-machines "$sm listed $n times"
fi

# validate-state-machine-definition
got=$(sfn validate-state-machine-definition --definition "$pass_def" | json '[d["result"], d["diagnostics"]]')
[ "$got" = "['OK', []]" ] && ok validate-state-machine-definition || fail validate-state-machine-definition "got $got"

# describe-state-machine, tags, update-state-machine, describe-state-machine-for-execution
if [ -n "$sm" ]; then
  same=$(sfn describe-state-machine --state-machine-arn "$sm" \
    | json '[d["name"], json.loads(d["definition"]) == json.loads(os.environ["pass_def"]), d.get("status")]')
  [ "$same" = "['cli-pass-$run', True, 'ACTIVE']" ] && ok describe-state-machine || fail describe-state-machine "got $same"
  tags() { sfn list-tags-for-resource --resource-arn "$sm" | json 'sorted((t["key"], t["value"]) for t in d["tags"])'; }
  t1=$(tags) t2="" t3=""
  sfn tag-resource --resource-arn "$sm" --tags key=stage,value=test >/dev/null && t2=$(tags)
  sfn untag-resource --resource-arn "$sm" --tag-keys team >/dev/null && t3=$(tags)
  [ "$t1|$t2|$t3" = "[('team', 'ml')]|[('stage', 'test'), ('team', 'ml')]|[('stage', 'test')]" ] \
    && ok tags || fail tags "after create, tag, untag: $t1 | $t2 | $t3"
  if sfn update-state-machine --state-machine-arn "$sm" --definition "$pass_v2" | json 'd["updateDate"]' >/dev/null \
    && [ -n "$exe" ]; then
    old=$(sfn describe-state-machine-for-execution --execution-arn "$exe" \
      | json 'json.loads(d["definition"]) == json.loads(os.environ["pass_def"])')
    [ "$old" = True ] && ok update-and-describe-state-machine-for-execution \
      || fail update-and-describe-state-machine-for-execution "the execution's definition is not the one it ran"
  else
    fail update-and-describe-state-machine-for-execution "update-state-machine failed"
  fi
fi

# start-sync-execution on EXPRESS
if xsm=$(sfn create-state-machine --name "cli-express-$run" --definition "$pass_def" --role-arn "$role" \
    --type EXPRESS | json 'd["stateMachineArn"]'); then
  got=$(sfn start-sync-execution --state-machine-arn "$xsm" --input '{"x": 3}' | json '[d["status"], json.loads(d["output"])]')
  [ "$got" = "['SUCCEEDED', {'x': 3, 'out': {'greeting': 'hi'}}]" ] && ok start-sync-execution || fail start-sync-execution "got $got"
else
  fail start-sync-execution "create-state-machine --type EXPRESS failed"; xsm=""
fi

# .waitForTaskToken: send-task-heartbeat, send-task-success, send-task-failure
token_of() { # execution-arn -> the task token of its TaskScheduled event's parameters, once started
  local t
  for _ in $(seq 1 600); do
    t=$(sfn get-execution-history --execution-arn "$1" | json '"".join(
      (lambda p: (p.get("MessageBody") or p.get("Payload") or {}).get("token", ""))(json.loads(e["taskScheduledEventDetails"]["parameters"]))
      for e in d["events"] if e["type"] == "TaskScheduled" and any(x["type"] == "TaskStarted" for x in d["events"]))')
    [ -n "$t" ] && { printf '%s' "$t"; return 0; }
    sleep 0.05
  done
  return 1
}
if csm=$(sfn create-state-machine --name "cli-callback-$run" --role-arn "$role" \
    --definition '{"StartAt":"Call","States":{"Call":'"$task"'}}' | json 'd["stateMachineArn"]'); then
  c1=$(sfn start-execution --state-machine-arn "$csm" --name "c1-$run" --input '{"k": "v"}' | json 'd["executionArn"]')
  if tok=$(token_of "$c1") && sfn send-task-heartbeat --task-token "$tok" >/dev/null \
    && sfn send-task-success --task-token "$tok" --task-output '{"ok": true}' >/dev/null; then
    got=$(wait_closed "$c1" | json '[d["status"], json.loads(d["output"])]')
    [ "$got" = "['SUCCEEDED', {'k': 'v', 'callback': {'ok': True}}]" ] && ok send-task-success || fail send-task-success "got $got"
  else
    fail send-task-success "no token, or send-task-heartbeat / send-task-success failed"
  fi
  c2=$(sfn start-execution --state-machine-arn "$csm" --name "c2-$run" | json 'd["executionArn"]')
  if tok=$(token_of "$c2") && sfn send-task-failure --task-token "$tok" --error Worker.Failed --cause "gave up" >/dev/null; then
    got=$(wait_closed "$c2" | json '[d["status"], d.get("error"), d.get("cause")]')
    [ "$got" = "['FAILED', 'Worker.Failed', 'gave up']" ] && ok send-task-failure || fail send-task-failure "got $got"
  else
    fail send-task-failure "no token, or send-task-failure failed"
  fi
else
  fail send-task-success "create-state-machine of the callback failed"; csm=""
fi

# test-state
got=$(sfn test-state --role-arn "$role" --input '{"a": 1}' \
  --definition '{"Type":"Pass","Parameters":{"v.$":"$.a"},"Next":"After"}' \
  | json '[d.get("status"), d.get("nextState"), json.loads(d["output"])]')
[ "$got" = "['SUCCEEDED', 'After', {'v': 1}]" ] && ok test-state || fail test-state "got $got"

# delete-state-machine
deleted=0 want=0
for arn in "$sm" "$wsm" "$xsm" "$csm"; do
  want=$((want + 1))
  [ -n "$arn" ] && sfn delete-state-machine --state-machine-arn "$arn" >/dev/null && deleted=$((deleted + 1))
done
[ "$deleted" = "$want" ] && ok delete-state-machine || fail delete-state-machine "$deleted of $want deleted"

# an error: exit code 255 (CLI v1; v2 would say 254) and botocore's message
account=$(cut -d: -f5 <<<"${sm:-arn:aws:states:us-east-1:123456789012:x}")
missing="arn:aws:states:us-east-1:$account:execution:cli-absent-$run:none"
err=$(sfn describe-execution --execution-arn "$missing" 2>&1 >/dev/null); rc=$?
prefix="An error occurred (ExecutionDoesNotExist) when calling the DescribeExecution operation: "
if [ "$rc" = 255 ] && grep -qF "$prefix" <<<"$err" && [ -n "$(grep -F "$prefix" <<<"$err" | sed "s/.*operation: //")" ]; then
  ok error-exit-code
else
  fail error-exit-code "exit code $rc, stderr: $err"
fi

"$PY" - "$endpoint" "${#passed[@]}" "${failures[@]+"${failures[@]}"}" <<'PY'
import json, sys
endpoint, passed, failures = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print(json.dumps({"endpoint": endpoint, "passed": passed, "failed": len(failures), "failures": failures}))
PY
[ ${#failures[@]} -eq 0 ]
