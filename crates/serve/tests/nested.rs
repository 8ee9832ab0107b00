//! Nested `arn:aws:states:::states:startExecution[.sync|.sync:2]` Tasks of `mdlc serve`: the child
//! is an execution of the same server (listed, described, its history readable), the parent's
//! Task result has the shape of each integration pattern, and refused starts and failed children
//! fail the parent's Task as on AWS. Driven by AWS's Rust SDK.

mod support;

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use mdlc_local::substitute::{LOCAL_ACCOUNT, LOCAL_REGION};
use serde_json::{Value, json};
use support::{DOUBLE, Options, TestServer, create, until_done, until_event, until_exists};

/// `{"n": x}` → `{"n": 2x}` through the test invoker's `double` function.
fn child_machine() -> Value {
    json!({
        "StartAt": "Double",
        "States": {"Double": {"Type": "Task", "Resource": DOUBLE, "End": true}}
    })
}

fn start_task(resource_suffix: &str, child: &str, name: &str, n: i64, result: &str) -> Value {
    json!({
        "Type": "Task",
        "Resource": format!("arn:aws:states:::states:startExecution{resource_suffix}"),
        "Parameters": {"StateMachineArn": child, "Name": name, "Input": {"n": n}},
        "ResultPath": result
    })
}

/// Creates machine `name` whose only state is `task` (made the end state) and starts it; the
/// execution's ARN.
async fn start_parent(client: &aws_sdk_sfn::Client, name: &str, mut task: Value) -> String {
    task["End"] = json!(true);
    let parent = create(
        client,
        name,
        &json!({"StartAt": "Start", "States": {"Start": task}}),
    )
    .await;
    let started = client
        .start_execution()
        .state_machine_arn(&parent)
        .send()
        .await
        .unwrap();
    started.execution_arn().to_string()
}

fn execution_arn(machine: &str, name: &str) -> String {
    format!("arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:execution:{machine}:{name}")
}

