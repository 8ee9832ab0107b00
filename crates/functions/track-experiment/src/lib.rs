//! The `track-experiment` Lambda: logs what a flow did to MLflow (a plain tracking server by
//! URI, or a SageMaker managed one by ARN).
//!
//! | `kind` | logs |
//! | --- | --- |
//! | `tuning` | a parent run named after the tuning job (its configuration as params) and a child run per training job (hyperparameters, final metrics, per-iteration metrics from its log, status) |
//! | `training` | the same for a single training job (a parent and one child) |
//! | `registration` | the MLflow model version of the registry version, linked to the training job's run and tagged `mdlc.registryVersion` |
//! | `evaluation` | a run with the evaluation's metrics, drift (`psi/<feature>`) and decision |
//!
//! Event: `{"kind", "modelName", "trackingUri"?, "experimentName"? (default: the model name),
//! "executionArn"?, "tuningJobName"?,
//! "trainingJobName"?, "tuningConfig"?, "registryVersion"?, "modelDataUrl"?, "evaluation"?}`.
//! Without a tracking URI (event, else `MDLC_TRACKING_URI`, else `MLFLOW_TRACKING_URI`) it
//! does nothing and reports `disabled`.
//!
//! Output: `{"tracking": {"status": "logged"|"failed"|"disabled", "kind", "error": null |
//! {"name", "message"}, "experimentId", "parentRunId", "bestRunId", "runId", "runUrl",
//! "childRuns", "modelVersion"}}` (absent values are `null`).
//!
//! Failures: a bad event is `InvalidInput` naming every bad field; SageMaker / CloudWatch Logs
//! throttling or outages are `DependencyUnavailable` (the state machine retries). Everything
//! else — above all any failure of the tracking server — is reported with `status: "failed"`
//! and never fails the flow.

use std::collections::BTreeMap;
use std::sync::Arc;

use mdlc_core::history::{TrainingHistory, TuningJobSummary, flatten_tuning_config};
use mdlc_core::{FnError, HandlerFailure, PortError, Problem};
use mdlc_tracking::client::filter_quote;
use mdlc_tracking::experiment::TAG_TRAINING_JOB;
use mdlc_tracking::{
    EvaluationLog, MlflowClient, TrackingError, TrackingTarget, TrainingRecord, TuningRecord,
    log_evaluation, log_tuning, register_model_version,
};
use serde::Serialize;
use serde_json::{Map, Value};

/// Environment variable: the tracking server (URI or SageMaker tracking server ARN) used when
/// the event names none.
pub const ENV_TRACKING_URI: &str = "MDLC_TRACKING_URI";
/// MLflow's own variable, used when [`ENV_TRACKING_URI`] is not set.
pub const ENV_MLFLOW_TRACKING_URI: &str = "MLFLOW_TRACKING_URI";

/// What the handler uses.
#[derive(Clone)]
pub struct TrackDeps {
    pub history: Arc<dyn TrainingHistory>,
    /// The tracking server when the event names none.
    pub default_tracking_uri: Option<String>,
}

impl std::fmt::Debug for TrackDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackDeps")
            .field("default_tracking_uri", &self.default_tracking_uri)
            .finish_non_exhaustive()
    }
}

impl TrackDeps {
    pub fn new(history: Arc<dyn TrainingHistory>, default_tracking_uri: Option<String>) -> Self {
        TrackDeps {
            history,
            default_tracking_uri: default_tracking_uri.filter(|u| !u.trim().is_empty()),
        }
    }

    /// The default tracking server from `lookup` ([`ENV_TRACKING_URI`], else
    /// [`ENV_MLFLOW_TRACKING_URI`]).
    pub fn from_lookup(
        history: Arc<dyn TrainingHistory>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let uri = [ENV_TRACKING_URI, ENV_MLFLOW_TRACKING_URI]
            .into_iter()
            .filter_map(|n| lookup(n).map(|v| v.trim().to_string()))
            .find(|v| !v.is_empty());
        TrackDeps::new(history, uri)
    }
}

/// One evaluation to log.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub version: u64,
    pub data_date: String,
    pub metrics: BTreeMap<String, f64>,
    pub drift: BTreeMap<String, f64>,
    pub retrain: bool,
    pub reason: String,
}

/// What to log.
#[derive(Debug, Clone, PartialEq)]
pub enum TrackRequest {
    Tuning {
        tuning_job_name: String,
        /// Params added to (and overriding) the tuning job's own configuration.
        config: BTreeMap<String, String>,
    },
    Training {
        training_job_name: String,
        config: BTreeMap<String, String>,
    },
    Registration {
        training_job_name: String,
        registry_version: u64,
        model_data_url: String,
    },
    Evaluation(Evaluation),
}

