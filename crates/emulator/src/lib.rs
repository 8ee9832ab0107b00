//! mdlc-emulator: a local SageMaker that runs jobs as child processes by the SageMaker container
//! contract, for the Step Functions service integrations `arn:aws:states:::sagemaker:<action>[.sync]`.
//!
//! * [`SageMakerEmulator::call`] takes the integration's action (`createTrainingJob`, …), whether
//!   it is `.sync`, and the request as the ASL `Parameters` give it (SageMaker API JSON,
//!   PascalCase). A plain call returns the Create* response; a `.sync` call waits for the job and
//!   returns the Describe* response, or fails with `States.TaskFailed` (cause: the Describe*
//!   output) when the job ends `Failed` or `Stopped`. Error names are listed in [`error`].
//! * Training jobs get a job directory laid out like `/opt/ml` under
//!   `<work_dir>/training-jobs/<name>/`, the training toolkit's `SM_*` environment, and the
//!   image's program (see [`config::ImageMap`]) run with `train`.
//! * Hyperparameter tuning (Random, Bayesian, Grid, Hyperband; early stopping), CreateModel,
//!   transform jobs (`serve` contract) and processing jobs (`/opt/ml/processing`).
//! * Fault injection ([`config::FaultConfig`], `MDLC_FAULTS`).
//! * Progress is reported as `tracing` events with target `mdlc_emulator`.
//!
//! The emulator also implements [`mdlc_core::ports::SageMakerApi`].
//!
//! ## Errors a state machine sees (match these in `Retry`/`Catch`)
//!
//! | situation | `error` | `cause` |
//! | --- | --- | --- |
//! | invalid request (every bad field named), unknown image, missing model data, duplicate model | `SageMaker.AmazonSageMakerException` | `... (Service: AmazonSageMaker; Status Code: 400; Error Code: ValidationException; ...)` |
//! | throttling (fault injection) | `SageMaker.AmazonSageMakerException` | `Rate exceeded (...; Error Code: ThrottlingException; ...)` |
//! | duplicate training/tuning/transform/processing job name | `SageMaker.ResourceInUseException` | message naming the ARN |
//! | Describe*/Stop* of an unknown job | `SageMaker.ResourceNotFoundException` | message naming the ARN |
//! | `.sync` job ended `Failed` or `Stopped` | `States.TaskFailed` | the Describe* output as a JSON string |
//! | unknown action, `.sync` on a non-job action | `States.Runtime` | message |
//!
//! ## Configuration
//!
//! * Image map ([`ImageMap::load`], JSON): `{"images": [{"pattern": "*/my-algo:*", "command":
//!   ["/path/prog", "arg"]}, {"pattern": "my/xgb:*", "builtin": "xgboost"}]}`; user entries come
//!   before the defaults, which map SageMaker's XGBoost image URIs (any account and region) to
//!   `mdlc-trainer` (found next to the current executable, in `target/{release,debug}`, or via
//!   `MDLC_TRAINER_BIN`). Training runs `<command...> train`, transform `<command...> serve`,
//!   processing `<command...> <ContainerEntrypoint...> <ContainerArguments...>` with
//!   `/opt/ml/...` arguments rewritten to the job directory (map an image to `/usr/bin/env` to
//!   run its entrypoint directly).
//! * Faults ([`FaultConfig::parse`], `MDLC_FAULTS`): comma-separated `fail:<job-name-glob>` (the
//!   job ends `Failed` with an injected `FailureReason`) and `throttle:<action>:<N>` (the first N
//!   calls of `createTrainingJob`, `createModel`, …, or `*`, are throttled).
//! * `FileSystemDataSource` channels: [`EmulatorConfig::file_systems`] maps a `FileSystemId` to
//!   a local directory, or `*` to a root of one directory per file system
//!   (`<root>/<FileSystemId>`); `DirectoryPath` is resolved under it; `ro` channels are copied
//!   read-only, `rw` channels are symlinked. As on SageMaker, a job with such a channel needs a
//!   `VpcConfig` (its shape is checked; the job runs on the local network).
//!
//! Describe* documents are also written to `<job dir>/describe.json`, so a later process can
//! describe jobs of an earlier one (a job that was still running then reads as `Failed`).

