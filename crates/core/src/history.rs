//! Port: what experiment tracking reads back from SageMaker after a tuning or training job —
//! the tuning job's configuration and best job, its training jobs with their hyperparameters,
//! final metrics and times, and a training job's log (for per-iteration metrics).
//!
//! Adapters: `mdlc_aws::history::AwsTrainingHistory` (SageMaker + CloudWatch Logs), the local
//! SageMaker emulator (`mdlc-emulator`) and, for tests, `InMemoryTrainingHistory` (feature
//! `testing`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::PortError;

/// A training job as tracking needs it (DescribeTrainingJob).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainingJobSummary {
    pub name: String,
    /// `InProgress`, `Completed`, `Failed`, `Stopping`, `Stopped`.
    pub status: String,
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub hyperparameters: BTreeMap<String, String>,
    /// `FinalMetricDataList`, metric name (`validation:rmse`) → value.
    #[serde(default)]
    pub final_metrics: BTreeMap<String, f64>,
    #[serde(default)]
    pub start_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub end_time: Option<DateTime<Utc>>,
    /// `ModelArtifacts.S3ModelArtifacts`.
    #[serde(default)]
    pub model_artifacts: Option<String>,
}

/// A hyperparameter tuning job as tracking needs it (DescribeHyperParameterTuningJob).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TuningJobSummary {
    pub name: String,
    /// `InProgress`, `Completed`, `Failed`, `Stopping`, `Stopped`.
    pub status: String,
    /// `BestTrainingJob.TrainingJobName`.
    #[serde(default)]
    pub best_training_job: Option<String>,
    /// The tuning configuration flattened to parameters: `strategy`, `objective`,
    /// `objectiveType`, `maxNumberOfTrainingJobs`, `maxParallelTrainingJobs`, and one
    /// `range.<name>` per tuned hyperparameter (`min..max (scaling)` or the categorical values).
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

/// Reading what a tuning or training job did.
#[async_trait]
pub trait TrainingHistory: Send + Sync {
    /// The tuning job; `PortError::NotFound` when it does not exist.
    async fn tuning_job(&self, tuning_job: &str) -> Result<TuningJobSummary, PortError>;
    /// Every training job the tuning job launched, each described, in name order.
    async fn tuning_training_jobs(
        &self,
        tuning_job: &str,
    ) -> Result<Vec<TrainingJobSummary>, PortError>;
    /// One training job; `PortError::NotFound` when it does not exist.
    async fn training_job(&self, job: &str) -> Result<TrainingJobSummary, PortError>;
    /// The training job's log (algorithm container output), lines joined by `\n`;
    /// `PortError::NotFound` when there is no log.
    async fn training_log(&self, job: &str) -> Result<String, PortError>;
}

#[cfg(any(test, feature = "testing"))]
mod in_memory;
#[cfg(any(test, feature = "testing"))]
pub use in_memory::InMemoryTrainingHistory;

