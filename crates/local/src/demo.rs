//! `mdlc demo`: the whole life cycle on the local cloud.
//!
//! generate data → training flow (tuning, 8 jobs, 2 in parallel, the real trainer) → version 1 →
//! evaluation on fresh data (no retrain) → evaluation on drifted data (retrain: a nested training
//! execution → version 2) → evaluation again (no retrain); then a summary and `report.html`.
//!
//! With a user's data set (`train.csv`, `validation.csv`, `holdout.csv`, label first, no header)
//! the drift is made from the user's own rows: the label relationship is inverted (regression:
//! `y → -y`; binary: `y → 1 - y`), which any model trained before must fail on and a retrained
//! one can learn.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mdlc_asl::{ExecutionObserver, ExecutionStatus};
use mdlc_core::ports::{ObjectStore, RegistryRead, SageMakerApi};
use mdlc_core::registry::{EvaluationRecord, ModelVersion};
use mdlc_core::{PortError, S3Uri};
pub use mdlc_trainer::data::Problem;
use mdlc_trainer::data::{GenerateConfig, generate};
use serde::Serialize;
use serde_json::{Value, json};
use thiserror::Error;

use crate::cloud::{LocalCloud, LocalCloudConfig, LocalError, STATE_MARKER, claim_state_dir};
use crate::invoker::RunSettings;
use crate::report::{ReportInput, render_html_with_events};

/// Options of a demo run.
#[derive(Clone)]
pub struct DemoOptions {
    pub state_dir: PathBuf,
    /// The user's data set directory; `None`: generated data.
    pub dataset: Option<PathBuf>,
    pub problem: Problem,
    pub model_name: String,
    pub seed: u64,
    /// Training rows of the generated data.
    pub rows: usize,
    pub features: usize,
    /// Progress observer for the executions (the CLI prints state lines).
    pub observer: Option<Arc<dyn ExecutionObserver>>,
    /// Real time (durations in the report) or virtual (tests).
    pub real_time: bool,
    /// Tuning jobs and parallelism.
    pub max_jobs: u32,
    pub max_parallel_jobs: u32,
    /// Boosting rounds of every training job.
    pub num_round: u32,
    /// `--mlflow URI`: the flows log to this MLflow tracking server (a `tracking` block in every
    /// execution input). `None`: the environment's (`MDLC_TRACKING_URI`, `MLFLOW_TRACKING_URI`)
    /// if any, else no tracking.
    pub tracking_uri: Option<String>,
}

impl DemoOptions {
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        DemoOptions {
            state_dir: state_dir.into(),
            dataset: None,
            problem: Problem::Regression,
            model_name: "demo-model".into(),
            seed: 42,
            rows: 2000,
            features: 8,
            observer: None,
            real_time: true,
            max_jobs: 8,
            max_parallel_jobs: 2,
            num_round: 60,
            tracking_uri: None,
        }
    }
}

/// What can stop a demo.
#[derive(Debug, Error)]
pub enum DemoError {
    #[error(
        "refusing to clean {path}: it is not empty and has no {STATE_MARKER} marker (not a directory the demo created); pass another --state-dir"
    )]
    ForeignStateDir { path: String },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("data set {path}: {message}")]
    Dataset { path: String, message: String },
    #[error("{0}")]
    Local(#[from] LocalError),
    #[error("the project's {0} state machine is not available (statemachine/{0}.asl.json)")]
    MissingStateMachine(&'static str),
    #[error("object store: {0}")]
    Store(#[from] PortError),
    #[error("step {step}: the {machine} execution {status}: {error}: {cause}")]
    ExecutionFailed {
        step: String,
        machine: String,
        status: String,
        error: String,
        cause: String,
    },
    #[error("step {step}: unexpected execution output: {message}")]
    Output { step: String, message: String },
}

fn io_err(path: &Path, e: std::io::Error) -> DemoError {
    DemoError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// A registered version as the summary shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VersionSummary {
    pub version: u64,
    pub objective: Option<f64>,
    #[serde(rename = "objectiveMetric")]
    pub objective_metric: Option<String>,
    /// Final metrics of the version's training job.
    pub metrics: BTreeMap<String, f64>,
    #[serde(rename = "trainingJob")]
    pub training_job: String,
    #[serde(rename = "dataDate")]
    pub data_date: String,
    pub reason: String,
    #[serde(rename = "parentVersion")]
    pub parent_version: Option<u64>,
    /// The version's MLflow runs and model version (only when tracking is on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking: Option<TrackingLinks>,
}

/// One evaluation as the summary shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EvaluationSummary {
    pub version: u64,
    #[serde(rename = "dataDate")]
    pub data_date: String,
    /// What the batch was: "fresh", "drifted", "drifted (after retrain)".
    pub batch: String,
    pub metrics: BTreeMap<String, f64>,
    pub retrain: bool,
    pub reason: String,
    /// The version the retrain registered, if any.
    #[serde(rename = "newVersion")]
    pub new_version: Option<u64>,
    /// Feature drift of the batch against the training data's profile (PSI per feature).
    pub drift: Option<mdlc_core::drift::DriftReport>,
    /// The evaluation's MLflow run (only when tracking is on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking: Option<TrackingLinks>,
}

/// What experiment tracking logged for one execution: its status and the MLflow addresses.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct TrackingLinks {
    /// `logged`, `failed` (tracking never fails a flow) or `disabled`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Training: the parent run (named after the tuning job).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_run_url: Option<String>,
    /// Training: the best training job's child run, which the model version links to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_run_url: Option<String>,
    /// Training: the MLflow model version of the registry version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_version_url: Option<String>,
    /// Evaluation: its run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
}

