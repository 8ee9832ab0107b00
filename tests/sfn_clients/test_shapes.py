"""Unit tests of shapes.py on hand-made good and bad responses (run: python -m unittest test_shapes).

Each bad response breaks exactly one rule, and the test asserts the violation names that rule and
its JSON path, so a checker that accepted everything (or rejected everything) fails here.
"""

from __future__ import annotations

import copy
import json
import threading
import unittest
from http.server import BaseHTTPRequestHandler, HTTPServer

import boto3

import shapes

ARN_SM = "arn:aws:states:us-east-1:123456789012:stateMachine:demo"
ARN_EX = "arn:aws:states:us-east-1:123456789012:execution:demo:run-1"

GOOD_DESCRIBE_EXECUTION = {
    "executionArn": ARN_EX,
    "stateMachineArn": ARN_SM,
    "name": "run-1",
    "status": "SUCCEEDED",
    "startDate": 1764000000.123,
    "stopDate": 1764000001,
    "input": "{}",
    "inputDetails": {"included": True},
    "output": "{\"a\":1}",
    "outputDetails": {"included": True},
}

GOOD_HISTORY = {
    "events": [
        {
            "timestamp": 1764000000.5,
            "type": "ExecutionStarted",
            "id": 1,
            "previousEventId": 0,
            "executionStartedEventDetails": {
                "input": "{}",
                "inputDetails": {"truncated": False},
                "roleArn": "arn:aws:iam::123456789012:role/r",
            },
        },
        {
            "timestamp": 1764000001,
            "type": "ExecutionSucceeded",
            "id": 2,
            "previousEventId": 1,
            "executionSucceededEventDetails": {"output": "{}"},
        },
    ],
    "nextToken": "abc",
}

GOOD_TAGS = {"tags": [{"key": "team", "value": "ml"}]}


def op(name: str):
    return shapes.service_model().operation_model(name)


def problems(name: str, body) -> list[str]:
    return shapes.check_output(op(name), body)


class OutputShapes(unittest.TestCase):
    def assert_one(self, found: list[str], *fragments: str) -> None:
        self.assertEqual(len(found), 1, found)
        for f in fragments:
            self.assertIn(f, found[0])

    def test_good_responses_have_no_violations(self):
        self.assertEqual(problems("DescribeExecution", GOOD_DESCRIBE_EXECUTION), [])
        self.assertEqual(problems("GetExecutionHistory", GOOD_HISTORY), [])
        self.assertEqual(problems("ListTagsForResource", GOOD_TAGS), [])
        self.assertEqual(problems("TagResource", {}), [])

    def test_missing_required_member(self):
        body = dict(GOOD_DESCRIBE_EXECUTION)
        del body["startDate"]
        self.assert_one(problems("DescribeExecution", body), "$:", "'startDate'", "missing")

    def test_unknown_member_is_reported_by_name(self):
        body = dict(GOOD_DESCRIBE_EXECUTION, engineVersion="1")
        self.assert_one(problems("DescribeExecution", body), "'engineVersion'", "not in botocore")

    def test_timestamp_must_be_epoch_seconds(self):
        body = dict(GOOD_DESCRIBE_EXECUTION, startDate="2026-01-01T00:00:00Z")
        self.assert_one(problems("DescribeExecution", body), "$.startDate", "epoch seconds")

    def test_enum(self):
        body = dict(GOOD_DESCRIBE_EXECUTION, status="DONE")
        self.assert_one(problems("DescribeExecution", body), '$.status: "DONE"', "not one of")

    def test_string_length(self):
        body = dict(GOOD_DESCRIBE_EXECUTION, name="n" * 81)
        self.assert_one(problems("DescribeExecution", body), "$.name", "81", "maximum 80")
        body = dict(GOOD_DESCRIBE_EXECUTION, stateMachineArn="")
        self.assert_one(problems("DescribeExecution", body), "$.stateMachineArn", "minimum 1")

    def test_boolean_and_integer_types(self):
        body = dict(GOOD_DESCRIBE_EXECUTION, inputDetails={"included": "true"})
        self.assert_one(problems("DescribeExecution", body), "$.inputDetails.included", "boolean")
        bad = copy.deepcopy(GOOD_HISTORY)
        bad["events"][1]["id"] = True  # a JSON boolean is not a long
        self.assert_one(problems("GetExecutionHistory", bad), "$.events[1].id", "long")
        bad = copy.deepcopy(GOOD_HISTORY)
        bad["events"][1]["id"] = 2.5
        self.assert_one(problems("GetExecutionHistory", bad), "$.events[1].id", "long")

    def test_nested_list_member_paths(self):
        bad = copy.deepcopy(GOOD_HISTORY)
        bad["events"][0]["type"] = "StateEntered"
        self.assert_one(problems("GetExecutionHistory", bad), "$.events[0].type", "not one of")
        bad = copy.deepcopy(GOOD_HISTORY)
        bad["events"][0]["executionStartedEventDetails"]["inputDetails"]["extra"] = 1
        self.assert_one(
            problems("GetExecutionHistory", bad),
            "$.events[0].executionStartedEventDetails.inputDetails",
            "'extra'",
        )
        bad = copy.deepcopy(GOOD_HISTORY)
        bad["events"] = {"0": bad["events"][0]}
        self.assert_one(problems("GetExecutionHistory", bad), "$.events", "list")

    def test_list_of_structures_and_numeric_range(self):
        self.assert_one(
            problems("ListTagsForResource", {"tags": [{"key": "k" * 129, "value": "v"}]}),
            "$.tags[0].key",
            "maximum 128",
        )
        self.assert_one(
            problems("ListExecutions", {"executions": [], "nextToken": ""}),
            "$.nextToken",
            "minimum 1",
        )
        item = {
            "executionArn": ARN_EX,
            "stateMachineArn": ARN_SM,
            "name": "run-1",
            "status": "RUNNING",
            "startDate": 1,
            "itemCount": -1,
        }
        self.assert_one(
            problems("ListExecutions", {"executions": [item]}), "$.executions[0].itemCount", "minimum 0"
        )

    def test_empty_output_operation_rejects_a_body_member(self):
        self.assert_one(problems("StopExecution", {}), "'stopDate'", "missing")
        self.assert_one(problems("SendTaskSuccess", {"ok": True}), "'ok'")

    def test_pattern(self):
        body = {
            "stateMachineArn": ARN_SM,
            "name": "demo",
            "status": "ACTIVE",
            "definition": "{}",
            "roleArn": "arn:aws:iam::123456789012:role/r",
            "type": "STANDARD",
            "creationDate": 1,
        }
        self.assertEqual(problems("DescribeStateMachine", body), [])
        found = problems("DescribeStateMachine", dict(body, name="a b"))
        self.assertEqual(found, [], "Name has no pattern in the model: only lengths apply")
        # TraceHeader: \p{ASCII}* (a Java class the checker translates).
        desc = dict(GOOD_DESCRIBE_EXECUTION, traceHeader="Root=\u00e9")
        self.assert_one(problems("DescribeExecution", desc), "$.traceHeader", "pattern")
        self.assertEqual(problems("DescribeExecution", dict(desc, traceHeader="Root=1")), [])


