//! The engine's history events in GetExecutionHistory's shape: `id`, `previousEventId`,
//! `timestamp` (epoch seconds), `type` and the `<type>EventDetails` member named as botocore's
//! `HistoryEvent` names it, holding only the members of that details shape (execution data and
//! the values of `assignedVariables` as JSON text, each with its `…Details` truncation flag, as
//! AWS sends them). The one conversion that `mdlc serve`'s GetExecutionHistory, its dashboard
//! and the history conformance test (`tests/aws_histories.rs`) use.

use crate::api::HistoryEvent;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

/// The details members of botocore's `HistoryEvent` and the members of each details shape.
const DETAILS: &[(&str, &[&str])] = &[
    ("activityFailedEventDetails", &["error", "cause"]),
    ("activityScheduleFailedEventDetails", &["error", "cause"]),
    (
        "activityScheduledEventDetails",
        &[
            "resource",
            "input",
            "inputDetails",
            "timeoutInSeconds",
            "heartbeatInSeconds",
        ],
    ),
    ("activityStartedEventDetails", &["workerName"]),
    (
        "activitySucceededEventDetails",
        &["output", "outputDetails"],
    ),
    ("activityTimedOutEventDetails", &["error", "cause"]),
    (
        "taskFailedEventDetails",
        &["resourceType", "resource", "error", "cause"],
    ),
    (
        "taskScheduledEventDetails",
        &[
            "resourceType",
            "resource",
            "region",
            "parameters",
            "timeoutInSeconds",
            "heartbeatInSeconds",
            "taskCredentials",
        ],
    ),
    (
        "taskStartFailedEventDetails",
        &["resourceType", "resource", "error", "cause"],
    ),
    ("taskStartedEventDetails", &["resourceType", "resource"]),
    (
        "taskSubmitFailedEventDetails",
        &["resourceType", "resource", "error", "cause"],
    ),
    (
        "taskSubmittedEventDetails",
        &["resourceType", "resource", "output", "outputDetails"],
    ),
    (
        "taskSucceededEventDetails",
        &["resourceType", "resource", "output", "outputDetails"],
    ),
    (
        "taskTimedOutEventDetails",
        &["resourceType", "resource", "error", "cause"],
    ),
    ("executionFailedEventDetails", &["error", "cause"]),
    (
        "executionStartedEventDetails",
        &[
            "input",
            "inputDetails",
            "roleArn",
            "stateMachineAliasArn",
            "stateMachineVersionArn",
        ],
    ),
    (
        "executionSucceededEventDetails",
        &["output", "outputDetails"],
    ),
    ("executionAbortedEventDetails", &["error", "cause"]),
    ("executionTimedOutEventDetails", &["error", "cause"]),
    ("executionRedrivenEventDetails", &["redriveCount"]),
    ("mapStateStartedEventDetails", &["length"]),
    ("mapIterationStartedEventDetails", &["name", "index"]),
    ("mapIterationSucceededEventDetails", &["name", "index"]),
    ("mapIterationFailedEventDetails", &["name", "index"]),
    ("mapIterationAbortedEventDetails", &["name", "index"]),
    ("lambdaFunctionFailedEventDetails", &["error", "cause"]),
    (
        "lambdaFunctionScheduleFailedEventDetails",
        &["error", "cause"],
    ),
    (
        "lambdaFunctionScheduledEventDetails",
        &[
            "resource",
            "input",
            "inputDetails",
            "timeoutInSeconds",
            "taskCredentials",
        ],
    ),
    ("lambdaFunctionStartFailedEventDetails", &["error", "cause"]),
    (
        "lambdaFunctionSucceededEventDetails",
        &["output", "outputDetails"],
    ),
    ("lambdaFunctionTimedOutEventDetails", &["error", "cause"]),
    (
        "stateEnteredEventDetails",
        &["name", "input", "inputDetails"],
    ),
    (
        "stateExitedEventDetails",
        &[
            "name",
            "output",
            "outputDetails",
            "assignedVariables",
            "assignedVariablesDetails",
        ],
    ),
    ("mapRunStartedEventDetails", &["mapRunArn"]),
    ("mapRunFailedEventDetails", &["error", "cause"]),
    ("mapRunRedrivenEventDetails", &["mapRunArn", "redriveCount"]),
    (
        "evaluationFailedEventDetails",
        &["error", "cause", "location", "state"],
    ),
];

