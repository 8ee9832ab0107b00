//! The AWS JSON 1.0 protocol: `POST /` with `X-Amz-Target: AWSStepFunctions.<Operation>` and a
//! JSON object body; the answer is a JSON object (`application/x-amz-json-1.0`) or an
//! [`ApiError`]. Signed requests are accepted; no signature is checked or required.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value};

pub use crate::answer::{CONTENT_TYPE, json_response};
use crate::app::App;
use crate::error::ApiError;

/// The target prefix of Step Functions' operations.
pub const TARGET_PREFIX: &str = "AWSStepFunctions.";
/// The largest request body read (a definition is at most 1 MiB, escaped in JSON).
const MAX_BODY: usize = 8 << 20;

/// The server's routes: `POST /` for every operation; `GET /` and `/dashboard/api/*` for the
/// dashboard ([`crate::dashboard`]).
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", post(handle).get(crate::dashboard::page))
        .merge(crate::dashboard::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

/// The body as a JSON object (an empty body is `{}`).
fn body_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::serialization(
            "the request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::serialization(format!(
            "the request body is not valid JSON: {e}"
        ))),
    }
}

async fn handle(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(op) = target.strip_prefix(TARGET_PREFIX) else {
        return ApiError::unknown_operation(target).into_response();
    };
    let result = match body_object(&body) {
        Ok(body) => crate::ops::dispatch(&app, op, &body).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => {
            tracing::debug!(target: "mdlc::serve", operation = op, "{e}");
            e.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_must_be_json_objects() {
        assert_eq!(body_object(b"").unwrap(), Map::new());
        assert_eq!(
            body_object(b"[]").unwrap_err().code,
            "SerializationException"
        );
        assert_eq!(
            body_object(b"{x").unwrap_err().code,
            "SerializationException"
        );
    }
}
