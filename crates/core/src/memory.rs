//! In-memory adapters of every port, for unit tests and examples.
//!
//! They keep the exact semantics the AWS and local adapters promise (the registry's
//! transactional, idempotent, gap-free registration included), plus fault injection: each
//! adapter can be told to fail its next calls with a given [`PortError`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use crate::deps::{Dependencies, FunctionConfig};
use crate::error::PortError;
use crate::events::publishing::PublishingRegistry;
use crate::events::{self, Event};
use crate::ports::{
    Clock, CreateModelRequest, EventPublisher, ObjectInfo, ObjectStore, RegistryRead,
    RegistryWrite, SageMakerApi, TrainingJobInfo,
};
use crate::registry::{EvaluationRecord, ModelVersion, NewVersion, Registration, VersionStatus};
use crate::registry_ops::{Operation, OperationError, VersionChange};
use crate::registry_state::RegistryState;
use crate::s3uri::S3Uri;
use crate::sync::lock;

/// An environment of `(name, value)` pairs, for the `from_lookup` constructors of configurations.
pub fn env_lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

/// Failures to return from the next calls, in order.
#[derive(Debug, Default)]
struct Faults(Mutex<VecDeque<PortError>>);

impl Faults {
    fn push(&self, e: PortError) {
        lock(&self.0).push_back(e);
    }
    fn check(&self) -> Result<(), PortError> {
        match lock(&self.0).pop_front() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// An object store in a map.
#[derive(Debug, Default)]
pub struct InMemoryStore {
    objects: Mutex<BTreeMap<S3Uri, Vec<u8>>>,
    faults: Faults,
}

impl InMemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next call fails with `error` (queued: call several times for several failures).
    pub fn fail_next(&self, error: PortError) {
        self.faults.push(error);
    }

    /// Writes an object directly (test setup).
    pub fn insert(&self, uri: &str, body: impl Into<Vec<u8>>) {
        match uri.parse::<S3Uri>() {
            Ok(u) => {
                lock(&self.objects).insert(u, body.into());
            }
            Err(e) => panic!("InMemoryStore::insert: {e}"),
        }
    }

    /// Every stored URI, in order.
    pub fn keys(&self) -> Vec<String> {
        lock(&self.objects).keys().map(S3Uri::to_string).collect()
    }
}

#[async_trait]
impl ObjectStore for InMemoryStore {
    async fn get(&self, uri: &S3Uri) -> Result<Vec<u8>, PortError> {
        self.faults.check()?;
        lock(&self.objects)
            .get(uri)
            .cloned()
            .ok_or_else(|| PortError::not_found(uri.to_string()))
    }

    async fn put(&self, uri: &S3Uri, body: Vec<u8>) -> Result<(), PortError> {
        self.faults.check()?;
        lock(&self.objects).insert(uri.clone(), body);
        Ok(())
    }

    async fn list(&self, prefix: &S3Uri) -> Result<Vec<ObjectInfo>, PortError> {
        self.faults.check()?;
        Ok(lock(&self.objects)
            .iter()
            .filter(|(u, _)| u.bucket == prefix.bucket && u.key.starts_with(&prefix.key))
            .map(|(u, b)| ObjectInfo {
                uri: u.clone(),
                size: b.len() as u64,
            })
            .collect())
    }

    async fn exists(&self, uri: &S3Uri) -> Result<bool, PortError> {
        self.faults.check()?;
        Ok(lock(&self.objects).contains_key(uri))
    }
}

/// The model registry in memory, with the same transactional semantics as the DynamoDB one:
/// one lock over the [`RegistryState`] makes each registration and operation atomic.
#[derive(Debug, Default)]
pub struct InMemoryRegistry {
    state: Mutex<RegistryState>,
    faults: Faults,
    /// Who operations are recorded as (default [`InMemoryRegistry::DEFAULT_ACTOR`]).
    actor: Option<String>,
}

impl InMemoryRegistry {
    /// The actor of a registry made without [`InMemoryRegistry::with_actor`].
    pub const DEFAULT_ACTOR: &'static str = "in-memory-operator";

