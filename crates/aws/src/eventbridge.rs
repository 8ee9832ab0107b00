//! EventBridge adapter of the `EventPublisher` port: `PutEvents` on one bus.
//!
//! A publication is checked and split by `mdlc_core::events::batches` (at most 10 entries and
//! 256 KiB per call; nothing is sent when an entry would be refused). A response with a
//! non-zero `FailedEntryCount` is handled entry by entry, as EventBridge asks: the entries whose
//! result has an `ErrorCode` are sent again (up to [`PUT_EVENTS_MAX_ATTEMPTS`] attempts in all,
//! with a short doubling pause), and those still failing make the publication fail with
//! `PortError::Unavailable` naming each one's detail-type, error code and message.
//!
//! IAM: `events:PutEvents` on `arn:aws:events:<region>:<account>:event-bus/<bus>`.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_eventbridge::types::{PutEventsRequestEntry, PutEventsResultEntry};
use mdlc_core::PortError;
use mdlc_core::deps::env_value;
use mdlc_core::events::{self, Event};
use mdlc_core::ports::EventPublisher;

use crate::error::map_sdk_error;

/// Environment variable: the bus the functions publish to (default [`DEFAULT_EVENT_BUS`]).
pub const ENV_EVENT_BUS_NAME: &str = "MDLC_EVENT_BUS_NAME";
/// The account's default bus.
pub const DEFAULT_EVENT_BUS: &str = "default";
/// Attempts per entry (the first call and two resends of its failed entries).
pub const PUT_EVENTS_MAX_ATTEMPTS: u32 = 3;
/// The pause before the first resend (doubled before each next one).
const FIRST_PAUSE: Duration = Duration::from_millis(100);

/// Publishes to one EventBridge bus.
#[derive(Debug, Clone)]
pub struct EventBridgePublisher {
    client: aws_sdk_eventbridge::Client,
    bus: String,
    max_attempts: u32,
}

impl EventBridgePublisher {
    /// A publisher to `bus` (a name or an ARN).
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        EventBridgePublisher {
            client,
            bus: bus.into(),
            max_attempts: PUT_EVENTS_MAX_ATTEMPTS,
        }
    }

    /// A client from `sdk`, to the bus `MDLC_EVENT_BUS_NAME` names (read through `lookup`),
    /// else `default`. `endpoint_url` overrides the SDK's (moto).
    pub fn from_sdk_config(
        sdk: &SdkConfig,
        endpoint_url: Option<&str>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let bus = env_value(lookup, ENV_EVENT_BUS_NAME).unwrap_or(DEFAULT_EVENT_BUS.to_string());
        Self::on_bus(sdk, endpoint_url, bus)
    }

    /// A client from `sdk` (its endpoint overridden by `endpoint_url`) to `bus`.
    pub fn on_bus(sdk: &SdkConfig, endpoint_url: Option<&str>, bus: impl Into<String>) -> Self {
        let mut conf = aws_sdk_eventbridge::config::Builder::from(sdk);
        if let Some(url) = endpoint_url {
            conf = conf.endpoint_url(url);
        }
        Self::new(aws_sdk_eventbridge::Client::from_conf(conf.build()), bus)
    }

    /// How many attempts an entry gets (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The bus published to.
    pub fn bus(&self) -> &str {
        &self.bus
    }

    fn entry(&self, event: &Event) -> PutEventsRequestEntry {
        let time = chrono::DateTime::parse_from_rfc3339(&event.time)
            .ok()
            .map(|t| aws_smithy_types::DateTime::from_millis(t.timestamp_millis()));
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(&event.source)
            .detail_type(&event.detail_type)
            .detail(event.detail_text())
            .set_resources(Some(event.resources.clone()))
            .set_time(time)
            .build()
    }

    /// One call's entries, resent until none fails or the attempts are used up.
    async fn put_batch(&self, batch: &[Event]) -> Result<(), PortError> {
        let mut pending: Vec<&Event> = batch.iter().collect();
        let mut pause = FIRST_PAUSE;
        let mut attempt = 1;
        loop {
            let out = self
                .client
                .put_events()
                .set_entries(Some(pending.iter().map(|e| self.entry(e)).collect()))
                .send()
                .await
                .map_err(|e| map_sdk_error("PutEvents", &self.bus, &e))?;
            if out.failed_entry_count() == 0 {
                return Ok(());
            }
            let failed = failed_entries(&pending, out.entries())?;
            if attempt >= self.max_attempts {
                return Err(not_published(&self.bus, &failed, batch.len(), attempt));
            }
            tracing::warn!(
                bus = %self.bus,
                failed = failed.len(),
                attempt,
                "PutEvents: resending failed entries"
            );
            pending = failed.into_iter().map(|(e, _)| e).collect();
            tokio::time::sleep(pause).await;
            pause *= 2;
            attempt += 1;
        }
    }
}

/// The sent entries whose result has an error code, each with its `code: message`. The
/// response holds one result per sent entry, in order; anything else is `Corrupt`.
fn failed_entries<'a>(
    sent: &[&'a Event],
    results: &[PutEventsResultEntry],
) -> Result<Vec<(&'a Event, String)>, PortError> {
    if results.len() != sent.len() {
        return Err(PortError::Corrupt {
            message: format!(
                "PutEvents answered {} results for {} entries",
                results.len(),
                sent.len()
            ),
        });
    }
    let failed: Vec<(&Event, String)> = sent
        .iter()
        .zip(results)
        .filter_map(|(event, result)| {
            result.error_code().map(|code| {
                (
                    *event,
                    format!("{code}: {}", result.error_message().unwrap_or("")),
                )
            })
        })
        .collect();
    if failed.is_empty() {
        return Err(PortError::Corrupt {
            message: "PutEvents reported failed entries but no entry has an error code".into(),
        });
    }
    Ok(failed)
}

fn not_published(bus: &str, failed: &[(&Event, String)], of: usize, attempts: u32) -> PortError {
    let each: Vec<String> = failed
        .iter()
        .map(|(e, why)| format!("{} ({why})", e.detail_type))
        .collect();
    PortError::Unavailable {
        message: format!(
            "PutEvents on bus {bus}: {} of {of} events not published after {attempts} attempts: {}",
            failed.len(),
            each.join("; ")
        ),
    }
}

#[async_trait]
impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, events: &[Event]) -> Result<(), PortError> {
        for batch in events::batches(events)? {
            self.put_batch(batch).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
