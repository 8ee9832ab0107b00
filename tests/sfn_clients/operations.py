#!/usr/bin/env python3
"""Drives the Step Functions API at ENDPOINT through boto3, the way a user's tests would.

    operations.py ENDPOINT [--callback lambda|sqs] [--callback-function NAME] [--timeout S]

Every operation of issue 14's list runs with exact expected outcomes, and every response (the raw
body, before botocore drops members it does not know) is checked against botocore's output or
error shape (shapes.py). Fake credentials, region us-east-1, no retries.

The `.waitForTaskToken` round trip needs a task the server can start:
- `--callback lambda` (default): `arn:aws:states:::lambda:invoke.waitForTaskToken` on function
  `--callback-function` (default `mdlc-sfn-clients-callback`), which the server must be able to
  invoke (for `mdlc serve`: `--function mdlc-sfn-clients-callback='cat >/dev/null; echo {}'`);
- `--callback sqs`: `arn:aws:states:::sqs:sendMessage.waitForTaskToken` to a queue created on the
  same endpoint (moto's server has SQS); the token is also read back from the queue.
Either way the token is read from the TaskScheduled event's `parameters`, as AWS records it.

With `--http-connection ARN --http-api-key KEY` (for `mdlc serve`: `--connections FILE` defining
ARN as an API_KEY connection sending header `x-api-key: KEY`), an HTTP Task on a loopback server of
the suite's own is run by TestState at the TRACE level, with and without `revealSecrets`.

Prints one JSON line {"endpoint", "passed", "passed_checks", "failed", "failures", "shape_violations",
"operations"}; exits 1 when a check fails or a response breaks its shape, naming each.
"""

from __future__ import annotations

import argparse
import http.server
import json
import threading
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shapes  # noqa: E402
from checks import CheckFailed, equal, expect  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/mdlc-sfn-clients"

# Issue 14's operations: each must answer at least once with a shape-checked success.
OPERATIONS = [
    "CreateStateMachine",
    "DescribeStateMachine",
    "ListStateMachines",
    "UpdateStateMachine",
    "DeleteStateMachine",
    "ValidateStateMachineDefinition",
    "StartExecution",
    "StartSyncExecution",
    "DescribeExecution",
    "ListExecutions",
    "GetExecutionHistory",
    "StopExecution",
    "DescribeStateMachineForExecution",
    "SendTaskHeartbeat",
    "SendTaskSuccess",
    "SendTaskFailure",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "TestState",
    "ListMapRuns",
    "DescribeMapRun",
]


def definition(states: dict, start: str) -> str:
    return json.dumps({"StartAt": start, "States": states}, sort_keys=True)


PASS_V1 = definition(
    {"Hello": {"Type": "Pass", "Result": {"greeting": "hi"}, "ResultPath": "$.out", "End": True}},
    "Hello",
)
PASS_V2 = definition(
    {"Hello": {"Type": "Pass", "Result": {"greeting": "hello"}, "ResultPath": "$.out", "End": True}},
    "Hello",
)
FAIL = definition({"Boom": {"Type": "Fail", "Error": "Custom.Error", "Cause": "because"}}, "Boom")
# StartAt names a state that does not exist: invalid for every validator.
INVALID = definition({"A": {"Type": "Pass", "End": True}}, "Nowhere")

# A DISTRIBUTED Map over the input's items (no Task: any server can run it); a negative item
# fails its child execution, one failure being tolerated.
DISTRIBUTED = definition(
    {
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": 2,
            "ToleratedFailureCount": 1,
            "Label": "Items",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Check",
                "States": {
                    "Check": {
                        "Type": "Choice",
                        "Choices": [{"Variable": "$", "NumericLessThan": 0, "Next": "Bad"}],
                        "Default": "Good",
                    },
                    "Bad": {"Type": "Fail", "Error": "Negative", "Cause": "below zero"},
                    "Good": {"Type": "Pass", "End": True},
                },
            },
            "End": True,
        }
    },
    "Each",
)

# A bound on pages followed: a server that always answers a nextToken must not hang the suite.
MAX_PAGES = 10_000

PASS_EVENTS = ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
# (id, previousEventId) of that history as AWS records it (the histories in
# ../shared/conformance/asl-aws-histories, e.g. intrinsic__array_0.json): the first state's
# Entered event points at 0, not at ExecutionStarted.
PASS_EVENT_IDS = [(1, 0), (2, 0), (3, 2), (4, 3)]


