//! A Task's history events for each integration pattern, in GetExecutionHistory's shape
//! (`mdlc_asl::aws_history`), as AWS records them: `TaskScheduled` (resource, resourceType,
//! region, parameters as JSON text, the timeouts the state sets), `TaskStarted`, `TaskSubmitted`
//! for a `.sync` job or a `.waitForTaskToken` message (the submit call's response), then
//! `TaskSucceeded` / `TaskFailed` / `TaskTimedOut`; a service integration is named by its action
//! (`invoke`, `startExecution.sync:2`) and service (`lambda`, `states`); a Lambda function ARN as
//! the resource gives `LambdaFunction…` events instead; one attempt's events per retry.
//! The `.waitForTaskToken` pattern answered through SendTaskSuccess/SendTaskFailure is tested
//! through `mdlc serve` (crates/serve/tests/task_events.rs).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use mdlc_asl::aws_history::history_to_aws;
use mdlc_asl::{
    Execution, ExecutionOptions, ExecutionStatus, RealClock, StateMachine, TaskFailure,
    TaskInvoker, TaskRequest,
};
use serde_json::{Value, json};

/// Answers each pattern as the local invoker does; `.sync` and `.waitForTaskToken` Tasks report
/// their submission first. The first `failures` calls fail with `Boom`.
#[derive(Default)]
struct Scripted {
    failures: usize,
    calls: AtomicUsize,
    /// Never answers a `.waitForTaskToken` Task (a timeout ends it).
    silent_callbacks: bool,
}

#[async_trait]
impl TaskInvoker for Scripted {
    async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskFailure> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if n < self.failures {
            return Err(TaskFailure::new("Boom", format!("attempt {}", n + 1)));
        }
        let r = request.resource.as_str();
        if r.ends_with(".sync") || r.ends_with(".sync:2") {
            request
                .submission
                .report(json!({"ExecutionArn": "arn:child", "StartDate": 1}));
            // the job runs: the engine records the submission meanwhile
            tokio::task::yield_now().await;
            return Ok(json!({"ExecutionArn": "arn:child", "Status": "SUCCEEDED"}));
        }
        if r.ends_with(".waitForTaskToken") {
            request.submission.report(json!({"MessageId": "m-1"}));
            if self.silent_callbacks {
                std::future::pending::<()>().await;
            }
            return Ok(json!("answered"));
        }
        if r.starts_with("arn:aws:lambda:") {
            return Ok(json!({"from": "function"}));
        }
        Ok(json!({"Payload": request.parameters["Payload"].clone(), "StatusCode": 200}))
    }
}

async fn run(task: Value, invoker: Scripted, real_clock: bool) -> Execution {
    let def = json!({"StartAt": "T", "States": {"T": task}});
    let sm = StateMachine::from_value(&def).unwrap_or_else(|e| panic!("invalid: {e}"));
    let mut opts = ExecutionOptions {
        invoker: Arc::new(invoker),
        state_machine_name: "M".into(),
        execution_name: "e".into(),
        record_history: true,
        ..Default::default()
    };
    if real_clock {
        opts.clock = Arc::new(RealClock);
    }
    sm.execute(json!({"a": 1}), opts).await
}

/// The history as `(id, previousEventId, type)` and the details of every Task and Lambda
/// event, JSON text members (`parameters`, `output`, `input`) checked to be text and parsed.
fn shape(exec: &Execution) -> (Vec<(u64, u64, String)>, Vec<Value>) {
    let events = history_to_aws(&exec.history, true);
    let mut chain = Vec::new();
    let mut details = Vec::new();
    for e in &events {
        let ty = e["type"].as_str().unwrap_or("").to_string();
        chain.push((
            e["id"].as_u64().unwrap_or(0),
            e["previousEventId"].as_u64().unwrap_or(u64::MAX),
            ty.clone(),
        ));
        let task_event = ty.starts_with("Task") && !ty.starts_with("TaskState");
        if !(task_event || ty.starts_with("LambdaFunction")) {
            continue;
        }
        let member = e
            .as_object()
            .and_then(|m| m.iter().find(|(k, _)| k.ends_with("EventDetails")))
            .map(|(k, v)| (k.clone(), v.clone()));
        let Some((member, Value::Object(mut d))) = member else {
            details.push(json!({"type": ty}));
            continue;
        };
        for key in ["parameters", "output", "input"] {
            if let Some(v) = d.get(key).cloned() {
                let text = v
                    .as_str()
                    .unwrap_or_else(|| panic!("{ty}.{key} is not JSON text: {v}"));
                let parsed: Value = serde_json::from_str(text)
                    .unwrap_or_else(|e| panic!("{ty}.{key} is not JSON: {e}"));
                d.insert(key.into(), parsed);
            }
        }
        details.push(json!({"type": ty, member: d}));
    }
    (chain, details)
}

