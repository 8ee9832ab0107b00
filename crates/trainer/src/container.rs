//! The SageMaker training-container contract (`train`).
//!
//! Paths come from the training toolkit's environment (`SM_MODEL_DIR`, `SM_CHANNEL_<NAME>`,
//! `SM_INPUT_CONFIG_DIR`, `SM_OUTPUT_DATA_DIR`), else from a job directory laid out like
//! `/opt/ml` named by `MDLC_OPT_ML`, else from `/opt/ml` itself. A failed job writes its
//! reason to `output/failure` (as SageMaker reads it into `FailureReason`) and the program
//! exits non-zero.

use crate::dataset::{
    CsvError, Dataset, Layout, READ_CHUNK_BYTES, for_each_csv_chunk, read_csv_reader,
};
use crate::fsio::write_atomically;
use crate::gbdt::{RoundRecord, TrainError, train_owned};
use crate::model::Model;
use crate::params::{HyperparameterErrors, TrainParams};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The environment variable naming a job directory laid out like `/opt/ml`.
pub const ROOT_ENV: &str = "MDLC_OPT_ML";
/// The default job directory.
pub const DEFAULT_ROOT: &str = "/opt/ml";

/// Resolved container paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPaths {
    pub root: PathBuf,
    pub model_dir: PathBuf,
    pub input_config_dir: PathBuf,
    pub output_data_dir: PathBuf,
    pub failure_file: PathBuf,
    /// Explicit `SM_CHANNEL_<NAME>` directories (upper-case names as given).
    pub channel_env: BTreeMap<String, PathBuf>,
    /// `SM_HPS`: the hyperparameters as JSON, used when the file is absent.
    pub hps_env: Option<String>,
}

impl ContainerPaths {
    /// Resolves the paths from an environment lookup.
    pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> ContainerPaths {
        let root = get(ROOT_ENV)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT));
        let path_or = |name: &str, default: PathBuf| {
            get(name)
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .unwrap_or(default)
        };
        let output_data_dir = path_or("SM_OUTPUT_DATA_DIR", root.join("output").join("data"));
        let failure_file = match get("SM_OUTPUT_DATA_DIR").filter(|s| !s.is_empty()) {
            Some(d) => Path::new(&d)
                .parent()
                .map(|p| p.join("failure"))
                .unwrap_or_else(|| root.join("output").join("failure")),
            None => root.join("output").join("failure"),
        };
        let mut channel_env = BTreeMap::new();
        for name in ["TRAIN", "VALIDATION"] {
            if let Some(v) = get(&format!("SM_CHANNEL_{name}")).filter(|s| !s.is_empty()) {
                channel_env.insert(name.to_string(), PathBuf::from(v));
            }
        }
        if let Some(list) = get("SM_CHANNELS") {
            if let Ok(names) = serde_json::from_str::<Vec<String>>(&list) {
                for n in names {
                    let key = n.to_uppercase();
                    if let Some(v) = get(&format!("SM_CHANNEL_{key}")).filter(|s| !s.is_empty()) {
                        channel_env.insert(key, PathBuf::from(v));
                    }
                }
            }
        }
        ContainerPaths {
            model_dir: path_or("SM_MODEL_DIR", root.join("model")),
            input_config_dir: path_or("SM_INPUT_CONFIG_DIR", root.join("input").join("config")),
            output_data_dir,
            failure_file,
            channel_env,
            hps_env: get("SM_HPS").filter(|s| !s.trim().is_empty()),
            root,
        }
    }

    /// Resolves from the process environment.
    pub fn from_process_env() -> ContainerPaths {
        ContainerPaths::from_env(&|k| std::env::var(k).ok())
    }

    /// A job directory laid out like `/opt/ml`, ignoring the environment.
    pub fn under_root(root: &Path) -> ContainerPaths {
        let root_s = root.display().to_string();
        ContainerPaths::from_env(&|k| (k == ROOT_ENV).then(|| root_s.clone()))
    }

    pub fn channel_dir(&self, name: &str) -> PathBuf {
        self.channel_env
            .get(&name.to_uppercase())
            .cloned()
            .unwrap_or_else(|| self.root.join("input").join("data").join(name))
    }
}

