//! CreateStateMachine, DescribeStateMachine, ListStateMachines, UpdateStateMachine,
//! DeleteStateMachine, ValidateStateMachineDefinition.

use mdlc_asl::StateMachine;
use serde_json::{Map, Value, json};

use super::common::{internal, paged};
use crate::app::{App, now};
use crate::arn::{self, Target};
use crate::error::ApiError;
use crate::request::{self, ARN, DEFINITION, NAME, PAGE_TOKEN, Request, VERSION_DESCRIPTION};
use crate::store::MachineRecord;

const TYPES: &[&str] = &["STANDARD", "EXPRESS"];
const INCLUDED_DATA: &[&str] = &["ALL_DATA", "METADATA_ONLY"];

/// One problem of a definition, as AWS's diagnostics name it.
struct Problem {
    code: &'static str,
    message: String,
    location: Option<String>,
}

/// Every problem of a definition for a state machine of type `kind` (none: it is valid).
fn problems(definition: &str, kind: &str) -> Vec<Problem> {
    let value = match serde_json::from_str::<Value>(definition) {
        Ok(v) => v,
        Err(e) => {
            return vec![Problem {
                code: "INVALID_JSON_DESCRIPTION",
                message: e.to_string(),
                location: None,
            }];
        }
    };
    let mut found: Vec<Problem> = match StateMachine::from_json_str(definition) {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .iter()
            .map(|e| Problem {
                code: "SCHEMA_VALIDATION_FAILED",
                message: e.message.clone(),
                location: (!e.pointer.is_empty()).then(|| e.pointer.clone()),
            })
            .collect(),
    };
    if kind == "EXPRESS" {
        if let Some(states) = value.get("States").and_then(Value::as_object) {
            express_problems(states, "/States", &mut found);
        }
    }
    found
}

/// An Express workflow runs no activity and no `.sync` or `.waitForTaskToken` integration
/// (AWS refuses such a definition with `SCHEMA_VALIDATION_FAILED`); looks into Parallel branches
/// and Map processors too.
fn express_problems(states: &Map<String, Value>, at: &str, out: &mut Vec<Problem>) {
    for (name, state) in states {
        let here = format!("{at}/{}", name.replace('~', "~0").replace('/', "~1"));
        if let Some(resource) = state.get("Resource").and_then(Value::as_str) {
            let refused = if resource.contains(":activity:") {
                Some("Express state machine does not support Activity ARN".to_string())
            } else {
                [".waitForTaskToken", ".sync:2", ".sync"]
                    .iter()
                    .find(|p| resource.ends_with(*p))
                    .map(|p| {
                        format!("Express state machine does not support '{p}' service integration")
                    })
            };
            if let Some(message) = refused {
                out.push(Problem {
                    code: "SCHEMA_VALIDATION_FAILED",
                    message,
                    location: Some(format!("{here}/Resource")),
                });
            }
        }
        if let Some(branches) = state.get("Branches").and_then(Value::as_array) {
            for (i, b) in branches.iter().enumerate() {
                if let Some(inner) = b.get("States").and_then(Value::as_object) {
                    express_problems(inner, &format!("{here}/Branches/{i}/States"), out);
                }
            }
        }
        for processor in ["ItemProcessor", "Iterator"] {
            if let Some(inner) = state
                .get(processor)
                .and_then(|p| p.get("States"))
                .and_then(Value::as_object)
            {
                express_problems(inner, &format!("{here}/{processor}/States"), out);
            }
        }
    }
}

/// `InvalidDefinition` listing every problem (`CODE: message at /pointer`).
fn check_definition(definition: &str, kind: &str) -> Result<(), ApiError> {
    let found = problems(definition, kind);
    if found.is_empty() {
        return Ok(());
    }
    let text: Vec<String> = found
        .iter()
        .map(|p| match &p.location {
            Some(at) => format!("{}: {} at {at}", p.code, p.message),
            None => format!("{}: {}", p.code, p.message),
        })
        .collect();
    Err(ApiError::invalid_definition(&text.join(", ")))
}

