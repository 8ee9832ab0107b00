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

use mdlc_asl::{ExecutionObserver, ExecutionStatus, StateMachine};
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

/// Rows of a label-first CSV file: its non-blank lines `rows` (all of them when `None`), the
/// labels inverted when `invert` (the drifted data the demo makes of a user's data set).
#[derive(Debug, Clone)]
struct Piece {
    path: PathBuf,
    rows: Option<std::ops::Range<usize>>,
    invert: bool,
}

impl Piece {
    fn whole(path: PathBuf) -> Self {
        Piece {
            path,
            rows: None,
            invert: false,
        }
    }
}

/// The data sets of one run, as rows of files: the generated data written to the import
/// directory, or the user's files read where they are, a line at a time (nothing holds a data
/// set whole).
struct DemoData {
    problem: Problem,
    train_rows: usize,
    validation_rows: usize,
    /// The labelled rows of the first training flow, split as they were given: its train and
    /// validation channels, which its processing job only profiles.
    train: Piece,
    validation: Piece,
    /// The evaluation batches (labelled) of `DATES[1..]`: fresh, drifted, drifted again.
    batches: [Piece; 3],
    /// The newer labelled rows of [`NEWER_DATA_DATE`].
    newer_raw: Vec<Piece>,
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

fn generated_data(opts: &DemoOptions, import: &Path) -> Result<DemoData, DemoError> {
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
    let write = |name: &str, text: &str| {
        let path = import.join(name);
        std::fs::write(&path, text).map_err(|e| io_err(&path, e))?;
        Ok::<_, DemoError>(Piece::whole(path))
    };
    Ok(DemoData {
        problem: opts.problem,
        train_rows: data.train.n_rows(),
        validation_rows: data.validation.n_rows(),
        train: write("train.csv", &data.train.to_csv())?,
        validation: write("validation.csv", &data.validation.to_csv())?,
        batches: [
            write("fresh.csv", &data.holdout.to_csv())?,
            write("drifted-eval.csv", &e1)?,
            write("drifted-eval-2.csv", &e2)?,
        ],
        newer_raw: vec![
            write("drifted-train.csv", &tr)?,
            write("drifted-validation.csv", &va)?,
        ],
    })
}

/// Inverts the label relationship of label-first CSV rows.
#[cfg(test)]
fn invert_labels(text: &str, problem: Problem, path: &str) -> Result<String, DemoError> {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.push_str(&invert_line(line, i + 1, problem, path)?);
        out.push('\n');
    }
    Ok(out)
}

/// Line `number` of `path` (label first) with its label's relationship inverted.
fn invert_line(
    line: &str,
    number: usize,
    problem: Problem,
    path: &str,
) -> Result<String, DemoError> {
    let (label, rest) = line.split_once(',').ok_or_else(|| DemoError::Dataset {
        path: path.to_string(),
        message: format!("line {number}: expected a label and at least one feature"),
    })?;
    let y: f64 = label.trim().parse().map_err(|_| DemoError::Dataset {
        path: path.to_string(),
        message: format!("line {number}: the label {label:?} is not a number"),
    })?;
    let flipped = match problem {
        Problem::Regression => -y,
        Problem::Binary => {
            if y != 0.0 && y != 1.0 {
                return Err(DemoError::Dataset {
                    path: path.to_string(),
                    message: format!("line {number}: a binary label must be 0 or 1, got {label}"),
                });
            }
            1.0 - y
        }
    };
    Ok(format!("{flipped},{rest}"))
}

