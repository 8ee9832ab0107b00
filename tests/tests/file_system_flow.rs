//! The training flow with file-system channels (EFS / FSx for Lustre) on the local cloud: without
//! `vpcConfig` the execution fails at Initialize naming the pointer; with it, the SageMaker job
//! runs in the VPC (its `VpcConfig` is the input's) and reads the channels from the local
//! stand-in of the file system, `<state dir>/filesystems/<FileSystemId>/<DirectoryPath>`.

use mdlc_asl::ExecutionStatus;
use mdlc_emulator::JobKind;
use mdlc_local::{FILE_SYSTEMS_DIR, LocalCloud, LocalCloudConfig};
use mdlc_tests::ensure_trainer;
use mdlc_trainer::data::{GenerateConfig, Problem, generate};
use serde_json::{Value, json};

const FS_ID: &str = "fs-0123456789abcdef0";

fn input(vpc: Option<Value>) -> Value {
    let channel =
        |dir: &str| json!({"fileSystem": {"id": FS_ID, "type": "FSxLustre", "directoryPath": dir}});
    let mut input = json!({
        "modelName": "fsx-model", "dataDate": "2026-03-01", "problemType": "binary",
        "data": {"train": channel("/fsx/data/train"), "validation": channel("/fsx/data/validation")},
        "tuning": {"enabled": false, "staticHyperParameters": {"num_round": "10"}}
    });
    if let Some(vpc) = vpc {
        input["vpcConfig"] = vpc;
    }
    input
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_system_channels_need_a_vpc_and_train_from_the_local_file_system() {
    ensure_trainer();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".mdlc");
    let cloud = LocalCloud::new(LocalCloudConfig::new(&state)).unwrap();
    let data = generate(&GenerateConfig::new(Problem::Binary, 300, 4, 3)).unwrap();
    let fs = state.join(FILE_SYSTEMS_DIR).join(FS_ID).join("fsx/data");
    for (part, rows) in [("train", &data.train), ("validation", &data.validation)] {
        std::fs::create_dir_all(fs.join(part)).unwrap();
        std::fs::write(fs.join(part).join(format!("{part}.csv")), rows.to_csv()).unwrap();
    }
    let machine = cloud.state_machine("training").cloned().expect("training");

    let refused = cloud
        .execute("training", &machine, "no-vpc", input(None), None)
        .await
        .unwrap();
    assert_eq!(refused.status, ExecutionStatus::Failed);
    assert_eq!(
        refused.error.as_deref(),
        Some("InvalidInput"),
        "{:?}",
        refused.cause
    );
    let cause = refused.cause.unwrap_or_default();
    assert!(
        cause.contains("/vpcConfig") && cause.contains("/data/train/fileSystem"),
        "{cause}"
    );

    let vpc = json!({"subnets": ["subnet-0a1b2c3d"], "securityGroupIds": ["sg-0a1b2c3d"]});
    let e = cloud
        .execute("training", &machine, "with-vpc", input(Some(vpc)), None)
        .await
        .unwrap();
    assert_eq!(
        e.status,
        ExecutionStatus::Succeeded,
        "{:?} {:?}",
        e.error,
        e.cause
    );
    let out = e.output.unwrap();
    assert_eq!(out["version"], 1, "{out}");
    let job = out["trainingJobName"].as_str().unwrap();
    let d = cloud.emulator().describe(JobKind::Training, job).unwrap();
    assert_eq!(
        d["VpcConfig"],
        json!({"Subnets": ["subnet-0a1b2c3d"], "SecurityGroupIds": ["sg-0a1b2c3d"]})
    );
    assert_eq!(
        d["InputDataConfig"][0]["DataSource"]["FileSystemDataSource"]["DirectoryPath"],
        "/fsx/data/train"
    );
    assert_eq!(d["TrainingJobStatus"], "Completed");
}
