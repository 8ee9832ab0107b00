//! The event side of a function built without the `eventbridge` feature: it links no
//! EventBridge client, so it must not seem to publish. [`NoEventBus`] refuses every
//! publication and [`NoEventBusRegistry`] refuses the registry writes that publish
//! (registrations and operations) before writing anything, so a version is never written
//! without its event; the writes that publish nothing (evaluations, status repairs) go through.
//!
//! Compiled in every build (the selection in `dependencies_from_env` is what the feature
//! gates), so its tests run whatever features the workspace build unifies.

use std::sync::Arc;

use async_trait::async_trait;
use mdlc_core::PortError;
use mdlc_core::events::Event;
use mdlc_core::ports::{EventPublisher, RegistryWrite};
use mdlc_core::registry::{EvaluationRecord, NewVersion, Registration, VersionStatus};
use mdlc_core::registry_ops::{Operation, OperationError, VersionChange};

/// Why nothing can be published: names the feature and where to enable it.
fn refusal(what: &str) -> PortError {
    PortError::Rejected {
        message: format!(
            "{what} publishes events (docs/events.md), but this function was built without \
             mdlc-lambda's `eventbridge` feature and has no EventBridge client; enable \
             `mdlc-lambda = {{ ..., features = [\"eventbridge\"] }}` in its Cargo.toml"
        ),
    }
}

/// An `EventPublisher` that refuses every non-empty publication (`PortError::Rejected`).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEventBus;

#[async_trait]
impl EventPublisher for NoEventBus {
    async fn publish(&self, events: &[Event]) -> Result<(), PortError> {
        match events {
            [] => Ok(()),
            [first, ..] => Err(refusal(&format!(
                "publishing {} event(s) ({:?} first)",
                events.len(),
                first.detail_type
            ))),
        }
    }
}

/// The registry handle of a function without an event bus: `register_as` and `operate`, whose
/// changes are published on a build with the feature, are refused without touching the
/// registry; the rest is the wrapped registry's.
pub struct NoEventBusRegistry {
    inner: Arc<dyn RegistryWrite>,
}

impl NoEventBusRegistry {
    pub fn new(inner: Arc<dyn RegistryWrite>) -> Self {
        NoEventBusRegistry { inner }
    }
}

impl std::fmt::Debug for NoEventBusRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoEventBusRegistry").finish_non_exhaustive()
    }
}

#[async_trait]
impl RegistryWrite for NoEventBusRegistry {
    async fn register_as(
        &self,
        new: NewVersion,
        _status: VersionStatus,
    ) -> Result<Registration, PortError> {
        Err(refusal(&format!(
            "registering a version of model {:?}",
            new.model_name
        )))
    }

    async fn put_evaluation(&self, record: EvaluationRecord) -> Result<(), PortError> {
        self.inner.put_evaluation(record).await
    }

    async fn caller(&self) -> Result<String, PortError> {
        self.inner.caller().await
    }

    async fn operate(&self, operation: Operation) -> Result<Vec<VersionChange>, OperationError> {
        Err(OperationError::Port(refusal(&format!(
            "{} of version {} of model {:?}",
            operation.action, operation.version, operation.model_name
        ))))
    }

    async fn set_status(
        &self,
        model: &str,
        version: u64,
        status: VersionStatus,
    ) -> Result<(), PortError> {
        self.inner.set_status(model, version, status).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mdlc_core::contract::{operation, sample_evaluation, sample_version};
    use mdlc_core::events;
    use mdlc_core::memory::InMemoryRegistry;
    use mdlc_core::ports::RegistryRead;
    use mdlc_core::registry_ops::Action;

    fn assert_refusal(e: &PortError, what: &str) {
        let PortError::Rejected { message } = e else {
            panic!("expected Rejected, got {e:?}");
        };
        assert!(message.contains(what), "{message}");
        assert!(message.contains("`eventbridge` feature"), "{message}");
        assert!(!e.is_retryable());
    }

    #[tokio::test]
    async fn the_bus_refuses_any_event_and_accepts_an_empty_publication() {
        let registered = events::version_registered(
            &InMemoryRegistry::new()
                .register(sample_version("churn", "arn:exec:1"))
                .await
                .unwrap()
                .version,
        );
        let e = NoEventBus.publish(&[registered]).await.unwrap_err();
        assert_refusal(&e, "\"Model Version Registered\" first");
        NoEventBus.publish(&[]).await.unwrap();
    }

    #[tokio::test]
    async fn a_registration_is_refused_before_anything_is_written() {
        let inner = Arc::new(InMemoryRegistry::new());
        let registry = NoEventBusRegistry::new(inner.clone());
        let e = registry
            .register(sample_version("churn", "arn:exec:1"))
            .await
            .unwrap_err();
        assert_refusal(&e, "registering a version of model \"churn\"");
        assert_eq!(inner.list_versions("churn").await.unwrap(), vec![]);
    }

    #[tokio::test]
    async fn an_operation_is_refused_before_anything_is_written() {
        let inner = Arc::new(InMemoryRegistry::new());
        inner
            .register_as(
                sample_version("churn", "arn:exec:1"),
                VersionStatus::PendingApproval,
            )
            .await
            .unwrap();
        let registry = NoEventBusRegistry::new(inner.clone());
        let e = registry
            .operate(operation("churn", 1, Action::Approve, "looks good"))
            .await
            .unwrap_err();
        let OperationError::Port(e) = e else {
            panic!("expected a port error, got {e:?}");
        };
        assert_refusal(&e, "of version 1 of model \"churn\"");
        let version = inner.get_version("churn", 1).await.unwrap().unwrap();
        assert_eq!(version.status, VersionStatus::PendingApproval);
    }

    #[tokio::test]
    async fn evaluations_which_publish_nothing_are_written() {
        let inner = Arc::new(InMemoryRegistry::new());
        inner
            .register(sample_version("churn", "arn:exec:1"))
            .await
            .unwrap();
        let registry = NoEventBusRegistry::new(inner.clone());
        registry
            .put_evaluation(sample_evaluation(
                "churn",
                1,
                "2024-06-01T12:00:00Z",
                "arn:exec:2",
            ))
            .await
            .unwrap();
        assert_eq!(
            inner.list_evaluations("churn", None).await.unwrap().len(),
            1
        );
    }
}
