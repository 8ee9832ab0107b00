//! The events the life cycle publishes to EventBridge (docs/events.md): every registry change
//! and every flow outcome, each with a documented `source`, `detail-type` and detail schema.
//!
//! | source | detail-type | published by |
//! | --- | --- | --- |
//! | `mdlc.registry` | `Model Version Registered` | the registry (register-model), [`publishing::PublishingRegistry`] |
//! | `mdlc.registry` | `Model Version Approved`, `… Rejected`, `… Retired`, `… Rolled Back` | the registry's operations, [`publishing::PublishingRegistry`] |
//! | `mdlc.pipeline` | `Evaluation Completed` | is-retraining-needed |
//! | `mdlc.pipeline` | `Retraining Started` | is-retraining-needed (when it decides to retrain) |
//! | `mdlc.pipeline` | `Pipeline Failed` | the state machines' `PublishFailure` state (`events:putEvents`) |
//!
//! The details are typed here (one owner); every adapter checks each entry against
//! EventBridge's PutEvents rules ([`check_entry`]) and [`batches`] splits a publication into
//! PutEvents calls.

pub mod publishing;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::registry::{ModelVersion, VersionStatus};
use crate::registry_ops::{Action, VersionChange};

/// The source of the registry's events. Custom sources must not start with `aws.` (EventBridge
/// reserves that prefix for AWS services).
pub const REGISTRY_SOURCE: &str = "mdlc.registry";
/// The source of the flows' events.
pub const PIPELINE_SOURCE: &str = "mdlc.pipeline";
/// PutEvents takes 1 to 10 entries per call.
pub const MAX_ENTRIES_PER_CALL: usize = 10;
/// The largest PutEvents entry (and the largest total of one call): 256 KiB, counted as
/// EventBridge counts it ([`entry_size`]).
pub const MAX_ENTRY_BYTES: usize = 256 * 1024;
/// The longest `DetailType` PutEvents accepts.
pub const MAX_DETAIL_TYPE_CHARS: usize = 128;
/// The longest `Source` PutEvents accepts.
pub const MAX_SOURCE_CHARS: usize = 256;
/// What a `Time` counts in an entry's size.
const TIME_BYTES: usize = 14;

/// Every kind of event, with its `detail-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DetailType {
    #[serde(rename = "Model Version Registered")]
    VersionRegistered,
    #[serde(rename = "Model Version Approved")]
    VersionApproved,
    #[serde(rename = "Model Version Rejected")]
    VersionRejected,
    #[serde(rename = "Model Version Retired")]
    VersionRetired,
    #[serde(rename = "Model Version Rolled Back")]
    VersionRolledBack,
    #[serde(rename = "Evaluation Completed")]
    EvaluationCompleted,
    #[serde(rename = "Retraining Started")]
    RetrainingStarted,
    #[serde(rename = "Pipeline Failed")]
    PipelineFailed,
}

impl DetailType {
    pub const ALL: [DetailType; 8] = [
        DetailType::VersionRegistered,
        DetailType::VersionApproved,
        DetailType::VersionRejected,
        DetailType::VersionRetired,
        DetailType::VersionRolledBack,
        DetailType::EvaluationCompleted,
        DetailType::RetrainingStarted,
        DetailType::PipelineFailed,
    ];

    /// The `detail-type` text.
    pub fn as_str(self) -> &'static str {
        match self {
            DetailType::VersionRegistered => "Model Version Registered",
            DetailType::VersionApproved => "Model Version Approved",
            DetailType::VersionRejected => "Model Version Rejected",
            DetailType::VersionRetired => "Model Version Retired",
            DetailType::VersionRolledBack => "Model Version Rolled Back",
            DetailType::EvaluationCompleted => "Evaluation Completed",
            DetailType::RetrainingStarted => "Retraining Started",
            DetailType::PipelineFailed => "Pipeline Failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        DetailType::ALL.into_iter().find(|d| d.as_str() == text)
    }

    /// The source events of this type are published with.
    pub fn source(self) -> &'static str {
        match self {
            DetailType::VersionRegistered
            | DetailType::VersionApproved
            | DetailType::VersionRejected
            | DetailType::VersionRetired
            | DetailType::VersionRolledBack => REGISTRY_SOURCE,
            DetailType::EvaluationCompleted
            | DetailType::RetrainingStarted
            | DetailType::PipelineFailed => PIPELINE_SOURCE,
        }
    }
}

