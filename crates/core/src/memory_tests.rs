//! The in-memory test doubles do what the handlers' tests rely on: injected failures come back
//! once, the `since` filter compares instants, the clock moves when set, and the fake SageMaker
//! keeps what it is given. (Beside `memory.rs`'s own tests, which run the registry contract.)

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};

use crate::error::PortError;
use crate::memory::{FakeSageMaker, InMemoryRegistry, InMemoryStore, ManualClock};
use crate::ports::{
    Clock, CreateModelRequest, RegistryRead, RegistryWrite, SageMakerApi, TrainingJobInfo,
};
use crate::registry::EvaluationRecord;

#[test]
fn given_objects_when_keys_are_listed_then_every_uri_comes_in_order() {
    let store = InMemoryStore::new();
    store.insert("s3://bkt-b/x", "1");
    store.insert("s3://bkt-a/y/z", "2");
    assert_eq!(store.keys(), ["s3://bkt-a/y/z", "s3://bkt-b/x"]);
}

fn evaluation_at(at: &str) -> EvaluationRecord {
    EvaluationRecord {
        model_name: "m".into(),
        version: 1,
        evaluated_at: at.into(),
        execution_arn: format!("arn:e:{at}"),
        data_date: "2024-06-01".into(),
        metrics: BTreeMap::new(),
        retrain: None,
        reason: None,
        drift: None,
    }
}

#[tokio::test]
async fn given_evaluations_in_other_offsets_when_listed_since_then_instants_are_compared() {
    let registry = InMemoryRegistry::new();
    // 12:30+02:00 is 10:30Z: before 11:00Z though its text sorts after it.
    for at in [
        "2024-06-01T12:30:00+02:00",
        "2024-06-01T11:00:00.000Z",
        "2024-06-01T11:00:01.000Z",
    ] {
        registry.put_evaluation(evaluation_at(at)).await.unwrap();
    }
    let since: Vec<String> = registry
        .list_evaluations("m", Some("2024-06-01T11:00:00Z"))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.evaluated_at)
        .collect();
    assert_eq!(
        since,
        ["2024-06-01T11:00:00.000Z", "2024-06-01T11:00:01.000Z"]
    );
}

#[tokio::test]
async fn given_an_injected_registry_failure_when_called_then_it_fails_once() {
    let registry = InMemoryRegistry::new();
    registry.fail_next(PortError::unavailable("throttled"));
    assert_eq!(
        registry.list_versions("m").await,
        Err(PortError::unavailable("throttled"))
    );
    assert_eq!(registry.list_versions("m").await, Ok(vec![]));
}

#[test]
fn given_a_manual_clock_when_set_then_it_tells_that_time() {
    let clock = ManualClock::at("2024-06-01T12:00:00Z");
    let later = Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap();
    clock.set(later);
    assert_eq!(clock.now(), later);
}

#[tokio::test]
async fn given_a_fake_sagemaker_when_jobs_and_models_are_given_then_it_keeps_them() {
    let sm = FakeSageMaker::new();
    let job = TrainingJobInfo {
        name: "job-1".into(),
        status: "Completed".into(),
        failure_reason: None,
        model_artifacts: Some("s3://bkt/model.tar.gz".into()),
        image: Some("img".into()),
        hyperparameters: BTreeMap::new(),
        final_metrics: BTreeMap::new(),
    };
    sm.insert_training_job(job.clone());
    assert_eq!(sm.describe_training_job("job-1").await, Ok(job));
    sm.fail_next(PortError::unavailable("down"));
    assert_eq!(
        sm.describe_training_job("job-1").await,
        Err(PortError::unavailable("down"))
    );
    let request = CreateModelRequest {
        model_name: "Model-A".into(),
        image: "img".into(),
        model_data_url: "s3://bkt/model.tar.gz".into(),
        execution_role_arn: "arn:aws:iam::000000000000:role/r".into(),
        environment: BTreeMap::new(),
        vpc_config: None,
    };
    assert_eq!(
        sm.create_model(&request).await,
        Ok("arn:aws:sagemaker:us-east-1:000000000000:model/model-a".to_string())
    );
    assert_eq!(
        FakeSageMaker::model_arn("Model-A"),
        "arn:aws:sagemaker:us-east-1:000000000000:model/model-a"
    );
    assert_eq!(
        sm.models(),
        BTreeMap::from([("Model-A".to_string(), request)])
    );
}
