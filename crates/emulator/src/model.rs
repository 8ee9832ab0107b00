//! CreateModel / DescribeModel / DeleteModel.

use std::sync::Arc;

use mdlc_core::S3Uri;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, Problems};
use crate::fields::{self, check_name};
use crate::jobs::{Inner, now_ms};

/// Start of the `ValidationException` message for a duplicate model name (as on AWS).
pub(crate) const ALREADY_EXISTS: &str = "Cannot create already existing model";

/// CreateModel: the model data must exist (like AWS), the name must be new.
pub(crate) async fn create(inner: &Arc<Inner>, req: &Value) -> Result<Value, ApiError> {
    let mut p = Problems::new();
    let name = fields::req_str(req, "", "ModelName", &mut p).unwrap_or_default();
    if !name.is_empty() {
        check_name(&name, "ModelName", 63, &mut p);
    }
    let role = fields::req_str(req, "", "ExecutionRoleArn", &mut p).unwrap_or_default();
    if !role.is_empty() && !crate::fields::is_role_arn(&role) {
        p.push(
            "ExecutionRoleArn",
            format!("has value {role:?}, which is not an IAM role ARN"),
        );
    }
    let container = match (
        fields::get(req, "PrimaryContainer"),
        fields::get(req, "Containers"),
    ) {
        (Some(c @ Value::Object(_)), _) => Some(("PrimaryContainer".to_string(), c.clone())),
        (None, Some(Value::Array(list))) if list.len() == 1 => list
            .first()
            .map(|c| ("Containers[0]".to_string(), c.clone())),
        (None, Some(Value::Array(_))) => {
            p.push("Containers", "inference pipelines (more than one container) are not supported by the local emulator");
            None
        }
        _ => {
            p.push("PrimaryContainer", "is required");
            None
        }
    };
    let mut data_url: Option<S3Uri> = None;
    if let Some((at, c)) = &container {
        let image = fields::req_str(c, at, "Image", &mut p).unwrap_or_default();
        if !image.is_empty() && inner.config.images.resolve(&image).is_none() {
            p.push(
                &format!("{at}.Image"),
                format!("{image:?} is not in the emulator's image map"),
            );
        }
        fields::str_map(c, at, "Environment", &mut p);
        if let Some(u) = fields::opt_str(c, at, "ModelDataUrl", &mut p) {
            match u.parse::<S3Uri>() {
                Ok(uri) => data_url = Some(uri),
                Err(e) => p.push(&format!("{at}.ModelDataUrl"), e.to_string()),
            }
        }
    }
    crate::vpc::check(req, "", &mut p);
    p.finish()?;
    if let Some(uri) = &data_url {
        let exists = inner.config.store.exists(uri).await?;
        if !exists {
            return Err(ApiError::validation(format!(
                "Could not find model data at {uri}."
            )));
        }
    }
    let arn = inner.arn("model", &name);
    if inner.model(&name).is_some() {
        return Err(ApiError::validation(format!("{ALREADY_EXISTS} \"{arn}\".")));
    }
    let mut d = Map::new();
    d.insert("ModelName".into(), json!(name));
    d.insert("ModelArn".into(), json!(arn));
    if let Some((_, c)) = container {
        d.insert("PrimaryContainer".into(), c);
    }
    d.insert("ExecutionRoleArn".into(), json!(role));
    if let Some(vpc) = fields::get(req, "VpcConfig") {
        d.insert("VpcConfig".into(), vpc.clone());
    }
    d.insert("CreationTime".into(), json!(now_ms()));
    d.insert(
        "EnableNetworkIsolation".into(),
        fields::get(req, "EnableNetworkIsolation")
            .cloned()
            .unwrap_or(json!(false)),
    );
    if !inner.insert_model(&name, Value::Object(d))? {
        return Err(ApiError::validation(format!("{ALREADY_EXISTS} \"{arn}\".")));
    }
    tracing::info!(target: "mdlc_emulator", model = %name, "model created");
    Ok(json!({ "ModelArn": arn }))
}

pub(crate) fn describe(inner: &Inner, req: &Value) -> Result<Value, ApiError> {
    let mut p = Problems::new();
    let name = fields::req_str(req, "", "ModelName", &mut p).unwrap_or_default();
    p.finish()?;
    inner.model(&name).ok_or_else(|| {
        ApiError::validation(format!(
            "Could not find model \"{}\".",
            inner.arn("model", &name)
        ))
    })
}

pub(crate) fn delete(inner: &Inner, req: &Value) -> Result<Value, ApiError> {
    let mut p = Problems::new();
    let name = fields::req_str(req, "", "ModelName", &mut p).unwrap_or_default();
    p.finish()?;
    if inner.model(&name).is_none() {
        return Err(ApiError::validation(format!(
            "Could not find model \"{}\".",
            inner.arn("model", &name)
        )));
    }
    inner.state_models().remove(&name);
    let path = inner
        .config
        .work_dir
        .join("models")
        .join(format!("{name}.json"));
    let _ = std::fs::remove_file(path);
    Ok(json!({}))
}