impl std::fmt::Display for DetailType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event as published (a PutEvents entry), serialized with EventBridge's event field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub source: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// When it happened, RFC 3339.
    pub time: String,
    /// ARNs the event concerns (the execution's, where there is one).
    #[serde(default)]
    pub resources: Vec<String>,
    pub detail: Value,
}

impl Event {
    /// An event of `kind` with its source.
    pub fn new(kind: DetailType, time: &str, resources: Vec<String>, detail: Value) -> Self {
        Event {
            source: kind.source().to_string(),
            detail_type: kind.as_str().to_string(),
            time: time.to_string(),
            resources,
            detail,
        }
    }

    /// The event's kind, when it is one of ours.
    pub fn kind(&self) -> Option<DetailType> {
        DetailType::parse(&self.detail_type)
    }

    /// The detail as PutEvents sends it (a JSON text).
    pub fn detail_text(&self) -> String {
        self.detail.to_string()
    }
}

/// The detail of `Model Version Registered`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VersionRegistered {
    pub model_name: String,
    pub version: u64,
    /// `Registered`, or `PendingApproval` under the approval gate (awaiting an operator).
    pub status: VersionStatus,
    pub execution_arn: String,
    pub sagemaker_model_name: String,
    pub training_job_name: String,
    pub model_data_url: String,
    pub data_date: String,
    pub created_at: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective_metric: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective_value: Option<f64>,
}

/// The retrain policy's decision on an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// Retrain (a training execution follows).
    Retrain,
    /// The model is fine (or cannot be judged).
    Keep,
    /// Degraded, but a retrain started too recently.
    Cooldown,
    /// Degraded, but the window's retrains are used up (the execution fails).
    LimitReached,
}

/// The detail of `Evaluation Completed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EvaluationCompleted {
    pub model_name: String,
    pub version: u64,
    pub execution_arn: String,
    pub evaluated_at: String,
    pub data_date: String,
    pub metrics: BTreeMap<String, f64>,
    pub decision: Decision,
    pub retrain: bool,
    pub reason: String,
}

/// The detail of `Retraining Started`: the evaluation decided to retrain; the training
/// execution named `trainingExecutionName` starts next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetrainingStarted {
    pub model_name: String,
    /// The evaluated version (the new version's parent).
    pub version: u64,
    /// The evaluation execution.
    pub execution_arn: String,
    pub training_execution_name: String,
    pub reason: String,
}

/// The detail of `Pipeline Failed` (written by the state machines' `PublishFailure` state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PipelineFailed {
    /// `training` or `evaluation`.
    pub flow: String,
    pub execution_arn: String,
    pub execution_name: String,
    pub state_machine_arn: String,
    pub error: String,
    pub cause: String,
}

/// The kind of event a recorded change is: a rollback's target is `Rolled Back`, a version it
/// retired is `Retired` (with `rolledBackTo`).
pub fn change_kind(change: &VersionChange) -> DetailType {
    match change.action {
        Action::Approve => DetailType::VersionApproved,
        Action::Reject => DetailType::VersionRejected,
        Action::Retire => DetailType::VersionRetired,
        Action::RollBack if change.rolled_back_to == Some(change.version) => {
            DetailType::VersionRolledBack
        }
        Action::RollBack => DetailType::VersionRetired,
    }
}

/// `Model Version Registered` of a registered version.
pub fn version_registered(version: &ModelVersion) -> Event {
    let r = &version.record;
    let detail = VersionRegistered {
        model_name: r.model_name.clone(),
        version: version.version,
        status: version.status,
        execution_arn: r.execution_arn.clone(),
        sagemaker_model_name: r.sagemaker_model_name.clone(),
        training_job_name: r.training_job_name.clone(),
        model_data_url: r.model_data_url.clone(),
        data_date: r.data_date.clone(),
        created_at: r.created_at.clone(),
        reason: r.reason.clone(),
        parent_version: r.parent_version,
        objective_metric: r.objective_metric.clone(),
        objective_value: r.objective_value,
    };
    Event::new(
        DetailType::VersionRegistered,
        &r.created_at,
        vec![r.execution_arn.clone()],
        to_detail(&detail),
    )
}

