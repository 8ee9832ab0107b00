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
    app.tokens.answer(token, Ok(value), |e| app.is_running(e))?;
    Ok(json!({}))
}

pub fn failure(app: &App, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut r = Request::new(body);
    let token = r.required("taskToken", TOKEN);
    // A member left out stays absent, as AWS records it (a Catcher sees null).
    let error = r.string("error", ERROR);
    let cause = r.string("cause", CAUSE);
    r.finish()?;
    app.tokens
        .answer(token, Err(TaskFailure::sent(error, cause)), |e| {
            app.is_running(e)
        })?;
    Ok(json!({}))
}

pub fn heartbeat(app: &App, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut r = Request::new(body);
    let token = r.required("taskToken", TOKEN);
    r.finish()?;
    app.tokens.heartbeat(token, |e| app.is_running(e))?;
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;
    use mdlc_asl::{TaskInvoker, TaskRequest};

    use super::*;
    use crate::app::ServeConfig;
    use crate::ops::dispatch;

    /// No resource of its own: the test's only Task is a callback whose message is not sent.
    struct NoResources;

    #[async_trait]
    impl TaskInvoker for NoResources {
        async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskFailure> {
            Err(TaskFailure::new("Test.NoSuchResource", request.resource))
        }
    }

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().expect("an object").clone()
    }

    /// The task token in an execution's TaskScheduled event, once it is there.
    fn scheduled_token(app: &App, arn: &str) -> Option<String> {
        let record = app.execution(arn)?;
        let event = record
            .history
            .iter()
            .find(|e| e.event_type == "TaskScheduled")?;
        let params: Value = match &event.details["parameters"] {
            Value::String(text) => serde_json::from_str(text).ok()?,
            v => v.clone(),
        };
        params["token"].as_str().map(str::to_string)
    }

    /// A current-thread runtime: the execution's task cannot run between StopExecution and the
    /// answer, so its Task still waits (its token registered) when the answer comes, as it may
    /// on a busy server.
    #[tokio::test(flavor = "current_thread")]
    async fn the_token_of_a_stopped_execution_is_timed_out_once_stop_execution_has_answered() {
        let dir = tempfile::tempdir().unwrap();
        let app = App::open(ServeConfig {
            state_dir: dir.path().to_path_buf(),
            invoker: Arc::new(NoResources),
            item_store: None,
            mock: None,
            real_time: false,
            max_concurrent: 1,
            api_models: None,
            http_tasks: None,
        })
        .unwrap();
        let definition = json!({"StartAt": "Ask", "States": {"Ask": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
            "Parameters": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "token.$": "$$.Task.Token"},
            "End": true
        }}});
        let created = dispatch(
            &app,
            "CreateStateMachine",
            &body(json!({
                "name": "Asks",
                "definition": definition.to_string(),
                "roleArn": "arn:aws:iam::123456789012:role/StepFunctionsRole"
            })),
        )
        .await
        .unwrap();
        let started = dispatch(
            &app,
            "StartExecution",
            &body(json!({"stateMachineArn": created["stateMachineArn"], "name": "e1"})),
        )
        .await
        .unwrap();
        let arn = started["executionArn"].as_str().unwrap().to_string();
        // the execution runs up to its callback Task, which waits for its token
        let mut waiting = None;
        for _ in 0..10_000 {
            if let Some(t) = scheduled_token(&app, &arn)
                && app.tokens.heartbeat(&t, |e| app.is_running(e)).is_ok()
            {
                waiting = Some(t);
                break;
            }
            tokio::task::yield_now().await;
        }
        let token = waiting.expect("the Task waits for its token");

        dispatch(&app, "StopExecution", &body(json!({"executionArn": arn})))
            .await
            .unwrap();
        assert_eq!(app.execution(&arn).unwrap().status, "ABORTED");
        // no yield since the stop: the execution's task has not run, its Task still waits
        let late = dispatch(
            &app,
            "SendTaskSuccess",
            &body(json!({"taskToken": token, "output": "{}"})),
        )
        .await
        .unwrap_err();
        assert_eq!(
            (late.code, late.message.as_str()),
            (
                "TaskTimedOut",
                "Task Timed Out: 'Provided task does not exist anymore'"
            )
        );
        let heartbeat = dispatch(
            &app,
            "SendTaskHeartbeat",
            &body(json!({"taskToken": token})),
        )
        .await
        .unwrap_err();
        assert_eq!(heartbeat.code, "TaskTimedOut");
        assert_eq!(app.execution(&arn).unwrap().status, "ABORTED");
    }
}
