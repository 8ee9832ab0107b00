//! `VpcConfig` as SageMaker checks it: a file-system channel needs one, its shape is SageMaker's
//! (1-16 subnets, 1-5 security groups, IDs of at most 32 `[-0-9a-zA-Z]`), and a job with a VPC
//! and a file-system channel runs, reading the file system from its local directory.

mod common;

use common::*;
use mdlc_emulator::error::ERROR_SAGEMAKER_GENERIC;
use serde_json::{Value, json};

const FS_ID: &str = "fs-0123456789abcdef0";

fn vpc() -> Value {
    json!({"Subnets": ["subnet-0a1b2c3d", "subnet-1a1b2c3d"], "SecurityGroupIds": ["sg-0a1b2c3d"]})
}

/// A training request whose `validation` channel reads `DirectoryPath` of the test file system.
fn file_system_request(name: &str, directory: &str) -> Value {
    let mut req = training_request(name, json!({"epochs": "1"}));
    req["InputDataConfig"].as_array_mut().unwrap().push(json!({
        "ChannelName": "validation",
        "DataSource": {"FileSystemDataSource": {"FileSystemId": FS_ID, "FileSystemAccessMode": "ro",
                                                "FileSystemType": "FSxLustre", "DirectoryPath": directory}}
    }));
    req
}

fn tuning_request(name: &str, definition: &Value) -> Value {
    let mut def = definition.clone();
    let obj = def.as_object_mut().unwrap();
    obj.remove("TrainingJobName");
    obj.remove("HyperParameters");
    obj.insert("StaticHyperParameters".into(), json!({"epochs": "1"}));
    json!({
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 1, "MaxParallelTrainingJobs": 1},
            "ParameterRanges": {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}
        },
        "TrainingJobDefinition": def
    })
}

/// The `*` root of the emulator's file systems, with `/fsx/val/v.csv` on the test file system.
fn env_with_file_system() -> (Env, tempfile::TempDir) {
    let roots = tempfile::tempdir().unwrap();
    let dir = roots.path().join(FS_ID).join("fsx/val");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("v.csv"), "7,7\n").unwrap();
    let root = roots.path().to_path_buf();
    let env = setup_with("", move |c| {
        c.file_systems.insert("*".into(), root);
    });
    (env, roots)
}

#[tokio::test]
async fn given_a_file_system_channel_without_vpc_config_then_create_training_job_is_a_validation_exception()
 {
    let (env, _roots) = env_with_file_system();
    let f = env
        .fail(
            "createTrainingJob",
            false,
            file_system_request("no-vpc", "/fsx/val"),
        )
        .await;
    assert_eq!(f.error, ERROR_SAGEMAKER_GENERIC);
    assert_contains(&f.cause, "Error Code: ValidationException");
    assert_contains(
        &f.cause,
        "1 validation error detected: 'VpcConfig' is required: InputDataConfig[1] (channel \"validation\") has a FileSystemDataSource",
    );
}

#[tokio::test]
async fn given_a_tuning_job_whose_definition_mounts_a_file_system_without_vpc_then_it_is_rejected()
{
    let (env, _roots) = env_with_file_system();
    let def = file_system_request("unused", "/fsx/val");
    let f = env
        .fail(
            "createHyperParameterTuningJob",
            false,
            tuning_request("tune-no-vpc", &def),
        )
        .await;
    assert_contains(&f.cause, "Error Code: ValidationException");
    assert_contains(&f.cause, "'VpcConfig' is required: InputDataConfig[1]");
}