impl TrackRequest {
    pub fn kind(&self) -> &'static str {
        match self {
            TrackRequest::Tuning { .. } => "tuning",
            TrackRequest::Training { .. } => "training",
            TrackRequest::Registration { .. } => "registration",
            TrackRequest::Evaluation(_) => "evaluation",
        }
    }
}

/// A validated event.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackEvent {
    pub model_name: String,
    /// The MLflow experiment (the model name unless the event names another).
    pub experiment: String,
    /// `None`: use the default, or do nothing.
    pub tracking_uri: Option<String>,
    pub execution_arn: Option<String>,
    pub request: TrackRequest,
}

/// The reported error of a failed tracking attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackingFailure {
    pub name: String,
    pub message: String,
}

/// `logged`, `failed` or `disabled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackingStatus {
    Logged,
    Failed,
    Disabled,
}

/// The `tracking` block of the output.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tracking {
    pub status: TrackingStatus,
    pub kind: &'static str,
    pub error: Option<TrackingFailure>,
    pub experiment_id: Option<String>,
    pub parent_run_id: Option<String>,
    pub best_run_id: Option<String>,
    /// The evaluation run, or the run a registered version is linked to.
    pub run_id: Option<String>,
    /// The web address of the parent run (tuning/training) or of `runId`.
    pub run_url: Option<String>,
    /// Training job name → child run id.
    pub child_runs: Option<BTreeMap<String, String>>,
    /// The MLflow model version (registration).
    pub model_version: Option<String>,
}

impl Tracking {
    fn empty(kind: &'static str, status: TrackingStatus) -> Self {
        Tracking {
            status,
            kind,
            error: None,
            experiment_id: None,
            parent_run_id: None,
            best_run_id: None,
            run_id: None,
            run_url: None,
            child_runs: None,
            model_version: None,
        }
    }

    fn failed(kind: &'static str, name: &str, message: impl Into<String>) -> Self {
        Tracking {
            error: Some(TrackingFailure {
                name: name.to_string(),
                message: message.into(),
            }),
            ..Tracking::empty(kind, TrackingStatus::Failed)
        }
    }
}

/// The handler's output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackOutput {
    pub tracking: Tracking,
}

// ---------------------------------------------------------------------------------------------
// Event validation: every problem is collected, each with its JSON pointer.

struct Fields<'a> {
    obj: Option<&'a Map<String, Value>>,
    problems: Vec<Problem>,
}

impl<'a> Fields<'a> {
    fn new(event: &'a Value) -> Self {
        let mut problems = Vec::new();
        let obj = event.as_object();
        if obj.is_none() {
            problems.push(Problem::new("", "the event must be a JSON object"));
        }
        Fields { obj, problems }
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.obj?.get(name).filter(|v| !v.is_null())
    }

    fn bad(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::new(pointer, message));
    }

    fn opt_str(&mut self, name: &str) -> Option<String> {
        match self.get(name) {
            None => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(_) => {
                self.bad(format!("/{name}"), "must be a string");
                None
            }
        }
    }

    fn req_str(&mut self, name: &str, why: &str) -> Option<String> {
        if self.obj.is_some() && self.get(name).is_none() {
            self.bad(format!("/{name}"), format!("is required {why}"));
            return None;
        }
        match self.get(name) {
            Some(Value::String(s)) if s.trim().is_empty() => {
                self.bad(format!("/{name}"), "must not be empty");
                None
            }
            _ => self.opt_str(name),
        }
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `tuningConfig`: a SageMaker `HyperParameterTuningJobConfig` (PascalCase) is flattened; any
/// other object gives one param per scalar (nested objects are flattened with dots).
fn config_params(f: &mut Fields<'_>) -> BTreeMap<String, String> {
    let Some(v) = f.get("tuningConfig") else {
        return BTreeMap::new();
    };
    let Some(obj) = v.as_object() else {
        f.bad("/tuningConfig", "must be an object");
        return BTreeMap::new();
    };
    if obj.contains_key("Strategy") || obj.contains_key("ParameterRanges") {
        return flatten_tuning_config(v);
    }
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, x, out);
                }
            }
            Value::Array(items) => {
                let texts: Vec<String> = items.iter().filter_map(scalar_text).collect();
                if !prefix.is_empty() {
                    out.insert(prefix.to_string(), texts.join(","));
                }
            }
            other => {
                if let (false, Some(t)) = (prefix.is_empty(), scalar_text(other)) {
                    out.insert(prefix.to_string(), t);
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", v, &mut out);
    out
}

fn number_map(f: &mut Fields<'_>, v: Option<&Value>, pointer: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    match v {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, x) in m {
                match x.as_f64() {
                    Some(n) if n.is_finite() => {
                        out.insert(k.clone(), n);
                    }
                    _ => f.bad(
                        format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1")),
                        "must be a finite number",
                    ),
                }
            }
        }
        Some(_) => f.bad(pointer, "must be an object of numbers"),
    }
    out
}