/// The event of one recorded change (its detail is the change as the version's history
/// records it).
pub fn version_changed(change: &VersionChange) -> Event {
    Event::new(
        change_kind(change),
        &change.at,
        Vec::new(),
        to_detail(change),
    )
}

/// `Evaluation Completed`.
pub fn evaluation_completed(detail: &EvaluationCompleted, time: &str) -> Event {
    Event::new(
        DetailType::EvaluationCompleted,
        time,
        vec![detail.execution_arn.clone()],
        to_detail(detail),
    )
}

/// `Retraining Started`.
pub fn retraining_started(detail: &RetrainingStarted, time: &str) -> Event {
    Event::new(
        DetailType::RetrainingStarted,
        time,
        vec![detail.execution_arn.clone()],
        to_detail(detail),
    )
}

/// Serializes a detail struct (plain data: maps with string keys, finite numbers).
fn to_detail(detail: &impl Serialize) -> Value {
    serde_json::to_value(detail).unwrap_or(Value::Null)
}

/// Why an entry cannot be published (PutEvents' rules, checked before any call).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EventError {
    #[error("event {index}: {field}: {message}")]
    InvalidEntry {
        index: usize,
        field: &'static str,
        message: String,
    },
    #[error(
        "event {index} ({detail_type}) is {size} bytes; a PutEvents entry is at most {MAX_ENTRY_BYTES} bytes"
    )]
    TooLarge {
        index: usize,
        detail_type: String,
        size: usize,
    },
}

impl From<EventError> for crate::error::PortError {
    /// PutEvents would refuse the request (a 4xx): `Rejected`, naming the entry.
    fn from(e: EventError) -> Self {
        crate::error::PortError::Rejected {
            message: e.to_string(),
        }
    }
}

/// An entry's size as EventBridge counts it: 14 bytes for `Time`, the UTF-8 bytes of `Source`,
/// `DetailType`, `Detail` and of each of `Resources`.
pub fn entry_size(event: &Event) -> usize {
    TIME_BYTES
        + event.source.len()
        + event.detail_type.len()
        + event.detail_text().len()
        + event.resources.iter().map(String::len).sum::<usize>()
}

/// Checks entry `index` against PutEvents' rules; its size when it passes.
pub fn check_entry(index: usize, event: &Event) -> Result<usize, EventError> {
    let invalid = |field, message: String| EventError::InvalidEntry {
        index,
        field,
        message,
    };
    let source_chars = event.source.chars().count();
    if source_chars == 0 || source_chars > MAX_SOURCE_CHARS {
        return Err(invalid(
            "Source",
            format!("must be 1 to {MAX_SOURCE_CHARS} characters"),
        ));
    }
    if event.source.starts_with("aws.") {
        return Err(invalid(
            "Source",
            format!(
                "{:?} starts with aws., which is reserved for AWS services",
                event.source
            ),
        ));
    }
    let detail_type_chars = event.detail_type.chars().count();
    if detail_type_chars == 0 || detail_type_chars > MAX_DETAIL_TYPE_CHARS {
        return Err(invalid(
            "DetailType",
            format!("must be 1 to {MAX_DETAIL_TYPE_CHARS} characters"),
        ));
    }
    if !event.detail.is_object() {
        return Err(invalid("Detail", "must be a JSON object".to_string()));
    }
    if chrono::DateTime::parse_from_rfc3339(&event.time).is_err() {
        return Err(invalid(
            "Time",
            format!("{:?} is not an RFC 3339 timestamp", event.time),
        ));
    }
    let size = entry_size(event);
    if size > MAX_ENTRY_BYTES {
        return Err(EventError::TooLarge {
            index,
            detail_type: event.detail_type.clone(),
            size,
        });
    }
    Ok(size)
}

