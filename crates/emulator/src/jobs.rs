//! The job kernel every job module shares: the kinds of jobs, a job's cell (Describe* document,
//! log, completion and stop signals), the emulator's state ([`Inner`]), the task that runs a
//! job, and the resolution of an image to its program. Below the job modules (training,
//! tuning, transform, processing, model) and the emulator's API, which use it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use mdlc_core::PortError;
use mdlc_trainer::fsio::Written;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::config::{self, EmulatorConfig, Fault, Program};
use crate::error::ApiError;

/// The `FailureReason` SageMaker gives a job that failed on its side (an instance lost, for
/// one), as its users report it; the emulator gives it to a job whose process ended (a crash,
/// `kill -9`) before the job did.
pub const INTERNAL_FAILURE_REASON: &str =
    "InternalServerError: We encountered an internal error. Please try again.";

/// A job's Describe* document, read from disk, of a job whose emulator process is gone while
/// the job was running: `Failed` as SageMaker fails a job whose instance was lost.
fn fail_lost(kind: JobKind, doc: &mut Value) {
    let Value::Object(m) = doc else { return };
    m.insert(kind.status_field().into(), json!("Failed"));
    m.insert("FailureReason".into(), json!(INTERNAL_FAILURE_REASON));
    if kind == JobKind::Training {
        m.insert("SecondaryStatus".into(), json!("Failed"));
    }
}

/// A job's Describe* document as another process left it (`read` reads it) and whether the job
/// was lost: running (`InProgress`, `Stopping`) while its owner process is gone, it is
/// [`fail_lost`]. The owner writes a job's end before it exits, so the document is read again
/// once the owner is seen gone: a job that ended between the first read and the owner's check
/// reads as it ended, not as lost.
fn read_from_disk(
    kind: JobKind,
    mut read: impl FnMut() -> Result<Value, ApiError>,
    owner_running: impl FnOnce() -> bool,
) -> Result<(Value, bool), ApiError> {
    let running = |doc: &Value| {
        matches!(
            doc.get(kind.status_field()).and_then(Value::as_str),
            Some("InProgress" | "Stopping")
        )
    };
    let doc = read()?;
    if !running(&doc) || owner_running() {
        return Ok((doc, false));
    }
    let mut doc = read()?;
    if !running(&doc) {
        return Ok((doc, false));
    }
    fail_lost(kind, &mut doc);
    Ok((doc, true))
}

/// Releases an ended job's scratch space; a failure is logged, naming the job and the path
/// (the job's outcome stands: its outputs are already in the store).
fn release_scratch(job: &str, dir: &Path) {
    if let Err(e) = crate::scratch::release(dir) {
        tracing::warn!(target: "mdlc_emulator", job = %job, "{e}");
    }
}

/// The process running a job (`<job dir>/.owner.json`): while it runs, another process reading
/// the job's document from disk sees the job as it is; once it is gone, the job is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobOwner {
    pid: u32,
    /// `/proc/<pid>/stat` field 22 (0 where unknown).
    start_time: u64,
}

impl JobOwner {
    const FILE: &'static str = ".owner.json";

    fn this_process() -> JobOwner {
        JobOwner {
            pid: std::process::id(),
            start_time: mdlc_proc::stat::own_start_time(),
        }
    }

    fn running(&self) -> bool {
        self.start_time != 0 && mdlc_proc::stat::is_running(self.pid, self.start_time)
    }

    fn write(&self, job_dir: &Path) -> Result<(), ApiError> {
        let path = job_dir.join(Self::FILE);
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        mdlc_trainer::fsio::write_atomically(&path, &bytes)
            .map_err(|e| ApiError::internal(format!("could not write {}: {e}", path.display())))
    }

