//! SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat: the answers to a `.waitForTaskToken`
//! Task's token (see [`crate::callback`]).

use mdlc_asl::TaskFailure;
use serde_json::{Map, Value, json};

use crate::app::App;
use crate::error::ApiError;
use crate::request::{CAUSE, DATA, ERROR, Request, TOKEN};

pub fn success(app: &App, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut r = Request::new(body);
    let token = r.required("taskToken", TOKEN);
    let output = r.required("output", DATA);
    r.finish()?;
    let value: Value = serde_json::from_str(output).map_err(|e| {
        ApiError::service(
            "InvalidOutput",
            format!("Invalid State Machine Output: '{e}'"),
        )
    })?;
    app.tokens.answer(token, Ok(value))?;
    Ok(json!({}))
}

pub fn failure(app: &App, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut r = Request::new(body);
    let token = r.required("taskToken", TOKEN);
    let error = r.string("error", ERROR).unwrap_or("");
    let cause = r.string("cause", CAUSE).unwrap_or("");
    r.finish()?;
    app.tokens
        .answer(token, Err(TaskFailure::new(error, cause)))?;
    Ok(json!({}))
}

pub fn heartbeat(app: &App, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut r = Request::new(body);
    let token = r.required("taskToken", TOKEN);
    r.finish()?;
    app.tokens.heartbeat(token)?;
    Ok(json!({}))
}
