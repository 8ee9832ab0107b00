//! The experiment layout: one MLflow experiment per model; a parent run per tuning job with a
//! child run per training job (`mlflow.parentRunId`); the registered model version linked to the
//! best child run; a run per evaluation. Every call is idempotent, so a retried Lambda never
//! duplicates runs: runs are found again by their `mdlc.*` tags.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use mdlc_core::history::{TrainingJobSummary, TuningJobSummary};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::client::{KeyValue, Metric, MlflowClient, RunStatus, TrackingError, filter_quote};

/// One point of a metric's history, read from a training log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    pub key: String,
    pub step: i64,
    pub value: f64,
}

/// A training job as tracking logs it: what SageMaker reports of it (mdlc-core's
/// [`TrainingJobSummary`], the `TrainingHistory` port's type) and its per-iteration metrics.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainingRecord {
    #[serde(flatten)]
    pub job: TrainingJobSummary,
    /// Per-iteration metrics (see [`parse_xgboost_log`]).
    #[serde(default)]
    pub metric_history: Vec<MetricPoint>,
}

impl TrainingRecord {
    /// The job with the per-iteration metrics of its log (none for a job without a log).
    pub fn new(job: TrainingJobSummary, log: Option<&str>) -> Self {
        TrainingRecord {
            job,
            metric_history: log.map(parse_xgboost_log).unwrap_or_default(),
        }
    }

    fn start_time_ms(&self) -> Option<i64> {
        self.job.start_time.map(|t| t.timestamp_millis())
    }

    fn end_time_ms(&self) -> Option<i64> {
        self.job.end_time.map(|t| t.timestamp_millis())
    }
}

/// A tuning job (or a single training job when tuning is off) and its training jobs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TuningRecord {
    /// The experiment: the model name.
    pub model_name: String,
    /// The tuning job: its name (the parent run's), best training job and configuration as
    /// flat params (strategy, objective, max jobs, ranges...).
    pub tuning: TuningJobSummary,
    #[serde(default)]
    pub training_jobs: Vec<TrainingRecord>,
    #[serde(default)]
    pub execution_arn: Option<String>,
}

/// What was logged for a tuning job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TuningRuns {
    pub experiment_id: String,
    pub parent_run_id: String,
    pub parent_run_url: String,
    /// Training job name → child run id.
    pub child_runs: BTreeMap<String, String>,
    pub best_run_id: Option<String>,
}

pub const TAG_TUNING_JOB: &str = "mdlc.tuningJob";
pub const TAG_TRAINING_JOB: &str = "mdlc.trainingJob";
pub const TAG_KIND: &str = "mdlc.kind";
pub const TAG_PARENT: &str = "mlflow.parentRunId";
pub const TAG_REGISTRY_VERSION: &str = "mdlc.registryVersion";

