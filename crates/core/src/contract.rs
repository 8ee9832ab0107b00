//! Behaviour every model-registry adapter must have. Each function panics with a clear message
//! on a violation; adapters call them from their own `#[tokio::test]`s:
//!
//! ```ignore
//! #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn registry_contract() {
//!     mdlc_core::contract::run_all(std::sync::Arc::new(my_registry().await)).await;
//! }
//! ```
//!
//! Every function works on model names of its own (a unique suffix per call), so they can share
//! one table or database file and can run against a store that already holds data.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::PortError;
use crate::ports::{RegistryRead, RegistryWrite};
use crate::registry::{EvaluationRecord, NewVersion, VersionStatus};
use crate::registry_ops::{Action, Operation, OperationError, VersionChange};

/// How many concurrent registrations [`concurrent_registrations_are_gap_free`] makes.
pub const CONCURRENT_REGISTRATIONS: u64 = 50;

/// A model name unique to this process and call.
pub fn unique_model_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos:09}-{n}", std::process::id())
}

/// A complete [`NewVersion`] with every optional field set, for `model` and `execution`.
pub fn sample_version(model: &str, execution: &str) -> NewVersion {
    let mut hyperparameters = BTreeMap::new();
    hyperparameters.insert("eta".to_string(), "0.2".to_string());
    hyperparameters.insert("max_depth".to_string(), "5".to_string());
    NewVersion {
        model_name: model.to_string(),
        sagemaker_model_name: format!("{model}-sm"),
        training_job_name: format!("{model}-train"),
        tuning_job_name: Some("tune-abc".to_string()),
        model_data_url: format!("s3://mdlc-artifacts/models/{model}/output/model.tar.gz"),
        image: "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1".to_string(),
        hyperparameters,
        objective_metric: Some("validation:rmse".to_string()),
        objective_value: Some(0.125),
        data_date: "2024-06-01".to_string(),
        created_at: "2024-06-01T12:00:00.000Z".to_string(),
        execution_arn: format!(
            "arn:aws:states:us-east-1:000000000000:execution:training:{execution}"
        ),
        parent_version: Some(7),
        reason: "initial".to_string(),
        profile_uri: Some(format!(
            "s3://mdlc-artifacts/models/{model}/run/preprocessing/profile/profile.json"
        )),
        training_data: Some(crate::retrain::TrainingData {
            train: crate::input::DataSource::S3Uri(crate::S3Uri::new(
                "mdlc-artifacts",
                format!("models/{model}/run/preprocessing/train/"),
            )),
            validation: crate::input::DataSource::S3Uri(crate::S3Uri::new(
                "mdlc-artifacts",
                format!("models/{model}/run/preprocessing/validation/"),
            )),
        }),
    }
}

/// `new` with every optional field left empty (no tuning job, objective, parent, profile,
/// lineage or hyperparameters): what must come back without them.
pub fn minimal_version(mut new: NewVersion) -> NewVersion {
    new.tuning_job_name = None;
    new.objective_metric = None;
    new.objective_value = None;
    new.parent_version = None;
    new.profile_uri = None;
    new.training_data = None;
    new.hyperparameters.clear();
    new
}

/// A drift report of two features (one stable, one significant), for records that carry one.
pub fn sample_drift() -> crate::drift::DriftReport {
    use crate::drift::{DriftLevel, DriftReport, FeatureDrift};
    DriftReport {
        rows: 250,
        max_psi: 0.4375,
        level: DriftLevel::Significant,
        features: vec![
            FeatureDrift {
                feature: "f0".to_string(),
                index: 0,
                psi: 0.015625,
                level: DriftLevel::Stable,
            },
            FeatureDrift {
                feature: "f1".to_string(),
                index: 1,
                psi: 0.4375,
                level: DriftLevel::Significant,
            },
        ],
    }
}

/// An evaluation of `model`'s `version` at `at` by execution `execution` (rmse 0.5, r2 0.75).
pub fn sample_evaluation(model: &str, version: u64, at: &str, execution: &str) -> EvaluationRecord {
    let mut metrics = BTreeMap::new();
    metrics.insert("rmse".to_string(), 0.5);
    metrics.insert("r2".to_string(), 0.75);
    EvaluationRecord {
        model_name: model.to_string(),
        version,
        evaluated_at: at.to_string(),
        execution_arn: format!(
            "arn:aws:states:us-east-1:000000000000:execution:evaluation:{execution}"
        ),
        data_date: "2024-06-02".to_string(),
        metrics,
        retrain: None,
        reason: None,
        drift: None,
    }
}

/// Registering the same execution twice returns the first version (`created: false`), writes
/// nothing new, and keeps every field of the record.
pub async fn registers_idempotently_per_execution<R>(registry: Arc<R>)
where
    R: RegistryRead + RegistryWrite + 'static,
{
    let model = unique_model_name("idem");
    let new = sample_version(&model, "exec-1");
    let first = registry
        .register(new.clone())
        .await
        .unwrap_or_else(|e| panic!("first registration of {model} failed: {e}"));
    assert!(
        first.created,
        "first registration must report created: true"
    );
    assert_eq!(
        first.version.version, 1,
        "first version of a new model must be 1"
    );
    assert_eq!(
        first.version.status,
        VersionStatus::Registered,
        "a new version starts Registered"
    );
    assert_eq!(
        first.version.record, new,
        "the registered record must keep every field"
    );

    let mut retried = new.clone();
    retried.created_at = "2024-06-01T12:05:00.000Z".to_string();
    let second = registry
        .register(retried)
        .await
        .unwrap_or_else(|e| panic!("re-registration of the same execution failed: {e}"));
    assert!(
        !second.created,
        "re-registering the same execution must report created: false"
    );
    assert_eq!(
        second.version, first.version,
        "re-registering must return the version written first, unchanged"
    );
    let versions = registry
        .list_versions(&model)
        .await
        .unwrap_or_else(|e| panic!("list_versions failed: {e}"));
    assert_eq!(
        versions.len(),
        1,
        "re-registration must not write a second version"
    );

    let other = registry
        .register(sample_version(&model, "exec-2"))
        .await
        .unwrap_or_else(|e| panic!("registration of a second execution failed: {e}"));
    assert!(other.created);
    assert_eq!(
        other.version.version, 2,
        "the next execution must get version 2"
    );
}

