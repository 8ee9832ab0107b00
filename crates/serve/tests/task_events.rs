//! A Task's events in `mdlc serve`'s GetExecutionHistory, as AWS records them: the callback
//! pattern answered by SendTaskSuccess / SendTaskFailure (`TaskSubmitted` with SendMessage's
//! response, recorded while the Task waits), a nested `startExecution.sync:2` (`TaskSubmitted`
//! with StartExecution's answer) and a Lambda function ARN (`LambdaFunction…` events). The
//! engine's side of every pattern is tested in crates/asl/tests/task_events.rs.

mod support;

use aws_sdk_sfn::types::HistoryEventType;
use serde_json::{Value, json};
use support::{DOUBLE, Options, TestServer, create, until_done, until_event};

/// GetExecutionHistory as it is on the wire.
async fn history(server: &TestServer, arn: &str) -> Vec<Value> {
    let (status, body) = server
        .raw(
            Some("AWSStepFunctions.GetExecutionHistory"),
            &json!({"executionArn": arn}).to_string(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["events"].as_array().cloned().unwrap_or_default()
}

/// `(id, previousEventId, type)` of every event.
fn chain(events: &[Value]) -> Vec<(u64, u64, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["id"].as_u64().unwrap_or(0),
                e["previousEventId"].as_u64().unwrap_or(u64::MAX),
                e["type"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The chain of one Task state's execution: ExecutionStarted and the state's entry have
/// previousEventId 0, every later event the one before it.
fn expected(types: &[&str]) -> Vec<(u64, u64, String)> {
    types
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let id = i as u64 + 1;
            (id, if id <= 2 { 0 } else { id - 1 }, t.to_string())
        })
        .collect()
}

fn event<'a>(events: &'a [Value], ty: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["type"] == ty)
        .unwrap_or_else(|| panic!("no {ty} in {events:?}"))
}

