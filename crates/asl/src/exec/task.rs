//! The Task state: invokes its resource through the execution's [`crate::TaskInvoker`] with
//! its parameters, under its `TimeoutSeconds` and `HeartbeatSeconds` on a real clock, and
//! records the task's events.

use std::time::Duration;

use futures::future::Either;
use serde_json::{Value, json};

use super::Run;
use super::eval::{FieldInput, dyn_u64};
use super::failure::{Failure, check_state_input, compact, runtime};
use super::types::StateRun;
use crate::api::{Submission, TaskFailure, TaskRequest};
use crate::limits::{
    MAX_PAYLOAD_BYTES, MAX_SECONDS_FIELD, PayloadError, check_payload, data_limit_cause,
};
use crate::model::TaskSpec;

impl Run<'_> {
    pub(super) async fn exec_task(
        &self,
        sr: &StateRun<'_>,
        t: &TaskSpec,
        params: Value,
        prev: &mut u64,
        at: &FieldInput<'_, '_>,
        token: Option<&str>,
    ) -> Result<Value, Failure> {
        let (timeout, heartbeat) = task_limits(sr, t, at)?;
        let context = self.context(sr, token);
        check_state_input(sr, &params)?;
        let names = EventNames::of(&t.resource);
        let (resource, kind) = (&names.resource, &names.resource_type);
        if names.lambda_function {
            self.event(prev, "LambdaFunctionScheduled", || {
                json!({"resource": resource, "input": compact(&params), "timeoutInSeconds": timeout})
            });
            self.event(prev, "LambdaFunctionStarted", || Value::Null);
        } else {
            self.event(prev, "TaskScheduled", || {
                json!({"resource": resource, "resourceType": kind, "region": self.opts.region, "parameters": compact(&params), "timeoutInSeconds": timeout, "heartbeatInSeconds": heartbeat})
            });
            self.event(
                prev,
                "TaskStarted",
                || json!({"resource": resource, "resourceType": kind}),
            );
        }
        let (submission, mut submitted) = Submission::channel();
        let request = TaskRequest {
            resource: t.resource.clone(),
            parameters: params,
            context,
            state_name: sr.st.name.to_string(),
            state_machine_name: self.opts.state_machine_name.clone(),
            timeout_seconds: timeout,
            heartbeat_seconds: heartbeat,
            submission,
        };
        let on_submitted = |prev: &mut u64, response: Value| {
            self.event(prev, "TaskSubmitted", || {
                json!({"resource": resource, "resourceType": kind, "output": compact(&response)})
            });
        };
        // TaskSubmitted is recorded when the invoker reports it, while the Task still runs
        let invocation = self.invoke(request, timeout, heartbeat);
        futures::pin_mut!(invocation);
        let res = match futures::future::select(invocation, &mut submitted).await {
            Either::Left((res, _)) => {
                // reported just before the invoker returned
                if let Ok(Some(response)) = submitted.try_recv() {
                    on_submitted(prev, response);
                }
                res
            }
            Either::Right((report, invocation)) => {
                if let Ok(response) = report {
                    on_submitted(prev, response);
                }
                invocation.await
            }
        };
        let res = res.and_then(|v| {
            check_task_result(&t.resource, names.service(), v).map_err(TaskError::Failed)
        });
        match res {
            Ok(v) if names.lambda_function => {
                self.event(
                    prev,
                    "LambdaFunctionSucceeded",
                    || json!({"output": compact(&v)}),
                );
                Ok(v)
            }
            Ok(v) => {
                self.event(
                    prev,
                    "TaskSucceeded",
                    || json!({"resource": resource, "resourceType": kind, "output": compact(&v)}),
                );
                Ok(v)
            }
            Err(e) => {
                let (error, cause) = match &e {
                    TaskError::Failed(e) => (e.error_given(), e.cause_given()),
                    TaskError::TimedOut(name) => (Some(*name), None),
                };
                let timed_out = matches!(error, Some("States.Timeout" | "States.HeartbeatTimeout"));
                let ty = match (names.lambda_function, timed_out) {
                    (true, true) => "LambdaFunctionTimedOut",
                    (true, false) => "LambdaFunctionFailed",
                    (false, true) => "TaskTimedOut",
                    (false, false) => "TaskFailed",
                };
                self.event(prev, ty, || {
                    let mut d = json!({});
                    if let Some(x) = error {
                        d["error"] = json!(x);
                    }
                    if let Some(c) = cause {
                        d["cause"] = json!(c);
                    }
                    if !names.lambda_function {
                        d["resource"] = json!(resource);
                        d["resourceType"] = json!(kind);
                    }
                    d
                });
                Err(Failure {
                    error: error.map(str::to_string),
                    cause: cause.map(str::to_string),
                    caught_cause_empty: matches!(e, TaskError::TimedOut(_)),
                    ..Failure::new("", "")
                })
            }
        }
    }

    /// Invokes the task; on a real clock the first of its timeout and heartbeat to pass fails
    /// it (the virtual clock never cuts real work short).
    async fn invoke(
        &self,
        request: TaskRequest,
        timeout: Option<u64>,
        heartbeat: Option<u64>,
    ) -> Result<Value, TaskError> {
        let fut = async {
            self.opts
                .invoker
                .invoke(request)
                .await
                .map_err(TaskError::Failed)
        };
        let limit = match (timeout, heartbeat) {
            (Some(t), Some(h)) if h < t => Some((h, "States.HeartbeatTimeout")),
            (Some(t), _) => Some((t, "States.Timeout")),
            (None, Some(h)) => Some((h, "States.HeartbeatTimeout")),
            (None, None) => None,
        };
        match limit {
            Some((secs, name)) if !self.opts.clock.is_virtual() => {
                let sleep = self.opts.clock.sleep(Duration::from_secs(secs));
                futures::pin_mut!(fut);
                match futures::future::select(fut, sleep).await {
                    futures::future::Either::Left((r, _)) => r,
                    futures::future::Either::Right(_) => Err(TaskError::TimedOut(name)),
                }
            }
            _ => fut.await,
        }
    }
}

