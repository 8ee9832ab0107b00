//! A DISTRIBUTED Map through `mdlc serve`, driven by AWS's Rust SDK: its Map Run
//! (ListMapRuns, DescribeMapRun), its child executions (ListExecutions with `mapRunArn`,
//! DescribeExecution, GetExecutionHistory), AWS's refusals, and all of it after a restart.

mod support;

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType, MapRunStatus};
use mdlc_local::substitute::{LOCAL_ACCOUNT, LOCAL_REGION};
use serde_json::{Value, json};
use support::{DOUBLE, Options, TestServer, code_and_status, create, until_done};

/// Three items through a Distributed Map labelled `Doubling`: a negative `n` fails its child
/// (one failure is tolerated), the others are doubled by a Task.
fn distributed() -> Value {
    json!({
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 2,
                "ToleratedFailureCount": 1,
                "Label": "Doubling",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Check",
                    "States": {
                        "Check": {
                            "Type": "Choice",
                            "Choices": [{"Variable": "$.n", "NumericLessThan": 0, "Next": "Bad"}],
                            "Default": "Double"
                        },
                        "Bad": {"Type": "Fail", "Error": "Negative", "Cause": "n < 0"},
                        "Double": {"Type": "Task", "Resource": DOUBLE, "End": true}
                    }
                },
                "End": true
            }
        }
    })
}

fn states_arn(rest: &str) -> String {
    format!("arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{rest}")
}

