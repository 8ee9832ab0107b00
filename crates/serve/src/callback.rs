//! The callback pattern (`.waitForTaskToken`): a Task waits until a client answers its token
//! with SendTaskSuccess or SendTaskFailure.
//!
//! [`CallbackInvoker`] wraps the server's task invoker. For a `.waitForTaskToken` resource it
//! registers the token of the Task (`$$.Task.Token`), sends the message — a Lambda function
//! (`arn:aws:states:::lambda:invoke.waitForTaskToken`) is invoked and an SQS message
//! (`arn:aws:states:::sqs:sendMessage.waitForTaskToken`) is sent to the local cloud's queue and a
//! child execution (`arn:aws:states:::states:startExecution.waitForTaskToken`) is started, all
//! through the inner invoker; other services (SNS, EventBridge, ...) have no local
//! endpoint, so nothing is sent and a client reads the token from the TaskScheduled event's
//! parameters — and waits for the answer. The send's response (none, `{}`, when nothing is sent)
//! is reported as the Task's submission (its `TaskSubmitted` event, as AWS records it).
//! Every other resource goes to the inner invoker unchanged.
//!
//! A token belongs to its execution: once the execution is no longer RUNNING (stopped, and so
//! once StopExecution has answered) an answer or heartbeat to it is `TaskTimedOut`, even while
//! the execution's task has not yet been dropped (it is dropped asynchronously, on the runtime).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use mdlc_asl::{TaskFailure, TaskInvoker, TaskRequest};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::error::ApiError;

const LAMBDA_CALLBACK: &str = "arn:aws:states:::lambda:invoke.waitForTaskToken";
/// A nested execution's callback pattern (`crate::nested` starts the child, which answers the
/// token).
const START_EXECUTION_CALLBACK: &str = "arn:aws:states:::states:startExecution.waitForTaskToken";

/// The callback resources whose message the inner invoker sends (its own result is not the
/// Task's: the answer to the token is).
const SENT_CALLBACKS: [&str; 3] = [
    LAMBDA_CALLBACK,
    mdlc_local::sqs::SEND_MESSAGE_CALLBACK,
    START_EXECUTION_CALLBACK,
];

/// An answer to a task token.
type Answer = Result<Value, TaskFailure>;

/// A Task waiting for the answer to its token.
struct Waiting {
    /// The ARN of the execution the Task belongs to.
    execution: String,
    answer: oneshot::Sender<Answer>,
}

#[derive(Default)]
struct Tables {
    /// Tokens of the Tasks waiting now.
    waiting: HashMap<String, Waiting>,
    /// Tokens issued by this server whose Task is no longer waiting.
    closed: HashSet<String>,
}

/// The task tokens of this server.
#[derive(Default)]
pub struct Tokens {
    tables: Mutex<Tables>,
}

impl Tokens {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn register(
        self: &Arc<Self>,
        token: &str,
        execution: &str,
    ) -> (oneshot::Receiver<Answer>, Registration) {
        let (tx, rx) = oneshot::channel();
        self.lock().waiting.insert(
            token.to_string(),
            Waiting {
                execution: execution.to_string(),
                answer: tx,
            },
        );
        let reg = Registration {
            tokens: self.clone(),
            token: token.to_string(),
        };
        (rx, reg)
    }

    /// Answers a waiting Task: `TaskTimedOut` when its Task no longer waits (answered,
    /// stopped, timed out) or its execution is no longer running (`running` says whether an
    /// execution ARN is RUNNING), `InvalidToken` for a token this server never issued.
    ///
    /// `running` is asked under this table's lock, so an answer after StopExecution has
    /// answered finds the execution stopped: its Task's future may not have been dropped yet.
    pub fn answer(
        &self,
        token: &str,
        answer: Answer,
        running: impl Fn(&str) -> bool,
    ) -> Result<(), ApiError> {
        let mut t = self.lock();
        match t.waiting.remove(token) {
            Some(w) => {
                t.closed.insert(token.to_string());
                if !running(&w.execution) {
                    return Err(task_timed_out());
                }
                // a Task dropped between the lookup and now is a closed Task
                w.answer.send(answer).map_err(|_| task_timed_out())
            }
            None if t.closed.contains(token) => Err(task_timed_out()),
            None => Err(ApiError::invalid_token("Invalid token")),
        }
    }