/// [`CONCURRENT_REGISTRATIONS`] concurrent registrations of one model (plus a concurrent retry of
/// each) give versions 1..=N, each execution exactly one, none lost or doubled.
pub async fn concurrent_registrations_are_gap_free<R>(registry: Arc<R>)
where
    R: RegistryRead + RegistryWrite + 'static,
{
    let model = unique_model_name("conc");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..CONCURRENT_REGISTRATIONS {
        for _attempt in 0..2 {
            let registry = registry.clone();
            let new = sample_version(&model, &format!("exec-{i}"));
            tasks.spawn(async move { (i, registry.register(new).await) });
        }
    }
    let mut by_execution: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    let mut created = 0;
    while let Some(joined) = tasks.join_next().await {
        let (i, result) = joined.unwrap_or_else(|e| panic!("registration task panicked: {e}"));
        let registration = match result {
            Ok(r) => r,
            Err(e) => panic!(
                "concurrent registration of execution {i} failed (the adapter must retry lost races itself): {e}"
            ),
        };
        if registration.created {
            created += 1;
        }
        by_execution
            .entry(i)
            .or_default()
            .insert(registration.version.version);
    }
    assert_eq!(
        created, CONCURRENT_REGISTRATIONS,
        "exactly one of the two registrations of each execution must report created: true"
    );
    for (i, versions) in &by_execution {
        assert_eq!(
            versions.len(),
            1,
            "execution {i} was given different versions {versions:?}"
        );
    }
    let given: BTreeSet<u64> = by_execution.values().flatten().copied().collect();
    let expected: BTreeSet<u64> = (1..=CONCURRENT_REGISTRATIONS).collect();
    assert_eq!(
        given, expected,
        "versions must be 1..={CONCURRENT_REGISTRATIONS}, none lost or doubled"
    );
    let stored = registry
        .list_versions(&model)
        .await
        .unwrap_or_else(|e| panic!("list_versions failed: {e}"));
    let stored_numbers: Vec<u64> = stored.iter().map(|v| v.version).collect();
    assert_eq!(
        stored_numbers,
        (1..=CONCURRENT_REGISTRATIONS).collect::<Vec<_>>(),
        "list_versions must return every version once, ascending"
    );
    for v in &stored {
        let i = v
            .record
            .execution_arn
            .rsplit("exec-")
            .next()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("stored version {} has a foreign execution ARN", v.version));
        assert_eq!(
            by_execution.get(&i).and_then(|s| s.first()),
            Some(&v.version),
            "stored version {} does not belong to execution {i}",
            v.version
        );
    }
}

/// The latest version is the highest one whose status is among those asked for.
pub async fn latest_version_respects_statuses<R>(registry: Arc<R>)
where
    R: RegistryRead + RegistryWrite + 'static,
{
    let model = unique_model_name("latest");
    let none = registry
        .latest_version(&model, &VersionStatus::SERVABLE)
        .await
        .unwrap_or_else(|e| panic!("latest_version of an unknown model failed: {e}"));
    assert!(none.is_none(), "an unknown model has no latest version");
    for i in 1..=3 {
        registry
            .register(sample_version(&model, &format!("e{i}")))
            .await
            .unwrap_or_else(|e| panic!("registration {i} failed: {e}"));
    }
    let latest = registry
        .latest_version(&model, &VersionStatus::SERVABLE)
        .await
        .unwrap_or_else(|e| panic!("latest_version failed: {e}"));
    assert_eq!(latest.map(|v| v.version), Some(3), "latest of 1..=3 is 3");

    registry
        .set_status(&model, 3, VersionStatus::Rejected)
        .await
        .unwrap_or_else(|e| panic!("set_status failed: {e}"));
    registry
        .set_status(&model, 1, VersionStatus::Approved)
        .await
        .unwrap_or_else(|e| panic!("set_status failed: {e}"));
    let latest = registry
        .latest_version(&model, &VersionStatus::SERVABLE)
        .await
        .unwrap_or_else(|e| panic!("latest_version failed: {e}"));
    assert_eq!(
        latest.map(|v| v.version),
        Some(2),
        "a Rejected version must be skipped by a query for Registered/Approved"
    );
    let approved = registry
        .latest_version(&model, &[VersionStatus::Approved])
        .await
        .unwrap_or_else(|e| panic!("latest_version failed: {e}"));
    assert_eq!(
        approved.map(|v| v.version),
        Some(1),
        "only version 1 is Approved"
    );
    let retired = registry
        .latest_version(&model, &[VersionStatus::Retired])
        .await
        .unwrap_or_else(|e| panic!("latest_version failed: {e}"));
    assert!(retired.is_none(), "no version is Retired");
    let no_status = registry
        .latest_version(&model, &[])
        .await
        .unwrap_or_else(|e| panic!("latest_version failed: {e}"));
    assert!(
        no_status.is_none(),
        "asked for no status, latest_version answers none (DynamoDB's IN () matches nothing)"
    );

    // Another model's versions never leak in.
    let other = unique_model_name("latest-other");
    let none = registry
        .latest_version(&other, &VersionStatus::SERVABLE)
        .await
        .unwrap_or_else(|e| panic!("latest_version failed: {e}"));
    assert!(none.is_none(), "versions of {model} leaked into {other}");
}

/// get_version returns a version with every field; list_versions is ascending.
pub async fn gets_and_lists_versions<R>(registry: Arc<R>)
where
    R: RegistryRead + RegistryWrite + 'static,
{
    let model = unique_model_name("get");
    let empty = registry
        .list_versions(&model)
        .await
        .unwrap_or_else(|e| panic!("list_versions of an unknown model failed: {e}"));
    assert!(empty.is_empty(), "an unknown model has no versions");
    let minimal = minimal_version(sample_version(&model, "a"));
    registry
        .register(minimal.clone())
        .await
        .unwrap_or_else(|e| panic!("registration failed: {e}"));
    let full = sample_version(&model, "b");
    registry
        .register(full.clone())
        .await
        .unwrap_or_else(|e| panic!("registration failed: {e}"));

    let v1 = registry
        .get_version(&model, 1)
        .await
        .unwrap_or_else(|e| panic!("get_version failed: {e}"))
        .unwrap_or_else(|| panic!("version 1 of {model} not found"));
    assert_eq!(
        v1.record, minimal,
        "optional fields left empty must stay empty"
    );
    let v2 = registry
        .get_version(&model, 2)
        .await
        .unwrap_or_else(|e| panic!("get_version failed: {e}"))
        .unwrap_or_else(|| panic!("version 2 of {model} not found"));
    assert_eq!(
        v2.record, full,
        "every field of the version must round-trip"
    );
    let missing = registry
        .get_version(&model, 3)
        .await
        .unwrap_or_else(|e| panic!("get_version failed: {e}"));
    assert!(missing.is_none(), "version 3 does not exist");
    let listed: Vec<u64> = registry
        .list_versions(&model)
        .await
        .unwrap_or_else(|e| panic!("list_versions failed: {e}"))
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(listed, vec![1, 2], "list_versions must be ascending");
}

