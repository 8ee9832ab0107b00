//! The engine's history events in GetExecutionHistory's shape: `id`, `previousEventId`,
//! `timestamp` (epoch seconds), `type` and the `<type>EventDetails` member named as botocore's
//! `HistoryEvent` names it, holding only the members of that details shape (execution data and
//! the values of `assignedVariables` as JSON text, each with its `…Details` truncation flag, as
//! AWS sends them). The one conversion that `mdlc serve`'s GetExecutionHistory, its dashboard
//! and the history conformance test (`tests/aws_histories.rs`) use.

use crate::api::HistoryEvent;
use chrono::DateTime;
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
}