pub mod config;
pub mod error;
pub mod fields;
pub mod files;
pub mod glob;
pub mod history;
pub mod http;
pub mod metrics;
mod model;
mod processing;
mod training;
mod transform;
pub mod tuning;
mod vpc;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use mdlc_core::PortError;
use mdlc_core::ports::{CreateModelRequest, SageMakerApi, TrainingJobInfo};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::watch;

pub use config::{ConfigError, EmulatorConfig, Fault, FaultConfig, ImageMap, Program};
pub use error::{ApiError, EmulatorFailure};

/// The kinds of long-running jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobKind {
    Training,
    Tuning,
    Transform,
    Processing,
}

impl JobKind {
    fn dir_name(self) -> &'static str {
        match self {
            JobKind::Training => "training-jobs",
            JobKind::Tuning => "tuning-jobs",
            JobKind::Transform => "transform-jobs",
            JobKind::Processing => "processing-jobs",
        }
    }

    fn arn_type(self) -> &'static str {
        match self {
            JobKind::Training => "training-job",
            JobKind::Tuning => "hyper-parameter-tuning-job",
            JobKind::Transform => "transform-job",
            JobKind::Processing => "processing-job",
        }
    }

    /// The Describe* field holding the status.
    pub fn status_field(self) -> &'static str {
        match self {
            JobKind::Training => "TrainingJobStatus",
            JobKind::Tuning => "HyperParameterTuningJobStatus",
            JobKind::Transform => "TransformJobStatus",
            JobKind::Processing => "ProcessingJobStatus",
        }
    }

    fn label(self) -> &'static str {
        match self {
            JobKind::Training => "training job",
            JobKind::Tuning => "hyperparameter tuning job",
            JobKind::Transform => "transform job",
            JobKind::Processing => "processing job",
        }
    }

    /// The CloudWatch log group SageMaker uses for this kind.
    pub fn log_group(self) -> &'static str {
        match self {
            JobKind::Training | JobKind::Tuning => "/aws/sagemaker/TrainingJobs",
            JobKind::Transform => "/aws/sagemaker/TransformJobs",
            JobKind::Processing => "/aws/sagemaker/ProcessingJobs",
        }
    }
}

/// Why a running job is asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopKind {
    /// StopTrainingJob / StopHyperParameterTuningJob: ends `Stopped`.
    User,
    /// Tuning early stopping (median rule or a Hyperband rung): ends `Stopped`.
    EarlyStopped,
    /// Hyperband's `MaxResource` reached: ends `Completed`.
    MaxResource,
}

/// One line of a job's log, as CloudWatch Logs `GetLogEvents` returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEvent {
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    pub message: String,
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub(crate) use mdlc_core::sync::lock;

/// A job's shared state: its Describe* document, log, completion and stop signals.
pub(crate) struct JobCell {
    pub kind: JobKind,
    pub name: String,
    pub dir: PathBuf,
    describe: Mutex<Value>,
    logs: Mutex<Vec<LogEvent>>,
    done: watch::Sender<bool>,
    stop: watch::Sender<Option<StopKind>>,
}

impl JobCell {
    pub fn describe(&self) -> Value {
        lock(&self.describe).clone()
    }

    pub fn status(&self) -> String {
        lock(&self.describe)
            .get(self.kind.status_field())
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }

    /// Applies `f` to the Describe* document, bumps `LastModifiedTime` and persists it.
    pub fn update(&self, f: impl FnOnce(&mut serde_json::Map<String, Value>)) {
        let snapshot = {
            let mut d = lock(&self.describe);
            if let Value::Object(m) = &mut *d {
                f(m);
                m.insert("LastModifiedTime".into(), json!(now_ms()));
            }
            d.clone()
        };
        self.persist(&snapshot);
    }

    fn persist(&self, doc: &Value) {
        let path = self.dir.join("describe.json");
        let text = serde_json::to_vec_pretty(doc).unwrap_or_default();
        if let Err(e) = mdlc_trainer::fsio::write_atomically(&path, &text) {
            tracing::warn!(target: "mdlc_emulator", job = %self.name, "could not persist {}: {e}", path.display());
        }
    }