fn text_at(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer).and_then(|x| match x {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

fn error_text(v: &Value) -> Option<String> {
    let name = text_at(v, "/error/name")?;
    Some(match text_at(v, "/error/message") {
        Some(m) => format!("{name}: {m}"),
        None => name,
    })
}

/// The links of a training execution's `tracking` output (`None` when tracking was off).
pub fn training_links(
    tracking: &Value,
    server: Option<&str>,
    model: &str,
) -> Option<TrackingLinks> {
    let status = text_at(tracking, "/status")?;
    if status == "disabled" {
        return None;
    }
    let registration = tracking.get("registration").unwrap_or(&Value::Null);
    let model_version = text_at(registration, "/modelVersion");
    let model_version_url = match (server, &model_version) {
        (Some(base), Some(v)) if base.starts_with("http") => Some(format!(
            "{}/#/models/{model}/versions/{v}",
            base.trim_end_matches('/')
        )),
        _ => None,
    };
    Some(TrackingLinks {
        error: error_text(tracking)
            .or_else(|| error_text(registration).map(|e| format!("model version: {e}"))),
        parent_run_id: text_at(tracking, "/parentRunId"),
        parent_run_url: text_at(tracking, "/runUrl"),
        best_run_id: text_at(tracking, "/bestRunId"),
        best_run_url: text_at(registration, "/runUrl"),
        model_version,
        model_version_url,
        status: match text_at(registration, "/status") {
            Some(r) if status == "logged" && r != "logged" => r,
            _ => status,
        },
        ..TrackingLinks::default()
    })
}

/// The links of an evaluation execution's `tracking` output (`None` when tracking was off).
pub fn evaluation_links(tracking: &Value) -> Option<TrackingLinks> {
    let status = text_at(tracking, "/status")?;
    if status == "disabled" {
        return None;
    }
    Some(TrackingLinks {
        status,
        error: error_text(tracking),
        run_id: text_at(tracking, "/runId"),
        run_url: text_at(tracking, "/runUrl"),
        ..TrackingLinks::default()
    })
}

/// The outcome of a demo run.
#[derive(Debug, Clone, Serialize)]
pub struct DemoSummary {
    #[serde(rename = "modelName")]
    pub model_name: String,
    pub problem: String,
    pub versions: Vec<VersionSummary>,
    pub evaluations: Vec<EvaluationSummary>,
    pub report: String,
    #[serde(rename = "elapsedSeconds")]
    pub elapsed_seconds: f64,
    /// The MLflow tracking server the flows logged to (absent when tracking is off).
    #[serde(rename = "mlflow", skip_serializing_if = "Option::is_none")]
    pub mlflow: Option<String>,
}

/// The data sets of one run, as CSV text (label first).
struct DemoData {
    problem: Problem,
    train: String,
    validation: String,
    fresh: String,
    drifted_eval: String,
    drifted_eval_2: String,
    drifted_train: String,
    drifted_validation: String,
}

fn split_lines(text: &str, parts: &[usize]) -> Vec<String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut out = Vec::new();
    let mut start = 0;
    for &n in parts {
        let end = (start + n).min(lines.len());
        out.push(lines[start..end].iter().map(|l| format!("{l}\n")).collect());
        start = end;
    }
    out.push(lines[start..].iter().map(|l| format!("{l}\n")).collect());
    out
}

fn generated_data(opts: &DemoOptions) -> Result<DemoData, DemoError> {
    let mut cfg = GenerateConfig::new(opts.problem, opts.rows, opts.features, opts.seed);
    let quarter = (opts.rows / 4).max(20);
    cfg.validation_rows = Some(quarter);
    cfg.holdout_rows = Some(quarter);
    cfg.drift_rows = Some(quarter * 2 + opts.rows + quarter);
    let data = generate(&cfg).map_err(|e| DemoError::Dataset {
        path: "(generated)".into(),
        message: e.to_string(),
    })?;
    let drifted = split_lines(&data.drifted.to_csv(), &[quarter, quarter, opts.rows]);
    let [e1, e2, tr, va] = <[String; 4]>::try_from(drifted).map_err(|_| DemoError::Dataset {
        path: "(generated)".into(),
        message: "drifted batch too small".into(),
    })?;
    Ok(DemoData {
        problem: opts.problem,
        train: data.train.to_csv(),
        validation: data.validation.to_csv(),
        fresh: data.holdout.to_csv(),
        drifted_eval: e1,
        drifted_eval_2: e2,
        drifted_train: tr,
        drifted_validation: va,
    })
}

/// Inverts the label relationship of label-first CSV rows.
fn invert_labels(text: &str, problem: Problem, path: &str) -> Result<String, DemoError> {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (label, rest) = line.split_once(',').ok_or_else(|| DemoError::Dataset {
            path: path.to_string(),
            message: format!("line {}: expected a label and at least one feature", i + 1),
        })?;
        let y: f64 = label.trim().parse().map_err(|_| DemoError::Dataset {
            path: path.to_string(),
            message: format!("line {}: the label {label:?} is not a number", i + 1),
        })?;
        let flipped = match problem {
            Problem::Regression => -y,
            Problem::Binary => {
                if y != 0.0 && y != 1.0 {
                    return Err(DemoError::Dataset {
                        path: path.to_string(),
                        message: format!(
                            "line {}: a binary label must be 0 or 1, got {label}",
                            i + 1
                        ),
                    });
                }
                1.0 - y
            }
        };
        out.push_str(&format!("{flipped},{rest}\n"));
    }
    Ok(out)
}