    /// SendTaskHeartbeat: the same checks as an answer, nothing answered.
    pub fn heartbeat(&self, token: &str, running: impl Fn(&str) -> bool) -> Result<(), ApiError> {
        let t = self.lock();
        match t.waiting.get(token) {
            Some(w) if running(&w.execution) => Ok(()),
            Some(_) => Err(task_timed_out()),
            None if t.closed.contains(token) => Err(task_timed_out()),
            None => Err(ApiError::invalid_token("Invalid token")),
        }
    }
}

fn task_timed_out() -> ApiError {
    ApiError::service(
        "TaskTimedOut",
        "Task Timed Out: 'Provided task does not exist anymore'",
    )
}

/// Removes a token from the waiting ones when its Task stops waiting (answered or dropped).
struct Registration {
    tokens: Arc<Tokens>,
    token: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut t = self.tokens.lock();
        t.waiting.remove(&self.token);
        t.closed.insert(self.token.clone());
    }
}

/// The server's task invoker with the callback pattern, for one execution; see the module
/// documentation.
pub struct CallbackInvoker {
    pub inner: Arc<dyn TaskInvoker>,
    pub tokens: Arc<Tokens>,
    /// The ARN of the execution whose Tasks this invoker runs.
    pub execution: String,
}

#[async_trait]
impl TaskInvoker for CallbackInvoker {
    async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskFailure> {
        if !request.resource.ends_with(".waitForTaskToken") {
            return self.inner.invoke(request).await;
        }
        let token = request
            .context
            .pointer("/Task/Token")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                TaskFailure::new(
                    "States.Runtime",
                    format!(
                        "state '{}': the callback task has no task token in its context",
                        request.state_name
                    ),
                )
            })?;
        let (rx, _registration) = self.tokens.register(&token, &self.execution);
        let submission = request.submission.clone();
        if SENT_CALLBACKS.contains(&request.resource.as_str()) {
            // the send's own result is not the task's: the answer to the token is; it is the
            // TaskSubmitted event's output, and a refused send fails the Task
            let sent = self.inner.invoke(request).await?;
            submission.report(sent);
        } else {
            // nothing is sent, so the submission has no response to show
            submission.report(Value::Object(Default::default()));
        }
        match rx.await {
            Ok(answer) => answer,
            Err(_) => Err(TaskFailure::new(
                "States.Runtime",
                "the task token was dropped without an answer",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(_: &str) -> bool {
        true
    }

    #[test]
    fn unknown_tokens_are_invalid_and_answered_ones_timed_out() {
        let tokens = Arc::new(Tokens::default());
        assert_eq!(
            tokens
                .answer("nope", Ok(Value::Null), running)
                .unwrap_err()
                .code,
            "InvalidToken"
        );
        let (rx, reg) = tokens.register("t1", "arn:e1");
        assert_eq!(tokens.heartbeat("t1", running), Ok(()));
        assert_eq!(tokens.answer("t1", Ok(Value::Bool(true)), running), Ok(()));
        assert_eq!(
            futures::executor::block_on(rx).unwrap(),
            Ok(Value::Bool(true))
        );
        drop(reg);
        assert_eq!(
            tokens
                .answer("t1", Ok(Value::Null), running)
                .unwrap_err()
                .code,
            "TaskTimedOut"
        );
        assert_eq!(
            tokens.heartbeat("t1", running).unwrap_err().code,
            "TaskTimedOut"
        );
    }

    #[test]
    fn the_token_of_an_execution_no_longer_running_is_timed_out_while_its_task_still_waits() {
        let tokens = Arc::new(Tokens::default());
        let (mut rx, _still_registered) = tokens.register("t1", "arn:stopped");
        let stopped = |arn: &str| arn != "arn:stopped";
        assert_eq!(
            tokens.heartbeat("t1", stopped).unwrap_err().code,
            "TaskTimedOut"
        );
        assert_eq!(
            tokens
                .answer("t1", Ok(Value::Null), stopped)
                .unwrap_err()
                .code,
            "TaskTimedOut"
        );
        // nothing reached the Task, and the token stays closed
        assert!(rx.try_recv().is_err());
        assert_eq!(
            tokens
                .answer("t1", Ok(Value::Null), running)
                .unwrap_err()
                .code,
            "TaskTimedOut"
        );
    }
}