/// Why a training job failed. `Display` is the text written to `output/failure`.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("ClientError: {0}")]
    Hyperparameters(#[from] HyperparameterErrors),
    #[error("ClientError: {path}: {message}")]
    Config { path: String, message: String },
    #[error("ClientError: channel {channel}: {message}")]
    Channel { channel: String, message: String },
    /// A channel configuration SageMaker XGBoost's channel validation refuses (its own words).
    #[error("ClientError: {0}")]
    UnsupportedChannel(String),
    #[error("ClientError: {0}")]
    Csv(#[from] CsvError),
    #[error("ClientError: {0}")]
    Train(#[from] TrainError),
    #[error("AlgorithmError: cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<crate::pipe::PipeReadError> for JobError {
    fn from(e: crate::pipe::PipeReadError) -> Self {
        match e {
            crate::pipe::PipeReadError::Channel { channel, message } => {
                JobError::Channel { channel, message }
            }
            crate::pipe::PipeReadError::Csv(e) => JobError::Csv(e),
        }
    }
}

/// What a successful job produced.
#[derive(Debug, Clone)]
pub struct JobSummary {
    pub model_path: PathBuf,
    pub model: Model,
    pub history: Vec<RoundRecord>,
    pub rounds_run: usize,
    pub train_rows: usize,
    pub validation_rows: usize,
    pub train_seconds: f64,
}

/// Runs the training job. Per-round metrics and progress go to `log`.
/// On failure the reason is written to the failure file before the error is returned.
pub fn run_training_job(
    paths: &ContainerPaths,
    log: &mut dyn Write,
) -> Result<JobSummary, JobError> {
    let result = run_inner(paths, log);
    if let Err(e) = &result {
        let _ = log.flush();
        if let Some(dir) = paths.failure_file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = write_atomically(&paths.failure_file, e.to_string().as_bytes());
    }
    result
}

fn read_json_object(path: &Path) -> Result<Option<Map<String, Value>>, JobError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(JobError::Config {
                path: path.display().to_string(),
                message: e.to_string(),
            });
        }
    };
    parse_object(&text, &path.display().to_string()).map(Some)
}

fn parse_object(text: &str, name: &str) -> Result<Map<String, Value>, JobError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(JobError::Config {
            path: name.to_string(),
            message: "must be a JSON object".into(),
        }),
        Err(e) => Err(JobError::Config {
            path: name.to_string(),
            message: format!("not valid JSON: {e}"),
        }),
    }
}

/// SageMaker XGBoost's refusal of a Pipe channel whose content type it cannot stream: LibSVM,
/// and no `ContentType` at all (its default is `text/libsvm`, which its channel validation
/// adds to the configuration it shows). The wording is its channel validation's
/// (`Channel configuration for '<name>' channel is not supported: <the configuration as a
/// Python dict>`).
fn check_pipe_content_type(channel: &str, cfg: &Value) -> Result<(), JobError> {
    let ct = cfg.get("ContentType").and_then(Value::as_str);
    let libsvm = ct.is_none_or(|ct| {
        matches!(
            ct.trim().to_ascii_lowercase().as_str(),
            "libsvm" | "text/libsvm" | "text/x-libsvm"
        )
    });
    if !libsvm {
        return Ok(());
    }
    let mut shown = cfg.clone();
    if ct.is_none() {
        if let Value::Object(m) = &mut shown {
            m.insert("ContentType".into(), Value::String("text/libsvm".into()));
        }
    }
    Err(JobError::UnsupportedChannel(format!(
        "Channel configuration for '{channel}' channel is not supported: {}",
        crate::pipe::python_repr(&shown)
    )))
}

