//! The registry that publishes its changes: a [`RegistryWrite`] decorator that, after a
//! successful registration or operation of the registry it wraps, publishes its events. Every
//! caller of the registry (register-model, the CLI's operations, the local cloud) gets the
//! events by using this handle.
//!
//! Delivery is at least once: a registration publishes on every successful call, also when it
//! returns the version an earlier call of the same execution wrote (`created: false`), so a
//! retry after a failed publication publishes again; consumers deduplicate on
//! `modelName`/`version` (and `revision` for operations).

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::PortError;
use crate::events::{self, Event};
use crate::ports::{EventPublisher, RegistryWrite};
use crate::registry::{EvaluationRecord, NewVersion, Registration, VersionStatus};
use crate::registry_ops::{Operation, OperationError, VersionChange};

/// A registry handle whose registrations and operations are published.
pub struct PublishingRegistry {
    inner: Arc<dyn RegistryWrite>,
    events: Arc<dyn EventPublisher>,
}

impl PublishingRegistry {
    pub fn new(inner: Arc<dyn RegistryWrite>, events: Arc<dyn EventPublisher>) -> Self {
        PublishingRegistry { inner, events }
    }
}

impl std::fmt::Debug for PublishingRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishingRegistry").finish_non_exhaustive()
    }
}

/// The events of an applied operation: one per changed version, the target's first.
pub fn operation_events(changes: &[VersionChange]) -> Vec<Event> {
    changes.iter().map(events::version_changed).collect()
}

/// The error of an operation that was applied but whose events were not published: the
/// change stands (it is in the history), the caller must know the events are missing.
fn unpublished(first: &VersionChange, error: PortError) -> OperationError {
    OperationError::Port(PortError::Unavailable {
        message: format!(
            "{} of version {} of model {:?} was applied (revision {}), but its events were not published: {error}",
            first.action, first.version, first.model_name, first.revision
        ),
    })
}

#[async_trait]
impl RegistryWrite for PublishingRegistry {
    async fn register_as(
        &self,
        new: NewVersion,
        status: VersionStatus,
    ) -> Result<Registration, PortError> {
        let registration = self.inner.register_as(new, status).await?;
        let event = events::version_registered(&registration.version);
        self.events
            .publish(&[event])
            .await
            .map_err(|e| PortError::Unavailable {
                message: format!(
                    "version {} of model {:?} is registered, but its event was not published: {e}",
                    registration.version.version, registration.version.record.model_name
                ),
            })?;
        Ok(registration)
    }

    async fn put_evaluation(&self, record: EvaluationRecord) -> Result<(), PortError> {
        self.inner.put_evaluation(record).await
    }

    async fn caller(&self) -> Result<String, PortError> {
        self.inner.caller().await
    }

    async fn operate(&self, operation: Operation) -> Result<Vec<VersionChange>, OperationError> {
        let changes = self.inner.operate(operation).await?;
        if let Some(first) = changes.first() {
            self.events
                .publish(&operation_events(&changes))
                .await
                .map_err(|e| unpublished(first, e))?;
        }
        Ok(changes)
    }

    async fn set_status(
        &self,
        model: &str,
        version: u64,
        status: VersionStatus,
    ) -> Result<(), PortError> {
        // Test and repair use: no operation, no history, no event.
        self.inner.set_status(model, version, status).await
    }
}