/// Evaluations: put (replacing the same timestamp + execution), list oldest first, `since`.
pub async fn records_and_lists_evaluations<R>(registry: Arc<R>)
where
    R: RegistryRead + RegistryWrite + 'static,
{
    let model = unique_model_name("eval");
    let none = registry
        .list_evaluations(&model, None)
        .await
        .unwrap_or_else(|e| panic!("list_evaluations of an unknown model failed: {e}"));
    assert!(none.is_empty());
    let later = sample_evaluation(&model, 1, "2024-06-03T00:00:00.000Z", "e2");
    let mut earlier = sample_evaluation(&model, 1, "2024-06-02T00:00:00.000Z", "e1");
    earlier.drift = Some(sample_drift());
    for e in [later.clone(), earlier.clone()] {
        registry
            .put_evaluation(e)
            .await
            .unwrap_or_else(|e| panic!("put_evaluation failed: {e}"));
    }
    let all = registry
        .list_evaluations(&model, None)
        .await
        .unwrap_or_else(|e| panic!("list_evaluations failed: {e}"));
    assert_eq!(
        all,
        vec![earlier.clone(), later.clone()],
        "oldest first, every field kept"
    );

    let mut decided = earlier.clone();
    decided.retrain = Some(true);
    decided.reason = Some("rmse 0.9 above threshold 0.5".to_string());
    registry
        .put_evaluation(decided.clone())
        .await
        .unwrap_or_else(|e| panic!("put_evaluation (replace) failed: {e}"));
    let all = registry
        .list_evaluations(&model, None)
        .await
        .unwrap_or_else(|e| panic!("list_evaluations failed: {e}"));
    assert_eq!(
        all,
        vec![decided, later.clone()],
        "a put with the same timestamp and execution must replace the item"
    );
    let since = registry
        .list_evaluations(&model, Some("2024-06-02T12:00:00.000Z"))
        .await
        .unwrap_or_else(|e| panic!("list_evaluations since failed: {e}"));
    assert_eq!(
        since,
        vec![later.clone()],
        "since must drop older evaluations"
    );
    let inclusive = registry
        .list_evaluations(&model, Some("2024-06-03T00:00:00.000Z"))
        .await
        .unwrap_or_else(|e| panic!("list_evaluations since failed: {e}"));
    assert_eq!(inclusive, vec![later], "since is inclusive");

    let versions = registry
        .list_versions(&model)
        .await
        .unwrap_or_else(|e| panic!("list_versions failed: {e}"));
    assert!(
        versions.is_empty(),
        "evaluation items must not appear as versions"
    );
}

/// set_status changes only the status; an unknown version is `NotFound` and creates nothing.
pub async fn set_status_changes_only_the_status<R>(registry: Arc<R>)
where
    R: RegistryRead + RegistryWrite + 'static,
{
    let model = unique_model_name("status");
    let reg = registry
        .register(sample_version(&model, "s1"))
        .await
        .unwrap_or_else(|e| panic!("registration failed: {e}"));
    registry
        .set_status(&model, 1, VersionStatus::Approved)
        .await
        .unwrap_or_else(|e| panic!("set_status failed: {e}"));
    let v = registry
        .get_version(&model, 1)
        .await
        .unwrap_or_else(|e| panic!("get_version failed: {e}"))
        .unwrap_or_else(|| panic!("version 1 vanished after set_status"));
    assert_eq!(v.status, VersionStatus::Approved);
    assert_eq!(
        v.record, reg.version.record,
        "set_status must not change the record"
    );

    match registry.set_status(&model, 9, VersionStatus::Retired).await {
        Err(PortError::NotFound { .. }) => {}
        other => panic!("set_status of a missing version must be NotFound, got {other:?}"),
    }
    let versions = registry
        .list_versions(&model)
        .await
        .unwrap_or_else(|e| panic!("list_versions failed: {e}"));
    assert_eq!(
        versions.len(),
        1,
        "set_status of a missing version must not create it"
    );
    let unknown = unique_model_name("status-none");
    match registry
        .set_status(&unknown, 1, VersionStatus::Retired)
        .await
    {
        Err(PortError::NotFound { .. }) => {}
        other => panic!("set_status on an unknown model must be NotFound, got {other:?}"),
    }
    // The counter continues after status changes.
    let next = registry
        .register(sample_version(&model, "s2"))
        .await
        .unwrap_or_else(|e| panic!("registration failed: {e}"));
    assert_eq!(next.version.version, 2);
}

// ------------------------------------------------------------------ registry operations

/// The detail-type of each registry event and the version its detail names, in order: what
/// tests of the published events compare. `parts` gives an event's detail-type and detail (the
/// events may be [`crate::events::Event`]s or an adapter's logged form of them).
pub fn kinds_and_versions<'a, T>(
    events: &'a [T],
    parts: impl Fn(&'a T) -> (&'a str, &'a serde_json::Value),
) -> Vec<(&'a str, u64)> {
    events
        .iter()
        .map(|e| {
            let (detail_type, detail) = parts(e);
            let version = detail["version"]
                .as_u64()
                .unwrap_or_else(|| panic!("{detail_type} has no detail.version: {detail}"));
            (detail_type, version)
        })
        .collect()
}

/// An operation on `model`'s `version` at a fixed time.
pub fn operation(model: &str, version: u64, action: Action, reason: &str) -> Operation {
    Operation {
        model_name: model.to_string(),
        version,
        action,
        reason: reason.to_string(),
        at: "2024-06-03T09:30:00.000Z".to_string(),
        expected_revision: None,
    }
}