/// Checks a channel's `ContentType` (absent means CSV in File mode) and input mode.
fn check_content_type(channel: &str, config: Option<&Value>) -> Result<(), JobError> {
    let Some(cfg) = config else { return Ok(()) };
    if crate::pipe::is_pipe(Some(cfg)) {
        check_pipe_content_type(channel, cfg)?;
    }
    let Some(ct) = cfg.get("ContentType").and_then(Value::as_str) else {
        return Ok(());
    };
    let mut parts = ct.split(';').map(str::trim);
    let base = parts.next().unwrap_or("").to_ascii_lowercase();
    if base != "text/csv" && base != "csv" {
        return Err(JobError::Channel {
            channel: channel.into(),
            message: format!("content type {ct:?} is not supported; use text/csv"),
        });
    }
    for p in parts {
        if let Some(v) = p.strip_prefix("label_size=") {
            if v.trim() != "1" {
                return Err(JobError::Channel {
                    channel: channel.into(),
                    message: format!("{p:?}: only label_size=1 is supported"),
                });
            }
        }
    }
    Ok(())
}

fn list_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            list_files(&p, out)?;
        } else if p.is_file() {
            out.push(p);
        }
    }
    Ok(())
}

/// A channel's files: the path itself when it is a file, else every file below it (sorted,
/// recursively, hidden files skipped).
fn channel_files(channel: &str, dir: &Path) -> Result<Vec<PathBuf>, JobError> {
    let mut files = Vec::new();
    if dir.is_file() {
        files.push(dir.to_path_buf());
    } else {
        list_files(dir, &mut files).map_err(|e| JobError::Channel {
            channel: channel.into(),
            message: format!("cannot read {}: {e}", dir.display()),
        })?;
    }
    Ok(files)
}

/// Reads every file of a channel directory (sorted, recursively, hidden files skipped), each
/// streamed a chunk at a time into the data set's `f32` values (the text is never held whole).
pub fn read_channel(channel: &str, dir: &Path, threads: usize) -> Result<Dataset, JobError> {
    let files = channel_files(channel, dir)?;
    let mut data: Option<Dataset> = None;
    for f in &files {
        let mut file = std::fs::File::open(f).map_err(|e| JobError::Channel {
            channel: channel.into(),
            message: format!("cannot read {}: {e}", f.display()),
        })?;
        let Some(ds) = read_csv_reader(
            &mut file,
            Layout::LabelFirst,
            &f.display().to_string(),
            READ_CHUNK_BYTES,
            threads,
        )?
        else {
            continue;
        };
        match data.as_mut() {
            None => data = Some(ds),
            Some(acc) => acc.append(ds).map_err(|m| JobError::Channel {
                channel: channel.into(),
                message: format!("{}: {m}", f.display()),
            })?,
        }
    }
    // (read_csv_reader gives a file's rows only when it has some)
    match data {
        Some(d) => Ok(d),
        None => Err(JobError::Channel {
            channel: channel.into(),
            message: format!("no data rows in {}", dir.display()),
        }),
    }
}