fn chain(types: &[&str]) -> Vec<(u64, u64, String)> {
    // a single Task state: ExecutionStarted and TaskStateEntered have previousEventId 0, every
    // later event the one before it
    types
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let id = i as u64 + 1;
            let prev = if id <= 2 { 0 } else { id - 1 };
            (id, prev, t.to_string())
        })
        .collect()
}

fn no_trunc() -> Value {
    json!({"truncated": false})
}

#[tokio::test]
async fn request_response_lambda_invoke_is_scheduled_started_succeeded_by_action_and_service() {
    let exec = run(
        json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
               "Parameters": {"FunctionName": "f", "Payload.$": "$"}, "End": true}),
        Scripted::default(),
        false,
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded);
    let (c, d) = shape(&exec);
    assert_eq!(
        c,
        chain(&[
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ])
    );
    assert_eq!(
        d,
        vec![
            json!({"type": "TaskScheduled", "taskScheduledEventDetails": {
                "parameters": {"FunctionName": "f", "Payload": {"a": 1}},
                "region": "us-east-1", "resource": "invoke", "resourceType": "lambda"}}),
            json!({"type": "TaskStarted", "taskStartedEventDetails": {
                "resource": "invoke", "resourceType": "lambda"}}),
            json!({"type": "TaskSucceeded", "taskSucceededEventDetails": {
                "output": {"Payload": {"a": 1}, "StatusCode": 200}, "outputDetails": no_trunc(),
                "resource": "invoke", "resourceType": "lambda"}}),
        ]
    );
}

async fn sync_case(suffix: &str) {
    let resource = format!("arn:aws:states:::states:startExecution{suffix}");
    let exec = run(
        json!({"Type": "Task", "Resource": resource, "TimeoutSeconds": 300, "HeartbeatSeconds": 60,
               "Parameters": {"StateMachineArn": "arn:sm", "Input.$": "$"}, "End": true}),
        Scripted::default(),
        false,
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded);
    let (c, d) = shape(&exec);
    assert_eq!(
        c,
        chain(&[
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSubmitted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ])
    );
    let action = format!("startExecution{suffix}");
    assert_eq!(
        d,
        vec![
            json!({"type": "TaskScheduled", "taskScheduledEventDetails": {
                "parameters": {"StateMachineArn": "arn:sm", "Input": {"a": 1}},
                "region": "us-east-1", "resource": action, "resourceType": "states",
                "timeoutInSeconds": 300, "heartbeatInSeconds": 60}}),
            json!({"type": "TaskStarted", "taskStartedEventDetails": {
                "resource": action, "resourceType": "states"}}),
            json!({"type": "TaskSubmitted", "taskSubmittedEventDetails": {
                "output": {"ExecutionArn": "arn:child", "StartDate": 1}, "outputDetails": no_trunc(),
                "resource": action, "resourceType": "states"}}),
            json!({"type": "TaskSucceeded", "taskSucceededEventDetails": {
                "output": {"ExecutionArn": "arn:child", "Status": "SUCCEEDED"},
                "outputDetails": no_trunc(), "resource": action, "resourceType": "states"}}),
        ]
    );
}

#[tokio::test]
async fn sync_start_execution_records_the_submission_between_started_and_succeeded() {
    sync_case(".sync").await;
}

#[tokio::test]
async fn sync2_start_execution_records_the_submission_between_started_and_succeeded() {
    sync_case(".sync:2").await;
}