    /// Appends a log line (memory and `<job dir>/algo-1.log`).
    pub fn log(&self, message: &str) {
        let event = LogEvent {
            timestamp: now_ms(),
            message: message.to_string(),
        };
        lock(&self.logs).push(event);
        use std::io::Write;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("algo-1.log"));
        if let Ok(mut f) = file {
            let _ = writeln!(f, "{message}");
        }
    }

    pub fn logs(&self) -> Vec<LogEvent> {
        lock(&self.logs).clone()
    }

    pub fn request_stop(&self, kind: StopKind) {
        self.stop.send_if_modified(|s| {
            if s.is_none() {
                *s = Some(kind);
                true
            } else {
                false
            }
        });
    }

    pub fn stop_receiver(&self) -> watch::Receiver<Option<StopKind>> {
        self.stop.subscribe()
    }

    pub fn stop_requested(&self) -> Option<StopKind> {
        *self.stop.borrow()
    }

    /// Marks the job finished (after its final Describe* update).
    pub fn finish(&self) {
        self.done.send_replace(true);
    }

    pub async fn wait_done(&self) {
        let mut rx = self.done.subscribe();
        let _ = rx.wait_for(|d| *d).await;
    }

    pub fn is_done(&self) -> bool {
        *self.done.borrow()
    }
}

#[derive(Default)]
struct State {
    jobs: HashMap<(JobKind, String), Arc<JobCell>>,
    models: BTreeMap<String, Value>,
}

pub(crate) struct Inner {
    pub config: EmulatorConfig,
    state: Mutex<State>,
    throttle_counts: Mutex<HashMap<usize, u32>>,
}

impl Inner {
    pub fn arn(&self, kind: &str, name: &str) -> String {
        format!(
            "arn:aws:sagemaker:{}:{}:{}/{}",
            self.config.region,
            self.config.account,
            kind,
            name.to_ascii_lowercase()
        )
    }

    pub fn job_arn(&self, kind: JobKind, name: &str) -> String {
        self.arn(kind.arn_type(), name)
    }

    fn job_dir(&self, kind: JobKind, name: &str) -> PathBuf {
        self.config.work_dir.join(kind.dir_name()).join(name)
    }