async fn register_n<R>(registry: &R, model: &str, n: u64)
where
    R: RegistryWrite + ?Sized,
{
    for i in 1..=n {
        registry
            .register(sample_version(model, &format!("op-{i}")))
            .await
            .unwrap_or_else(|e| panic!("registration {i} of {model} failed: {e}"));
    }
}

/// Registers versions 1..=`n` of `model` and approves version 1.
async fn register_n_approve_first<R>(registry: &R, model: &str, n: u64)
where
    R: RegistryWrite + ?Sized,
{
    register_n(registry, model, n).await;
    registry
        .operate(operation(model, 1, Action::Approve, "setup"))
        .await
        .unwrap_or_else(|e| panic!("setup approve of {model} v1 failed: {e}"));
}

async fn status_of<R>(registry: &R, model: &str, version: u64) -> VersionStatus
where
    R: RegistryRead + ?Sized,
{
    registry
        .get_version(model, version)
        .await
        .unwrap_or_else(|e| panic!("get_version failed: {e}"))
        .unwrap_or_else(|| panic!("version {version} of {model} vanished"))
        .status
}

async fn history_of<R>(registry: &R, model: &str, version: u64) -> Vec<VersionChange>
where
    R: RegistryRead + ?Sized,
{
    registry
        .version_history(model, version)
        .await
        .unwrap_or_else(|e| panic!("version_history of {model} v{version} failed: {e}"))
}

async fn revision_of<R>(registry: &R, model: &str) -> u64
where
    R: RegistryRead + ?Sized,
{
    registry
        .revision(model)
        .await
        .unwrap_or_else(|e| panic!("revision of {model} failed: {e}"))
}

/// Approve, reject and retire change only the status, each recorded in the version's history
/// (who, when, why, from, to, revision); impossible changes and bad requests are typed errors
/// that write nothing.
pub async fn operations_change_status_and_record_history<R>(registry: Arc<R>)
where
    R: RegistryRead + RegistryWrite + 'static,
{
    let registry = registry.as_ref();
    let model = unique_model_name("ops");
    register_n(registry, &model, 2).await;
    let approved = approve_changes_only_the_status(registry, &model).await;
    let rejected = reject_and_retire_are_recorded(registry, &model, approved).await;
    impossible_transitions_are_refused(registry, &model).await;
    missing_versions_and_empty_reasons_are_refused(registry, &model).await;
    assert_eq!(
        revision_of(registry, &model).await,
        3,
        "failed operations must not move the revision"
    );
    assert_eq!(history_of(registry, &model, 2).await, rejected);
    assert_eq!(
        status_of(registry, &model, 2).await,
        VersionStatus::Rejected,
        "failed operations must not change a status"
    );
}

/// Approves version 1 of a new `model`: the change returned names the caller, and only the
/// status changed. Returns the change.
async fn approve_changes_only_the_status<R>(registry: &R, model: &str) -> VersionChange
where
    R: RegistryRead + RegistryWrite + ?Sized,
{
    let who = registry
        .caller()
        .await
        .unwrap_or_else(|e| panic!("caller failed: {e}"));
    assert!(!who.is_empty(), "the caller's identity must not be empty");
    assert_eq!(revision_of(registry, model).await, 0);
    assert!(history_of(registry, model, 1).await.is_empty());
    let before = registry
        .get_version(model, 1)
        .await
        .unwrap_or_else(|e| panic!("get_version failed: {e}"))
        .unwrap_or_else(|| panic!("version 1 missing"));

    let approved = registry
        .operate(operation(model, 1, Action::Approve, "metrics reviewed"))
        .await
        .unwrap_or_else(|e| panic!("approve failed: {e}"));
    let expected = VersionChange {
        model_name: model.to_string(),
        version: 1,
        revision: 1,
        action: Action::Approve,
        from: VersionStatus::Registered,
        to: VersionStatus::Approved,
        actor: who,
        at: "2024-06-03T09:30:00.000Z".to_string(),
        reason: "metrics reviewed".to_string(),
        rolled_back_to: None,
    };
    assert_eq!(
        approved,
        vec![expected.clone()],
        "approve returns its change"
    );
    assert_eq!(status_of(registry, model, 1).await, VersionStatus::Approved);
    assert_eq!(revision_of(registry, model).await, 1);
    let after = registry
        .get_version(model, 1)
        .await
        .unwrap_or_else(|e| panic!("get_version failed: {e}"))
        .unwrap_or_else(|| panic!("version 1 missing"));
    assert_eq!(
        after.record, before.record,
        "an operation changes only the status"
    );
    expected
}

/// Rejects version 2 and retires version 1 (after `approved`): each version's history lists
/// its own changes, oldest first. Returns version 2's history.
async fn reject_and_retire_are_recorded<R>(
    registry: &R,
    model: &str,
    approved: VersionChange,
) -> Vec<VersionChange>
where
    R: RegistryRead + RegistryWrite + ?Sized,
{
    registry
        .operate(operation(model, 2, Action::Reject, "worse than v1"))
        .await
        .unwrap_or_else(|e| panic!("reject failed: {e}"));
    registry
        .operate(operation(model, 1, Action::Retire, "superseded"))
        .await
        .unwrap_or_else(|e| panic!("retire failed: {e}"));
    let history = history_of(registry, model, 1).await;
    let mut retired = approved.clone();
    retired.revision = 3;
    retired.action = Action::Retire;
    retired.from = VersionStatus::Approved;
    retired.to = VersionStatus::Retired;
    retired.reason = "superseded".to_string();
    assert_eq!(
        history,
        vec![approved, retired],
        "the history lists every change of the version, oldest first, and only its own"
    );
    let h2 = history_of(registry, model, 2).await;
    assert_eq!(
        h2.iter()
            .map(|c| (c.action, c.from, c.to, c.revision))
            .collect::<Vec<_>>(),
        vec![(
            Action::Reject,
            VersionStatus::Registered,
            VersionStatus::Rejected,
            2
        )]
    );
    h2
}