#[tokio::test]
async fn a_lambda_function_arn_gives_lambda_function_events_with_its_arn_and_input() {
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:f";
    let exec = run(
        json!({"Type": "Task", "Resource": arn, "TimeoutSeconds": 30, "End": true}),
        Scripted::default(),
        false,
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded);
    let (c, d) = shape(&exec);
    assert_eq!(
        c,
        chain(&[
            "ExecutionStarted",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ])
    );
    assert_eq!(
        d,
        vec![
            json!({"type": "LambdaFunctionScheduled", "lambdaFunctionScheduledEventDetails": {
                "input": {"a": 1}, "inputDetails": no_trunc(), "resource": arn,
                "timeoutInSeconds": 30}}),
            json!({"type": "LambdaFunctionStarted"}),
            json!({"type": "LambdaFunctionSucceeded", "lambdaFunctionSucceededEventDetails": {
                "output": {"from": "function"}, "outputDetails": no_trunc()}}),
        ]
    );
}

#[tokio::test]
async fn a_failing_lambda_function_arn_gives_lambda_function_failed_with_error_and_cause() {
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:f";
    let exec = run(
        json!({"Type": "Task", "Resource": arn, "End": true}),
        Scripted {
            failures: 1,
            ..Default::default()
        },
        false,
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    let (c, d) = shape(&exec);
    assert_eq!(
        c,
        chain(&[
            "ExecutionStarted",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionFailed",
            "ExecutionFailed"
        ])
    );
    assert_eq!(
        d[2],
        json!({"type": "LambdaFunctionFailed", "lambdaFunctionFailedEventDetails": {
            "error": "Boom", "cause": "attempt 1"}})
    );
}

#[tokio::test]
async fn a_retried_task_records_one_attempts_events_per_retry_three_task_failed() {
    let exec = run(
        json!({"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
               "Parameters": {"QueueUrl": "q", "MessageBody": "m"},
               "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 1, "MaxAttempts": 3}],
               "End": true}),
        Scripted {
            failures: 3,
            ..Default::default()
        },
        false,
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded);
    let (c, d) = shape(&exec);
    let attempt = ["TaskScheduled", "TaskStarted", "TaskFailed"];
    let mut types = vec!["ExecutionStarted", "TaskStateEntered"];
    for _ in 0..3 {
        types.extend(attempt);
    }
    types.extend([
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]);
    assert_eq!(c, chain(&types));
    let failed: Vec<&Value> = d.iter().filter(|e| e["type"] == "TaskFailed").collect();
    assert_eq!(failed.len(), 3);
    for (i, f) in failed.iter().enumerate() {
        assert_eq!(
            **f,
            json!({"type": "TaskFailed", "taskFailedEventDetails": {
                "error": "Boom", "cause": format!("attempt {}", i + 1),
                "resource": "sendMessage", "resourceType": "sqs"}})
        );
    }
    let scheduled = d.iter().filter(|e| e["type"] == "TaskScheduled").count();
    assert_eq!(scheduled, 4, "one TaskScheduled per attempt");
}

#[tokio::test]
async fn a_callback_task_that_times_out_is_submitted_then_timed_out() {
    let exec = run(
        json!({"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
               "Parameters": {"QueueUrl": "q", "MessageBody": {"Token.$": "$$.Task.Token"}},
               "TimeoutSeconds": 1, "End": true}),
        Scripted {
            silent_callbacks: true,
            ..Default::default()
        },
        true,
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    assert_eq!(exec.error.as_deref(), Some("States.Timeout"));
    let (c, d) = shape(&exec);
    assert_eq!(
        c,
        chain(&[
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSubmitted",
            "TaskTimedOut",
            "ExecutionFailed"
        ])
    );
    let action = "sendMessage.waitForTaskToken";
    assert_eq!(d[0]["taskScheduledEventDetails"]["resource"], action);
    assert_eq!(d[0]["taskScheduledEventDetails"]["timeoutInSeconds"], 1);
    assert_eq!(
        d[2],
        json!({"type": "TaskSubmitted", "taskSubmittedEventDetails": {
            "output": {"MessageId": "m-1"}, "outputDetails": no_trunc(),
            "resource": action, "resourceType": "sqs"}})
    );
    let timed_out = &d[3]["taskTimedOutEventDetails"];
    assert_eq!(timed_out["error"], "States.Timeout");
    assert_eq!(timed_out["resource"], action);
    assert_eq!(timed_out["resourceType"], "sqs");
}

/// Runs `def` on `input` with `invoker`, its history recorded (on a real clock if `real`).
async fn run_def(def: Value, input: Value, invoker: Arc<dyn TaskInvoker>, real: bool) -> Execution {
    let sm = StateMachine::from_value(&def).unwrap_or_else(|e| panic!("invalid: {e}"));
    let mut opts = ExecutionOptions {
        invoker,
        record_history: true,
        ..Default::default()
    };
    if real {
        opts.clock = Arc::new(RealClock);
    }
    sm.execute(input, opts).await
}

/// `(id, previousEventId, type)` of a whole history.
fn ids(exec: &Execution) -> Vec<(u64, u64, &str)> {
    exec.history
        .iter()
        .map(|e| (e.id, e.previous_event_id, e.event_type.as_str()))
        .collect()
}

fn boom() -> Scripted {
    Scripted {
        failures: usize::MAX,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_task_failed_inside_a_parallel_branch_is_aborted_after_its_failure() {
    // AWS: TaskFailed, then TaskStateAborted and ParallelStateFailed both pointing to it.
    let branch = json!({"StartAt": "T", "States": {"T": {"Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"}, "End": true}}});
    let parallel = json!({"Type": "Parallel", "Branches": [branch],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}], "Next": "Done"});
    let def = json!({"StartAt": "P", "States": {"P": parallel, "Done": {"Type": "Succeed"}}});
    let e = run_def(def, json!({}), Arc::new(boom()), false).await;
    assert_eq!(
        ids(&e)[..11],
        [
            (1, 0, "ExecutionStarted"),
            (2, 0, "ParallelStateEntered"),
            (3, 2, "ParallelStateStarted"),
            (4, 3, "TaskStateEntered"),
            (5, 4, "TaskScheduled"),
            (6, 5, "TaskStarted"),
            (7, 6, "TaskFailed"),
            (8, 7, "TaskStateAborted"),
            (9, 7, "ParallelStateFailed"),
            (10, 9, "ParallelStateExited"),
            (11, 10, "SucceedStateEntered"),
        ]
    );
}

#[tokio::test]
async fn a_retried_parallel_starts_again_from_the_failure_not_the_aborted_event() {
    let branch = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:x:t", "End": true}}});
    let parallel = json!({"Type": "Parallel", "Branches": [branch], "End": true,
        "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1, "IntervalSeconds": 1}]});
    let def = json!({"StartAt": "P", "States": {"P": parallel}});
    let e = run_def(def, json!({}), Arc::new(boom()), false).await;
    let h = ids(&e);
    assert_eq!(
        h[6..9],
        [
            (7, 6, "TaskFailed"),
            (8, 7, "TaskStateAborted"),
            (9, 7, "ParallelStateStarted")
        ]
    );
    assert_eq!(
        h[h.len() - 3..],
        [
            (14, 13, "TaskStateAborted"),
            (15, 13, "ParallelStateFailed"),
            (16, 15, "ExecutionFailed")
        ]
    );
}

#[tokio::test]
async fn a_task_failed_inside_a_map_iteration_is_aborted_after_the_iteration_failed() {
    // AWS: MapIterationFailed, then TaskStateAborted and MapStateFailed pointing to the failure.
    let processor = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:x:t", "End": true}}});
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": processor, "End": true}}});
    let e = run_def(def, json!([1]), Arc::new(boom()), false).await;
    assert_eq!(
        ids(&e)[3..],
        [
            (4, 3, "MapIterationStarted"),
            (5, 4, "TaskStateEntered"),
            (6, 5, "TaskScheduled"),
            (7, 6, "TaskStarted"),
            (8, 7, "TaskFailed"),
            (9, 8, "MapIterationFailed"),
            (10, 8, "TaskStateAborted"),
            (11, 8, "MapStateFailed"),
            (12, 11, "ExecutionFailed"),
        ]
    );
}

#[tokio::test]
async fn a_task_failed_at_the_top_level_is_not_aborted() {
    let e = run(
        json!({"Type": "Task", "Resource": "arn:x:t", "End": true}),
        boom(),
        false,
    )
    .await;
    let types: Vec<&str> = ids(&e).into_iter().map(|(_, _, t)| t).collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskFailed",
            "ExecutionFailed"
        ]
    );
}

/// A Task whose parameters say `hang` never answers; any other fails at once.
struct HangOrFail;

#[async_trait]
impl TaskInvoker for HangOrFail {
    async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskFailure> {
        if request.parameters["hang"] == json!(true) {
            std::future::pending::<()>().await;
        }
        Err(TaskFailure::new("Boom", "failed"))
    }
}

async fn run_hang_or_fail(def: Value, input: Value) -> Execution {
    run_def(def, input, Arc::new(HangOrFail), false).await
}

#[tokio::test]
async fn a_failed_iteration_aborts_the_running_ones_with_the_state_each_was_in() {
    // AWS: after the failed iteration's MapIterationFailed and TaskStateAborted, each running
    // one's MapIterationAborted and TaskStateAborted, all pointing to the failure.
    let processor = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:x:t",
        "Parameters": {"hang.$": "$.hang"}, "End": true}}});
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": processor, "End": true}}});
    let items = json!([{"hang": true}, {"hang": true}, {"hang": false}]);
    let e = run_hang_or_fail(def, items).await;
    let h = ids(&e);
    assert_eq!(
        h[15..],
        [
            (16, 15, "TaskFailed"),
            (17, 16, "MapIterationFailed"),
            (18, 16, "TaskStateAborted"),
            (19, 16, "MapIterationAborted"),
            (20, 16, "TaskStateAborted"),
            (21, 16, "MapIterationAborted"),
            (22, 16, "TaskStateAborted"),
            (23, 16, "MapStateFailed"),
            (24, 23, "ExecutionFailed"),
        ]
    );
    let aborted: Vec<&Value> = e
        .history
        .iter()
        .filter(|h| h.event_type == "MapIterationAborted")
        .map(|h| &h.details["index"])
        .collect();
    assert_eq!(aborted, [&json!(0), &json!(1)]);
}

