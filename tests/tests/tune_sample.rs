//! A variant written here of the shape of AWS's "tune a machine learning model" sample
//! (tests/fixtures/tune-sample; not AWS's definition or values — tune_sample_aws.rs runs those):
//! its three Lambdas mocked by a MockConfigFile, the SageMaker steps run for real on the emulator with the
//! built-in trainer — tuning, model creation and a batch transform.
//!
//! Once in process through the library, once through the `mdlc` command (`mdlc s3 cp` to seed
//! the data, `mdlc execute --local --mock-config ...`).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use mdlc_asl::mock::{MockConfig, MockInvoker};
use mdlc_asl::{ExecutionStatus, TaskInvoker};
use mdlc_core::S3Uri;
use mdlc_core::ports::ObjectStore;
use mdlc_emulator::FaultConfig;
use mdlc_local::invoker::FunctionFaults;
use mdlc_local::substitute::{function_arn, sagemaker_role_arn};
use mdlc_local::{LocalCloud, LocalCloudConfig};
use mdlc_tests::{built_binary, ensure_trainer, fixture};
use mdlc_trainer::data::{GenerateConfig, Problem, generate};
use serde_json::{Value, json};

const BUCKET: &str = "tune-sample-bucket";

fn substitutions() -> Vec<(String, String)> {
    vec![
        ("Bucket".into(), BUCKET.into()),
        ("SageMakerRoleArn".into(), sagemaker_role_arn()),
        (
            "GenerateDatasetFunctionArn".into(),
            function_arn("generate-dataset"),
        ),
        (
            "ExtractModelPathFunctionArn".into(),
            function_arn("extract-model-path"),
        ),
        (
            "ExtractModelNameFunctionArn".into(),
            function_arn("extract-model-name"),
        ),
    ]
}

/// train.csv, validation.csv (label first) and batch.csv (features only) in `dir`.
fn write_data(dir: &Path) -> usize {
    let data = generate(&GenerateConfig::new(Problem::Regression, 400, 4, 7)).expect("generate");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("train.csv"), data.train.to_csv()).unwrap();
    std::fs::write(dir.join("validation.csv"), data.validation.to_csv()).unwrap();
    let batch: String = data
        .holdout
        .to_csv()
        .lines()
        .map(|l| format!("{}\n", l.split_once(',').map(|x| x.1).unwrap_or("")))
        .collect();
    std::fs::write(dir.join("batch.csv"), &batch).unwrap();
    batch.lines().count()
}

