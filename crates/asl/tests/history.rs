//! The history where the executions recorded on AWS (`aws_histories.rs`) do not reach: a
//! DISTRIBUTED Map that fails or writes its results, a Parallel retried then caught, an
//! evaluation failure that a Catcher takes.

use mdlc_asl::{ExecutionOptions, ExecutionStatus, HistoryEvent, StateMachine};
use serde_json::{Value, json};

async fn run(def: Value, input: Value) -> mdlc_asl::Execution {
    let sm = StateMachine::from_value(&def).unwrap_or_else(|e| panic!("invalid definition: {e}"));
    let opts = ExecutionOptions {
        record_history: true,
        state_machine_name: "M".into(),
        ..Default::default()
    };
    sm.execute(input, opts).await
}

fn types(h: &[HistoryEvent]) -> Vec<&str> {
    h.iter().map(|e| e.event_type.as_str()).collect()
}

fn find<'a>(h: &'a [HistoryEvent], ty: &str) -> &'a HistoryEvent {
    h.iter()
        .find(|e| e.event_type == ty)
        .unwrap_or_else(|| panic!("no {ty} in {:?}", types(h)))
}

fn distributed(processor_state: Value, extra: Value) -> Value {
    let mut map = json!({"Type": "Map", "End": true,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "S", "States": {"S": processor_state}}});
    if let (Value::Object(m), Value::Object(x)) = (&mut map, extra) {
        m.extend(x);
    }
    json!({"StartAt": "Dist", "States": {"Dist": map}})
}

#[tokio::test]
async fn given_a_distributed_map_whose_iteration_fails_then_the_parent_history_shows_the_map_run_failing_and_no_iteration()
 {
    let def = distributed(
        json!({"Type": "Fail", "Error": "Boom", "Cause": "item"}),
        json!({}),
    );
    let exec = run(def, json!([1, 2])).await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    assert_eq!(
        types(&exec.history),
        [
            "ExecutionStarted",
            "MapStateEntered",
            "MapStateStarted",
            "MapRunStarted",
            "MapRunFailed",
            "MapStateFailed",
            "ExecutionFailed"
        ]
    );
    let ids: Vec<(u64, u64)> = exec
        .history
        .iter()
        .map(|e| (e.id, e.previous_event_id))
        .collect();
    assert_eq!(
        ids,
        [(1, 0), (2, 0), (3, 2), (4, 3), (5, 4), (6, 5), (7, 6)]
    );
    assert_eq!(
        find(&exec.history, "MapRunFailed").details,
        json!({"error": "Boom", "cause": "item"})
    );
    let arn = find(&exec.history, "MapRunStarted").details["mapRunArn"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        arn.starts_with("arn:aws:states:us-east-1:123456789012:mapRun:M/"),
        "{arn}"
    );
}

#[tokio::test]
async fn given_a_distributed_map_then_its_results_name_the_map_run_of_the_parent_history() {
    let def = distributed(
        json!({"Type": "Pass", "End": true}),
        json!({"ResultWriter": {"WriterConfig": {"Transformation": "NONE", "OutputType": "JSON"}}}),
    );
    let exec = run(def, json!(["a"])).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.cause);
    let arn = find(&exec.history, "MapRunStarted").details["mapRunArn"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let child = exec
        .output
        .as_ref()
        .and_then(|o| o.pointer("/0/ExecutionArn"))
        .and_then(Value::as_str)
        .unwrap_or("");
    assert!(
        !arn.is_empty() && child.starts_with(&arn),
        "{child} is not a child of {arn}"
    );
    assert_eq!(
        types(&exec.history)[2..],
        [
            "MapStateStarted",
            "MapRunStarted",
            "MapRunSucceeded",
            "MapStateSucceeded",
            "MapStateExited",
            "ExecutionSucceeded"
        ]
    );
    // MapStateExited points to MapRunSucceeded, past MapStateSucceeded
    let succeeded = find(&exec.history, "MapRunSucceeded").id;
    assert_eq!(
        find(&exec.history, "MapStateExited").previous_event_id,
        succeeded
    );
}

#[tokio::test]
async fn given_a_parallel_retried_then_caught_then_it_is_closed_as_failed_once() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Next": "After",
            "Branches": [{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}],
            "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 1, "IntervalSeconds": 1}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "After"}]},
        "After": {"Type": "Succeed"}}});
    let exec = run(def, json!({})).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.cause);
    assert_eq!(
        types(&exec.history),
        [
            "ExecutionStarted",
            "ParallelStateEntered",
            "ParallelStateStarted",
            "FailStateEntered",
            "ParallelStateStarted",
            "FailStateEntered",
            "ParallelStateFailed",
            "ParallelStateExited",
            "SucceedStateEntered",
            "SucceedStateExited",
            "ExecutionSucceeded"
        ]
    );
    let prevs: Vec<u64> = exec.history.iter().map(|e| e.previous_event_id).collect();
    // the second attempt starts after the first attempt's last event
    assert_eq!(prevs, [0, 0, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert_eq!(
        find(&exec.history, "ParallelStateFailed").details,
        Value::Null
    );
}

#[tokio::test]
async fn given_jsonata_items_that_fail_under_a_catcher_then_evaluation_failed_and_map_state_failed_precede_the_exit()
 {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "First", "States": {
        "First": {"Type": "Pass", "Next": "M"},
        "M": {"Type": "Map", "Items": "{% $states.input.nothing.here %}", "Next": "After",
            "ItemProcessor": {"StartAt": "S", "States": {"S": {"Type": "Succeed"}}},
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "After"}]},
        "After": {"Type": "Succeed"}}});
    let exec = run(def, json!({})).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.cause);
    assert_eq!(
        types(&exec.history)[3..7],
        [
            "MapStateEntered",
            "EvaluationFailed",
            "MapStateFailed",
            "MapStateExited"
        ]
    );
    let entered = find(&exec.history, "MapStateEntered");
    let failed = find(&exec.history, "EvaluationFailed");
    assert_eq!(failed.previous_event_id, entered.previous_event_id);
    assert_eq!(failed.details["error"], "States.QueryEvaluationError");
    assert_eq!(failed.details["location"], "Items");
    assert_eq!(failed.details["state"], "M");
    assert_eq!(
        find(&exec.history, "MapStateFailed").previous_event_id,
        failed.id
    );
}