#[tokio::test]
async fn given_vpc_configs_outside_sagemakers_limits_then_each_is_a_validation_exception() {
    let env = setup();
    let seventeen: Vec<String> = (0..17).map(|i| format!("subnet-{i}")).collect();
    let six: Vec<String> = (0..6).map(|i| format!("sg-{i}")).collect();
    let cases = [
        (
            json!({"SecurityGroupIds": ["sg-1"]}),
            "'VpcConfig.Subnets' is required",
        ),
        (
            json!({"Subnets": [], "SecurityGroupIds": ["sg-1"]}),
            "'VpcConfig.Subnets' has 0 items, which must be between 1 and 16",
        ),
        (
            json!({"Subnets": seventeen, "SecurityGroupIds": ["sg-1"]}),
            "'VpcConfig.Subnets' has 17 items, which must be between 1 and 16",
        ),
        (
            json!({"Subnets": ["subnet-1"], "SecurityGroupIds": six}),
            "'VpcConfig.SecurityGroupIds' has 6 items, which must be between 1 and 5",
        ),
        (
            json!({"Subnets": ["subnet_1"], "SecurityGroupIds": ["sg-1"]}),
            "'VpcConfig.Subnets[0]' has value \"subnet_1\", which must match [-0-9a-zA-Z]+",
        ),
        (
            json!({"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-".to_string() + &"a".repeat(30)]}),
            "'VpcConfig.SecurityGroupIds[0]' has value",
        ),
        (
            json!({"Subnets": "subnet-1", "SecurityGroupIds": ["sg-1"]}),
            "'VpcConfig.Subnets' must be a list",
        ),
    ];
    for (i, (vpc, expected)) in cases.into_iter().enumerate() {
        let mut req = training_request(&format!("bad-vpc-{i}"), json!({}));
        req["VpcConfig"] = vpc.clone();
        let f = env.fail("createTrainingJob", false, req).await;
        assert_contains(&f.cause, "Error Code: ValidationException");
        assert!(
            f.cause.contains(expected),
            "{vpc}: expected {expected:?} in {}",
            f.cause
        );
    }
    // The same checks guard a processing job's NetworkConfig and a model.
    let f = env
        .fail(
            "createModel",
            false,
            json!({
                "ModelName": "m", "ExecutionRoleArn": ROLE,
                "PrimaryContainer": {"Image": IMAGE},
                "VpcConfig": {"Subnets": ["subnet-1"], "SecurityGroupIds": []}
            }),
        )
        .await;
    assert_contains(&f.cause, "'VpcConfig.SecurityGroupIds' has 0 items");
    let f = env
        .fail(
            "createProcessingJob",
            false,
            json!({
                "ProcessingJobName": "p", "RoleArn": ROLE,
                "NetworkConfig": {"VpcConfig": {"Subnets": ["subnet-1"]}}
            }),
        )
        .await;
    assert_contains(
        &f.cause,
        "'NetworkConfig.VpcConfig.SecurityGroupIds' is required",
    );
}

#[tokio::test]
async fn given_a_file_system_id_outside_sagemakers_pattern_then_it_is_rejected() {
    let (env, _roots) = env_with_file_system();
    let mut req = file_system_request("bad-fs-id", "/fsx/val");
    req["InputDataConfig"][1]["DataSource"]["FileSystemDataSource"]["FileSystemId"] =
        json!("fs-123");
    req["VpcConfig"] = vpc();
    let f = env.fail("createTrainingJob", false, req).await;
    assert_contains(
        &f.cause,
        "'InputDataConfig[1].DataSource.FileSystemDataSource.FileSystemId' has value \"fs-123\", which must match fs-[0-9a-f]{8,}",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_a_file_system_channel_with_vpc_config_then_the_job_reads_the_file_system_directory()
{
    let (env, _roots) = env_with_file_system();
    env.put_train_data().await;
    let mut req = file_system_request("with-vpc", "/fsx/val");
    req["VpcConfig"] = vpc();
    let d = env.ok("createTrainingJob", true, req).await;
    assert_eq!(status(&d, "TrainingJobStatus"), "Completed", "{d:#}");
    assert_eq!(d["VpcConfig"], vpc(), "Describe shows the VPC");
    let artifacts = d
        .pointer("/ModelArtifacts/S3ModelArtifacts")
        .and_then(Value::as_str)
        .unwrap();
    let model = env.model_json(artifacts).await;
    assert_eq!(
        model["channels"]["validation"]["contents"],
        json!(["7,7\n"]),
        "the channel is <root>/<FileSystemId>/<DirectoryPath>"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_a_tuning_job_with_vpc_config_then_its_training_jobs_carry_it() {
    let (env, _roots) = env_with_file_system();
    env.put_train_data().await;
    let mut def = file_system_request("unused", "/fsx/val");
    def["VpcConfig"] = vpc();
    let d = env
        .ok(
            "createHyperParameterTuningJob",
            true,
            tuning_request("tune-vpc", &def),
        )
        .await;
    assert_eq!(
        status(&d, "HyperParameterTuningJobStatus"),
        "Completed",
        "{d:#}"
    );
    let jobs = env.tuned_jobs("tune-vpc").await;
    assert_eq!(jobs.len(), 1);
    let job = env
        .ok(
            "describeTrainingJob",
            false,
            json!({"TrainingJobName": jobs[0]["TrainingJobName"]}),
        )
        .await;
    assert_eq!(job["VpcConfig"], vpc());
}
