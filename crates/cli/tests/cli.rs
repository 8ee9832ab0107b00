//! End-to-end tests of the `mdlc` binary: stdout is exactly one JSON object; exit codes 0/1/2.

mod common;

use std::process::Output;

use common::{assert_exit, mdlc_command, mdlc_exits, output_of, tempdir, write};
use serde_json::Value;

fn stdout_json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim().lines().count(),
        1,
        "stdout must be one line: {text}"
    );
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {text}"))
}

const LOOP: &str = r#"{"StartAt":"Init","States":{
  "Init":{"Type":"Pass","Parameters":{"i":0,"n.$":"$.n"},"Next":"Check"},
  "Check":{"Type":"Choice","Choices":[{"Variable":"$.i","NumericLessThanPath":"$.n","Next":"Inc"}],"Default":"Done"},
  "Inc":{"Type":"Pass","Parameters":{"i.$":"States.MathAdd($.i, 1)","n.$":"$.n"},"Next":"Check"},
  "Done":{"Type":"Succeed","OutputPath":"$.i"}}}"#;

#[test]
fn given_a_loop_when_executed_then_prints_the_output_and_exits_0() {
    let dir = tempdir();
    let def = write(dir.path(), "loop.asl.json", LOOP);
    let out = mdlc_exits(&["execute", &def, "--input", r#"{"n": 1000}"#], 0);
    let v = stdout_json(&out);
    assert_eq!(v["status"], "SUCCEEDED");
    assert_eq!(v["output"], 1000);
    assert_eq!(v["error"], Value::Null);
    assert_eq!(v["cause"], Value::Null);
    assert!(v.get("history").is_none());
}

#[test]
fn given_a_fail_state_when_executed_then_exits_1_with_error_and_cause() {
    let dir = tempdir();
    let def = write(
        dir.path(),
        "fail.json",
        r#"{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"Boom","Cause":"because"}}}"#,
    );
    let out = mdlc_exits(&["execute", &def], 1);
    let v = stdout_json(&out);
    assert_eq!(v["status"], "FAILED");
    assert_eq!(v["error"], "Boom");
    assert_eq!(v["cause"], "because");
    assert!(v.get("output").is_none());
}

#[test]
fn given_an_invalid_definition_when_executed_or_validated_then_exits_2_listing_every_problem() {
    let dir = tempdir();
    let def = write(
        dir.path(),
        "bad.json",
        r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Nowhere"},"B":{"Type":"Task","Resource":"arn:x","End":true,"Retry":[{"ErrorEquals":["E"],"BackoffRate":0.5}]}}}"#,
    );
    for cmd in ["execute", "validate"] {
        let out = mdlc_exits(&[cmd, &def], 2);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("/States/A/Next"), "{err}");
        assert!(
            err.contains("/States/B/Retry/0/BackoffRate: must be >= 1.0"),
            "{err}"
        );
        assert!(
            err.contains("/States/B: state 'B' is not reachable"),
            "{err}"
        );
    }
}

#[test]
fn given_a_valid_definition_when_validated_then_exits_0() {
    let dir = tempdir();
    let def = write(dir.path(), "loop.json", LOOP);
    mdlc_exits(&["validate", &def], 0);
}

#[test]
fn given_bad_usage_or_bad_input_then_exits_2() {
    let dir = tempdir();
    let def = write(dir.path(), "loop.json", LOOP);
    for args in [
        vec!["execute"],
        vec!["execute", &def, "--input", "{not json"],
        vec!["execute", &def, "--input", "{}", "--input-file", &def],
        vec!["execute", &def, "--mock-config", &def],
        vec!["validate", "/nonexistent/x.json"],
    ] {
        mdlc_exits(&args, 2);
    }
    let state = dir.path().join("state").display().to_string();
    let out = mdlc_exits(
        &[
            "serve",
            "--port",
            "0",
            "--state-dir",
            &state,
            "--api-models",
            &def,
        ],
        2,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--api-models") && stderr.contains("not botocore's data folder"),
        "{stderr}"
    );
}

#[test]
fn given_a_task_without_invoker_then_the_error_names_the_resource() {
    let dir = tempdir();
    let def = write(
        dir.path(),
        "task.json",
        r#"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:train","End":true}}}"#,
    );
    let out = mdlc_exits(&["execute", &def], 1);
    let v = stdout_json(&out);
    assert_eq!(v["error"], "States.TaskFailed");
    let cause = v["cause"].as_str().unwrap_or("");
    assert!(
        cause.contains("arn:aws:lambda:us-east-1:123456789012:function:train"),
        "{cause}"
    );
}

#[test]
fn given_a_mock_config_then_tasks_answer_from_the_test_case() {
    let dir = tempdir();
    let def = write(
        dir.path(),
        "flow.asl.json",
        r#"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
            "Retry":[{"ErrorEquals":["Lambda.ServiceException"],"MaxAttempts":2}],
            "Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.error","Next":"Failed"}],
            "OutputPath":"$.Payload","End":true},
            "Failed":{"Type":"Fail","ErrorPath":"$.error.Error","CausePath":"$.error.Cause"}}}"#,
    );
    let mocks = write(
        dir.path(),
        "mocks.json",
        r#"{"StateMachines":{"Flow":{"TestCases":{"Happy":{"T":"Ok"},"Sad":{"T":"Broken"}}}},
            "MockedResponses":{
              "Ok":{"0":{"Throw":{"Error":"Lambda.ServiceException","Cause":"busy"}},"1":{"Return":{"Payload":{"v":1}}}},
              "Broken":{"0-2":{"Throw":{"Error":"ModelNotFound","Cause":"no model"}}}}}"#,
    );
    let test_case = |case: &str, code: i32| {
        mdlc_exits(
            &[
                "execute",
                &def,
                "--mock-config",
                &mocks,
                "--test-case",
                case,
            ],
            code,
        )
    };
    let out = test_case("Happy", 0);
    assert_eq!(stdout_json(&out)["output"], serde_json::json!({"v": 1}));
    let out = test_case("Sad", 1);
    let v = stdout_json(&out);
    assert_eq!(v["error"], "ModelNotFound");
    assert_eq!(v["cause"], "no model");
    test_case("Nope", 2);
}

