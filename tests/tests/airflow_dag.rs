//! The example Airflow DAG (examples/airflow): its pytest suite, run with the pinned Airflow of
//! `.tools/airflow` (`scripts/tools.sh test`), loads it with Airflow's `DagBag` (no import error,
//! its tasks, their order, the Amazon provider's Step Functions operator and sensor) and runs it
//! with `dag.test()` against moto's Step Functions, which executes a stand-in state machine (the
//! run succeeds when the execution succeeds and fails when it fails, the ARN read from the
//! Airflow Variable or from the CloudFormation stack output). Every execution input the DAG sent
//! is then checked here with the flows' own input validation (`mdlc_core::input::validate`, what
//! the training flow's Initialize runs).
//!
//! Needs that venv and moto's server (.tools/venv), so it is ignored in a plain run (reported as
//! skipped) and runs under `--run-ignored all` (`make test`), where a missing tool fails it.

use std::path::{Path, PathBuf};
use std::process::Command;

use mdlc_core::input::{Context, ProblemType, validate};
use serde_json::{Value, json};

const NEEDS: &str =
    "needs Airflow in .tools/airflow and moto in .tools/venv: run scripts/tools.sh test";

/// The runs of the suite that end in SUCCEEDED executions (the ARN from the Variable, and from the
/// stack output), each of which leaves the input it sent.
const SUCCESSFUL_RUNS: usize = 2;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs examples/airflow/tests with the venv's pytest; the inputs the DAG sent land in `sent`.
fn run_pytest(sent: &Path) {
    let root = repo_root();
    let python = root.join(".tools/airflow/bin/python");
    assert!(python.exists(), "{NEEDS} ({} is missing)", python.display());
    let out = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
        .current_dir(root.join("examples/airflow"))
        .env("MDLC_AIRFLOW_SENT_INPUT_DIR", sent)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("MDLC_MOTO_SERVER", root.join(".tools/venv/bin/moto_server"))
        .output()
        .unwrap_or_else(|e| panic!("{NEEDS} ({}: {e})", python.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the DAG's pytest suite failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(
        summary.contains(" passed") && !summary.contains("skipped"),
        "{summary}"
    );
    println!("examples/airflow/tests: {summary}");
}

fn sent_inputs(dir: &Path) -> Vec<(String, Value)> {
    let mut inputs: Vec<(String, Value)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("directory entry").path();
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
            (path.display().to_string(), value)
        })
        .collect();
    inputs.sort_by(|a, b| a.0.cmp(&b.0));
    inputs
}

#[test]
#[ignore = "needs .tools/airflow and moto (scripts/tools.sh test): run with --run-ignored all (make test)"]
fn example_dag_loads_runs_against_moto_and_sends_a_valid_training_input() {
    let sent = tempfile::tempdir().expect("temp dir");
    run_pytest(sent.path());

    let inputs = sent_inputs(sent.path());
    assert_eq!(inputs.len(), SUCCESSFUL_RUNS, "inputs sent: {inputs:?}");
    for (path, raw) in inputs {
        let date = raw["dataDate"].as_str().unwrap_or_default().to_string();
        let ctx = Context {
            artifact_bucket: "mdlc-artifacts-123456789012",
            region: "us-east-1",
            today: chrono::NaiveDate::from_ymd_opt(2024, 6, 1).expect("date"),
            account: Some("123456789012"),
        };
        let input = validate(&raw, &ctx)
            .unwrap_or_else(|problems| panic!("{path}: invalid training input: {problems:?}"));
        assert_eq!(input.model_name, "house-prices", "{path}");
        assert_eq!(input.data_date, date, "{path}");
        assert_eq!(input.problem_type, ProblemType::Regression, "{path}");
        assert_eq!(
            input.reason, "scheduled by Airflow DAG mdlc_training",
            "{path}"
        );
        let prefix = format!("s3://my-ml-data/house-prices/{date}");
        let channels = serde_json::to_value(&input.data).expect("data serializes");
        assert_eq!(
            channels["train"],
            json!({"s3Uri": format!("{prefix}/train/")}),
            "{path}"
        );
        assert_eq!(
            channels["validation"],
            json!({"s3Uri": format!("{prefix}/validation/")}),
            "{path}"
        );
    }
}
