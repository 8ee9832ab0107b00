//! Experiment tracking in the flows, end to end on the local cloud (the project's state machines,
//! handlers, SageMaker emulator and built-in trainer) against a real `mlflow server` on loopback
//! (`scripts/with-servers.sh` exports MDLC_TEST_MLFLOW_URI; the tests that need it are ignored
//! unless asked for with `--run-ignored`, as `make test` does, and then fail when it is unset):
//!
//! - a tuning run is one parent run named after the tuning job with a child run per training job
//!   (`mlflow.parentRunId`, hyperparameters, metrics with their per-iteration history), the
//!   registered MLflow model version points at the best child and carries the registry version,
//!   and the evaluation flow logs a run of the same experiment;
//! - `mdlc demo --mlflow` shows the runs' addresses;
//! - with the tracking server down the flows still succeed and report `status: "failed"`.

use std::path::Path;

use mdlc_asl::{Execution, ExecutionStatus};
use mdlc_core::S3Uri;
use mdlc_core::ports::{ObjectStore, RegistryRead};
use mdlc_emulator::FaultConfig;
use mdlc_local::demo::{DemoOptions, run_demo, summary_table};
use mdlc_local::invoker::FunctionFaults;
use mdlc_local::{LocalCloud, LocalCloudConfig};
use mdlc_tests::ensure_trainer;
use mdlc_tracking::MlflowClient;
use mdlc_tracking::client::filter_quote;
use mdlc_tracking::experiment::{TAG_KIND, TAG_PARENT, TAG_REGISTRY_VERSION, TAG_TRAINING_JOB};
use mdlc_trainer::data::{GenerateConfig, generate};
use serde_json::{Value, json};

const DATE: &str = "2026-02-01";
const JOBS: usize = 3;
const ROUNDS: usize = 8;

fn mlflow() -> String {
    mdlc_tracking::test_support::mlflow_server()
}