class Suite:
    def __init__(self, endpoint: str, args: argparse.Namespace) -> None:
        self.args = args
        self.endpoint = endpoint
        session = boto3.session.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
        )
        # inject_host_prefix=False: botocore sends StartSyncExecution to `sync-<host>`, which does
        # not resolve for a loopback endpoint (the setting Step Functions Local's users need too).
        config = Config(
            retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60, inject_host_prefix=False
        )
        self.sfn = session.client("stepfunctions", endpoint_url=endpoint, config=config)
        self.session = session
        self.recorder = shapes.Recorder.attach(self.sfn)
        self.run = uuid.uuid4().hex[:8]
        self.ctx: dict[str, Any] = {}
        self.passed: list[str] = []
        self.failures: list[str] = []

    # -- plumbing -------------------------------------------------------------------------------

    def name(self, base: str) -> str:
        return f"{base}-{self.run}"

    def check(self, name: str, fn: Callable[[], None]) -> None:
        try:
            fn()
            self.passed.append(name)
        except CheckFailed as e:
            self.failures.append(f"{name}: {e}")
        except ClientError as e:
            err = e.response.get("Error", {})
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            self.failures.append(
                f"{name}: unexpected {err.get('Code')} (HTTP {status}): {err.get('Message')}"
            )
        except Exception as e:  # a crash of one check must not hide the others
            self.failures.append(f"{name}: {type(e).__name__}: {e}")

    def need(self, key: str) -> Any:
        if key not in self.ctx:
            raise CheckFailed(f"needs {key}, which an earlier check did not produce")
        return self.ctx[key]

    def error(self, code: str, fn: Callable[..., Any], **kwargs: Any) -> dict:
        """Calls fn(**kwargs), which must fail with `code` and HTTP 400; returns the error."""
        try:
            fn(**kwargs)
        except ClientError as e:
            err = e.response.get("Error", {})
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            equal(err.get("Code"), code, "error code")
            equal(status, 400, f"HTTP status of {code}")
            expect(bool(err.get("Message")), f"{code} has an empty message")
            return err
        raise CheckFailed(f"succeeded, expected {code}")

    def create(self, base: str, text: str, **extra: Any) -> str:
        return self.sfn.create_state_machine(
            name=self.name(base), definition=text, roleArn=ROLE, **extra
        )["stateMachineArn"]

    def wait_closed(self, execution_arn: str) -> dict:
        """DescribeExecution until the status is not RUNNING (bounded by --timeout)."""
        deadline = time.monotonic() + self.args.timeout
        while True:
            d = self.sfn.describe_execution(executionArn=execution_arn)
            if d["status"] != "RUNNING":
                return d
            if time.monotonic() > deadline:
                raise CheckFailed(f"{execution_arn} still RUNNING after {self.args.timeout} s")
            time.sleep(0.05)

    def history(self, execution_arn: str, **kwargs: Any) -> list[dict]:
        """Every event, following nextToken (each page at most `maxResults` events)."""
        events, token = [], None
        for _ in range(MAX_PAGES):
            page = self.sfn.get_execution_history(
                executionArn=execution_arn, **kwargs, **({"nextToken": token} if token else {})
            )
            size = kwargs.get("maxResults")
            expect(size is None or len(page["events"]) <= size, f"maxResults={size} gave {len(page['events'])} events")
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                return events
        raise CheckFailed(f"GetExecutionHistory still had a nextToken after {MAX_PAGES} pages")

    def account(self) -> str:
        return self.need("pass_arn").split(":")[4]

    def missing_machine(self) -> str:
        return f"arn:aws:states:us-east-1:{self.account()}:stateMachine:{self.name('absent')}"

    def missing_execution(self) -> str:
        return (
            f"arn:aws:states:us-east-1:{self.account()}:execution:"
            f"{self.name('absent')}:{self.name('none')}"
        )

    # -- state machines -------------------------------------------------------------------------

    def validate_definitions(self) -> None:
        ok = self.sfn.validate_state_machine_definition(definition=PASS_V1, type="STANDARD")
        equal(ok["result"], "OK", "result for a valid definition")
        equal(ok["diagnostics"], [], "diagnostics for a valid definition")
        bad = self.sfn.validate_state_machine_definition(definition=INVALID, type="STANDARD")
        equal(bad["result"], "FAIL", "result for StartAt naming no state")
        expect(bad["diagnostics"], "no diagnostics for an invalid definition")
        for d in bad["diagnostics"]:
            equal(d.get("severity"), "ERROR", "severity of a diagnostic")
            expect(d.get("code") and d.get("message"), f"diagnostic without code/message: {d}")

    def create_state_machine(self) -> None:
        before = time.time()
        resp = self.sfn.create_state_machine(
            name=self.name("pass"),
            definition=PASS_V1,
            roleArn=ROLE,
            tags=[{"key": "team", "value": "ml"}],
        )
        arn = resp["stateMachineArn"]
        parts = arn.split(":")
        equal(parts[:4] + parts[5:], ["arn", "aws", "states", "us-east-1", "stateMachine", self.name("pass")], "state machine ARN")
        expect(parts[4].isdigit() and len(parts[4]) == 12, f"account in {arn} is not 12 digits")
        created = resp["creationDate"].timestamp()
        expect(before - 5 <= created <= time.time() + 5, f"creationDate {resp['creationDate']} is not now")
        self.ctx["pass_arn"] = arn

    def create_invalid(self) -> None:
        self.error("InvalidDefinition", self.sfn.create_state_machine, name=self.name("bad"), definition=INVALID, roleArn=ROLE)
        self.error("InvalidDefinition", self.sfn.create_state_machine, name=self.name("bad2"), definition="{not json", roleArn=ROLE)

    def describe_state_machine(self) -> None:
        d = self.sfn.describe_state_machine(stateMachineArn=self.need("pass_arn"))
        equal(d["stateMachineArn"], self.need("pass_arn"), "stateMachineArn")
        equal(d["name"], self.name("pass"), "name")
        equal(d["definition"], PASS_V1, "definition")
        equal(d["roleArn"], ROLE, "roleArn")
        equal(d["type"], "STANDARD", "type")
        equal(d.get("status"), "ACTIVE", "status")

    def describe_state_machine_errors(self) -> None:
        self.error("StateMachineDoesNotExist", self.sfn.describe_state_machine, stateMachineArn=self.missing_machine())
        self.error("InvalidArn", self.sfn.describe_state_machine, stateMachineArn="not-an-arn")

    def list_state_machines(self) -> None:
        extra = [self.create(f"list{i}", PASS_V1) for i in range(2)]
        want = set(extra) | {self.need("pass_arn")}
        seen, token, pages = [], None, 0
        while True:
            page = self.sfn.list_state_machines(maxResults=1, **({"nextToken": token} if token else {}))
            expect(len(page["stateMachines"]) <= 1, f"maxResults=1 gave {len(page['stateMachines'])} items")
            seen += [m["stateMachineArn"] for m in page["stateMachines"]]
            token, pages = page.get("nextToken"), pages + 1
            if not token:
                break
            expect(pages < MAX_PAGES, f"ListStateMachines still had a nextToken after {MAX_PAGES} pages")
        expect(want <= set(seen), f"paging missed {sorted(want - set(seen))}")
        equal(len(seen), len(set(seen)), "paging returns each state machine once")
        mine = [m for m in self.sfn.list_state_machines()["stateMachines"] if m["stateMachineArn"] == self.need("pass_arn")]
        equal([(m["name"], m["type"]) for m in mine], [(self.name("pass"), "STANDARD")], "listed item")

    # -- executions -----------------------------------------------------------------------------

    def start_and_describe(self) -> None:
        sm = self.need("pass_arn")
        started = self.sfn.start_execution(stateMachineArn=sm, name=self.name("e1"), input='{"x": 1}')
        arn = started["executionArn"]
        equal(arn, sm.replace(":stateMachine:", ":execution:") + ":" + self.name("e1"), "execution ARN")
        d = self.wait_closed(arn)
        equal(d["status"], "SUCCEEDED", "status")
        equal(json.loads(d["output"]), {"x": 1, "out": {"greeting": "hi"}}, "output")
        equal(json.loads(d["input"]), {"x": 1}, "input")
        equal(d["name"], self.name("e1"), "name")
        equal(d["stateMachineArn"], sm, "stateMachineArn")
        equal(d["startDate"], started["startDate"], "startDate of Describe vs Start")
        expect(d.get("stopDate") is not None and d["stopDate"] >= d["startDate"], "stopDate missing or before startDate")
        self.ctx["e1_arn"] = arn

    def failed_execution(self) -> None:
        sm = self.create("fail", FAIL)
        d = self.wait_closed(self.sfn.start_execution(stateMachineArn=sm, name=self.name("f1"))["executionArn"])
        equal((d["status"], d.get("error"), d.get("cause")), ("FAILED", "Custom.Error", "because"), "failed execution")
        expect("output" not in d, "a FAILED execution has no output")

    def unnamed_executions(self) -> None:
        """Without a name, Step Functions generates a UUID (StartExecutionInput.name's doc)."""
        sm = self.need("pass_arn")
        arns = [self.sfn.start_execution(stateMachineArn=sm)["executionArn"] for _ in range(2)]
        names = [a.rsplit(":", 1)[1] for a in arns]
        expect(names[0] != names[1], f"two unnamed executions got one name {names[0]!r}")
        for n in names:
            try:
                uuid.UUID(n)
            except ValueError:
                raise CheckFailed(f"generated name {n!r} is not a UUID") from None
        for a in arns:
            equal(self.wait_closed(a)["status"], "SUCCEEDED", f"status of {a}")

    def execution_errors(self) -> None:
        self.error("ExecutionDoesNotExist", self.sfn.describe_execution, executionArn=self.missing_execution())
        self.error("InvalidArn", self.sfn.describe_execution, executionArn="arn:aws:states:us-east-1:x")
        self.error("StateMachineDoesNotExist", self.sfn.start_execution, stateMachineArn=self.missing_machine())
        self.error("InvalidExecutionInput", self.sfn.start_execution, stateMachineArn=self.need("pass_arn"), name=self.name("badin"), input="{not json")
        self.error("ExecutionDoesNotExist", self.sfn.get_execution_history, executionArn=self.missing_execution())
        self.error("ExecutionDoesNotExist", self.sfn.stop_execution, executionArn=self.missing_execution())
        self.error("StateMachineDoesNotExist", self.sfn.list_executions, stateMachineArn=self.missing_machine())

    def validation_exception(self) -> None:
        # PageSize is at most 1000 in the model; botocore checks only minimums client-side.
        self.error("ValidationException", self.sfn.list_executions, stateMachineArn=self.need("pass_arn"), maxResults=1001)
        # A name longer than the model's 80 characters: AWS answers "1 validation error detected:
        # Value '...' at 'name' failed to satisfy constraint: Member must have length less than or
        # equal to 80" (quoted in getmoto/moto#6438).
        err = self.error("ValidationException", self.sfn.start_execution, stateMachineArn=self.need("pass_arn"), name="n" * 81)
        expect("at 'name' failed to satisfy constraint" in err["Message"], f"message {err['Message']!r} does not name the field")

    def idempotent_start(self) -> None:
        """StartExecution is idempotent for STANDARD workflows (botocore's StartExecution doc):
        same name and input as a running execution -> the original response; the execution
        closed or the input different -> 400 ExecutionAlreadyExists."""
        # A callback task keeps the execution RUNNING whatever the server's clock does.
        sm = self.create("hold", self.callback_definition("hold"))
        name = self.name("same")
        first = self.sfn.start_execution(stateMachineArn=sm, name=name, input='{"a": 1}')
        again = self.sfn.start_execution(stateMachineArn=sm, name=name, input='{"a": 1}')
        equal((again["executionArn"], again["startDate"]), (first["executionArn"], first["startDate"]), "repeat of a running execution")
        self.error("ExecutionAlreadyExists", self.sfn.start_execution, stateMachineArn=sm, name=name, input='{"a": 2}')
        stopped = self.sfn.stop_execution(executionArn=first["executionArn"], error="Test.Stop", cause="stopped by the test")
        d = self.sfn.describe_execution(executionArn=first["executionArn"])
        equal(d["status"], "ABORTED", "status after StopExecution")
        self.error("ExecutionAlreadyExists", self.sfn.start_execution, stateMachineArn=sm, name=name, input='{"a": 1}')
        equal(d.get("stopDate"), stopped.get("stopDate"), "stopDate of Describe vs Stop")
        events = self.history(first["executionArn"])
        equal(events[-1]["type"], "ExecutionAborted", "last event after StopExecution")
        details = events[-1].get("executionAbortedEventDetails", {})
        equal((details.get("error"), details.get("cause")), ("Test.Stop", "stopped by the test"), "ExecutionAborted details")

    def list_executions(self) -> None:
        sm = self.create("many", PASS_V1)
        arns = [self.sfn.start_execution(stateMachineArn=sm, name=self.name(f"m{i}"))["executionArn"] for i in range(3)]
        for a in arns:
            equal(self.wait_closed(a)["status"], "SUCCEEDED", f"status of {a}")
        seen, token = [], None
        for _ in range(MAX_PAGES):
            page = self.sfn.list_executions(stateMachineArn=sm, maxResults=1, **({"nextToken": token} if token else {}))
            expect(len(page["executions"]) <= 1, f"maxResults=1 gave {len(page['executions'])} items")
            seen += page["executions"]
            token = page.get("nextToken")
            if not token:
                break
        expect(not token, f"ListExecutions still had a nextToken after {MAX_PAGES} pages")
        equal(sorted(e["executionArn"] for e in seen), sorted(arns), "executions over all pages")
        equal({e["status"] for e in seen}, {"SUCCEEDED"}, "listed statuses")
        equal([e["startDate"] for e in seen], sorted((e["startDate"] for e in seen), reverse=True), "newest first")
        equal(self.sfn.list_executions(stateMachineArn=sm, statusFilter="RUNNING")["executions"], [], "RUNNING filter")
        equal(len(self.sfn.list_executions(stateMachineArn=sm, statusFilter="SUCCEEDED")["executions"]), 3, "SUCCEEDED filter")

    def map_runs(self) -> None:
        """A DISTRIBUTED Map: ListMapRuns, DescribeMapRun, its child executions through
        ListExecutions(mapRunArn), DescribeExecution and GetExecutionHistory, and the refusals."""
        sm = self.create("dist", DISTRIBUTED)
        arn = self.sfn.start_execution(stateMachineArn=sm, input=json.dumps({"items": [1, -1, 2]}))["executionArn"]
        d = self.wait_closed(arn)
        equal(d["status"], "SUCCEEDED", "status of the parent")
        equal(json.loads(d["output"])[0::2], [1, 2], "the children's outputs")
        runs = self.sfn.list_map_runs(executionArn=arn)["mapRuns"]
        equal(len(runs), 1, "map runs of the execution")
        run = runs[0]["mapRunArn"]
        account = arn.split(":")[4]
        labelled = f"{self.name('dist')}/Items"
        expect(run.startswith(f"arn:aws:states:us-east-1:{account}:mapRun:{labelled}:"), f"map run ARN {run}")
        equal(runs[0]["stateMachineArn"], f"arn:aws:states:us-east-1:{account}:stateMachine:{labelled}", "the children's state machine")
        started = [e for e in self.history(arn) if e["type"] == "MapRunStarted"]
        equal([e["mapRunStartedEventDetails"]["mapRunArn"] for e in started], [run], "MapRunStarted names the run")
        dm = self.sfn.describe_map_run(mapRunArn=run)
        equal((dm["status"], dm["executionArn"], dm["maxConcurrency"], dm["toleratedFailureCount"]), ("SUCCEEDED", arn, 2, 1), "DescribeMapRun")
        for key in ("executionCounts", "itemCounts"):
            c = dm[key]
            equal((c["total"], c["succeeded"], c["failed"], c["pending"], c["running"]), (3, 2, 1, 0, 0), key)
        seen, token = [], None
        for _ in range(MAX_PAGES):
            page = self.sfn.list_executions(mapRunArn=run, maxResults=2, **({"nextToken": token} if token else {}))
            seen += page["executions"]
            token = page.get("nextToken")
            if not token:
                break
        equal(sorted(e["status"] for e in seen), ["FAILED", "SUCCEEDED", "SUCCEEDED"], "child statuses")
        equal({e.get("mapRunArn") for e in seen}, {run}, "the children's mapRunArn")
        for e in seen:
            equal(e["executionArn"], f"arn:aws:states:us-east-1:{account}:execution:{labelled}:{e['name']}", "child ARN")
        child = next(e for e in seen if e["status"] == "SUCCEEDED")
        dc = self.sfn.describe_execution(executionArn=child["executionArn"])
        equal(dc.get("mapRunArn"), run, "DescribeExecution of a child: mapRunArn")
        equal(json.loads(dc["output"]), json.loads(dc["input"]), "a Pass child's output")
        types = [e["type"] for e in self.history(child["executionArn"])]
        equal(types, ["ExecutionStarted", "ChoiceStateEntered", "ChoiceStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"], "a child's history")
        equal([e["executionArn"] for e in self.sfn.list_executions(stateMachineArn=sm)["executions"]], [arn], "the machine's executions leave out the children")
        self.error("ValidationException", self.sfn.list_executions, stateMachineArn=sm, mapRunArn=run)
        missing = run.rsplit(":", 1)[0] + ":00000000-0000-0000-0000-000000000000"
        self.error("ResourceNotFound", self.sfn.describe_map_run, mapRunArn=missing)
        self.error("InvalidArn", self.sfn.describe_map_run, mapRunArn=sm)
        self.error("ExecutionDoesNotExist", self.sfn.list_map_runs, executionArn=self.missing_execution())

    def execution_history(self) -> None:
        arn = self.need("e1_arn")
        events = self.history(arn)
        equal([e["type"] for e in events], PASS_EVENTS, "event types")
        equal([(e["id"], e.get("previousEventId", 0)) for e in events], PASS_EVENT_IDS, "(id, previousEventId)")
        started = events[0]["executionStartedEventDetails"]
        equal(json.loads(started["input"]), {"x": 1}, "ExecutionStarted input")
        equal(started.get("roleArn"), ROLE, "ExecutionStarted roleArn")
        equal(json.loads(events[-1]["executionSucceededEventDetails"]["output"]), {"x": 1, "out": {"greeting": "hi"}}, "ExecutionSucceeded output")
        equal(events[1]["stateEnteredEventDetails"]["name"], "Hello", "state name")
        paged = self.history(arn, maxResults=1)
        equal([e["id"] for e in paged], [e["id"] for e in events], "ids over one-event pages")
        reverse = self.history(arn, reverseOrder=True)
        equal([e["id"] for e in reverse], [e["id"] for e in reversed(events)], "reverseOrder ids")
        bare = self.history(arn, includeExecutionData=False)
        equal([e["type"] for e in bare], PASS_EVENTS, "event types without data")
        for e in bare:
            for key, details in e.items():
                if key.endswith("EventDetails") and isinstance(details, dict):
                    expect("input" not in details and "output" not in details, f"includeExecutionData=False still sends data in event {e['id']} {key}")

    def state_machine_for_execution(self) -> None:
        """An execution keeps the definition it started with after UpdateStateMachine."""
        sm, e1 = self.need("pass_arn"), self.need("e1_arn")
        updated = self.sfn.update_state_machine(stateMachineArn=sm, definition=PASS_V2)
        expect(updated.get("updateDate") is not None, "UpdateStateMachine without updateDate")
        equal(self.sfn.describe_state_machine(stateMachineArn=sm)["definition"], PASS_V2, "definition after update")
        old = self.sfn.describe_state_machine_for_execution(executionArn=e1)
        equal((old["stateMachineArn"], old["name"], old["definition"], old["roleArn"]), (sm, self.name("pass"), PASS_V1, ROLE), "state machine of the execution started before the update")
        e2 = self.sfn.start_execution(stateMachineArn=sm, name=self.name("e2"), input='{"x": 2}')["executionArn"]
        d = self.wait_closed(e2)
        equal(json.loads(d["output"]), {"x": 2, "out": {"greeting": "hello"}}, "output after the update")
        equal(self.sfn.describe_state_machine_for_execution(executionArn=e2)["definition"], PASS_V2, "definition of the new execution")
        self.error("ExecutionDoesNotExist", self.sfn.describe_state_machine_for_execution, executionArn=self.missing_execution())

    def express_sync(self) -> None:
        sm = self.create("express", PASS_V1, type="EXPRESS")
        r = self.sfn.start_sync_execution(stateMachineArn=sm, name=self.name("sync"), input='{"x": 3}')
        equal(r["status"], "SUCCEEDED", "sync status")
        equal(json.loads(r["output"]), {"x": 3, "out": {"greeting": "hi"}}, "sync output")
        equal(r.get("name"), self.name("sync"), "sync name")
        equal(r.get("stateMachineArn"), sm, "sync stateMachineArn")
        expect(":express:" in r["executionArn"], f"an Express execution's ARN has ':express:': {r['executionArn']}")
        expect(r["stopDate"] >= r["startDate"], "stopDate before startDate")
        fsm = self.create("express-fail", FAIL, type="EXPRESS")
        f = self.sfn.start_sync_execution(stateMachineArn=fsm, name=self.name("sync-fail"))
        equal((f["status"], f.get("error"), f.get("cause")), ("FAILED", "Custom.Error", "because"), "failed sync execution")
        # StartExecution is not idempotent for EXPRESS: the same name runs again.
        a = self.sfn.start_execution(stateMachineArn=sm, name=self.name("x"), input="{}")["executionArn"]
        b = self.sfn.start_execution(stateMachineArn=sm, name=self.name("x"), input="{}")["executionArn"]
        expect(a != b, f"two Express starts with one name gave the same ARN {a}")
        self.error("StateMachineTypeNotSupported", self.sfn.start_sync_execution, stateMachineArn=self.need("pass_arn"))

    # -- callbacks ------------------------------------------------------------------------------

    def callback_definition(self, queue: str = "tokens") -> str:
        """A `.waitForTaskToken` task (`--callback`); with sqs, its messages go to queue `queue`
        (the round-trip checks read the queue "tokens")."""
        if self.args.callback == "sqs":
            sqs = self.session.client("sqs", endpoint_url=self.endpoint)
            url = sqs.create_queue(QueueName=self.name(queue))["QueueUrl"]
            if queue == "tokens":
                self.ctx["queue"] = (sqs, url)
            task = {
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token"}},
            }
        else:
            task = {
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": self.args.callback_function, "Payload": {"token.$": "$$.Task.Token"}},
            }
        task.update({"Type": "Task", "HeartbeatSeconds": 600, "ResultPath": "$.callback", "End": True})
        return definition({"Call": task}, "Call")

    def task_token(self, execution_arn: str) -> str:
        """The token of the TaskScheduled event's parameters (and the SQS message, with sqs), once
        the history shows TaskStarted (the task is waiting for its token)."""
        deadline = time.monotonic() + self.args.timeout
        while True:
            events = self.history(execution_arn)
            started = any(e["type"] == "TaskStarted" for e in events)
            for e in events if started else []:
                if e["type"] == "TaskScheduled":
                    params = json.loads(e["taskScheduledEventDetails"]["parameters"])
                    token = (params.get("MessageBody") or params.get("Payload") or {}).get("token")
                    expect(isinstance(token, str) and token, f"TaskScheduled parameters without the token: {params}")
                    if "queue" in self.ctx:
                        sqs, url = self.ctx["queue"]
                        msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
                        equal([json.loads(m["Body"]).get("token") for m in msgs], [token], "token in the queue")
                    return token
            for e in events:
                if e["type"].startswith("Execution") and e["type"] != "ExecutionStarted":
                    raise CheckFailed(f"execution ended ({e['type']}) before its task started: {e}")
            if time.monotonic() > deadline:
                raise CheckFailed(f"no TaskScheduled and TaskStarted events: {[e['type'] for e in events]}")
            time.sleep(0.05)

    def callback_success(self) -> None:
        sm = self.create("callback", self.callback_definition())
        self.ctx["callback_arn"] = sm
        arn = self.sfn.start_execution(stateMachineArn=sm, name=self.name("cb-ok"), input='{"k": "v"}')["executionArn"]
        token = self.task_token(arn)
        equal(self.sfn.describe_execution(executionArn=arn)["status"], "RUNNING", "status while waiting for the token")
        self.sfn.send_task_heartbeat(taskToken=token)
        self.sfn.send_task_success(taskToken=token, output='{"ok": true}')
        d = self.wait_closed(arn)
        equal(d["status"], "SUCCEEDED", "status after SendTaskSuccess")
        equal(json.loads(d["output"]), {"k": "v", "callback": {"ok": True}}, "output after SendTaskSuccess")
        types = [e["type"] for e in self.history(arn)]
        expect("TaskSucceeded" in types, f"no TaskSucceeded event: {types}")
        # A token whose task has closed: AWS answers TaskTimedOut ("Provided task does not exist anymore").
        self.error("TaskTimedOut", self.sfn.send_task_success, taskToken=token, output="{}")

    def callback_failure(self) -> None:
        arn = self.sfn.start_execution(stateMachineArn=self.need("callback_arn"), name=self.name("cb-fail"), input="{}")["executionArn"]
        token = self.task_token(arn)
        self.sfn.send_task_failure(taskToken=token, error="Worker.Failed", cause="the worker gave up")
        d = self.wait_closed(arn)
        equal((d["status"], d.get("error"), d.get("cause")), ("FAILED", "Worker.Failed", "the worker gave up"), "execution after SendTaskFailure")
        failed = [e for e in self.history(arn) if e["type"] == "TaskFailed"]
        equal(len(failed), 1, "TaskFailed events")
        details = failed[0]["taskFailedEventDetails"]
        equal((details.get("error"), details.get("cause")), ("Worker.Failed", "the worker gave up"), "TaskFailed details")

    # -- TestState ------------------------------------------------------------------------------

    def test_state(self) -> None:
        """One state run alone: INFO gives status, next state and output; DEBUG also the data
        flow (input, after InputPath, after Parameters, after ResultPath)."""
        state = json.dumps({
            "Type": "Pass", "InputPath": "$.in", "Parameters": {"v.$": "$.a"},
            "ResultPath": "$.res", "OutputPath": "$.res", "Next": "After",
        })
        state_input = {"in": {"a": 1, "b": 2}}
        info = self.sfn.test_state(definition=state, roleArn=ROLE, input=json.dumps(state_input))
        equal((info.get("status"), info.get("nextState")), ("SUCCEEDED", "After"), "INFO status and nextState")
        equal(json.loads(info["output"]), {"v": 1}, "INFO output")
        debug = self.sfn.test_state(definition=state, roleArn=ROLE, input=json.dumps(state_input), inspectionLevel="DEBUG")
        data = debug.get("inspectionData") or {}
        want = {
            "input": state_input,
            "afterInputPath": {"a": 1, "b": 2},
            "afterParameters": {"v": 1},
            "afterResultPath": {"in": {"a": 1, "b": 2}, "res": {"v": 1}},
        }
        got = {k: json.loads(data[k]) if k in data else None for k in want}
        equal(got, want, "DEBUG inspectionData")
        fail = self.sfn.test_state(definition=json.dumps({"Type": "Fail", "Error": "Custom.Error", "Cause": "because"}), roleArn=ROLE, input="{}")
        equal((fail.get("status"), fail.get("error"), fail.get("cause")), ("FAILED", "Custom.Error", "because"), "a Fail state")
        self.error("InvalidDefinition", self.sfn.test_state, definition=json.dumps({"Type": "Nope"}), roleArn=ROLE, input="{}")

    def http_task_trace(self) -> None:
        """An HTTP Task (`arn:aws:states:::http:invoke`) against a loopback server of the suite's
        own: TestState's TRACE gives its request and response (members as botocore's
        InspectionDataRequest/Response shapes have them); the connection's API key is in the
        request only with revealSecrets, and reaches the server either way."""
        key = self.args.http_api_key

        class Echo(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                body = json.dumps({"path": self.path, "key": self.headers.get("x-api-key")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.server_address[1]}/items"
        try:
            state = json.dumps({
                "Type": "Task", "Resource": "arn:aws:states:::http:invoke",
                "Parameters": {"ApiEndpoint": url, "Method": "GET", "QueryParameters": {"q": "1"},
                               "Authentication": {"ConnectionArn": self.args.http_connection}},
                "End": True,
            })

            def trace(reveal: bool) -> dict:
                return self.sfn.test_state(definition=state, roleArn=ROLE, input="{}",
                                           inspectionLevel="TRACE", revealSecrets=reveal)

            hidden = trace(False)
            equal(hidden.get("status"), "SUCCEEDED", "status of the HTTP Task")
            result = json.loads(hidden["output"])
            equal((result["StatusCode"], result["ResponseBody"]), (200, {"path": "/items?q=1", "key": key}),
                  "the HTTP Task's result")
            data = hidden.get("inspectionData") or {}
            request, response = data.get("request") or {}, data.get("response") or {}
            equal((request.get("protocol"), request.get("method"), request.get("url")), ("http", "GET", f"{url}?q=1"),
                  "TRACE request")
            expect(key not in json.dumps(request), f"the connection's key shown without revealSecrets: {request}")
            equal((response.get("statusCode"), response.get("statusMessage")), ("200", "OK"), "TRACE response")
            equal(json.loads(response.get("body") or "null"), {"path": "/items?q=1", "key": key}, "TRACE response body")
            shown = (trace(True).get("inspectionData") or {}).get("request") or {}
            equal(json.loads(shown.get("headers") or "{}").get("x-api-key"), key, "the key with revealSecrets")
        finally:
            server.shutdown()
            server.server_close()

    # -- tags and deletion ----------------------------------------------------------------------

    def tags(self) -> None:
        sm = self.need("pass_arn")

        def tags() -> list:
            return sorted((t["key"], t["value"]) for t in self.sfn.list_tags_for_resource(resourceArn=sm)["tags"])

        equal(tags(), [("team", "ml")], "tags from CreateStateMachine")
        self.sfn.tag_resource(resourceArn=sm, tags=[{"key": "stage", "value": "test"}, {"key": "team", "value": "ops"}])
        equal(tags(), [("stage", "test"), ("team", "ops")], "tags after TagResource")
        self.sfn.untag_resource(resourceArn=sm, tagKeys=["team"])
        equal(tags(), [("stage", "test")], "tags after UntagResource")
        self.error("ResourceNotFound", self.sfn.list_tags_for_resource, resourceArn=self.missing_machine())

    def delete_state_machine(self) -> None:
        sm = self.create("doomed", PASS_V1)
        self.sfn.delete_state_machine(stateMachineArn=sm)
        # Deletion is asynchronous on AWS: DELETING first, then gone.
        try:
            status = self.sfn.describe_state_machine(stateMachineArn=sm).get("status")
            equal(status, "DELETING", "status right after DeleteStateMachine")
        except ClientError as e:
            equal(e.response["Error"]["Code"], "StateMachineDoesNotExist", "describing a deleted state machine")
        self.error("StateMachineDoesNotExist", self.sfn.start_execution, stateMachineArn=sm)

    def unsigned_requests(self) -> None:
        """Issue 14: signed requests are accepted (every other check signs), none are required."""
        config = Config(signature_version=UNSIGNED, retries={"max_attempts": 1, "mode": "standard"})
        client = boto3.client("stepfunctions", endpoint_url=self.endpoint, region_name="us-east-1", config=config)
        shapes.Recorder.attach(client, self.recorder.responses)  # shape-checked with the others
        arns = [m["stateMachineArn"] for m in client.list_state_machines()["stateMachines"]]
        expect(self.need("pass_arn") in arns, "an unsigned ListStateMachines does not list the state machine")

    def every_operation_answered(self) -> None:
        seen = self.recorder.operations_seen(successful=True)
        missing = [op for op in OPERATIONS if op not in seen]
        expect(not missing, f"no successful response from {missing}")

    def run_all(self) -> None:
        for name in [
            "validate_definitions",
            "create_state_machine",
            "create_invalid",
            "describe_state_machine",
            "describe_state_machine_errors",
            "list_state_machines",
            "start_and_describe",
            "failed_execution",
            "unnamed_executions",
            "execution_errors",
            "validation_exception",
            "idempotent_start",
            "list_executions",
            "map_runs",
            "execution_history",
            "state_machine_for_execution",
            "express_sync",
            "callback_success",
            "callback_failure",
            "tags",
            "test_state",
            "delete_state_machine",
            "unsigned_requests",
            "every_operation_answered",
        ] + (["http_task_trace"] if self.args.http_connection else []):
            self.check(name, getattr(self, name))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("endpoint")
    p.add_argument("--callback", choices=["lambda", "sqs"], default="lambda")
    p.add_argument("--callback-function", default="mdlc-sfn-clients-callback")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for an execution")
    p.add_argument("--http-connection", help="an API_KEY connection ARN the server defines (HTTP Task check)")
    p.add_argument("--http-api-key", default="", help="the API key value of --http-connection")
    args = p.parse_args()
    suite = Suite(args.endpoint, args)
    suite.run_all()
    shape = suite.recorder.violations()
    summary = {
        "endpoint": args.endpoint,
        "passed": len(suite.passed),
        "passed_checks": suite.passed,
        "failed": len(suite.failures),
        "failures": suite.failures,
        "responses": len(suite.recorder.responses),
        "shape_violations": shape,
        "operations": sorted(suite.recorder.operations_seen(successful=False)),
    }
    print(json.dumps(summary))
    return 1 if suite.failures or shape else 0


if __name__ == "__main__":
    sys.exit(main())