#[tokio::test]
async fn nested_start_executions_are_executions_of_the_server_with_each_patterns_result() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default());
    let client = server.client().await;
    let child = create(&client, "Child", &child_machine()).await;
    let mut sync2 = start_task(".sync:2", &child, "child-sync2", 21, "$.sync2");
    sync2["Next"] = json!("Sync");
    let mut sync = start_task(".sync", &child, "child-sync", 5, "$.sync");
    sync["Next"] = json!("Fire");
    let mut fire = start_task("", &child, "child-fire", 1, "$.fire");
    fire["End"] = json!(true);
    let parent = create(
        &client,
        "Parent",
        &json!({"StartAt": "Sync2", "States": {"Sync2": sync2, "Sync": sync, "Fire": fire}}),
    )
    .await;

    let started = client
        .start_execution()
        .state_machine_arn(&parent)
        .name("p1")
        .send()
        .await
        .unwrap();
    let done = until_done(&client, started.execution_arn()).await;
    assert_eq!(
        done.status(),
        &ExecutionStatus::Succeeded,
        "{:?} {:?}",
        done.error(),
        done.cause()
    );
    let out: Value = serde_json::from_str(done.output().unwrap()).unwrap();

    // .sync:2: DescribeExecution's members, Input and Output as JSON
    let s2 = &out["sync2"];
    assert_eq!(
        s2["ExecutionArn"],
        json!(execution_arn("Child", "child-sync2"))
    );
    assert_eq!(s2["StateMachineArn"], json!(child));
    assert_eq!(s2["Name"], json!("child-sync2"));
    assert_eq!(s2["Status"], json!("SUCCEEDED"));
    assert_eq!(s2["Input"], json!({"n": 21}));
    assert_eq!(s2["Output"], json!({"n": 42}));
    assert_eq!(s2["OutputDetails"], json!({"Included": true}));
    assert!(s2["StartDate"].is_i64() && s2["StopDate"].is_i64(), "{s2}");
    // .sync: the same with Input and Output as JSON text
    let s1 = &out["sync"];
    assert_eq!(s1["Status"], json!("SUCCEEDED"));
    assert_eq!(s1["Input"], json!(r#"{"n":5}"#));
    let output_text = s1["Output"].as_str().expect(".sync's Output is a string");
    assert_eq!(
        serde_json::from_str::<Value>(output_text).unwrap(),
        json!({"n": 10})
    );
    // request-response: StartExecution's answer only
    let f = out["fire"].as_object().unwrap();
    let mut keys: Vec<&str> = f.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["ExecutionArn", "StartDate"]);
    assert_eq!(
        f["ExecutionArn"],
        json!(execution_arn("Child", "child-fire"))
    );
    assert!(f["StartDate"].is_i64());

    // the children are the server's executions
    let fired = until_done(&client, &execution_arn("Child", "child-fire")).await;
    assert_eq!(fired.status(), &ExecutionStatus::Succeeded);
    assert_eq!(
        serde_json::from_str::<Value>(fired.output().unwrap()).unwrap(),
        json!({"n": 2})
    );
    let listed = client
        .list_executions()
        .state_machine_arn(&child)
        .send()
        .await
        .unwrap();
    let mut names: Vec<&str> = listed.executions().iter().map(|e| e.name()).collect();
    names.sort_unstable();
    assert_eq!(names, ["child-fire", "child-sync", "child-sync2"]);
    let d = client
        .describe_execution()
        .execution_arn(execution_arn("Child", "child-sync2"))
        .send()
        .await
        .unwrap();
    assert_eq!(d.status(), &ExecutionStatus::Succeeded);
    assert_eq!(
        serde_json::from_str::<Value>(d.input().unwrap()).unwrap(),
        json!({"n": 21})
    );
    assert_eq!(
        serde_json::from_str::<Value>(d.output().unwrap()).unwrap(),
        json!({"n": 42})
    );
    let history = client
        .get_execution_history()
        .execution_arn(execution_arn("Child", "child-sync2"))
        .send()
        .await
        .unwrap();
    let types: Vec<&HistoryEventType> = history.events().iter().map(|e| e.r#type()).collect();
    assert_eq!(types.first(), Some(&&HistoryEventType::ExecutionStarted));
    assert_eq!(types.last(), Some(&&HistoryEventType::ExecutionSucceeded));
    assert!(
        types.contains(&&HistoryEventType::LambdaFunctionSucceeded),
        "{types:?}"
    );
}

#[tokio::test]
async fn a_nested_start_of_an_unknown_state_machine_fails_the_task_with_state_machine_does_not_exist()
 {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default());
    let client = server.client().await;
    let missing = format!("arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:stateMachine:Nowhere");
    let started = start_parent(
        &client,
        "Orphan",
        start_task(".sync:2", &missing, "c", 1, "$.r"),
    )
    .await;
    let done = until_done(&client, &started).await;
    assert_eq!(done.status(), &ExecutionStatus::Failed);
    assert_eq!(
        done.error(),
        Some("StepFunctions.StateMachineDoesNotExistException")
    );
    let cause = done.cause().unwrap();
    assert!(
        cause.starts_with(&format!(
            "State Machine Does Not Exist: '{missing}' (Service: AWSStepFunctions; Status Code: 400; Error Code: StateMachineDoesNotExist;"
        )),
        "{cause}"
    );
}