    pub fn new() -> Self {
        Self::default()
    }

    /// Records operations as made by `actor`.
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// The next call fails with `error` (queued).
    pub fn fail_next(&self, error: PortError) {
        self.faults.push(error);
    }

    /// The state, after the next queued fault (if any) is returned.
    fn state(&self) -> Result<MutexGuard<'_, RegistryState>, PortError> {
        self.faults.check()?;
        Ok(lock(&self.state))
    }
}

#[async_trait]
impl RegistryRead for InMemoryRegistry {
    async fn latest_version(
        &self,
        model: &str,
        statuses: &[VersionStatus],
    ) -> Result<Option<ModelVersion>, PortError> {
        Ok(self.state()?.latest_version(model, statuses))
    }

    async fn get_version(
        &self,
        model: &str,
        version: u64,
    ) -> Result<Option<ModelVersion>, PortError> {
        Ok(self.state()?.get_version(model, version))
    }

    async fn list_versions(&self, model: &str) -> Result<Vec<ModelVersion>, PortError> {
        Ok(self.state()?.list_versions(model))
    }

    async fn list_evaluations(
        &self,
        model: &str,
        since: Option<&str>,
    ) -> Result<Vec<EvaluationRecord>, PortError> {
        Ok(self.state()?.list_evaluations(model, since))
    }

    async fn revision(&self, model: &str) -> Result<u64, PortError> {
        Ok(self.state()?.revision(model))
    }

    async fn version_history(
        &self,
        model: &str,
        version: u64,
    ) -> Result<Vec<VersionChange>, PortError> {
        Ok(self.state()?.version_history(model, version))
    }
}

#[async_trait]
impl RegistryWrite for InMemoryRegistry {
    async fn register_as(
        &self,
        new: NewVersion,
        status: VersionStatus,
    ) -> Result<Registration, PortError> {
        self.state()?.register_as(new, status)
    }

    async fn put_evaluation(&self, record: EvaluationRecord) -> Result<(), PortError> {
        self.state()?.put_evaluation(record)
    }

    async fn caller(&self) -> Result<String, PortError> {
        Ok(self
            .actor
            .clone()
            .unwrap_or_else(|| Self::DEFAULT_ACTOR.to_string()))
    }

    async fn operate(&self, operation: Operation) -> Result<Vec<VersionChange>, OperationError> {
        self.faults.check()?;
        let actor = self.caller().await?;
        // The compare-and-swap: decided and applied under one lock, on the current revision.
        lock(&self.state).operate(&operation, &actor)
    }

    async fn set_status(
        &self,
        model: &str,
        version: u64,
        status: VersionStatus,
    ) -> Result<(), PortError> {
        self.state()?.set_status(model, version, status)
    }
}

/// A clock that stands still until moved.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(at))
    }

    /// At an RFC 3339 instant; panics on a malformed literal (test setup only).
    pub fn at(rfc3339: &str) -> Self {
        match DateTime::parse_from_rfc3339(rfc3339) {
            Ok(t) => Self::new(t.with_timezone(&Utc)),
            Err(e) => panic!("ManualClock::at({rfc3339:?}): {e}"),
        }
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *lock(&self.0) = at;
    }

    pub fn advance(&self, by: Duration) {
        let mut t = lock(&self.0);
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *lock(&self.0)
    }
}

/// A fake SageMaker: training jobs are whatever the test inserts; models are kept in a map.
#[derive(Debug, Default)]
pub struct FakeSageMaker {
    training_jobs: Mutex<BTreeMap<String, TrainingJobInfo>>,
    models: Mutex<BTreeMap<String, CreateModelRequest>>,
    create_model_calls: Mutex<u32>,
    faults: Faults,
}