fn user_data(dir: &Path, problem: Problem) -> Result<DemoData, DemoError> {
    let read = |name: &str| {
        let p = dir.join(name);
        let text = std::fs::read_to_string(&p).map_err(|e| DemoError::Dataset {
            path: p.display().to_string(),
            message: e.to_string(),
        })?;
        if text.lines().filter(|l| !l.trim().is_empty()).count() < 3 {
            return Err(DemoError::Dataset {
                path: p.display().to_string(),
                message: "needs at least 3 rows".into(),
            });
        }
        Ok::<_, DemoError>((text, p.display().to_string()))
    };
    let (train, train_path) = read("train.csv")?;
    let (validation, validation_path) = read("validation.csv")?;
    let (holdout, holdout_path) = read("holdout.csv")?;
    let n = holdout.lines().filter(|l| !l.trim().is_empty()).count();
    let third = n / 3;
    let parts = split_lines(&holdout, &[third, third]);
    let [fresh, b, c] = <[String; 3]>::try_from(parts).map_err(|_| DemoError::Dataset {
        path: holdout_path.clone(),
        message: "cannot split the holdout set".into(),
    })?;
    Ok(DemoData {
        problem,
        drifted_eval: invert_labels(&b, problem, &holdout_path)?,
        drifted_eval_2: invert_labels(&c, problem, &holdout_path)?,
        drifted_train: invert_labels(&train, problem, &train_path)?,
        drifted_validation: invert_labels(&validation, problem, &validation_path)?,
        train,
        validation,
        fresh,
    })
}

/// Features only (drops the first column).
fn features_only(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("{}\n", l.split_once(',').map(|x| x.1).unwrap_or("")))
        .collect()
}

/// Wipes `dir` when it is a local cloud's (or empty/missing) and marks it as one again.
pub fn prepare_state_dir(dir: &Path) -> Result<(), DemoError> {
    if dir.exists() {
        let marked = dir.join(STATE_MARKER).is_file();
        let empty = std::fs::read_dir(dir)
            .map_err(|e| io_err(dir, e))?
            .next()
            .is_none();
        if !marked && !empty {
            return Err(DemoError::ForeignStateDir {
                path: dir.display().to_string(),
            });
        }
        std::fs::remove_dir_all(dir).map_err(|e| io_err(dir, e))?;
    }
    claim_state_dir(dir).map_err(|e| io_err(dir, e))
}