/// Why a Task did not give a result.
enum TaskError {
    /// The invoker's failure (or a result over the payload quota).
    Failed(TaskFailure),
    /// Its `TimeoutSeconds` or `HeartbeatSeconds` passed: that error, with no cause, as AWS
    /// records a timed-out Task (`TaskTimedOut` and `ExecutionFailed` carry only the error).
    TimedOut(&'static str),
}

/// `TimeoutSeconds` and `HeartbeatSeconds` (fixed, by path or JSONata), each at most
/// 99,999,999.
fn task_limits(
    sr: &StateRun<'_>,
    t: &TaskSpec,
    at: &FieldInput<'_, '_>,
) -> Result<(Option<u64>, Option<u64>), Failure> {
    let timeout = dyn_u64(sr, t.timeout.as_ref(), "TimeoutSeconds", at)?;
    let heartbeat = dyn_u64(sr, t.heartbeat.as_ref(), "HeartbeatSeconds", at)?;
    for (field, v) in [("TimeoutSeconds", timeout), ("HeartbeatSeconds", heartbeat)] {
        if let Some(n) = v.filter(|n| *n > MAX_SECONDS_FIELD) {
            return Err(runtime(
                sr,
                format!(
                    "The {field} value {n} is out of range: Maximum value is {MAX_SECONDS_FIELD}"
                ),
            ));
        }
    }
    Ok((timeout, heartbeat))
}

/// A task result over the payload quota is a `States.DataLimitExceeded` task failure (Retry
/// and Catch see it); the cause names a service integration by its resource type and any other
/// resource (a Lambda function, an activity) by its ARN, as AWS does.
fn check_task_result(resource: &str, resource_type: &str, v: Value) -> Result<Value, TaskFailure> {
    match check_payload(&v, MAX_PAYLOAD_BYTES) {
        Ok(_) => Ok(v),
        Err(PayloadError::TooLarge { .. }) => {
            let who = if resource.starts_with("arn:aws:states:::") {
                resource_type
            } else {
                resource
            };
            Err(TaskFailure::new(
                "States.DataLimitExceeded",
                data_limit_cause(who),
            ))
        }
        Err(e @ PayloadError::TooDeep { .. }) => Err(TaskFailure::new(
            "States.Runtime",
            format!("The result of the task '{resource}' cannot be passed on: {e}."),
        )),
    }
}

/// How a Task's resource is named in its history events, as AWS names it.
#[derive(Debug, PartialEq, Eq)]
struct EventNames {
    /// A service integration's action with its pattern (`invoke`, `sendMessage.waitForTaskToken`,
    /// `startExecution.sync:2`, `listBuckets`); any other resource's ARN.
    resource: String,
    /// The integration's service (`lambda`, `sqs`, `states`, `aws-sdk:s3`); for any other
    /// resource the service of its ARN.
    resource_type: String,
    /// A Lambda function ARN as the resource: AWS records `LambdaFunction…` events for it, not
    /// `Task…` ones.
    lambda_function: bool,
}

impl EventNames {
    /// The service alone (`aws-sdk` for `aws-sdk:s3`): how a result over the payload quota names
    /// a service integration.
    fn service(&self) -> &str {
        self.resource_type
            .split(':')
            .next()
            .unwrap_or(&self.resource_type)
    }

