//! Model registry records (one DynamoDB table; see docs/ARCHITECTURE.md, "Model registry").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Lifecycle status of a registered model version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VersionStatus {
    Registered,
    /// Registered under the approval gate: not used until an operator approves it (SageMaker
    /// Model Registry's `PendingManualApproval`).
    PendingApproval,
    Approved,
    Rejected,
    Retired,
}

impl VersionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionStatus::Registered => "Registered",
            VersionStatus::PendingApproval => "PendingApproval",
            VersionStatus::Approved => "Approved",
            VersionStatus::Rejected => "Rejected",
            VersionStatus::Retired => "Retired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Registered" => VersionStatus::Registered,
            "PendingApproval" => VersionStatus::PendingApproval,
            "Approved" => VersionStatus::Approved,
            "Rejected" => VersionStatus::Rejected,
            "Retired" => VersionStatus::Retired,
            _ => return None,
        })
    }

    /// Statuses a model may be evaluated / served in.
    pub const SERVABLE: [VersionStatus; 2] = [VersionStatus::Registered, VersionStatus::Approved];

    /// Every status, in life-cycle order.
    pub const ALL: [VersionStatus; 5] = [
        VersionStatus::Registered,
        VersionStatus::PendingApproval,
        VersionStatus::Approved,
        VersionStatus::Rejected,
        VersionStatus::Retired,
    ];
}

impl std::fmt::Display for VersionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
    pub training_data: Option<TrainingData>,
}

/// The channels a version was trained on (its lineage; recorded by register-model).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrainingData {
    pub train: crate::input::DataSource,
    pub validation: crate::input::DataSource,
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

/// Sort key of the model's operation revision (how many registry operations were applied to
/// the model; see [`crate::registry_ops`]).
pub const REVISION_SORT_KEY: &str = "REVISION";

/// Sort key of a version's history item: `H#`, the version on 10 digits, `#`, the model
/// revision of the operation on 10 digits (so a version's history sorts oldest first).
pub fn history_sort_key(version: u64, revision: u64) -> String {
    format!("{}{revision:010}", history_prefix(version))
}

/// The prefix every history item of `version` starts with.
pub fn history_prefix(version: u64) -> String {
    format!("H#{version:010}#")
}

/// The rule of `RegistryRead::latest_version` over versions held in ascending order: the
/// highest whose status is one of `statuses`; none when `statuses` is empty (DynamoDB's
/// `#status IN (…)` filter has nothing to match). One rule for every stand-in.
pub fn latest_with_status<'a>(
    ascending: impl DoubleEndedIterator<Item = &'a ModelVersion>,
    statuses: &[VersionStatus],
) -> Option<&'a ModelVersion> {
    ascending.rev().find(|v| statuses.contains(&v.status))
}

/// The `since` filter of `RegistryRead::list_evaluations`: both sides are RFC 3339; compared as
/// instants when both parse, else as text.
pub fn evaluated_at_or_after(evaluated_at: &str, since: &str) -> bool {
    match (
        chrono::DateTime::parse_from_rfc3339(evaluated_at),
        chrono::DateTime::parse_from_rfc3339(since),
    ) {
        (Ok(at), Ok(since)) => at >= since,
        _ => evaluated_at >= since,
    }
}

/// The registry's timestamp format: RFC 3339 UTC with milliseconds and `Z`
/// (`2024-06-01T12:00:00.000Z`), so text order is time order.
pub fn format_timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