/// Approving a Retired version and rejecting a Rejected one are InvalidTransition, naming
/// what the current status allows.
async fn impossible_transitions_are_refused<R>(registry: &R, model: &str)
where
    R: RegistryWrite + ?Sized,
{
    match registry
        .operate(operation(model, 1, Action::Approve, "again"))
        .await
    {
        Err(OperationError::InvalidTransition {
            current: VersionStatus::Retired,
            allowed,
            action: Action::Approve,
            ..
        }) => assert!(
            allowed.is_empty(),
            "nothing is allowed on Retired: {allowed:?}"
        ),
        other => panic!("approving a Retired version must be InvalidTransition, got {other:?}"),
    }
    match registry
        .operate(operation(model, 2, Action::Reject, "again"))
        .await
    {
        Err(OperationError::InvalidTransition {
            current: VersionStatus::Rejected,
            allowed,
            ..
        }) => assert_eq!(allowed, vec![Action::Approve, Action::Retire]),
        other => panic!("rejecting a Rejected version must be InvalidTransition, got {other:?}"),
    }
}

/// An operation on a missing version or an unknown model is VersionNotFound; an empty reason
/// is InvalidRequest on `reason`.
async fn missing_versions_and_empty_reasons_are_refused<R>(registry: &R, model: &str)
where
    R: RegistryWrite + ?Sized,
{
    for (op, what) in [
        (
            operation(model, 9, Action::Approve, "x"),
            "a missing version",
        ),
        (
            operation(&unique_model_name("ops-none"), 1, Action::Approve, "x"),
            "an unknown model",
        ),
    ] {
        match registry.operate(op).await {
            Err(OperationError::VersionNotFound { .. }) => {}
            other => panic!("an operation on {what} must be VersionNotFound, got {other:?}"),
        }
    }
    match registry
        .operate(operation(model, 2, Action::Approve, "   "))
        .await
    {
        Err(OperationError::InvalidRequest {
            field: "reason", ..
        }) => {}
        other => panic!("an empty reason must be InvalidRequest on reason, got {other:?}"),
    }
}

/// A rollback makes the target the latest servable version: later Registered, PendingApproval
/// and Approved versions become Retired (recorded in their histories), Rejected ones stay.
pub async fn rollback_makes_an_earlier_version_the_latest<R>(registry: Arc<R>)
where
    R: RegistryRead + RegistryWrite + 'static,
{
    let model = unique_model_name("rollback");
    register_n(registry.as_ref(), &model, 4).await;
    for (version, action) in [
        (1, Action::Approve),
        (3, Action::Reject),
        (4, Action::Approve),
    ] {
        registry
            .operate(operation(&model, version, action, "setup"))
            .await
            .unwrap_or_else(|e| panic!("{action} v{version} failed: {e}"));
    }
    let latest = |statuses: &'static [VersionStatus]| {
        let registry = registry.clone();
        let model = model.clone();
        async move {
            registry
                .latest_version(&model, statuses)
                .await
                .unwrap_or_else(|e| panic!("latest_version failed: {e}"))
                .map(|v| v.version)
        }
    };
    assert_eq!(latest(&VersionStatus::SERVABLE).await, Some(4));

    let changes = registry
        .operate(operation(&model, 2, Action::RollBack, "v4 mispredicts"))
        .await
        .unwrap_or_else(|e| panic!("rollback failed: {e}"));
    assert_eq!(
        changes
            .iter()
            .map(|c| (c.version, c.from, c.to, c.rolled_back_to, c.revision))
            .collect::<Vec<_>>(),
        vec![
            (
                2,
                VersionStatus::Registered,
                VersionStatus::Registered,
                Some(2),
                4
            ),
            (
                4,
                VersionStatus::Approved,
                VersionStatus::Retired,
                Some(2),
                4
            ),
        ],
        "the rollback changes its target and every later servable version, at one revision"
    );
    assert_eq!(
        latest(&VersionStatus::SERVABLE).await,
        Some(2),
        "after the rollback the target is the latest servable version"
    );
    assert_eq!(latest(&[VersionStatus::Approved]).await, Some(1));
    assert_eq!(
        status_of(registry.as_ref(), &model, 3).await,
        VersionStatus::Rejected,
        "a Rejected later version stays Rejected"
    );
    let h4 = history_of(registry.as_ref(), &model, 4).await;
    assert_eq!(h4.len(), 2, "v4: approved, then retired by the rollback");
    assert_eq!(
        (h4[1].action, h4[1].reason.as_str()),
        (Action::RollBack, "v4 mispredicts")
    );
    assert_eq!(history_of(registry.as_ref(), &model, 2).await, changes[..1]);
    assert_eq!(revision_of(registry.as_ref(), &model).await, 4);

    match registry
        .operate(operation(&model, 2, Action::RollBack, "again"))
        .await
    {
        Err(OperationError::NothingToRollBack { version: 2, .. }) => {}
        other => panic!("a second rollback to the latest must be NothingToRollBack, got {other:?}"),
    }
    match registry
        .operate(operation(&model, 3, Action::RollBack, "to a rejected one"))
        .await
    {
        Err(OperationError::InvalidTransition {
            current: VersionStatus::Rejected,
            action: Action::RollBack,
            ..
        }) => {}
        other => {
            panic!("a rollback to a Rejected version must be InvalidTransition, got {other:?}")
        }
    }
    // A rollback to an Approved version under later ones.
    registry
        .register(sample_version(&model, "op-5"))
        .await
        .unwrap_or_else(|e| panic!("registration failed: {e}"));
    assert_eq!(latest(&VersionStatus::SERVABLE).await, Some(5));
    registry
        .operate(operation(
            &model,
            1,
            Action::RollBack,
            "back to the approved one",
        ))
        .await
        .unwrap_or_else(|e| panic!("rollback to v1 failed: {e}"));
    assert_eq!(latest(&VersionStatus::SERVABLE).await, Some(1));
    for v in [2, 5] {
        assert_eq!(
            status_of(registry.as_ref(), &model, v).await,
            VersionStatus::Retired
        );
    }
}