const DATES: [&str; 4] = ["2026-01-01", "2026-01-08", "2026-01-15", "2026-01-22"];
/// The date with newer labelled data (the drifted rows); the evaluations of other dates let a
/// retrain use the evaluated version's own data plus the evaluated batch.
const NEWER_DATA_DATE: &str = DATES[2];

async fn put(store: &dyn ObjectStore, uri: &str, body: &str) -> Result<(), DemoError> {
    let uri: S3Uri = uri
        .parse()
        .map_err(|e: mdlc_core::s3uri::S3UriError| DemoError::Output {
            step: "upload".into(),
            message: e.to_string(),
        })?;
    store.put(&uri, body.as_bytes().to_vec()).await?;
    Ok(())
}

fn flow_input(opts: &DemoOptions, problem: Problem, date: &str) -> Value {
    let (metric, direction) = match problem {
        Problem::Regression => ("rmse", "LowerIsBetter"),
        Problem::Binary => ("auc", "HigherIsBetter"),
    };
    let mut input = json!({
        "modelName": opts.model_name,
        "dataDate": date,
        "problemType": problem.name(),
        "tuning": {
            "strategy": "Bayesian",
            "maxJobs": opts.max_jobs,
            "maxParallelJobs": opts.max_parallel_jobs,
            "staticHyperParameters": {
                "num_round": opts.num_round.to_string(),
                "objective": problem.objective(),
                "eval_metric": metric
            }
        },
        "monitoring": {
            "metric": metric,
            "direction": direction,
            "maxDegradation": 0.25,
            "cooldownSeconds": 0,
            "maxRetrainsPerWindow": 3,
            "windowSeconds": 86400
        }
    });
    if let Some(uri) = &opts.tracking_uri {
        input["tracking"] = json!({ "uri": uri });
    }
    input
}

/// The preprocessing block of a flow input: split raw labelled rows with the demo's validation
/// share and seed. The training flow names its raw rows; the evaluation flow carries the block
/// for the retrain it may start, naming raw rows only where the demo uploaded newer data (else
/// a retrain trains on the evaluated version's own data plus the evaluated batch).
fn preprocessing_block(raw_prefix: Option<String>, validation_ratio: f64, seed: u64) -> Value {
    let mut block = json!({"validationRatio": validation_ratio, "seed": seed});
    if let Some(raw) = raw_prefix {
        block["raw"] = json!(raw);
    }
    block
}

