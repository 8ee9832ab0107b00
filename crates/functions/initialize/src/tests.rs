use mdlc_core::ErrorName;
use mdlc_core::input::{
    DataSource, EarlyStopping, FileSystemType, ObjectiveType, ProblemType, RangeType, ScalingType,
    Strategy,
};
use mdlc_core::memory::InMemoryWorld;
use mdlc_core::metrics::{Direction, MetricName};
use mdlc_core::names::{MAX_JOB_NAME, MAX_TUNING_JOB_NAME, is_valid_name};
use serde_json::json;

use super::*;

const ARN: &str = "arn:aws:states:us-east-1:000000000000:execution:training:run-1";

fn event(flow: &str, input: Value) -> Value {
    json!({"flow": flow, "executionArn": ARN, "input": input})
}

async fn run(input: Value) -> Result<RunPlan, HandlerFailure> {
    run_flow("training", input).await
}

async fn run_flow(flow: &str, input: Value) -> Result<RunPlan, HandlerFailure> {
    let world = InMemoryWorld::new();
    let out = invoke(event(flow, input), &world.dependencies()).await?;
    Ok(serde_json::from_value(out).expect("the output is a RunPlan"))
}

fn problems(result: Result<RunPlan, HandlerFailure>) -> String {
    let failure = result.expect_err("expected InvalidInput");
    assert_eq!(
        failure.error_type,
        ErrorName::InvalidInput.as_str(),
        "{failure}"
    );
    failure.message
}

#[tokio::test]
async fn given_only_a_model_name_when_initialized_then_every_default_is_filled() {
    let plan = run(json!({"modelName": "churn"})).await.unwrap();
    let i = &plan.input;
    assert_eq!(i.data_date, "2024-06-01", "today by the clock");
    assert_eq!(i.problem_type, ProblemType::Regression);
    assert_eq!(
        i.data.train,
        DataSource::S3Uri(
            "s3://mdlc-artifacts/datasets/churn/2024-06-01/train/"
                .parse()
                .unwrap()
        )
    );
    assert_eq!(
        i.data.evaluation.ground_truth.to_string(),
        "s3://mdlc-artifacts/datasets/churn/2024-06-01/evaluation/labels/"
    );
    assert_eq!(
        i.algorithm.image,
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    );
    assert!(i.tuning.enabled);
    assert_eq!(i.tuning.strategy, Strategy::Bayesian);
    assert_eq!(i.tuning.objective.metric, "validation:rmse");
    assert_eq!(i.tuning.objective.kind, ObjectiveType::Minimize);
    assert_eq!(i.tuning.max_jobs, 8);
    assert_eq!(i.tuning.max_parallel_jobs, 2);
    assert_eq!(i.tuning.early_stopping, EarlyStopping::Off);
    assert_eq!(i.tuning.ranges.len(), 4);
    assert_eq!(
        i.tuning.static_hyper_parameters["objective"],
        "reg:squarederror"
    );
    assert_eq!(i.tuning.static_hyper_parameters["eval_metric"], "rmse");
    assert!(
        !i.tuning.static_hyper_parameters.contains_key("eta"),
        "tuned, not static"
    );
    assert_eq!(i.monitoring.metric, MetricName::Rmse);
    assert_eq!(i.monitoring.direction, Direction::LowerIsBetter);
    assert_eq!(i.reason, "initial");
    assert_eq!(plan.flow, Flow::Training);
    assert!(is_valid_name(&plan.names.training_job, MAX_JOB_NAME));
    assert!(is_valid_name(&plan.names.tuning_job, MAX_TUNING_JOB_NAME));
    assert_eq!(
        plan.locations.output_path.to_string(),
        format!("s3://mdlc-artifacts/models/churn/{}/", plan.names.run_id)
    );
}

#[tokio::test]
async fn given_binary_problem_then_defaults_follow_it() {
    let plan = run(json!({"modelName": "fraud", "problemType": "binary"}))
        .await
        .unwrap();
    assert_eq!(plan.input.tuning.objective.metric, "validation:auc");
    assert_eq!(plan.input.tuning.objective.kind, ObjectiveType::Maximize);
    assert_eq!(
        plan.input.tuning.static_hyper_parameters["objective"],
        "binary:logistic"
    );
    assert_eq!(plan.input.monitoring.metric, MetricName::Auc);
    assert_eq!(plan.input.monitoring.direction, Direction::HigherIsBetter);
}