    /// Registers a new job (name unique per kind, in memory and on disk) with its first
    /// Describe* document, and creates its directory.
    pub fn register(
        &self,
        kind: JobKind,
        name: &str,
        describe: Value,
    ) -> Result<Arc<JobCell>, ApiError> {
        let dir = self.job_dir(kind, name);
        let mut state = lock(&self.state);
        let key = (kind, name.to_string());
        if state.jobs.contains_key(&key) || dir.join("describe.json").exists() {
            return Err(ApiError::ResourceInUse(format!(
                "{} names must be unique within an AWS account and region, and a {} with this name already exists ({})",
                capitalize(kind.label()),
                kind.label(),
                self.job_arn(kind, name)
            )));
        }
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| {
                ApiError::internal(format!("could not clear {}: {e}", dir.display()))
            })?;
        }
        std::fs::create_dir_all(&dir)
            .map_err(|e| ApiError::internal(format!("could not create {}: {e}", dir.display())))?;
        let (done, _) = watch::channel(false);
        let (stop, _) = watch::channel(None);
        let cell = Arc::new(JobCell {
            kind,
            name: name.to_string(),
            dir,
            describe: Mutex::new(describe.clone()),
            logs: Mutex::new(Vec::new()),
            done,
            stop,
        });
        cell.persist(&describe);
        state.jobs.insert(key, cell.clone());
        Ok(cell)
    }

    pub fn find(&self, kind: JobKind, name: &str) -> Option<Arc<JobCell>> {
        lock(&self.state)
            .jobs
            .get(&(kind, name.to_string()))
            .cloned()
    }

    /// The Describe* document of a job, from memory or from a previous process's job directory.
    pub fn describe(&self, kind: JobKind, name: &str) -> Result<Value, ApiError> {
        if let Some(cell) = self.find(kind, name) {
            return Ok(cell.describe());
        }
        let path = self.job_dir(kind, name).join("describe.json");
        let text = std::fs::read(&path).map_err(|_| self.not_found(kind, name))?;
        let mut doc: Value = serde_json::from_slice(&text)
            .map_err(|e| ApiError::internal(format!("corrupt {}: {e}", path.display())))?;
        let status = doc
            .get(kind.status_field())
            .and_then(Value::as_str)
            .unwrap_or("");
        if matches!(status, "InProgress" | "Stopping") {
            if let Value::Object(m) = &mut doc {
                m.insert(kind.status_field().into(), json!("Failed"));
                m.insert(
                    "FailureReason".into(),
                    json!("InternalServerError: the emulator process that ran this job exited before the job finished"),
                );
            }
        }
        Ok(doc)
    }

    pub fn not_found(&self, kind: JobKind, name: &str) -> ApiError {
        ApiError::ResourceNotFound(format!(
            "Requested resource not found: {} {name:?} does not exist ({})",
            capitalize(kind.label()),
            self.job_arn(kind, name)
        ))
    }

    pub fn state_models(&self) -> ModelsGuard<'_> {
        ModelsGuard(lock(&self.state))
    }

    pub fn model(&self, name: &str) -> Option<Value> {
        if let Some(m) = lock(&self.state).models.get(name) {
            return Some(m.clone());
        }
        let path = self
            .config
            .work_dir
            .join("models")
            .join(format!("{name}.json"));
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
    }

    /// Stores a model; `false` when the name is taken.
    pub fn insert_model(&self, name: &str, describe: Value) -> Result<bool, ApiError> {
        let mut state = lock(&self.state);
        let dir = self.config.work_dir.join("models");
        let path = dir.join(format!("{name}.json"));
        if state.models.contains_key(name) || path.exists() {
            return Ok(false);
        }
        std::fs::create_dir_all(&dir)
            .and_then(|_| {
                std::fs::write(
                    &path,
                    serde_json::to_vec_pretty(&describe).unwrap_or_default(),
                )
            })
            .map_err(|e| ApiError::internal(format!("could not write {}: {e}", path.display())))?;
        state.models.insert(name.to_string(), describe);
        Ok(true)
    }

    fn check_throttle(&self, action: &str) -> Result<(), ApiError> {
        let mut counts = lock(&self.throttle_counts);
        for (i, rule) in self.config.faults.rules.iter().enumerate() {
            let Fault::Throttle { action: a, times } = rule else {
                continue;
            };
            if a == "*" || a.eq_ignore_ascii_case(action) {
                let seen = counts.entry(i).or_insert(0);
                if *seen < *times {
                    *seen += 1;
                    tracing::info!(target: "mdlc_emulator", action, "injected throttling ({} of {times})", *seen);
                    return Err(ApiError::Throttling);
                }
            }
        }
        Ok(())
    }
}

/// The models table, locked.
pub(crate) struct ModelsGuard<'a>(MutexGuard<'a, State>);

impl ModelsGuard<'_> {
    pub fn remove(&mut self, name: &str) {
        self.0.models.remove(name);
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Runs a job future; if it panics, the job still ends `Failed` and waiters are released.
pub(crate) fn spawn_job<F>(cell: Arc<JobCell>, fut: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let handle = tokio::spawn(fut);
        if let Err(e) = handle.await {
            let field = cell.kind.status_field();
            cell.update(|m| {
                m.insert(field.into(), json!("Failed"));
                m.insert(
                    "FailureReason".into(),
                    json!(format!("InternalServerError: emulator task ended: {e}")),
                );
            });
            cell.finish();
        }
    });
}

/// Asks the job to stop when dropped before the job ended.
struct StopOnDrop(Option<Arc<JobCell>>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(cell) = self.0.take()
            && !cell.is_done()
        {
            tracing::info!(target: "mdlc_emulator", job = %cell.name, "the .sync task was abandoned: stopping its job");
            cell.request_stop(StopKind::User);
        }
    }
}