#[test]
fn given_history_flag_then_prints_events_in_order() {
    let dir = tempdir();
    let def = write(dir.path(), "loop.json", LOOP);
    let input = write(dir.path(), "input.json", r#"{"n": 2}"#);
    let out = mdlc_exits(&["execute", &def, "--input-file", &input, "--history"], 0);
    let v = stdout_json(&out);
    let h = v["history"].as_array().cloned().unwrap_or_default();
    let types: Vec<&str> = h.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types.first(), Some(&"ExecutionStarted"));
    assert_eq!(types.last(), Some(&"ExecutionSucceeded"));
    assert_eq!(types.get(1), Some(&"PassStateEntered"));
    assert!(types.contains(&"ChoiceStateExited"));
    for (i, e) in h.iter().enumerate() {
        assert_eq!(e["id"], i as u64 + 1);
        // a straight line of states: each event follows the one before it, but the first
        // state's, which points to 0 as on AWS
        let prev = if i == 1 { 0 } else { i as u64 };
        assert_eq!(e["previousEventId"], prev, "{e}");
        assert!(e["timestamp"].is_number(), "{e}");
    }
    // GetExecutionHistory's shape: execution data as JSON text, with its truncation flag
    assert_eq!(h[0]["executionStartedEventDetails"]["input"], r#"{"n":2}"#);
    assert_eq!(
        h[0]["executionStartedEventDetails"]["inputDetails"],
        serde_json::json!({"truncated": false})
    );
    assert_eq!(h[1]["stateEnteredEventDetails"]["name"], "Init");
    assert_eq!(
        h.last()
            .map(|e| e["executionSucceededEventDetails"]["output"].clone()),
        Some("2".into())
    );
}

#[test]
fn given_a_relative_state_dir_when_the_demo_runs_then_every_job_finds_its_files() {
    // `make demo` runs `mdlc demo` with the default, relative `.mdlc`: job programs run in
    // directories of their own, so every path they get must still be valid there.
    let dir = tempdir();
    let args = ["demo", "--json", "--state-dir", "relative-state"];
    let out = output_of(mdlc_command(&args).current_dir(dir.path()));
    assert_exit(&args, &out, 0);
    let summary: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("mdlc demo --json printed no JSON object: {e}"));
    let versions = summary["versions"].as_array().map(Vec::len);
    assert_eq!(versions, Some(2), "{summary:#}");
    assert!(dir.path().join("relative-state/report.html").is_file());
}

/// Issue 16's CLI faults: `--quiet` is accepted without `--local` (there is nothing to quiet),
/// and a state directory that `mdlc execute --local` made is one `mdlc demo` may clean.
#[test]
fn quiet_needs_no_local_and_a_state_dir_made_by_execute_local_is_one_the_demo_cleans() {
    let dir = tempdir();
    let def = write(dir.path(), "loop.asl.json", LOOP);
    let out = mdlc_exits(&["execute", &def, "--input", r#"{"n": 3}"#, "--quiet"], 0);
    assert_eq!(stdout_json(&out)["output"], 3);

    let state = dir.path().join("state");
    let state_arg = state.to_string_lossy().into_owned();
    let args = [
        "execute",
        &def,
        "--input",
        r#"{"n": 2}"#,
        "--local",
        "--quiet",
        "--state-dir",
        &state_arg,
    ];
    let out = mdlc_exits(&args, 0);
    assert_eq!(stdout_json(&out)["output"], 2);
    assert!(
        state.join(mdlc_local::STATE_MARKER).is_file(),
        "the state directory execute --local made carries the local cloud's marker"
    );
    // The demo's own preparation: a marked directory is cleaned, not refused.
    mdlc_local::demo::prepare_state_dir(&state)
        .unwrap_or_else(|e| panic!("the demo refuses the state directory of execute --local: {e}"));
    assert!(state.join(mdlc_local::STATE_MARKER).is_file());
    assert!(
        !state.join("executions").exists(),
        "the demo started from a clean directory"
    );
}