impl FakeSageMaker {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next call fails with `error` (queued).
    pub fn fail_next(&self, error: PortError) {
        self.faults.push(error);
    }

    pub fn insert_training_job(&self, job: TrainingJobInfo) {
        lock(&self.training_jobs).insert(job.name.clone(), job);
    }

    /// The models created so far.
    pub fn models(&self) -> BTreeMap<String, CreateModelRequest> {
        lock(&self.models).clone()
    }

    /// How many times `create_model` was called (successful or not).
    pub fn create_model_calls(&self) -> u32 {
        *lock(&self.create_model_calls)
    }

    /// The ARN a model of this name gets.
    pub fn model_arn(name: &str) -> String {
        format!(
            "arn:aws:sagemaker:us-east-1:000000000000:model/{}",
            name.to_lowercase()
        )
    }
}

#[async_trait]
impl SageMakerApi for FakeSageMaker {
    async fn describe_training_job(&self, name: &str) -> Result<TrainingJobInfo, PortError> {
        self.faults.check()?;
        lock(&self.training_jobs)
            .get(name)
            .cloned()
            .ok_or_else(|| PortError::not_found(format!("training job {name}")))
    }

    async fn create_model(&self, request: &CreateModelRequest) -> Result<String, PortError> {
        *lock(&self.create_model_calls) += 1;
        self.faults.check()?;
        let mut models = lock(&self.models);
        if models.contains_key(&request.model_name) {
            return Err(PortError::Conflict {
                message: format!(
                    "Cannot create already existing model \"{}\"",
                    Self::model_arn(&request.model_name)
                ),
            });
        }
        models.insert(request.model_name.clone(), request.clone());
        Ok(Self::model_arn(&request.model_name))
    }

    async fn describe_model(&self, name: &str) -> Result<Option<(String, String)>, PortError> {
        self.faults.check()?;
        Ok(lock(&self.models)
            .get(name)
            .map(|m| (m.model_data_url.clone(), Self::model_arn(name))))
    }
}

/// The events published, in order (an EventBridge bus in a list). Entries are checked as
/// PutEvents checks them: nothing of a publication with a refused entry is kept.
#[derive(Debug, Default)]
pub struct InMemoryEvents {
    events: Mutex<Vec<Event>>,
    faults: Faults,
}

impl InMemoryEvents {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next publication fails with `error` (nothing of it is kept).
    pub fn fail_next(&self, error: PortError) {
        self.faults.push(error);
    }

    /// Every event published so far.
    pub fn published(&self) -> Vec<Event> {
        lock(&self.events).clone()
    }

    /// The `detail-type` of every event published so far.
    pub fn detail_types(&self) -> Vec<String> {
        lock(&self.events)
            .iter()
            .map(|e| e.detail_type.clone())
            .collect()
    }
}

#[async_trait]
impl EventPublisher for InMemoryEvents {
    async fn publish(&self, published: &[Event]) -> Result<(), PortError> {
        self.faults.check()?;
        events::batches(published)?;
        lock(&self.events).extend_from_slice(published);
        Ok(())
    }
}

/// A complete set of in-memory adapters, and the [`Dependencies`] over them.
#[derive(Debug, Clone)]
pub struct InMemoryWorld {
    pub store: Arc<InMemoryStore>,
    pub registry: Arc<InMemoryRegistry>,
    pub sagemaker: Arc<FakeSageMaker>,
    pub clock: Arc<ManualClock>,
    pub events: Arc<InMemoryEvents>,
    pub config: FunctionConfig,
}

impl InMemoryWorld {
    /// Empty adapters, the clock at 2024-06-01T12:00:00Z, bucket `mdlc-artifacts`.
    pub fn new() -> Self {
        InMemoryWorld {
            store: Arc::new(InMemoryStore::new()),
            registry: Arc::new(InMemoryRegistry::new()),
            sagemaker: Arc::new(FakeSageMaker::new()),
            clock: Arc::new(ManualClock::at("2024-06-01T12:00:00Z")),
            events: Arc::new(InMemoryEvents::new()),
            config: FunctionConfig::new(
                "mdlc-registry",
                "mdlc-artifacts",
                "arn:aws:iam::000000000000:role/mdlc-sagemaker",
            ),
        }
    }

