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

/// The `message` of a refusal with its error type.
async fn refusal(server: &TestServer, body: Value) -> (u16, String, String) {
    let (status, e) = test_state(server, body).await;
    let ty = e["__type"].as_str().unwrap_or("");
    let ty = ty.rsplit('#').next().unwrap_or("").to_string();
    let message = e["message"].as_str().unwrap_or("").to_string();
    (status, ty, message)
}

fn validation(message: &str) -> (u16, String, String) {
    (400, "ValidationException".into(), message.into())
}

const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";

/// A context object as a test of AWS's gives it (all sections but Task and Map).
fn context_object() -> Value {
    json!({
        "Execution": {"Id": "arn:aws:states:us-east-1:123456789012:execution:M:e-1",
                      "Input": {"values": ["a", "b"]}, "Name": "e-1",
                      "RoleArn": "arn:aws:iam::123456789012:role/R",
                      "StartTime": "2025-01-15T10:30:00.000Z"},
        "State": {"EnteredTime": "2025-01-15T10:30:01.500Z", "Name": "MyTask", "RetryCount": 0},
        "StateMachine": {"Id": "arn:aws:states:us-east-1:123456789012:stateMachine:M", "Name": "M"},
    })
}

#[tokio::test]
async fn a_given_context_object_is_the_states_context_as_given() {
    let (_dir, server) = server();
    let task = |parameters: Value| {
        json!({
            "Type": "Task", "Resource": LAMBDA_INVOKE, "Parameters": parameters,
            "ResultSelector": {"Context.$": "$$", "Out.$": "$"}, "End": true,
        })
        .to_string()
    };
    let plain = task(json!({"FunctionName": "f"}));
    let empty_sections = json!({"Execution": {}, "State": {}, "StateMachine": {}});
    for context in [context_object(), json!({}), empty_sections] {
        let (status, out) = test_state(
            &server,
            json!({"definition": plain, "context": context.to_string(),
                   "mock": {"result": r#"{"n": 1}"#}}),
        )
        .await;
        assert_eq!(status, 200, "{out}");
        assert_eq!(
            parsed(&out, "output"),
            json!({"Context": context, "Out": {"n": 1}})
        );
    }
    let reading =
        task(json!({"FunctionName": "f", "Payload": {"Input.$": "$$.Execution.Input.values"}}));
    let (status, out) = test_state(
        &server,
        json!({"definition": reading, "inspectionLevel": "DEBUG",
               "context": context_object().to_string(), "mock": {"result": "{}"}}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        parsed(&out["inspectionData"], "afterParameters"),
        json!({"FunctionName": "f", "Payload": {"Input": ["a", "b"]}})
    );
    // the token of a callback task is the context's
    let callback = json!({
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": "q", "MessageBody": {"TaskToken.$": "$$.Task.Token"}}, "End": true,
    })
    .to_string();
    let mut with_task = context_object();
    with_task["Task"] = json!({"Token": "abcd123"});
    let (status, out) = test_state(
        &server,
        json!({"definition": callback, "inspectionLevel": "DEBUG",
               "context": with_task.to_string(), "mock": {"result": "{}"}}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        parsed(&out["inspectionData"], "afterParameters"),
        json!({"QueueUrl": "q", "MessageBody": {"TaskToken": "abcd123"}})
    );
}

#[tokio::test]
async fn a_context_object_is_refused_in_aws_words_for_a_field_aws_does_not_allow() {
    let (_dir, server) = server();
    let task = json!({"Type": "Task", "Resource": LAMBDA_INVOKE, "End": true}).to_string();
    let mut with_task = context_object();
    with_task["Task"] = json!({"Token": "abcd123"});
    let prefix = "Invalid Context object provided: ";
    for (context, message) in [
        (json!({"Execution": {"Id": 1}}), "Execution.Id must be a string".to_string()),
        (json!({"Map": {}}), "'Map' field is not supported when mocking a Context object".into()),
        (json!({"Execution": {"pokemon": "squirtle"}}), "Field 'pokemon' is not allowed".into()),
        (json!({"Pokedex": {}}), "Field 'Pokedex' is not allowed".into()),
        (with_task, "Context object contains 'Task' when state is not a Task state with a '.sync' or '.waitForTaskToken' service integration pattern".into()),
    ] {
        let got = refusal(
            &server,
            json!({"definition": task, "context": context.to_string(), "mock": {"result": "{}"}}),
        )
        .await;
        assert_eq!(got, validation(&format!("{prefix}{message}")), "{context}");
    }
}

#[tokio::test]
async fn mocks_are_refused_in_aws_words_where_teststate_does_not_take_them() {
    let (_dir, server) = server();
    let map = |extra: Value| {
        let mut m = json!({"Type": "Map", "End": true,
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}});
        m.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        m.to_string()
    };
    let parallel = json!({"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}]})
    .to_string();
    let task = json!({"Type": "Task", "Resource": LAMBDA_INVOKE, "End": true}).to_string();
    let writer = json!({"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                                         "Parameters": {"Bucket": "b", "Prefix": "p"}}});
    for ty in ["Pass", "Fail", "Succeed"] {
        let def = match ty {
            "Pass" => r#"{"Type": "Pass", "End": true}"#,
            "Fail" => r#"{"Type": "Fail"}"#,
            _ => r#"{"Type": "Succeed"}"#,
        };
        for mock in [
            json!({"result": "1"}),
            json!({"errorOutput": {"error": "E"}}),
        ] {
            let got = refusal(&server, json!({"definition": def, "mock": mock})).await;
            assert_eq!(
                got,
                validation(&format!(
                    "State type '{ty}' is not supported when a mock is specified"
                ))
            );
        }
    }
    for def in [map(json!({})), parallel.clone()] {
        let got = refusal(&server, json!({"definition": def})).await;
        assert_eq!(got, (400, "InvalidDefinition".into(),
            "TestState API does not support Map or Parallel states. Supported state types include: [Task, Wait, Pass, Succeed, Fail, Choice]".into()));
    }
    for (body, message) in [
        (
            json!({"definition": task, "mock": {"result": "{}", "errorOutput": {"error": "E"}}}),
            "A test mock should have only one of the following fields: [result, errorOutput].",
        ),
        (
            json!({"definition": task, "revealSecrets": true, "mock": {"result": "{}"}}),
            "TestState does not support RevealSecrets when a mock is specified.",
        ),
        (
            json!({"definition": map(json!({})), "mock": {"result": "{}"}}),
            "Mocked result must be an array.",
        ),
        (
            json!({"definition": map(writer), "mock": {"result": "[]"}}),
            "Mocked result must be a JSON object.",
        ),
        (
            json!({"definition": parallel, "mock": {"result": "{}"}}),
            "Mocked result must be an array.",
        ),
        (
            json!({"definition": parallel, "mock": {"result": "[1, 2, 3]"}}),
            "Mocked result must contain the same number of items as number of Parallel branches.",
        ),
    ] {
        assert_eq!(
            refusal(&server, body.clone()).await,
            validation(message),
            "{body}"
        );
    }
    let (status, out) = test_state(
        &server,
        json!({"definition": parallel, "mock": {"result": "[1, 2]"}}),
    )
    .await;
    assert_eq!(
        (status, parsed(&out, "output")),
        (200, json!([1, 2])),
        "{out}"
    );
}

/// botocore's models in the test tools' venv (scripts/tools.sh installs boto3 there).
fn botocore_models() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let lib = root.join(".tools/venv/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| e.path().join("site-packages/botocore/data"))
            .find(|d| d.join("stepfunctions").is_dir())
    });
    found.unwrap_or_else(|| {
        panic!(
            "botocore's models are missing under {} (run scripts/tools.sh test)",
            lib.display()
        )
    })
}

#[tokio::test]
#[ignore = "needs botocore's API models (.tools/venv; make test installs them)"]
async fn a_mocked_result_is_checked_against_the_api_model_of_its_operation_as_aws_checks_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(
        dir.path(),
        Options {
            api_models: Some(botocore_models()),
            ..Options::default()
        },
    );
    let task =
        |resource: &str| json!({"Type": "Task", "Resource": resource, "End": true}).to_string();
    let put_events = task("arn:aws:states:::events:putEvents");
    let start = task("arn:aws:states:::states:startExecution");
    let prefix = "Mock result schema validation error: ";
    // (definition, mocked result, mode, AWS's message or None: accepted)
    let cases: Vec<(String, Value, Option<&str>, Option<&str>)> = vec![
        (put_events.clone(), json!({"random": "json"}), None, None),
        (put_events.clone(), json!({}), None, None),
        (
            put_events.clone(),
            json!({"Entries": "x"}),
            Some("PRESENT"),
            Some("Field 'Entries' must be an array"),
        ),
        (
            put_events.clone(),
            json!({"Entries": [{"EventId": ["x"]}]}),
            None,
            Some("Field 'EventId' must be a string"),
        ),
        (
            put_events.clone(),
            json!({"Entries": [{"EventId": "ok"}, {"EventId": ["x"]}]}),
            None,
            Some("Field 'EventId' must be a string"),
        ),
        (
            start.clone(),
            json!({}),
            None,
            Some("Required field 'ExecutionArn' is missing"),
        ),
        (
            start.clone(),
            json!({"executionArn": "a", "startDate": "d"}),
            None,
            Some("Required field 'ExecutionArn' is missing"),
        ),
        (start.clone(), json!({}), Some("PRESENT"), None),
        (
            start.clone(),
            json!({"executionArn": "a", "startDate": "d"}),
            Some("PRESENT"),
            None,
        ),
        (
            start.clone(),
            json!({"StartDate": true}),
            None,
            Some("Field 'StartDate' must be a string"),
        ),
        (
            start.clone(),
            json!({"StartDate": 1764103483}),
            Some("PRESENT"),
            Some("Field 'StartDate' must be a string"),
        ),
        (
            start.clone(),
            json!({"ExecutionArn": 1764103483}),
            Some("PRESENT"),
            Some("Field 'ExecutionArn' must be a string"),
        ),
        (
            start.clone(),
            json!({"ExecutionArn": 1}),
            Some("NONE"),
            None,
        ),
        (
            task(LAMBDA_INVOKE),
            json!({"StatusCode": "200"}),
            None,
            Some("Field 'StatusCode' must be a number"),
        ),
        (
            task(LAMBDA_INVOKE),
            json!({"StatusCode": 200, "Payload": {"any": "json"}}),
            None,
            None,
        ),
        (
            task("arn:aws:states:::dynamodb:putItem"),
            json!({"ConsumedCapacity": {"CapacityUnits": "123.45"}}),
            None,
            Some("Field 'CapacityUnits' must be a number"),
        ),
        (
            task("arn:aws:states:::aws-sdk:s3:getObject"),
            json!({"ContentLength": "9000"}),
            Some("PRESENT"),
            Some("Field 'ContentLength' must be a number"),
        ),
        (
            task("arn:aws:states:::aws-sdk:s3:getObject"),
            json!({"StorageClass": "Papyrus"}),
            None,
            Some("Field 'StorageClass' is not an expected value"),
        ),
        (
            task("arn:aws:states:::aws-sdk:kms:encrypt"),
            json!({"CiphertextBlob": 123}),
            None,
            Some("Field 'CiphertextBlob' must be a string"),
        ),
        (
            task("arn:aws:states:::aws-sdk:kms:encrypt"),
            json!({"CiphertextBlob": ""}),
            None,
            Some("Field 'CiphertextBlob' is smaller than the minimum length"),
        ),
        (
            task("arn:aws:states:::aws-sdk:lambda:getFunction"),
            json!({"Configuration": {"MemorySize": 127}}),
            None,
            Some("Field 'MemorySize' is less than the minimum value"),
        ),
        // the bound is the model's: AWS's recorded answer refused 10241 when Lambda's maximum
        // was 10240; botocore's model of today says 32768
        (
            task("arn:aws:states:::aws-sdk:lambda:getFunction"),
            json!({"Configuration": {"MemorySize": 32769}}),
            None,
            Some("Field 'MemorySize' exceeds the maximum value"),
        ),
        // a .sync result is the job's description, not checked
        (
            task("arn:aws:states:::states:startExecution.sync"),
            json!({}),
            None,
            None,
        ),
    ];
    for (definition, result, mode, expected) in cases {
        let mut mock = json!({"result": result.to_string()});
        if let Some(m) = mode {
            mock["fieldValidationMode"] = json!(m);
        }
        let body = json!({"definition": definition, "mock": mock});
        let (status, out) = test_state(&server, body.clone()).await;
        match expected {
            Some(m) => assert_eq!(
                (status, out["message"].as_str().unwrap_or("")),
                (400, format!("{prefix}{m}").as_str()),
                "{body}: {out}"
            ),
            None => assert_eq!(
                (status, &out["status"], parsed(&out, "output")),
                (200, &json!("SUCCEEDED"), result),
                "{body}: {out}"
            ),
        }
    }
}

#[tokio::test]
async fn a_mocked_map_at_debug_shows_its_items_their_selected_inputs_and_its_limits() {
    let (_dir, server) = server();
    let map = json!({
        "Type": "Map", "InputPath": "$.order", "ItemsPath": "$.items", "MaxConcurrency": 1,
        "ToleratedFailureCount": 2,
        "ItemSelector": {"n.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index", "who.$": "$.who"},
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "ResultSelector": {"count.$": "States.ArrayLength($)"}, "ResultPath": "$.r", "End": true,
    })
    .to_string();
    let input = json!({"order": {"items": [3, 4], "who": "ann"}});
    let (status, out) = test_state(
        &server,
        json!({"definition": map, "input": input.to_string(), "inspectionLevel": "DEBUG",
               "mock": {"result": "[30, 40]"}}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    let data = out["inspectionData"].as_object().unwrap();
    let mut keys: Vec<&str> = data.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "afterInputPath",
            "afterItemSelector",
            "afterItemsPath",
            "afterResultPath",
            "afterResultSelector",
            "input",
            "maxConcurrency",
            "toleratedFailureCount"
        ]
    );
    let d = &out["inspectionData"];
    assert_eq!(parsed(d, "afterItemsPath"), json!([3, 4]));
    assert_eq!(
        parsed(d, "afterItemSelector"),
        json!([{"n": 3, "i": 0, "who": "ann"}, {"n": 4, "i": 1, "who": "ann"}])
    );
    assert_eq!(
        (&d["maxConcurrency"], &d["toleratedFailureCount"]),
        (&json!(1), &json!(2))
    );
    assert_eq!(parsed(d, "afterResultSelector"), json!({"count": 2}));
    assert_eq!(
        parsed(d, "afterResultPath"),
        json!({"order": {"items": [3, 4], "who": "ann"}, "r": {"count": 2}})
    );
}

#[tokio::test]
async fn debug_shows_the_variables_after_the_state_the_given_ones_and_those_it_assigned() {
    let (_dir, server) = server();
    let jsonata = json!({
        "Type": "Pass", "QueryLanguage": "JSONata",
        "Assign": {"total": "{% $base + $states.input.n %}", "seen": true},
        "Output": "{% $total %}", "End": true,
    })
    .to_string();
    let (status, out) = test_state(
        &server,
        json!({"definition": jsonata, "input": r#"{"n": 2}"#, "inspectionLevel": "DEBUG",
               "variables": r#"{"base": 40, "total": 0}"#}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        parsed(&out, "output"),
        json!(0),
        "Output sees the variables before Assign"
    );
    assert_eq!(
        parsed(&out["inspectionData"], "variables"),
        json!({"base": 40, "total": 42, "seen": true})
    );
    let jsonpath = json!({"Type": "Pass", "Assign": {"x.$": "$.n"}, "End": true}).to_string();
    let (_, out) = test_state(
        &server,
        json!({"definition": jsonpath, "input": r#"{"n": 7}"#, "inspectionLevel": "DEBUG"}),
    )
    .await;
    assert_eq!(
        parsed(&out["inspectionData"], "variables"),
        json!({"x": 7}),
        "{out}"
    );
    // no variables: no member
    let (_, out) = test_state(
        &server,
        json!({"definition": r#"{"Type": "Pass", "End": true}"#, "inspectionLevel": "DEBUG"}),
    )
    .await;
    assert_eq!(out["inspectionData"].get("variables"), None, "{out}");
}
