//! What the engine hands an observer about a DISTRIBUTED Map's Map Run
//! (`ExecutionObserver::on_map_run`): the run when it starts and when it ends, its counts, and
//! each child execution with its own history, while the parent's history keeps only the Map
//! Run events.

use std::sync::{Arc, Mutex};

use mdlc_asl::{
    ExecutionObserver, ExecutionOptions, ExecutionStatus, HistoryEvent, MapRunReport, StateMachine,
};
use serde_json::{Value, json};

#[derive(Default)]
struct Collect {
    events: Mutex<Vec<HistoryEvent>>,
    runs: Mutex<Vec<MapRunReport>>,
}

impl ExecutionObserver for Collect {
    fn on_event(&self, event: &HistoryEvent) {
        self.events.lock().unwrap().push(event.clone());
    }

    fn on_map_run(&self, run: &MapRunReport) {
        self.runs.lock().unwrap().push(run.clone());
    }
}

fn machine(batch: bool) -> StateMachine {
    let mut map = json!({
        "Type": "Map",
        "ItemsPath": "$.items",
        "MaxConcurrency": 3,
        "ToleratedFailurePercentage": 50,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Check",
            "States": {
                "Check": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.bad", "IsPresent": true, "Next": "Bad"}],
                    "Default": "Good"
                },
                "Bad": {"Type": "Fail", "Error": "Bad.Item", "Cause": "marked bad"},
                "Good": {"Type": "Pass", "End": true}
            }
        },
        "End": true
    });
    if batch {
        map["ItemBatcher"] = json!({"MaxItemsPerBatch": 2});
        map["Label"] = json!("Batches");
    }
    let def = json!({"StartAt": "Each", "States": {"Each": map}});
    StateMachine::from_json_str(&def.to_string()).expect("a valid machine")
}

async fn run(batch: bool, input: Value) -> (Vec<HistoryEvent>, Vec<MapRunReport>) {
    let seen = Arc::new(Collect::default());
    let opts = ExecutionOptions {
        state_machine_name: "M".into(),
        execution_name: "e".into(),
        observer: Some(seen.clone()),
        ..Default::default()
    };
    let e = machine(batch).execute(input, opts).await;
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{e:?}");
    let events = seen.events.lock().unwrap().clone();
    let runs = seen.runs.lock().unwrap().clone();
    (events, runs)
}

#[tokio::test]
async fn a_map_run_is_reported_at_its_start_and_end_with_each_child_and_its_history() {
    let input = json!({"items": [{"n": 1}, {"bad": true}, {"n": 3}]});
    let (events, runs) = run(false, input).await;
    assert_eq!(runs.len(), 2, "a report at the start and one at the end");
    let (start, end) = (&runs[0], &runs[1]);
    let arn = &start.map_run_arn;
    assert!(
        arn.starts_with("arn:aws:states:us-east-1:123456789012:mapRun:M/"),
        "{arn}"
    );
    assert_eq!(&end.map_run_arn, arn);
    let label = arn.split(':').nth(6).unwrap();
    assert_eq!(
        end.state_machine_arn,
        format!("arn:aws:states:us-east-1:123456789012:stateMachine:{label}")
    );
    assert_eq!(
        end.execution_arn,
        "arn:aws:states:us-east-1:123456789012:execution:M:e"
    );

    assert_eq!(start.status, "RUNNING");
    assert!(start.children.is_empty() && start.stop_date.is_none());
    assert_eq!(start.execution_counts().pending, 3);

    assert_eq!(end.status, "SUCCEEDED");
    assert!(end.stop_date.is_some());
    assert_eq!(
        (
            end.max_concurrency,
            end.tolerated_failure_percentage,
            end.tolerated_failure_count
        ),
        (3, 50.0, 0)
    );
    let c = end.execution_counts();
    assert_eq!(
        (c.total, c.succeeded, c.failed, c.pending, c.running),
        (3, 2, 1, 0, 0)
    );
    assert_eq!(end.item_counts(), c);

    let statuses: Vec<&str> = end.children.iter().map(|c| c.status.as_str()).collect();
    assert_eq!(statuses, ["SUCCEEDED", "FAILED", "SUCCEEDED"]);
    for (i, child) in end.children.iter().enumerate() {
        assert_eq!(child.index, i as u64);
        assert_eq!(
            child.execution_arn,
            format!(
                "arn:aws:states:us-east-1:123456789012:execution:{label}:{}",
                child.name
            )
        );
        let types: Vec<&str> = child
            .history
            .iter()
            .map(|e| e.event_type.as_str())
            .collect();
        assert_eq!(types.first(), Some(&"ExecutionStarted"));
        let ids: Vec<u64> = child.history.iter().map(|e| e.id).collect();
        assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
        assert!(child.stop_date.is_some());
    }
    let good = &end.children[0];
    assert_eq!(good.input, json!({"n": 1}));
    assert_eq!(good.output, Some(json!({"n": 1})));
    let types: Vec<&str> = good.history.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "ChoiceStateEntered",
            "ChoiceStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    let bad = &end.children[1];
    assert_eq!(bad.error.as_deref(), Some("Bad.Item"));
    assert_eq!(bad.history.last().unwrap().event_type, "ExecutionFailed");

    // the parent's history: the Map Run's events, none of the children's
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert!(types.contains(&"MapRunStarted") && types.contains(&"MapRunSucceeded"));
    assert!(
        !types
            .iter()
            .any(|t| t.starts_with("Choice") || *t == "MapIterationStarted")
    );
    let started = events
        .iter()
        .find(|e| e.event_type == "MapRunStarted")
        .unwrap();
    assert_eq!(started.details["mapRunArn"], json!(arn));
}

#[tokio::test]
async fn with_an_item_batcher_a_child_counts_its_batch_in_the_item_counts() {
    let items: Vec<Value> = (0..5).map(|n| json!({"n": n})).collect();
    let (_, runs) = run(true, json!({"items": items})).await;
    let end = runs.last().unwrap();
    assert!(
        end.map_run_arn.contains(":mapRun:M/Batches:"),
        "{}",
        end.map_run_arn
    );
    let e = end.execution_counts();
    let i = end.item_counts();
    assert_eq!((e.total, e.succeeded), (3, 3));
    assert_eq!((i.total, i.succeeded, i.results_written), (5, 5, 5));
    let sizes: Vec<u64> = end.children.iter().map(|c| c.items).collect();
    assert_eq!(sizes, [2, 2, 1]);
}
