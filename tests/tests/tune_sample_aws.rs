//! AWS's Step Functions sample project "Tune a machine learning model" (Step Functions
//! developer guide, sample-hyper-tuning.html: "Example State Machine Code") run on the local
//! cloud through the `mdlc` command, its three Lambda functions given as `--function` commands.
//!
//! The sample's definition is AWS's, so it is not copied into this repository; [`definition`]
//! re-states it state by state: the same state names, resources (the Lambda ARNs in us-west-2,
//! account 012345678912, the legacy `xgboost:latest` image), every request parameter and value
//! (tuning ranges alpha 0..1000, gamma 0..5, max_delta_step and max_depth 0..10; static
//! `precision_dtype` float32 and `num_round` 2; two jobs, two in parallel; ml.m4.xlarge; the
//! bucket `stepfunctionssample-sagemak-bucketformodelanddata-80fblmdlcs9f`), paths and
//! transitions. AWS does not document the Lambdas' code; `tune-sample-lambdas` implements the
//! contract the definition implies (see its doc comment).
//!
//! What this proves: a definition with the sample's shape and values, unchanged (no
//! placeholders, no mocks), runs to success here — SageMaker's built-in XGBoost accepts what the
//! sample sends (`precision_dtype`, `max_depth` from 0, an integer range over the continuous
//! `max_delta_step`), tuning, CreateModel and the batch transform complete. What it does not
//! prove: that our re-statement matches the console's current copy byte for byte, nor anything
//! about the sample's real Lambda code or IAM policies on AWS.

use std::path::Path;
use std::process::Command;

use mdlc_core::S3Uri;
use mdlc_core::ports::ObjectStore;
use mdlc_tests::{built_binary, ensure_trainer};
use serde_json::{Value, json};

const BUCKET: &str = "stepfunctionssample-sagemak-bucketformodelanddata-80fblmdlcs9f";
const IMAGE: &str = "433757028032.dkr.ecr.us-west-2.amazonaws.com/xgboost:latest";
const ROLE: &str = "arn:aws:iam::012345678912:role/StepFunctionsSample-SageM-SageMakerAPIExecutionRol-1MNH1VS5CGGOG";
const GENERATE: &str = "StepFunctionsSample-SageMa-LambdaForDataGeneration-1TF67BUE5A12U";
const EXTRACT_PATH: &str = "StepFunctionsSample-SageM-LambdaToExtractModelPath-V0R37CVARUS9";
const EXTRACT_NAME: &str = "StepFunctionsSample-SageM-LambdaToExtractModelName-8FUOB30SM5EM";

fn lambda_task(function: &str, next: &str) -> Value {
    json!({
        "Resource": format!("arn:aws:lambda:us-west-2:012345678912:function:{function}"),
        "Type": "Task",
        "Next": next
    })
}

fn s3(key: &str) -> String {
    format!("s3://{BUCKET}/{key}")
}

fn channel(name: &str, key: &str) -> Value {
    json!({
        "DataSource": {"S3DataSource": {
            "S3DataDistributionType": "FullyReplicated",
            "S3DataType": "S3Prefix",
            "S3Uri": s3(key)
        }},
        "ChannelName": name,
        "ContentType": "text/csv"
    })
}

fn range(name: &str, min: &str, max: &str) -> Value {
    json!({"Name": name, "MinValue": min, "MaxValue": max, "ScalingType": "Auto"})
}

/// The sample's state machine, re-stated (see the module comment).
fn definition() -> Value {
    let tuning = json!({
        "Resource": "arn:aws:states:::sagemaker:createHyperParameterTuningJob.sync",
        "Parameters": {
            "HyperParameterTuningJobName.$": "$.body.jobName",
            "HyperParameterTuningJobConfig": {
                "Strategy": "Bayesian",
                "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:rmse"},
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 2},
                "ParameterRanges": {
                    "ContinuousParameterRanges": [range("alpha", "0", "1000"), range("gamma", "0", "5")],
                    "IntegerParameterRanges": [range("max_delta_step", "0", "10"), range("max_depth", "0", "10")]
                }
            },
            "TrainingJobDefinition": {
                "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
                "OutputDataConfig": {"S3OutputPath": s3("models")},
                "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
                "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m4.xlarge", "VolumeSizeInGB": 30},
                "RoleArn": ROLE,
                "InputDataConfig": [channel("train", "csv/train.csv"), channel("validation", "csv/validation.csv")],
                "StaticHyperParameters": {"precision_dtype": "float32", "num_round": "2"}
            }
        },
        "Type": "Task",
        "Next": "Extract Model Path"
    });
    let save_model = json!({
        "Parameters": {
            "PrimaryContainer": {"Image": IMAGE, "Environment": {}, "ModelDataUrl.$": "$.body.modelDataUrl"},
            "ExecutionRoleArn": ROLE,
            "ModelName.$": "$.body.bestTrainingJobName"
        },
        "Resource": "arn:aws:states:::sagemaker:createModel",
        "Type": "Task",
        "Next": "Extract Model Name"
    });
    let transform = json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::sagemaker:createTransformJob.sync",
        "Parameters": {
            "ModelName.$": "$.body.jobName",
            "TransformInput": {
                "CompressionType": "None",
                "ContentType": "text/csv",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": s3("csv/test.csv")}}
            },
            "TransformOutput": {"S3OutputPath": s3("output")},
            "TransformResources": {"InstanceCount": 1, "InstanceType": "ml.m4.xlarge"},
            "TransformJobName.$": "$.body.jobName"
        },
        "End": true
    });
    json!({
        "StartAt": "Generate Training Dataset",
        "States": {
            "Generate Training Dataset": lambda_task(GENERATE, "HyperparameterTuning (XGBoost)"),
            "HyperparameterTuning (XGBoost)": tuning,
            "Extract Model Path": lambda_task(EXTRACT_PATH, "HyperparameterTuning - Save Model"),
            "HyperparameterTuning - Save Model": save_model,
            "Extract Model Name": lambda_task(EXTRACT_NAME, "Batch transform"),
            "Batch transform": transform
        }
    })
}

