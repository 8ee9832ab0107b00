//! Training jobs, CreateModel and fault injection end to end with the fake container.

mod common;

use common::*;
use mdlc_core::PortError;
use mdlc_core::ports::SageMakerApi;
use mdlc_emulator::JobKind;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_s3_and_file_system_channels_when_training_sync_then_the_contract_is_honoured() {
    let fs_root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(fs_root.path().join("shared/val")).unwrap();
    std::fs::write(fs_root.path().join("shared/val/v.csv"), "9,9\n").unwrap();
    let root = fs_root.path().to_path_buf();
    let env = setup_with("", move |c| {
        c.file_systems.insert("fs-0123456789abcdef0".into(), root);
    });
    put(&env.store, "s3://bucket/data/train/a.csv", "1,2\n3,4\n").await;
    put(&env.store, "s3://bucket/data/train/sub/b.csv", "5,6\n").await;
    let mut req = training_request("job-contract", json!({"x": "0.5", "epochs": "3"}));
    req["InputDataConfig"].as_array_mut().unwrap().push(json!({
        "ChannelName": "validation",
        "DataSource": {"FileSystemDataSource": {"FileSystemId": "fs-0123456789abcdef0", "FileSystemAccessMode": "ro", "FileSystemType": "EFS", "DirectoryPath": "/shared/val"}}
    }));
    req["VpcConfig"] = json!({"Subnets": ["subnet-0a1b2c3d"], "SecurityGroupIds": ["sg-0a1b2c3d"]});
    let d = env.ok("createTrainingJob", true, req).await;
    assert_eq!(status(&d, "TrainingJobStatus"), "Completed", "{d:#}");
    assert_eq!(status(&d, "SecondaryStatus"), "Completed");
    assert_eq!(
        status(&d, "TrainingJobArn"),
        "arn:aws:sagemaker:us-east-1:123456789012:training-job/job-contract"
    );
    let artifacts = d
        .pointer("/ModelArtifacts/S3ModelArtifacts")
        .and_then(Value::as_str)
        .unwrap();
    assert_eq!(
        artifacts,
        "s3://bucket/out/job-contract/output/model.tar.gz"
    );
    // Metrics: the last value of each definition.
    let finals = d["FinalMetricDataList"].as_array().unwrap();
    let loss = finals.iter().find(|m| m["MetricName"] == "loss").unwrap();
    assert!(
        (loss["Value"].as_f64().unwrap() - (0.04 + 1.0 / 3.0)).abs() < 1e-9,
        "{loss}"
    );
    // The model archive holds what the program wrote, which shows what it was given.
    let model = env.model_json(artifacts).await;
    assert_eq!(model["hyperparameters"], json!({"epochs": "3", "x": "0.5"}));
    assert_eq!(
        model["channels"]["train"]["files"],
        json!(["a.csv", "sub/b.csv"])
    );
    assert_eq!(
        model["channels"]["validation"]["contents"],
        json!(["9,9\n"])
    );
    let job_dir = env.emu.job_dir(JobKind::Training, "job-contract");
    let e = &model["env"];
    assert_eq!(
        e["SM_MODEL_DIR"],
        json!(job_dir.join("model").display().to_string())
    );
    assert_eq!(
        e["SM_CHANNEL_TRAIN"],
        json!(job_dir.join("input/data/train").display().to_string())
    );
    assert_eq!(e["SM_CHANNELS"], json!("[\"train\",\"validation\"]"));
    assert_eq!(e["SM_HP_X"], json!("0.5"));
    assert_eq!(
        serde_json::from_str::<Value>(e["SM_HPS"].as_str().unwrap()).unwrap(),
        json!({"epochs": 3, "x": 0.5})
    );
    assert_eq!(e["SM_CURRENT_HOST"], json!("algo-1"));
    assert_eq!(e["SM_HOSTS"], json!("[\"algo-1\"]"));
    assert_eq!(e["MDLC_OPT_ML"], json!(job_dir.display().to_string()));
    assert!(e["SM_NUM_CPUS"].as_str().unwrap().parse::<usize>().unwrap() >= 1);
    // The job directory was laid out like /opt/ml while the job ran (what the program saw).
    assert_eq!(model["hyperparameters"], json!({"epochs": "3", "x": "0.5"}));
    let idc = &model["input_config"]["inputdataconfig"];
    assert_eq!(idc["train"]["ContentType"], "text/csv");
    assert_eq!(
        model["input_config"]["resourceconfig"]["current_host"],
        "algo-1"
    );
    // Read-only file system channel: copied files are read-only.
    assert_eq!(
        model["channels"]["validation"]["read_only"],
        json!(["v.csv"])
    );
    // The scratch space went with the job: its log and description stay.
    let mut left: Vec<String> = std::fs::read_dir(&job_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, vec![".owner.json", "algo-1.log", "describe.json"]);
    // output/data was packed too.
    assert!(
        !get(
            &env.store,
            "s3://bucket/out/job-contract/output/output.tar.gz"
        )
        .await
        .is_empty()
    );
    // The log is kept per job and readable by API.
    let logs = env
        .emu
        .log_events(JobKind::Training, "job-contract")
        .unwrap();
    assert!(
        logs.iter().any(|l| l.message.starts_with("epoch=3 loss=")),
        "{logs:?}"
    );
    assert!(
        env.emu
            .log_path(JobKind::Training, "job-contract")
            .is_file()
    );
    // Describe through the API and through the port.
    let again = env
        .ok(
            "describeTrainingJob",
            false,
            json!({"TrainingJobName": "job-contract"}),
        )
        .await;
    assert_eq!(again["TrainingJobStatus"], "Completed");
    let info = env.emu.describe_training_job("job-contract").await.unwrap();
    assert_eq!(info.model_artifacts.as_deref(), Some(artifacts));
    assert_eq!(
        info.hyperparameters.get("x").map(String::as_str),
        Some("0.5")
    );
    assert!(
        info.final_metrics.contains_key("validation:rmse")
            || info.final_metrics.contains_key("loss")
    );
    assert!(matches!(
        env.emu.describe_training_job("nope").await,
        Err(PortError::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_a_plain_create_when_called_then_the_arn_comes_back_and_the_job_runs_in_the_background()
 {
    let env = setup();
    env.put_train_data().await;
    let r = env
        .ok(
            "createTrainingJob",
            false,
            training_request("bg-job", json!({"epochs": "2", "epoch_ms": "200"})),
        )
        .await;
    assert_eq!(
        r,
        json!({"TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/bg-job"})
    );
    let d = env.emu.wait(JobKind::Training, "bg-job").await.unwrap();
    assert_eq!(d["TrainingJobStatus"], "Completed");
    let dup = env
        .fail(
            "createTrainingJob",
            false,
            training_request("bg-job", json!({})),
        )
        .await;
    assert_eq!(dup.error, "SageMaker.ResourceInUseException");
    assert_contains(&dup.cause, "bg-job");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_a_failing_program_when_training_sync_then_the_task_fails_with_the_describe_output() {
    let env = setup();
    env.put_train_data().await;
    let f = env
        .fail(
            "createTrainingJob",
            true,
            training_request("fails", json!({"mode": "fail"})),
        )
        .await;
    assert_eq!(f.error, "States.TaskFailed");
    let cause = described(&f);
    assert_eq!(cause["TrainingJobStatus"], "Failed");
    assert_eq!(
        cause["FailureReason"],
        "ClientError: bad hyperparameter: mode=fail, exit code: 1"
    );
    let crash = env
        .fail(
            "createTrainingJob",
            true,
            training_request("crashes", json!({"mode": "crash"})),
        )
        .await;
    let cause = described(&crash);
    assert!(
        text(&cause, "FailureReason").ends_with("exit code: 3"),
        "{cause}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_an_empty_channel_when_training_then_the_job_fails_like_aws() {
    let env = setup();
    let f = env
        .fail(
            "createTrainingJob",
            true,
            training_request("no-data", json!({})),
        )
        .await;
    assert_contains(
        text(&described(&f), "FailureReason"),
        "No S3 objects found under S3 URL \"s3://bucket/data/train/\"",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_max_runtime_when_the_program_overruns_then_it_is_killed_and_the_job_stops() {
    let env = setup();
    env.put_train_data().await;
    let mut req = training_request("too-slow", json!({"mode": "sleep", "sleep_secs": "120"}));
    req["StoppingCondition"]["MaxRuntimeInSeconds"] = json!(1);
    let f = env.fail("createTrainingJob", true, req).await;
    assert_eq!(f.error, "States.TaskFailed");
    let cause = described(&f);
    assert_eq!(cause["TrainingJobStatus"], "Stopped");
    assert_eq!(cause["SecondaryStatus"], "MaxRuntimeExceeded");
    assert_contains(text(&cause, "FailureReason"), "MaxRuntimeInSeconds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_a_running_job_when_stopped_then_it_ends_stopped() {
    let env = setup();
    env.put_train_data().await;
    env.ok(
        "createTrainingJob",
        false,
        training_request("to-stop", json!({"mode": "sleep"})),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    env.ok(
        "stopTrainingJob",
        false,
        json!({"TrainingJobName": "to-stop"}),
    )
    .await;
    let d = env.emu.wait(JobKind::Training, "to-stop").await.unwrap();
    assert_eq!(d["TrainingJobStatus"], "Stopped");
    let again = env
        .fail(
            "stopTrainingJob",
            false,
            json!({"TrainingJobName": "to-stop"}),
        )
        .await;
    assert_eq!(again.error, "SageMaker.AmazonSageMakerException");
}

#[tokio::test]
async fn given_invalid_requests_when_creating_then_every_bad_field_is_named() {
    let env = setup();
    let f = env
        .fail("createTrainingJob", true, json!({"TrainingJobName": "bad_name", "HyperParameters": {"n": 3}, "InputDataConfig": [{"ChannelName": "t", "DataSource": {}}]}))
        .await;
    assert_eq!(f.error, "SageMaker.AmazonSageMakerException");
    for field in [
        "TrainingJobName",
        "AlgorithmSpecification",
        "RoleArn",
        "HyperParameters.n",
        "OutputDataConfig",
        "ResourceConfig",
        "StoppingCondition",
        "InputDataConfig[0].DataSource",
    ] {
        assert_contains(&f.cause, &format!("'{field}'"));
    }
    assert_contains(&f.cause, "Error Code: ValidationException");
    let mut req = training_request("unknown-image", json!({}));
    req["AlgorithmSpecification"]["TrainingImage"] =
        json!("1.dkr.ecr.us-east-1.amazonaws.com/nothing:1");
    let f = env.fail("createTrainingJob", false, req).await;
    assert_contains(&f.cause, "AlgorithmSpecification.TrainingImage");
    let f = env
        .fail(
            "describeTrainingJob",
            false,
            json!({"TrainingJobName": "missing"}),
        )
        .await;
    assert_eq!(f.error, "SageMaker.ResourceNotFoundException");
    let f = env.fail("createEndpoint", false, json!({})).await;
    assert_eq!(f.error, "States.Runtime");
    let f = env.fail("createModel", true, json!({})).await;
    assert_eq!(f.error, "States.Runtime");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_model_data_when_creating_models_then_aws_rules_apply() {
    let env = setup();
    let req = |name: &str, url: &str| json!({"ModelName": name, "ExecutionRoleArn": ROLE, "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": url}});
    let f = env
        .fail(
            "createModel",
            false,
            req("m1", "s3://bucket/missing/model.tar.gz"),
        )
        .await;
    assert_eq!(f.error, "SageMaker.AmazonSageMakerException");
    assert_contains(
        &f.cause,
        "Could not find model data at s3://bucket/missing/model.tar.gz",
    );
    put(&env.store, "s3://bucket/m/model.tar.gz", "x").await;
    let ok = env
        .ok(
            "createModel",
            false,
            req("m1", "s3://bucket/m/model.tar.gz"),
        )
        .await;
    assert_eq!(
        ok,
        json!({"ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/m1"})
    );
    let dup = env
        .fail(
            "createModel",
            false,
            req("m1", "s3://bucket/m/model.tar.gz"),
        )
        .await;
    assert_contains(&dup.cause, "Cannot create already existing model");
    // Through the port used by the create-model handler.
    let port_req = mdlc_core::ports::CreateModelRequest {
        model_name: "m1".into(),
        image: IMAGE.into(),
        model_data_url: "s3://bucket/m/model.tar.gz".into(),
        execution_role_arn: ROLE.into(),
        environment: Default::default(),
        vpc_config: None,
    };
    assert!(matches!(
        env.emu.create_model(&port_req).await,
        Err(PortError::Conflict { .. })
    ));
    let mut other = port_req.clone();
    other.model_name = "m2".into();
    assert_eq!(
        env.emu.create_model(&other).await.unwrap(),
        "arn:aws:sagemaker:us-east-1:123456789012:model/m2"
    );
    other.model_name = "m3".into();
    other.model_data_url = "s3://bucket/nope.tar.gz".into();
    assert!(matches!(
        env.emu.create_model(&other).await,
        Err(PortError::Rejected { .. })
    ));
    assert_eq!(
        env.emu.describe_model("m2").await.unwrap(),
        Some((
            "s3://bucket/m/model.tar.gz".to_string(),
            "arn:aws:sagemaker:us-east-1:123456789012:model/m2".to_string()
        ))
    );
    assert_eq!(env.emu.describe_model("m9").await.unwrap(), None);
    // The port's VpcConfig reaches CreateModel: kept when valid, rejected as SageMaker does when not.
    let mut in_vpc = port_req.clone();
    in_vpc.model_name = "m4".into();
    in_vpc.vpc_config = Some(mdlc_core::input::VpcConfig {
        subnets: vec!["subnet-0a1b2c".into()],
        security_group_ids: vec!["sg-0a1b2c".into()],
    });
    env.emu.create_model(&in_vpc).await.expect("model in a VPC");
    let described = env
        .ok("describeModel", false, json!({"ModelName": "m4"}))
        .await;
    assert_eq!(
        described["VpcConfig"],
        json!({"Subnets": ["subnet-0a1b2c"], "SecurityGroupIds": ["sg-0a1b2c"]})
    );
    let plain = env
        .ok("describeModel", false, json!({"ModelName": "m2"}))
        .await;
    assert!(plain.get("VpcConfig").is_none(), "{plain}");
    in_vpc.model_name = "m5".into();
    in_vpc.vpc_config = Some(mdlc_core::input::VpcConfig {
        subnets: vec![],
        security_group_ids: vec!["sg-0a1b2c".into()],
    });
    let bad = env.emu.create_model(&in_vpc).await;
    assert!(
        matches!(&bad, Err(PortError::Rejected { message }) if message.contains("VpcConfig.Subnets")),
        "{bad:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_fault_rules_when_calling_then_throttling_and_job_failures_are_injected() {
    let env = setup_with("throttle:createTrainingJob:2,fail:doomed-*", |_| {});
    env.put_train_data().await;
    for _ in 0..2 {
        let f = env
            .fail(
                "createTrainingJob",
                true,
                training_request("after-throttle", json!({})),
            )
            .await;
        assert_eq!(f.error, "SageMaker.AmazonSageMakerException");
        assert_contains(&f.cause, "Error Code: ThrottlingException");
    }
    let d = env
        .ok(
            "createTrainingJob",
            true,
            training_request("after-throttle", json!({})),
        )
        .await;
    assert_eq!(d["TrainingJobStatus"], "Completed");
    let f = env
        .fail(
            "createTrainingJob",
            true,
            training_request("doomed-1", json!({})),
        )
        .await;
    assert_eq!(f.error, "States.TaskFailed");
    assert_contains(text(&described(&f), "FailureReason"), "injected failure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_an_abandoned_sync_task_when_dropped_then_its_job_is_stopped() {
    let env = setup();
    env.put_train_data().await;
    let call = env.emu.call(
        "createTrainingJob",
        true,
        training_request("abandoned", json!({"mode": "sleep"})),
    );
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(400), call)
            .await
            .is_err()
    );
    let d = env.emu.wait(JobKind::Training, "abandoned").await.unwrap();
    assert_eq!(d["TrainingJobStatus"], "Stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_a_manifest_file_channel_when_training_then_the_listed_objects_are_downloaded() {
    let env = setup();
    put(&env.store, "s3://bucket/pool/x.csv", "1,1\n").await;
    put(&env.store, "s3://bucket/pool/deep/y.csv", "2,2\n").await;
    put(&env.store, "s3://bucket/pool/unlisted.csv", "3,3\n").await;
    put(
        &env.store,
        "s3://bucket/manifests/train.json",
        r#"[{"prefix": "s3://bucket/pool/"}, "x.csv", "deep/y.csv"]"#,
    )
    .await;
    let mut req = training_request("manifest-job", json!({}));
    req["InputDataConfig"][0]["DataSource"]["S3DataSource"] =
        json!({"S3DataType": "ManifestFile", "S3Uri": "s3://bucket/manifests/train.json"});
    let d = env.ok("createTrainingJob", true, req).await;
    let model = env
        .model_json(text(&d["ModelArtifacts"], "S3ModelArtifacts"))
        .await;
    assert_eq!(
        model["channels"]["train"]["files"],
        json!(["deep/y.csv", "x.csv"])
    );
    put(
        &env.store,
        "s3://bucket/manifests/bad.json",
        r#"[{"prefix": "s3://bucket/pool/"}, "../etc/passwd"]"#,
    )
    .await;
    let mut req = training_request("manifest-bad", json!({}));
    req["InputDataConfig"][0]["DataSource"]["S3DataSource"] =
        json!({"S3DataType": "ManifestFile", "S3Uri": "s3://bucket/manifests/bad.json"});
    let f = env.fail("createTrainingJob", true, req).await;
    assert_contains(&f.cause, "is not a plain relative key");
}