fn object<'a>(f: &mut Fields<'a>, name: &str) -> Option<&'a Map<String, Value>> {
    let v = f.get(name)?;
    if v.as_object().is_none() {
        f.bad(format!("/{name}"), "must be an object");
    }
    v.as_object()
}

fn version_at(f: &mut Fields<'_>, v: Option<&Value>, pointer: &str) -> Option<u64> {
    match v {
        Some(x) => {
            let n = x.as_u64().filter(|n| *n >= 1);
            if n.is_none() {
                f.bad(pointer, "must be an integer ≥ 1");
            }
            n
        }
        None => {
            f.bad(pointer, "is required");
            None
        }
    }
}

fn text_at(f: &mut Fields<'_>, v: Option<&Value>, pointer: &str) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(_) => {
            f.bad(pointer, "must be a non-empty string");
            None
        }
        None => {
            f.bad(pointer, "is required");
            None
        }
    }
}

fn flag_at(f: &mut Fields<'_>, v: Option<&Value>, pointer: &str) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        None | Some(Value::Null) => false,
        Some(_) => {
            f.bad(pointer, "must be a boolean");
            false
        }
    }
}

fn reason_at(f: &mut Fields<'_>, v: Option<&Value>, pointer: &str) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(_) => {
            f.bad(pointer, "must be a string");
            String::new()
        }
    }
}

/// Drift per feature: monitor-performance's drift report (`{"features": [{"feature", "psi",
/// ...}], ...}`), or an object of feature → a number or an object with a numeric `psi`.
fn drift_at(f: &mut Fields<'_>, v: Option<&Value>, pointer: &str) -> BTreeMap<String, f64> {
    if let Some(features) = v.and_then(|d| d.get("features")).and_then(Value::as_array) {
        let mut out = BTreeMap::new();
        for (i, item) in features.iter().enumerate() {
            let name = item.get("feature").and_then(Value::as_str);
            let psi = item
                .get("psi")
                .and_then(Value::as_f64)
                .filter(|x| x.is_finite());
            match (name, psi) {
                (Some(name), Some(psi)) if !name.is_empty() => {
                    out.insert(name.to_string(), psi);
                }
                _ => f.bad(
                    format!("{pointer}/features/{i}"),
                    "must have a non-empty \"feature\" and a finite \"psi\"",
                ),
            }
        }
        return out;
    }
    let flat = match v {
        Some(Value::Object(m)) => Value::Object(
            m.iter()
                .map(|(k, x)| match x.get("psi") {
                    Some(psi) => (k.clone(), psi.clone()),
                    None => (k.clone(), x.clone()),
                })
                .collect(),
        ),
        other => other.cloned().unwrap_or(Value::Null),
    };
    number_map(f, Some(&flat), pointer)
}

/// The evaluation: either `evaluation` ({version, dataDate, metrics, drift?, retrain?,
/// reason?}), or the flow's own outputs: `monitor` (monitor-performance: version,
/// evaluatedAt, metrics, drift?) with `decision` (is-retraining-needed: retrain, reason).
fn parse_evaluation(f: &mut Fields<'_>) -> Option<Evaluation> {
    if let Some(e) = object(f, "evaluation") {
        let version = version_at(f, e.get("version"), "/evaluation/version");
        let data_date = text_at(f, e.get("dataDate"), "/evaluation/dataDate");
        if e.get("metrics").is_none() {
            f.bad("/evaluation/metrics", "is required");
        }
        let metrics = number_map(f, e.get("metrics"), "/evaluation/metrics");
        let drift = drift_at(f, e.get("drift"), "/evaluation/drift");
        let retrain = flag_at(f, e.get("retrain"), "/evaluation/retrain");
        let reason = reason_at(f, e.get("reason"), "/evaluation/reason");
        return Some(Evaluation {
            version: version?,
            data_date: data_date?,
            metrics,
            drift,
            retrain,
            reason,
        });
    }
    if f.get("evaluation").is_some() {
        return None;
    }
    let Some(m) = object(f, "monitor") else {
        if f.get("monitor").is_none() {
            f.bad(
                "/evaluation",
                "is required for kind \"evaluation\" (or /monitor with /decision)",
            );
        }
        return None;
    };
    let version = version_at(f, m.get("version"), "/monitor/version");
    let data_date = text_at(f, m.get("evaluatedAt"), "/monitor/evaluatedAt");
    if m.get("metrics").is_none() {
        f.bad("/monitor/metrics", "is required");
    }
    let metrics = number_map(f, m.get("metrics"), "/monitor/metrics");
    let drift = drift_at(f, m.get("drift"), "/monitor/drift");
    let (retrain, reason) = match object(f, "decision") {
        Some(d) => (
            flag_at(f, d.get("retrain"), "/decision/retrain"),
            reason_at(f, d.get("reason"), "/decision/reason"),
        ),
        None => (false, String::new()),
    };
    Some(Evaluation {
        version: version?,
        data_date: data_date?,
        metrics,
        drift,
        retrain,
        reason,
    })
}