/// The details member of an event type: `stateEnteredEventDetails` for every `*StateEntered`,
/// `stateExitedEventDetails` for every `*StateExited`, else `<type>EventDetails` when botocore
/// has it (`ParallelStateStarted`, `MapStateSucceeded`, ... have none).
pub fn details_member(event_type: &str) -> Option<&'static str> {
    if event_type.ends_with("StateEntered") {
        return Some("stateEnteredEventDetails");
    }
    if event_type.ends_with("StateExited") {
        return Some("stateExitedEventDetails");
    }
    let mut chars = event_type.chars();
    let first = chars.next()?;
    let wanted = format!(
        "{}{}EventDetails",
        first.to_ascii_lowercase(),
        chars.as_str()
    );
    DETAILS.iter().find(|(m, _)| *m == wanted).map(|(m, _)| *m)
}

/// The members the engine gives as JSON values that AWS sends as JSON text.
fn is_execution_data(member: &str, field: &str) -> bool {
    matches!(
        (member, field),
        ("executionStartedEventDetails", "input")
            | ("executionSucceededEventDetails", "output")
            | ("stateEnteredEventDetails", "input")
            | ("stateExitedEventDetails", "output")
    )
}

/// Epoch seconds of an RFC 3339 time (0 when unreadable: the engine always writes RFC 3339).
pub fn epoch_seconds(rfc3339: &str) -> f64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.timestamp_millis() as f64 / 1000.0)
        .unwrap_or(0.0)
}

/// A whole history in AWS's shape (see [`to_aws`]).
pub fn history_to_aws(events: &[HistoryEvent], include_data: bool) -> Vec<Value> {
    events.iter().map(|e| to_aws(e, include_data)).collect()
}

/// One event in AWS's shape; without `include_data`, no `input`/`output`/`assignedVariables`
/// (and their details).
pub fn to_aws(e: &HistoryEvent, include_data: bool) -> Value {
    let mut out = Map::new();
    out.insert("timestamp".into(), json!(epoch_seconds(&e.timestamp)));
    out.insert("type".into(), json!(e.event_type));
    out.insert("id".into(), json!(e.id));
    out.insert("previousEventId".into(), json!(e.previous_event_id));
    let Some(member) = details_member(&e.event_type) else {
        return Value::Object(out);
    };
    let fields = DETAILS
        .iter()
        .find(|(m, _)| *m == member)
        .map(|(_, f)| *f)
        .unwrap_or(&[]);
    let mut details = Map::new();
    if let Some(src) = e.details.as_object() {
        for field in fields {
            // execution data is JSON text even when it is null; other members are left out
            let Some(v) = src
                .get(*field)
                .filter(|v| !v.is_null() || is_execution_data(member, field))
            else {
                continue;
            };
            let is_data = matches!(*field, "input" | "output" | "assignedVariables");
            if is_data && !include_data {
                continue;
            }
            let v = match v {
                _ if is_execution_data(member, field) => Value::String(v.to_string()),
                Value::Object(vars) if *field == "assignedVariables" => Value::Object(
                    vars.iter()
                        .map(|(k, v)| (k.clone(), Value::String(v.to_string())))
                        .collect(),
                ),
                Value::String(_) | Value::Number(_) | Value::Bool(_) => v.clone(),
                Value::Object(_) if !is_data && *field != "parameters" => v.clone(),
                other => Value::String(other.to_string()),
            };
            details.insert((*field).to_string(), v);
            if is_data && fields.contains(&format!("{field}Details").as_str()) {
                details.insert(format!("{field}Details"), json!({"truncated": false}));
            }
        }
    }
    out.insert(member.to_string(), Value::Object(details));
    Value::Object(out)
}

