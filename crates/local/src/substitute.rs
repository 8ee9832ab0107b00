//! Placeholder substitution: `${Name}` in a state machine definition → local values, the way SAM's
//! `DefinitionSubstitutions` fills them on AWS.
//!
//! Substitution works on the parsed JSON (every string value and every object key), so a value can
//! never break the document's syntax. Every placeholder without a value is reported, each with the
//! JSON pointer of the string that holds it.

use std::collections::BTreeMap;

use serde_json::Value;
use thiserror::Error;

/// The account the local cloud pretends to be.
pub const LOCAL_ACCOUNT: &str = "000000000000";
/// The region the local cloud pretends to be.
pub const LOCAL_REGION: &str = "us-east-1";

pub use mdlc_core::names::FUNCTIONS;

/// The local Lambda ARN of a function.
pub fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{name}")
}

/// The local ARN of a state machine.
pub fn state_machine_arn(name: &str) -> String {
    format!("arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:stateMachine:{name}")
}

/// The local SageMaker execution role.
pub fn sagemaker_role_arn() -> String {
    format!("arn:aws:iam::{LOCAL_ACCOUNT}:role/mdlc-sagemaker-local")
}

/// The values every local run gets: function ARNs, the SageMaker role, the artifact bucket and the
/// training state machine's ARN.
pub fn local_substitutions(artifact_bucket: &str) -> BTreeMap<String, String> {
    let mut values: BTreeMap<String, String> = FUNCTIONS
        .iter()
        .map(|(placeholder, name)| (placeholder.to_string(), function_arn(name)))
        .collect();
    values.insert("SageMakerExecutionRoleArn".into(), sagemaker_role_arn());
    values.insert("ArtifactBucket".into(), artifact_bucket.to_string());
    values.insert(
        "TrainingStateMachineArn".into(),
        state_machine_arn("training"),
    );
    // The local cloud has one bus: the state directory's event log.
    values.insert("EventBusName".into(), "default".into());
    values
}

/// Parses `KEY=VALUE` (a `--substitute` argument).
pub fn parse_assignment(text: &str) -> Result<(String, String), SubstitutionError> {
    match text.split_once('=') {
        Some((key, value)) if is_placeholder_name(key) => Ok((key.to_string(), value.to_string())),
        _ => Err(SubstitutionError::BadAssignment {
            text: text.to_string(),
        }),
    }
}

fn is_placeholder_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b':'))
}

/// What can go wrong while substituting.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SubstitutionError {
    /// Placeholders without a value: `(JSON pointer, placeholder name)` pairs.
    #[error("{}", unknown_message(.0))]
    UnknownPlaceholders(Vec<(String, String)>),
    /// A `--substitute` argument that is not `KEY=VALUE`.
    #[error(
        "invalid substitution {text:?}: expected KEY=VALUE with KEY made of letters, digits, '_', '.', '-' or ':'"
    )]
    BadAssignment { text: String },
}

fn unknown_message(items: &[(String, String)]) -> String {
    let mut out = String::from("placeholders without a value (pass --substitute NAME=VALUE):");
    for (pointer, name) in items {
        out.push_str(&format!("\n{pointer}: ${{{name}}}"));
    }
    out
}

/// Replaces every `${Name}` in `definition`'s strings and keys with `values[Name]`.
pub fn substitute(
    definition: &Value,
    values: &BTreeMap<String, String>,
) -> Result<Value, SubstitutionError> {
    let mut unknown = Vec::new();
    let out = walk(definition, values, &mut String::new(), &mut unknown);
    if unknown.is_empty() {
        Ok(out)
    } else {
        Err(SubstitutionError::UnknownPlaceholders(unknown))
    }
}

fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn walk(
    value: &Value,
    values: &BTreeMap<String, String>,
    pointer: &mut String,
    unknown: &mut Vec<(String, String)>,
) -> Value {
    match value {
        Value::String(s) => Value::String(replace_in(s, values, pointer, unknown)),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let len = pointer.len();
                    pointer.push_str(&format!("/{i}"));
                    let v = walk(item, values, pointer, unknown);
                    pointer.truncate(len);
                    v
                })
                .collect(),
        ),
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (key, item) in map {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&escape_pointer(key));
                let new_key = replace_in(key, values, pointer, unknown);
                let v = walk(item, values, pointer, unknown);
                pointer.truncate(len);
                out.insert(new_key, v);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn replace_in(
    text: &str,
    values: &BTreeMap<String, String>,
    pointer: &str,
    unknown: &mut Vec<(String, String)>,
) -> String {
    if !text.contains("${") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) if is_placeholder_name(&after[..end]) => {
                let name = &after[..end];
                match values.get(name) {
                    Some(v) => out.push_str(v),
                    None => {
                        unknown.push((pointer.to_string(), name.to_string()));
                        out.push_str(&rest[start..start + 2 + end + 1]);
                    }
                }
                rest = &after[end + 1..];
            }
            _ => {
                // Not a placeholder (e.g. "${" in free text): keep it as it is.
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn given_local_values_when_substituting_then_every_placeholder_is_filled() {
        let def = json!({
            "States": {"Train": {
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "${TrainFunctionArn}", "Payload.$": "$"},
                "Next": "X"},
              "X": {"Type": "Task", "Parameters": {
                  "RoleArn": "${SageMakerExecutionRoleArn}",
                  "S3OutputPath": "s3://${ArtifactBucket}/models/${ArtifactBucket}",
                  "StateMachineArn": "${TrainingStateMachineArn}"}}}
        });
        let out = substitute(&def, &local_substitutions("my-bucket")).unwrap();
        assert_eq!(
            out["States"]["Train"]["Parameters"]["FunctionName"],
            "arn:aws:lambda:us-east-1:000000000000:function:train"
        );
        assert_eq!(
            out["States"]["X"]["Parameters"]["S3OutputPath"],
            "s3://my-bucket/models/my-bucket"
        );
        assert_eq!(
            out["States"]["X"]["Parameters"]["StateMachineArn"],
            "arn:aws:states:us-east-1:000000000000:stateMachine:training"
        );
        assert!(!out.to_string().contains("${"));
    }

    #[test]
    fn given_unknown_placeholders_when_substituting_then_each_is_named_with_its_pointer() {
        let def = json!({"States": {"A/B": {"Resource": "${Nope}", "List": ["x ${Other} y"]}}});
        let err = substitute(&def, &local_substitutions("b")).unwrap_err();
        assert_eq!(
            err,
            SubstitutionError::UnknownPlaceholders(vec![
                ("/States/A~1B/Resource".into(), "Nope".into()),
                ("/States/A~1B/List/0".into(), "Other".into()),
            ])
        );
        let msg = err.to_string();
        assert!(msg.contains("/States/A~1B/Resource: ${Nope}"), "{msg}");
    }

    #[test]
    fn given_text_that_is_not_a_placeholder_then_kept() {
        let def = json!({"a": "cost ${ 5 }", "b": "${", "c": "$.x"});
        assert_eq!(substitute(&def, &BTreeMap::new()).unwrap(), def);
    }

    #[test]
    fn given_assignments_when_parsed_then_validated() {
        assert_eq!(
            parse_assignment("Bucket=a=b").unwrap(),
            ("Bucket".into(), "a=b".into())
        );
        assert!(parse_assignment("novalue").is_err());
        assert!(parse_assignment("=x").is_err());
        assert!(parse_assignment("a b=x").is_err());
    }
}