/// The state machine an ARN names: `InvalidArn` or `StateMachineDoesNotExist` otherwise.
pub(super) fn find(app: &App, state_machine_arn: &str) -> Result<MachineRecord, ApiError> {
    match arn::parse_state_machine(state_machine_arn)? {
        Target::StateMachine(name) => app
            .machine(&name)
            .ok_or_else(|| ApiError::state_machine_does_not_exist(state_machine_arn)),
        _ => Err(ApiError::state_machine_does_not_exist(state_machine_arn)),
    }
}

fn default_logging() -> Value {
    json!({"level": "OFF", "includeExecutionData": false})
}

fn default_tracing() -> Value {
    json!({"enabled": false})
}

pub fn create(app: &App, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut r = Request::new(body);
    let name = r.required("name", NAME);
    let definition = r.required("definition", DEFINITION);
    let role = r.required("roleArn", ARN);
    let kind = r.enumeration("type", TYPES).unwrap_or("STANDARD");
    let logging = r.object("loggingConfiguration").cloned().map(Value::Object);
    let tracing = r.object("tracingConfiguration").cloned().map(Value::Object);
    let tag_list = r.list("tags").map(Vec::as_slice).unwrap_or(&[]);
    let tags = request::tags(&mut r, tag_list);
    r.boolean("publish");
    r.string("versionDescription", VERSION_DESCRIPTION);
    r.object("encryptionConfiguration");
    r.finish()?;
    arn::check_name(name)?;
    arn::check_role(role)?;
    super::tags::check_count(tags.len())?;
    check_definition(definition, kind)?;
    let created = now();
    let record = MachineRecord {
        state_machine_arn: arn::state_machine(name),
        name: name.to_string(),
        definition: definition.to_string(),
        role_arn: role.to_string(),
        kind: kind.to_string(),
        creation_date: created,
        update_date: created,
        revision_id: String::new(),
        logging_configuration: logging,
        tracing_configuration: tracing,
        tags,
    };
    // Idempotent on name, definition, type, logging and tracing; roleArn and tags of a repeated
    // request are ignored (the CreateStateMachine documentation).
    let same = |e: &MachineRecord| {
        e.definition == record.definition
            && e.kind == record.kind
            && e.logging_configuration == record.logging_configuration
            && e.tracing_configuration == record.tracing_configuration
    };
    let answer = match app.insert_machine(record.clone()).map_err(internal)? {
        None => record,
        Some(existing) if same(&existing) => existing,
        Some(existing) => {
            return Err(ApiError::state_machine_already_exists(
                &existing.state_machine_arn,
            ));
        }
    };
    Ok(json!({"stateMachineArn": answer.state_machine_arn, "creationDate": answer.creation_date}))
}

pub fn describe(app: &App, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut r = Request::new(body);
    let sm_arn = r.required("stateMachineArn", ARN);
    r.enumeration("includedData", INCLUDED_DATA);
    r.finish()?;
    let m = find(app, sm_arn)?;
    let mut out = json!({
        "stateMachineArn": m.state_machine_arn,
        "name": m.name,
        "status": "ACTIVE",
        "definition": m.definition,
        "roleArn": m.role_arn,
        "type": m.kind,
        "creationDate": m.creation_date,
        "loggingConfiguration": m.logging_configuration.clone().unwrap_or_else(default_logging),
        "tracingConfiguration": m.tracing_configuration.clone().unwrap_or_else(default_tracing),
    });
    if !m.revision_id.is_empty() {
        out["revisionId"] = json!(m.revision_id);
    }
    Ok(out)
}

pub fn list(app: &App, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut r = Request::new(body);
    let max = r.integer("maxResults", 0, 1000);
    let token = r.string("nextToken", PAGE_TOKEN);
    r.finish()?;
    let items: Vec<Value> = app
        .machines()
        .into_iter()
        .map(|m| {
            json!({"stateMachineArn": m.state_machine_arn, "name": m.name, "type": m.kind, "creationDate": m.creation_date})
        })
        .collect();
    paged("stateMachines", items, max, token)
}

