//! The report's events section: the local event log (docs/events.md) as a table, oldest first.

use std::fmt::Write;

use mdlc_core::events::DetailType;
use serde_json::Value;

use super::text::escape;
use crate::events::LoggedEvent;

/// Longest summary text shown per event (the full detail is in the log).
const MAX_SUMMARY_CHARS: usize = 240;

/// `<h2>Events</h2>` and a row per event; empty when there are none.
pub fn events_section(events: &[LoggedEvent]) -> String {
    if events.is_empty() {
        return String::new();
    }
    let mut html = String::from(
        "<h2 id=\"events\">Events</h2><table class=\"events\"><tr><th>time</th><th>source</th><th>detail-type</th><th>model</th><th>version</th><th>what</th></tr>",
    );
    for e in events {
        let text = |key: &str| e.detail.get(key).map(plain).unwrap_or_default();
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&e.time),
            escape(&e.source),
            escape(&e.detail_type),
            escape(&text("modelName")),
            escape(&text("version")),
            escape(&summary(e))
        );
    }
    html.push_str("</table>");
    html
}

/// A value as text (strings without their quotes).
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What happened, in a few words, from the event's detail.
pub fn summary(e: &LoggedEvent) -> String {
    let d = |key: &str| e.detail.get(key).map(plain).unwrap_or_default();
    let text = match DetailType::parse(&e.detail_type) {
        Some(DetailType::VersionRegistered) => format!("registered as {}", d("status")),
        Some(
            DetailType::VersionApproved
            | DetailType::VersionRejected
            | DetailType::VersionRetired
            | DetailType::VersionRolledBack,
        ) => format!(
            "{} → {} by {}: {}",
            d("from"),
            d("to"),
            d("actor"),
            d("reason")
        ),
        Some(DetailType::EvaluationCompleted) => format!("{}: {}", d("decision"), d("reason")),
        Some(DetailType::RetrainingStarted) => {
            format!("training execution {}", d("trainingExecutionName"))
        }
        Some(DetailType::PipelineFailed) => format!(
            "{} {} failed: {}: {}",
            d("flow"),
            d("executionName"),
            d("error"),
            d("cause")
        ),
        None => e.detail.to_string(),
    };
    if text.chars().count() > MAX_SUMMARY_CHARS {
        let cut: String = text.chars().take(MAX_SUMMARY_CHARS).collect();
        format!("{cut}…")
    } else {
        text
    }
}