/// Checks the Map Run and its children as the API shows them; returns a succeeded child's ARN.
async fn check_map_run(client: &aws_sdk_sfn::Client, parent: &str) -> String {
    let runs = client
        .list_map_runs()
        .execution_arn(parent)
        .send()
        .await
        .expect("ListMapRuns");
    assert_eq!(runs.map_runs().len(), 1);
    let item = &runs.map_runs()[0];
    let run_arn = item.map_run_arn().to_string();
    assert!(
        run_arn.starts_with(&states_arn("mapRun:Dist/Doubling:")),
        "{run_arn}"
    );
    assert_eq!(item.execution_arn(), parent);
    assert_eq!(
        item.state_machine_arn(),
        states_arn("stateMachine:Dist/Doubling")
    );
    assert!(item.stop_date().is_some());

    let d = client
        .describe_map_run()
        .map_run_arn(&run_arn)
        .send()
        .await
        .expect("DescribeMapRun");
    assert_eq!(d.status(), &MapRunStatus::Succeeded);
    assert_eq!(d.execution_arn(), parent);
    assert_eq!(d.max_concurrency(), 2);
    assert_eq!(d.tolerated_failure_count(), 1);
    assert_eq!(d.tolerated_failure_percentage(), 0.0);
    for counts in [
        d.execution_counts().map(|c| {
            (
                c.total(),
                c.succeeded(),
                c.failed(),
                c.pending(),
                c.running(),
                c.results_written(),
            )
        }),
        d.item_counts().map(|c| {
            (
                c.total(),
                c.succeeded(),
                c.failed(),
                c.pending(),
                c.running(),
                c.results_written(),
            )
        }),
    ] {
        assert_eq!(counts, Some((3, 2, 1, 0, 0, 2)));
    }

    // the children, two per page
    let first = client
        .list_executions()
        .map_run_arn(&run_arn)
        .max_results(2)
        .send()
        .await
        .expect("ListExecutions of the map run");
    assert_eq!(first.executions().len(), 2);
    let token = first.next_token().expect("a second page").to_string();
    let second = client
        .list_executions()
        .map_run_arn(&run_arn)
        .max_results(2)
        .next_token(token)
        .send()
        .await
        .expect("the second page");
    let children: Vec<_> = first
        .executions()
        .iter()
        .chain(second.executions())
        .cloned()
        .collect();
    assert_eq!(children.len(), 3);
    let mut statuses: Vec<&str> = children.iter().map(|c| c.status().as_str()).collect();
    statuses.sort();
    assert_eq!(statuses, ["FAILED", "SUCCEEDED", "SUCCEEDED"]);
    for c in &children {
        assert_eq!(c.map_run_arn(), Some(run_arn.as_str()));
        assert_eq!(
            c.state_machine_arn(),
            states_arn("stateMachine:Dist/Doubling")
        );
        assert_eq!(
            c.execution_arn(),
            states_arn(&format!("execution:Dist/Doubling:{}", c.name()))
        );
    }

    // a succeeded child: its description and its own history
    let ok = children
        .iter()
        .find(|c| c.status() == &ExecutionStatus::Succeeded)
        .unwrap();
    let d = client
        .describe_execution()
        .execution_arn(ok.execution_arn())
        .send()
        .await
        .expect("DescribeExecution of a child");
    assert_eq!(d.map_run_arn(), Some(run_arn.as_str()));
    let m = client
        .describe_state_machine_for_execution()
        .execution_arn(ok.execution_arn())
        .send()
        .await
        .expect("DescribeStateMachineForExecution of a child");
    assert_eq!(m.map_run_arn(), Some(run_arn.as_str()));
    assert_eq!(m.label(), Some("Doubling"));
    let input: Value = serde_json::from_str(d.input().unwrap()).unwrap();
    let output: Value = serde_json::from_str(d.output().unwrap()).unwrap();
    assert_eq!(output["n"], json!(input["n"].as_i64().unwrap() * 2));
    let h = client
        .get_execution_history()
        .execution_arn(ok.execution_arn())
        .send()
        .await
        .expect("GetExecutionHistory of a child");
    let types: Vec<&HistoryEventType> = h.events().iter().map(|e| e.r#type()).collect();
    assert_eq!(types.first(), Some(&&HistoryEventType::ExecutionStarted));
    assert_eq!(types.last(), Some(&&HistoryEventType::ExecutionSucceeded));
    assert!(types.contains(&&HistoryEventType::TaskStateEntered));
    assert!(!types.contains(&&HistoryEventType::MapIterationStarted));
    let ids: Vec<i64> = h.events().iter().map(|e| e.id()).collect();
    assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>());

    // the failed child ends with its Fail state's error
    let bad = children
        .iter()
        .find(|c| c.status() == &ExecutionStatus::Failed)
        .unwrap();
    let h = client
        .get_execution_history()
        .execution_arn(bad.execution_arn())
        .reverse_order(true)
        .send()
        .await
        .unwrap();
    let last = &h.events()[0];
    assert_eq!(last.r#type(), &HistoryEventType::ExecutionFailed);
    assert_eq!(
        last.execution_failed_event_details()
            .and_then(|d| d.error()),
        Some("Negative")
    );
    ok.execution_arn().to_string()
}

#[tokio::test]
async fn a_distributed_map_has_a_map_run_with_child_executions_kept_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default());
    let client = server.client().await;
    let sm = create(&client, "Dist", &distributed()).await;
    let started = client
        .start_execution()
        .state_machine_arn(&sm)
        .name("run")
        .input(r#"{"items": [{"n": 1}, {"n": -1}, {"n": 3}]}"#)
        .send()
        .await
        .unwrap();
    let parent = started.execution_arn().to_string();
    let done = until_done(&client, &parent).await;
    assert_eq!(done.status(), &ExecutionStatus::Succeeded);
    let out: Value = serde_json::from_str(done.output().unwrap()).unwrap();
    assert_eq!(out[0], json!({"n": 2}));
    assert_eq!(out[1]["Error"], json!("Negative"));
    assert_eq!(out[2], json!({"n": 6}));

    // the parent's history names the run; the children's events are not in it
    let h = client
        .get_execution_history()
        .execution_arn(&parent)
        .send()
        .await
        .unwrap();
    let run_started = h
        .events()
        .iter()
        .find(|e| e.r#type() == &HistoryEventType::MapRunStarted)
        .expect("MapRunStarted");
    let run_arn = run_started
        .map_run_started_event_details()
        .and_then(|d| d.map_run_arn())
        .unwrap()
        .to_string();
    assert!(
        !h.events()
            .iter()
            .any(|e| e.r#type() == &HistoryEventType::TaskStateEntered)
    );

    let child = check_map_run(&client, &parent).await;
    // the children are not executions of the state machine
    let of_machine = client
        .list_executions()
        .state_machine_arn(&sm)
        .send()
        .await
        .unwrap();
    assert_eq!(of_machine.executions().len(), 1);

    // refusals
    let both = client
        .list_executions()
        .state_machine_arn(&sm)
        .map_run_arn(&run_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_status(&both), ("ValidationException".into(), 400));
    let unknown = states_arn("mapRun:Dist/Doubling:00000000-0000-0000-0000-000000000000");
    let e = client
        .describe_map_run()
        .map_run_arn(&unknown)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_status(&e), ("ResourceNotFound".into(), 400));
    let e = client
        .list_executions()
        .map_run_arn(&unknown)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_status(&e), ("ResourceNotFound".into(), 400));
    let e = client
        .describe_map_run()
        .map_run_arn(&sm)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_status(&e), ("InvalidArn".into(), 400));
    let e = client
        .list_map_runs()
        .execution_arn(states_arn("execution:Dist:nobody"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_status(&e), ("ExecutionDoesNotExist".into(), 400));
    let none = client
        .list_map_runs()
        .execution_arn(&child)
        .send()
        .await
        .unwrap();
    assert!(none.map_runs().is_empty());

    // after a restart the run and its children are still there
    server.kill();
    let server = TestServer::start(dir.path(), Options::default());
    let client = server.client().await;
    assert_eq!(check_map_run(&client, &parent).await, child);
    let d = client
        .describe_execution()
        .execution_arn(&child)
        .send()
        .await
        .expect("the child after the restart");
    assert_eq!(d.status(), &ExecutionStatus::Succeeded);
}
