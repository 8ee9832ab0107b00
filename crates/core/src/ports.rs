//! Ports: the narrow traits through which handlers reach storage and services.
//!
//! Each handler takes only the ports it uses, so each function's IAM policy lists exactly the
//! actions behind them. Every port has an in-memory adapter ([`crate::memory`]), an AWS adapter
//! (`mdlc-aws`) and a local-cloud adapter (`mdlc-local`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{FnError, PortError};
use crate::events::Event;
use crate::registry::{EvaluationRecord, ModelVersion, NewVersion, Registration, VersionStatus};
use crate::registry_ops::{Operation, OperationError, VersionChange};
use crate::s3uri::S3Uri;

/// Metadata of a stored object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectInfo {
    pub uri: S3Uri,
    pub size: u64,
}

/// Object storage (S3, or the local filesystem store).
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// The object's bytes; `PortError::NotFound` when it does not exist.
    async fn get(&self, uri: &S3Uri) -> Result<Vec<u8>, PortError>;
    /// Up to `len` bytes of the object from byte `offset` (S3's ranged `GetObject`): fewer at its
    /// end, none from its end on; `PortError::NotFound` when it does not exist. Readers that
    /// stream an object (the emulator's Pipe channels) read it a range at a time; the default
    /// reads the whole object, so adapters that can read a range should.
    async fn get_range(&self, uri: &S3Uri, offset: u64, len: u64) -> Result<Vec<u8>, PortError> {
        let body = self.get(uri).await?;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(body.len());
        let end = start
            .saturating_add(usize::try_from(len).unwrap_or(usize::MAX))
            .min(body.len());
        Ok(body[start..end].to_vec())
    }
    /// Writes (replaces) the object.
    async fn put(&self, uri: &S3Uri, body: Vec<u8>) -> Result<(), PortError>;
    /// Writes (replaces) the object with the bytes of the local file `path`. The default reads
    /// the file whole and [`put`](Self::put)s it; a store that can copy a file a part at a time
    /// (the local cloud's) should, so that an upload's memory does not grow with the file. A
    /// file that cannot be read is `PortError::Rejected`, naming it.
    async fn put_file(&self, uri: &S3Uri, path: &std::path::Path) -> Result<(), PortError> {
        let body = std::fs::read(path).map_err(|e| PortError::Rejected {
            message: format!(
                "could not read {} to upload it to {uri}: {e}",
                path.display()
            ),
        })?;
        self.put(uri, body).await
    }
    /// The local file that holds the object, for a store that keeps its objects as files (the
    /// local cloud's): the emulator's FastFile channels link to it instead of copying. `None`
    /// (the default) where there is no such file (S3, memory).
    fn local_path(&self, uri: &S3Uri) -> Option<std::path::PathBuf> {
        let _ = uri;
        None
    }
    /// Every object whose key starts with `prefix.key`, in key order.
    async fn list(&self, prefix: &S3Uri) -> Result<Vec<ObjectInfo>, PortError>;
    /// Whether the object exists.
    async fn exists(&self, uri: &S3Uri) -> Result<bool, PortError>;
    /// Whether at least one object's key starts with `prefix.key` (what SageMaker's
    /// `S3Prefix` data type reads). Adapters that can ask for one key only should.
    async fn any_under(&self, prefix: &S3Uri) -> Result<bool, PortError> {
        Ok(!self.list(prefix).await?.is_empty())
    }
}

/// Reading the model registry.
#[async_trait]
pub trait RegistryRead: Send + Sync {
    /// The highest version of `model` whose status is one of `statuses` (consistent read).
    async fn latest_version(
        &self,
        model: &str,
        statuses: &[VersionStatus],
    ) -> Result<Option<ModelVersion>, PortError>;
    /// One version, or `None`.
    async fn get_version(
        &self,
        model: &str,
        version: u64,
    ) -> Result<Option<ModelVersion>, PortError>;
    /// Every version of `model`, ascending.
    async fn list_versions(&self, model: &str) -> Result<Vec<ModelVersion>, PortError>;
    /// Evaluations of `model`, oldest first, optionally only those at or after `since` (RFC 3339).
    async fn list_evaluations(
        &self,
        model: &str,
        since: Option<&str>,
    ) -> Result<Vec<EvaluationRecord>, PortError>;
    /// The model's operation revision: how many operations ([`RegistryWrite::operate`]) were
    /// applied to it (0 for none, and for an unknown model).
    async fn revision(&self, model: &str) -> Result<u64, PortError>;
    /// The recorded changes of one version, oldest first (empty when it was never changed).
    async fn version_history(
        &self,
        model: &str,
        version: u64,
    ) -> Result<Vec<VersionChange>, PortError>;
}

/// A registry lookup's answer as a handler needs it: a failure of the registry call `call` is
/// mapped by [`FnError::from_port`], no version is `ModelNotFound` with `detail`.
pub fn found_version(
    answer: Result<Option<ModelVersion>, PortError>,
    call: &str,
    model: &str,
    detail: impl FnOnce() -> String,
) -> Result<ModelVersion, FnError> {
    answer
        .map_err(|e| FnError::from_port(call, e))?
        .ok_or_else(|| FnError::ModelNotFound {
            model: model.to_string(),
            detail: detail(),
        })
}