/// An operation that names the revision its caller saw applies only on exactly that state.
pub async fn stale_operations_conflict_and_change_nothing<R>(registry: Arc<R>)
where
    R: RegistryRead + RegistryWrite + 'static,
{
    let model = unique_model_name("stale");
    register_n_approve_first(registry.as_ref(), &model, 2).await;
    let stale = decided_at(
        operation(&model, 2, Action::Approve, "decided on revision 0"),
        0,
    );
    match registry.operate(stale.clone()).await {
        Err(OperationError::RegistryConflict {
            current: VersionStatus::Registered,
            expected_revision: 0,
            current_revision: 1,
            version: 2,
            ..
        }) => {}
        other => {
            panic!("a stale operation must be RegistryConflict naming the state, got {other:?}")
        }
    }
    assert_eq!(
        status_of(registry.as_ref(), &model, 2).await,
        VersionStatus::Registered
    );
    assert!(history_of(registry.as_ref(), &model, 2).await.is_empty());
    registry
        .operate(decided_at(stale, 1))
        .await
        .unwrap_or_else(|e| panic!("an operation on the current revision failed: {e}"));
    assert_eq!(revision_of(registry.as_ref(), &model).await, 2);
}

/// Under the approval gate a version is registered `PendingApproval`: not servable, not
/// Approved, until approved; other initial statuses are rejected.
pub async fn pending_versions_wait_for_approval<R>(registry: Arc<R>)
where
    R: RegistryRead + RegistryWrite + 'static,
{
    let model = unique_model_name("gate");
    register_n_approve_first(registry.as_ref(), &model, 1).await;
    let pending = registry
        .register_as(
            sample_version(&model, "gated"),
            VersionStatus::PendingApproval,
        )
        .await
        .unwrap_or_else(|e| panic!("register_as PendingApproval failed: {e}"));
    assert_eq!(pending.version.status, VersionStatus::PendingApproval);
    assert_eq!(
        status_of(registry.as_ref(), &model, 2).await,
        VersionStatus::PendingApproval
    );
    let again = registry
        .register_as(
            sample_version(&model, "gated"),
            VersionStatus::PendingApproval,
        )
        .await
        .unwrap_or_else(|e| panic!("re-registration failed: {e}"));
    assert!(!again.created && again.version == pending.version);
    let latest = |statuses: &'static [VersionStatus]| {
        let registry = registry.clone();
        let model = model.clone();
        async move {
            registry
                .latest_version(&model, statuses)
                .await
                .unwrap_or_else(|e| panic!("latest_version failed: {e}"))
                .map(|v| v.version)
        }
    };
    assert_eq!(
        latest(&VersionStatus::SERVABLE).await,
        Some(1),
        "a pending version is not servable"
    );
    assert_eq!(latest(&[VersionStatus::Approved]).await, Some(1));
    registry
        .operate(operation(&model, 2, Action::Approve, "reviewed"))
        .await
        .unwrap_or_else(|e| panic!("approving the pending version failed: {e}"));
    assert_eq!(latest(&[VersionStatus::Approved]).await, Some(2));
    for status in [
        VersionStatus::Approved,
        VersionStatus::Rejected,
        VersionStatus::Retired,
    ] {
        match registry
            .register_as(sample_version(&model, &format!("as-{status}")), status)
            .await
        {
            Err(PortError::Rejected { .. }) => {}
            other => panic!("registering as {status} must be Rejected, got {other:?}"),
        }
    }
    assert_eq!(
        registry
            .list_versions(&model)
            .await
            .unwrap_or_else(|e| panic!("list_versions failed: {e}"))
            .len(),
        2,
        "a rejected registration writes nothing"
    );
}

/// How many rounds of each race [`concurrent_operations_never_lose_a_change`] runs.
pub const RACE_ROUNDS: usize = 4;

/// An operation decided on `revision` (the caller's expected revision).
fn decided_at(mut op: Operation, revision: u64) -> Operation {
    op.expected_revision = Some(revision);
    op
}

/// Runs the operations `a` and `b` at the same time (both start after a barrier).
async fn race<R>(
    registry: &Arc<R>,
    a: Operation,
    b: Operation,
) -> (
    Result<Vec<VersionChange>, OperationError>,
    Result<Vec<VersionChange>, OperationError>,
)
where
    R: RegistryWrite + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let (ra, ba) = (registry.clone(), barrier.clone());
    let ta = tokio::spawn(async move {
        ba.wait().await;
        ra.operate(a).await
    });
    let (rb, bb) = (registry.clone(), barrier);
    let tb = tokio::spawn(async move {
        bb.wait().await;
        rb.operate(b).await
    });
    (
        ta.await
            .unwrap_or_else(|e| panic!("operation task panicked: {e}")),
        tb.await
            .unwrap_or_else(|e| panic!("operation task panicked: {e}")),
    )
}

/// The winner's changes and the loser's error when exactly one of `a` and `b` won.
fn one_winner(
    round: usize,
    a: &Result<Vec<VersionChange>, OperationError>,
    b: &Result<Vec<VersionChange>, OperationError>,
) -> (Vec<VersionChange>, OperationError) {
    match (a, b) {
        (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w.clone(), l.clone()),
        _ => panic!("round {round}: exactly one approval must win, got {a:?} and {b:?}"),
    }
}

/// Every change recorded on `versions` at `revision`.
async fn changes_at<R>(
    registry: &R,
    model: &str,
    versions: &[u64],
    revision: u64,
) -> Vec<VersionChange>
where
    R: RegistryRead + ?Sized,
{
    let mut out = Vec::new();
    for v in versions {
        out.extend(
            history_of(registry, model, *v)
                .await
                .into_iter()
                .filter(|c| c.revision == revision),
        );
    }
    out
}