#[tokio::test]
async fn given_a_complete_input_then_it_is_kept_and_round_trips() {
    let input: Value = serde_json::from_str(include_str!(
        "../../../../tests/fixtures/inputs/complete.json"
    ))
    .unwrap();
    let plan = run(input).await.unwrap();
    let i = &plan.input;
    match &i.data.train {
        DataSource::FileSystem(fs) => {
            assert_eq!(fs.kind, FileSystemType::FsxLustre);
            assert!(fs.read_only, "read-only by default");
        }
        other => panic!("expected a file system channel, got {other:?}"),
    }
    assert_eq!(i.tuning.ranges[0].scaling_type, ScalingType::Logarithmic);
    assert_eq!(i.tuning.ranges[2].kind, RangeType::Categorical);
    assert_eq!(i.tuning.static_hyper_parameters["num_round"], "50");
    assert_eq!(i.tuning.static_hyper_parameters["eval_metric"], "mae");
    assert_eq!(i.parent_version, Some(4));
    assert!(i.approval_required, "the approval gate is kept");
    assert_eq!(i.monitoring.threshold, Some(3.5));
    let vpc = i.vpc_config.as_ref().expect("the VPC is kept");
    assert_eq!(
        vpc.sagemaker(),
        json!({"Subnets": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"], "SecurityGroupIds": ["sg-0123456789abcdef0"]})
    );
    // The resolved input is itself a valid input that resolves to the same thing.
    let again = run(serde_json::to_value(i).unwrap()).await.unwrap();
    assert_eq!(&again.input, i);
}

#[tokio::test]
async fn given_many_problems_then_every_one_is_reported_with_its_pointer() {
    let message = problems(
        run(json!({
            "dataDate": "2024-13-01",
            "problemType": "multiclass",
            "data": {"train": "http://x/y", "evaluation": {"features": "s3://bkt/no-slash"}, "extra": 1},
            "algorithm": {"instanceType": "m5.large", "instanceCount": 0},
            "tuning": {
                "strategy": "Grid",
                "ranges": [
                    {"name": "eta", "type": "Continuous", "minValue": 0.5, "maxValue": 0.1},
                    {"name": "alpha", "type": "Continuous", "minValue": 0, "maxValue": 1, "scalingType": "Logarithmic"},
                    {"name": "depth", "type": "Integer", "minValue": 1.5, "maxValue": 4}
                ],
                "maxJobs": 2, "maxParallelJobs": 3, "earlyStopping": "Sometimes"
            },
            "monitoring": {"metric": "auc", "cooldownSeconds": -1},
            "bogus": true
        }))
        .await,
    );
    for expected in [
        "/modelName: is required",
        "/dataDate: must be a date YYYY-MM-DD",
        "/problemType: must be one of regression, binary",
        "/data/train: invalid S3 URI",
        "/data/evaluation/features: must be an S3 prefix ending with '/'",
        "/data/evaluation/groundTruth: is required",
        "/data/extra: unknown field",
        "/algorithm/instanceType: must be a SageMaker instance type",
        "/algorithm/instanceCount: must be an integer from 1 to 100",
        "/tuning/ranges/0/maxValue: must be greater than minValue",
        "/tuning/ranges/1/minValue: must be greater than 0 for Logarithmic scaling",
        "/tuning/ranges/2/minValue: must be an integer for an Integer range",
        "/tuning/maxParallelJobs: must not exceed maxJobs (2)",
        "/tuning/earlyStopping: must be one of Off, Auto",
        "/monitoring/metric: must be one of rmse, mae, r2",
        "/monitoring/cooldownSeconds: must be an integer from 0",
        "/bogus: unknown field",
    ] {
        assert!(
            message.contains(expected),
            "missing {expected:?} in:\n{message}"
        );
    }
}

#[tokio::test]
async fn given_bad_model_names_then_rejected() {
    for name in [
        json!("-x"),
        json!("a_b"),
        json!("x".repeat(49)),
        json!(""),
        json!(7),
    ] {
        let message = problems(run(json!({"modelName": name})).await);
        assert!(message.contains("/modelName"), "{message}");
    }
}

#[tokio::test]
async fn given_strategy_specific_rules_then_enforced() {
    let message = problems(
        run(
            json!({"modelName": "m", "tuning": {"strategy": "Hyperband", "earlyStopping": "Auto"}}),
        )
        .await,
    );
    assert!(
        message.contains("/tuning/earlyStopping: must be Off with the Hyperband"),
        "{message}"
    );
    let message = problems(run(json!({"modelName": "m", "tuning": {"strategy": "Grid"}})).await);
    assert!(
        message.contains("/tuning/ranges: is required with the Grid strategy"),
        "{message}"
    );
    let message = problems(
        run(
            json!({"modelName": "m", "tuning": {"strategy": "Grid", "ranges": [
            {"name": "max_depth", "type": "Integer", "minValue": 3, "maxValue": 5}]}}),
        )
        .await,
    );
    assert!(
        message.contains("/tuning/ranges/0/type: range \"max_depth\" is Integer: the Grid strategy takes only Categorical ranges"),
        "{message}"
    );
    let message = problems(
        run(
            json!({"modelName": "m", "tuning": {"strategy": "Grid", "maxJobs": 8, "ranges": [
            {"name": "max_depth", "type": "Categorical", "values": ["3", "5"]}]}}),
        )
        .await,
    );
    assert!(
        message.contains("/tuning/maxJobs: is 8, but the Grid strategy runs one training job per combination and the ranges give 2 combinations"),
        "{message}"
    );
    let message = problems(
        run(json!({"modelName": "m", "tuning": {
            "ranges": [{"name": "eta", "type": "Continuous", "minValue": 0.1, "maxValue": 0.2}],
            "staticHyperParameters": {"eta": 0.3}}}))
        .await,
    );
    assert!(
        message.contains("\"eta\" is both tuned and static"),
        "{message}"
    );
    let message = problems(
        run(json!({"modelName": "m", "tuning": {"ranges": [
            {"name": "c", "type": "Categorical", "values": []},
            {"name": "r", "type": "Continuous", "minValue": 0.1, "maxValue": 1.0, "scalingType": "ReverseLogarithmic"}
        ]}}))
        .await,
    );
    assert!(message.contains("/tuning/ranges/0/values"), "{message}");
    assert!(
        message.contains("/tuning/ranges/1/minValue: ReverseLogarithmic"),
        "{message}"
    );
}

#[tokio::test]
async fn given_custom_image_then_ranges_and_metric_definitions_are_required() {
    let message = problems(
        run(json!({"modelName": "m", "algorithm": {"image": "123.dkr.ecr.us-east-1.amazonaws.com/mine:1"}}))
            .await,
    );
    assert!(message.contains("/tuning/ranges: is required"), "{message}");
    assert!(message.contains("/tuning/objective/metric"), "{message}");
    // Tuning off with a custom image needs neither.
    let plan = run(json!({"modelName": "m", "algorithm": {"image": "123.dkr.ecr.us-east-1.amazonaws.com/mine:1"},
                          "tuning": {"enabled": false}}))
    .await
    .unwrap();
    assert!(!plan.input.tuning.enabled);
    assert!(plan.input.tuning.static_hyper_parameters.is_empty());
}

#[tokio::test]
async fn given_flow_specific_fields_in_the_wrong_flow_then_rejected() {
    let message = problems(run(json!({"modelName": "m", "modelVersion": 3})).await);
    assert!(
        message.contains("/modelVersion: only the evaluation flow"),
        "{message}"
    );
    let message =
        problems(run_flow("evaluation", json!({"modelName": "m", "parentVersion": 3})).await);
    assert!(
        message.contains("/parentVersion: only the training flow"),
        "{message}"
    );
    let plan = run_flow("evaluation", json!({"modelName": "m", "modelVersion": 3}))
        .await
        .unwrap();
    assert_eq!(plan.input.model_version, Some(3));
}

#[tokio::test]
async fn given_bad_events_then_invalid_input_names_the_field() {
    let world = InMemoryWorld::new();
    let deps = world.dependencies();
    let f = invoke(json!([1]), &deps).await.unwrap_err();
    assert_eq!(f.error_type, "InvalidInput");
    let f = invoke(json!({"flow": "training"}), &deps)
        .await
        .unwrap_err();
    f.assert_mentions("/executionArn: is required");
    f.assert_mentions("/input: is required");
    let f = invoke(
        json!({"flow": "nightly", "executionArn": ARN, "input": {}}),
        &deps,
    )
    .await
    .unwrap_err();
    f.assert_mentions("/flow");
    let f = invoke(
        json!({"flow": "training", "executionArn": ARN, "input": "x"}),
        &deps,
    )
    .await
    .unwrap_err();
    f.assert_mentions("(root): must be an object");
    let f = invoke(
        json!({"flow": "training", "executionArn": "", "input": {"modelName": "m"}}),
        &deps,
    )
    .await
    .unwrap_err();
    f.assert_mentions("/executionArn");
}

#[tokio::test]
async fn given_two_executions_then_names_differ_and_a_retry_gets_the_same_names() {
    let world = InMemoryWorld::new();
    let deps = world.dependencies();
    let a = invoke(event("training", json!({"modelName": "m"})), &deps)
        .await
        .unwrap();
    let again = invoke(event("training", json!({"modelName": "m"})), &deps)
        .await
        .unwrap();
    assert_eq!(a, again);
    let other = json!({"flow": "training", "executionArn": format!("{ARN}-2"), "input": {"modelName": "m"}});
    let b = invoke(other, &deps).await.unwrap();
    assert_ne!(a["names"]["trainingJob"], b["names"]["trainingJob"]);
    assert_ne!(a["locations"]["outputPath"], b["locations"]["outputPath"]);
}

#[tokio::test]
async fn given_a_static_value_for_a_default_range_then_that_range_is_dropped() {
    let plan = run(json!({"modelName": "m", "tuning": {"staticHyperParameters": {"eta": 0.1}}}))
        .await
        .unwrap();
    let names: Vec<&str> = plan
        .input
        .tuning
        .ranges
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, ["max_depth", "min_child_weight", "subsample"]);
    assert_eq!(plan.input.tuning.static_hyper_parameters["eta"], "0.1");
}

#[tokio::test]
async fn given_a_tracking_block_when_initialized_then_kept_with_the_experiment_defaulted() {
    let plan = run(json!({"modelName": "churn", "tracking": {"uri": "http://127.0.0.1:5000"}}))
        .await
        .unwrap();
    let t = plan.input.tracking.expect("tracking kept");
    assert_eq!(t.uri, "http://127.0.0.1:5000");
    assert_eq!(t.experiment, "churn", "the model name by default");
    let plan = run(json!({"modelName": "churn", "tracking": {
        "uri": "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/team",
        "experiment": "churn experiments"}}))
    .await
    .unwrap();
    let value = serde_json::to_value(&plan).unwrap();
    assert_eq!(
        value.pointer("/input/tracking/experiment"),
        Some(&json!("churn experiments"))
    );
    let plan = run(json!({"modelName": "churn"})).await.unwrap();
    assert_eq!(plan.input.tracking, None, "off without a block");
    let value = serde_json::to_value(&plan).unwrap();
    assert!(
        value.pointer("/input/tracking").is_none(),
        "absent, so the flows' IsPresent test is false"
    );
}

#[tokio::test]
async fn given_bad_tracking_blocks_when_initialized_then_every_problem_is_named() {
    let msg = problems(
        run(json!({"modelName": "churn", "tracking": {"uri": "ftp://x", "experiment": "", "runName": 1}}))
            .await,
    );
    assert!(msg.contains("/tracking/uri"), "{msg}");
    assert!(
        msg.contains("/tracking/experiment: must not be empty"),
        "{msg}"
    );
    assert!(msg.contains("/tracking/runName: unknown field"), "{msg}");
    for (uri, why) in [
        (
            "arn:aws:sagemaker:us-east-1:1:mlflow-tracking-server/",
            "mlflow-tracking-server/NAME",
        ),
        (
            "arn:aws:s3:us-east-1:1:mlflow-tracking-server/x",
            "service must be sagemaker",
        ),
        (
            "arn:aws:sagemaker::1:mlflow-tracking-server/x",
            "region and an account",
        ),
        ("http://", "no host"),
        ("http://host:99999", "port"),
        ("http://a b", "spaces"),
    ] {
        let msg = problems(run(json!({"modelName": "churn", "tracking": {"uri": uri}})).await);
        assert!(
            msg.contains("/tracking/uri") && msg.contains(why),
            "{uri}: {msg}"
        );
    }
    let msg = problems(run(json!({"modelName": "churn", "tracking": {}})).await);
    assert!(msg.contains("/tracking/uri: is required"), "{msg}");
    let msg = problems(run(json!({"modelName": "churn", "tracking": "http://x"})).await);
    assert!(msg.contains("/tracking: must be an object"), "{msg}");
}

#[tokio::test]
async fn given_a_stack_tracking_server_when_the_input_has_none_then_the_plan_uses_it() {
    let world = InMemoryWorld::new();
    let mut deps = world.dependencies();
    deps.config.tracking_uri = Some("http://mlflow.internal:5000".into());
    let out = invoke(event("training", json!({"modelName": "churn"})), &deps)
        .await
        .unwrap();
    assert_eq!(
        out.pointer("/input/tracking"),
        Some(&json!({"uri": "http://mlflow.internal:5000", "experiment": "churn"}))
    );
    let out = invoke(
        event(
            "evaluation",
            json!({"modelName": "churn", "tracking": {"uri": "https://other", "experiment": "e"}}),
        ),
        &deps,
    )
    .await
    .unwrap();
    assert_eq!(
        out.pointer("/input/tracking/uri"),
        Some(&json!("https://other")),
        "the input wins"
    );
}

#[tokio::test]
async fn given_a_preprocessing_block_when_initialized_then_defaults_are_filled_and_the_channels_are_its_outputs()
 {
    let plan = run(json!({
        "modelName": "churn",
        "problemType": "binary",
        "preprocessing": {"raw": "s3://raw-data/churn/all.csv"}
    }))
    .await
    .unwrap();
    let p = plan
        .input
        .preprocessing
        .as_ref()
        .expect("the block is kept");
    assert!(p.enabled);
    assert_eq!(
        p.raw,
        vec!["s3://raw-data/churn/all.csv".parse::<S3Uri>().unwrap()]
    );
    assert_eq!(p.validation_ratio, 0.2);
    assert_eq!(p.seed, 42);
    assert_eq!(p.bins, 10);
    assert_eq!(p.instance_type, "ml.m5.large");
    assert_eq!((p.volume_size_gb, p.max_runtime_seconds), (30, 3600));
    // The default image: the mdlc-preprocess repository of the role's account, in the region.
    assert!(
        p.image
            .starts_with("000000000000.dkr.ecr.us-east-1.amazonaws.com/mdlc-preprocess:"),
        "{}",
        p.image
    );

    let pre = plan.preprocessing.as_ref().expect("a processing plan");
    let run_id = &plan.names.run_id;
    assert_eq!(pre.job_name, format!("churn-20240601-{run_id}-p"));
    assert!(is_valid_name(&format!("{}-12", pre.job_name), MAX_JOB_NAME));
    let base = format!("s3://mdlc-artifacts/models/churn/{run_id}/preprocessing");
    assert_eq!(pre.train.to_string(), format!("{base}/train/"));
    assert_eq!(pre.validation.to_string(), format!("{base}/validation/"));
    assert_eq!(
        pre.profile.to_string(),
        format!("{base}/profile/profile.json")
    );
    // Training reads the processing outputs.
    assert_eq!(plan.input.data.train, DataSource::S3Uri(pre.train.clone()));
    assert_eq!(
        plan.input.data.validation,
        DataSource::S3Uri(pre.validation.clone())
    );

    let r = &pre.request;
    assert_eq!(r["ProcessingJobName"], json!(pre.job_name));
    assert_eq!(
        r["RoleArn"],
        "arn:aws:iam::000000000000:role/mdlc-sagemaker"
    );
    assert_eq!(r["AppSpecification"]["ImageUri"], json!(p.image));
    assert_eq!(
        r["AppSpecification"]["ContainerArguments"],
        json!([
            "--train-ratio",
            "0.8",
            "--seed",
            "42",
            "--problem",
            "binary",
            "--bins",
            "10"
        ])
    );
    assert_eq!(
        r["ProcessingInputs"],
        json!([{"InputName": "raw", "S3Input": {
            "S3Uri": "s3://raw-data/churn/all.csv", "LocalPath": "/opt/ml/processing/input",
            "S3DataType": "S3Prefix", "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated"}}])
    );
    let outputs = r["ProcessingOutputConfig"]["Outputs"].as_array().unwrap();
    let pairs: Vec<(String, String, String)> = outputs
        .iter()
        .map(|o| {
            (
                o["OutputName"].as_str().unwrap().to_string(),
                o["S3Output"]["S3Uri"].as_str().unwrap().to_string(),
                o["S3Output"]["LocalPath"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        vec![
            (
                "train".into(),
                format!("{base}/train/"),
                "/opt/ml/processing/output/train".into()
            ),
            (
                "validation".into(),
                format!("{base}/validation/"),
                "/opt/ml/processing/output/validation".into()
            ),
            (
                "profile".into(),
                format!("{base}/profile/"),
                "/opt/ml/processing/output/profile".into()
            ),
        ]
    );
    assert_eq!(
        r["ProcessingResources"]["ClusterConfig"],
        json!({"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30})
    );
    assert_eq!(r["StoppingCondition"]["MaxRuntimeInSeconds"], 3600);

    // The resolved input round-trips (a retrain starts another execution with it).
    let again: mdlc_core::input::ExecutionInput =
        serde_json::from_value(serde_json::to_value(&plan.input).unwrap()).unwrap();
    assert_eq!(again, plan.input);
}

/// `split: false`: the processing job reads the given channels (as `train` and `validation`
/// inputs) and writes only the profile; training reads the channels where they are, so the
/// rows are not copied; the retrain's training input splits again.
#[tokio::test]
async fn given_split_false_when_initialized_then_the_job_profiles_the_given_channels_and_training_reads_them()
 {
    let plan = run(json!({
        "modelName": "churn",
        "problemType": "binary",
        "data": {"train": "s3://my-data/churn/train/", "validation": "s3://my-data/churn/val.csv"},
        "preprocessing": {"split": false, "bins": 12}
    }))
    .await
    .unwrap();
    let pre = plan.preprocessing.as_ref().expect("a processing plan");
    let run_id = &plan.names.run_id;
    let base = format!("s3://mdlc-artifacts/models/churn/{run_id}/preprocessing");
    assert_eq!(pre.train.to_string(), "s3://my-data/churn/train/");
    assert_eq!(pre.validation.to_string(), "s3://my-data/churn/val.csv");
    assert_eq!(
        pre.profile.to_string(),
        format!("{base}/profile/profile.json")
    );
    assert_eq!(
        plan.input.data.train,
        DataSource::S3Uri("s3://my-data/churn/train/".parse().unwrap())
    );
    assert_eq!(
        plan.input.data.validation,
        DataSource::S3Uri("s3://my-data/churn/val.csv".parse().unwrap())
    );
    let r = &pre.request;
    assert_eq!(
        r["AppSpecification"]["ContainerArguments"],
        json!(["--profile-only", "--problem", "binary", "--bins", "12"])
    );
    let input = |name: &str, uri: &str| {
        json!({"InputName": name, "S3Input": {
            "S3Uri": uri, "LocalPath": format!("/opt/ml/processing/input/{name}"),
            "S3DataType": "S3Prefix", "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated"}})
    };
    assert_eq!(
        r["ProcessingInputs"],
        json!([
            input("train", "s3://my-data/churn/train/"),
            input("validation", "s3://my-data/churn/val.csv")
        ])
    );
    assert_eq!(
        r["ProcessingOutputConfig"]["Outputs"],
        json!([{"OutputName": "profile", "S3Output": {
            "S3Uri": format!("{base}/profile/"), "LocalPath": "/opt/ml/processing/output/profile",
            "S3UploadMode": "EndOfJob"}}])
    );
    // The resolved input round-trips with split false.
    let again: mdlc_core::input::ExecutionInput =
        serde_json::from_value(serde_json::to_value(&plan.input).unwrap()).unwrap();
    assert_eq!(again, plan.input);
    assert!(!again.preprocessing.unwrap().split);

    // Without data: the default dataset channels of the date.
    let plan = run(json!({"modelName": "churn", "preprocessing": {"split": false}}))
        .await
        .unwrap();
    assert_eq!(
        plan.preprocessing.unwrap().train.to_string(),
        "s3://mdlc-artifacts/datasets/churn/2024-06-01/train/"
    );

    // Refused: raw with split false, a file-system channel, a split that is not a boolean.
    let message = problems(
        run(json!({"modelName": "churn",
            "data": {"validation": {"fileSystem": {"id": "fs-0123456789abcdef0", "type": "EFS", "directoryPath": "/efs/v"}}},
            "vpcConfig": {"subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]},
            "preprocessing": {"split": false, "raw": "s3://raw-data/a.csv"}}))
        .await,
    );
    assert!(
        message.contains("/preprocessing/raw: must be absent with preprocessing.split false"),
        "{message}"
    );
    assert!(
        message.contains("/data/validation: must be an S3 URI with preprocessing.split false"),
        "{message}"
    );
    assert!(!message.contains("/data/train"), "{message}");
    let message =
        problems(run(json!({"modelName": "churn", "preprocessing": {"split": "no"}})).await);
    assert!(message.contains("/preprocessing/split"), "{message}");
}

#[tokio::test]
async fn given_every_preprocessing_field_when_initialized_then_the_request_uses_them() {
    let plan = run(json!({
        "modelName": "prices",
        "preprocessing": {
            "raw": "s3://raw-data/prices/", "validationRatio": 0.25, "seed": 7, "bins": 20,
            "image": "mdlc/preprocess", "instanceType": "ml.c5.xlarge", "volumeSizeGb": 50,
            "maxRuntimeSeconds": 600
        }
    }))
    .await
    .unwrap();
    let r = &plan.preprocessing.as_ref().unwrap().request;
    assert_eq!(r["AppSpecification"]["ImageUri"], "mdlc/preprocess");
    assert_eq!(
        r["AppSpecification"]["ContainerArguments"],
        json!([
            "--train-ratio",
            "0.75",
            "--seed",
            "7",
            "--problem",
            "regression",
            "--bins",
            "20"
        ])
    );
    assert_eq!(
        r["ProcessingInputs"][0]["S3Input"]["S3Uri"],
        "s3://raw-data/prices/"
    );
    assert_eq!(
        r["ProcessingResources"]["ClusterConfig"],
        json!({"InstanceCount": 1, "InstanceType": "ml.c5.xlarge", "VolumeSizeInGB": 50})
    );
    assert_eq!(r["StoppingCondition"]["MaxRuntimeInSeconds"], 600);
}

#[tokio::test]
async fn given_preprocessing_off_or_the_evaluation_flow_then_no_processing_job() {
    let off = run(json!({"modelName": "churn",
        "preprocessing": {"enabled": false, "raw": "s3://raw-data/a.csv"}}))
    .await
    .unwrap();
    assert_eq!(off.preprocessing, None);
    assert!(off.input.preprocessing.is_some(), "the block is kept");
    assert_eq!(
        off.input.data.train,
        DataSource::S3Uri(
            "s3://mdlc-artifacts/datasets/churn/2024-06-01/train/"
                .parse()
                .unwrap()
        )
    );
    let none = run(json!({"modelName": "churn"})).await.unwrap();
    assert_eq!(none.preprocessing, None);
    assert_eq!(none.input.preprocessing, None);
    // The evaluation flow keeps the block for the retrain it may start, and runs no job.
    let eval = run_flow(
        "evaluation",
        json!({"modelName": "churn", "preprocessing": {"raw": "s3://raw-data/a.csv"}}),
    )
    .await
    .unwrap();
    assert_eq!(eval.preprocessing, None);
    assert!(eval.input.preprocessing.is_some());
}

#[tokio::test]
async fn given_bad_preprocessing_blocks_when_initialized_then_every_bad_field_is_named() {
    let message = problems(
        run(json!({"modelName": "churn", "preprocessing": {
            "enabled": "yes", "raw": "https://x/y.csv", "validationRatio": 1.5, "seed": -1,
            "bins": 1, "image": "", "instanceType": "m5.large", "volumeSizeGb": 0,
            "maxRuntimeSeconds": 0, "labelColumn": 3
        }}))
        .await,
    );
    for pointer in [
        "/preprocessing/enabled",
        "/preprocessing/raw",
        "/preprocessing/validationRatio",
        "/preprocessing/seed",
        "/preprocessing/bins",
        "/preprocessing/image",
        "/preprocessing/instanceType",
        "/preprocessing/volumeSizeGb",
        "/preprocessing/maxRuntimeSeconds",
        "/preprocessing/labelColumn",
    ] {
        assert!(
            message.contains(pointer),
            "{pointer} missing from: {message}"
        );
    }
    let message = problems(run(json!({"modelName": "churn", "preprocessing": {}})).await);
    assert!(
        message.contains("/preprocessing/raw") && message.contains("is required"),
        "{message}"
    );
    let message =
        problems(run(json!({"modelName": "churn", "preprocessing": "s3://raw-data/b.csv"})).await);
    assert!(
        message.contains("/preprocessing") && message.contains("must be an object"),
        "{message}"
    );
    for ratio in [0.0, 1.0] {
        let message = problems(
            run(json!({"modelName": "churn",
                "preprocessing": {"raw": "s3://raw-data/b.csv", "validationRatio": ratio}}))
            .await,
        );
        assert!(
            message.contains("/preprocessing/validationRatio"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn given_a_role_without_an_account_when_no_image_is_given_then_the_image_is_required() {
    let mut world = InMemoryWorld::new();
    world.config.sagemaker_role_arn = "arn:aws:iam::local:role/sm".into();
    let err = invoke(
        event(
            "training",
            json!({"modelName": "churn", "preprocessing": {"raw": "s3://raw-data/b.csv"}}),
        ),
        &world.dependencies(),
    )
    .await
    .unwrap_err();
    err.assert_mentions("/preprocessing/image");
    let ok = invoke(
        event(
            "training",
            json!({"modelName": "churn", "preprocessing": {"raw": "s3://raw-data/b.csv", "image": "mdlc/preprocess"}}),
        ),
        &world.dependencies(),
    )
    .await;
    assert!(ok.is_ok(), "{ok:?}");
}

fn file_system_input(channel: &str, extra: Value) -> Value {
    let mut input = json!({
        "modelName": "house-prices",
        "data": {channel: {"fileSystem": {"id": "fs-0123456789abcdef0", "type": "EFS", "directoryPath": "/efs/data"}}}
    });
    if let (Some(obj), Value::Object(extra)) = (input.as_object_mut(), extra) {
        obj.extend(extra);
    }
    input
}

#[tokio::test]
async fn given_a_file_system_channel_without_vpc_config_then_initialize_names_the_pointers() {
    for channel in ["train", "validation"] {
        let message = problems(run(file_system_input(channel, json!({}))).await);
        assert!(
            message.contains("/vpcConfig: is required with a file-system channel"),
            "{message}"
        );
        assert!(
            message.contains(&format!("/data/{channel}/fileSystem")),
            "{channel}: {message}"
        );
    }
}

#[tokio::test]
async fn given_a_file_system_channel_with_vpc_config_then_the_plan_carries_the_vpc() {
    let vpc =
        json!({"subnets": ["subnet-0a1b2c3d"], "securityGroupIds": ["sg-0a1b2c3d", "sg-1a1b2c3d"]});
    let plan = run(file_system_input("train", json!({"vpcConfig": vpc})))
        .await
        .unwrap();
    let got = plan.input.vpc_config.expect("vpcConfig kept");
    assert_eq!(got.subnets, ["subnet-0a1b2c3d"]);
    assert_eq!(got.security_group_ids, ["sg-0a1b2c3d", "sg-1a1b2c3d"]);
}

#[tokio::test]
async fn given_a_vpc_config_outside_sagemakers_limits_then_each_problem_names_its_pointer() {
    let seventeen: Vec<String> = (0..17).map(|i| format!("subnet-{i:08x}")).collect();
    let cases = [
        (
            json!({"subnets": seventeen, "securityGroupIds": ["sg-1"]}),
            "/vpcConfig/subnets: must have 1 to 16 items, got 17",
        ),
        (
            json!({"subnets": ["subnet-1"], "securityGroupIds": []}),
            "/vpcConfig/securityGroupIds: must have 1 to 5 items, got 0",
        ),
        (
            json!({"subnets": ["subnet-1"], "securityGroupIds": ["sg-1", "sg-2", "sg-3", "sg-4", "sg-5", "sg-6"]}),
            "/vpcConfig/securityGroupIds: must have 1 to 5 items, got 6",
        ),
        (
            json!({"subnets": ["subnet_1"], "securityGroupIds": ["sg-1"]}),
            "/vpcConfig/subnets/0: must be an ID like subnet-",
        ),
        (
            json!({"subnets": ["sg-1"], "securityGroupIds": ["sg-1"]}),
            "/vpcConfig/subnets/0: must be an ID like subnet-",
        ),
        (
            json!({"subnets": ["subnet-1"], "securityGroupIds": ["subnet-1"]}),
            "/vpcConfig/securityGroupIds/0: must be an ID like sg-",
        ),
        (
            json!({"subnets": [format!("subnet-{}", "a".repeat(26))], "securityGroupIds": ["sg-1"]}),
            "/vpcConfig/subnets/0: must be an ID like subnet-",
        ),
        (
            json!({"subnets": ["subnet-1", "subnet-1"], "securityGroupIds": ["sg-1"]}),
            "/vpcConfig/subnets/1: duplicate ID",
        ),
        (
            json!({"subnets": "subnet-1", "securityGroupIds": ["sg-1"]}),
            "/vpcConfig/subnets: must be an array of IDs",
        ),
        (
            json!({"securityGroupIds": ["sg-1"]}),
            "/vpcConfig/subnets: is required",
        ),
        (
            json!({"subnets": ["subnet-1"], "securityGroupIds": ["sg-1"], "vpcId": "vpc-1"}),
            "/vpcConfig/vpcId: unknown field",
        ),
    ];
    for (vpc, expected) in cases {
        let message = problems(run(json!({"modelName": "m", "vpcConfig": vpc})).await);
        assert!(
            message.contains(expected),
            "{vpc}: expected {expected:?} in {message}"
        );
    }
    // 32 characters in all is SageMaker's limit, and it passes.
    let longest = format!("subnet-{}", "a".repeat(25));
    assert_eq!(longest.len(), 32);
    let plan = run(json!({"modelName": "m", "vpcConfig": {"subnets": [longest], "securityGroupIds": ["sg-1"]}}))
        .await
        .unwrap();
    assert!(plan.input.vpc_config.is_some());
}

#[tokio::test]
async fn given_a_file_system_id_outside_sagemakers_pattern_then_it_is_rejected() {
    for id in [
        "fs-0123",
        "fs-0123456789ABCDEF0",
        "efs-01234567",
        "fs-0123456789abcdef0123",
    ] {
        let input = json!({
            "modelName": "m",
            "data": {"train": {"fileSystem": {"id": id, "type": "EFS", "directoryPath": "/efs"}}},
            "vpcConfig": {"subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}
        });
        let message = problems(run(input).await);
        assert!(
            message.contains("/data/train/fileSystem/id: must be a file system ID like fs-"),
            "{id}: {message}"
        );
    }
}

#[tokio::test]
async fn given_a_vpc_config_then_the_processing_request_runs_in_it_and_without_none() {
    let raw = json!({"raw": "s3://raw-data/prices/"});
    let plan = run(json!({
        "modelName": "prices",
        "preprocessing": raw,
        "vpcConfig": {"subnets": ["subnet-0a1b2c3d"], "securityGroupIds": ["sg-0a1b2c3d"]}
    }))
    .await
    .unwrap();
    let r = &plan.preprocessing.as_ref().unwrap().request;
    assert_eq!(
        r["NetworkConfig"],
        json!({"VpcConfig": {"Subnets": ["subnet-0a1b2c3d"], "SecurityGroupIds": ["sg-0a1b2c3d"]}})
    );
    let plan = run(json!({"modelName": "prices", "preprocessing": raw}))
        .await
        .unwrap();
    let r = &plan.preprocessing.as_ref().unwrap().request;
    assert!(r.get("NetworkConfig").is_none(), "{r}");
}