/// Flattens a SageMaker `HyperParameterTuningJobConfig` (API JSON, PascalCase) into the
/// parameters of [`TuningJobSummary::config`]. Unknown or malformed parts are skipped.
pub fn flatten_tuning_config(config: &serde_json::Value) -> BTreeMap<String, String> {
    use serde_json::Value;
    let mut out = BTreeMap::new();
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let mut put = |key: &str, pointer: &str| {
        if let Some(v) = config.pointer(pointer).and_then(text) {
            out.insert(key.to_string(), v);
        }
    };
    put("strategy", "/Strategy");
    put("objective", "/HyperParameterTuningJobObjective/MetricName");
    put("objectiveType", "/HyperParameterTuningJobObjective/Type");
    put(
        "maxNumberOfTrainingJobs",
        "/ResourceLimits/MaxNumberOfTrainingJobs",
    );
    put(
        "maxParallelTrainingJobs",
        "/ResourceLimits/MaxParallelTrainingJobs",
    );
    put("earlyStopping", "/TrainingJobEarlyStoppingType");
    if let Some(ranges) = config.get("ParameterRanges").and_then(Value::as_object) {
        for (kind, list) in ranges {
            for range in list.as_array().into_iter().flatten() {
                let Some(name) = range.get("Name").and_then(Value::as_str) else {
                    continue;
                };
                let value = if kind == "CategoricalParameterRanges" {
                    range
                        .get("Values")
                        .and_then(Value::as_array)
                        .map(|vs| vs.iter().filter_map(text).collect::<Vec<_>>().join(","))
                        .unwrap_or_default()
                } else {
                    let min = range.get("MinValue").and_then(text).unwrap_or_default();
                    let max = range.get("MaxValue").and_then(text).unwrap_or_default();
                    match range.get("ScalingType").and_then(Value::as_str) {
                        Some(scaling) => format!("{min}..{max} ({scaling})"),
                        None => format!("{min}..{max}"),
                    }
                };
                out.insert(format!("range.{name}"), value);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(name: &str, rmse: f64) -> TrainingJobSummary {
        TrainingJobSummary {
            name: name.into(),
            status: "Completed".into(),
            final_metrics: BTreeMap::from([("validation:rmse".into(), rmse)]),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn given_a_tuning_job_when_listing_then_its_jobs_come_in_name_order() {
        let h = InMemoryTrainingHistory::new();
        h.insert_tuning_job(TuningJobSummary {
            name: "t1".into(),
            status: "Completed".into(),
            best_training_job: Some("t1-002".into()),
            config: BTreeMap::new(),
        });
        h.insert_training_job(Some("t1"), job("t1-002", 0.2));
        h.insert_training_job(Some("t1"), job("t1-001", 0.3));
        h.insert_training_job(None, job("other", 0.1));
        let jobs = h.tuning_training_jobs("t1").await.unwrap();
        let names: Vec<_> = jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["t1-001", "t1-002"]);
        assert_eq!(
            h.tuning_job("t1")
                .await
                .unwrap()
                .best_training_job
                .as_deref(),
            Some("t1-002")
        );
        assert!(matches!(
            h.tuning_training_jobs("nope").await,
            Err(PortError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn given_an_injected_failure_when_called_then_fails_once() {
        let h = InMemoryTrainingHistory::new();
        h.insert_training_job(None, job("j", 0.1));
        h.insert_log("j", "[0]#011train-rmse:1");
        h.fail_next(PortError::unavailable("throttled"));
        assert!(matches!(
            h.training_job("j").await,
            Err(PortError::Unavailable { .. })
        ));
        assert_eq!(h.training_job("j").await.unwrap().name, "j");
        assert_eq!(h.training_log("j").await.unwrap(), "[0]#011train-rmse:1");
        assert!(matches!(
            h.training_log("k").await,
            Err(PortError::NotFound { .. })
        ));
        assert_eq!(h.calls(), 4);
    }

    #[test]
    fn given_a_tuning_config_when_flattened_then_every_range_is_a_param() {
        let cfg = json!({
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"MetricName": "validation:rmse", "Type": "Minimize"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.1", "MaxValue": "0.5", "ScalingType": "Logarithmic"}],
                "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "6"}],
                "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "dart"]}]
            }
        });
        let flat = flatten_tuning_config(&cfg);
        assert_eq!(flat["strategy"], "Bayesian");
        assert_eq!(flat["objective"], "validation:rmse");
        assert_eq!(flat["objectiveType"], "Minimize");
        assert_eq!(flat["maxNumberOfTrainingJobs"], "6");
        assert_eq!(flat["range.eta"], "0.1..0.5 (Logarithmic)");
        assert_eq!(flat["range.max_depth"], "2..6");
        assert_eq!(flat["range.booster"], "gbtree,dart");
        assert!(flatten_tuning_config(&json!("nonsense")).is_empty());
    }
}
