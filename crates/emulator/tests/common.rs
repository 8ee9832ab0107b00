//! Shared setup for the emulator's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use mdlc_core::S3Uri;
use mdlc_core::memory::InMemoryStore;
use mdlc_core::ports::ObjectStore;
use mdlc_emulator::{EmulatorConfig, FaultConfig, ImageMap, SageMakerEmulator};
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