/// The non-blank lines of `path`, counted a line at a time.
fn count_rows(path: &Path) -> Result<usize, DemoError> {
    use std::io::BufRead;
    let dataset = |e: std::io::Error| DemoError::Dataset {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(dataset)?;
    let mut n = 0;
    for line in std::io::BufReader::new(file).lines() {
        if !line.map_err(dataset)?.trim().is_empty() {
            n += 1;
        }
    }
    Ok(n)
}

fn user_data(dir: &Path, problem: Problem) -> Result<DemoData, DemoError> {
    let rows = |name: &str| {
        let p = dir.join(name);
        let n = count_rows(&p)?;
        if n < 3 {
            return Err(DemoError::Dataset {
                path: p.display().to_string(),
                message: "needs at least 3 rows".into(),
            });
        }
        Ok::<_, DemoError>((p, n))
    };
    let (train, train_rows) = rows("train.csv")?;
    let (validation, validation_rows) = rows("validation.csv")?;
    let (holdout, n) = rows("holdout.csv")?;
    let third = n / 3;
    let part = |rows: std::ops::Range<usize>, invert: bool| Piece {
        path: holdout.clone(),
        rows: Some(rows),
        invert,
    };
    let inverted = |path: &PathBuf| Piece {
        path: path.clone(),
        rows: None,
        invert: true,
    };
    Ok(DemoData {
        problem,
        train_rows,
        validation_rows,
        newer_raw: vec![inverted(&train), inverted(&validation)],
        batches: [
            part(0..third, false),
            part(third..2 * third, true),
            part(2 * third..n, true),
        ],
        train: Piece::whole(train),
        validation: Piece::whole(validation),
    })
}

/// Which columns of label-first rows an object holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Columns {
    /// The whole rows (raw labelled data).
    All,
    /// The features (an evaluation batch as the model sees it).
    Features,
    /// The label (an evaluation batch's ground truth; the features are in the batch already).
    Label,
}

/// Writes `columns` of the rows of `pieces` to the file `out`, a line at a time; a label that
/// cannot be inverted is an error naming its file and line.
fn write_rows(
    pieces: &[Piece],
    problem: Problem,
    columns: Columns,
    out: &Path,
) -> Result<(), DemoError> {
    use std::io::{BufRead, Write};
    let file = std::fs::File::create(out).map_err(|e| io_err(out, e))?;
    let mut w = std::io::BufWriter::new(file);
    for piece in pieces {
        let shown = piece.path.display().to_string();
        let dataset = |e: std::io::Error| DemoError::Dataset {
            path: shown.clone(),
            message: e.to_string(),
        };
        let file = std::fs::File::open(&piece.path).map_err(dataset)?;
        let mut row = 0usize;
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(dataset)?;
            if line.trim().is_empty() {
                continue;
            }
            let index = row;
            row += 1;
            if let Some(rows) = &piece.rows {
                if index < rows.start {
                    continue;
                }
                if index >= rows.end {
                    break;
                }
            }
            let line = if piece.invert {
                invert_line(&line, i + 1, problem, &shown)?
            } else {
                line
            };
            let text = match columns {
                Columns::All => line.as_str(),
                Columns::Features => line.split_once(',').map(|x| x.1).unwrap_or(""),
                Columns::Label => line.split(',').next().unwrap_or(""),
            };
            w.write_all(text.as_bytes())
                .and_then(|()| w.write_all(b"\n"))
                .map_err(|e| io_err(out, e))?;
        }
    }
    w.flush().map_err(|e| io_err(out, e))
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