    fn read(job_dir: &Path) -> Option<JobOwner> {
        let bytes = std::fs::read(job_dir.join(Self::FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// The kinds of long-running jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobKind {
    Training,
    Tuning,
    Transform,
    Processing,
}

impl JobKind {
    /// The directory of this kind's jobs under the work directory (`training-jobs`, ...).
    pub fn dir_name(self) -> &'static str {
        match self {
            JobKind::Training => "training-jobs",
            JobKind::Tuning => "tuning-jobs",
            JobKind::Transform => "transform-jobs",
            JobKind::Processing => "processing-jobs",
        }
    }

    pub(crate) fn arn_type(self) -> &'static str {
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

    pub(crate) fn label(self) -> &'static str {
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

    pub(crate) fn persist(&self, doc: &Value) {
        let path = self.dir.join("describe.json");
        let text = serde_json::to_vec_pretty(doc).unwrap_or_default();
        // A failed write (a full disk) leaves the previous describe.json whole; the job goes on
        // (its Describe* is answered from memory) and the failure is logged, naming the job.
        if let Err(e) = mdlc_trainer::fsio::write_atomically(&path, &text) {
            let e = Written::new(format!("the Describe* document of job {}", self.name), e);
            tracing::warn!(target: "mdlc_emulator", job = %self.name, "{e}");
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
        let path = self.dir.join("algo-1.log");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path);
        if let Ok(mut f) = file {
            let end = f.metadata().map(|m| m.len()).ok();
            if let Err(e) = f.write_all(format!("{message}\n").as_bytes()) {
                // a full disk: cut the half line (the line stays in memory)
                if let Some(end) = end {
                    let _ = f.set_len(end);
                }
                tracing::warn!(target: "mdlc_emulator", job = %self.name, "could not append to the job log {}: {e}", path.display());
            }
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

    /// Marks the job finished (after its final Describe* update and its uploads): its scratch
    /// space goes first, as an instance's storage does (see [`crate::scratch`]).
    pub fn finish(&self) {
        release_scratch(&self.name, &self.dir);
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
    /// The state of an emulator with `config` and no job yet.
    pub(crate) fn new(config: EmulatorConfig) -> Self {
        Inner {
            config,
            state: Mutex::new(State::default()),
            throttle_counts: Mutex::new(HashMap::new()),
        }
    }

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

    pub(crate) fn job_dir(&self, kind: JobKind, name: &str) -> PathBuf {
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
        JobOwner::this_process().write(&cell.dir)?;
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
        let dir = self.job_dir(kind, name);
        let path = dir.join("describe.json");
        let read = || -> Result<Value, ApiError> {
            let text = std::fs::read(&path).map_err(|_| self.not_found(kind, name))?;
            serde_json::from_slice(&text)
                .map_err(|e| ApiError::internal(format!("corrupt {}: {e}", path.display())))
        };
        let owner_running = || JobOwner::read(&dir).is_some_and(|o| o.running());
        let (doc, lost) = read_from_disk(kind, read, owner_running)?;
        if lost {
            // a lost job has ended too: nothing will use its scratch space again
            release_scratch(name, &dir);
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
            .map_err(|e| ApiError::internal(format!("could not create {}: {e}", dir.display())))?;
        let bytes = serde_json::to_vec_pretty(&describe).unwrap_or_default();
        mdlc_trainer::fsio::write_atomically(&path, &bytes).map_err(|e| {
            ApiError::internal(Written::new(format!("model {name}"), e).to_string())
        })?;
        state.models.insert(name.to_string(), describe);
        Ok(true)
    }

    pub(crate) fn check_throttle(&self, action: &str) -> Result<(), ApiError> {
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

pub(crate) fn capitalize(s: &str) -> String {
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
pub(crate) struct StopOnDrop(pub(crate) Option<Arc<JobCell>>);

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

pub(crate) fn opt_string(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

pub(crate) fn port_error(e: ApiError) -> PortError {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A job that ends between the read of its document and the check of its owner (the owner
    /// persisted `Completed` and exited) reads as it ended; one still running once its owner is
    /// seen gone is lost; one whose owner runs is as written.
    #[test]
    fn a_job_that_ends_while_it_is_read_from_disk_is_not_taken_for_lost() {
        let doc = |status: &str| json!({"TrainingJobStatus": status});
        let reads = |docs: Vec<Value>| {
            let mut docs = docs.into_iter();
            move || Ok(docs.next().expect("read once more than expected"))
        };
        let (d, lost) = read_from_disk(
            JobKind::Training,
            reads(vec![doc("InProgress"), doc("Completed")]),
            || false,
        )
        .unwrap();
        assert_eq!((d, lost), (doc("Completed"), false));
        let (d, lost) = read_from_disk(
            JobKind::Training,
            reads(vec![doc("InProgress"), doc("InProgress")]),
            || false,
        )
        .unwrap();
        assert!(lost);
        assert_eq!(d["TrainingJobStatus"], "Failed");
        assert_eq!(d["FailureReason"], INTERNAL_FAILURE_REASON);
        let (d, lost) =
            read_from_disk(JobKind::Training, reads(vec![doc("Stopping")]), || true).unwrap();
        assert_eq!((d, lost), (doc("Stopping"), false));
    }
}