/// A model name no other test run uses (the MLflow server may outlive one run).
fn unique_model(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// A loopback address nothing listens on: connections are refused at once.
fn dead_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A local cloud whose default tracking server is `default_tracking` (never the environment's).
fn cloud(state: &Path, default_tracking: Option<String>) -> LocalCloud {
    let mut config = LocalCloudConfig::new(state);
    config.faults = Some(FaultConfig::default());
    config.function_faults = Some(FunctionFaults::default());
    config.tracking_uri = default_tracking;
    LocalCloud::new(config).unwrap_or_else(|e| panic!("local cloud: {e}"))
}

/// Training data and a labelled evaluation batch where the flows' defaults expect them.
async fn seed(cloud: &LocalCloud, model: &str) {
    let data = generate(&GenerateConfig::new(
        mdlc_trainer::data::Problem::Regression,
        300,
        4,
        11,
    ))
    .expect("generate");
    let base = format!("s3://{}/datasets/{model}/{DATE}", cloud.bucket());
    let features: String = data
        .holdout
        .to_csv()
        .lines()
        .map(|l| format!("{}\n", l.split_once(',').map(|x| x.1).unwrap_or("")))
        .collect();
    for (key, body) in [
        ("train/train.csv", data.train.to_csv()),
        ("validation/validation.csv", data.validation.to_csv()),
        ("evaluation/features/batch.csv", features),
        ("evaluation/labels/batch.csv", data.holdout.to_csv()),
    ] {
        let uri: S3Uri = format!("{base}/{key}").parse().expect("uri");
        cloud
            .store()
            .put(&uri, body.into_bytes())
            .await
            .expect("upload");
    }
}

fn input(model: &str, tracking: Option<&str>) -> Value {
    let mut input = json!({
        "modelName": model,
        "dataDate": DATE,
        "tuning": {
            "strategy": "Random",
            "maxJobs": JOBS,
            "maxParallelJobs": 2,
            "staticHyperParameters": {"num_round": ROUNDS.to_string()}
        },
        "monitoring": {"threshold": 1000.0, "maxDegradation": 1000.0}
    });
    if let Some(uri) = tracking {
        input["tracking"] = json!({ "uri": uri });
    }
    input
}

async fn run(cloud: &LocalCloud, flow: &str, name: &str, input: Value) -> Value {
    let machine = cloud
        .state_machine(flow)
        .cloned()
        .unwrap_or_else(|| panic!("the {flow} state machine is not loaded"));
    let execution: Execution = cloud
        .execute(flow, &machine, name, input, None)
        .await
        .unwrap_or_else(|e| panic!("{flow}: {e}"));
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{flow} {name}: {:?} {:?}",
        execution.error,
        execution.cause
    );
    execution.output.expect("output")
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} missing in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs mlflow: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn a_tracked_tuning_run_is_a_parent_with_children_and_the_version_points_at_the_best() {
    let uri = mlflow();
    ensure_trainer();
    let dir = tempfile::tempdir().expect("tempdir");
    // The cloud's default server serves the evaluation, which names none in its input.
    let cloud = cloud(&dir.path().join(".mdlc"), Some(uri.clone()));
    let model = unique_model("trk");
    seed(&cloud, &model).await;

    // WHEN the training flow tunes with tracking on (a tracking block in the input)
    let out = run(&cloud, "training", "train-1", input(&model, Some(&uri))).await;

    // THEN the output reports the runs
    let t = &out["tracking"];
    assert_eq!(t["status"], "logged", "{out:#}");
    assert_eq!(t["kind"], "tuning", "{out:#}");
    assert_eq!(t["error"], Value::Null, "{out:#}");
    assert_eq!(t["registration"]["status"], "logged", "{out:#}");
    let parent_id = text(t, "/parentRunId");
    let best_id = text(t, "/bestRunId");
    let experiment = text(t, "/experimentId").to_string();
    assert!(text(t, "/runUrl").ends_with(parent_id), "{out:#}");

    // AND MLflow holds one parent named after the tuning job with one child per training job
    let version = cloud
        .registry()
        .get_version(&model, 1)
        .await
        .expect("registry")
        .expect("version 1");
    let tuning_job = version.record.tuning_job_name.clone().expect("tuned");
    let client = MlflowClient::from_uri(&uri).expect("client");
    let runs = client
        .search_runs(std::slice::from_ref(&experiment), "")
        .await
        .expect("runs");
    assert_eq!(runs.len(), JOBS + 1, "one parent and {JOBS} children");
    let parent = client.get_run(parent_id).await.expect("parent");
    assert_eq!(parent.info.run_name, tuning_job);
    assert_eq!(parent.info.status, "FINISHED");
    assert_eq!(
        parent.param("dataDate"),
        Some(DATE),
        "the flow's own params"
    );
    assert_eq!(
        parent.param("strategy"),
        Some("Random"),
        "the tuning config"
    );
    let children: Vec<_> = runs
        .iter()
        .filter(|r| r.tag(TAG_PARENT) == Some(parent_id))
        .collect();
    assert_eq!(children.len(), JOBS);
    for child in &children {
        let job = child.tag(TAG_TRAINING_JOB).expect("training job tag");
        assert!(job.starts_with(&tuning_job), "{job} of {tuning_job}");
        assert_eq!(child.info.status, "FINISHED", "{job}");
        for hp in ["eta", "max_depth", "num_round"] {
            assert!(child.param(hp).is_some(), "{job}: no param {hp}");
        }
        assert!(
            child
                .metric("validation-rmse")
                .is_some_and(|m| m.is_finite() && m > 0.0),
            "{job}: {:?}",
            child.data.metrics
        );
        let history = client
            .metric_history(&child.info.run_id, "validation-rmse")
            .await
            .expect("history");
        assert_eq!(history.len(), ROUNDS, "{job}: one point per boosting round");
    }
    // AND the best child is the registered version's training job
    let best = client.get_run(best_id).await.expect("best run");
    assert_eq!(best.tag(TAG_PARENT), Some(parent_id));
    assert_eq!(
        best.tag(TAG_TRAINING_JOB),
        Some(version.record.training_job_name.as_str())
    );
    // AND the MLflow model version links to the best child and carries the registry version
    let versions = client
        .search_model_versions(&format!("name={}", filter_quote(&model)))
        .await
        .expect("model versions");
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert_eq!(versions[0].run_id, best_id);
    assert_eq!(
        versions[0].version,
        text(t, "/registration/modelVersion"),
        "{out:#}"
    );
    assert!(
        versions[0]
            .tags
            .iter()
            .any(|tag| tag.key == TAG_REGISTRY_VERSION && tag.value == "1"),
        "{versions:?}"
    );

    // WHEN the evaluation flow runs (no tracking block: the cloud's default server)
    let out = run(&cloud, "evaluation", "evaluate-1", input(&model, None)).await;
    // THEN it is logged as a run of the same experiment with its metrics and decision
    let t = &out["tracking"];
    assert_eq!(t["status"], "logged", "{out:#}");
    assert_eq!(t["kind"], "evaluation", "{out:#}");
    assert_eq!(t["experimentId"], experiment.as_str(), "{out:#}");
    let run = client
        .get_run(text(t, "/runId"))
        .await
        .expect("evaluation run");
    assert_eq!(run.tag(TAG_KIND), Some("evaluation"));
    assert_eq!(run.tag(TAG_REGISTRY_VERSION), Some("1"));
    assert_eq!(run.param("retrain"), Some("false"));
    assert!(run.metric("rmse").is_some_and(f64::is_finite), "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_tracking_server_down_the_flows_succeed_and_report_failed() {
    ensure_trainer();
    let dir = tempfile::tempdir().expect("tempdir");
    let cloud = cloud(&dir.path().join(".mdlc"), None);
    let model = unique_model("down");
    seed(&cloud, &model).await;
    let down = dead_server();

    let out = run(&cloud, "training", "train-1", input(&model, Some(&down))).await;
    assert_eq!(out["version"], 1, "registered all the same: {out:#}");
    let t = &out["tracking"];
    assert_eq!(t["status"], "failed", "{out:#}");
    assert_eq!(t["kind"], "tuning", "{out:#}");
    assert_eq!(t["error"]["name"], "TrackingUnavailable", "{out:#}");
    assert!(
        t.get("registration").is_none(),
        "no model version without runs: {out:#}"
    );

    let out = run(
        &cloud,
        "evaluation",
        "evaluate-1",
        input(&model, Some(&down)),
    )
    .await;
    assert_eq!(out["retrain"], false, "{out:#}");
    assert_eq!(out["tracking"]["status"], "failed", "{out:#}");
    assert_eq!(out["tracking"]["kind"], "evaluation", "{out:#}");

    // Without any tracking server the steps are skipped and reported as disabled.
    let out = run(&cloud, "training", "train-2", input(&model, None)).await;
    assert_eq!(out["tracking"], json!({"status": "disabled"}), "{out:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs mlflow: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn demo_with_mlflow_shows_the_runs_addresses() {
    let uri = mlflow();
    ensure_trainer();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = DemoOptions::new(dir.path().join(".mdlc"));
    opts.model_name = unique_model("demo");
    opts.rows = 400;
    opts.features = 4;
    opts.num_round = 10;
    opts.max_jobs = 2;
    opts.real_time = false;
    opts.tracking_uri = Some(uri.clone());
    let summary = run_demo(&opts, &|_| {})
        .await
        .unwrap_or_else(|e| panic!("demo failed: {e}"));
    assert_eq!(summary.mlflow.as_deref(), Some(uri.as_str()));
    assert_eq!(summary.versions.len(), 2, "v1 and the retrained v2");
    for v in &summary.versions {
        let t = v
            .tracking
            .as_ref()
            .unwrap_or_else(|| panic!("v{} has no tracking", v.version));
        assert_eq!(t.status, "logged", "v{}: {t:?}", v.version);
        for url in [&t.parent_run_url, &t.best_run_url, &t.model_version_url] {
            assert!(
                url.as_deref().is_some_and(|u| u.starts_with(&uri)),
                "v{}: {t:?}",
                v.version
            );
        }
        assert_eq!(
            t.model_version.as_deref(),
            Some(v.version.to_string().as_str())
        );
    }
    for e in &summary.evaluations {
        let t = e.tracking.as_ref().expect("evaluation tracking");
        assert_eq!(t.status, "logged", "{t:?}");
        assert!(t.run_url.as_deref().is_some_and(|u| u.starts_with(&uri)));
    }
    let table = summary_table(&summary);
    assert!(table.contains(&format!("MLFLOW {uri}")), "{table}");
    assert!(table.contains("/#/models/"), "{table}");
    let json = serde_json::to_value(&summary).expect("json");
    assert!(
        json["versions"][0]["tracking"]["parentRunUrl"].is_string(),
        "{json:#}"
    );
}