/// A JSON text member parsed.
fn parsed(v: &Value) -> Value {
    let text = v.as_str().unwrap_or_else(|| panic!("not JSON text: {v}"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON: {e}: {text}"))
}

const CALLBACK: &str = "sendMessage.waitForTaskToken";

/// Starts a callback Task and waits until it is submitted; returns the server, the client,
/// the execution and the token read from the TaskScheduled event's parameters.
async fn waiting_callback(
    dir: &std::path::Path,
) -> (TestServer, aws_sdk_sfn::Client, String, String) {
    let server = TestServer::start(dir, Options::default());
    let client = server.client().await;
    let machine = create(
        &client,
        "callback",
        &json!({"StartAt": "Ask", "States": {"Ask": {"Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
                           "MessageBody": {"Token.$": "$$.Task.Token"}},
            "HeartbeatSeconds": 600, "End": true}}}),
    )
    .await;
    let arn = client
        .start_execution()
        .state_machine_arn(&machine)
        .input("{}")
        .send()
        .await
        .expect("StartExecution")
        .execution_arn()
        .to_string();
    // recorded while the Task still waits for its answer
    until_event(&client, &arn, HistoryEventType::TaskSubmitted).await;
    let events = history(&server, &arn).await;
    let params =
        parsed(&event(&events, "TaskScheduled")["taskScheduledEventDetails"]["parameters"]);
    let token = params["MessageBody"]["Token"]
        .as_str()
        .expect("the token in the parameters")
        .to_string();
    (server, client, arn, token)
}

/// The first four events of a callback Task, as AWS records them.
fn assert_scheduled_started_submitted(events: &[Value], token: &str) {
    let scheduled = &event(events, "TaskScheduled")["taskScheduledEventDetails"];
    assert_eq!(scheduled["resource"], CALLBACK);
    assert_eq!(scheduled["resourceType"], "sqs");
    assert_eq!(scheduled["region"], "us-east-1");
    assert_eq!(scheduled["heartbeatInSeconds"], 600);
    assert_eq!(
        parsed(&scheduled["parameters"]),
        json!({"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
               "MessageBody": {"Token": token}})
    );
    assert_eq!(
        event(events, "TaskStarted")["taskStartedEventDetails"],
        json!({"resource": CALLBACK, "resourceType": "sqs"})
    );
    let submitted = &event(events, "TaskSubmitted")["taskSubmittedEventDetails"];
    assert_eq!(submitted["resource"], CALLBACK);
    assert_eq!(submitted["resourceType"], "sqs");
    assert_eq!(submitted["outputDetails"], json!({"truncated": false}));
    let response = parsed(&submitted["output"]);
    assert!(
        response["MessageId"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "SendMessage's response: {response}"
    );
}

#[tokio::test]
async fn a_callback_answered_by_send_task_success_is_scheduled_started_submitted_succeeded() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (server, client, arn, token) = waiting_callback(dir.path()).await;
    client
        .send_task_success()
        .task_token(&token)
        .output(r#"{"approved":true}"#)
        .send()
        .await
        .expect("SendTaskSuccess");
    until_done(&client, &arn).await;
    let events = history(&server, &arn).await;
    assert_eq!(
        chain(&events),
        expected(&[
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSubmitted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ])
    );
    assert_scheduled_started_submitted(&events, &token);
    let succeeded = &event(&events, "TaskSucceeded")["taskSucceededEventDetails"];
    assert_eq!(succeeded["resource"], CALLBACK);
    assert_eq!(succeeded["resourceType"], "sqs");
    assert_eq!(parsed(&succeeded["output"]), json!({"approved": true}));
    assert_eq!(succeeded["outputDetails"], json!({"truncated": false}));
}

#[tokio::test]
async fn a_callback_answered_by_send_task_failure_is_submitted_then_task_failed() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (server, client, arn, token) = waiting_callback(dir.path()).await;
    client
        .send_task_failure()
        .task_token(&token)
        .error("Rejected")
        .cause("a reviewer said no")
        .send()
        .await
        .expect("SendTaskFailure");
    until_done(&client, &arn).await;
    let events = history(&server, &arn).await;
    assert_eq!(
        chain(&events),
        expected(&[
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSubmitted",
            "TaskFailed",
            "ExecutionFailed"
        ])
    );
    assert_scheduled_started_submitted(&events, &token);
    assert_eq!(
        event(&events, "TaskFailed")["taskFailedEventDetails"],
        json!({"error": "Rejected", "cause": "a reviewer said no",
               "resource": CALLBACK, "resourceType": "sqs"})
    );
}

#[tokio::test]
async fn a_send_task_failure_without_error_or_cause_records_neither() {
    // AWS: `TaskFailed {"resource", "resourceType"}`, and a Catcher sees null for both.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (server, client, arn, token) = waiting_callback(dir.path()).await;
    client
        .send_task_failure()
        .task_token(&token)
        .send()
        .await
        .expect("SendTaskFailure");
    until_done(&client, &arn).await;
    let events = history(&server, &arn).await;
    assert_eq!(
        event(&events, "TaskFailed")["taskFailedEventDetails"],
        json!({"resource": CALLBACK, "resourceType": "sqs"})
    );
    assert_eq!(
        event(&events, "ExecutionFailed")["executionFailedEventDetails"],
        json!({})
    );
}

#[tokio::test]
async fn a_nested_sync2_start_execution_is_submitted_with_start_executions_answer() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = TestServer::start(dir.path(), Options::default());
    let client = server.client().await;
    let child = create(
        &client,
        "child",
        &json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
    )
    .await;
    let parent = create(
        &client,
        "parent",
        &json!({"StartAt": "Run", "States": {"Run": {"Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {"StateMachineArn": child, "Name": "kid", "Input": {"x": 1}},
            "End": true}}}),
    )
    .await;
    let arn = client
        .start_execution()
        .state_machine_arn(&parent)
        .input("{}")
        .send()
        .await
        .expect("StartExecution")
        .execution_arn()
        .to_string();
    let done = until_done(&client, &arn).await;
    assert_eq!(done.status().as_str(), "SUCCEEDED");
    let events = history(&server, &arn).await;
    assert_eq!(
        chain(&events),
        expected(&[
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSubmitted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ])
    );
    let action = "startExecution.sync:2";
    let scheduled = &event(&events, "TaskScheduled")["taskScheduledEventDetails"];
    assert_eq!(scheduled["resource"], action);
    assert_eq!(scheduled["resourceType"], "states");
    assert_eq!(
        parsed(&scheduled["parameters"]),
        json!({"StateMachineArn": child, "Name": "kid", "Input": {"x": 1}})
    );
    let child_arn = child.replace(":stateMachine:", ":execution:") + ":kid";
    let submitted = &event(&events, "TaskSubmitted")["taskSubmittedEventDetails"];
    assert_eq!(submitted["resource"], action);
    assert_eq!(submitted["resourceType"], "states");
    let answer = parsed(&submitted["output"]);
    assert_eq!(answer["ExecutionArn"], child_arn.as_str());
    assert!(answer["StartDate"].is_number(), "{answer}");
    let succeeded = parsed(&event(&events, "TaskSucceeded")["taskSucceededEventDetails"]["output"]);
    assert_eq!(succeeded["ExecutionArn"], child_arn.as_str());
    assert_eq!(succeeded["Output"], json!({"x": 1}));
}

#[tokio::test]
async fn a_lambda_function_arn_resource_gives_lambda_function_events() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = TestServer::start(dir.path(), Options::default());
    let client = server.client().await;
    let machine = create(
        &client,
        "double",
        &json!({"StartAt": "D", "States": {"D": {"Type": "Task", "Resource": DOUBLE,
            "TimeoutSeconds": 30, "End": true}}}),
    )
    .await;
    let arn = client
        .start_execution()
        .state_machine_arn(&machine)
        .input(r#"{"n":21}"#)
        .send()
        .await
        .expect("StartExecution")
        .execution_arn()
        .to_string();
    until_done(&client, &arn).await;
    let events = history(&server, &arn).await;
    assert_eq!(
        chain(&events),
        expected(&[
            "ExecutionStarted",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ])
    );
    let scheduled =
        &event(&events, "LambdaFunctionScheduled")["lambdaFunctionScheduledEventDetails"];
    assert_eq!(scheduled["resource"], DOUBLE);
    assert_eq!(parsed(&scheduled["input"]), json!({"n": 21}));
    assert_eq!(scheduled["inputDetails"], json!({"truncated": false}));
    assert_eq!(scheduled["timeoutInSeconds"], 30);
    let started = event(&events, "LambdaFunctionStarted");
    assert!(
        started
            .as_object()
            .is_some_and(|m| !m.keys().any(|k| k.ends_with("EventDetails"))),
        "LambdaFunctionStarted has no details: {started}"
    );
    let succeeded =
        &event(&events, "LambdaFunctionSucceeded")["lambdaFunctionSucceededEventDetails"];
    assert_eq!(parsed(&succeeded["output"]), json!({"n": 42}));
    assert_eq!(succeeded["outputDetails"], json!({"truncated": false}));
}