    fn of(resource: &str) -> EventNames {
        let parts: Vec<&str> = resource.splitn(6, ':').collect();
        // arn:<partition>:states:::<service>:<action> (aws-sdk:<service>:<action>)
        if let ["arn", _, "states", "", "", rest] = parts.as_slice() {
            let (service, action) = match rest.strip_prefix("aws-sdk:") {
                Some(sdk) => match sdk.split_once(':') {
                    Some((service, action)) => (format!("aws-sdk:{service}"), action),
                    None => ("aws-sdk".to_string(), sdk),
                },
                None => match rest.split_once(':') {
                    Some((service, action)) => (service.to_string(), action),
                    None => (rest.to_string(), *rest),
                },
            };
            return EventNames {
                resource: action.to_string(),
                resource_type: service,
                lambda_function: false,
            };
        }
        let service = parts.get(2).copied().unwrap_or("unknown");
        EventNames {
            resource: resource.to_string(),
            resource_type: service.to_string(),
            lambda_function: service == "lambda"
                && parts.get(5).is_some_and(|r| r.starts_with("function:")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(resource: &str) -> (String, String, bool) {
        let n = EventNames::of(resource);
        (n.resource, n.resource_type, n.lambda_function)
    }

    #[test]
    fn event_names_are_the_action_and_service_of_an_integration() {
        let cases = [
            ("arn:aws:states:::lambda:invoke", "invoke", "lambda"),
            (
                "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "sendMessage.waitForTaskToken",
                "sqs",
            ),
            (
                "arn:aws:states:::states:startExecution.sync:2",
                "startExecution.sync:2",
                "states",
            ),
            (
                "arn:aws:states:::sagemaker:createTrainingJob.sync",
                "createTrainingJob.sync",
                "sagemaker",
            ),
            (
                "arn:aws:states:::aws-sdk:s3:listBuckets",
                "listBuckets",
                "aws-sdk:s3",
            ),
            ("arn:aws-cn:states:::sns:publish", "publish", "sns"),
        ];
        for (arn, resource, kind) in cases {
            assert_eq!(names(arn), (resource.into(), kind.into(), false), "{arn}");
        }
        let f = "arn:aws:lambda:us-east-1:123456789012:function:f";
        assert_eq!(names(f), (f.into(), "lambda".into(), true));
        let a = "arn:aws:states:us-east-1:123456789012:activity:a";
        assert_eq!(names(a), (a.into(), "states".into(), false));
    }

    #[test]
    fn resource_types() {
        let service = |r: &str| EventNames::of(r).service().to_string();
        assert_eq!(service("arn:aws:states:::lambda:invoke"), "lambda");
        assert_eq!(service("arn:aws:lambda:us-east-1:1:function:f"), "lambda");
        assert_eq!(
            service("arn:aws:states:::aws-sdk:s3:listBuckets"),
            "aws-sdk"
        );
    }
}