/// Reads a channel as [`read_channel`] does (same files, order and errors), but hands its rows
/// to `each` a chunk at a time instead of keeping them. Returns the number of features and
/// of rows.
pub fn for_each_channel_chunk(
    channel: &str,
    dir: &Path,
    threads: usize,
    each: &mut dyn FnMut(&Dataset),
) -> Result<(usize, usize), JobError> {
    let files = channel_files(channel, dir)?;
    // (features, rows) of the files before
    let mut seen: Option<(usize, usize)> = None;
    for f in &files {
        let mut file = std::fs::File::open(f).map_err(|e| JobError::Channel {
            channel: channel.into(),
            message: format!("cannot read {}: {e}", f.display()),
        })?;
        // This file's features when they differ from the earlier files': reported once the
        // whole file is parsed, as read_channel reports it.
        let mut mismatch: Option<usize> = None;
        let mut rows = 0usize;
        let mut nf_file: Option<usize> = None;
        for_each_csv_chunk(
            &mut file,
            Layout::LabelFirst,
            &f.display().to_string(),
            READ_CHUNK_BYTES,
            threads,
            &mut |ds| {
                if ds.n_rows() == 0 {
                    return Ok(());
                }
                nf_file.get_or_insert(ds.n_features());
                // Every chunk of a file has its first chunk's features (else the CSV error),
                // so after a mismatch every later chunk of the file mismatches too.
                match seen {
                    Some((nf, _)) if nf != ds.n_features() => {
                        mismatch = Some(ds.n_features());
                    }
                    _ => {
                        rows += ds.n_rows();
                        each(&ds);
                    }
                }
                Ok(())
            },
        )?;
        if let (Some(found), Some((expected, _))) = (mismatch, seen) {
            return Err(JobError::Channel {
                channel: channel.into(),
                message: format!(
                    "{}: {found} feature columns, but earlier files have {expected}",
                    f.display()
                ),
            });
        }
        if let Some(nf) = nf_file {
            let before = seen.map_or(0, |(_, n)| n);
            seen = Some((nf, before + rows));
        }
    }
    // (seen is set only by a file that gave rows)
    match seen {
        Some((nf, rows)) => Ok((nf, rows)),
        None => Err(JobError::Channel {
            channel: channel.into(),
            message: format!("no data rows in {}", dir.display()),
        }),
    }
}

