#!/usr/bin/env python3
"""Step Functions Local's mocked service integrations through boto3, against ENDPOINT.

    mock_config.py ENDPOINT [--timeout S]

The server must have been started with this directory's `mock_config.json` as its MockConfigFile
(`SFN_MOCK_CONFIG` or `--mock-config`), and, for the test case that leaves a state unmocked, able
to run Lambda function `mdlc-sfn-mock-audit` answering `{"audited": "local"}` (for `mdlc serve`:
`--function mdlc-sfn-mock-audit='cat >/dev/null; echo {"audited": "local"}'`).

What the file exercises, by the format's documented parts (AWS's "Configuration file for mocked
service integrations" of Step Functions Local):
- `StateMachines` with two state machines, their `TestCases` mapping Task states to mocked
  responses; a test case chosen by `<state machine ARN>#<TestCase>` on StartExecution;
- `MockedResponses` with `Return` (a Lambda invoke result, an SQS message id, a plain object) and
  `Throw` (`Error` and `Cause`, matched by the state's Retry and Catch);
- invocation numbers `"0"`, `"3"` and inclusive ranges `"1-2"`, `"0-1"`, counted per state over one
  execution (Retry attempts and Map iterations, with MaxConcurrency 1 as the documentation asks);
- an invocation past the defined ones fails the execution ("you must specify a mocked response
  for every invocation");
- a state the test case does not mock runs as without a test case (HybridPath): a Lambda state
  on the server's function, and (MockLambdaSqs, shaped like AWS's LambdaSQSIntegration example:
  the Lambda state mocked, the `sqs:sendMessage` state not) a real send to the local cloud's SQS
  stand-in, whose output is SendMessage's `MD5OfMessageBody` and `MessageId`;
- a mocked `.waitForTaskToken` Task answers at once, with no SendTaskSuccess;
- an ARN without `#TestCase` uses no mock; an unknown test case is refused;
- the facts AWS's published Step Functions Local mocking samples check in GetExecutionHistory
  (MockLambdaSqs's HappyPath, RetryPath and, in sqs_hybrid_path, HybridPath): TaskStateExited by state name, TaskSucceeded
  counted and named by `taskSucceededEventDetails.resource` (`invoke`, `sendMessage`), TaskFailed
  counted and told apart by error to check the retries.

Prints one JSON line {"endpoint", "passed", "failed", "failures", "shape_violations", "sent"}
("sent": the SQS messages the executions really sent, `{"QueueUrl", "MessageId", "Body"}`, for
the caller to find in the server's queues); exits 1 when a check fails or a response breaks its
botocore shape.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import uuid
import sys
import time
from pathlib import Path
from typing import Callable

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shapes  # noqa: E402
from checks import CheckFailed, equal, expect  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/mdlc-sfn-mock"

RETRY = [{
    "ErrorEquals": ["Lambda.ServiceException", "Lambda.TooManyRequestsException"],
    "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2,
}]

ORDERS = {
    "StartAt": "Charge",
    "States": {
        "Charge": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "mdlc-sfn-mock-charge", "Payload.$": "$"},
            "ResultSelector": {"charged.$": "$.Payload.charged"}, "ResultPath": "$.charge",
            "Retry": RETRY,
            "Catch": [{"ErrorEquals": ["Payment.Declined"], "ResultPath": "$.declined", "Next": "Declined"}],
            "Next": "Notify",
        },
        "Notify": {
            "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {
                "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/mdlc-orders",
                "MessageBody": {"token.$": "$$.Task.Token"},
            },
            "ResultPath": "$.notify", "Next": "Audit",
        },
        "Audit": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "mdlc-sfn-mock-audit", "Payload": {"order.$": "$.order"}},
            "ResultSelector": {"audited.$": "$.Payload.audited"}, "ResultPath": "$.audit", "End": True,
        },
        "Declined": {"Type": "Pass", "End": True},
    },
}

SQS_QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/mdlc-sfn-mock-tickets"

LAMBDA_SQS = {
    "StartAt": "LambdaState",
    "States": {
        "LambdaState": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "mdlc-sfn-mock-ticket", "Payload.$": "$"},
            "ResultSelector": {"ticket.$": "$.Payload.ticket"}, "ResultPath": "$.lambda",
            "Retry": [{
                "ErrorEquals": ["Lambda.ServiceException", "Lambda.TooManyRequestsException",
                                "Lambda.ResourceNotReadyException", "Lambda.TimeoutException"],
                "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2,
            }],
            "Next": "SQSState",
        },
        "SQSState": {
            "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": SQS_QUEUE, "MessageBody.$": "$.lambda"},
            "ResultPath": "$.sqs", "End": True,
        },
    },
}

PRICES = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Price",
                "States": {"Price": {
                    "Type": "Task",
                    "Resource": "arn:aws:lambda:us-east-1:123456789012:function:mdlc-sfn-mock-price",
                    "End": True,
                }},
            },
            "End": True,
        },
    },
}

ORDER = {"order": "o-1"}


class Suite:
    def __init__(self, endpoint: str, timeout: float) -> None:
        config = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60)
        self.sfn = boto3.client(
            "stepfunctions", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="test", aws_secret_access_key="test", config=config,
        )
        self.recorder = shapes.Recorder.attach(self.sfn)
        self.timeout = timeout
        self.arns: dict[str, str] = {}
        self.passed: list[str] = []
        self.sent: list[dict] = []
        self.failures: list[str] = []

    def check(self, name: str, fn: Callable[[], None]) -> None:
        try:
            fn()
            self.passed.append(name)
        except CheckFailed as e:
            self.failures.append(f"{name}: {e}")
        except ClientError as e:
            err = e.response.get("Error", {})
            self.failures.append(f"{name}: unexpected {err.get('Code')}: {err.get('Message')}")
        except Exception as e:  # one crash must not hide the other checks
            self.failures.append(f"{name}: {type(e).__name__}: {e}")

    def machine(self, name: str, definition: dict) -> str:
        """The state machine `name` (the MockConfigFile's key), created once."""
        if name not in self.arns:
            self.arns[name] = self.sfn.create_state_machine(
                name=name, definition=json.dumps(definition), roleArn=ROLE
            )["stateMachineArn"]
        return self.arns[name]

    def run(self, arn: str, execution_input: dict) -> tuple[dict, list[dict]]:
        """Starts an execution of `arn` (perhaps `<arn>#<TestCase>`), waits for its end; its
        description and history."""
        started = self.sfn.start_execution(stateMachineArn=arn, input=json.dumps(execution_input))
        deadline = time.monotonic() + self.timeout
        while True:
            d = self.sfn.describe_execution(executionArn=started["executionArn"])
            if d["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                raise CheckFailed(f"{started['executionArn']} still RUNNING after {self.timeout} s")
            time.sleep(0.05)
        events = self.sfn.get_execution_history(executionArn=started["executionArn"], maxResults=1000)["events"]
        return d, events

    def orders(self, test_case: str) -> tuple[dict, list[dict]]:
        return self.run(f"{self.machine('MockOrders', ORDERS)}#{test_case}", ORDER)

    # -- the checks -------------------------------------------------------------------------------

    def happy_path(self) -> None:
        """Every Task mocked with `Return`: a Lambda result through ResultSelector, the SQS message
        of a `.waitForTaskToken` Task (no SendTaskSuccess needed), a second Lambda."""
        d, events = self.orders("HappyPath")
        equal(d["status"], "SUCCEEDED", "status")
        equal(json.loads(d["output"]), {
            "order": "o-1", "charge": {"charged": 42},
            "notify": {"MessageId": "mdlc-mock-message-1"}, "audit": {"audited": "mocked"},
        }, "output")
        equal([e["type"] for e in events if e["type"].startswith("Task") and not e["type"].startswith("TaskState")],
              ["TaskScheduled", "TaskStarted", "TaskSucceeded"] * 3, "task events")

    def retry_path(self) -> None:
        """`Throw` at invocation "0", the range "1-2", `Return` at "3": three Retry attempts, then
        success; the Retry's back-off passes on the virtual clock (2 + 4 + 8 s)."""
        d, events = self.orders("RetryPath")
        equal(d["status"], "SUCCEEDED", "status")
        equal(json.loads(d["output"])["charge"], {"charged": 7}, "charge after three retries")
        failed = [(e["taskFailedEventDetails"]["error"], e["taskFailedEventDetails"]["cause"])
                  for e in events if e["type"] == "TaskFailed"]
        equal(failed, [
            ("Lambda.ServiceException", "the payment service failed once"),
            ("Lambda.TooManyRequestsException", "the payment service is busy"),
            ("Lambda.TooManyRequestsException", "the payment service is busy"),
        ], "the three mocked failures, in order")
        elapsed = (d["stopDate"] - d["startDate"]).total_seconds()
        expect(elapsed >= 14, f"the retries' back-off (2 + 4 + 8 s) is not in the execution's time: {elapsed} s")

    def declined_path(self) -> None:
        """`Throw` caught by the state's Catch: its error and cause at the Catcher's ResultPath;
        the states after Charge are not run."""
        d, events = self.orders("DeclinedPath")
        equal(d["status"], "SUCCEEDED", "status")
        equal(json.loads(d["output"]), {
            "order": "o-1", "declined": {"Error": "Payment.Declined", "Cause": "the card was declined"},
        }, "output of the caught path")
        entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
        equal(entered, ["Charge", "Declined"], "states entered")

    def hybrid_path(self) -> None:
        """A state the test case leaves out (Audit) runs as it would without a test case: here the
        server's Lambda function."""
        d, _ = self.orders("HybridPath")
        equal(d["status"], "SUCCEEDED", f"status (error {d.get('error')}: {d.get('cause')})")
        equal(json.loads(d["output"])["audit"], {"audited": "local"}, "output of the unmocked state")

    def sqs_hybrid_path(self) -> None:
        """AWS's HybridPath shape: the Lambda state mocked, the `sqs:sendMessage` state unmocked, so
        it really sends (to the server's SQS stand-in): SendMessage's output, the body being the
        Lambda result's JSON text."""
        d, events = self.run(f"{self.machine('MockLambdaSqs', LAMBDA_SQS)}#HybridPath", {"order": "o-2"})
        equal(d["status"], "SUCCEEDED", f"status (error {d.get('error')}: {d.get('cause')})")
        out = json.loads(d["output"])
        equal(out["lambda"], {"ticket": "t-42"}, "the mocked Lambda result")
        sqs = out["sqs"]
        equal(sorted(sqs), ["MD5OfMessageBody", "MessageId"], "SendMessage's output fields")
        body = json.dumps({"ticket": "t-42"}, separators=(",", ":"))
        equal(sqs["MD5OfMessageBody"], hashlib.md5(body.encode()).hexdigest(), "MD5OfMessageBody")
        equal(str(uuid.UUID(sqs["MessageId"])), sqs["MessageId"], "MessageId is a UUID")
        scheduled = [json.loads(e["taskScheduledEventDetails"]["parameters"])
                     for e in events if e["type"] == "TaskScheduled"]
        equal(scheduled[-1]["QueueUrl"], SQS_QUEUE, "the send's QueueUrl")
        # the facts AWS's published sample checks for its HybridPath
        equal(sum(e["type"] == "ExecutionSucceeded" for e in events), 1, "ExecutionSucceeded events")
        equal(self.exited(events), ["LambdaState", "SQSState"], "TaskStateExited names")
        equal(self.resources(events, "TaskSucceeded", "taskSucceededEventDetails"),
              [("invoke", "lambda"), ("sendMessage", "sqs")], "TaskSucceeded resource and resourceType")
        self.sent.append({"QueueUrl": SQS_QUEUE, "MessageId": sqs["MessageId"], "Body": body})

    # -- the facts AWS's published Step Functions Local mocking samples check (the
    # LambdaSQSIntegration example: HappyPath, RetryPath, HybridPath), on MockLambdaSqs --------

    def lambda_sqs(self, test_case: str) -> tuple[dict, list[dict]]:
        return self.run(f"{self.machine('MockLambdaSqs', LAMBDA_SQS)}#{test_case}", {"order": "o-3"})

    @staticmethod
    def exited(events: list[dict]) -> list[str]:
        return [e["stateExitedEventDetails"]["name"] for e in events
                if e["type"] == "TaskStateExited" and "stateExitedEventDetails" in e]

    @staticmethod
    def resources(events: list[dict], ty: str, member: str) -> list[tuple[str, str]]:
        return [(e[member]["resource"], e[member]["resourceType"]) for e in events if e["type"] == ty]

    def sample_happy_path(self) -> None:
        """Both states mocked: both Task states exit, two TaskSucceeded, named by their actions
        (taskSucceededEventDetails.resource `invoke` and `sendMessage`)."""
        d, events = self.lambda_sqs("HappyPath")
        equal(d["status"], "SUCCEEDED", f"status (error {d.get('error')}: {d.get('cause')})")
        equal(self.exited(events), ["LambdaState", "SQSState"], "TaskStateExited names")
        equal(self.resources(events, "TaskSucceeded", "taskSucceededEventDetails"),
              [("invoke", "lambda"), ("sendMessage", "sqs")], "TaskSucceeded resource and resourceType")
        equal(json.loads(d["output"])["sqs"],
              {"MD5OfMessageBody": "mdlc-mock-md5", "MessageId": "mdlc-mock-ticket-message"},
              "the mocked SendMessage result")

    def sample_retry_path(self) -> None:
        """The Lambda state fails three times (one Lambda.ResourceNotReadyException, two
        Lambda.TimeoutException) and then succeeds: counted as three TaskFailed events, each
        naming `invoke`, and both states exit."""
        d, events = self.lambda_sqs("RetryPath")
        equal(d["status"], "SUCCEEDED", f"status (error {d.get('error')}: {d.get('cause')})")
        equal(self.exited(events), ["LambdaState", "SQSState"], "TaskStateExited names")
        failed = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
        equal(len(failed), 3, "TaskFailed events")
        equal(sum(f["error"] == "Lambda.ResourceNotReadyException" for f in failed), 1, "ResourceNotReady failures")
        equal(sum(f["error"] == "Lambda.TimeoutException" for f in failed), 2, "Timeout failures")
        equal({(f["resource"], f["resourceType"]) for f in failed}, {("invoke", "lambda")}, "TaskFailed resource")
        equal(json.loads(d["output"])["lambda"], {"ticket": "t-43"}, "the result of the fourth attempt")

    def exhausted_path(self) -> None:
        """The response defines invocations "0-1" only; the Retry's third attempt has none: the
        execution fails (no Retry or Catch applies)."""
        d, events = self.orders("ExhaustedPath")
        equal(d["status"], "FAILED", "status")
        equal(d.get("error"), "States.Runtime", "error")
        expect("invocation 2" in (d.get("cause") or ""), f"the cause names the invocation: {d.get('cause')!r}")
        equal(sum(e["type"] == "TaskFailed" for e in events), 3, "TaskFailed events (two mocked, the undefined third)")

    def map_iterations(self) -> None:
        """Invocations count over a Map's iterations (MaxConcurrency 1): "0-1" twice, then "2"."""
        d, _ = self.run(f"{self.machine('MockPrices', PRICES)}#InTurn", {"items": ["a", "b", "c"]})
        equal(d["status"], "SUCCEEDED", f"status (error {d.get('error')}: {d.get('cause')})")
        equal(json.loads(d["output"]), [{"price": 10}, {"price": 10}, {"price": 25}], "output")

    def no_test_case(self) -> None:
        """Without `#TestCase` no response is mocked: Charge calls a function the server cannot run
        (it has no `mdlc-sfn-mock-charge`), so the execution fails, never answering 42."""
        d, events = self.run(self.machine("MockOrders", ORDERS), ORDER)
        equal(d["status"], "FAILED", "status without a test case")
        expect(not any(e["type"] == "TaskSucceeded" for e in events), "a Task succeeded without its mock")

    def unknown_test_case(self) -> None:
        arn = self.machine("MockOrders", ORDERS)
        try:
            self.sfn.start_execution(stateMachineArn=f"{arn}#NoSuchCase", input="{}")
        except ClientError as e:
            equal(e.response["Error"]["Code"], "ValidationException", "error code")
            expect("NoSuchCase" in e.response["Error"]["Message"], f"the message names the test case: {e.response['Error']['Message']!r}")
            return
        raise CheckFailed("an unknown test case was accepted")

    def run_all(self) -> None:
        for name in ["happy_path", "retry_path", "declined_path", "hybrid_path", "sqs_hybrid_path",
                     "exhausted_path", "map_iterations", "no_test_case", "unknown_test_case",
                     "sample_happy_path", "sample_retry_path"]:
            self.check(name, getattr(self, name))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("endpoint")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for an execution")
    args = p.parse_args()
    suite = Suite(args.endpoint, args.timeout)
    suite.run_all()
    shape = suite.recorder.violations()
    print(json.dumps({
        "endpoint": args.endpoint, "passed": len(suite.passed), "failed": len(suite.failures),
        "failures": suite.failures, "shape_violations": shape, "sent": suite.sent,
    }))
    return 1 if suite.failures or shape else 0


if __name__ == "__main__":
    sys.exit(main())
