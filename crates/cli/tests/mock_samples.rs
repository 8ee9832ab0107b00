//! The facts that AWS's published Step Functions Local mocking samples check in
//! GetExecutionHistory, checked in `mdlc execute --mock-config --history` with a definition and
//! a MockConfigFile of our own of the same shape (a `lambda:invoke` state with a Retry, then an
//! `sqs:sendMessage` state; test cases HappyPath and RetryPath): the Task states exit
//! (`TaskStateExited` by name), `TaskSucceeded` events are counted, `TaskFailed` events are
//! counted and told apart by `taskFailedEventDetails.error` to check the retries, and
//! `taskSucceededEventDetails.resource` names the action (`invoke`, `sendMessage`). The same
//! facts through `mdlc serve` and boto3: tests/sfn_clients/mock_config.py.

mod common;

use common::{mdlc_exits, tempdir, write};
use serde_json::{Value, json};

const DEFINITION: &str = r#"{"StartAt": "IssueTicket", "States": {
  "IssueTicket": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
    "Parameters": {"FunctionName": "issue-ticket", "Payload.$": "$"},
    "Retry": [{"ErrorEquals": ["Lambda.ResourceNotReadyException", "Lambda.TimeoutException"],
               "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2}],
    "ResultSelector": {"ticket.$": "$.Payload.ticket"}, "ResultPath": "$.issued",
    "Next": "QueueTicket"},
  "QueueTicket": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
    "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/tickets",
                   "MessageBody.$": "$.issued"},
    "ResultPath": "$.queued", "End": true}}}"#;

const MOCKS: &str = r#"{
  "StateMachines": {"Tickets": {"TestCases": {
    "HappyPath": {"IssueTicket": "Issued", "QueueTicket": "Queued"},
    "RetryPath": {"IssueTicket": "NotReadyTwiceSlowThenIssued", "QueueTicket": "Queued"}}}},
  "MockedResponses": {
    "Issued": {"0": {"Return": {"StatusCode": 200, "Payload": {"ticket": "t-1"}}}},
    "NotReadyTwiceSlowThenIssued": {
      "0": {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "the function is being created"}},
      "1-2": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "the function took too long"}},
      "3": {"Return": {"StatusCode": 200, "Payload": {"ticket": "t-2"}}}},
    "Queued": {"0": {"Return": {"MD5OfMessageBody": "00000000000000000000000000000000", "MessageId": "m-1"}}}}}"#;

/// The history `mdlc execute --mock-config ... --test-case CASE --history` prints.
fn history(case: &str) -> Vec<Value> {
    let dir = tempdir();
    let def = write(dir.path(), "tickets.asl.json", DEFINITION);
    let mocks = write(dir.path(), "mocks.json", MOCKS);
    let out = mdlc_exits(
        &[
            "execute",
            &def,
            "--mock-config",
            &mocks,
            "--test-case",
            case,
            "--history",
        ],
        0,
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON object");
    assert_eq!(v["status"], "SUCCEEDED", "{v}");
    v["history"].as_array().cloned().unwrap_or_default()
}

fn of_type<'a>(events: &'a [Value], ty: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == ty).collect()
}

fn exited(events: &[Value]) -> Vec<&str> {
    of_type(events, "TaskStateExited")
        .iter()
        .filter_map(|e| e["stateExitedEventDetails"]["name"].as_str())
        .collect()
}

/// `(resource, resourceType)` of the events of `ty` (their `<type>EventDetails`).
fn resources(events: &[Value], ty: &str, member: &str) -> Vec<(String, String)> {
    of_type(events, ty)
        .iter()
        .map(|e| {
            let d = &e[member];
            (
                d["resource"].as_str().unwrap_or("").to_string(),
                d["resourceType"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn pair(resource: &str, kind: &str) -> (String, String) {
    (resource.to_string(), kind.to_string())
}

#[test]
fn happy_path_both_tasks_exit_and_two_task_succeeded_name_invoke_and_send_message() {
    let events = history("HappyPath");
    assert_eq!(exited(&events), ["IssueTicket", "QueueTicket"]);
    assert_eq!(
        resources(&events, "TaskSucceeded", "taskSucceededEventDetails"),
        [pair("invoke", "lambda"), pair("sendMessage", "sqs")]
    );
    assert!(of_type(&events, "TaskFailed").is_empty());
    let queued = of_type(&events, "TaskSucceeded")[1]["taskSucceededEventDetails"]["output"]
        .as_str()
        .map(|t| serde_json::from_str::<Value>(t).expect("output is JSON text"));
    assert_eq!(
        queued,
        Some(json!({"MD5OfMessageBody": "00000000000000000000000000000000", "MessageId": "m-1"}))
    );
}

#[test]
fn retry_path_counts_three_task_failed_one_not_ready_two_timeouts_then_succeeds() {
    let events = history("RetryPath");
    assert_eq!(exited(&events), ["IssueTicket", "QueueTicket"]);
    let failed = of_type(&events, "TaskFailed");
    assert_eq!(failed.len(), 3, "one TaskFailed per failed attempt");
    let errors: Vec<&str> = failed
        .iter()
        .filter_map(|e| e["taskFailedEventDetails"]["error"].as_str())
        .collect();
    assert_eq!(
        errors,
        [
            "Lambda.ResourceNotReadyException",
            "Lambda.TimeoutException",
            "Lambda.TimeoutException"
        ]
    );
    assert_eq!(
        resources(&events, "TaskFailed", "taskFailedEventDetails"),
        vec![pair("invoke", "lambda"); 3]
    );
    // every attempt is scheduled and started: three failed ones and the one that succeeds
    assert_eq!(
        resources(&events, "TaskScheduled", "taskScheduledEventDetails")
            .iter()
            .filter(|r| r.0 == "invoke")
            .count(),
        4
    );
    assert_eq!(
        resources(&events, "TaskSucceeded", "taskSucceededEventDetails"),
        [pair("invoke", "lambda"), pair("sendMessage", "sqs")]
    );
}
