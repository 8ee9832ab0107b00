//! The emulator as a [`TrainingHistory`]: what experiment tracking reads back after a tuning or
//! training job, from the jobs' Describe* documents (memory or `<job dir>/describe.json`) and
//! their logs (`<job dir>/algo-1.log`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mdlc_core::PortError;
use mdlc_core::history::{
    TrainingHistory, TrainingJobSummary, TuningJobSummary, flatten_tuning_config,
};
use serde_json::{Value, json};

use crate::jobs::{JobKind, opt_string, port_error};
use crate::{SageMakerEmulator, tuning};

/// A Describe* time: epoch milliseconds (how the emulator writes them), epoch seconds with a
/// fraction, or an RFC 3339 string.
fn time(d: &Value, field: &str) -> Option<DateTime<Utc>> {
    match d.get(field)? {
        Value::Number(n) => match n.as_i64() {
            Some(ms) => DateTime::from_timestamp_millis(ms),
            None => n
                .as_f64()
                .and_then(|s| DateTime::from_timestamp_millis((s * 1000.0) as i64)),
        },
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        _ => None,
    }
}

/// `HyperParameters` of a DescribeTrainingJob document (string values only, as SageMaker keeps them).
pub(crate) fn hyperparameters_of(d: &Value) -> std::collections::BTreeMap<String, String> {
    d.get("HyperParameters")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// `FinalMetricDataList` of a DescribeTrainingJob document, metric name → value.
pub(crate) fn final_metrics_of(d: &Value) -> std::collections::BTreeMap<String, f64> {
    d.get("FinalMetricDataList")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|m| {
                    Some((
                        m.get("MetricName")?.as_str()?.to_string(),
                        m.get("Value")?.as_f64()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A training job's Describe* document as a [`TrainingJobSummary`].
pub fn training_summary(name: &str, d: &Value) -> TrainingJobSummary {
    let hyperparameters = hyperparameters_of(d);
    let final_metrics = final_metrics_of(d);
    TrainingJobSummary {
        name: name.to_string(),
        status: opt_string(d, "/TrainingJobStatus").unwrap_or_default(),
        failure_reason: opt_string(d, "/FailureReason"),
        hyperparameters,
        final_metrics,
        start_time: time(d, "TrainingStartTime"),
        end_time: time(d, "TrainingEndTime"),
        model_artifacts: opt_string(d, "/ModelArtifacts/S3ModelArtifacts"),
    }
}

#[async_trait]
impl TrainingHistory for SageMakerEmulator {
    async fn tuning_job(&self, tuning_job: &str) -> Result<TuningJobSummary, PortError> {
        let d = self
            .inner
            .describe(JobKind::Tuning, tuning_job)
            .map_err(port_error)?;
        Ok(TuningJobSummary {
            name: tuning_job.to_string(),
            status: opt_string(&d, "/HyperParameterTuningJobStatus").unwrap_or_default(),
            best_training_job: opt_string(&d, "/BestTrainingJob/TrainingJobName"),
            config: d
                .get("HyperParameterTuningJobConfig")
                .map(flatten_tuning_config)
                .unwrap_or_default(),
        })
    }

    async fn tuning_training_jobs(
        &self,
        tuning_job: &str,
    ) -> Result<Vec<TrainingJobSummary>, PortError> {
        let listed = tuning::list_training_jobs(
            &self.inner,
            &json!({ "HyperParameterTuningJobName": tuning_job }),
        )
        .map_err(port_error)?;
        let mut names: Vec<String> = listed
            .get("TrainingJobSummaries")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(|s| opt_string(s, "/TrainingJobName"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            out.push(self.training_job(&name).await?);
        }
        Ok(out)
    }

    async fn training_job(&self, job: &str) -> Result<TrainingJobSummary, PortError> {
        let d = self
            .inner
            .describe(JobKind::Training, job)
            .map_err(port_error)?;
        Ok(training_summary(job, &d))
    }

    async fn training_log(&self, job: &str) -> Result<String, PortError> {
        let events = self.log_events(JobKind::Training, job).map_err(|e| {
            PortError::not_found(format!("log of training job {job:?}: {}", e.cause))
        })?;
        Ok(events
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_describe_times_in_any_shape_when_read_then_parsed() {
        let d = json!({
            "TrainingJobStatus": "Completed",
            "TrainingStartTime": 1_700_000_000_000_i64,
            "TrainingEndTime": "2023-11-14T22:14:20Z",
            "HyperParameters": {"eta": "0.2"},
            "FinalMetricDataList": [{"MetricName": "validation:rmse", "Value": 0.5}],
            "ModelArtifacts": {"S3ModelArtifacts": "s3://b/m.tar.gz"}
        });
        let s = training_summary("j", &d);
        assert_eq!(s.start_time.map(|t| t.timestamp()), Some(1_700_000_000));
        assert_eq!(s.end_time.map(|t| t.timestamp()), Some(1_700_000_060));
        assert_eq!(s.final_metrics["validation:rmse"], 0.5);
        assert_eq!(s.hyperparameters["eta"], "0.2");
        assert_eq!(s.model_artifacts.as_deref(), Some("s3://b/m.tar.gz"));
        assert_eq!(
            time(&json!({"T": 1.5}), "T").map(|t| t.timestamp_millis()),
            Some(1500)
        );
        assert_eq!(time(&json!({"T": []}), "T"), None);
    }
}
