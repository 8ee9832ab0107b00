//! The local cloud behind `mdlc serve` (issue 14, item 3), through the Step Functions API with
//! AWS's Rust SDK: each test starts the built `mdlc serve --port 0 --state-dir <temp dir>` (no
//! `--function`), creates a state machine and runs it.
//!
//! - `arn:aws:states:::sagemaker:createTrainingJob.sync` really trains on the emulator with the
//!   built-in trainer (`mdlc-trainer`) from a few CSV rows written into the local S3 stand-in
//!   (`<state dir>/s3/<bucket>/<key>`), and the execution's output is DescribeTrainingJob's;
//! - a Lambda function ARN naming one of the project's functions (`initialize`) runs in the
//!   server's process;
//! - another function runs as the command `--function NAME=COMMAND` gives it.
//!
//! Nested `startExecution` is tested in `crates/serve/tests/nested.rs`; `--lambda-endpoint` (and
//! `--function` under a MockConfigFile test case) in `tests/tests/sfn_clients.rs` (boto3).

use std::path::Path;
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use mdlc_tests::ensure_trainer;
use mdlc_tests::serve::ServeProcess;
use serde_json::{Value, json};

const ROLE: &str = "arn:aws:iam::000000000000:role/StepFunctionsRole";
const SAGEMAKER_ROLE: &str = "arn:aws:iam::000000000000:role/SageMakerRole";
const XGB: &str = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1";

/// A running `mdlc serve` (tests/src/serve.rs) on a state directory of its own.
struct Server {
    /// Kept for its drop, which kills the server.
    _process: ServeProcess,
    endpoint: String,
    state: tempfile::TempDir,
}

/// Starts `mdlc serve --port 0 --state-dir <temp dir> --quiet [extra...]`; `seed` prepares the
/// state directory first.
fn serve(extra: &[&str], seed: impl FnOnce(&Path)) -> Server {
    let state = tempfile::tempdir().expect("temp dir");
    seed(state.path());
    let args: Vec<&str> = ["--quiet"].iter().chain(extra).copied().collect();
    let process = ServeProcess::start(state.path(), &args);
    Server {
        endpoint: process.endpoint.clone(),
        _process: process,
        state,
    }
}

async fn client(server: &Server) -> aws_sdk_sfn::Client {
    let conf = mdlc_aws::sdk_loader()
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "AKIDLOCAL",
            "secret",
            None,
            None,
            "tests",
        ))
        .endpoint_url(&server.endpoint)
        .load()
        .await;
    aws_sdk_sfn::Client::new(&conf)
}

