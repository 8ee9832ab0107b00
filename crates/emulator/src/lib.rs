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
//!   image's program (see [`config::ImageMap`]) run with `train`. File channels are copied into
//!   `input/data/<channel>/`; Pipe channels are streamed from the object store through one FIFO
//!   per channel and epoch, `input/data/<channel>_<epoch>`, the next made once the previous one
//!   was read and closed (module `pipe`).
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
//! describe jobs of an earlier one. `<job dir>/.owner.json` names the process running the job
//! (pid and start time): while it runs, other readers see the job as it is; once it is gone
//! before the job ended (a crash, `kill -9`), the job reads as `Failed` with
//! [`INTERNAL_FAILURE_REASON`], as SageMaker fails a job whose instance was lost.

pub mod config;
pub mod error;
mod fast_file;
pub mod fields;
pub mod files;
pub mod glob;
pub mod history;
pub mod http;
mod jobs;
mod manifest;
pub mod metrics;
mod model;
mod pipe;
mod port;
mod processing;
pub mod records;
pub mod scratch;
mod shuffle;
mod training;
mod transform;
pub mod tuning;
mod vpc;

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};

pub use config::{ConfigError, EmulatorConfig, Fault, FaultConfig, ImageMap, Program};
pub use error::{ApiError, EmulatorFailure};
pub use jobs::{INTERNAL_FAILURE_REASON, JobKind, LogEvent};
use jobs::{Inner, StopKind, StopOnDrop};

/// The local SageMaker. Cheap to clone; jobs keep running in the background.
#[derive(Clone)]
pub struct SageMakerEmulator {
    inner: Arc<Inner>,
}

impl SageMakerEmulator {
    /// A relative `work_dir` is made absolute (against the current directory) first: job
    /// programs run in directories of their own and get absolute paths. The pid book is swept:
    /// job processes that a crashed emulator left are killed (see [`mdlc_proc::PidBook::open`]).
    pub fn new(mut config: EmulatorConfig) -> Self {
        if let Ok(abs) = std::path::absolute(&config.work_dir) {
            config.work_dir = abs;
        }
        if let Err(e) = mdlc_proc::PidBook::open(config.pids.dir()) {
            // Not fatal here: a job whose process cannot be recorded fails with this error.
            tracing::warn!(target: "mdlc_emulator", "{e}");
        }
        SageMakerEmulator {
            inner: Arc::new(Inner::new(config)),
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
        self.call_reporting(action, sync, request, &|_| {}).await
    }

    /// [`Self::call`], and for a `.sync` job `created` sees the Create* response once the job is
    /// created, before the wait for its end (Step Functions records it as the Task's
    /// `TaskSubmitted` event).
    pub async fn call_reporting(
        &self,
        action: &str,
        sync: bool,
        request: Value,
        created: &(dyn Fn(&Value) + Send + Sync),
    ) -> Result<Value, EmulatorFailure> {
        let (action, sync) = match action.strip_suffix(".sync") {
            Some(a) => (a, true),
            None => (action, sync),
        };
        self.call_inner(action, sync, request, created).await.map_err(|e| {
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
        on_created: &(dyn Fn(&Value) + Send + Sync),
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
        on_created(&response);
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
