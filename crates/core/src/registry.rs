//! Model registry records (one DynamoDB table; see docs/ARCHITECTURE.md, "Model registry").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Lifecycle status of a registered model version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VersionStatus {
    Registered,
    Approved,
    Rejected,
    Retired,
}

impl VersionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionStatus::Registered => "Registered",
            VersionStatus::Approved => "Approved",
            VersionStatus::Rejected => "Rejected",
            VersionStatus::Retired => "Retired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Registered" => VersionStatus::Registered,
            "Approved" => VersionStatus::Approved,
            "Rejected" => VersionStatus::Rejected,
            "Retired" => VersionStatus::Retired,
            _ => return None,
        })
    }

    /// Statuses a model may be evaluated / served in.
    pub const SERVABLE: [VersionStatus; 2] = [VersionStatus::Registered, VersionStatus::Approved];
}

/// What register-model asks the registry to write. The registry assigns `version` and
/// `created_at` is supplied by the caller's clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewVersion {
    pub model_name: String,
    pub sagemaker_model_name: String,
    pub training_job_name: String,
    pub tuning_job_name: Option<String>,
    pub model_data_url: String,
    pub image: String,
    pub hyperparameters: BTreeMap<String, String>,
    pub objective_metric: Option<String>,
    pub objective_value: Option<f64>,
    pub data_date: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// The execution that registers; the idempotency key.
    pub execution_arn: String,
    /// The version this one replaces (set on retrains).
    pub parent_version: Option<u64>,
    /// Why it was trained ("initial", or the retrain reason).
    pub reason: String,
    /// The data profile of its training data (written by the preprocessing step): the baseline
    /// of the feature drift reported by its evaluations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_uri: Option<String>,
    /// The train and validation channels it was trained on (its lineage): what a retrain of it
    /// trains on unless the evaluation input names newer data. Absent on versions registered
    /// before versions kept it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_data: Option<crate::retrain::TrainingData>,
}

/// A registered version: everything of [`NewVersion`] plus its number and status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelVersion {
    pub version: u64,
    pub status: VersionStatus,
    #[serde(flatten)]
    pub record: NewVersion,
}

/// Result of a registration: the version and whether this call created it (false when the
/// execution had registered already and the existing version is returned).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    pub version: ModelVersion,
    pub created: bool,
}

/// One evaluation of a version on a batch of fresh data (`E#<timestamp>#<execution>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluationRecord {
    pub model_name: String,
    pub version: u64,
    /// RFC 3339 UTC.
    pub evaluated_at: String,
    pub execution_arn: String,
    pub data_date: String,
    pub metrics: BTreeMap<String, f64>,
    /// The retrain decision taken on this evaluation, once known.
    pub retrain: Option<bool>,
    pub reason: Option<String>,
    /// Feature drift of the batch against the version's data profile (when it has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<crate::drift::DriftReport>,
}

/// Sort key of a version item: `V#` and the version on 10 digits.
pub fn version_sort_key(version: u64) -> String {
    format!("V#{version:010}")
}

/// Sort key of an evaluation item.
pub fn evaluation_sort_key(evaluated_at: &str, execution_arn: &str) -> String {
    format!("E#{evaluated_at}#{execution_arn}")
}

/// Sort key of the per-execution idempotency marker.
pub fn execution_marker_key(execution_arn: &str) -> String {
    format!("X#{execution_arn}")
}

/// Sort key of the version counter.
pub const COUNTER_SORT_KEY: &str = "COUNTER";

/// The registry's timestamp format: RFC 3339 UTC with milliseconds and `Z`
/// (`2024-06-01T12:00:00.000Z`), so text order is time order.
pub fn format_timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