/// Writes the rows of `pieces` to a file of the import directory `import` and uploads it as
/// `uri` (a file copy in the local store), then removes the file.
async fn put_rows(
    store: &dyn ObjectStore,
    import: &Path,
    uri: &str,
    pieces: &[Piece],
    problem: Problem,
    columns: Columns,
) -> Result<(), DemoError> {
    let uri: S3Uri = uri
        .parse()
        .map_err(|e: mdlc_core::s3uri::S3UriError| DemoError::Output {
            step: "upload".into(),
            message: e.to_string(),
        })?;
    let file = import.join("object.csv");
    let (pieces, out) = (pieces.to_vec(), file.clone());
    tokio::task::spawn_blocking(move || write_rows(&pieces, problem, columns, &out))
        .await
        .map_err(|e| DemoError::Output {
            step: "upload".into(),
            message: e.to_string(),
        })??;
    store.put_file(&uri, &file).await?;
    std::fs::remove_file(&file).map_err(|e| io_err(&file, e))
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

/// The preprocessing block of an evaluation flow's input, for the retrain it may start: split
/// raw labelled rows with the demo's validation share and seed, naming raw rows only where the
/// demo uploaded newer data (else a retrain trains on the evaluated version's own data plus the
/// evaluated batch). (The first training flow's block is `split: false`: its data come split.)
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
    // The data are written to objects a line at a time through this directory, removed once
    // they are uploaded.
    let import = opts.state_dir.join(".demo-import");
    std::fs::create_dir_all(&import).map_err(|e| io_err(&import, e))?;
    let data = match &opts.dataset {
        Some(dir) => user_data(dir, opts.problem)?,
        None => generated_data(opts, &import)?,
    };
    let (cloud, server) = demo_cloud(opts)?;
    let model = &opts.model_name;
    let flows = Flows::new(&cloud, model);
    upload_data(&cloud, &flows, &data, &import).await?;
    std::fs::remove_dir_all(&import).map_err(|e| io_err(&import, e))?;
    log(&format!(
        "data: {} problem, {} training rows; batches for {}, {}, {} uploaded to s3://{}/datasets/{model}/",
        data.problem.name(),
        data.train_rows,
        DATES[1],
        DATES[2],
        DATES[3],
        cloud.bucket()
    ));

    // Version → what tracking logged for it.
    let mut version_links: BTreeMap<u64, TrackingLinks> = BTreeMap::new();
    let tracking_of = |out: &Value, pointer: &str| {
        out.pointer(pointer)
            .and_then(|t| training_links(t, server.as_deref(), model))
    };

    // 1. Training flow.
    let out = flows.train(opts, &data, log).await?;
    if let (Some(v), Some(links)) = (out["version"].as_u64(), tracking_of(&out, "/tracking")) {
        log_links(log, &links);
        version_links.insert(v, links);
    }

    // 2-4. Evaluations.
    // The validation share of the raw rows, as the data sets were given.
    let ratio =
        data.validation_rows as f64 / (data.train_rows + data.validation_rows).max(1) as f64;
    let mut evaluations = Vec::new();
    for (i, (date, batch)) in BATCHES.iter().enumerate() {
        log(&format!("evaluation flow on the {batch} batch of {date}"));
        let (summary, out) = flows.evaluate(opts, data.problem, i, ratio).await?;
        if let (Some(v), Some(links)) =
            (summary.new_version, tracking_of(&out, "/trainingTracking"))
        {
            version_links.insert(v, links);
        }
        log_evaluation(log, &summary);
        evaluations.push(summary);
    }

    // Summary and report.
    let versions_raw = cloud.registry().list_versions(model).await?;
    let versions = version_summaries(&cloud, &versions_raw, version_links).await;
    let evaluation_records = cloud.registry().list_evaluations(model, None).await?;
    let report = write_report(&cloud, model, &versions_raw, &evaluation_records)?;
    Ok(DemoSummary {
        model_name: model.clone(),
        problem: data.problem.name().to_string(),
        versions,
        evaluations,
        report: report.display().to_string(),
        elapsed_seconds: started.elapsed().as_secs_f64(),
        mlflow: server,
    })
}

/// The evaluation batches: their data dates and what they hold.
const BATCHES: [(&str, &str); 3] = [
    (DATES[1], "fresh"),
    (DATES[2], "drifted"),
    (DATES[3], "drifted (after retrain)"),
];

/// The local cloud the demo runs in (the virtual clock unless `real_time`, no faults injected,
/// histories recorded), and its tracking server: `tracking_uri`, else the environment's.
fn demo_cloud(opts: &DemoOptions) -> Result<(LocalCloud, Option<String>), DemoError> {
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
    Ok((LocalCloud::new(config)?, server))
}

/// The demo's two flows in its cloud, and where its data go.
struct Flows<'c> {
    cloud: &'c LocalCloud,
    model: &'c str,
}

impl<'c> Flows<'c> {
    fn new(cloud: &'c LocalCloud, model: &'c str) -> Self {
        Flows { cloud, model }
    }

    /// `s3://<bucket>/datasets/<model>/<date>`: where the flows' defaults look for that date's
    /// data.
    fn base(&self, date: &str) -> String {
        format!(
            "s3://{}/datasets/{}/{date}",
            self.cloud.bucket(),
            self.model
        )
    }