async fn check_results(
    store: &dyn ObjectStore,
    output: &Value,
    batch_rows: usize,
    execution: &str,
) {
    let tuning = &output["tuning"];
    assert_eq!(
        tuning["HyperParameterTuningJobStatus"], "Completed",
        "{tuning:#}"
    );
    assert_eq!(
        tuning["TrainingJobStatusCounters"]["Completed"], 4,
        "{tuning:#}"
    );
    let best = tuning["BestTrainingJob"]["TrainingJobName"]
        .as_str()
        .expect("BestTrainingJob.TrainingJobName");
    assert!(best.starts_with(&format!("{execution}-")), "{best}");
    let objective =
        tuning["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
            .as_f64()
            .expect("objective value");
    assert!(objective.is_finite() && objective > 0.0, "{objective}");

    let model_url: S3Uri = format!("s3://{BUCKET}/tune-sample/models/{best}/output/model.tar.gz")
        .parse()
        .unwrap();
    assert!(
        store.exists(&model_url).await.unwrap(),
        "{model_url} missing"
    );
    assert!(
        output["model"]["ModelArn"]
            .as_str()
            .unwrap_or("")
            .contains("model/tune-sample-model")
    );
    assert_eq!(output["transform"]["status"], "Completed");

    let out: S3Uri = format!("s3://{BUCKET}/tune-sample/predictions/batch.csv.out")
        .parse()
        .unwrap();
    let predictions = String::from_utf8(store.get(&out).await.expect("batch.csv.out")).unwrap();
    let lines: Vec<&str> = predictions.lines().collect();
    assert_eq!(lines.len(), batch_rows);
    for l in lines {
        l.trim()
            .parse::<f64>()
            .unwrap_or_else(|e| panic!("prediction {l:?}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tune_sample_with_mocked_lambdas_tunes_creates_a_model_and_transforms_in_process() {
    ensure_trainer();
    let dir = tempfile::tempdir().unwrap();
    let mut config = LocalCloudConfig::new(dir.path().join("state"));
    config.project_state_machines = false;
    config.artifact_bucket = BUCKET.into();
    config.faults = Some(FaultConfig::default());
    config.function_faults = Some(FunctionFaults::default());
    config.substitutions.extend(substitutions());
    let cloud = LocalCloud::new(config).expect("local cloud");

    let data_dir = dir.path().join("data");
    let rows = write_data(&data_dir);
    for (file, prefix) in [
        ("train.csv", "train"),
        ("validation.csv", "validation"),
        ("batch.csv", "batch"),
    ] {
        let uri: S3Uri = format!("s3://{BUCKET}/tune-sample/data/{prefix}/{file}")
            .parse()
            .unwrap();
        cloud
            .store()
            .put(&uri, std::fs::read(data_dir.join(file)).unwrap())
            .await
            .unwrap();
    }

    let machine = cloud
        .load(&fixture("tune-sample/tune.asl.json"))
        .expect("definition");
    let mock_text = std::fs::read_to_string(fixture("tune-sample/mock-config.json")).unwrap();
    let mock = MockConfig::from_json_str(&mock_text).expect("mock config");
    let fallback: Arc<dyn TaskInvoker> = cloud.invoker().clone();
    let invoker = MockInvoker::new(mock, "TuneSample", "HappyPath", Some(fallback)).expect("mock");
    let execution = cloud
        .execute(
            "TuneSample",
            &machine,
            "tune-lib",
            json!({}),
            Some(Arc::new(invoker)),
        )
        .await
        .unwrap();
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{:?}: {:?}",
        execution.error,
        execution.cause
    );
    let output = execution.output.expect("output");
    check_results(cloud.store().as_ref(), &output, rows, "tune-lib").await;
    // The execution and its history were recorded under the state directory.
    let record = dir.path().join("state/executions/TuneSample/tune-lib.json");
    let record: Value = serde_json::from_slice(&std::fs::read(record).unwrap()).unwrap();
    assert!(
        record["execution"]["history"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0)
            > 10
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tune_sample_through_the_mdlc_command() {
    ensure_trainer();
    let mdlc = built_binary("mdlc-cli", "mdlc").expect("mdlc binary");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let data_dir = dir.path().join("data");
    let rows = write_data(&data_dir);
    for (file, prefix) in [
        ("train.csv", "train"),
        ("validation.csv", "validation"),
        ("batch.csv", "batch"),
    ] {
        let out = Command::new(&mdlc)
            .arg("s3")
            .arg("cp")
            .arg(data_dir.join(file))
            .arg(format!("s3://{BUCKET}/tune-sample/data/{prefix}/"))
            .arg("--state-dir")
            .arg(&state)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut cmd = Command::new(&mdlc);
    cmd.arg("execute")
        .arg(fixture("tune-sample/tune.asl.json"))
        .arg("--local")
        .arg("--state-dir")
        .arg(&state)
        .args(["--mock-config"])
        .arg(fixture("tune-sample/mock-config.json"))
        .args([
            "--test-case",
            "HappyPath",
            "--execution-name",
            "tune-cli",
            "--quiet",
        ])
        .env_remove("MDLC_FAULTS")
        .env_remove("MDLC_FUNCTION_FAULTS");
    for (k, v) in substitutions() {
        cmd.arg("--substitute").arg(format!("{k}={v}"));
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_str(stdout.trim()).expect("one JSON object on stdout");
    assert_eq!(result["status"], "SUCCEEDED");
    let store = mdlc_local::FsObjectStore::new(state.join("s3"));
    check_results(&store, &result["output"], rows, "tune-cli").await;

    // The listing shows the predictions.
    let out = Command::new(&mdlc)
        .args([
            "s3",
            "ls",
            &format!("s3://{BUCKET}/tune-sample/predictions/"),
        ])
        .arg("--state-dir")
        .arg(&state)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("batch.csv.out"));
}

#[test]
fn unknown_placeholders_are_reported_by_the_mdlc_command() {
    let mdlc = built_binary("mdlc-cli", "mdlc").expect("mdlc binary");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(&mdlc)
        .arg("execute")
        .arg(fixture("tune-sample/tune.asl.json"))
        .arg("--local")
        .arg("--state-dir")
        .arg(dir.path())
        .arg("--quiet")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("${GenerateDatasetFunctionArn}"), "{stderr}");
    assert!(
        stderr.contains("/States/Generate Training Dataset/Parameters/FunctionName"),
        "{stderr}"
    );
}
