//! Tuning ranges of SageMaker's built-in XGBoost checked against the trainer's hyperparameter
//! table when the tuning job is created (CreateHyperParameterTuningJob): AWS's Step Functions
//! sample ranges (max_depth from 0, an integer range over the continuous max_delta_step) are
//! accepted; a range outside a hyperparameter's valid range or an unknown name is refused.

mod common;

use common::*;
use serde_json::{Value, json};

const XGB: &str = "433757028032.dkr.ecr.us-west-2.amazonaws.com/xgboost:latest";

fn tuning(name: &str, ranges: Value) -> Value {
    json!({
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:rmse"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": ranges
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {"TrainingImage": XGB, "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "StaticHyperParameters": {"precision_dtype": "float32", "num_round": "2"},
            "InputDataConfig": [
                {"ChannelName": "train", "ContentType": "text/csv",
                 "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/data/train/"}}},
                {"ChannelName": "validation", "ContentType": "text/csv",
                 "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/data/validation/"}}}
            ],
            "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m4.xlarge", "VolumeSizeInGB": 30},
            "StoppingCondition": {"MaxRuntimeInSeconds": 86400}
        }
    })
}

#[tokio::test]
async fn a_max_depth_range_below_zero_is_refused_naming_the_containers_range() {
    let env = setup();
    let f = env
        .fail(
            "createHyperParameterTuningJob",
            false,
            tuning(
                "bad-depth",
                json!({"IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "-1", "MaxValue": "10"}]}),
            ),
        )
        .await;
    assert_eq!(f.error, "SageMaker.AmazonSageMakerException", "{f}");
    assert_contains(
        &f.cause,
        "ParameterRanges.IntegerParameterRanges \"max_depth\" does not fit the built-in XGBoost algorithm: Hyperparameter max_depth: -1 is not in [0, +inf)",
    );
}

#[tokio::test]
async fn unknown_names_wrong_range_types_and_bad_categories_are_refused() {
    let env = setup();
    let f = env
        .fail(
            "createHyperParameterTuningJob",
            false,
            tuning(
                "bad-ranges",
                json!({
                    "ContinuousParameterRanges": [
                        {"Name": "colour", "MinValue": "0", "MaxValue": "1"},
                        {"Name": "max_depth", "MinValue": "1", "MaxValue": "5"},
                        {"Name": "eta", "MinValue": "0.1", "MaxValue": "1.5"}
                    ],
                    "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "gbforest"]}]
                }),
            ),
        )
        .await;
    for needle in [
        "Extraneous hyperparameter found: colour",
        "max_depth is an Integer hyperparameter of the built-in XGBoost algorithm; tune it with IntegerParameterRanges",
        "Hyperparameter eta: 1.5 is not in [0, 1]",
        "Hyperparameter booster: gbforest is not in ['gbtree', 'gblinear', 'dart']",
    ] {
        assert_contains(&f.cause, needle);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built mdlc-trainer binary: run with --run-ignored all (make test)"]
async fn the_step_functions_samples_ranges_are_accepted_and_its_jobs_train() {
    if let Err(e) = mdlc_emulator::config::find_builtin_trainer() {
        panic!("{e} (build it: cargo build -p mdlc-trainer)");
    }
    let env = setup();
    let rows: String = (0..200)
        .map(|i| {
            let a = (i % 17) as f64;
            let b = (i % 5) as f64;
            format!("{},{a},{b}\n", 2.0 * a - b)
        })
        .collect();
    put(&env.store, "s3://bucket/data/train/train.csv", &rows).await;
    put(
        &env.store,
        "s3://bucket/data/validation/validation.csv",
        &rows,
    )
    .await;
    let request = tuning(
        "sample-ranges",
        json!({
            "ContinuousParameterRanges": [
                {"Name": "alpha", "MinValue": "0", "MaxValue": "1000", "ScalingType": "Auto"},
                {"Name": "gamma", "MinValue": "0", "MaxValue": "5", "ScalingType": "Auto"}
            ],
            "IntegerParameterRanges": [
                {"Name": "max_delta_step", "MinValue": "0", "MaxValue": "10", "ScalingType": "Auto"},
                {"Name": "max_depth", "MinValue": "0", "MaxValue": "10", "ScalingType": "Auto"}
            ]
        }),
    );
    let d = env.ok("createHyperParameterTuningJob", true, request).await;
    assert_eq!(
        text(&d, "HyperParameterTuningJobStatus"),
        "Completed",
        "{d:#}"
    );
    assert_eq!(d["TrainingJobStatusCounters"]["Completed"], 2, "{d:#}");
}