fn run_mdlc(mdlc: &Path, args: &[String]) -> (bool, String, String) {
    let out = Command::new(mdlc)
        .args(args)
        .env_remove("MDLC_FAULTS")
        .env_remove("MDLC_FUNCTION_FAULTS")
        .output()
        .expect("run mdlc");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tune_a_machine_learning_model_sample_runs_unchanged_with_its_lambdas_as_commands() {
    ensure_trainer();
    let mdlc = built_binary("mdlc-cli", "mdlc").expect("mdlc binary");
    let lambdas = built_binary_from_tests();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let asl = dir.path().join("tune-sample.asl.json");
    std::fs::write(&asl, serde_json::to_vec_pretty(&definition()).unwrap()).unwrap();
    let lambdas = lambdas.display().to_string();
    let mut args: Vec<String> = vec![
        "execute".into(),
        asl.display().to_string(),
        "--local".into(),
        "--state-dir".into(),
        state.display().to_string(),
        "--execution-name".into(),
        "tune-sample".into(),
        "--quiet".into(),
    ];
    for (name, command) in [
        (GENERATE, format!("{lambdas} generate {BUCKET}")),
        (EXTRACT_PATH, format!("{lambdas} extract-model-path")),
        (EXTRACT_NAME, format!("{lambdas} extract-model-name")),
    ] {
        args.push("--function".into());
        args.push(format!("{name}={command}"));
    }
    let (ok, stdout, stderr) = run_mdlc(&mdlc, &args);
    assert!(ok, "stdout: {stdout}\nstderr: {stderr}");
    let result: Value = serde_json::from_str(stdout.trim()).expect("one JSON object on stdout");
    assert_eq!(result["status"], "SUCCEEDED", "{result:#}");
    let output = &result["output"];
    assert_eq!(output["TransformJobStatus"], "Completed", "{output:#}");
    let job = output["TransformJobName"]
        .as_str()
        .expect("TransformJobName");
    assert_eq!(output["ModelName"], job, "{output:#}");

    // The model is the best training job's; the batch transform predicted every test row.
    let store = mdlc_local::FsObjectStore::new(state.join("s3"));
    let model: S3Uri = format!("s3://{BUCKET}/models/{job}/output/model.tar.gz")
        .parse()
        .unwrap();
    assert!(store.exists(&model).await.unwrap(), "{model} missing");
    let test = store
        .get(&format!("s3://{BUCKET}/csv/test.csv").parse().unwrap())
        .await
        .unwrap();
    let out: S3Uri = format!("s3://{BUCKET}/output/test.csv.out")
        .parse()
        .unwrap();
    let predictions = String::from_utf8(store.get(&out).await.expect("test.csv.out")).unwrap();
    let rows = String::from_utf8(test).unwrap().lines().count();
    let values: Vec<f64> = predictions
        .split(['\n', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<f64>()
                .unwrap_or_else(|e| panic!("prediction {s:?}: {e}"))
        })
        .collect();
    assert_eq!(values.len(), rows, "{predictions}");

    // Both training jobs of the tuning job logged the sample's precision_dtype as without
    // effect on the built-in trainer, once each.
    let line = "[mdlc-trainer] hyperparameter precision_dtype=float32 has no effect on the built-in trainer";
    let logs = job_logs(&state);
    let with_line = logs.iter().filter(|t| t.matches(line).count() == 1).count();
    assert_eq!(
        with_line,
        2,
        "{} job logs under {}",
        logs.len(),
        state.display()
    );
}

/// The text of every job log (`algo-1.log`) under `dir`.
fn job_logs(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&p) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        } else if p.file_name().is_some_and(|n| n == "algo-1.log") {
            out.push(std::fs::read_to_string(&p).unwrap_or_default());
        }
    }
    out
}

/// The `tune-sample-lambdas` binary of this package.
fn built_binary_from_tests() -> std::path::PathBuf {
    built_binary("mdlc-tests", "tune-sample-lambdas").expect("tune-sample-lambdas binary")
}