/// MLflow metric keys allow letters, digits, `_ - . / space`: SageMaker's `validation:rmse`
/// becomes `validation-rmse`, the key XGBoost's log uses for the same value.
pub fn metric_key(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-./ ".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Per-round metrics from an XGBoost-format log:
/// `[3]#011train-rmse:0.12#011validation-rmse:0.23` (`#011` is a tab as CloudWatch shows it).
pub fn parse_xgboost_log(log: &str) -> Vec<MetricPoint> {
    static LINE: OnceLock<Option<Regex>> = OnceLock::new();
    static PAIR: OnceLock<Option<Regex>> = OnceLock::new();
    let (Some(line_re), Some(pair_re)) = (
        LINE.get_or_init(|| Regex::new(r"^\s*\[(\d+)\](.*)$").ok()),
        PAIR.get_or_init(|| {
            Regex::new(r"([A-Za-z0-9_]+-[A-Za-z0-9_@.]+):(-?[0-9.]+(?:[eE][-+]?\d+)?)").ok()
        }),
    ) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in log.lines() {
        let line = line.replace("#011", "\t");
        let Some(caps) = line_re.captures(&line) else {
            continue;
        };
        let Ok(step) = caps[1].parse::<i64>() else {
            continue;
        };
        for pair in pair_re.captures_iter(&caps[2]) {
            if let Ok(value) = pair[2].parse::<f64>() {
                out.push(MetricPoint {
                    key: metric_key(&pair[1]),
                    step,
                    value,
                });
            }
        }
    }
    out
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// MLflow caps a param value (6000 characters since 2.x; 500 before). Keep the head.
fn param_value(v: &str) -> String {
    v.chars().take(500).collect()
}

/// Logs a tuning job: the parent run with the tuning configuration, a child run per training job
/// with its hyperparameters, final metrics, per-iteration metrics and status. Runs found by
/// their tags (an earlier call's) are kept as they are.
pub async fn log_tuning(
    client: &MlflowClient,
    record: &TuningRecord,
) -> Result<TuningRuns, TrackingError> {
    let experiment_id = client.get_or_create_experiment(&record.model_name).await?;
    let exp = vec![experiment_id.clone()];
    let existing = client
        .search_runs(
            &exp,
            &format!(
                "tags.`{TAG_TUNING_JOB}` = {}",
                filter_quote(&record.tuning.name)
            ),
        )
        .await?;
    let parent = existing.iter().find(|r| r.tag(TAG_KIND) == Some("tuning"));
    let parent_run_id = match parent {
        Some(run) => run.info.run_id.clone(),
        None => create_parent_run(client, &experiment_id, record).await?,
    };
    let mut child_runs = BTreeMap::new();
    for training in &record.training_jobs {
        let job = &training.job;
        let found = existing
            .iter()
            .find(|r| r.tag(TAG_TRAINING_JOB) == Some(job.name.as_str()));
        let run_id = match found {
            Some(run) => run.info.run_id.clone(),
            None => {
                create_child_run(client, &experiment_id, record, training, &parent_run_id).await?
            }
        };
        child_runs.insert(job.name.clone(), run_id);
    }
    if parent.is_none() {
        end_parent_run(client, record, &parent_run_id).await?;
    }
    let best_run_id = record
        .tuning
        .best_training_job
        .as_ref()
        .and_then(|b| child_runs.get(b).cloned());
    Ok(TuningRuns {
        parent_run_url: client.run_url(&experiment_id, &parent_run_id),
        experiment_id,
        parent_run_id,
        child_runs,
        best_run_id,
    })
}

/// The tuning job's parent run, started when its first training job started, with the tuning
/// configuration as parameters and the best training job as a tag.
async fn create_parent_run(
    client: &MlflowClient,
    experiment_id: &str,
    record: &TuningRecord,
) -> Result<String, TrackingError> {
    let mut tags = vec![
        KeyValue::new(TAG_TUNING_JOB, &record.tuning.name),
        KeyValue::new(TAG_KIND, "tuning"),
    ];
    if let Some(arn) = &record.execution_arn {
        tags.push(KeyValue::new("mdlc.executionArn", arn));
    }
    let start = record
        .training_jobs
        .iter()
        .filter_map(TrainingRecord::start_time_ms)
        .min()
        .unwrap_or_else(now_ms);
    let run_id = client
        .create_run(experiment_id, &record.tuning.name, start, &tags)
        .await?
        .run_id;
    let params: Vec<KeyValue> = record
        .tuning
        .config
        .iter()
        .map(|(k, v)| KeyValue::new(k, param_value(v)))
        .collect();
    let mut tags = Vec::new();
    if let Some(best) = &record.tuning.best_training_job {
        tags.push(KeyValue::new("mdlc.bestTrainingJob", best));
    }
    client.log_batch(&run_id, &[], &params, &tags).await?;
    Ok(run_id)
}

/// One training job's child run: its hyperparameters, metrics and SageMaker status, ended with
/// the job's status.
async fn create_child_run(
    client: &MlflowClient,
    experiment_id: &str,
    record: &TuningRecord,
    training: &TrainingRecord,
    parent_run_id: &str,
) -> Result<String, TrackingError> {
    let job = &training.job;
    let tags = vec![
        KeyValue::new(TAG_TUNING_JOB, &record.tuning.name),
        KeyValue::new(TAG_TRAINING_JOB, &job.name),
        KeyValue::new(TAG_KIND, "training"),
        KeyValue::new(TAG_PARENT, parent_run_id),
    ];
    let run = client
        .create_run(
            experiment_id,
            &job.name,
            training.start_time_ms().unwrap_or_else(now_ms),
            &tags,
        )
        .await?;
    let end = training.end_time_ms().unwrap_or_else(now_ms);
    let params: Vec<KeyValue> = job
        .hyperparameters
        .iter()
        .map(|(k, v)| KeyValue::new(k, param_value(v)))
        .collect();
    let mut run_tags = vec![KeyValue::new("mdlc.sagemakerStatus", &job.status)];
    if let Some(reason) = &job.failure_reason {
        run_tags.push(KeyValue::new("mdlc.failureReason", param_value(reason)));
    }
    if let Some(model) = &job.model_artifacts {
        run_tags.push(KeyValue::new("mdlc.modelArtifacts", model));
    }
    client
        .log_batch(
            &run.run_id,
            &child_metrics(training, end),
            &params,
            &run_tags,
        )
        .await?;
    client
        .update_run(
            &run.run_id,
            RunStatus::from_sagemaker(&job.status),
            Some(end),
        )
        .await?;
    Ok(run.run_id)
}

/// A training job's metric history, and each final metric that the history lacks at its last
/// step; all stamped with the job's end.
fn child_metrics(training: &TrainingRecord, end: i64) -> Vec<Metric> {
    let mut metrics: Vec<Metric> = training
        .metric_history
        .iter()
        .map(|p| Metric {
            key: p.key.clone(),
            value: p.value,
            timestamp: end,
            step: p.step,
        })
        .collect();
    let last_step = training
        .metric_history
        .iter()
        .map(|p| p.step)
        .max()
        .unwrap_or(0);
    for (name, value) in &training.job.final_metrics {
        let key = metric_key(name);
        if !training.metric_history.iter().any(|p| p.key == key) {
            metrics.push(Metric {
                key,
                value: *value,
                timestamp: end,
                step: last_step,
            });
        }
    }
    metrics
}

/// Ends a new parent run once every training job has ended: failed when all of them failed,
/// else finished, at the last job's end.
async fn end_parent_run(
    client: &MlflowClient,
    record: &TuningRecord,
    parent_run_id: &str,
) -> Result<(), TrackingError> {
    let statuses = || {
        record
            .training_jobs
            .iter()
            .map(|j| RunStatus::from_sagemaker(&j.job.status))
    };
    if statuses().any(|s| s == RunStatus::Running) {
        return Ok(());
    }
    let failed = !record.training_jobs.is_empty() && statuses().all(|s| s == RunStatus::Failed);
    let status = if failed {
        RunStatus::Failed
    } else {
        RunStatus::Finished
    };
    let end = record
        .training_jobs
        .iter()
        .filter_map(TrainingRecord::end_time_ms)
        .max()
        .unwrap_or_else(now_ms);
    client.update_run(parent_run_id, status, Some(end)).await?;
    Ok(())
}

/// Links a registry version to its MLflow run: registered model = model name, a model version
/// whose run is the best child run, tagged with the registry version. Idempotent per run.
pub async fn register_model_version(
    client: &MlflowClient,
    model_name: &str,
    run_id: &str,
    model_data_url: &str,
    registry_version: u64,
) -> Result<String, TrackingError> {
    client.ensure_registered_model(model_name).await?;
    let existing = client
        .search_model_versions(&format!(
            "name={} and run_id={}",
            filter_quote(model_name),
            filter_quote(run_id)
        ))
        .await?;
    let version = match existing.into_iter().next() {
        Some(v) => v.version,
        None => {
            client
                .create_model_version(
                    model_name,
                    model_data_url,
                    run_id,
                    &[KeyValue::new(
                        TAG_REGISTRY_VERSION,
                        registry_version.to_string(),
                    )],
                )
                .await?
                .version
        }
    };
    client
        .set_model_version_tag(
            model_name,
            &version,
            TAG_REGISTRY_VERSION,
            &registry_version.to_string(),
        )
        .await?;
    Ok(version)
}

/// One evaluation, logged as a run of the model's experiment.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluationLog {
    pub model_name: String,
    pub version: u64,
    pub data_date: String,
    pub execution_arn: String,
    pub metrics: BTreeMap<String, f64>,
    /// Population stability index per feature, when a profile was available.
    #[serde(default)]
    pub drift: BTreeMap<String, f64>,
    pub retrain: bool,
    pub reason: String,
}

/// Logs an evaluation (idempotent per execution). Returns the run id.
pub async fn log_evaluation(
    client: &MlflowClient,
    eval: &EvaluationLog,
) -> Result<String, TrackingError> {
    let experiment_id = client.get_or_create_experiment(&eval.model_name).await?;
    let existing = client
        .search_runs(
            std::slice::from_ref(&experiment_id),
            &format!(
                "tags.`mdlc.executionArn` = {} and tags.`{TAG_KIND}` = 'evaluation'",
                filter_quote(&eval.execution_arn)
            ),
        )
        .await?;
    if let Some(run) = existing.first() {
        return Ok(run.info.run_id.clone());
    }
    let now = now_ms();
    let run = client
        .create_run(
            &experiment_id,
            &format!("evaluation-v{}-{}", eval.version, eval.data_date),
            now,
            &[
                KeyValue::new(TAG_KIND, "evaluation"),
                KeyValue::new("mdlc.executionArn", &eval.execution_arn),
                KeyValue::new(TAG_REGISTRY_VERSION, eval.version.to_string()),
            ],
        )
        .await?;
    let mut metrics: Vec<Metric> = eval
        .metrics
        .iter()
        .map(|(k, v)| Metric {
            key: metric_key(k),
            value: *v,
            timestamp: now,
            step: 0,
        })
        .collect();
    metrics.extend(eval.drift.iter().map(|(k, v)| Metric {
        key: metric_key(&format!("psi/{k}")),
        value: *v,
        timestamp: now,
        step: 0,
    }));
    let params = vec![
        KeyValue::new("modelVersion", eval.version.to_string()),
        KeyValue::new("dataDate", &eval.data_date),
        KeyValue::new("retrain", eval.retrain.to_string()),
        KeyValue::new("reason", param_value(&eval.reason)),
    ];
    client
        .log_batch(&run.run_id, &metrics, &params, &[])
        .await?;
    client
        .update_run(&run.run_id, RunStatus::Finished, Some(now_ms()))
        .await?;
    Ok(run.run_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_xgboost_rounds_in_both_separators() {
        let log = "Train matrix has 100 rows\n\
                   [0]#011train-rmse:1.5#011validation-rmse:1.75\n\
                   [1]\ttrain-rmse:1.25\tvalidation-rmse:1.5e0\n\
                   [2]#011train-auc:0.9";
        let pts = parse_xgboost_log(log);
        assert_eq!(pts.len(), 5);
        assert_eq!(
            pts[0],
            MetricPoint {
                key: "train-rmse".into(),
                step: 0,
                value: 1.5
            }
        );
        assert_eq!(pts[3].value, 1.5);
        assert_eq!(pts[4].key, "train-auc");
    }

    #[test]
    fn sanitizes_metric_keys() {
        assert_eq!(metric_key("validation:rmse"), "validation-rmse");
        assert_eq!(metric_key("psi/x_1"), "psi/x_1");
    }
}