/// The RACE: two concurrent approvals of one version, and a rollback racing an approval of a
/// later version, never lose a change: exactly one wins, the other gets `RegistryConflict`
/// naming the current state (or, when it read after the winner wrote and named no revision,
/// `InvalidTransition` naming it), and the history holds exactly the winner's change.
pub async fn concurrent_operations_never_lose_a_change<R>(registry: Arc<R>)
where
    R: RegistryRead + RegistryWrite + 'static,
{
    for round in 0..RACE_ROUNDS {
        // Two operators approve the same version, both having seen revision 0.
        let model = unique_model_name("race-approve");
        register_n(registry.as_ref(), &model, 1).await;
        let (a, b) = race(
            &registry,
            decided_at(operation(&model, 1, Action::Approve, "operator A"), 0),
            decided_at(operation(&model, 1, Action::Approve, "operator B"), 0),
        )
        .await;
        let (winner, loser) = one_winner(round, &a, &b);
        assert!(
            matches!(
                loser,
                OperationError::RegistryConflict {
                    current: VersionStatus::Approved,
                    expected_revision: 0,
                    current_revision: 1,
                    ..
                }
            ),
            "round {round}: the losing approval must be RegistryConflict naming Approved at revision 1, got {loser:?}"
        );
        assert_eq!(
            history_of(registry.as_ref(), &model, 1).await,
            winner,
            "round {round}: the history holds exactly the winner's change"
        );
        assert_eq!(revision_of(registry.as_ref(), &model).await, 1);

        // The same without an expected revision: each decides on what it reads.
        let model = unique_model_name("race-approve-read");
        register_n(registry.as_ref(), &model, 1).await;
        let (a, b) = race(
            &registry,
            operation(&model, 1, Action::Approve, "operator A"),
            operation(&model, 1, Action::Approve, "operator B"),
        )
        .await;
        let (winner, loser) = one_winner(round, &a, &b);
        assert!(
            matches!(
                loser,
                OperationError::RegistryConflict {
                    current: VersionStatus::Approved,
                    ..
                } | OperationError::InvalidTransition {
                    current: VersionStatus::Approved,
                    ..
                }
            ),
            "round {round}: the losing approval must name the current status Approved, got {loser:?}"
        );
        assert_eq!(history_of(registry.as_ref(), &model, 1).await, winner);

        // A rollback to v1 races an approval of v3, both decided on the same revision.
        let model = unique_model_name("race-rollback");
        register_n_approve_first(registry.as_ref(), &model, 3).await;
        let (rollback, approve) = race(
            &registry,
            decided_at(
                operation(&model, 1, Action::RollBack, "operator A rolls back"),
                1,
            ),
            decided_at(
                operation(&model, 3, Action::Approve, "operator B approves"),
                1,
            ),
        )
        .await;
        let (winner, loser, latest) = match (&rollback, &approve) {
            (Ok(w), Err(l)) => (w.clone(), l.clone(), 1),
            (Err(l), Ok(w)) => (w.clone(), l.clone(), 3),
            _ => panic!(
                "round {round}: exactly one of rollback and approval must win, got {rollback:?} and {approve:?}"
            ),
        };
        assert!(
            matches!(
                loser,
                OperationError::RegistryConflict {
                    expected_revision: 1,
                    current_revision: 2,
                    ..
                }
            ),
            "round {round}: the loser must be RegistryConflict at revision 2, got {loser:?}"
        );
        let recorded = changes_at(registry.as_ref(), &model, &[1, 2, 3], 2).await;
        let mut expected = winner.clone();
        expected.sort_by_key(|c| c.version);
        assert_eq!(
            recorded, expected,
            "round {round}: the histories hold exactly the winner's changes"
        );
        let found = registry
            .latest_version(&model, &VersionStatus::SERVABLE)
            .await
            .unwrap_or_else(|e| panic!("latest_version failed: {e}"))
            .map(|v| v.version);
        assert_eq!(
            found,
            Some(latest),
            "round {round}: the winner's state holds"
        );
    }
}

/// Every behaviour above, in sequence.
pub async fn run_all<R>(registry: Arc<R>)
where
    R: RegistryRead + RegistryWrite + 'static,
{
    registers_idempotently_per_execution(registry.clone()).await;
    gets_and_lists_versions(registry.clone()).await;
    latest_version_respects_statuses(registry.clone()).await;
    records_and_lists_evaluations(registry.clone()).await;
    set_status_changes_only_the_status(registry.clone()).await;
    operations_change_status_and_record_history(registry.clone()).await;
    rollback_makes_an_earlier_version_the_latest(registry.clone()).await;
    stale_operations_conflict_and_change_nothing(registry.clone()).await;
    pending_versions_wait_for_approval(registry.clone()).await;
    concurrent_operations_never_lose_a_change(registry.clone()).await;
    concurrent_registrations_are_gap_free(registry).await;
}

#[cfg(test)]
mod tests {
    //! The contract suite must fail a registry that breaks it: each behaviour is run against the
    //! in-memory registry with one fault, and must panic; without a fault, all of it passes.

    use std::future::Future;
    use std::sync::atomic::AtomicU64;

    use async_trait::async_trait;

    use super::*;
    use crate::memory::InMemoryRegistry;
    use crate::registry::{ModelVersion, Registration};

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Fault {
        None,
        /// Every registration creates a new version (no execution marker).
        NotIdempotent,
        /// `list_versions` returns nothing.
        ListsNothing,
        /// `latest_version` ignores the statuses asked for.
        LatestIgnoresStatus,
        /// `put_evaluation` drops the record.
        DropsEvaluations,
        /// `set_status` succeeds without changing anything.
        StatusUnchanged,
        /// `version_history` returns nothing.
        NoHistory,
        /// `operate` ignores the revision its caller decided on.
        IgnoresExpectedRevision,
        /// `operate` of a rollback changes only its target.
        RollbackKeepsLater,
        /// `operate` answers an impossible transition with no change instead of an error.
        SwallowsInvalidTransitions,
        /// `operate` answers a blank reason with no change instead of an error.
        AcceptsBlankReasons,
    }

    struct Faulty {
        inner: InMemoryRegistry,
        fault: Fault,
        calls: AtomicU64,
    }

    fn faulty(fault: Fault) -> Arc<Faulty> {
        Arc::new(Faulty {
            inner: InMemoryRegistry::new(),
            fault,
            calls: AtomicU64::new(0),
        })
    }

    const ALL_STATUSES: [VersionStatus; 5] = VersionStatus::ALL;

    #[async_trait]
    impl RegistryRead for Faulty {
        async fn latest_version(
            &self,
            model: &str,
            statuses: &[VersionStatus],
        ) -> Result<Option<ModelVersion>, PortError> {
            let statuses = if self.fault == Fault::LatestIgnoresStatus {
                &ALL_STATUSES[..]
            } else {
                statuses
            };
            self.inner.latest_version(model, statuses).await
        }
        async fn get_version(
            &self,
            model: &str,
            version: u64,
        ) -> Result<Option<ModelVersion>, PortError> {
            self.inner.get_version(model, version).await
        }
        async fn list_versions(&self, model: &str) -> Result<Vec<ModelVersion>, PortError> {
            if self.fault == Fault::ListsNothing {
                return Ok(Vec::new());
            }
            self.inner.list_versions(model).await
        }
        async fn list_evaluations(
            &self,
            model: &str,
            since: Option<&str>,
        ) -> Result<Vec<EvaluationRecord>, PortError> {
            self.inner.list_evaluations(model, since).await
        }
        async fn revision(&self, model: &str) -> Result<u64, PortError> {
            self.inner.revision(model).await
        }
        async fn version_history(
            &self,
            model: &str,
            version: u64,
        ) -> Result<Vec<VersionChange>, PortError> {
            if self.fault == Fault::NoHistory {
                return Ok(Vec::new());
            }
            self.inner.version_history(model, version).await
        }
    }

