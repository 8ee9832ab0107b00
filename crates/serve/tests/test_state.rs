//! TestState over real HTTP (raw requests: the Rust SDK of this workspace predates `mock` and
//! `stateName`): statuses, next states, the data flow at DEBUG, retries and catchers, mocks,
//! variables, and the documented refusals.

mod support;

use serde_json::{Value, json};
use support::{DOUBLE, Options, TestServer};

const TARGET: &str = "AWSStepFunctions.TestState";

async fn test_state(server: &TestServer, body: Value) -> (u16, Value) {
    server.raw(Some(TARGET), &body.to_string()).await
}

fn server() -> (tempfile::TempDir, TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default());
    (dir, server)
}

/// A JSON text member of an answer, parsed.
fn parsed(v: &Value, member: &str) -> Value {
    serde_json::from_str(v[member].as_str().unwrap_or("null")).unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_task_runs_once_on_the_invoker_and_debug_shows_each_step_of_its_data_flow() {
    let (_dir, server) = server();
    let state = json!({
        "Type": "Task", "Resource": DOUBLE, "InputPath": "$.in", "Parameters": {"n.$": "$.k"},
        "ResultSelector": {"doubled.$": "$.n"}, "ResultPath": "$.out", "OutputPath": "$.out",
        "Next": "After",
    });
    let (status, out) = test_state(
        &server,
        json!({"definition": state.to_string(), "input": r#"{"in": {"k": 4}}"#, "inspectionLevel": "DEBUG"}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        (&out["status"], &out["nextState"]),
        (&json!("SUCCEEDED"), &json!("After"))
    );
    assert_eq!(parsed(&out, "output"), json!({"doubled": 8}));
    let data = &out["inspectionData"];
    let steps: Vec<Value> = [
        "input",
        "afterInputPath",
        "afterParameters",
        "result",
        "afterResultSelector",
        "afterResultPath",
    ]
    .iter()
    .map(|k| parsed(data, k))
    .collect();
    assert_eq!(
        steps,
        vec![
            json!({"in": {"k": 4}}),
            json!({"k": 4}),
            json!({"n": 4}),
            json!({"n": 8}),
            json!({"doubled": 8}),
            json!({"in": {"k": 4}, "out": {"doubled": 8}}),
        ]
    );
    // INFO: no inspection data
    let (_, info) = test_state(
        &server,
        json!({"definition": state.to_string(), "input": r#"{"in": {"k": 1}}"#}),
    )
    .await;
    assert_eq!(info.get("inspectionData"), None, "{info}");
}

#[tokio::test]
async fn a_matching_retrier_with_attempts_left_is_retriable_else_a_catcher_takes_the_error() {
    let (_dir, server) = server();
    let state = json!({
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:absent",
        "Retry": [{"ErrorEquals": ["Test.NoSuchResource"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 2}],
        "Catch": [{"ErrorEquals": ["Other"], "Next": "Elsewhere"},
                  {"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Recover"}],
        "Next": "After",
    })
    .to_string();
    let run = |count: u64| {
        json!({"definition": state, "input": r#"{"a": 1}"#, "inspectionLevel": "DEBUG",
               "stateConfiguration": {"retrierRetryCount": count}})
    };
    let (status, first) = test_state(&server, run(0)).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["status"], "RETRIABLE");
    assert_eq!(first["error"], "Test.NoSuchResource");
    assert_eq!(
        first["inspectionData"]["errorDetails"],
        json!({"retryIndex": 0, "retryBackoffIntervalSeconds": 2})
    );
    assert_eq!(first.get("nextState"), None);
    let (_, second) = test_state(&server, run(1)).await;
    assert_eq!(
        second["inspectionData"]["errorDetails"]["retryBackoffIntervalSeconds"],
        6
    );
    let (_, spent) = test_state(&server, run(2)).await;
    assert_eq!(spent["status"], "CAUGHT_ERROR", "{spent}");
    assert_eq!(spent["nextState"], "Recover");
    assert_eq!(
        spent["inspectionData"]["errorDetails"],
        json!({"catchIndex": 1})
    );
    let output = parsed(&spent, "output");
    assert_eq!(output["a"], 1);
    assert_eq!(output["err"]["Error"], "Test.NoSuchResource");
}

#[tokio::test]
async fn a_mock_answers_instead_of_the_invoker_and_is_refused_for_other_state_types() {
    let (_dir, server) = server();
    let callback = json!({
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": "q", "MessageBody": {"t.$": "$$.Task.Token"}}, "End": true,
    })
    .to_string();
    let (status, out) = test_state(
        &server,
        json!({"definition": callback, "mock": {"result": r#"{"ok": true}"#}}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        (&out["status"], out.get("nextState")),
        (&json!("SUCCEEDED"), None)
    );
    assert_eq!(parsed(&out, "output"), json!({"ok": true}));
    let (_, failed) = test_state(
        &server,
        json!({"definition": callback,
               "mock": {"errorOutput": {"error": "Mocked.Error", "cause": "mocked"}}}),
    )
    .await;
    assert_eq!(
        (&failed["status"], &failed["error"], &failed["cause"]),
        (&json!("FAILED"), &json!("Mocked.Error"), &json!("mocked"))
    );
    // without a mock a callback task is refused; a mock of a Pass state too; context needs a mock
    for body in [
        json!({"definition": callback}),
        json!({"definition": r#"{"Type": "Pass", "End": true}"#, "mock": {"result": "1"}}),
        json!({"definition": r#"{"Type": "Pass", "End": true}"#, "context": "{}"}),
        json!({"definition": callback, "mock": {}}),
    ] {
        let (status, e) = test_state(&server, body.clone()).await;
        assert_eq!(
            (
                status,
                e["__type"]
                    .as_str()
                    .unwrap_or("")
                    .ends_with("#ValidationException")
            ),
            (400, true),
            "{body} gave {e}"
        );
    }
}

#[tokio::test]
async fn a_mocked_map_runs_its_data_flow_on_the_mocked_result() {
    let (_dir, server) = server();
    let map = json!({
        "Type": "Map", "ItemsPath": "$.xs",
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "ResultSelector": {"count.$": "States.ArrayLength($)"}, "ResultPath": "$.r", "Next": "N",
    })
    .to_string();
    let (status, out) = test_state(
        &server,
        json!({"definition": map, "input": r#"{"xs": [1, 2]}"#, "mock": {"result": "[5, 6, 7]"}}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        parsed(&out, "output"),
        json!({"xs": [1, 2], "r": {"count": 3}})
    );
    assert_eq!(out["nextState"], "N");
}

#[tokio::test]
async fn a_state_of_a_whole_machine_sees_its_query_language_and_the_given_variables() {
    let (_dir, server) = server();
    let machine = json!({
        "QueryLanguage": "JSONata", "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Output": "{% $states.input.x + $bonus %}", "Next": "B"},
            "B": {"Type": "Succeed"},
        },
    })
    .to_string();
    let (status, out) = test_state(
        &server,
        json!({"definition": machine, "stateName": "A", "input": r#"{"x": 2}"#,
               "variables": r#"{"bonus": 40}"#}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        (&out["status"], parsed(&out, "output"), &out["nextState"]),
        (&json!("SUCCEEDED"), json!(42), &json!("B"))
    );
    let (status, e) =
        test_state(&server, json!({"definition": machine, "stateName": "Nope"})).await;
    assert_eq!(status, 400, "{e}");
}

#[tokio::test]
async fn a_choice_names_the_rule_taken_and_a_fail_state_fails() {
    let (_dir, server) = server();
    let choice = json!({
        "Type": "Choice",
        "Choices": [{"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"}],
        "Default": "Small",
    })
    .to_string();
    for (n, next) in [(11, "Big"), (3, "Small")] {
        let (_, out) = test_state(
            &server,
            json!({"definition": choice, "input": json!({"n": n}).to_string()}),
        )
        .await;
        assert_eq!(out["nextState"], next, "{out}");
    }
    let (_, fail) = test_state(
        &server,
        json!({"definition": r#"{"Type": "Fail", "Error": "E", "Cause": "C"}"#}),
    )
    .await;
    assert_eq!(
        (
            &fail["status"],
            &fail["error"],
            &fail["cause"],
            fail.get("output")
        ),
        (&json!("FAILED"), &json!("E"), &json!("C"), None)
    );
    let (status, bad) = test_state(&server, json!({"definition": r#"{"Type": "Nope"}"#})).await;
    assert_eq!(
        (
            status,
            bad["__type"]
                .as_str()
                .unwrap_or("")
                .ends_with("#InvalidDefinition")
        ),
        (400, true),
        "{bad}"
    );
}
