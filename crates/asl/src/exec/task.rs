//! The Task state: invokes its resource through the execution's [`crate::TaskInvoker`] with
//! its parameters, under its `TimeoutSeconds` and `HeartbeatSeconds` on a real clock, and
//! records the task's events.

use std::time::Duration;

use serde_json::{Value, json};

use super::Run;
use super::eval::{FieldInput, dyn_u64};
use super::failure::{Failure, check_state_input, compact, runtime};
use super::types::StateRun;
use crate::api::{TaskFailure, TaskRequest};
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
        let rtype = resource_type(&t.resource);
        check_state_input(sr, &params)?;
        self.event(prev, "TaskScheduled", || {
            json!({"resource": t.resource, "resourceType": rtype, "region": self.opts.region, "parameters": compact(&params), "timeoutInSeconds": timeout, "heartbeatInSeconds": heartbeat})
        });
        self.event(
            prev,
            "TaskStarted",
            || json!({"resource": t.resource, "resourceType": rtype}),
        );
        let request = TaskRequest {
            resource: t.resource.clone(),
            parameters: params,
            context,
            state_name: sr.st.name.to_string(),
            state_machine_name: self.opts.state_machine_name.clone(),
            timeout_seconds: timeout,
            heartbeat_seconds: heartbeat,
        };
        let res = self
            .invoke(request, timeout, heartbeat)
            .await
            .and_then(|v| check_task_result(&t.resource, &rtype, v));
        match res {
            Ok(v) => {
                self.event(prev, "TaskSucceeded", || json!({"resource": t.resource, "resourceType": rtype, "output": compact(&v)}));
                Ok(v)
            }
            Err(e) => {
                let ty = if e.error == "States.Timeout" || e.error == "States.HeartbeatTimeout" {
                    "TaskTimedOut"
                } else {
                    "TaskFailed"
                };
                self.event(prev, ty, || json!({"resource": t.resource, "resourceType": rtype, "error": e.error, "cause": e.cause}));
                Err(Failure::new(&e.error, e.cause))
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
    ) -> Result<Value, TaskFailure> {
        let fut = self.opts.invoker.invoke(request);
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
                    futures::future::Either::Right(_) => Err(TaskFailure::new(
                        name,
                        format!("the task did not finish within {secs} seconds"),
                    )),
                }
            }
            _ => fut.await,
        }
    }
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

fn resource_type(resource: &str) -> String {
    // arn:aws:states:::lambda:invoke -> lambda ; arn:aws:lambda:...:function:x -> lambda
    let parts: Vec<&str> = resource.split(':').collect();
    match parts.get(2) {
        Some(&"states") => parts.get(5).copied().unwrap_or("states").to_string(),
        Some(s) => s.to_string(),
        None => "unknown".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_types() {
        assert_eq!(resource_type("arn:aws:states:::lambda:invoke"), "lambda");
        assert_eq!(
            resource_type("arn:aws:lambda:us-east-1:1:function:f"),
            "lambda"
        );
    }
}