/// Runs the demo; `log` receives one line per step (the CLI prints them).
pub async fn run_demo(
    opts: &DemoOptions,
    log: &(dyn Fn(&str) + Send + Sync),
) -> Result<DemoSummary, DemoError> {
    let started = std::time::Instant::now();
    prepare_state_dir(&opts.state_dir)?;
    let data = match &opts.dataset {
        Some(dir) => user_data(dir, opts.problem)?,
        None => generated_data(opts)?,
    };
    let problem = data.problem;

    let mut config = LocalCloudConfig::new(&opts.state_dir);
    config.settings = RunSettings {
        clock: if opts.real_time {
            Arc::new(mdlc_asl::RealClock)
        } else {
            Arc::new(mdlc_asl::VirtualClock::new())
        },
        record_history: true,
        observer: opts.observer.clone(),
        item_store: None,
        max_transitions: Some(10_000),
    };
    config.faults = Some(mdlc_emulator::FaultConfig::default());
    config.function_faults = Some(crate::invoker::FunctionFaults::default());
    if let Some(uri) = &opts.tracking_uri {
        config.tracking_uri = Some(uri.clone());
    }
    let server = config.tracking_uri.clone();
    let cloud = LocalCloud::new(config)?;
    let training = cloud
        .state_machine("training")
        .cloned()
        .ok_or(DemoError::MissingStateMachine("training"))?;
    let evaluation = cloud
        .state_machine("evaluation")
        .cloned()
        .ok_or(DemoError::MissingStateMachine("evaluation"))?;

    // Upload the data where the flows' defaults expect it.
    let store = cloud.store().clone();
    let bucket = cloud.bucket().to_string();
    let model = &opts.model_name;
    let base = |date: &str| format!("s3://{bucket}/datasets/{model}/{date}");
    // The raw labelled rows: the training flow's preprocessing step splits them into the train
    // and validation channels and writes the data profile evaluations measure drift against.
    put(
        store.as_ref(),
        &format!("{}/raw/raw.csv", base(DATES[0])),
        &format!("{}{}", data.train, data.validation),
    )
    .await?;
    let batches = [
        (DATES[1], &data.fresh, "fresh"),
        (DATES[2], &data.drifted_eval, "drifted"),
        (DATES[3], &data.drifted_eval_2, "drifted (after retrain)"),
    ];
    for (date, rows, _) in &batches {
        put(
            store.as_ref(),
            &format!("{}/evaluation/features/batch.csv", base(date)),
            &features_only(rows),
        )
        .await?;
        put(
            store.as_ref(),
            &format!("{}/evaluation/labels/batch.csv", base(date)),
            rows,
        )
        .await?;
    }
    // Newer labelled data on the drifted date: what a retrain decided that day trains on.
    put(
        store.as_ref(),
        &format!("{}/raw/raw.csv", base(NEWER_DATA_DATE)),
        &format!("{}{}", data.drifted_train, data.drifted_validation),
    )
    .await?;
    log(&format!(
        "data: {} problem, {} training rows; batches for {}, {}, {} uploaded to s3://{bucket}/datasets/{model}/",
        problem.name(),
        data.train.lines().count(),
        DATES[1],
        DATES[2],
        DATES[3]
    ));

    // 1. Training flow.
    // The validation share of the raw rows, as the data sets were given.
    let count = |text: &str| text.lines().filter(|l| !l.trim().is_empty()).count();
    let (train_rows, validation_rows) = (count(&data.train), count(&data.validation));
    let ratio = validation_rows as f64 / (train_rows + validation_rows).max(1) as f64;
    log(&format!(
        "training flow: preprocessing ({train_rows} + {validation_rows} raw rows → train / validation + data profile), then tuning {} jobs, {} in parallel, on data of {}",
        opts.max_jobs, opts.max_parallel_jobs, DATES[0]
    ));
    let execution = cloud
        .execute(
            "training",
            &training,
            &format!("{model}-train-initial"),
            {
                let mut input = flow_input(opts, problem, DATES[0]);
                input["preprocessing"] =
                    preprocessing_block(Some(format!("{}/raw/", base(DATES[0]))), ratio, opts.seed);
                input
            },
            None,
        )
        .await?;
    let out = succeeded("training", "training", &execution)?;
    log(&format!(
        "  → version {} ({} = {})",
        out["version"],
        out["objectiveMetric"].as_str().unwrap_or("objective"),
        out["objectiveValue"]
    ));
    // Version → what tracking logged for it.
    let mut version_links: BTreeMap<u64, TrackingLinks> = BTreeMap::new();
    let tracking_of = |out: &Value, pointer: &str| {
        out.pointer(pointer)
            .and_then(|t| training_links(t, server.as_deref(), model))
    };
    if let (Some(v), Some(links)) = (out["version"].as_u64(), tracking_of(out, "/tracking")) {
        log_links(log, &links);
        version_links.insert(v, links);
    }

    // 2-4. Evaluations.
    let mut evaluations = Vec::new();
    for (i, (date, _, batch)) in batches.iter().enumerate() {
        log(&format!("evaluation flow on the {batch} batch of {date}"));
        let execution = cloud
            .execute(
                "evaluation",
                &evaluation,
                &format!("{model}-evaluate-{}", i + 1),
                {
                    let mut input = flow_input(opts, problem, date);
                    // Newer data is named only where it exists (the drifted date).
                    let newer = (*date == NEWER_DATA_DATE).then(|| format!("{}/raw/", base(date)));
                    input["preprocessing"] = preprocessing_block(newer, ratio, opts.seed);
                    input["data"] = json!({"evaluation": {
                        "features": format!("{}/evaluation/features/", base(date)),
                        "groundTruth": format!("{}/evaluation/labels/", base(date)),
                    }});
                    input
                },
                None,
            )
            .await?;
        let step = format!("evaluation {}", i + 1);
        let out = succeeded(&step, "evaluation", &execution)?;
        let metrics: BTreeMap<String, f64> = serde_json::from_value(out["metrics"].clone())
            .map_err(|e| DemoError::Output {
                step: step.clone(),
                message: format!("metrics: {e}"),
            })?;
        let summary = EvaluationSummary {
            version: out["version"].as_u64().ok_or_else(|| DemoError::Output {
                step: step.clone(),
                message: format!("no version in {out}"),
            })?,
            data_date: date.to_string(),
            batch: batch.to_string(),
            metrics,
            retrain: out["retrain"].as_bool().unwrap_or(false),
            reason: out["reason"].as_str().unwrap_or("").to_string(),
            new_version: out["newVersion"].as_u64(),
            drift: out
                .pointer("/evaluation/drift")
                .and_then(|d| serde_json::from_value(d.clone()).ok()),
            tracking: out.get("tracking").and_then(evaluation_links),
        };
        if let Some(links) = &summary.tracking {
            log_links(log, links);
        }
        if let (Some(v), Some(links)) = (summary.new_version, tracking_of(out, "/trainingTracking"))
        {
            version_links.insert(v, links);
        }
        log(&format!(
            "  → version {}: {} — {}{}",
            summary.version,
            format_metrics(&summary.metrics),
            if summary.retrain {
                "RETRAIN: "
            } else {
                "keep: "
            },
            summary.reason
        ));
        if let Some(d) = &summary.drift {
            log(&format!(
                "  → feature drift (PSI): {}",
                d.features
                    .iter()
                    .map(|f| format!("{} {:.3} {}", f.feature, f.psi, f.level))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(v) = summary.new_version {
            log(&format!("  → retrained: version {v}"));
        }
        evaluations.push(summary);
    }

    // Summary and report.
    let versions_raw = cloud.registry().list_versions(model).await?;
    let mut versions = Vec::new();
    for v in &versions_raw {
        let metrics = cloud
            .emulator()
            .describe_training_job(&v.record.training_job_name)
            .await
            .map(|info| info.final_metrics)
            .unwrap_or_default();
        versions.push(VersionSummary {
            version: v.version,
            objective: v.record.objective_value,
            objective_metric: v.record.objective_metric.clone(),
            metrics,
            training_job: v.record.training_job_name.clone(),
            data_date: v.record.data_date.clone(),
            reason: v.record.reason.clone(),
            parent_version: v.record.parent_version,
            tracking: version_links.remove(&v.version),
        });
    }
    let evaluation_records = cloud.registry().list_evaluations(model, None).await?;
    let report = write_report(&cloud, model, &versions_raw, &evaluation_records)?;
    Ok(DemoSummary {
        model_name: model.clone(),
        problem: problem.name().to_string(),
        versions,
        evaluations,
        report: report.display().to_string(),
        elapsed_seconds: started.elapsed().as_secs_f64(),
        mlflow: server,
    })
}

fn log_links(log: &(dyn Fn(&str) + Send + Sync), links: &TrackingLinks) {
    let mut parts = vec![format!("MLflow: {}", links.status)];
    for url in [&links.parent_run_url, &links.run_url]
        .into_iter()
        .flatten()
    {
        parts.push(url.clone());
    }
    if let Some(e) = &links.error {
        parts.push(format!("({e})"));
    }
    log(&format!("  → {}", parts.join(" ")));
}

fn write_report(
    cloud: &LocalCloud,
    model: &str,
    versions: &[ModelVersion],
    evaluations: &[EvaluationRecord],
) -> Result<PathBuf, DemoError> {
    let mut records = cloud.invoker().journal().records();
    records.sort_by(|a, b| a.started_at.cmp(&b.started_at));
    let mut definitions = BTreeMap::new();
    for name in ["training", "evaluation"] {
        if let Some(m) = cloud.state_machine(name) {
            definitions.insert(name.to_string(), m.definition().clone());
        }
    }
    let events = cloud.events().read()?;
    let html = render_html_with_events(
        &ReportInput {
            title: &format!("mdlc local cloud — life cycle of {model}"),
            executions: &records,
            definitions: &definitions,
            versions,
            evaluations,
        },
        &events,
    );
    let path = cloud.state_dir().join("report.html");
    mdlc_trainer::fsio::write_atomically(&path, html.as_bytes())
        .map_err(|e| io_err(&path, e.into()))?;
    Ok(path)
}

fn succeeded<'a>(
    step: &str,
    machine: &str,
    execution: &'a mdlc_asl::Execution,
) -> Result<&'a Value, DemoError> {
    if execution.status != ExecutionStatus::Succeeded {
        return Err(DemoError::ExecutionFailed {
            step: step.to_string(),
            machine: machine.to_string(),
            status: execution.status.as_str().to_string(),
            error: execution.error.clone().unwrap_or_default(),
            cause: execution.cause.clone().unwrap_or_default(),
        });
    }
    execution.output.as_ref().ok_or_else(|| DemoError::Output {
        step: step.to_string(),
        message: "no output".into(),
    })
}

/// `rmse=1.0234 mae=0.8123`.
pub fn format_metrics(metrics: &BTreeMap<String, f64>) -> String {
    metrics
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::report::format_value(*v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The summary as a plain-text table.
pub fn summary_table(summary: &DemoSummary) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "\nModel {} ({})\n\n",
        summary.model_name, summary.problem
    ));
    out.push_str("VERSION  OBJECTIVE                     DATA DATE   PARENT  REASON\n");
    for v in &summary.versions {
        let objective = match (&v.objective_metric, v.objective) {
            (Some(m), Some(x)) => format!("{m}={}", crate::report::format_value(x)),
            _ => "-".into(),
        };
        out.push_str(&format!(
            "{:<8} {:<29} {:<11} {:<7} {}\n",
            v.version,
            objective,
            v.data_date,
            v.parent_version
                .map(|p| p.to_string())
                .unwrap_or_else(|| "-".into()),
            v.reason
        ));
    }
    out.push_str("\nEVALUATION  BATCH                              VERSION  METRICS                                       DECISION\n");
    for (i, e) in summary.evaluations.iter().enumerate() {
        let decision = match (e.retrain, e.new_version) {
            (true, Some(v)) => format!("retrain → v{v}"),
            (true, None) => "retrain".into(),
            (false, _) => "keep".into(),
        };
        out.push_str(&format!(
            "{:<11} {:<34} {:<8} {:<45} {}\n            reason: {}\n",
            i + 1,
            format!("{} {}", e.data_date, e.batch),
            e.version,
            format_metrics(&e.metrics),
            decision,
            e.reason
        ));
        if let Some(d) = &e.drift {
            out.push_str(&format!(
                "            drift: {} (max PSI {:.3}): {}\n",
                d.level,
                d.max_psi,
                d.features
                    .iter()
                    .map(|f| format!("{} {:.3} {}", f.feature, f.psi, f.level))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if let Some(server) = &summary.mlflow {
        out.push_str(&mlflow_table(summary, server));
    }
    out.push_str(&format!(
        "\nReport: {}   ({:.1} s)\n",
        summary.report, summary.elapsed_seconds
    ));
    out
}

/// The MLflow section of the summary: per version its parent run, best run and model version,
/// per evaluation its run.
fn mlflow_table(summary: &DemoSummary, server: &str) -> String {
    let mut out = format!("\nMLFLOW {server}\n");
    let line = |out: &mut String, what: &str, id: &Option<String>, url: &Option<String>| {
        if id.is_some() || url.is_some() {
            out.push_str(&format!(
                "  {what:<22} {}  {}\n",
                id.as_deref().unwrap_or("-"),
                url.as_deref().unwrap_or("")
            ));
        }
    };
    for v in &summary.versions {
        let Some(t) = &v.tracking else {
            continue;
        };
        out.push_str(&format!("v{:<7} {}\n", v.version, t.status));
        line(&mut out, "parent run", &t.parent_run_id, &t.parent_run_url);
        line(&mut out, "best run", &t.best_run_id, &t.best_run_url);
        line(
            &mut out,
            "model version",
            &t.model_version,
            &t.model_version_url,
        );
        if let Some(e) = &t.error {
            out.push_str(&format!("  error: {e}\n"));
        }
    }
    for (i, e) in summary.evaluations.iter().enumerate() {
        let Some(t) = &e.tracking else {
            continue;
        };
        out.push_str(&format!("eval {:<4} {}\n", i + 1, t.status));
        line(&mut out, "run", &t.run_id, &t.run_url);
        if let Some(err) = &t.error {
            out.push_str(&format!("  error: {err}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_foreign_directory_when_preparing_then_refused_and_untouched() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("precious.txt"), "x").unwrap();
        let err = prepare_state_dir(dir.path()).unwrap_err();
        assert!(matches!(err, DemoError::ForeignStateDir { .. }));
        assert!(dir.path().join("precious.txt").exists());
        let state = dir.path().join("state");
        prepare_state_dir(&state).unwrap();
        std::fs::write(state.join("old"), "x").unwrap();
        prepare_state_dir(&state).unwrap();
        assert!(!state.join("old").exists());
        assert!(state.join(STATE_MARKER).exists());
    }

    #[test]
    fn given_tracking_outputs_when_summarised_then_links_and_errors_are_shown() {
        let logged = json!({"status": "logged", "kind": "tuning", "error": null,
            "parentRunId": "p1", "bestRunId": "b1", "runUrl": "http://m:5000/#/experiments/1/runs/p1",
            "registration": {"status": "logged", "error": null, "runId": "b1",
                "runUrl": "http://m:5000/#/experiments/1/runs/b1", "modelVersion": "2"}});
        let links = training_links(&logged, Some("http://m:5000/"), "demo-model").unwrap();
        assert_eq!(links.status, "logged");
        assert_eq!(links.parent_run_id.as_deref(), Some("p1"));
        assert_eq!(
            links.best_run_url.as_deref(),
            Some("http://m:5000/#/experiments/1/runs/b1")
        );
        assert_eq!(
            links.model_version_url.as_deref(),
            Some("http://m:5000/#/models/demo-model/versions/2")
        );
        assert_eq!(
            training_links(&json!({"status": "disabled"}), None, "m"),
            None
        );
        let failed = json!({"status": "failed", "kind": "tuning",
            "error": {"name": "TrackingUnavailable", "message": "connection refused"}});
        let links = training_links(&failed, Some("http://m:5000"), "m").unwrap();
        assert_eq!(links.status, "failed");
        assert_eq!(
            links.error.as_deref(),
            Some("TrackingUnavailable: connection refused")
        );
        let eval = evaluation_links(&json!({"status": "logged", "runId": "e1",
            "runUrl": "http://m:5000/#/experiments/1/runs/e1"}))
        .unwrap();
        assert_eq!(eval.run_id.as_deref(), Some("e1"));

        let summary = DemoSummary {
            model_name: "demo-model".into(),
            problem: "regression".into(),
            versions: vec![VersionSummary {
                version: 1,
                objective: Some(1.0),
                objective_metric: Some("validation:rmse".into()),
                metrics: BTreeMap::new(),
                training_job: "j".into(),
                data_date: "2026-01-01".into(),
                reason: "initial".into(),
                parent_version: None,
                tracking: training_links(&logged, Some("http://m:5000"), "demo-model"),
            }],
            evaluations: vec![],
            report: "r.html".into(),
            elapsed_seconds: 1.0,
            mlflow: Some("http://m:5000".into()),
        };
        let table = summary_table(&summary);
        assert!(table.contains("MLFLOW http://m:5000"), "{table}");
        assert!(
            table.contains("http://m:5000/#/experiments/1/runs/p1"),
            "{table}"
        );
        assert!(
            table.contains("http://m:5000/#/models/demo-model/versions/2"),
            "{table}"
        );
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["versions"][0]["tracking"]["bestRunId"], "b1");
        let off = DemoSummary {
            mlflow: None,
            versions: vec![VersionSummary {
                tracking: None,
                ..summary.versions[0].clone()
            }],
            ..summary
        };
        assert!(!summary_table(&off).contains("MLFLOW"));
        let json = serde_json::to_value(&off).unwrap();
        assert!(json.get("mlflow").is_none() && json["versions"][0].get("tracking").is_none());
    }

    #[test]
    fn given_rows_when_inverted_then_relationship_flips_and_bad_rows_are_named() {
        assert_eq!(
            invert_labels("1.5,2\n0,3\n", Problem::Regression, "f").unwrap(),
            "-1.5,2\n-0,3\n"
        );
        assert_eq!(
            invert_labels("1,2\n0,3\n", Problem::Binary, "f").unwrap(),
            "0,2\n1,3\n"
        );
        let e = invert_labels("1,2\n2,3\n", Problem::Binary, "f.csv").unwrap_err();
        assert!(
            e.to_string().contains("f.csv") && e.to_string().contains("line 2"),
            "{e}"
        );
        let e = invert_labels("x,2\n", Problem::Regression, "f.csv").unwrap_err();
        assert!(e.to_string().contains("not a number"), "{e}");
        assert_eq!(features_only("1,2,3\n4,5,6\n"), "2,3\n5,6\n");
        assert_eq!(
            split_lines("a\nb\nc\nd\n", &[1, 2]),
            vec!["a\n", "b\nc\n", "d\n"]
        );
    }
}