pub fn update(app: &App, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut r = Request::new(body);
    let sm_arn = r.required("stateMachineArn", ARN);
    let definition = r.string("definition", DEFINITION);
    let role = r.string("roleArn", ARN);
    let logging = r.object("loggingConfiguration").cloned().map(Value::Object);
    let tracing = r.object("tracingConfiguration").cloned().map(Value::Object);
    r.boolean("publish");
    r.string("versionDescription", VERSION_DESCRIPTION);
    r.object("encryptionConfiguration");
    r.finish()?;
    if definition.is_none() && role.is_none() && logging.is_none() && tracing.is_none() {
        return Err(ApiError::service(
            "MissingRequiredParameter",
            "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified",
        ));
    }
    let mut m = find(app, sm_arn)?;
    if let Some(role) = role {
        arn::check_role(role)?;
        m.role_arn = role.to_string();
    }
    if let Some(d) = definition {
        check_definition(d, &m.kind)?;
        m.definition = d.to_string();
    }
    if logging.is_some() {
        m.logging_configuration = logging;
    }
    if tracing.is_some() {
        m.tracing_configuration = tracing;
    }
    m.update_date = now();
    m.revision_id = uuid::Uuid::new_v4().to_string();
    let out = json!({"updateDate": m.update_date, "revisionId": m.revision_id});
    app.put_machine(m).map_err(internal)?;
    Ok(out)
}

pub fn delete(app: &App, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut r = Request::new(body);
    let sm_arn = r.required("stateMachineArn", ARN);
    r.finish()?;
    if let Target::StateMachine(name) = arn::parse_state_machine(sm_arn)? {
        app.delete_machine(&name).map_err(internal)?;
    }
    Ok(json!({}))
}

pub fn validate(body: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut r = Request::new(body);
    let definition = r.required("definition", DEFINITION);
    let kind = r.enumeration("type", TYPES).unwrap_or("STANDARD");
    r.enumeration("severity", &["ERROR", "WARNING"]);
    let max = r.integer("maxResults", 0, 100);
    r.finish()?;
    let found = problems(definition, kind);
    let limit = match max {
        Some(n) if n > 0 => usize::try_from(n).unwrap_or(100),
        _ => 100,
    };
    let truncated = found.len() > limit;
    let diagnostics: Vec<Value> = found
        .iter()
        .take(limit)
        .map(|p| {
            let mut d = json!({"severity": "ERROR", "code": p.code, "message": p.message});
            if let Some(at) = &p.location {
                d["location"] = json!(at);
            }
            d
        })
        .collect();
    Ok(json!({
        "result": if found.is_empty() { "OK" } else { "FAIL" },
        "diagnostics": diagnostics,
        "truncated": truncated,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn express_definitions_refuse_callbacks_sync_jobs_and_activities_wherever_they_are() {
        let def = json!({"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "Next": "M", "Branches": [{"StartAt": "W", "States": {
                "W": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "End": true}}}]},
            "M": {"Type": "Map", "Next": "A", "ItemProcessor": {"StartAt": "S", "States": {
                "S": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync", "End": true}}}},
            "A": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:a", "End": true}
        }})
        .to_string();
        let found: Vec<(String, Option<String>)> = problems(&def, "EXPRESS")
            .into_iter()
            .map(|p| (p.message, p.location))
            .collect();
        // in the definition's order
        assert_eq!(
            found,
            vec![
                (
                    "Express state machine does not support '.waitForTaskToken' service integration".to_string(),
                    Some("/States/P/Branches/0/States/W/Resource".to_string())
                ),
                (
                    "Express state machine does not support '.sync' service integration".to_string(),
                    Some("/States/M/ItemProcessor/States/S/Resource".to_string())
                ),
                (
                    "Express state machine does not support Activity ARN".to_string(),
                    Some("/States/A/Resource".to_string())
                ),
            ]
        );
        assert_eq!(problems(&def, "STANDARD").len(), 0);
    }
}