#[tokio::test]
async fn a_failed_branch_aborts_the_state_the_other_branch_is_in() {
    let branch = |hang: bool| {
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:x:t",
            "Parameters": {"hang": hang}, "End": true}}})
    };
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel",
        "Branches": [branch(true), branch(false)], "End": true}}});
    let e = run_hang_or_fail(def, json!({})).await;
    assert_eq!(
        ids(&e)[9..],
        [
            (10, 9, "TaskFailed"),
            (11, 10, "TaskStateAborted"),
            (12, 10, "TaskStateAborted"),
            (13, 10, "ParallelStateFailed"),
            (14, 13, "ExecutionFailed"),
        ]
    );
}

#[tokio::test]
async fn the_branches_still_running_are_aborted_in_the_wait_parallel_or_map_they_are_in() {
    let hang = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:x:t",
        "Parameters": {"hang": true}, "End": true}}});
    let branches = json!([
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": true}}},
        {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [hang], "End": true}}},
        {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items",
            "ItemProcessor": hang, "End": true}}},
        {"StartAt": "F", "States": {"F": {"Type": "Task", "Resource": "arn:x:t",
            "Parameters": {"hang": false}, "End": true}}}
    ]);
    let def = json!({"StartAt": "Top", "States": {"Top": {"Type": "Parallel",
        "Branches": branches, "End": true}}});
    let e = run_def(def, json!({"items": [1]}), Arc::new(HangOrFail), true).await;
    let h = ids(&e);
    let failed = h
        .iter()
        .find(|(_, _, t)| *t == "TaskFailed")
        .map(|(id, _, _)| *id)
        .unwrap_or_default();
    let after: Vec<(u64, &str)> = h
        .iter()
        .filter(|(id, _, _)| *id > failed)
        .map(|(_, p, t)| (*p, *t))
        .collect();
    assert_eq!(
        after,
        [
            (failed, "TaskStateAborted"),
            (failed, "WaitStateAborted"),
            (failed, "ParallelStateAborted"),
            (failed, "MapStateAborted"),
            (failed, "ParallelStateFailed"),
            (failed + 5, "ExecutionFailed"),
        ]
    );
}