/// Splits `events` into PutEvents calls, in order: at most [`MAX_ENTRIES_PER_CALL`] entries and
/// [`MAX_ENTRY_BYTES`] in all per call. Fails on the first entry PutEvents would refuse.
pub fn batches(events: &[Event]) -> Result<Vec<&[Event]>, EventError> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (index, event) in events.iter().enumerate() {
        let size = check_entry(index, event)?;
        if index > start
            && (index - start == MAX_ENTRIES_PER_CALL || bytes + size > MAX_ENTRY_BYTES)
        {
            out.push(&events[start..index]);
            (start, bytes) = (index, 0);
        }
        bytes += size;
    }
    if start < events.len() {
        out.push(&events[start..]);
    }
    Ok(out)
}

/// The events of a Step Functions `arn:aws:states:::events:putEvents` Task's `Entries` (1 to
/// 10; each `Source`, `DetailType`, `Detail` as an object or JSON text, optional `Resources`;
/// `EventBusName` is the adapter's), at `time`, with the execution's and the state machine's ARN
/// (from the context object `context`) appended to `Resources`, as the optimized integration
/// does. The error names the entry and field.
pub fn put_events_entries(
    parameters: &Value,
    context: &Value,
    time: &str,
) -> Result<Vec<Event>, String> {
    let entries = parameters
        .get("Entries")
        .and_then(Value::as_array)
        .filter(|e| (1..=MAX_ENTRIES_PER_CALL).contains(&e.len()))
        .ok_or_else(|| {
            format!("Entries must be an array of 1 to {MAX_ENTRIES_PER_CALL} entries")
        })?;
    let appended: Vec<String> = ["/Execution/Id", "/StateMachine/Id"]
        .iter()
        .filter_map(|p| context.pointer(p).and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| task_entry(i, entry, &appended, time))
        .collect()
}

/// One `Entries` item as an event; the error names the entry and field.
fn task_entry(
    index: usize,
    entry: &Value,
    appended: &[String],
    time: &str,
) -> Result<Event, String> {
    let text = |field: &str| {
        entry
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("Entries[{index}].{field} must be a string"))
    };
    let detail = match entry.get("Detail") {
        Some(Value::String(s)) => serde_json::from_str(s)
            .map_err(|e| format!("Entries[{index}].Detail is not JSON: {e}"))?,
        Some(v) => v.clone(),
        None => return Err(format!("Entries[{index}].Detail is missing")),
    };
    let mut resources: Vec<String> = match entry.get("Resources") {
        None => Vec::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| format!("Entries[{index}].Resources must be an array of strings"))?,
    };
    resources.extend(appended.iter().cloned());
    Ok(Event {
        source: text("Source")?,
        detail_type: text("DetailType")?,
        time: time.to_string(),
        resources,
        detail,
    })
}

/// docs/events.md, whose detail schemas the tests validate events against.
#[cfg(any(test, feature = "testing"))]
pub const EVENTS_DOC: &str = include_str!("../../../docs/events.md");

/// The detail schemas of docs/events.md: under `## Detail schemas`, each `### <detail-type>`
/// heading's first ```json block. Fails naming an unknown heading, a missing or unparsable
/// block, or a detail type without a schema.
#[cfg(any(test, feature = "testing"))]
pub fn documented_schemas(markdown: &str) -> Result<BTreeMap<DetailType, Value>, String> {
    let section = markdown
        .split_once("\n## Detail schemas\n")
        .map(|(_, rest)| rest)
        .ok_or("no '## Detail schemas' section")?;
    let mut schemas = BTreeMap::new();
    for part in section.split("\n### ").skip(1) {
        let (heading, body) = part.split_once('\n').unwrap_or((part, ""));
        let kind = DetailType::parse(heading.trim())
            .ok_or_else(|| format!("heading {heading:?} is not a detail-type"))?;
        let block = body
            .split_once("```json\n")
            .and_then(|(_, rest)| rest.split_once("\n```"))
            .map(|(block, _)| block)
            .ok_or_else(|| format!("{kind}: no ```json block"))?;
        let schema: Value =
            serde_json::from_str(block).map_err(|e| format!("{kind}: schema is not JSON: {e}"))?;
        if schemas.insert(kind, schema).is_some() {
            return Err(format!("{kind}: documented twice"));
        }
    }
    match DetailType::ALL
        .into_iter()
        .find(|k| !schemas.contains_key(k))
    {
        Some(missing) => Err(format!("{missing}: no schema")),
        None => Ok(schemas),
    }
}

#[cfg(test)]
mod tests;
