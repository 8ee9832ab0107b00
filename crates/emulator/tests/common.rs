//! Shared setup for the emulator's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use mdlc_core::S3Uri;
use mdlc_core::memory::InMemoryStore;
use mdlc_core::ports::ObjectStore;
use mdlc_emulator::{
    EmulatorConfig, EmulatorFailure, FaultConfig, ImageMap, JobKind, SageMakerEmulator,
};
use serde_json::{Value, json};

pub const IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/fake-algo:1";
pub const ROLE: &str = "arn:aws:iam::123456789012:role/SageMakerRole";

pub struct Env {
    pub dir: tempfile::TempDir,
    pub store: Arc<InMemoryStore>,
    pub emu: SageMakerEmulator,
}

pub fn fake_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mdlc-fake-container"))
}

pub fn setup_with(faults: &str, tweak: impl FnOnce(&mut EmulatorConfig)) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(InMemoryStore::new());
    let map = format!(
        r#"{{"images":[{{"pattern":"*/fake-algo:*","command":[{:?}]}}]}}"#,
        fake_bin().display().to_string()
    );
    let mut config = EmulatorConfig {
        work_dir: dir.path().join("sagemaker"),
        store: store.clone(),
        images: ImageMap::parse(&map, "test").expect("image map"),
        faults: FaultConfig::parse(faults).expect("faults"),
        region: "us-east-1".into(),
        account: "123456789012".into(),
        file_systems: Default::default(),
        pids: mdlc_proc::PidBook::at(dir.path().join(mdlc_proc::PidBook::DIR)),
    };
    tweak(&mut config);
    let emu = SageMakerEmulator::new(config);
    Env { dir, store, emu }
}

pub fn setup() -> Env {
    setup_with("", |_| {})
}

pub async fn put(store: &InMemoryStore, uri: &str, body: &str) {
    let u: S3Uri = uri.parse().expect("uri");
    store.put(&u, body.as_bytes().to_vec()).await.expect("put");
}

pub async fn get(store: &InMemoryStore, uri: &str) -> Vec<u8> {
    let u: S3Uri = uri.parse().expect("uri");
    store.get(&u).await.expect("get")
}

pub fn training_request(name: &str, hps: Value) -> Value {
    json!({
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "loss", "Regex": "loss=([-0-9.eE+]+)"}]
        },
        "RoleArn": ROLE,
        "HyperParameters": hps,
        "InputDataConfig": [{
            "ChannelName": "train",
            "ContentType": "text/csv",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/data/train/", "S3DataDistributionType": "FullyReplicated"}}
        }],
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600}
    })
}

pub fn status(d: &Value, field: &str) -> String {
    d.get(field)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

impl Env {
    /// One call that must succeed; a failure panics naming the action.
    pub async fn ok(&self, action: &str, sync: bool, request: Value) -> Value {
        match self.emu.call(action, sync, request).await {
            Ok(v) => v,
            Err(f) => panic!("{action} failed: {f}"),
        }
    }

    /// One call that must fail; a success panics naming the action and its output.
    pub async fn fail(&self, action: &str, sync: bool, request: Value) -> EmulatorFailure {
        match self.emu.call(action, sync, request).await {
            Ok(v) => panic!("{action} succeeded but should have failed: {v:#}"),
            Err(f) => f,
        }
    }

    /// The one-line training data most jobs read from the `train` channel.
    pub async fn put_train_data(&self) {
        put(&self.store, "s3://bucket/data/train/a.csv", "1\n").await;
    }

    /// The `model.json` the fake container wrote into the model archive at `artifacts`.
    pub async fn model_json(&self, artifacts: &str) -> Value {
        let tar = get(&self.store, artifacts).await;
        let dir = tempfile::tempdir().expect("tempdir");
        mdlc_emulator::files::unpack(&tar, dir.path()).expect("unpack model archive");
        let text = std::fs::read_to_string(dir.path().join("model.json")).expect("model.json");
        serde_json::from_str(&text).expect("model.json is JSON")
    }

    /// The training job summaries of one tuning job.
    pub async fn tuned_jobs(&self, tuning_job: &str) -> Vec<Value> {
        let list = self
            .ok(
                "listTrainingJobsForHyperParameterTuningJob",
                false,
                json!({"HyperParameterTuningJobName": tuning_job}),
            )
            .await;
        list["TrainingJobSummaries"]
            .as_array()
            .expect("TrainingJobSummaries")
            .clone()
    }

    /// How many `epoch=` lines a training job logged.
    pub fn epochs_logged(&self, job: &str) -> usize {
        self.emu
            .log_events(JobKind::Training, job)
            .expect("log events")
            .iter()
            .filter(|l| l.message.starts_with("epoch="))
            .count()
    }
}

/// The job description a `.sync` failure carries as its cause.
pub fn described(f: &EmulatorFailure) -> Value {
    serde_json::from_str(&f.cause).unwrap_or_else(|e| panic!("cause is not JSON ({e}): {f}"))
}

/// A string field of a JSON value (panics naming the field when it is not a string).
#[track_caller]
pub fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string in {v:#}"))
}

#[track_caller]
pub fn assert_contains(haystack: &str, needle: &str) {
    assert!(
        haystack.contains(needle),
        "{needle:?} not found in {haystack}"
    );
}
