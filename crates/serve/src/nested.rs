//! Nested executions: a Task `arn:aws:states:::states:startExecution[.sync|.sync:2|.waitForTaskToken]`
//! starts its child as an execution of this server, through the same checks and start as a
//! client's StartExecution — so the child is listed by ListExecutions of its state machine, and
//! DescribeExecution and GetExecutionHistory answer for it.
//!
//! - no suffix (request-response): the Task's result is StartExecution's answer, `ExecutionArn`
//!   and `StartDate`;
//! - `.sync`: StartExecution's answer is reported as the Task's submission (its `TaskSubmitted`
//!   event); the Task waits for the child and its result is DescribeExecution's answer with the
//!   `Input` and `Output` as JSON text; `.sync:2`: the same with `Input` and `Output` as JSON;
//!   a child that does not succeed fails the Task with `States.TaskFailed`, that answer (with
//!   `Error` and `Cause`) as the cause; a parent stopped while it waits stops the child;
//! - `.waitForTaskToken`: the child is started and the Task waits for its token
//!   ([`crate::callback`]).
//!
//! A child its parent's Task waits for (every pattern but request-response) takes none of the
//! `--max-concurrent` slots: its parent holds one already, and with all of them held by waiting
//! parents the children would never run.
//!
//! A refused start (an unknown state machine, a taken name, input that is not JSON) fails the
//! Task with `StepFunctions.<Code>Exception` (`StepFunctions.StateMachineDoesNotExistException`,
//! ...), the cause AWS's message with the service's error details after it.
//! Every other resource goes to the inner invoker unchanged.

use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use mdlc_asl::{TaskFailure, TaskInvoker, TaskRequest};
use serde_json::{Map, Value, json};

use crate::app::App;
use crate::error::ApiError;
use crate::store::ExecutionRecord;

/// The Step Functions `StartExecution` integration.
pub const START_EXECUTION: &str = "arn:aws:states:::states:startExecution";

/// How a child starts: StartExecution's checks and start for a nested Task (given by
/// `crate::ops::executions`, which builds this invoker: the operations sit above this module).
/// Its arguments: the server, the request's members, whether the parent waits for the child.
pub type StartChild =
    fn(
        &App,
        &Map<String, Value>,
        bool,
    ) -> Result<(ExecutionRecord, Option<tokio::task::JoinHandle<()>>), ApiError>;

/// The server's task invoker with nested executions; see the module documentation.
pub struct NestedInvoker {
    pub inner: Arc<dyn TaskInvoker>,
    pub app: Weak<App>,
    pub start: StartChild,
}

#[async_trait]
impl TaskInvoker for NestedInvoker {
    async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskFailure> {
        let Some(pattern) = request.resource.strip_prefix(START_EXECUTION) else {
            return self.inner.invoke(request).await;
        };
        let sync = match pattern {
            "" | ".waitForTaskToken" => None,
            ".sync" => Some(false),
            ".sync:2" => Some(true),
            _ => {
                return Err(TaskFailure::new(
                    "States.Runtime",
                    format!(
                        "state '{}': unsupported resource {}: the integration patterns of startExecution are request-response, .sync, .sync:2 and .waitForTaskToken",
                        request.state_name, request.resource
                    ),
                ));
            }
        };
        let app = self
            .app
            .upgrade()
            .ok_or_else(|| TaskFailure::new("States.Runtime", "the server has stopped"))?;
        let body = start_request(&request.parameters, &request.state_name)?;
        let (record, handle) =
            (self.start)(&app, &body, !pattern.is_empty()).map_err(|e| service_failure(&e))?;
        let started = json!({
            "ExecutionArn": record.execution_arn,
            "StartDate": millis(record.start_date),
        });
        let Some(json_output) = sync else {
            return Ok(started);
        };
        // the Task's TaskSubmitted event: StartExecution's answer
        request.submission.report(started);
        let guard = StopOnDrop {
            app: Arc::downgrade(&app),
            arn: record.execution_arn.clone(),
        };
        drop(app);
        match handle {
            Some(h) => {
                let _ = h.await;
            }
            // an identical request found the child running: wait for its end
            None => loop {
                match guard.app.upgrade().and_then(|a| a.execution(&guard.arn)) {
                    Some(r) if r.is_running() => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    _ => break,
                }
            },
        }
        let child = guard
            .app
            .upgrade()
            .and_then(|a| a.execution(&guard.arn))
            .ok_or_else(|| TaskFailure::new("States.Runtime", "the server has stopped"))?;
        sync_result(&child, json_output)
    }
}

