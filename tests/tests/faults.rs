//! Fault-injection paths of the project's training and evaluation flows on the local cloud: each
//! ends where the state machine says (Retry → success, or Catch → RecordFailure → Failed) and
//! leaves the registry consistent.

use std::sync::Arc;

use mdlc_asl::{Execution, ExecutionStatus};
use mdlc_core::S3Uri;
use mdlc_core::ports::{ObjectStore, RegistryRead};
use mdlc_emulator::FaultConfig;
use mdlc_local::invoker::FunctionFaults;
use mdlc_local::report::analyse;
use mdlc_local::{LocalCloud, LocalCloudConfig};
use mdlc_tests::ensure_trainer;
use mdlc_trainer::data::{GenerateConfig, Problem, generate};
use serde_json::{Value, json};

const MODEL: &str = "fault-model";
const DATE: &str = "2026-02-01";

async fn cloud(dir: &std::path::Path, faults: &str, function_faults: &str) -> LocalCloud {
    ensure_trainer();
    let mut config = LocalCloudConfig::new(dir.join(".mdlc"));
    config.faults = Some(FaultConfig::parse(faults).unwrap());
    config.function_faults = Some(FunctionFaults::parse(function_faults).unwrap());
    let cloud = LocalCloud::new(config).expect("local cloud");
    let data = generate(&GenerateConfig::new(Problem::Regression, 300, 4, 11)).unwrap();
    let base = format!("s3://{}/datasets/{MODEL}/{DATE}", cloud.bucket());
    for (path, body) in [
        ("train/train.csv", data.train.to_csv()),
        ("validation/validation.csv", data.validation.to_csv()),
        ("evaluation/labels/batch.csv", data.holdout.to_csv()),
    ] {
        put_text(&cloud, &format!("{base}/{path}"), body).await;
    }
    let features: String = data
        .holdout
        .to_csv()
        .lines()
        .map(|l| format!("{}\n", l.split_once(',').map(|x| x.1).unwrap_or("")))
        .collect();
    put_text(
        &cloud,
        &format!("{base}/evaluation/features/batch.csv"),
        features,
    )
    .await;
    cloud
}

async fn put_text(cloud: &LocalCloud, uri: &str, body: String) {
    let uri: S3Uri = uri.parse().unwrap();
    cloud.store().put(&uri, body.into_bytes()).await.unwrap();
}

fn input(tuning: bool) -> Value {
    json!({
        "modelName": MODEL,
        "dataDate": DATE,
        "tuning": {
            "enabled": tuning,
            "maxJobs": 2,
            "maxParallelJobs": 2,
            "staticHyperParameters": {"num_round": "10", "objective": "reg:squarederror", "eval_metric": "rmse"}
        }
    })
}

/// Runs one execution of the project's `flow` ("training" or "evaluation").
async fn run(cloud: &LocalCloud, flow: &str, name: &str, input: Value) -> Execution {
    let machine = cloud
        .state_machine(flow)
        .cloned()
        .unwrap_or_else(|| panic!("no {flow} flow"));
    cloud
        .execute(flow, &machine, name, input, None)
        .await
        .unwrap()
}

async fn train(cloud: &LocalCloud, name: &str, tuning: bool) -> Execution {
    run(cloud, "training", name, input(tuning)).await
}

#[track_caller]
fn assert_succeeded(execution: &Execution) {
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{:?} {:?}",
        execution.error,
        execution.cause
    );
}

async fn registered_versions(cloud: &LocalCloud) -> usize {
    cloud.registry().list_versions(MODEL).await.unwrap().len()
}