fn run_inner(paths: &ContainerPaths, log: &mut dyn Write) -> Result<JobSummary, JobError> {
    let hp_path = paths.input_config_dir.join("hyperparameters.json");
    let hps = match read_json_object(&hp_path)? {
        Some(m) => m,
        None => match &paths.hps_env {
            Some(text) => parse_object(text, "SM_HPS")?,
            None => Map::new(),
        },
    };
    let params = TrainParams::from_json(&hps)?;
    for line in &params.no_effect {
        let _ = writeln!(log, "[mdlc-trainer] {line}");
    }
    let data_config =
        read_json_object(&paths.input_config_dir.join("inputdataconfig.json"))?.unwrap_or_default();
    for (name, cfg) in &data_config {
        check_content_type(name, Some(cfg))?;
    }
    let threads = params.nthread.max(1);
    let data_dir = paths.root.join("input").join("data");
    let train_set = if crate::pipe::is_pipe(data_config.get("train")) {
        crate::pipe::read_pipe_channel("train", &data_dir, threads)?
    } else {
        let train_dir = paths.channel_dir("train");
        if !train_dir.exists() {
            return Err(JobError::Channel {
                channel: "train".into(),
                message: format!(
                    "required channel is missing ({} does not exist)",
                    train_dir.display()
                ),
            });
        }
        read_channel("train", &train_dir, threads)?
    };
    let valid_dir = paths.channel_dir("validation");
    let declared_validation = data_config.contains_key("validation");
    let validation = if crate::pipe::is_pipe(data_config.get("validation")) {
        Some(crate::pipe::read_pipe_channel(
            "validation",
            &data_dir,
            threads,
        )?)
    } else if valid_dir.exists() || declared_validation {
        Some(read_channel("validation", &valid_dir, threads)?)
    } else {
        None
    };
    let _ = writeln!(
        log,
        "[mdlc-trainer] objective {} | {} rounds | train rows {} x {} features | validation rows {}",
        params.objective.name(),
        params.num_round,
        train_set.n_rows(),
        train_set.n_features(),
        validation.as_ref().map_or(0, Dataset::n_rows)
    );
    let started = std::time::Instant::now();
    let quiet = params.verbosity == 0;
    let train_rows = train_set.n_rows();
    // By value: the raw training values are dropped once they are binned.
    let outcome = train_owned(&params, train_set, validation.as_ref(), &mut |r| {
        if !quiet || r.round + 1 == params.num_round {
            let _ = writeln!(log, "{}", r.log_line());
        }
    })?;
    let train_seconds = started.elapsed().as_secs_f64();
    if outcome.stopped_early {
        let _ = writeln!(
            log,
            "Stopping. Best iteration:\n{}",
            outcome
                .model
                .best_iteration
                .and_then(|b| outcome.history.get(b))
                .map(RoundRecord::log_line)
                .unwrap_or_default()
        );
    }
    let model_path = outcome
        .model
        .save(&paths.model_dir)
        .map_err(|source| JobError::Write {
            path: paths.model_dir.display().to_string(),
            source,
        })?;
    let final_record = outcome
        .model
        .best_iteration
        .and_then(|b| outcome.history.get(b))
        .or(outcome.history.last());
    let mut final_metrics = Map::new();
    if let Some(r) = final_record {
        for (set, list) in [("train", &r.train), ("validation", &r.validation)] {
            for (m, v) in list {
                final_metrics.insert(format!("{set}:{m}"), serde_json::json!(v));
            }
        }
    }
    let summary_doc = serde_json::json!({
        "objective": params.objective.name(),
        "rounds_run": outcome.rounds_run,
        "trees": outcome.model.trees.len(),
        "best_iteration": outcome.model.best_iteration,
        "train_rows": train_rows,
        "validation_rows": validation.as_ref().map_or(0, Dataset::n_rows),
        "train_seconds": train_seconds,
        "final_metrics": final_metrics,
    });
    let metrics_path = paths.output_data_dir.join("metrics.json");
    std::fs::create_dir_all(&paths.output_data_dir)
        .and_then(|()| {
            write_atomically(&metrics_path, summary_doc.to_string().as_bytes()).map_err(Into::into)
        })
        .map_err(|source| JobError::Write {
            path: metrics_path.display().to_string(),
            source,
        })?;
    let _ = writeln!(
        log,
        "[mdlc-trainer] trained {} trees in {train_seconds:.3} s; model written to {}",
        outcome.model.trees.len(),
        model_path.display()
    );
    Ok(JobSummary {
        model_path,
        model: outcome.model,
        history: outcome.history,
        rounds_run: outcome.rounds_run,
        train_rows,
        validation_rows: validation.as_ref().map_or(0, Dataset::n_rows),
        train_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn given_sm_environment_when_resolving_then_env_overrides_root() {
        let env: HashMap<&str, &str> = [
            ("MDLC_OPT_ML", "/jobs/j1"),
            ("SM_MODEL_DIR", "/m"),
            ("SM_CHANNEL_TRAIN", "/data/train"),
            ("SM_OUTPUT_DATA_DIR", "/out/data"),
        ]
        .into_iter()
        .collect();
        let p = ContainerPaths::from_env(&|k| env.get(k).map(|s| s.to_string()));
        assert_eq!(p.model_dir, PathBuf::from("/m"));
        assert_eq!(p.channel_dir("train"), PathBuf::from("/data/train"));
        assert_eq!(
            p.channel_dir("validation"),
            PathBuf::from("/jobs/j1/input/data/validation")
        );
        assert_eq!(p.input_config_dir, PathBuf::from("/jobs/j1/input/config"));
        assert_eq!(p.failure_file, PathBuf::from("/out/failure"));
    }

    /// SM_CHANNELS names more channels, each found in its SM_CHANNEL_<NAME> unless that is
    /// empty; SM_HPS counts only when it is not blank.
    #[test]
    fn given_sm_channels_and_sm_hps_when_resolving_then_listed_channels_and_non_blank_hps() {
        let env: HashMap<&str, &str> = [
            ("SM_CHANNELS", r#"["train","extra","blank"]"#),
            ("SM_CHANNEL_EXTRA", "/data/extra"),
            ("SM_CHANNEL_BLANK", ""),
            ("SM_HPS", r#"{"num_round":"3"}"#),
        ]
        .into_iter()
        .collect();
        let p = ContainerPaths::from_env(&|k| env.get(k).map(|s| s.to_string()));
        assert_eq!(p.channel_dir("extra"), PathBuf::from("/data/extra"));
        assert_eq!(
            p.channel_dir("blank"),
            PathBuf::from("/opt/ml/input/data/blank")
        );
        assert_eq!(p.hps_env.as_deref(), Some(r#"{"num_round":"3"}"#));
        let blank = ContainerPaths::from_env(&|k| (k == "SM_HPS").then(|| " \n".to_string()));
        assert_eq!(blank.hps_env, None);
    }

    /// A missing config file is no config; one that cannot be read (a directory, not UTF-8) is
    /// an error naming it.
    #[test]
    fn given_an_unreadable_config_file_when_read_then_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_json_object(&dir.path().join("absent.json")),
            Ok(None)
        ));
        let folder = dir.path().join("hyperparameters.json");
        std::fs::create_dir(&folder).unwrap();
        let binary = dir.path().join("inputdataconfig.json");
        std::fs::write(&binary, [0xff, 0xfe, b'{']).unwrap();
        for path in [folder, binary] {
            match read_json_object(&path) {
                Err(JobError::Config { path: named, .. }) => {
                    assert_eq!(named, path.display().to_string())
                }
                other => panic!("{}: {other:?}", path.display()),
            }
        }
    }

    #[test]
    fn given_no_environment_when_resolving_then_opt_ml() {
        let p = ContainerPaths::from_env(&|_| None);
        assert_eq!(p.model_dir, PathBuf::from("/opt/ml/model"));
        assert_eq!(p.failure_file, PathBuf::from("/opt/ml/output/failure"));
        assert_eq!(
            p.channel_dir("train"),
            PathBuf::from("/opt/ml/input/data/train")
        );
    }

    #[test]
    fn given_content_types_when_checked_then_only_csv_accepted() {
        let ok = serde_json::json!({"ContentType": "text/csv; label_size=1"});
        assert!(check_content_type("train", Some(&ok)).is_ok());
        assert!(check_content_type("train", None).is_ok());
        let bad = serde_json::json!({"ContentType": "text/libsvm"});
        let err = check_content_type("train", Some(&bad)).unwrap_err();
        assert!(err.to_string().contains("text/libsvm"), "{err}");
        let pipe_csv = serde_json::json!({"ContentType": "text/csv", "TrainingInputMode": "Pipe"});
        assert!(check_content_type("train", Some(&pipe_csv)).is_ok());
    }

    #[test]
    fn pipe_with_libsvm_or_no_content_type_is_refused_in_sagemaker_xgboost_words() {
        let libsvm = serde_json::json!({"ContentType": "text/libsvm", "TrainingInputMode": "Pipe", "S3DistributionType": "FullyReplicated"});
        assert_eq!(
            check_content_type("train", Some(&libsvm))
                .unwrap_err()
                .to_string(),
            "ClientError: Channel configuration for 'train' channel is not supported: {'ContentType': 'text/libsvm', 'TrainingInputMode': 'Pipe', 'S3DistributionType': 'FullyReplicated'}"
        );
        let none = serde_json::json!({"TrainingInputMode": "Pipe"});
        assert_eq!(
            check_content_type("validation", Some(&none))
                .unwrap_err()
                .to_string(),
            "ClientError: Channel configuration for 'validation' channel is not supported: {'TrainingInputMode': 'Pipe', 'ContentType': 'text/libsvm'}"
        );
        // File mode keeps this trainer's own rule (no ContentType reads as CSV)
        let file = serde_json::json!({"TrainingInputMode": "File"});
        assert!(check_content_type("train", Some(&file)).is_ok());
    }
}