/// The local SageMaker. Cheap to clone; jobs keep running in the background.
#[derive(Clone)]
pub struct SageMakerEmulator {
    inner: Arc<Inner>,
}

impl SageMakerEmulator {
    /// A relative `work_dir` is made absolute (against the current directory) first: job
    /// programs run in directories of their own and get absolute paths.
    pub fn new(mut config: EmulatorConfig) -> Self {
        if let Ok(abs) = std::path::absolute(&config.work_dir) {
            config.work_dir = abs;
        }
        SageMakerEmulator {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(State::default()),
                throttle_counts: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn config(&self) -> &EmulatorConfig {
        &self.inner.config
    }

    /// The directory of a job (`<work_dir>/<kind>/<name>`), laid out like `/opt/ml` for training.
    pub fn job_dir(&self, kind: JobKind, name: &str) -> PathBuf {
        self.inner.job_dir(kind, name)
    }

    /// One Step Functions SageMaker integration call. `action` is the part after
    /// `arn:aws:states:::sagemaker:` (a trailing `.sync` also sets `sync`).
    pub async fn call(
        &self,
        action: &str,
        sync: bool,
        request: Value,
    ) -> Result<Value, EmulatorFailure> {
        let (action, sync) = match action.strip_suffix(".sync") {
            Some(a) => (a, true),
            None => (action, sync),
        };
        self.call_inner(action, sync, request).await.map_err(|e| {
            let failure = e.to_failure();
            tracing::debug!(target: "mdlc_emulator", action, error = %failure.error, "call failed");
            failure
        })
    }

    async fn call_inner(
        &self,
        action: &str,
        sync: bool,
        request: Value,
    ) -> Result<Value, ApiError> {
        let sync_kind = match action {
            "createTrainingJob" => Some(JobKind::Training),
            "createHyperParameterTuningJob" => Some(JobKind::Tuning),
            "createTransformJob" => Some(JobKind::Transform),
            "createProcessingJob" => Some(JobKind::Processing),
            _ => None,
        };
        if sync && sync_kind.is_none() {
            return Err(ApiError::UnknownAction(format!(
                "the SageMaker integration action {action:?} has no .sync (run a job) variant"
            )));
        }
        if !request.is_object() {
            return Err(ApiError::validation(format!(
                "the {action} request must be a JSON object, got {request}"
            )));
        }
        self.inner.check_throttle(action)?;
        let inner = &self.inner;
        let created = match action {
            "createTrainingJob" => training::create(inner, &request)?,
            "createHyperParameterTuningJob" => tuning::create(inner, &request)?,
            "createTransformJob" => transform::create(inner, &request)?,
            "createProcessingJob" => processing::create(inner, &request)?,
            "createModel" => return model::create(inner, &request).await,
            "describeModel" => return model::describe(inner, &request),
            "deleteModel" => return model::delete(inner, &request),
            "describeTrainingJob" => {
                return self.describe_by(JobKind::Training, "TrainingJobName", &request);
            }
            "describeHyperParameterTuningJob" => {
                return self.describe_by(JobKind::Tuning, "HyperParameterTuningJobName", &request);
            }
            "describeTransformJob" => {
                return self.describe_by(JobKind::Transform, "TransformJobName", &request);
            }
            "describeProcessingJob" => {
                return self.describe_by(JobKind::Processing, "ProcessingJobName", &request);
            }
            "stopTrainingJob" => {
                return self.stop_by(JobKind::Training, "TrainingJobName", &request);
            }
            "stopHyperParameterTuningJob" => {
                return self.stop_by(JobKind::Tuning, "HyperParameterTuningJobName", &request);
            }
            "stopTransformJob" => {
                return self.stop_by(JobKind::Transform, "TransformJobName", &request);
            }
            "stopProcessingJob" => {
                return self.stop_by(JobKind::Processing, "ProcessingJobName", &request);
            }
            "listTrainingJobsForHyperParameterTuningJob" => {
                return tuning::list_training_jobs(inner, &request);
            }
            other => {
                return Err(ApiError::UnknownAction(format!(
                    "the local SageMaker emulator does not support the action {other:?}"
                )));
            }
        };
        let (kind, cell, response) = created;
        debug_assert_eq!(Some(kind), sync_kind);
        if !sync {
            return Ok(response);
        }
        // Like Step Functions, a `.sync` task that is abandoned (timeout, aborted execution)
        // stops its job.
        let guard = StopOnDrop(Some(cell.clone()));
        cell.wait_done().await;
        drop(guard);
        let describe = cell.describe();
        let status = cell.status();
        let ok = match kind {
            JobKind::Training | JobKind::Transform | JobKind::Processing => status == "Completed",
            JobKind::Tuning => status == "Completed",
        };
        if ok {
            Ok(describe)
        } else {
            Err(ApiError::JobFailed { status, describe })
        }
    }

    fn name_from(request: &Value, field: &str) -> Result<String, ApiError> {
        let mut p = error::Problems::new();
        let name = fields::req_str(request, "", field, &mut p);
        p.finish()?;
        name.ok_or_else(|| ApiError::validation(format!("'{field}' is required")))
    }

    fn describe_by(&self, kind: JobKind, field: &str, request: &Value) -> Result<Value, ApiError> {
        let name = Self::name_from(request, field)?;
        self.inner.describe(kind, &name)
    }

    fn stop_by(&self, kind: JobKind, field: &str, request: &Value) -> Result<Value, ApiError> {
        let name = Self::name_from(request, field)?;
        self.stop(kind, &name)?;
        Ok(json!({}))
    }

    /// Describe* of a job.
    pub fn describe(&self, kind: JobKind, name: &str) -> Result<Value, EmulatorFailure> {
        self.inner.describe(kind, name).map_err(|e| e.to_failure())
    }

    /// Stop* of a job: a running job is asked to stop (it ends `Stopped`); stopping a finished
    /// job is a `ValidationException` like on AWS.
    pub fn stop(&self, kind: JobKind, name: &str) -> Result<(), ApiError> {
        let cell = self
            .inner
            .find(kind, name)
            .ok_or_else(|| self.inner.not_found(kind, name))?;
        if cell.is_done() {
            return Err(ApiError::validation(format!(
                "The {} {name:?} has already ended with status {}",
                kind.label(),
                cell.status()
            )));
        }
        cell.request_stop(StopKind::User);
        let field = kind.status_field();
        cell.update(|m| {
            m.insert(field.into(), json!("Stopping"));
        });
        Ok(())
    }

    /// Waits until a job has ended and returns its Describe* document.
    pub async fn wait(&self, kind: JobKind, name: &str) -> Result<Value, EmulatorFailure> {
        match self.inner.find(kind, name) {
            Some(cell) => {
                cell.wait_done().await;
                Ok(cell.describe())
            }
            None => self.describe(kind, name),
        }
    }

    /// The job's log lines (CloudWatch Logs `GetLogEvents` shape), from memory or the job directory.
    pub fn log_events(&self, kind: JobKind, name: &str) -> Result<Vec<LogEvent>, EmulatorFailure> {
        if let Some(cell) = self.inner.find(kind, name) {
            return Ok(cell.logs());
        }
        let path = self.inner.job_dir(kind, name).join("algo-1.log");
        let text = std::fs::read_to_string(&path)
            .map_err(|_| self.inner.not_found(kind, name).to_failure())?;
        let ts = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Ok(text
            .lines()
            .map(|l| LogEvent {
                timestamp: ts,
                message: l.to_string(),
            })
            .collect())
    }

    /// The log file of a job (`<job dir>/algo-1.log`).
    pub fn log_path(&self, kind: JobKind, name: &str) -> PathBuf {
        self.inner.job_dir(kind, name).join("algo-1.log")
    }
}

fn opt_string(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn port_error(e: ApiError) -> PortError {
    match e {
        ApiError::ResourceNotFound(m) => PortError::NotFound { what: m },
        ApiError::Throttling => {
            PortError::unavailable("SageMaker throttled the call (Rate exceeded)")
        }
        ApiError::Internal(m) => PortError::unavailable(m),
        ApiError::ResourceInUse(m) => PortError::Conflict { message: m },
        other => PortError::Rejected {
            message: other.to_string(),
        },
    }
}

#[async_trait]
impl SageMakerApi for SageMakerEmulator {
    async fn describe_training_job(&self, name: &str) -> Result<TrainingJobInfo, PortError> {
        self.inner
            .check_throttle("describeTrainingJob")
            .map_err(port_error)?;
        let d = self
            .inner
            .describe(JobKind::Training, name)
            .map_err(port_error)?;
        let hyperparameters = history::hyperparameters_of(&d);
        let final_metrics = history::final_metrics_of(&d);
        Ok(TrainingJobInfo {
            name: name.to_string(),
            status: opt_string(&d, "/TrainingJobStatus").unwrap_or_default(),
            failure_reason: opt_string(&d, "/FailureReason"),
            model_artifacts: opt_string(&d, "/ModelArtifacts/S3ModelArtifacts"),
            image: opt_string(&d, "/AlgorithmSpecification/TrainingImage"),
            hyperparameters,
            final_metrics,
        })
    }

    async fn create_model(&self, request: &CreateModelRequest) -> Result<String, PortError> {
        self.inner
            .check_throttle("createModel")
            .map_err(port_error)?;
        let mut body = json!({
            "ModelName": request.model_name,
            "ExecutionRoleArn": request.execution_role_arn,
            "PrimaryContainer": {
                "Image": request.image,
                "ModelDataUrl": request.model_data_url,
                "Environment": request.environment,
            }
        });
        if let Some(vpc) = &request.vpc_config {
            body["VpcConfig"] = vpc.sagemaker();
        }
        match model::create(&self.inner, &body).await {
            Ok(v) => Ok(opt_string(&v, "/ModelArn").unwrap_or_default()),
            Err(ApiError::Validation(m)) if m.starts_with(model::ALREADY_EXISTS) => {
                Err(PortError::Conflict { message: m })
            }
            Err(e) => Err(port_error(e)),
        }
    }

    async fn describe_model(&self, name: &str) -> Result<Option<(String, String)>, PortError> {
        self.inner
            .check_throttle("describeModel")
            .map_err(port_error)?;
        Ok(self.inner.model(name).map(|m| {
            (
                opt_string(&m, "/PrimaryContainer/ModelDataUrl").unwrap_or_default(),
                opt_string(&m, "/ModelArn").unwrap_or_default(),
            )
        }))
    }
}

/// The request field naming a processing job's image (the only place the built-in
/// preprocessing image may appear).
pub(crate) const PROCESSING_IMAGE_FIELD: &str = "AppSpecification.ImageUri";

/// Resolves the program for an image, or a `ValidationException` naming `field`.
pub(crate) fn resolve_program(
    inner: &Inner,
    image: &str,
    field: &str,
) -> Result<(PathBuf, Vec<String>), String> {
    match inner.config.images.resolve(image) {
        Some(Program::BuiltinTrainer) => config::find_builtin_trainer()
            .map(|p| (p, Vec::new()))
            .map_err(|e| format!("'{field}' {image:?}: {e}")),
        Some(Program::BuiltinPreprocess) if field != PROCESSING_IMAGE_FIELD => Err(format!(
            "'{field}' {image:?} is the built-in preprocessing image, which runs processing jobs only"
        )),
        Some(Program::BuiltinPreprocess) => config::find_builtin_trainer()
            .map(|p| (p, vec!["preprocess".to_string()]))
            .map_err(|e| format!("'{field}' {image:?}: {e}")),
        Some(Program::Command { program, args }) => Ok((program.clone(), args.clone())),
        None => Err(format!(
            "'{field}' {image:?} is not in the emulator's image map; add a pattern for it (image map entries: {})",
            inner
                .config
                .images
                .entries
                .iter()
                .map(|e| e.pattern.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Maps `/opt/ml/...` paths in arguments to the job directory.
pub(crate) fn map_opt_ml(arg: &str, job_dir: &Path) -> String {
    match arg.strip_prefix("/opt/ml") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            format!("{}{}", job_dir.display(), rest)
        }
        _ => arg.to_string(),
    }
}