class ErrorShapes(unittest.TestCase):
    def test_modelled_error(self):
        body = {"__type": "ExecutionDoesNotExist", "message": "no such execution"}
        self.assertEqual(shapes.check_error(op("DescribeExecution"), 400, body), [])
        namespaced = dict(body, __type="com.amazonaws.states#ExecutionDoesNotExist")
        self.assertEqual(shapes.check_error(op("DescribeExecution"), 400, namespaced), [])

    def test_wrong_status(self):
        body = {"__type": "ExecutionDoesNotExist", "message": "x"}
        found = shapes.check_error(op("DescribeExecution"), 404, body)
        self.assertEqual(len(found), 1, found)
        self.assertIn("HTTP status 404", found[0])

    def test_code_not_modelled_for_the_operation(self):
        body = {"__type": "StateMachineDoesNotExist", "message": "x"}
        found = shapes.check_error(op("DescribeExecution"), 400, body)
        self.assertEqual(len(found), 1, found)
        self.assertIn("neither an error of DescribeExecution", found[0])
        common = {"__type": "ValidationException", "message": "x"}
        self.assertEqual(shapes.check_error(op("DescribeExecution"), 400, common), [])

    def test_error_members(self):
        body = {"__type": "ValidationException", "message": "x", "reason": "NOPE"}
        found = shapes.check_error(op("StopExecution"), 400, body)
        self.assertEqual(len(found), 1, found)
        self.assertIn("$.reason", found[0])
        body = {"__type": "ExecutionDoesNotExist", "Message": "x"}
        found = shapes.check_error(op("DescribeExecution"), 400, body)
        self.assertEqual(len(found), 1, found)
        self.assertIn("'Message'", found[0])

    def test_error_without_type(self):
        found = shapes.check_error(op("DescribeExecution"), 400, {"message": "x"})
        self.assertEqual(len(found), 1, found)
        self.assertIn("no __type", found[0])


class _Canned(BaseHTTPRequestHandler):
    """Answers every POST with the class's (status, body)."""

    reply: tuple[int, bytes] = (200, b"{}")

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, body = self.reply
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_):
        pass


class RecorderOnTheWire(unittest.TestCase):
    """The recorder sees the raw body: members botocore would drop are still reported."""

    @classmethod
    def setUpClass(cls):
        cls.server = HTTPServer(("127.0.0.1", 0), _Canned)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.client = boto3.client(
            "stepfunctions",
            endpoint_url=f"http://127.0.0.1:{cls.server.server_port}",
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        cls.client.meta.config.retries = {"max_attempts": 0}
        cls.rec = shapes.Recorder.attach(cls.client)

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def test_unknown_member_dropped_by_botocore_is_reported(self):
        body = dict(GOOD_DESCRIBE_EXECUTION, secretField=1)
        _Canned.reply = (200, json.dumps(body).encode())
        parsed = self.client.describe_execution(executionArn=ARN_EX)
        self.assertNotIn("secretField", parsed, "botocore drops it; only the raw body shows it")
        last = self.rec.last()
        self.assertEqual(last.operation, "DescribeExecution")
        self.assertEqual(len(last.problems), 1, last.problems)
        self.assertIn("'secretField'", last.problems[0])

    def test_good_body_and_error_body(self):
        _Canned.reply = (200, json.dumps(GOOD_DESCRIBE_EXECUTION).encode())
        self.client.describe_execution(executionArn=ARN_EX)
        self.assertEqual(self.rec.last().problems, [])
        _Canned.reply = (404, b'{"__type":"ExecutionDoesNotExist","message":"gone"}')
        with self.assertRaises(self.client.exceptions.ExecutionDoesNotExist):
            self.client.describe_execution(executionArn=ARN_EX)
        last = self.rec.last()
        self.assertTrue(last.is_error)
        self.assertEqual(len(last.problems), 1, last.problems)
        self.assertIn("HTTP status 404", last.problems[0])

    def test_body_that_is_not_json(self):
        _Canned.reply = (200, b"<html>")
        try:
            self.client.describe_execution(executionArn=ARN_EX)
        except Exception:  # botocore's own parse error is not what this test is about
            pass
        self.assertIn("not JSON", self.rec.last().problems[0])


if __name__ == "__main__":
    unittest.main()