fn path_of(
    cloud: &LocalCloud,
    name: &str,
) -> (
    Vec<String>,
    std::collections::BTreeMap<String, mdlc_local::report::StateStats>,
) {
    let record = cloud
        .invoker()
        .journal()
        .records()
        .into_iter()
        .find(|r| r.name == name)
        .expect("journal record");
    let (stats, path) = analyse(&record);
    (path, stats)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_training_job_is_caught_and_nothing_is_registered() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = cloud(dir.path(), "fail:fault-model-*", "").await;
    let execution = train(&cloud, "train-fails", false).await;
    assert_eq!(execution.status, ExecutionStatus::Failed);
    assert_eq!(execution.error.as_deref(), Some("States.TaskFailed"));
    let cause = execution.cause.unwrap_or_default();
    assert!(
        cause.contains("\"TrainingJobStatus\":\"Failed\""),
        "{cause}"
    );
    assert!(cause.contains("FailureReason"), "{cause}");
    let (path, _) = path_of(&cloud, "train-fails");
    assert_eq!(path.last().map(String::as_str), Some("Failed"), "{path:?}");
    assert!(path.contains(&"RecordFailure".to_string()));
    assert!(!path.contains(&"RegisterModel".to_string()));
    assert_eq!(registered_versions(&cloud).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_tuning_calls_are_retried_then_the_flow_succeeds_once() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = cloud(dir.path(), "throttle:createHyperParameterTuningJob:2", "").await;
    let execution = train(&cloud, "train-throttled", true).await;
    assert_succeeded(&execution);
    let (path, stats) = path_of(&cloud, "train-throttled");
    assert_eq!(stats["Tune"].failures, 2, "{path:?}");
    assert_eq!(path.last().map(String::as_str), Some("Registered"));
    assert_eq!(registered_versions(&cloud).await, 1);
    assert_eq!(execution.output.unwrap()["version"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_handler_error_is_retried_and_registers_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = cloud(dir.path(), "", "register-model:DependencyUnavailable:2").await;
    let execution = train(&cloud, "train-handler-retry", false).await;
    assert_succeeded(&execution);
    let (_, stats) = path_of(&cloud, "train-handler-retry");
    assert_eq!(stats["RegisterModel"].failures, 2);
    assert_eq!(registered_versions(&cloud).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_handler_error_fails_the_flow_with_its_name_and_registers_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = cloud(dir.path(), "", "register-model:RegistryConflict").await;
    let execution = train(&cloud, "train-handler-fails", false).await;
    assert_eq!(execution.status, ExecutionStatus::Failed);
    assert_eq!(execution.error.as_deref(), Some("RegistryConflict"));
    let cause: Value = serde_json::from_str(execution.cause.as_deref().unwrap_or("")).unwrap();
    assert_eq!(cause["errorType"], "RegistryConflict");
    assert_eq!(registered_versions(&cloud).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluating_without_a_model_fails_with_model_not_found_and_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = cloud(dir.path(), "", "").await;
    let execution = run(&cloud, "evaluation", "eval-no-model", input(false)).await;
    assert_eq!(execution.status, ExecutionStatus::Failed);
    assert_eq!(execution.error.as_deref(), Some("ModelNotFound"));
    assert!(
        cloud
            .registry()
            .list_evaluations(MODEL, None)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_resource_fails_with_a_clear_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = cloud(dir.path(), "", "").await;
    let machine = Arc::new(
        mdlc_asl::StateMachine::from_value(&json!({
            "StartAt": "Q",
            "States": {"Q": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "End": true}}
        }))
        .unwrap(),
    );
    let execution = cloud
        .execute("odd", &machine, "odd-1", json!({}), None)
        .await
        .unwrap();
    assert_eq!(execution.status, ExecutionStatus::Failed);
    let cause = execution.cause.unwrap_or_default();
    assert!(cause.contains("arn:aws:states:::sns:publish"), "{cause}");
    // A Lambda that is not the project's.
    let machine = mdlc_asl::StateMachine::from_value(&json!({
        "StartAt": "L",
        "States": {"L": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:other", "End": true}}
    }))
    .unwrap();
    let execution = cloud
        .execute("odd", &machine, "odd-2", json!({}), None)
        .await
        .unwrap();
    assert_eq!(
        execution.error.as_deref(),
        Some("Lambda.ResourceNotFoundException")
    );
}