/// Validates an event, naming every bad field.
pub fn parse_event(event: &Value) -> Result<TrackEvent, FnError> {
    let mut f = Fields::new(event);
    let model_name = f.req_str("modelName", "(the MLflow experiment and registered model)");
    let tracking_uri = f.opt_str("trackingUri");
    let experiment = f.opt_str("experimentName");
    if let Some(uri) = &tracking_uri
        && let Err(e) = TrackingTarget::parse(uri)
    {
        f.bad("/trackingUri", e.to_string());
    }
    let execution_arn = f.opt_str("executionArn");
    let kind = f.req_str("kind", "(tuning, training, registration or evaluation)");
    let request = match kind.as_deref() {
        Some("tuning") => {
            let name = f.req_str("tuningJobName", "for kind \"tuning\"");
            let config = config_params(&mut f);
            name.map(|tuning_job_name| TrackRequest::Tuning {
                tuning_job_name,
                config,
            })
        }
        Some("training") => {
            let name = f.req_str("trainingJobName", "for kind \"training\"");
            let config = config_params(&mut f);
            name.map(|training_job_name| TrackRequest::Training {
                training_job_name,
                config,
            })
        }
        Some("registration") => {
            let name = f.req_str("trainingJobName", "for kind \"registration\"");
            let url = f.req_str("modelDataUrl", "for kind \"registration\"");
            let version = match f.get("registryVersion") {
                Some(v) => match v.as_u64().filter(|n| *n >= 1) {
                    Some(n) => Some(n),
                    None => {
                        f.bad("/registryVersion", "must be an integer ≥ 1");
                        None
                    }
                },
                None => {
                    f.bad("/registryVersion", "is required for kind \"registration\"");
                    None
                }
            };
            match (name, url, version) {
                (Some(training_job_name), Some(model_data_url), Some(registry_version)) => {
                    Some(TrackRequest::Registration {
                        training_job_name,
                        registry_version,
                        model_data_url,
                    })
                }
                _ => None,
            }
        }
        Some("evaluation") => {
            if execution_arn.is_none() {
                f.bad(
                    "/executionArn",
                    "is required for kind \"evaluation\" (it makes the run idempotent)",
                );
            }
            parse_evaluation(&mut f).map(TrackRequest::Evaluation)
        }
        Some(other) => {
            f.bad(
                "/kind",
                format!("{other:?} is not one of tuning, training, registration, evaluation"),
            );
            None
        }
        None => None,
    };
    match (model_name, request) {
        (Some(model_name), Some(request)) if f.problems.is_empty() => Ok(TrackEvent {
            experiment: experiment.unwrap_or_else(|| model_name.clone()),
            model_name,
            tracking_uri,
            execution_arn,
            request,
        }),
        _ => Err(FnError::InvalidInput {
            problems: f.problems,
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Handling.

/// A SageMaker-side failure: transient ones fail the call (the state machine retries), others
/// are reported.
enum Step {
    Retry(FnError),
    Report(Tracking),
}

fn history_error(kind: &'static str, context: &str, e: PortError) -> Step {
    if e.is_retryable() {
        Step::Retry(FnError::from_port(context, e))
    } else {
        let name = match &e {
            PortError::NotFound { .. } => "JobNotFound",
            _ => FnError::from_port(context, e.clone()).name().as_str(),
        };
        Step::Report(Tracking::failed(kind, name, format!("{context}: {e}")))
    }
}

fn tracking_failed(kind: &'static str, e: &TrackingError) -> Tracking {
    tracing::warn!(kind, error = e.name(), "tracking failed: {e}");
    Tracking::failed(kind, e.name(), e.to_string())
}

async fn job_log(deps: &TrackDeps, kind: &'static str, job: &str) -> Result<Option<String>, Step> {
    match deps.history.training_log(job).await {
        Ok(log) => Ok(Some(log)),
        // A job without a log (it failed before starting) simply has no metric history.
        Err(PortError::NotFound { .. }) => Ok(None),
        Err(e) => Err(history_error(
            kind,
            &format!("log of training job {job}"),
            e,
        )),
    }
}

async fn gather(
    deps: &TrackDeps,
    event: &TrackEvent,
    kind: &'static str,
    job_name: &str,
    tuning: bool,
    extra: &BTreeMap<String, String>,
) -> Result<TuningRecord, Step> {
    let (summary, jobs) = if tuning {
        let summary = deps
            .history
            .tuning_job(job_name)
            .await
            .map_err(|e| history_error(kind, &format!("tuning job {job_name}"), e))?;
        let jobs = deps
            .history
            .tuning_training_jobs(job_name)
            .await
            .map_err(|e| history_error(kind, &format!("training jobs of {job_name}"), e))?;
        (summary, jobs)
    } else {
        let job = deps
            .history
            .training_job(job_name)
            .await
            .map_err(|e| history_error(kind, &format!("training job {job_name}"), e))?;
        let summary = TuningJobSummary {
            name: job_name.to_string(),
            status: job.status.clone(),
            best_training_job: Some(job_name.to_string()),
            config: BTreeMap::new(),
        };
        (summary, vec![job])
    };
    let mut training_jobs = Vec::with_capacity(jobs.len());
    for job in jobs {
        let log = job_log(deps, kind, &job.name).await?;
        training_jobs.push(TrainingRecord::new(job, log.as_deref()));
    }
    let mut tuning = summary;
    tuning.name = job_name.to_string();
    tuning
        .config
        .extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(TuningRecord {
        model_name: event.experiment.clone(),
        tuning,
        training_jobs,
        execution_arn: event.execution_arn.clone(),
    })
}

async fn track_jobs(
    client: &MlflowClient,
    deps: &TrackDeps,
    event: &TrackEvent,
    job_name: &str,
    tuning: bool,
    extra: &BTreeMap<String, String>,
) -> Result<Tracking, FnError> {
    let kind = event.request.kind();
    let record = match gather(deps, event, kind, job_name, tuning, extra).await {
        Ok(r) => r,
        Err(Step::Retry(e)) => return Err(e),
        Err(Step::Report(t)) => return Ok(t),
    };
    Ok(match log_tuning(client, &record).await {
        Ok(runs) => Tracking {
            experiment_id: Some(runs.experiment_id),
            parent_run_id: Some(runs.parent_run_id),
            best_run_id: runs.best_run_id,
            run_url: Some(runs.parent_run_url),
            child_runs: Some(runs.child_runs),
            ..Tracking::empty(kind, TrackingStatus::Logged)
        },
        Err(e) => tracking_failed(kind, &e),
    })
}

async fn track_registration(
    client: &MlflowClient,
    model_name: &str,
    experiment: &str,
    training_job_name: &str,
    registry_version: u64,
    model_data_url: &str,
) -> Result<Tracking, TrackingError> {
    let kind = "registration";
    let experiment_id = client.get_or_create_experiment(experiment).await?;
    let runs = client
        .search_runs(
            std::slice::from_ref(&experiment_id),
            &format!(
                "tags.`{TAG_TRAINING_JOB}` = {}",
                filter_quote(training_job_name)
            ),
        )
        .await?;
    let Some(run) = runs.first() else {
        return Ok(Tracking::failed(
            kind,
            "TrackingRunNotFound",
            format!(
                "no MLflow run of training job {training_job_name:?} in experiment {experiment:?} (was the tuning or training logged?)"
            ),
        ));
    };
    let run_id = run.info.run_id.clone();
    let version = register_model_version(
        client,
        model_name,
        &run_id,
        model_data_url,
        registry_version,
    )
    .await?;
    Ok(Tracking {
        experiment_id: Some(experiment_id.clone()),
        run_url: Some(client.run_url(&experiment_id, &run_id)),
        best_run_id: Some(run_id.clone()),
        run_id: Some(run_id),
        model_version: Some(version),
        ..Tracking::empty(kind, TrackingStatus::Logged)
    })
}

async fn track_evaluation(
    client: &MlflowClient,
    event: &TrackEvent,
    evaluation: &Evaluation,
) -> Result<Tracking, TrackingError> {
    let log = EvaluationLog {
        model_name: event.experiment.clone(),
        version: evaluation.version,
        data_date: evaluation.data_date.clone(),
        execution_arn: event.execution_arn.clone().unwrap_or_default(),
        metrics: evaluation.metrics.clone(),
        drift: evaluation.drift.clone(),
        retrain: evaluation.retrain,
        reason: evaluation.reason.clone(),
    };
    let run_id = log_evaluation(client, &log).await?;
    let experiment_id = client.get_or_create_experiment(&event.experiment).await?;
    Ok(Tracking {
        run_url: Some(client.run_url(&experiment_id, &run_id)),
        experiment_id: Some(experiment_id),
        run_id: Some(run_id),
        ..Tracking::empty("evaluation", TrackingStatus::Logged)
    })
}

/// The typed handler.
pub async fn handle(event: TrackEvent, deps: &TrackDeps) -> Result<TrackOutput, FnError> {
    let kind = event.request.kind();
    let Some(uri) = event
        .tracking_uri
        .clone()
        .or_else(|| deps.default_tracking_uri.clone())
    else {
        return Ok(TrackOutput {
            tracking: Tracking::empty(kind, TrackingStatus::Disabled),
        });
    };
    let client = match MlflowClient::from_uri(&uri) {
        Ok(c) => c,
        Err(e) => {
            return Ok(TrackOutput {
                tracking: tracking_failed(kind, &e),
            });
        }
    };
    let tracking = match &event.request {
        TrackRequest::Tuning {
            tuning_job_name,
            config,
        } => track_jobs(&client, deps, &event, tuning_job_name, true, config).await?,
        TrackRequest::Training {
            training_job_name,
            config,
        } => track_jobs(&client, deps, &event, training_job_name, false, config).await?,
        TrackRequest::Registration {
            training_job_name,
            registry_version,
            model_data_url,
        } => track_registration(
            &client,
            &event.model_name,
            &event.experiment,
            training_job_name,
            *registry_version,
            model_data_url,
        )
        .await
        .unwrap_or_else(|e| tracking_failed(kind, &e)),
        TrackRequest::Evaluation(evaluation) => track_evaluation(&client, &event, evaluation)
            .await
            .unwrap_or_else(|e| tracking_failed(kind, &e)),
    };
    Ok(TrackOutput { tracking })
}

/// The uniform JSON entry point (Lambda bin, local runtime).
pub async fn invoke(event: Value, deps: &TrackDeps) -> Result<Value, HandlerFailure> {
    let event = parse_event(&event)?;
    let output = handle(event, deps).await?;
    serde_json::to_value(&output).map_err(|e| {
        HandlerFailure::from(FnError::CorruptData {
            message: format!("could not encode the output: {e}"),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mdlc_core::history::{InMemoryTrainingHistory, TrainingJobSummary};
    use serde_json::json;

    /// A loopback port nothing listens on: connections are refused at once.
    fn dead_server() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        format!("http://127.0.0.1:{port}")
    }

    fn history() -> Arc<InMemoryTrainingHistory> {
        let h = Arc::new(InMemoryTrainingHistory::new());
        h.insert_tuning_job(TuningJobSummary {
            name: "t1".into(),
            status: "Completed".into(),
            best_training_job: Some("t1-001".into()),
            config: BTreeMap::from([("strategy".into(), "Random".into())]),
        });
        h.insert_training_job(
            Some("t1"),
            TrainingJobSummary {
                name: "t1-001".into(),
                status: "Completed".into(),
                ..Default::default()
            },
        );
        h
    }

    #[tokio::test]
    async fn given_no_tracking_uri_anywhere_when_invoked_then_disabled_without_any_call() {
        let h = history();
        let deps = TrackDeps::new(h.clone(), None);
        let out = invoke(
            json!({"kind": "tuning", "modelName": "m", "tuningJobName": "t1", "trackingUri": null}),
            &deps,
        )
        .await
        .expect("disabled is not an error");
        assert_eq!(out["tracking"]["status"], "disabled");
        assert_eq!(out["tracking"]["kind"], "tuning");
        assert_eq!(out["tracking"]["error"], Value::Null);
        assert_eq!(h.calls(), 0);
    }

    #[tokio::test]
    async fn given_a_bad_event_when_invoked_then_invalid_input_names_every_field() {
        let deps = TrackDeps::new(history(), None);
        let err = invoke(
            json!({"kind": "registration", "modelName": 3, "trackingUri": "ftp://x", "registryVersion": 0}),
            &deps,
        )
        .await
        .expect_err("bad event");
        assert_eq!(err.error_type, "InvalidInput");
        for pointer in [
            "/modelName",
            "/trackingUri",
            "/trainingJobName",
            "/modelDataUrl",
            "/registryVersion",
        ] {
            assert!(err.message.contains(pointer), "{pointer}: {}", err.message);
        }
        let err = invoke(json!({"kind": "nope"}), &deps)
            .await
            .expect_err("bad");
        err.assert_mentions("/kind");
        err.assert_mentions("/modelName: is required");
        let err = invoke(json!([1]), &deps).await.expect_err("not an object");
        err.assert_mentions("(root)");
        let err = invoke(
            json!({"kind": "evaluation", "modelName": "m", "evaluation": {"version": "1", "metrics": {"rmse": "x"}, "retrain": 1}}),
            &deps,
        )
        .await
        .expect_err("bad evaluation");
        for pointer in [
            "/executionArn",
            "/evaluation/version",
            "/evaluation/dataDate",
            "/evaluation/metrics/rmse",
            "/evaluation/retrain",
        ] {
            assert!(err.message.contains(pointer), "{pointer}: {}", err.message);
        }
    }

    #[tokio::test]
    async fn given_the_tracking_server_down_when_tracking_then_reported_as_failed_not_an_error() {
        let deps = TrackDeps::new(history(), Some(dead_server()));
        for event in [
            json!({"kind": "tuning", "modelName": "m", "tuningJobName": "t1"}),
            json!({"kind": "training", "modelName": "m", "trainingJobName": "t1-001"}),
            json!({"kind": "registration", "modelName": "m", "trainingJobName": "t1-001", "registryVersion": 2, "modelDataUrl": "s3://b/m.tar.gz"}),
            json!({"kind": "evaluation", "modelName": "m", "executionArn": "arn:x", "evaluation": {"version": 1, "dataDate": "2024-01-01", "metrics": {"rmse": 0.5}}}),
        ] {
            let out = invoke(event.clone(), &deps).await.expect("never fails");
            assert_eq!(out["tracking"]["status"], "failed", "{event}: {out}");
            assert_eq!(
                out["tracking"]["error"]["name"], "TrackingUnavailable",
                "{out}"
            );
            assert!(
                out["tracking"]["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("unreachable")),
                "{out}"
            );
        }
    }

    #[tokio::test]
    async fn given_sagemaker_throttling_when_tracking_then_retryable_error() {
        let h = history();
        h.fail_next(PortError::unavailable("Rate exceeded"));
        let deps = TrackDeps::new(h, Some(dead_server()));
        let err = invoke(
            json!({"kind": "tuning", "modelName": "m", "tuningJobName": "t1"}),
            &deps,
        )
        .await
        .expect_err("retryable");
        assert_eq!(err.error_type, "DependencyUnavailable");
    }

    #[tokio::test]
    async fn given_an_unknown_job_when_tracking_then_reported_as_failed() {
        let deps = TrackDeps::new(history(), Some(dead_server()));
        let out = invoke(
            json!({"kind": "tuning", "modelName": "m", "tuningJobName": "missing"}),
            &deps,
        )
        .await
        .expect("reported");
        assert_eq!(out["tracking"]["status"], "failed");
        assert_eq!(out["tracking"]["error"]["name"], "JobNotFound");
    }

    #[tokio::test]
    async fn given_an_arn_without_credentials_when_tracking_then_reported_as_failed() {
        // Without AWS credentials the client cannot be built; with credentials in the
        // environment the call itself fails (no such server). Either way: reported, not raised.
        let deps = TrackDeps::new(history(), None);
        let out = invoke(
            json!({"kind": "evaluation", "modelName": "m", "executionArn": "arn:x",
                   "trackingUri": "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/none",
                   "evaluation": {"version": 1, "dataDate": "2024-01-01", "metrics": {}}}),
            &deps,
        )
        .await
        .expect("reported");
        assert_eq!(out["tracking"]["status"], "failed", "{out}");
    }

    #[test]
    fn given_the_flow_outputs_when_parsed_then_an_evaluation() {
        let e = parse_event(&json!({
            "kind": "evaluation", "modelName": "m", "executionArn": "arn:x",
            "monitor": {"modelName": "m", "version": 4, "evaluatedAt": "2024-05-01T00:00:00Z",
                        "metrics": {"rmse": 0.5}, "rows": 10, "files": [],
                        "drift": {"age": {"psi": 0.2, "bins": 10}, "income": 0.05}},
            "decision": {"retrain": true, "reason": "rmse above 0.4", "executionName": "x"}
        }))
        .expect("valid");
        assert_eq!(
            e.request,
            TrackRequest::Evaluation(Evaluation {
                version: 4,
                data_date: "2024-05-01T00:00:00Z".into(),
                metrics: BTreeMap::from([("rmse".into(), 0.5)]),
                drift: BTreeMap::from([("age".into(), 0.2), ("income".into(), 0.05)]),
                retrain: true,
                reason: "rmse above 0.4".into(),
            })
        );
        let err = parse_event(&json!({
            "kind": "evaluation", "modelName": "m", "executionArn": "arn:x",
            "monitor": {"version": 0, "metrics": {"rmse": "high"}, "drift": {"age": {"psi": "x"}}},
            "decision": {"retrain": "yes"}
        }))
        .expect_err("bad");
        let FnError::InvalidInput { problems } = err else {
            panic!("InvalidInput");
        };
        let pointers: Vec<_> = problems.iter().map(|p| p.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/monitor/version",
                "/monitor/evaluatedAt",
                "/monitor/metrics/rmse",
                "/monitor/drift/age",
                "/decision/retrain"
            ]
        );
        let err =
            parse_event(&json!({"kind": "evaluation", "modelName": "m", "executionArn": "a"}))
                .expect_err("missing");
        assert!(
            err.to_string().contains("/evaluation: is required"),
            "{err}"
        );
    }

    #[test]
    fn given_monitor_performances_drift_report_when_parsed_then_psi_per_feature() {
        let e = parse_event(&json!({
            "kind": "evaluation", "modelName": "m", "executionArn": "arn:x",
            "experimentName": "team experiments",
            "monitor": {"version": 2, "evaluatedAt": "2024-05-01T00:00:00Z", "metrics": {"rmse": 0.5},
                        "drift": {"rows": 100, "maxPsi": 0.3, "level": "high", "features": [
                            {"feature": "f1", "psi": 0.3, "level": "high"},
                            {"feature": "f2", "psi": 0.01, "level": "none"}]}},
            "decision": {"retrain": false, "reason": "ok"}
        }))
        .expect("valid");
        assert_eq!(e.experiment, "team experiments");
        let TrackRequest::Evaluation(ev) = e.request else {
            panic!("evaluation");
        };
        assert_eq!(
            ev.drift,
            BTreeMap::from([("f1".into(), 0.3), ("f2".into(), 0.01)])
        );
        let err = parse_event(&json!({
            "kind": "evaluation", "modelName": "m", "executionArn": "arn:x",
            "monitor": {"version": 2, "evaluatedAt": "t", "metrics": {},
                        "drift": {"features": [{"feature": "f1", "psi": "x"}]}}
        }))
        .expect_err("bad psi");
        assert!(
            err.to_string().contains("/monitor/drift/features/0"),
            "{err}"
        );
        let e = parse_event(&json!({"kind": "tuning", "modelName": "m", "tuningJobName": "t"}))
            .expect("valid");
        assert_eq!(e.experiment, "m", "the model name by default");
    }

    #[test]
    fn given_tuning_config_shapes_when_parsed_then_flattened() {
        let e = parse_event(&json!({
            "kind": "training", "modelName": "m", "trainingJobName": "j",
            "tuningConfig": {"objective": "validation:rmse", "limits": {"maxJobs": 4}, "tags": ["a", "b"]}
        }))
        .expect("valid");
        let TrackRequest::Training { config, .. } = e.request else {
            panic!("kind training");
        };
        assert_eq!(config["objective"], "validation:rmse");
        assert_eq!(config["limits.maxJobs"], "4");
        assert_eq!(config["tags"], "a,b");
        let e = parse_event(&json!({
            "kind": "tuning", "modelName": "m", "tuningJobName": "t",
            "tuningConfig": {"Strategy": "Bayesian", "ResourceLimits": {"MaxNumberOfTrainingJobs": 3}}
        }))
        .expect("valid");
        let TrackRequest::Tuning { config, .. } = e.request else {
            panic!("kind tuning");
        };
        assert_eq!(config["strategy"], "Bayesian");
        assert_eq!(config["maxNumberOfTrainingJobs"], "3");
    }

    #[test]
    fn given_env_lookup_when_building_deps_then_mdlc_variable_wins() {
        let h: Arc<dyn TrainingHistory> = history();
        let d = TrackDeps::from_lookup(h.clone(), |n| match n {
            ENV_TRACKING_URI => Some("http://a:5000".into()),
            ENV_MLFLOW_TRACKING_URI => Some("http://b:5000".into()),
            _ => None,
        });
        assert_eq!(d.default_tracking_uri.as_deref(), Some("http://a:5000"));
        let d = TrackDeps::from_lookup(h.clone(), |n| {
            (n == ENV_MLFLOW_TRACKING_URI).then(|| "http://b:5000".to_string())
        });
        assert_eq!(d.default_tracking_uri.as_deref(), Some("http://b:5000"));
        let d = TrackDeps::from_lookup(h, |_| Some("  ".into()));
        assert_eq!(d.default_tracking_uri, None);
    }
}