    #[async_trait]
    impl RegistryWrite for Faulty {
        async fn register_as(
            &self,
            mut new: NewVersion,
            status: VersionStatus,
        ) -> Result<Registration, PortError> {
            if self.fault == Fault::NotIdempotent {
                let n = self.calls.fetch_add(1, Ordering::Relaxed);
                new.execution_arn = format!("{}-call-{n}", new.execution_arn);
            }
            self.inner.register_as(new, status).await
        }
        async fn caller(&self) -> Result<String, PortError> {
            self.inner.caller().await
        }
        async fn operate(
            &self,
            mut operation: Operation,
        ) -> Result<Vec<VersionChange>, OperationError> {
            match self.fault {
                Fault::IgnoresExpectedRevision => operation.expected_revision = None,
                Fault::RollbackKeepsLater if operation.action == Action::RollBack => {
                    let v = self
                        .inner
                        .get_version(&operation.model_name, operation.version)
                        .await?
                        .ok_or_else(|| PortError::not_found("version"))?;
                    let mut change = self.inner.operate(operation).await?;
                    change.truncate(1);
                    self.inner
                        .set_status(&v.record.model_name, v.version, v.status)
                        .await?;
                    return Ok(change);
                }
                Fault::AcceptsBlankReasons if operation.reason.trim().is_empty() => {
                    return Ok(Vec::new());
                }
                Fault::SwallowsInvalidTransitions => {
                    return match self.inner.operate(operation).await {
                        Err(OperationError::InvalidTransition { .. }) => Ok(Vec::new()),
                        other => other,
                    };
                }
                _ => {}
            }
            self.inner.operate(operation).await
        }
        async fn put_evaluation(&self, record: EvaluationRecord) -> Result<(), PortError> {
            if self.fault == Fault::DropsEvaluations {
                return Ok(());
            }
            self.inner.put_evaluation(record).await
        }
        async fn set_status(
            &self,
            model: &str,
            version: u64,
            status: VersionStatus,
        ) -> Result<(), PortError> {
            if self.fault == Fault::StatusUnchanged {
                return match self.inner.get_version(model, version).await? {
                    Some(_) => Ok(()),
                    None => Err(PortError::not_found(format!("{model} v{version}"))),
                };
            }
            self.inner.set_status(model, version, status).await
        }
    }

    /// Whether `check` panics (run as its own task).
    async fn fails(check: impl Future<Output = ()> + Send + 'static) -> bool {
        tokio::spawn(check).await.is_err_and(|e| e.is_panic())
    }

    /// Whether `check` fails against a registry with `fault`.
    async fn fails_with<F, Fut>(check: F, fault: Fault) -> bool
    where
        F: FnOnce(Arc<Faulty>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        fails(check(faulty(fault))).await
    }

    #[tokio::test]
    async fn given_a_correct_registry_when_the_contract_runs_then_it_passes() {
        assert!(!fails_with(run_all, Fault::None).await);
    }

    #[tokio::test]
    async fn given_a_registry_that_registers_twice_when_checked_then_idempotency_and_gap_freedom_fail()
     {
        assert!(fails_with(registers_idempotently_per_execution, Fault::NotIdempotent).await);
        assert!(fails_with(concurrent_registrations_are_gap_free, Fault::NotIdempotent).await);
        assert!(fails_with(run_all, Fault::NotIdempotent).await);
    }

    #[tokio::test]
    async fn given_a_registry_that_lists_nothing_when_checked_then_listing_fails() {
        assert!(fails_with(gets_and_lists_versions, Fault::ListsNothing).await);
    }

    #[tokio::test]
    async fn given_a_registry_whose_latest_ignores_statuses_when_checked_then_latest_fails() {
        assert!(fails_with(latest_version_respects_statuses, Fault::LatestIgnoresStatus).await);
    }

    #[tokio::test]
    async fn given_a_registry_that_drops_evaluations_when_checked_then_evaluations_fail() {
        assert!(fails_with(records_and_lists_evaluations, Fault::DropsEvaluations).await);
    }

    #[tokio::test]
    async fn given_a_registry_without_history_when_checked_then_operations_fail() {
        assert!(
            fails_with(
                operations_change_status_and_record_history,
                Fault::NoHistory
            )
            .await
        );
        assert!(fails_with(concurrent_operations_never_lose_a_change, Fault::NoHistory).await);
    }

    #[tokio::test]
    async fn given_a_registry_that_ignores_the_expected_revision_when_raced_then_the_race_fails() {
        assert!(
            fails_with(
                concurrent_operations_never_lose_a_change,
                Fault::IgnoresExpectedRevision
            )
            .await
        );
        assert!(
            fails_with(
                stale_operations_conflict_and_change_nothing,
                Fault::IgnoresExpectedRevision
            )
            .await
        );
    }

    #[tokio::test]
    async fn given_a_rollback_that_keeps_later_versions_when_checked_then_rollback_fails() {
        assert!(
            fails_with(
                rollback_makes_an_earlier_version_the_latest,
                Fault::RollbackKeepsLater
            )
            .await
        );
    }

    /// Each phase of the operations contract fails on its own fault: a registry that quietly
    /// does nothing changes no status or revision, so only the phase that expects the error
    /// notices it.
    #[tokio::test]
    async fn given_a_registry_that_refuses_nothing_when_checked_then_the_operations_contract_fails()
    {
        for fault in [
            Fault::SwallowsInvalidTransitions,
            Fault::AcceptsBlankReasons,
        ] {
            assert!(
                fails_with(operations_change_status_and_record_history, fault).await,
                "{fault:?}"
            );
        }
    }

    #[tokio::test]
    async fn given_a_registry_whose_status_never_changes_when_checked_then_set_status_fails() {
        assert!(fails_with(set_status_changes_only_the_status, Fault::StatusUnchanged).await);
    }
}
