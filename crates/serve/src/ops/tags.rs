//! TagResource, UntagResource, ListTagsForResource: the tags of state machines (at most 50 a
//! resource).

use serde_json::{Map, Value, json};

use super::common::internal;
use crate::app::App;
use crate::arn::{self, Target};
use crate::error::ApiError;
use crate::request::{self, ARN, Request, TAG_KEY};
use crate::store::MachineRecord;

/// Tags a resource may have.
const MAX_TAGS: usize = 50;

/// The state machine a resource ARN names: `ResourceNotFound` for any other resource.
fn resource(app: &App, resource_arn: &str) -> Result<MachineRecord, ApiError> {
    let not_found = || {
        ApiError::service(
            "ResourceNotFound",
            format!("Resource not found: '{resource_arn}'"),
        )
    };
    if !resource_arn.starts_with("arn:") {
        return Err(ApiError::invalid_arn(resource_arn));
    }
    match arn::parse_state_machine(resource_arn) {
        Ok(Target::StateMachine(name)) => app.machine(&name).ok_or_else(not_found),
        _ => Err(not_found()),
    }
}

/// `TooManyTags` when a resource would have more than 50 tags.
pub(super) fn check_count(n: usize) -> Result<(), ApiError> {
    if n > MAX_TAGS {
        return Err(ApiError::service(
            "TooManyTags",
            format!(
                "Too many tags: the resource would have {n} tags, at most {MAX_TAGS} are allowed"
            ),
        ));
    }
    Ok(())
}

pub fn tag(app: &App, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut r = Request::new(body);
    let resource_arn = r.required("resourceArn", ARN);
    let list = r.required_list("tags");
    let tags = request::tags(&mut r, list);
    r.finish()?;
    let mut m = resource(app, resource_arn)?;
    for (k, v) in tags {
        match m.tags.iter_mut().find(|(key, _)| *key == k) {
            Some(t) => t.1 = v,
            None => m.tags.push((k, v)),
        }
    }
    check_count(m.tags.len())?;
    app.put_machine(m).map_err(internal)?;
    Ok(json!({}))
}

pub fn untag(app: &App, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut r = Request::new(body);
    let resource_arn = r.required("resourceArn", ARN);
    let list = r.required_list("tagKeys");
    let mut keys = Vec::new();
    for (i, k) in list.iter().enumerate() {
        match k.as_str() {
            Some(s) if (TAG_KEY.min..=TAG_KEY.max).contains(&s.chars().count()) => {
                keys.push(s.to_string())
            }
            Some(s) => r.violation(crate::error::constraint(
                Some(s),
                &format!("tagKeys.{}.member", i + 1),
                "Member must have length between 1 and 128",
            )),
            None => r.wrong_type(format!("member 'tagKeys.{}' must be a string", i + 1)),
        }
    }
    r.finish()?;
    let mut m = resource(app, resource_arn)?;
    m.tags.retain(|(k, _)| !keys.contains(k));
    app.put_machine(m).map_err(internal)?;
    Ok(json!({}))
}

pub fn list(app: &App, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut r = Request::new(body);
    let resource_arn = r.required("resourceArn", ARN);
    r.finish()?;
    let m = resource(app, resource_arn)?;
    let tags: Vec<Value> = m
        .tags
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    Ok(json!({"tags": tags}))
}
