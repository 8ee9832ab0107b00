//! A full disk under the local cloud's object store, seen through a SageMaker training job of the
//! emulator: the job whose model artifact cannot be written ends `Failed` with SageMaker's
//! `ClientError: Artifact upload failed:` FailureReason naming the object and the OS error, and
//! the bucket holds no partial object; one whose input cannot be written to its job directory
//! fails with `ClientError: Data download failed:` naming the file. (The store's and the registry's own full-disk tests are
//! unit tests of `store.rs` and `registry.rs`.)

use std::path::Path;
use std::sync::Arc;

use mdlc_core::S3Uri;
use mdlc_core::ports::ObjectStore;
use mdlc_emulator::{EmulatorConfig, FaultConfig, ImageMap, SageMakerEmulator};
use mdlc_local::FsObjectStore;
use mdlc_trainer::tmpfs::Tmpfs;
use serde_json::{Value, json};

const IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shell-algo:1";

/// A training program that writes a 1.5 MiB incompressible model (more than the free space).
const TRAIN: &str = r#"head -c 1572864 /dev/urandom > "$SM_MODEL_DIR/model.bin""#;

fn training_request(name: &str) -> Value {
    json!({
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "InputDataConfig": [{
            "ChannelName": "train",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/data/train/"}}
        }],
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600}
    })
}

/// The emulator with its jobs under `work_dir`, [`TRAIN`] as the training program.
fn emulator(work_dir: &Path, store: Arc<FsObjectStore>) -> SageMakerEmulator {
    let images = json!({"images": [{"pattern": "*/shell-algo:*", "command": ["/bin/sh", "-c", TRAIN, "sh"]}]});
    SageMakerEmulator::new(EmulatorConfig {
        work_dir: work_dir.to_path_buf(),
        store: store as Arc<dyn ObjectStore>,
        images: ImageMap::parse(&images.to_string(), "test").unwrap(),
        faults: FaultConfig::default(),
        region: "us-east-1".into(),
        account: "123456789012".into(),
        file_systems: Default::default(),
        pids: mdlc_proc::PidBook::at(work_dir.join(mdlc_proc::PidBook::DIR)),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root: mounts a tmpfs"]
async fn a_training_job_whose_model_cannot_be_written_fails_naming_it_and_leaves_no_partial_object()
{
    let fs = Tmpfs::mount(4 << 20);
    let work = tempfile::tempdir().unwrap();
    let store = Arc::new(FsObjectStore::new(fs.path().join("s3")));
    let data: S3Uri = "s3://bucket/data/train/a.csv".parse().unwrap();
    store.put(&data, b"1,2\n".to_vec()).await.unwrap();
    let emu = emulator(&work.path().join("sagemaker"), store.clone());
    fs.fill(256 * 1024);

    let failure = emu
        .call("createTrainingJob", true, training_request("job-full"))
        .await
        .expect_err("the model cannot be uploaded");
    assert_eq!(failure.error, "States.TaskFailed", "{failure}");
    let described: Value = serde_json::from_str(&failure.cause).unwrap();
    assert_eq!(described["TrainingJobStatus"], "Failed", "{described:#}");
    let reason = described["FailureReason"].as_str().unwrap();
    let model = "s3://bucket/out/job-full/output/model.tar.gz";
    assert!(
        reason.starts_with(&format!(
            "ClientError: Artifact upload failed:could not write {model}: writing "
        )) && reason.ends_with("No space left on device (os error 28)"),
        "{reason}"
    );
    assert!(described.get("ModelArtifacts").is_none(), "{described:#}");
    // nothing partial in the bucket (no object, no temp file); the input is whole
    assert_eq!(fs.files(), ["s3/bucket/data/train/a.csv"]);
    assert!(!store.exists(&model.parse().unwrap()).await.unwrap());

    fs.free();
    let done = emu
        .call(
            "createTrainingJob",
            true,
            training_request("job-full-again"),
        )
        .await
        .expect("with space freed the job completes");
    assert_eq!(done["TrainingJobStatus"], "Completed", "{done:#}");
    let artifacts = "s3://bucket/out/job-full-again/output/model.tar.gz";
    assert_eq!(done["ModelArtifacts"]["S3ModelArtifacts"], artifacts);
    assert!(store.get(&artifacts.parse().unwrap()).await.unwrap().len() > 1 << 20);
    assert_eq!(store.get(&data).await.unwrap(), b"1,2\n");
    assert_eq!(
        fs.files(),
        [
            "s3/bucket/data/train/a.csv",
            "s3/bucket/out/job-full-again/output/model.tar.gz"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root: mounts a tmpfs"]
async fn a_training_job_whose_input_cannot_be_written_fails_naming_the_file_and_leaves_no_partial_file()
 {
    let fs = Tmpfs::mount(4 << 20);
    let bucket = tempfile::tempdir().unwrap();
    let store = Arc::new(FsObjectStore::new(bucket.path()));
    let data: S3Uri = "s3://bucket/data/train/a.csv".parse().unwrap();
    store.put(&data, vec![b'1'; 512 * 1024]).await.unwrap();
    // the job directories on the tmpfs, the bucket elsewhere
    let emu = emulator(&fs.path().join("sagemaker"), store.clone());
    fs.fill(128 * 1024);

    let failure = emu
        .call("createTrainingJob", true, training_request("job-input"))
        .await
        .expect_err("the input cannot be downloaded");
    let described: Value = serde_json::from_str(&failure.cause).unwrap();
    assert_eq!(described["TrainingJobStatus"], "Failed", "{described:#}");
    let reason = described["FailureReason"].as_str().unwrap();
    let file = fs
        .path()
        .join("sagemaker/training-jobs/job-input/input/data/train/a.csv");
    assert!(
        reason.starts_with(&format!(
            "ClientError: Data download failed:could not write {} (from {data}): writing ",
            file.display()
        )) && reason.ends_with("No space left on device (os error 28)"),
        "{reason}"
    );
    let inputs: Vec<String> = fs
        .files()
        .into_iter()
        .filter(|f| f.contains("/input/data/"))
        .collect();
    assert!(inputs.is_empty(), "no partial input file: {inputs:?}");

    fs.free();
    let done = emu
        .call(
            "createTrainingJob",
            true,
            training_request("job-input-again"),
        )
        .await
        .expect("with space freed the job completes");
    assert_eq!(done["TrainingJobStatus"], "Completed", "{done:#}");
    // its scratch space (the channel copy) went when it ended; the artifact is in the store
    let job = fs.path().join("sagemaker/training-jobs/job-input-again");
    assert!(job.join("describe.json").is_file());
    assert!(
        !job.join("input").exists(),
        "the ended job's channel copy is gone"
    );
    let artifacts: S3Uri = done["ModelArtifacts"]["S3ModelArtifacts"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(store.exists(&artifacts).await.unwrap());
    assert_eq!(store.get(&data).await.unwrap(), vec![b'1'; 512 * 1024]);
}