#[tokio::test]
async fn a_failed_child_fails_the_sync_task_with_states_task_failed_and_its_description() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default());
    let client = server.client().await;
    let child = create(
        &client,
        "Breaks",
        &json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Child.Broke", "Cause": "on purpose"}}}),
    )
    .await;
    let started = start_parent(
        &client,
        "Waits",
        start_task(".sync:2", &child, "broken", 1, "$.r"),
    )
    .await;
    let done = until_done(&client, &started).await;
    assert_eq!(done.status(), &ExecutionStatus::Failed);
    assert_eq!(done.error(), Some("States.TaskFailed"));
    let cause: Value = serde_json::from_str(done.cause().unwrap()).unwrap();
    assert_eq!(cause["Status"], json!("FAILED"));
    assert_eq!(cause["Error"], json!("Child.Broke"));
    assert_eq!(cause["Cause"], json!("on purpose"));
    assert_eq!(
        cause["ExecutionArn"],
        json!(execution_arn("Breaks", "broken"))
    );
    let child_done = until_done(&client, &execution_arn("Breaks", "broken")).await;
    assert_eq!(child_done.status(), &ExecutionStatus::Failed);
    assert_eq!(child_done.error(), Some("Child.Broke"));
}

#[tokio::test]
async fn stopping_a_parent_waiting_on_a_sync_child_stops_the_child() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(
        dir.path(),
        Options {
            real_time: true,
            ..Options::default()
        },
    );
    let client = server.client().await;
    let child = create(
        &client,
        "Slow",
        &json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": true}}}),
    )
    .await;
    let started = start_parent(
        &client,
        "Impatient",
        start_task(".sync", &child, "slow-child", 1, "$.r"),
    )
    .await;
    let child_arn = execution_arn("Slow", "slow-child");
    // the child exists and waits once its Wait state is entered
    until_exists(&client, &child_arn).await;
    until_event(&client, &child_arn, HistoryEventType::WaitStateEntered).await;
    client
        .stop_execution()
        .execution_arn(&started)
        .send()
        .await
        .unwrap();
    let child_done = until_done(&client, &child_arn).await;
    assert_eq!(child_done.status(), &ExecutionStatus::Aborted);
}

#[tokio::test]
async fn a_wait_for_task_token_start_runs_the_child_and_waits_for_the_answer_to_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default());
    let client = server.client().await;
    let child = create(
        &client,
        "Holder",
        &json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
    )
    .await;
    let started = start_parent(
        &client,
        "Asker",
        json!({
            "Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.waitForTaskToken",
            "Parameters": {"StateMachineArn": child, "Name": "holder-1", "Input": {"token.$": "$$.Task.Token"}}
        }),
    )
    .await;
    // the parent's StartExecution answers before its Task starts the child
    let child_arn = execution_arn("Holder", "holder-1");
    until_exists(&client, &child_arn).await;
    let held = until_done(&client, &child_arn).await;
    assert_eq!(held.status(), &ExecutionStatus::Succeeded);
    let token = serde_json::from_str::<Value>(held.output().unwrap()).unwrap()["token"]
        .as_str()
        .expect("the child got the token")
        .to_string();
    let running = client
        .describe_execution()
        .execution_arn(&started)
        .send()
        .await
        .unwrap();
    assert_eq!(running.status(), &ExecutionStatus::Running);
    client
        .send_task_success()
        .task_token(token)
        .output(r#"{"answered": true}"#)
        .send()
        .await
        .unwrap();
    let done = until_done(&client, &started).await;
    assert_eq!(done.status(), &ExecutionStatus::Succeeded);
    assert_eq!(
        serde_json::from_str::<Value>(done.output().unwrap()).unwrap(),
        json!({"answered": true})
    );
}

#[tokio::test]
async fn a_sync_child_runs_even_when_its_waiting_parent_holds_the_last_slot() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(
        dir.path(),
        Options {
            max_concurrent: 1,
            ..Options::default()
        },
    );
    let client = server.client().await;
    let child = create(&client, "Inner", &child_machine()).await;
    let started = start_parent(
        &client,
        "Outer",
        start_task(".sync:2", &child, "inner-1", 4, "$.r"),
    )
    .await;
    let done = until_done(&client, &started).await;
    assert_eq!(done.status(), &ExecutionStatus::Succeeded);
    let out: Value = serde_json::from_str(done.output().unwrap()).unwrap();
    assert_eq!(out["r"]["Output"], json!({"n": 8}));
}