/// Creates `definition` as `name`, runs it with `input` and waits (at most `limit`) for its end.
async fn run(
    client: &aws_sdk_sfn::Client,
    name: &str,
    definition: &Value,
    input: &Value,
    limit: Duration,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    let sm = client
        .create_state_machine()
        .name(name)
        .definition(definition.to_string())
        .role_arn(ROLE)
        .send()
        .await
        .expect("CreateStateMachine")
        .state_machine_arn()
        .to_string();
    let arn = client
        .start_execution()
        .state_machine_arn(&sm)
        .input(input.to_string())
        .send()
        .await
        .expect("StartExecution")
        .execution_arn()
        .to_string();
    let deadline = std::time::Instant::now() + limit;
    loop {
        let d = client
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
            .expect("DescribeExecution");
        if d.status() != &ExecutionStatus::Running {
            return d;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{arn} still RUNNING after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// y = 2·a + b, label first, no header: `n` rows from `offset`.
fn rows(n: usize, offset: usize) -> String {
    (offset..offset + n)
        .map(|i| {
            let a = (i % 7) as f64;
            let b = (i % 5) as f64;
            format!("{},{a},{b}\n", 2.0 * a + b)
        })
        .collect()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built mdlc and mdlc-trainer binaries: run with --run-ignored all (make test)"]
async fn a_sync_training_job_trains_on_the_emulator_and_the_output_is_describe_training_job() {
    ensure_trainer();
    let server = serve(&[], |dir| {
        write(&dir.join("s3/data/xgb/train/train.csv"), &rows(24, 0));
        write(
            &dir.join("s3/data/xgb/validation/validation.csv"),
            &rows(8, 24),
        );
    });
    let client = client(&server).await;
    let channel = |name: &str| {
        json!({"ChannelName": name, "ContentType": "text/csv", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": format!("s3://data/xgb/{name}/")}}})
    };
    let definition = json!({
        "StartAt": "Train",
        "States": {"Train": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
            "Parameters": {
                "TrainingJobName.$": "$.job",
                "AlgorithmSpecification": {"TrainingImage": XGB, "TrainingInputMode": "File"},
                "RoleArn": SAGEMAKER_ROLE,
                "HyperParameters": {"num_round": "5", "max_depth": "2", "objective": "reg:squarederror", "eval_metric": "rmse"},
                "InputDataConfig": [channel("train"), channel("validation")],
                "OutputDataConfig": {"S3OutputPath": "s3://data/xgb/out"},
                "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1},
                "StoppingCondition": {"MaxRuntimeInSeconds": 300}
            },
            "End": true
        }}
    });
    let done = run(
        &client,
        "TrainOnEmulator",
        &definition,
        &json!({"job": "tiny-xgb"}),
        Duration::from_secs(240),
    )
    .await;
    assert_eq!(
        done.status(),
        &ExecutionStatus::Succeeded,
        "{:?}: {:?}",
        done.error(),
        done.cause()
    );
    let out: Value = serde_json::from_str(done.output().unwrap()).unwrap();
    assert_eq!(out["TrainingJobName"], json!("tiny-xgb"));
    assert_eq!(out["TrainingJobStatus"], json!("Completed"), "{out:#}");
    assert_eq!(
        out["TrainingJobArn"],
        json!("arn:aws:sagemaker:us-east-1:000000000000:training-job/tiny-xgb")
    );
    let artifacts = out["ModelArtifacts"]["S3ModelArtifacts"]
        .as_str()
        .unwrap_or_else(|| panic!("no ModelArtifacts: {out:#}"));
    assert_eq!(artifacts, "s3://data/xgb/out/tiny-xgb/output/model.tar.gz");
    let file = server
        .state
        .path()
        .join("s3/data/xgb/out/tiny-xgb/output/model.tar.gz");
    assert!(
        std::fs::metadata(&file).is_ok_and(|m| m.len() > 0),
        "the model artifact {} was not written",
        file.display()
    );
    assert!(
        out["FinalMetricDataList"]
            .as_array()
            .is_some_and(|m| m.iter().any(|x| x["MetricName"] == "validation:rmse")),
        "{out:#}"
    );
    // as AWS records a .sync job: TaskSubmitted with CreateTrainingJob's response between
    // TaskStarted and TaskSucceeded, named by the action and the service
    let history = client
        .get_execution_history()
        .execution_arn(done.execution_arn())
        .send()
        .await
        .expect("GetExecutionHistory");
    let task_events: Vec<&str> = history
        .events()
        .iter()
        .map(|e| e.r#type().as_str())
        .filter(|t| t.starts_with("Task") && !t.starts_with("TaskState"))
        .collect();
    assert_eq!(
        task_events,
        [
            "TaskScheduled",
            "TaskStarted",
            "TaskSubmitted",
            "TaskSucceeded"
        ]
    );
    let submitted = history
        .events()
        .iter()
        .find_map(|e| e.task_submitted_event_details())
        .expect("TaskSubmitted details");
    assert_eq!(
        (submitted.resource(), submitted.resource_type()),
        ("createTrainingJob.sync", "sagemaker")
    );
    let created: Value = serde_json::from_str(submitted.output().unwrap_or("null")).unwrap();
    assert_eq!(
        created["TrainingJobArn"],
        json!("arn:aws:sagemaker:us-east-1:000000000000:training-job/tiny-xgb"),
        "CreateTrainingJob's response: {created}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built mdlc binary: run with --run-ignored all (make test)"]
async fn a_project_function_runs_in_the_server_process_without_function_options() {
    let server = serve(&[], |_| {});
    let client = client(&server).await;
    let definition = json!({
        "StartAt": "Initialize",
        "States": {"Initialize": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:000000000000:function:initialize",
            "Parameters": {"flow": "training", "executionArn.$": "$$.Execution.Id", "input.$": "$"},
            "End": true
        }}
    });
    let done = run(
        &client,
        "Initialize",
        &definition,
        &json!({"modelName": "churn"}),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        done.status(),
        &ExecutionStatus::Succeeded,
        "{:?}: {:?}",
        done.error(),
        done.cause()
    );
    let plan: Value = serde_json::from_str(done.output().unwrap()).unwrap();
    assert_eq!(plan["flow"], json!("training"));
    assert_eq!(plan["executionArn"], json!(done.execution_arn()));
    assert_eq!(plan["input"]["modelName"], json!("churn"));
    assert!(
        plan["names"].is_object() && plan["locations"].is_object(),
        "{plan:#}"
    );

    // the function's own validation, as its InvalidInput error
    let refused = client
        .start_execution()
        .state_machine_arn(done.state_machine_arn())
        .input("{}")
        .send()
        .await
        .unwrap();
    let mut d;
    loop {
        d = client
            .describe_execution()
            .execution_arn(refused.execution_arn())
            .send()
            .await
            .unwrap();
        if d.status() != &ExecutionStatus::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(d.status(), &ExecutionStatus::Failed);
    assert_eq!(d.error(), Some("InvalidInput"), "{:?}", d.cause());
    assert!(
        d.cause().is_some_and(|c| c.contains("/modelName")),
        "{:?}",
        d.cause()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built mdlc binary: run with --run-ignored all (make test)"]
async fn another_function_runs_as_its_function_command_and_an_unknown_one_is_not_found() {
    let server = serve(&["--function", r#"rename=sed 's/"n"/"renamed"/'"#], |_| {});
    let client = client(&server).await;
    let task = |function: &str| {
        json!({
            "StartAt": "Call",
            "States": {"Call": {
                "Type": "Task",
                "Resource": format!("arn:aws:lambda:us-east-1:000000000000:function:{function}"),
                "End": true
            }}
        })
    };
    let done = run(
        &client,
        "Rename",
        &task("rename"),
        &json!({"n": 7}),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        done.status(),
        &ExecutionStatus::Succeeded,
        "{:?}: {:?}",
        done.error(),
        done.cause()
    );
    assert_eq!(
        serde_json::from_str::<Value>(done.output().unwrap()).unwrap(),
        json!({"renamed": 7})
    );
    let missing = run(
        &client,
        "Missing",
        &task("nobody-has-it"),
        &json!({}),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(missing.status(), &ExecutionStatus::Failed);
    assert_eq!(missing.error(), Some("Lambda.ResourceNotFoundException"));
}