/// StartExecution's members from the Task's parameters: `StateMachineArn`, `Name`, `Input` (a
/// JSON value, or JSON text as it is; default `{}`).
fn start_request(params: &Value, state: &str) -> Result<Map<String, Value>, TaskFailure> {
    let invalid = |what: &str| {
        TaskFailure::new(
            "States.Runtime",
            format!("state '{state}': startExecution {what}"),
        )
    };
    let Some(obj) = params.as_object() else {
        return Err(invalid("needs its parameters as a JSON object"));
    };
    let mut body = Map::new();
    match obj.get("StateMachineArn") {
        Some(Value::String(arn)) => {
            body.insert("stateMachineArn".into(), json!(arn));
        }
        _ => return Err(invalid("needs the string parameter StateMachineArn")),
    }
    match obj.get("Name") {
        None | Some(Value::Null) => {}
        Some(Value::String(n)) => {
            body.insert("name".into(), json!(n));
        }
        Some(_) => return Err(invalid("parameter Name must be a string")),
    }
    let input = match obj.get("Input") {
        None | Some(Value::Null) => "{}".to_string(),
        Some(Value::String(text)) => text.clone(),
        Some(v) => v.to_string(),
    };
    body.insert("input".into(), json!(input));
    Ok(body)
}

/// A refused start as the Task's failure: `StepFunctions.<Code>Exception`, and AWS's message
/// followed by the service's error details.
fn service_failure(e: &ApiError) -> TaskFailure {
    let exception = if e.code.ends_with("Exception") {
        e.code.to_string()
    } else {
        format!("{}Exception", e.code)
    };
    TaskFailure::new(
        format!("StepFunctions.{exception}"),
        format!(
            "{} (Service: AWSStepFunctions; Status Code: 400; Error Code: {}; Request ID: {}; Proxy: null)",
            e.message,
            e.code,
            uuid::Uuid::new_v4()
        ),
    )
}

/// Epoch seconds as the integer milliseconds the integration answers dates with.
fn millis(epoch_seconds: f64) -> i64 {
    (epoch_seconds * 1000.0).round() as i64
}

/// The result of a `.sync` Task (DescribeExecution's members in the integration's capitalised
/// names; with `json_output`, `.sync:2`, `Input` and `Output` as JSON rather than text).
fn sync_result(child: &ExecutionRecord, json_output: bool) -> Result<Value, TaskFailure> {
    let data = |text: &str| -> Value {
        if json_output {
            serde_json::from_str(text).unwrap_or_else(|_| json!(text))
        } else {
            json!(text)
        }
    };
    let mut out = Map::new();
    out.insert("ExecutionArn".into(), json!(child.execution_arn));
    out.insert("Input".into(), data(&child.input));
    out.insert("InputDetails".into(), json!({"Included": true}));
    out.insert("Name".into(), json!(child.name));
    if let Some(o) = &child.output {
        out.insert("Output".into(), data(o));
        out.insert("OutputDetails".into(), json!({"Included": true}));
    }
    out.insert("StartDate".into(), json!(millis(child.start_date)));
    out.insert("StateMachineArn".into(), json!(child.state_machine_arn));
    out.insert("Status".into(), json!(child.status));
    if let Some(stop) = child.stop_date {
        out.insert("StopDate".into(), json!(millis(stop)));
    }
    if child.status == "SUCCEEDED" {
        return Ok(Value::Object(out));
    }
    if let Some(e) = &child.error {
        out.insert("Error".into(), json!(e));
    }
    if let Some(c) = &child.cause {
        out.insert("Cause".into(), json!(c));
    }
    Err(TaskFailure::new(
        "States.TaskFailed",
        Value::Object(out).to_string(),
    ))
}

/// Stops the child of a `.sync` Task whose wait ends before the child does (its parent was
/// stopped or deleted, or the server is stopping).
struct StopOnDrop {
    app: Weak<App>,
    arn: String,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let Some(app) = self.app.upgrade() else {
            return;
        };
        if app.execution(&self.arn).is_some_and(|r| r.is_running()) {
            let _ = app.stop(&self.arn, None, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_starts_fail_as_step_functions_exceptions() {
        let f = service_failure(&ApiError::state_machine_does_not_exist("arn:x"));
        assert_eq!(f.error, "StepFunctions.StateMachineDoesNotExistException");
        assert!(
            f.cause
                .starts_with("State Machine Does Not Exist: 'arn:x' (Service: AWSStepFunctions; Status Code: 400; Error Code: StateMachineDoesNotExist; Request ID: "),
            "{}",
            f.cause
        );
        let f = service_failure(&ApiError::validation_message("bad"));
        assert_eq!(f.error, "StepFunctions.ValidationException");
    }

    #[test]
    fn input_is_json_text_or_a_value() {
        let b = start_request(&json!({"StateMachineArn": "a", "Input": {"x": 1}}), "S").unwrap();
        assert_eq!(b["input"], json!(r#"{"x":1}"#));
        let b = start_request(&json!({"StateMachineArn": "a", "Input": "[1]"}), "S").unwrap();
        assert_eq!(b["input"], json!("[1]"));
        let b = start_request(&json!({"StateMachineArn": "a"}), "S").unwrap();
        assert_eq!(b["input"], json!("{}"));
        assert!(start_request(&json!({"Input": {}}), "S").is_err());
    }
}