    fn machine(&self, name: &'static str) -> Result<Arc<StateMachine>, DemoError> {
        self.cloud
            .state_machine(name)
            .cloned()
            .ok_or(DemoError::MissingStateMachine(name))
    }

    /// The training flow on the first date's data: its output (version, objective, tracking).
    async fn train(
        &self,
        opts: &DemoOptions,
        data: &DemoData,
        log: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Value, DemoError> {
        let (train_rows, validation_rows) = (data.train_rows, data.validation_rows);
        log(&format!(
            "training flow: preprocessing (the data profile of {train_rows} train + {validation_rows} validation rows, trained on where they are), then tuning {} jobs, {} in parallel, on data of {}",
            opts.max_jobs, opts.max_parallel_jobs, DATES[0]
        ));
        let mut input = flow_input(opts, data.problem, DATES[0]);
        input["data"] = json!({
            "train": format!("{}/train/", self.base(DATES[0])),
            "validation": format!("{}/validation/", self.base(DATES[0])),
        });
        input["preprocessing"] = json!({"split": false});
        let name = format!("{}-train-initial", self.model);
        let machine = self.machine("training")?;
        let execution = self
            .cloud
            .execute("training", &machine, &name, input, None)
            .await?;
        let out = succeeded("training", "training", &execution)?.clone();
        log(&format!(
            "  → version {} ({} = {})",
            out["version"],
            out["objectiveMetric"].as_str().unwrap_or("objective"),
            out["objectiveValue"]
        ));
        Ok(out)
    }

    /// The evaluation flow on batch `i` ([`BATCHES`]): its summary, and its output.
    async fn evaluate(
        &self,
        opts: &DemoOptions,
        problem: Problem,
        i: usize,
        ratio: f64,
    ) -> Result<(EvaluationSummary, Value), DemoError> {
        let (date, batch) = BATCHES[i];
        let mut input = flow_input(opts, problem, date);
        // Newer data is named only where it exists (the drifted date).
        let newer = (date == NEWER_DATA_DATE).then(|| format!("{}/raw/", self.base(date)));
        input["preprocessing"] = preprocessing_block(newer, ratio, opts.seed);
        input["data"] = json!({"evaluation": {
            "features": format!("{}/evaluation/features/", self.base(date)),
            "groundTruth": format!("{}/evaluation/labels/", self.base(date)),
        }});
        let name = format!("{}-evaluate-{}", self.model, i + 1);
        let machine = self.machine("evaluation")?;
        let execution = self
            .cloud
            .execute("evaluation", &machine, &name, input, None)
            .await?;
        let step = format!("evaluation {}", i + 1);
        let out = succeeded(&step, "evaluation", &execution)?.clone();
        let summary = evaluation_summary(&step, date, batch, &out)?;
        Ok((summary, out))
    }
}

/// Uploads the demo's data where the flows' defaults expect it: the labelled rows as they were
/// given, split into train and validation (the training flow's channels, read where they are;
/// its preprocessing step only writes their data profile, which evaluations measure drift
/// against: `split: false`, no second copy of the rows); each batch's features and labels; and
/// the newer labelled data of the drifted date, what a retrain decided that day trains on.
async fn upload_data(
    cloud: &LocalCloud,
    flows: &Flows<'_>,
    data: &DemoData,
    import: &Path,
) -> Result<(), DemoError> {
    let store = cloud.store().clone();
    let put = async |uri: String, rows: &[Piece], columns: Columns| {
        put_rows(store.as_ref(), import, &uri, rows, data.problem, columns).await
    };
    for (name, piece) in [("train", &data.train), ("validation", &data.validation)] {
        let uri = format!("{}/{name}/{name}.csv", flows.base(DATES[0]));
        put(uri, std::slice::from_ref(piece), Columns::All).await?;
    }
    for ((date, _), rows) in BATCHES.iter().zip(&data.batches) {
        let rows = std::slice::from_ref(rows);
        let at = |what: &str| format!("{}/evaluation/{what}/batch.csv", flows.base(date));
        put(at("features"), rows, Columns::Features).await?;
        put(at("labels"), rows, Columns::Label).await?;
    }
    let uri = format!("{}/raw/raw.csv", flows.base(NEWER_DATA_DATE));
    put(uri, &data.newer_raw, Columns::All).await
}

/// An evaluation flow's output as the demo reports it.
fn evaluation_summary(
    step: &str,
    date: &str,
    batch: &str,
    out: &Value,
) -> Result<EvaluationSummary, DemoError> {
    let output_error = |message: String| DemoError::Output {
        step: step.to_string(),
        message,
    };
    let metrics: BTreeMap<String, f64> = serde_json::from_value(out["metrics"].clone())
        .map_err(|e| output_error(format!("metrics: {e}")))?;
    Ok(EvaluationSummary {
        version: out["version"]
            .as_u64()
            .ok_or_else(|| output_error(format!("no version in {out}")))?,
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
    })
}

/// An evaluation's lines: its tracking, metrics and verdict, drift, and new version.
fn log_evaluation(log: &(dyn Fn(&str) + Send + Sync), summary: &EvaluationSummary) {
    if let Some(links) = &summary.tracking {
        log_links(log, links);
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
}

/// Each registered version with its training job's final metrics and its tracking links.
async fn version_summaries(
    cloud: &LocalCloud,
    versions: &[ModelVersion],
    mut links: BTreeMap<u64, TrackingLinks>,
) -> Vec<VersionSummary> {
    let mut out = Vec::new();
    for v in versions {
        let metrics = cloud
            .emulator()
            .describe_training_job(&v.record.training_job_name)
            .await
            .map(|info| info.final_metrics)
            .unwrap_or_default();
        out.push(VersionSummary {
            version: v.version,
            objective: v.record.objective_value,
            objective_metric: v.record.objective_metric.clone(),
            metrics,
            training_job: v.record.training_job_name.clone(),
            data_date: v.record.data_date.clone(),
            reason: v.record.reason.clone(),
            parent_version: v.record.parent_version,
            tracking: links.remove(&v.version),
        });
    }
    out
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
        assert_eq!(
            split_lines("a\nb\nc\nd\n", &[1, 2]),
            vec!["a\n", "b\nc\n", "d\n"]
        );
    }

    /// The objects the demo makes of a data set's rows, written a line at a time: whole rows,
    /// the features, the label; a run of rows (blank lines are not rows); inverted labels, and
    /// an error naming the file and line of a label that cannot be inverted.
    #[test]
    fn rows_are_written_by_columns_and_runs_and_bad_labels_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("rows.csv");
        std::fs::write(&src, "1,2,3\n\n4,5,6\r\n7,8,9").unwrap();
        let out = dir.path().join("out.csv");
        let write = |piece: Piece, columns: Columns, problem: Problem| {
            write_rows(&[piece], problem, columns, &out)
                .map(|()| std::fs::read_to_string(&out).unwrap())
        };
        let whole = Piece::whole(src.clone());
        let r = Problem::Regression;
        assert_eq!(
            write(whole.clone(), Columns::All, r).unwrap(),
            "1,2,3\n4,5,6\n7,8,9\n"
        );
        assert_eq!(
            write(whole.clone(), Columns::Features, r).unwrap(),
            "2,3\n5,6\n8,9\n"
        );
        assert_eq!(
            write(whole.clone(), Columns::Label, r).unwrap(),
            "1\n4\n7\n"
        );
        let run = |rows, invert| Piece {
            path: src.clone(),
            rows: Some(rows),
            invert,
        };
        assert_eq!(
            write(run(1..3, true), Columns::All, r).unwrap(),
            "-4,5,6\n-7,8,9\n"
        );
        assert_eq!(write(run(1..2, false), Columns::Label, r).unwrap(), "4\n");
        assert_eq!(
            write(run(0..1, true), Columns::All, Problem::Binary).unwrap(),
            "0,2,3\n"
        );
        // the second row is on line 3 (after a blank line), and 4 is no binary label
        let e = write(run(1..2, true), Columns::All, Problem::Binary).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("rows.csv") && text.contains("line 3") && text.contains("0 or 1"),
            "{text}"
        );
        let two = [Piece::whole(src.clone()), run(2..3, true)];
        write_rows(&two, r, Columns::Label, &out).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "1\n4\n7\n-7\n");
    }
}
