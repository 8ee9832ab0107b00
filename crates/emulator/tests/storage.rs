//! Storage as SageMaker keeps it: a job's scratch space (channel copies, the model and output
//! directories, a transform's unpacked model, processing inputs) goes when the job ends, whatever
//! its status; what stays is the model artifact and outputs in the object store, the job's log and
//! its description. FastFile channels are links into the object store, never copies.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use common::*;
use mdlc_core::ports::{ObjectInfo, ObjectStore};
use mdlc_core::{PortError, S3Uri};
use mdlc_emulator::{JobKind, SageMakerEmulator};
use serde_json::{Value, json};

/// The names a job directory holds.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// What an ended job's directory keeps.
const KEPT: [&str; 3] = [".owner.json", "algo-1.log", "describe.json"];

/// The job directory holds only its log, description and owner record; another emulator over
/// the same directory (a later process) still describes the job and reads its log.
fn assert_only_kept(env: &Env, kind: JobKind, name: &str, status_field: &str, status: &str) {
    let dir = env.emu.job_dir(kind, name);
    assert_eq!(entries(&dir), KEPT, "{}", dir.display());
    let later = SageMakerEmulator::new(env.emu.config().clone());
    let d = later.describe(kind, name).expect("described from disk");
    assert_eq!(d[status_field], status, "{d:#}");
    let log = later.log_events(kind, name).expect("log from disk");
    assert!(!log.is_empty(), "the log of {name} is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_training_job_keeps_its_artifacts_log_and_description_and_no_scratch() {
    let env = setup();
    env.put_train_data().await;
    let d = env
        .ok(
            "createTrainingJob",
            true,
            training_request("kept", json!({"epochs": "2"})),
        )
        .await;
    assert_eq!(d["TrainingJobStatus"], "Completed");
    let artifacts = text(&d["ModelArtifacts"], "S3ModelArtifacts");
    // the channel was copied while the job ran (File mode) ...
    let model = env.model_json(artifacts).await;
    assert_eq!(model["channels"]["train"]["files"], json!(["a.csv"]));
    assert_eq!(model["channels"]["train"]["links"], json!({}));
    // ... and the copy, model and output directories went with the job
    assert_only_kept(
        &env,
        JobKind::Training,
        "kept",
        "TrainingJobStatus",
        "Completed",
    );
    assert!(
        !get(&env.store, "s3://bucket/out/kept/output/output.tar.gz")
            .await
            .is_empty()
    );
    assert_eq!(
        get(&env.store, "s3://bucket/data/train/a.csv").await,
        b"1\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_training_job_leaves_no_scratch_and_keeps_its_log_and_reason() {
    let env = setup();
    env.put_train_data().await;
    let f = env
        .fail(
            "createTrainingJob",
            true,
            training_request("fails", json!({"mode": "fail"})),
        )
        .await;
    let d = described(&f);
    assert_eq!(d["TrainingJobStatus"], "Failed");
    assert!(
        text(&d, "FailureReason").contains("bad hyperparameter"),
        "{d:#}"
    );
    assert_only_kept(
        &env,
        JobKind::Training,
        "fails",
        "TrainingJobStatus",
        "Failed",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_training_job_leaves_no_scratch() {
    let env = setup();
    env.put_train_data().await;
    env.ok(
        "createTrainingJob",
        false,
        training_request("stopped", json!({"epochs": "600", "epoch_ms": "100"})),
    )
    .await;
    let dir = env.emu.job_dir(JobKind::Training, "stopped");
    // wait (at most 60 s) until the program runs (an epoch logged) with its channel in place
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while env.epochs_logged("stopped") == 0 || !dir.join("input/data/train/a.csv").is_file() {
        assert!(
            std::time::Instant::now() < deadline,
            "the job never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    env.emu.stop(JobKind::Training, "stopped").unwrap();
    let d = env.emu.wait(JobKind::Training, "stopped").await.unwrap();
    assert_eq!(d["TrainingJobStatus"], "Stopped");
    assert_only_kept(
        &env,
        JobKind::Training,
        "stopped",
        "TrainingJobStatus",
        "Stopped",
    );
}

fn processing_request(name: &str) -> Value {
    json!({
        "ProcessingJobName": name,
        "RoleArn": ROLE,
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}},
        "AppSpecification": {"ImageUri": IMAGE, "ContainerEntrypoint": ["copy"], "ContainerArguments": ["/opt/ml/processing/input", "/opt/ml/processing/output"]},
        "ProcessingInputs": [{"InputName": "raw", "S3Input": {"S3Uri": "s3://bucket/raw/", "LocalPath": "/opt/ml/processing/input", "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "clean", "S3Output": {"S3Uri": "s3://bucket/clean/", "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}}]}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_processing_job_keeps_its_outputs_in_the_store_and_no_inputs_or_outputs_on_disk() {
    let env = setup();
    put(&env.store, "s3://bucket/raw/a.txt", "hello").await;
    let d = env
        .ok("createProcessingJob", true, processing_request("proc"))
        .await;
    assert_eq!(d["ProcessingJobStatus"], "Completed");
    assert_eq!(get(&env.store, "s3://bucket/clean/a.txt").await, b"HELLO");
    assert_only_kept(
        &env,
        JobKind::Processing,
        "proc",
        "ProcessingJobStatus",
        "Completed",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transform_job_keeps_its_outputs_in_the_store_and_not_the_unpacked_model() {
    let env = setup();
    env.put_train_data().await;
    let d = env
        .ok(
            "createTrainingJob",
            true,
            training_request("for-transform", json!({"epochs": "1"})),
        )
        .await;
    let url = text(&d["ModelArtifacts"], "S3ModelArtifacts");
    env.ok("createModel", false, json!({"ModelName": "m-storage", "ExecutionRoleArn": ROLE, "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": url}}))
        .await;
    put(&env.store, "s3://bucket/batch/in/part-1.csv", "1,1\n2,2\n").await;
    let d = env
        .ok(
            "createTransformJob",
            true,
            json!({
                "TransformJobName": "batch",
                "ModelName": "m-storage",
                "TransformInput": {
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/batch/in/"}},
                    "ContentType": "text/csv",
                    "SplitType": "Line"
                },
                "TransformOutput": {"S3OutputPath": "s3://bucket/batch/out/", "AssembleWith": "Line"},
                "TransformResources": {"InstanceCount": 1, "InstanceType": "ml.m5.large"}
            }),
        )
        .await;
    assert_eq!(d["TransformJobStatus"], "Completed");
    assert!(
        !get(&env.store, "s3://bucket/batch/out/part-1.csv.out")
            .await
            .is_empty()
    );
    assert_only_kept(
        &env,
        JobKind::Transform,
        "batch",
        "TransformJobStatus",
        "Completed",
    );
}

/// An object store over a directory (`<root>/<bucket>/<key>`), like the local cloud's: its
/// objects are files a FastFile channel can link to.
struct DirStore {
    root: PathBuf,
}

impl DirStore {
    fn path(&self, uri: &S3Uri) -> PathBuf {
        self.root.join(&uri.bucket).join(&uri.key)
    }
}

#[async_trait]
impl ObjectStore for DirStore {
    async fn get(&self, uri: &S3Uri) -> Result<Vec<u8>, PortError> {
        std::fs::read(self.path(uri)).map_err(|_| PortError::not_found(uri.to_string()))
    }

    async fn put(&self, uri: &S3Uri, body: Vec<u8>) -> Result<(), PortError> {
        let path = self.path(uri);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).map_err(|e| PortError::unavailable(e.to_string()))
    }

    async fn list(&self, prefix: &S3Uri) -> Result<Vec<ObjectInfo>, PortError> {
        fn walk(dir: &Path, key: &str, out: &mut Vec<(String, u64)>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let name = format!("{key}{}", e.file_name().to_string_lossy());
                if e.path().is_dir() {
                    walk(&e.path(), &format!("{name}/"), out);
                } else {
                    out.push((name, e.metadata().unwrap().len()));
                }
            }
        }
        let mut all = Vec::new();
        walk(&self.root.join(&prefix.bucket), "", &mut all);
        all.sort();
        Ok(all
            .into_iter()
            .filter(|(k, _)| k.starts_with(&prefix.key))
            .map(|(k, size)| ObjectInfo {
                uri: S3Uri::new(prefix.bucket.clone(), k),
                size,
            })
            .collect())
    }

    async fn exists(&self, uri: &S3Uri) -> Result<bool, PortError> {
        Ok(self.path(uri).is_file())
    }

    fn local_path(&self, uri: &S3Uri) -> Option<PathBuf> {
        Some(self.path(uri)).filter(|p| p.is_file())
    }
}

/// An emulator over a [`DirStore`] (beside its work directory, in `store/`).
fn setup_dir_store() -> (Env, Arc<DirStore>) {
    let mut made = None;
    let env = setup_with("", |c| {
        let store = Arc::new(DirStore {
            root: c.work_dir.parent().unwrap().join("store"),
        });
        c.store = store.clone();
        made = Some(store);
    });
    (env, made.unwrap())
}

fn fast_file_request(name: &str, channel: Value) -> Value {
    let mut req = training_request(name, json!({"epochs": "1"}));
    req["AlgorithmSpecification"]["TrainingInputMode"] = json!("FastFile");
    req["InputDataConfig"] = json!([channel]);
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_file_channel_is_read_through_links_into_the_store_and_never_copied() {
    let (env, store) = setup_dir_store();
    let put_dir = |key: &str, body: &str| {
        let uri: S3Uri = format!("s3://bucket/{key}").parse().unwrap();
        let path = store.path(&uri);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    };
    put_dir("data/train/a.csv", "1,2\n");
    put_dir("data/train/sub/b.csv", "3,4\n");
    put_dir("listed/c.csv", "5,6\n");
    put_dir(
        "manifests/m.json",
        r#"[{"prefix": "s3://bucket/listed/"}, "c.csv"]"#,
    );
    let prefix = json!({"ChannelName": "train", "ContentType": "text/csv",
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/data/train/"}}});
    let d = env
        .ok("createTrainingJob", true, fast_file_request("ff", prefix))
        .await;
    assert_eq!(d["TrainingJobStatus"], "Completed", "{d:#}");
    let artifacts = text(&d["ModelArtifacts"], "S3ModelArtifacts").to_string();
    let model = {
        let uri: S3Uri = artifacts.parse().unwrap();
        let tar = store.get(&uri).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        mdlc_emulator::files::unpack(&tar, dir.path()).unwrap();
        serde_json::from_str::<Value>(
            &std::fs::read_to_string(dir.path().join("model.json")).unwrap(),
        )
        .unwrap()
    };
    let train = &model["channels"]["train"];
    // what the program read ...
    assert_eq!(train["files"], json!(["a.csv", "sub/b.csv"]));
    assert_eq!(train["contents"], json!(["1,2\n", "3,4\n"]));
    // ... were links to the store's files (no copy in the job directory), in a read-only directory
    let store_root = std::path::absolute(&store.root).unwrap();
    assert_eq!(
        train["links"],
        json!({
            "a.csv": store_root.join("bucket/data/train/a.csv").display().to_string(),
            "sub/b.csv": store_root.join("bucket/data/train/sub/b.csv").display().to_string(),
        })
    );
    assert_eq!(train["dir_read_only"], json!(true));
    assert_eq!(
        model["input_config"]["inputdataconfig"]["train"]["TrainingInputMode"],
        "FastFile"
    );
    // the links went with the job; the objects stay
    assert_eq!(entries(&env.emu.job_dir(JobKind::Training, "ff")), KEPT);
    assert_eq!(
        std::fs::read_to_string(store.root.join("bucket/data/train/a.csv")).unwrap(),
        "1,2\n"
    );

    // A manifest channel in FastFile mode (the channel's own InputMode) is linked too.
    let manifest = json!({"ChannelName": "train", "InputMode": "FastFile",
        "DataSource": {"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": "s3://bucket/manifests/m.json"}}});
    let mut req = training_request("ff-manifest", json!({"epochs": "1"}));
    req["InputDataConfig"] = json!([manifest]);
    let d = env.ok("createTrainingJob", true, req).await;
    let uri: S3Uri = text(&d["ModelArtifacts"], "S3ModelArtifacts")
        .parse()
        .unwrap();
    let tar = store.get(&uri).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    mdlc_emulator::files::unpack(&tar, dir.path()).unwrap();
    let model: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("model.json")).unwrap())
            .unwrap();
    assert_eq!(
        model["channels"]["train"]["links"],
        json!({"c.csv": store_root.join("bucket/listed/c.csv").display().to_string()})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_file_channel_of_an_augmented_manifest_or_a_file_system_is_refused() {
    let env = setup();
    let augmented = json!({"ChannelName": "train",
        "DataSource": {"S3DataSource": {"S3DataType": "AugmentedManifestFile", "S3Uri": "s3://bucket/m.jsonl", "AttributeNames": ["source-ref"]}}});
    let f = env
        .fail(
            "createTrainingJob",
            false,
            fast_file_request("ff-augmented", augmented),
        )
        .await;
    assert!(
        f.cause.contains("1 validation error detected: 'InputDataConfig[0].DataSource.S3DataSource.S3DataType' AugmentedManifestFile can only be used if the Channel's input mode is Pipe.")
            && f.cause.contains("Error Code: ValidationException"),
        "{f}"
    );
    let fs = json!({"ChannelName": "train",
        "DataSource": {"FileSystemDataSource": {"FileSystemId": "fs-0123456789", "FileSystemType": "EFS", "FileSystemAccessMode": "ro", "DirectoryPath": "/data"}}});
    let mut req = fast_file_request("ff-efs", fs);
    req["VpcConfig"] = json!({"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]});
    let f = env.fail("createTrainingJob", false, req).await;
    assert!(
        f.cause
            .contains("'InputDataConfig[0].InputMode' FastFile streams from Amazon S3 only"),
        "{f}"
    );
    assert!(
        !env.emu.job_dir(JobKind::Training, "ff-augmented").exists(),
        "a refused job has no directory"
    );
}

const XGB: &str = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built mdlc-trainer binary: run with --run-ignored all (make test)"]
async fn the_builtin_trainer_reads_fast_file_channels_in_place() {
    if let Err(e) = mdlc_emulator::config::find_builtin_trainer() {
        panic!("{e} (build it: cargo build -p mdlc-trainer)");
    }
    let (env, store) = setup_dir_store();
    let rows = |n: usize, offset: usize| -> String {
        (offset..offset + n)
            .map(|i| {
                let a = ((i * 37) % 101) as f64 / 10.0;
                let b = ((i * 53) % 89) as f64 / 10.0;
                format!("{},{a},{b}\n", 3.0 * a - 2.0 * b)
            })
            .collect()
    };
    for (key, body) in [
        ("xgb/train/train.csv", rows(400, 0)),
        ("xgb/validation/validation.csv", rows(100, 400)),
    ] {
        let uri: S3Uri = format!("s3://bucket/{key}").parse().unwrap();
        store.put(&uri, body.into_bytes()).await.unwrap();
    }
    let channel = |name: &str| {
        json!({"ChannelName": name, "ContentType": "text/csv",
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": format!("s3://bucket/xgb/{name}/")}}})
    };
    let req = json!({
        "TrainingJobName": "xgb-fast-file",
        "AlgorithmSpecification": {"TrainingImage": XGB, "TrainingInputMode": "FastFile"},
        "RoleArn": ROLE,
        "HyperParameters": {"num_round": "20", "max_depth": "3", "objective": "reg:squarederror", "eval_metric": "rmse"},
        "InputDataConfig": [channel("train"), channel("validation")],
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/xgb/out"},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600}
    });
    env.ok("createTrainingJob", false, req).await;
    // While it runs, the channel holds links into the store, not copies (checked until it ends).
    let dir = env.emu.job_dir(JobKind::Training, "xgb-fast-file");
    while env
        .emu
        .describe(JobKind::Training, "xgb-fast-file")
        .unwrap()["TrainingJobStatus"]
        == "InProgress"
    {
        let file = dir.join("input/data/train/train.csv");
        if let Ok(meta) = std::fs::symlink_metadata(&file) {
            assert!(
                meta.file_type().is_symlink(),
                "{} is a copy",
                file.display()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let d = env
        .emu
        .wait(JobKind::Training, "xgb-fast-file")
        .await
        .unwrap();
    assert_eq!(d["TrainingJobStatus"], "Completed", "{d:#}");
    let rmse = d["FinalMetricDataList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["MetricName"] == "validation:rmse")
        .and_then(|m| m["Value"].as_f64())
        .expect("validation:rmse");
    assert!(
        rmse < 2.0,
        "the trainer learned from the data it read: {rmse}"
    );
    let log: Vec<String> = env
        .emu
        .log_events(JobKind::Training, "xgb-fast-file")
        .unwrap()
        .into_iter()
        .map(|l| l.message)
        .collect();
    assert!(
        !log.iter().any(|l| l.contains("copied as in File mode")),
        "{log:#?}"
    );
    assert_eq!(entries(&dir), KEPT);
}