    /// The dependencies over these adapters; their registry publishes its changes to
    /// [`InMemoryWorld::events`] (as on AWS and locally).
    pub fn dependencies(&self) -> Dependencies {
        Dependencies {
            store: self.store.clone(),
            registry_read: self.registry.clone(),
            registry_write: Arc::new(PublishingRegistry::new(
                self.registry.clone(),
                self.events.clone(),
            )),
            sagemaker: self.sagemaker.clone(),
            clock: self.clock.clone(),
            events: self.events.clone(),
            config: self.config.clone(),
        }
    }
}

impl Default for InMemoryWorld {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn in_memory_registry_passes_the_contract() {
        crate::contract::run_all(Arc::new(InMemoryRegistry::new())).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_memory_registry_passes_the_contract_on_threads() {
        crate::contract::concurrent_registrations_are_gap_free(Arc::new(InMemoryRegistry::new()))
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_memory_registry_operations_never_lose_a_change_on_threads() {
        crate::contract::concurrent_operations_never_lose_a_change(Arc::new(
            InMemoryRegistry::new(),
        ))
        .await;
    }

    #[tokio::test]
    async fn in_memory_registry_records_its_configured_actor() {
        let registry = InMemoryRegistry::new().with_actor("alice");
        registry
            .register(crate::contract::sample_version("m", "e1"))
            .await
            .unwrap();
        let changes = registry
            .operate(crate::contract::operation(
                "m",
                1,
                crate::registry_ops::Action::Approve,
                "ok",
            ))
            .await
            .unwrap();
        assert_eq!(changes[0].actor, "alice");
        assert_eq!(
            InMemoryRegistry::new().caller().await.unwrap(),
            InMemoryRegistry::DEFAULT_ACTOR
        );
    }

    #[tokio::test]
    async fn store_lists_by_prefix_and_reports_missing() {
        let s = InMemoryStore::new();
        s.insert("s3://bkt/a/1.csv", "x");
        s.insert("s3://bkt/a/2.csv", "yy");
        s.insert("s3://bkt/b/3.csv", "z");
        let listed = s.list(&"s3://bkt/a/".parse().unwrap()).await.unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[1].size, 2);
        let e = s.get(&"s3://bkt/none".parse().unwrap()).await.unwrap_err();
        assert!(matches!(e, PortError::NotFound { .. }));
        s.fail_next(PortError::unavailable("slow down"));
        assert!(
            s.exists(&"s3://bkt/a/1.csv".parse().unwrap())
                .await
                .is_err()
        );
        assert!(
            s.exists(&"s3://bkt/a/1.csv".parse().unwrap())
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn fake_sagemaker_conflicts_on_duplicate_model() {
        let sm = FakeSageMaker::new();
        let req = CreateModelRequest {
            model_name: "m".into(),
            image: "img".into(),
            model_data_url: "s3://b/m.tar.gz".into(),
            execution_role_arn: "arn:aws:iam::1:role/r".into(),
            environment: BTreeMap::new(),
            vpc_config: None,
        };
        sm.create_model(&req).await.unwrap();
        assert!(matches!(
            sm.create_model(&req).await,
            Err(PortError::Conflict { .. })
        ));
        assert_eq!(
            sm.describe_model("m").await.unwrap().unwrap().0,
            "s3://b/m.tar.gz"
        );
        assert_eq!(sm.create_model_calls(), 2);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::at("2024-01-01T00:00:00Z");
        c.advance(Duration::hours(2));
        assert_eq!(c.now().to_rfc3339(), "2024-01-01T02:00:00+00:00");
    }
}