/// Version `version` of `model` as a handler needs it ([`found_version`]), naming the version
/// as `which` ("the pinned version", "the evaluated version") when it does not exist.
pub async fn required_version(
    registry: &dyn RegistryRead,
    model: &str,
    version: u64,
    which: &str,
) -> Result<ModelVersion, FnError> {
    found_version(
        registry.get_version(model, version).await,
        "registry get_version",
        model,
        || format!("{which} {version} does not exist"),
    )
}

/// Writing the model registry.
#[async_trait]
pub trait RegistryWrite: Send + Sync {
    /// Registers a new version in one transaction (counter bump, version put, execution marker),
    /// exactly once per `execution_arn`: a repeated call returns the version already written with
    /// `created: false`. Concurrent calls get distinct, gap-free, increasing versions.
    /// The version's status is `Registered`.
    async fn register(&self, new: NewVersion) -> Result<Registration, PortError> {
        self.register_as(new, VersionStatus::Registered).await
    }
    /// [`RegistryWrite::register`] with the new version's status: `Registered`, or
    /// `PendingApproval` under the approval gate (any other status is `Rejected`).
    async fn register_as(
        &self,
        new: NewVersion,
        status: VersionStatus,
    ) -> Result<Registration, PortError>;
    /// Records (or replaces) an evaluation item.
    async fn put_evaluation(&self, record: EvaluationRecord) -> Result<(), PortError>;
    /// Who this handle records as the actor of its operations: on AWS the caller's STS identity
    /// (`sts:GetCallerIdentity` ARN), locally the OS user or the configured actor.
    async fn caller(&self) -> Result<String, PortError>;
    /// Applies one operator's operation (approve, reject, retire, roll back) as one conditional
    /// write, recorded in the history of every version it changes; returns those changes (the
    /// target's first). See [`crate::registry_ops`] for the rules.
    async fn operate(&self, operation: Operation) -> Result<Vec<VersionChange>, OperationError>;
    /// Changes a version's status without an operation or history (test and repair use; the
    /// operators' way is [`RegistryWrite::operate`]); `NotFound` when the version does not exist.
    async fn set_status(
        &self,
        model: &str,
        version: u64,
        status: VersionStatus,
    ) -> Result<(), PortError>;
}

/// Publishing the life cycle's events ([`crate::events`]): EventBridge on AWS, the event log
/// of the state directory locally.
#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// Publishes `events`, in order. Every entry is checked against PutEvents' rules first
    /// ([`crate::events::check_entry`]): when one fails nothing is published and the error is
    /// `PortError::Rejected` naming it. Entries the service does not accept are retried; those
    /// still not published make the error `PortError::Unavailable`, naming them and their error
    /// codes (never ignored).
    async fn publish(&self, events: &[Event]) -> Result<(), PortError>;
}

/// A SageMaker training job as create-model needs it (from DescribeTrainingJob).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainingJobInfo {
    pub name: String,
    /// `InProgress`, `Completed`, `Failed`, `Stopping`, `Stopped`.
    pub status: String,
    pub failure_reason: Option<String>,
    /// `ModelArtifacts.S3ModelArtifacts`.
    pub model_artifacts: Option<String>,
    pub image: Option<String>,
    pub hyperparameters: BTreeMap<String, String>,
    /// `FinalMetricDataList`, metric name → value.
    pub final_metrics: BTreeMap<String, f64>,
}

/// A CreateModel request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateModelRequest {
    pub model_name: String,
    pub image: String,
    pub model_data_url: String,
    pub execution_role_arn: String,
    pub environment: BTreeMap<String, String>,
    /// The VPC the model's containers connect to (CreateModel `VpcConfig`: used by batch
    /// transform and hosting); `None`: SageMaker's own network.
    pub vpc_config: Option<crate::input::VpcConfig>,
}

/// The SageMaker calls the handlers make (the heavy jobs are started by the state machine).
#[async_trait]
pub trait SageMakerApi: Send + Sync {
    /// `PortError::NotFound` when no such job exists.
    async fn describe_training_job(&self, name: &str) -> Result<TrainingJobInfo, PortError>;
    /// Creates the model and returns its ARN. `PortError::Conflict` when a model of that name
    /// already exists (callers treat that as success after checking it matches).
    async fn create_model(&self, request: &CreateModelRequest) -> Result<String, PortError>;
    /// The existing model's data URL and ARN, or `None`.
    async fn describe_model(&self, name: &str) -> Result<Option<(String, String)>, PortError>;
}

/// Wall-clock time, injectable for tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::sample_version;
    use crate::memory::InMemoryRegistry;

    #[tokio::test]
    async fn required_version_is_the_version_or_model_not_found_naming_it() {
        let registry = InMemoryRegistry::new();
        registry
            .register(sample_version("churn", "e1"))
            .await
            .unwrap();
        let found = required_version(&registry, "churn", 1, "the pinned version").await;
        assert_eq!(found.unwrap().version, 1);
        let missing = required_version(&registry, "churn", 5, "the pinned version")
            .await
            .unwrap_err();
        assert_eq!(
            missing,
            FnError::ModelNotFound {
                model: "churn".into(),
                detail: "the pinned version 5 does not exist".into(),
            }
        );
        registry.fail_next(PortError::unavailable("ProvisionedThroughputExceeded"));
        let failed = required_version(&registry, "churn", 1, "the pinned version")
            .await
            .unwrap_err();
        assert!(
            matches!(failed, FnError::DependencyUnavailable { .. }),
            "{failed:?}"
        );
    }
}