/// An event that is in neither GetExecutionHistory's shape nor the engine's older one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a history event: it has no valid '{field}'")]
pub struct NotAnEvent {
    /// The member that is missing or of the wrong type (`id`, `type`).
    pub field: &'static str,
}

/// One event read back from GetExecutionHistory's shape ([`to_aws`] with its data): the
/// execution data parsed from its JSON text, the truncation flags dropped, the timestamp as RFC
/// 3339. Also reads the engine's older shape (`event_type`, `previous_event_id`, `details`),
/// which records written before this shape still hold.
pub fn from_aws(v: &Value) -> Result<HistoryEvent, NotAnEvent> {
    let id = v.get("id").and_then(Value::as_u64);
    if v.get("event_type").is_some() {
        let ty = v.get("event_type").and_then(Value::as_str);
        return Ok(HistoryEvent {
            id: id.ok_or(NotAnEvent { field: "id" })?,
            previous_event_id: v
                .get("previous_event_id")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            timestamp: v
                .get("timestamp")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            event_type: ty
                .ok_or(NotAnEvent {
                    field: "event_type",
                })?
                .to_string(),
            details: v.get("details").cloned().unwrap_or(Value::Null),
        });
    }
    let event_type = v
        .get("type")
        .and_then(Value::as_str)
        .ok_or(NotAnEvent { field: "type" })?;
    let timestamp = match v.get("timestamp") {
        Some(Value::Number(n)) => n
            .as_f64()
            .and_then(|s| DateTime::<Utc>::from_timestamp_millis((s * 1000.0).round() as i64))
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
            .unwrap_or_default(),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let details = match v
        .as_object()
        .and_then(|m| m.iter().find(|(k, _)| k.ends_with("EventDetails")))
    {
        Some((member, Value::Object(d))) => Value::Object(
            d.iter()
                .filter(|(k, _)| {
                    !matches!(
                        k.as_str(),
                        "inputDetails" | "outputDetails" | "assignedVariablesDetails"
                    )
                })
                .map(|(k, val)| {
                    let val = match val {
                        Value::String(t) if is_execution_data(member, k) => {
                            serde_json::from_str(t).unwrap_or_else(|_| val.clone())
                        }
                        Value::Object(vars) if k == "assignedVariables" => Value::Object(
                            vars.iter()
                                .map(|(n, t)| {
                                    let parsed = t
                                        .as_str()
                                        .and_then(|t| serde_json::from_str(t).ok())
                                        .unwrap_or_else(|| t.clone());
                                    (n.clone(), parsed)
                                })
                                .collect(),
                        ),
                        other => other.clone(),
                    };
                    (k.clone(), val)
                })
                .collect(),
        ),
        _ => Value::Null,
    };
    Ok(HistoryEvent {
        id: id.ok_or(NotAnEvent { field: "id" })?,
        previous_event_id: v
            .get("previousEventId")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        timestamp,
        event_type: event_type.to_string(),
        details,
    })
}

/// A [`HistoryEvent`] serialises in GetExecutionHistory's shape, with its data: the local
/// cloud's execution records, `mdlc serve`'s store and `mdlc execute --history` hold that one
/// shape.
impl From<HistoryEvent> for Value {
    fn from(e: HistoryEvent) -> Value {
        to_aws(&e, true)
    }
}

impl TryFrom<Value> for HistoryEvent {
    type Error = NotAnEvent;

    fn try_from(v: Value) -> Result<HistoryEvent, NotAnEvent> {
        from_aws(&v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ty: &str, details: Value) -> HistoryEvent {
        HistoryEvent {
            id: 2,
            previous_event_id: 1,
            timestamp: "2026-01-02T03:04:05.250Z".into(),
            event_type: ty.into(),
            details,
        }
    }

    #[test]
    fn details_members_are_named_as_botocore_names_them() {
        assert_eq!(
            details_member("PassStateEntered"),
            Some("stateEnteredEventDetails")
        );
        assert_eq!(
            details_member("MapStateExited"),
            Some("stateExitedEventDetails")
        );
        assert_eq!(
            details_member("TaskScheduled"),
            Some("taskScheduledEventDetails")
        );
        assert_eq!(
            details_member("ExecutionAborted"),
            Some("executionAbortedEventDetails")
        );
        assert_eq!(
            details_member("MapIterationStarted"),
            Some("mapIterationStartedEventDetails")
        );
        assert_eq!(details_member("ParallelStateStarted"), None);
        assert_eq!(details_member("MapStateSucceeded"), None);
    }

    #[test]
    fn execution_data_is_sent_as_json_text_and_unknown_members_are_dropped() {
        let e = event(
            "ExecutionStarted",
            json!({"input": {"a": 1}, "roleArn": "r", "stateMachineArn": "x"}),
        );
        assert_eq!(
            to_aws(&e, true),
            json!({"timestamp": 1767323045.25, "type": "ExecutionStarted", "id": 2, "previousEventId": 1,
                   "executionStartedEventDetails": {"input": "{\"a\":1}", "inputDetails": {"truncated": false}, "roleArn": "r"}})
        );
        assert_eq!(
            to_aws(&e, false)["executionStartedEventDetails"],
            json!({"roleArn": "r"})
        );
        let s = event("PassStateEntered", json!({"name": "P", "input": "text"}));
        assert_eq!(
            to_aws(&s, true)["stateEnteredEventDetails"]["input"],
            json!("\"text\"")
        );
        let t = event(
            "TaskSucceeded",
            json!({"resource": "r", "resourceType": "lambda", "output": "{\"x\":1}"}),
        );
        assert_eq!(
            to_aws(&t, true)["taskSucceededEventDetails"]["output"],
            json!("{\"x\":1}")
        );
        let p = event("ParallelStateStarted", Value::Null);
        assert_eq!(
            to_aws(&p, true),
            json!({"timestamp": 1767323045.25, "type": "ParallelStateStarted", "id": 2, "previousEventId": 1})
        );
    }

    #[test]
    fn an_event_serialises_in_aws_shape_and_reads_back_as_it_was() {
        let events = [
            event(
                "ExecutionStarted",
                json!({"input": {"a": [1, 2]}, "roleArn": "arn:aws:iam::1:role/r"}),
            ),
            event("PassStateEntered", json!({"name": "P", "input": "text"})),
            event(
                "PassStateExited",
                json!({"name": "P", "output": null, "assignedVariables": {"x": 42, "y": {"z": "w"}}}),
            ),
            event(
                "TaskScheduled",
                json!({"resource": "invoke", "resourceType": "lambda", "region": "us-east-1", "parameters": "{\"a\":1}"}),
            ),
            event("MapStateSucceeded", Value::Null),
            event(
                "EvaluationFailed",
                json!({"error": "States.QueryEvaluationError", "cause": "c", "location": "Items", "state": "M"}),
            ),
        ];
        for e in events {
            let text = serde_json::to_string(&e).unwrap_or_default();
            let wire: Value = serde_json::from_str(&text).unwrap_or_default();
            assert_eq!(wire, to_aws(&e, true), "{text}");
            let back: Result<HistoryEvent, _> = serde_json::from_str(&text);
            assert_eq!(back.ok(), Some(e), "{text}");
        }
    }

    #[test]
    fn the_older_shape_still_reads_and_an_event_without_a_type_does_not() {
        let old = json!({"id": 3, "previous_event_id": 2, "timestamp": "2026-01-02T03:04:05.250Z",
            "event_type": "PassStateExited", "details": {"name": "P", "output": {"a": 1}}});
        let e: Result<HistoryEvent, _> = serde_json::from_value(old);
        assert_eq!(
            e.ok()
                .map(|e| (e.id, e.previous_event_id, e.event_type, e.details)),
            Some((
                3,
                2,
                "PassStateExited".to_string(),
                json!({"name": "P", "output": {"a": 1}})
            ))
        );
        assert_eq!(
            from_aws(&json!({"id": 1, "previousEventId": 0})),
            Err(NotAnEvent { field: "type" })
        );
        let err = serde_json::from_value::<HistoryEvent>(json!({"type": "X"}))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("not a history event: it has no valid 'id'")
        );
    }
}
