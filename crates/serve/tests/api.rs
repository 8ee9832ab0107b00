//! The Step Functions API of `mdlc serve` over real HTTP, driven by AWS's Rust SDK (and raw
//! requests where a client would refuse to send them).

mod support;

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use mdlc_local::substitute::{LOCAL_ACCOUNT, LOCAL_REGION};
use serde_json::{Value, json};
use support::{DOUBLE, Options, TestServer, code_and_status, create, until_done, until_event};

fn pass_task_wait() -> Value {
    json!({
        "StartAt": "Prepare",
        "States": {
            "Prepare": {"Type": "Pass", "Parameters": {"n.$": "$.x"}, "Next": "Double"},
            "Double": {"Type": "Task", "Resource": DOUBLE, "Next": "Rest"},
            "Rest": {"Type": "Wait", "Seconds": 30, "End": true}
        }
    })
}

/// A Task waiting for its token (sent nowhere: the client reads it from the history).
fn callback_machine() -> Value {
    json!({
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q", "MessageBody": {"token.$": "$$.Task.Token"}},
                "End": true
            }
        }
    })
}

/// The task token of an execution's callback Task, from its TaskScheduled event.
async fn token_of(client: &aws_sdk_sfn::Client, arn: &str) -> String {
    let scheduled = until_event(client, arn, HistoryEventType::TaskScheduled).await;
    let params = scheduled
        .task_scheduled_event_details()
        .expect("TaskScheduled details")
        .parameters()
        .to_string();
    let params: Value = serde_json::from_str(&params).expect("parameters are JSON text");
    params["MessageBody"]["token"]
        .as_str()
        .expect("the token")
        .to_string()
}

#[tokio::test]
async fn an_execution_runs_to_its_end_and_its_history_has_aws_shape() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default());
    let client = server.client().await;
    let sm = create(&client, "Doubler", &pass_task_wait()).await;
    assert_eq!(
        sm,
        format!("arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:stateMachine:Doubler")
    );

    let d = client
        .describe_state_machine()
        .state_machine_arn(&sm)
        .send()
        .await
        .unwrap();
    assert_eq!(d.name(), "Doubler");
    assert_eq!(d.r#type(), &aws_sdk_sfn::types::StateMachineType::Standard);
    assert_eq!(d.role_arn(), support::ROLE);
    let def: Value = serde_json::from_str(d.definition()).unwrap();
    assert_eq!(def, pass_task_wait());

    let started = client
        .start_execution()
        .state_machine_arn(&sm)
        .name("run-1")
        .input(r#"{"x": 21}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        started.execution_arn(),
        format!("arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:execution:Doubler:run-1")
    );
    let done = until_done(&client, started.execution_arn()).await;
    assert_eq!(done.status(), &ExecutionStatus::Succeeded);
    assert_eq!(done.output(), Some(r#"{"n":42}"#));
    assert_eq!(done.input(), Some(r#"{"x": 21}"#));
    assert_eq!(done.name(), Some("run-1"));
    assert_eq!(done.state_machine_arn(), sm);
    // virtual time: the Wait of 30 s moved the clock, not the test
    let took = done.stop_date().unwrap().as_secs_f64() - done.start_date().as_secs_f64();
    assert!((30.0..31.0).contains(&took), "{took}");

    let history = client
        .get_execution_history()
        .execution_arn(started.execution_arn())
        .send()
        .await
        .unwrap();
    let types: Vec<&str> = history
        .events()
        .iter()
        .map(|e| e.r#type().as_str())
        .collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "TaskStateEntered",
            // a Lambda function ARN as the Resource: AWS records LambdaFunction* events
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "TaskStateExited",
            "WaitStateEntered",
            "WaitStateExited",
            "ExecutionSucceeded"
        ]
    );
    let ids: Vec<i64> = history.events().iter().map(|e| e.id()).collect();
    assert_eq!(ids, (1..=11).collect::<Vec<i64>>());
    let first = &history.events()[0];
    assert_eq!(first.previous_event_id(), 0);
    let started_details = first.execution_started_event_details().unwrap();
    // the state machine's role, as CreateStateMachine gave it
    assert_eq!(
        (started_details.input(), started_details.role_arn()),
        (Some(r#"{"x":21}"#), Some(support::ROLE))
    );
    // the first state's Entered event points at 0, as AWS records it
    assert_eq!(history.events()[1].previous_event_id(), 0);
    let scheduled = &history.events()[4];
    let details = scheduled.lambda_function_scheduled_event_details().unwrap();
    assert_eq!(
        (details.resource(), details.input()),
        (DOUBLE, Some(r#"{"n":21}"#))
    );
    let task = &history.events()[6];
    let details = task.lambda_function_succeeded_event_details().unwrap();
    assert_eq!(details.output(), Some(r#"{"n":42}"#));
    let last = &history.events()[10];
    assert_eq!(
        last.execution_succeeded_event_details().unwrap().output(),
        Some(r#"{"n":42}"#)
    );

    // pages, newest first, and without execution data
    let page = client
        .get_execution_history()
        .execution_arn(started.execution_arn())
        .max_results(4)
        .reverse_order(true)
        .include_execution_data(false)
        .send()
        .await
        .unwrap();
    let ids: Vec<i64> = page.events().iter().map(|e| e.id()).collect();
    assert_eq!(ids, [11, 10, 9, 8]);
    assert_eq!(
        page.events()[0]
            .execution_succeeded_event_details()
            .unwrap()
            .output(),
        None
    );
    let next = client
        .get_execution_history()
        .execution_arn(started.execution_arn())
        .max_results(4)
        .reverse_order(true)
        .next_token(page.next_token().unwrap())
        .send()
        .await
        .unwrap();
    let ids: Vec<i64> = next.events().iter().map(|e| e.id()).collect();
    assert_eq!(ids, [7, 6, 5, 4]);

    let listed = client
        .list_executions()
        .state_machine_arn(&sm)
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = listed.executions().iter().map(|e| e.name()).collect();
    assert_eq!(names, ["run-1"]);
    let none = client
        .list_executions()
        .state_machine_arn(&sm)
        .status_filter(ExecutionStatus::Running)
        .send()
        .await
        .unwrap();
    assert_eq!(none.executions().len(), 0);
    let for_execution = client
        .describe_state_machine_for_execution()
        .execution_arn(started.execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(
        (for_execution.name(), for_execution.state_machine_arn()),
        ("Doubler", sm.as_str())
    );
}

#[tokio::test]
async fn stop_execution_aborts_a_waiting_execution() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(
        dir.path(),
        Options {
            real_time: true,
            ..Default::default()
        },
    );
    let client = server.client().await;
    let def = json!({"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 3600, "End": true}}});
    let sm = create(&client, "Sleeper", &def).await;
    let arn = client
        .start_execution()
        .state_machine_arn(&sm)
        .name("nap")
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_string();
    until_event(&client, &arn, HistoryEventType::WaitStateEntered).await;
    let running = client
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(running.status(), &ExecutionStatus::Running);
    assert_eq!(running.stop_date(), None);

    let stopped = client
        .stop_execution()
        .execution_arn(&arn)
        .error("Operator.Stop")
        .cause("no longer needed")
        .send()
        .await
        .unwrap();
    let d = client
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(d.status(), &ExecutionStatus::Aborted);
    assert_eq!(d.error(), Some("Operator.Stop"));
    assert_eq!(d.cause(), Some("no longer needed"));
    assert_eq!(d.stop_date(), Some(stopped.stop_date()));
    let h = client
        .get_execution_history()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    let types: Vec<&str> = h.events().iter().map(|e| e.r#type().as_str()).collect();
    assert_eq!(
        types,
        ["ExecutionStarted", "WaitStateEntered", "ExecutionAborted"]
    );
    let aborted = h.events()[2].execution_aborted_event_details().unwrap();
    assert_eq!(
        (aborted.error(), aborted.cause()),
        (Some("Operator.Stop"), Some("no longer needed"))
    );
    assert_eq!(h.events()[2].previous_event_id(), 2);
}

#[tokio::test]
async fn a_callback_task_waits_for_send_task_success_or_failure() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default());
    let client = server.client().await;
    let sm = create(&client, "Callback", &callback_machine()).await;

    let ok = client
        .start_execution()
        .state_machine_arn(&sm)
        .name("ok")
        .send()
        .await
        .unwrap();
    let token = token_of(&client, ok.execution_arn()).await;
    client
        .send_task_heartbeat()
        .task_token(&token)
        .send()
        .await
        .unwrap();
    let still = client
        .describe_execution()
        .execution_arn(ok.execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), &ExecutionStatus::Running);
    client
        .send_task_success()
        .task_token(&token)
        .output(r#"{"approved": true}"#)
        .send()
        .await
        .unwrap();
    let done = until_done(&client, ok.execution_arn()).await;
    assert_eq!(done.status(), &ExecutionStatus::Succeeded);
    assert_eq!(done.output(), Some(r#"{"approved":true}"#));
    // the message carrying the token was sent to the SQS stand-in's queue before the wait
    let queue = mdlc_local::sqs::SqsQueues::new(dir.path().join("sqs"));
    let messages = queue
        .messages("https://sqs.us-east-1.amazonaws.com/123456789012/q")
        .unwrap();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let body: Value = serde_json::from_str(messages[0]["Body"].as_str().unwrap()).unwrap();
    assert_eq!(body, json!({"token": token}));
    let again = client
        .send_task_success()
        .task_token(&token)
        .output("{}")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_status(&again), ("TaskTimedOut".to_string(), 400));

    let bad = client
        .start_execution()
        .state_machine_arn(&sm)
        .name("bad")
        .send()
        .await
        .unwrap();
    let token = token_of(&client, bad.execution_arn()).await;
    client
        .send_task_failure()
        .task_token(&token)
        .error("Review.Rejected")
        .cause("not good enough")
        .send()
        .await
        .unwrap();
    let done = until_done(&client, bad.execution_arn()).await;
    assert_eq!(done.status(), &ExecutionStatus::Failed);
    assert_eq!(
        (done.error(), done.cause()),
        (Some("Review.Rejected"), Some("not good enough"))
    );

    let unknown = client
        .send_task_success()
        .task_token("not-a-token-of-this-server")
        .output("{}")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_status(&unknown), ("InvalidToken".to_string(), 400));
}

#[tokio::test]
async fn a_callback_task_whose_sqs_send_is_refused_fails_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default());
    let client = server.client().await;
    let mut machine = callback_machine();
    machine["States"]["Ask"]["Parameters"]["QueueUrl"] = json!("no-queue");
    let sm = create(&client, "RefusedCallback", &machine).await;
    let started = client
        .start_execution()
        .state_machine_arn(&sm)
        .send()
        .await
        .unwrap();
    let done = until_done(&client, started.execution_arn()).await;
    assert_eq!(done.status(), &ExecutionStatus::Failed);
    assert_eq!(done.error(), Some("SQS.AmazonSQSException"));
    assert!(
        done.cause()
            .unwrap_or_default()
            .contains("Error Code: AWS.SimpleQueueService.NonExistentQueue;"),
        "{:?}",
        done.cause()
    );
}

#[tokio::test]
async fn a_repeated_start_is_idempotent_while_running_with_the_same_input_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default());
    let client = server.client().await;
    let sm = create(&client, "Once", &callback_machine()).await;
    let start = |input: &'static str| {
        client
            .start_execution()
            .state_machine_arn(&sm)
            .name("same-name")
            .input(input)
            .send()
    };
    let first = start(r#"{"a":1}"#).await.unwrap();
    let second = start(r#"{"a":1}"#).await.unwrap();
    assert_eq!(second.execution_arn(), first.execution_arn());
    assert_eq!(second.start_date(), first.start_date());
    let other = start(r#"{"a":2}"#).await.unwrap_err();
    assert_eq!(
        code_and_status(&other),
        ("ExecutionAlreadyExists".to_string(), 400)
    );
    assert_eq!(
        aws_sdk_sfn::error::ProvideErrorMetadata::message(&other),
        Some(format!("Execution Already Exists: '{}'", first.execution_arn()).as_str())
    );

    let token = token_of(&client, first.execution_arn()).await;
    client
        .send_task_success()
        .task_token(&token)
        .output("{}")
        .send()
        .await
        .unwrap();
    until_done(&client, first.execution_arn()).await;
    let closed = start(r#"{"a":1}"#).await.unwrap_err();
    assert_eq!(
        code_and_status(&closed),
        ("ExecutionAlreadyExists".to_string(), 400)
    );
    let listed = client
        .list_executions()
        .state_machine_arn(&sm)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.executions().len(), 1);
}

#[tokio::test]
async fn errors_have_aws_codes_statuses_and_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default());
    let client = server.client().await;

    let missing = format!("arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:execution:Nope:nothing");
    let missing = missing.as_str();
    let e = client
        .describe_execution()
        .execution_arn(missing)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code_and_status(&e),
        ("ExecutionDoesNotExist".to_string(), 400)
    );
    let (status, body) = server
        .raw(
            Some("AWSStepFunctions.DescribeExecution"),
            &json!({"executionArn": missing}).to_string(),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"__type": "com.amazonaws.swf.service.v2.model#ExecutionDoesNotExist",
               "message": format!("Execution Does Not Exist: '{missing}'")})
    );

    let bad = json!({"StartAt": "Missing", "States": {"A": {"Type": "Pass", "End": true}}});
    let e = client
        .create_state_machine()
        .name("Bad")
        .definition(bad.to_string())
        .role_arn(support::ROLE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_status(&e), ("InvalidDefinition".to_string(), 400));
    let (status, body) = server
        .raw(
            Some("AWSStepFunctions.CreateStateMachine"),
            &json!({"name": "Bad", "definition": bad.to_string(), "roleArn": support::ROLE})
                .to_string(),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["__type"],
        "com.amazonaws.swf.service.v2.model#InvalidDefinition"
    );
    let expected = match mdlc_asl::StateMachine::from_json_str(&bad.to_string()) {
        Err(errors) => errors
            .iter()
            .map(|e| format!("SCHEMA_VALIDATION_FAILED: {} at {}", e.message, e.pointer))
            .collect::<Vec<_>>()
            .join(", "),
        Ok(_) => panic!("the definition is invalid"),
    };
    assert_eq!(
        body["message"],
        format!("Invalid State Machine Definition: '{expected}'")
    );

    let (status, body) = server
        .raw(Some("AWSStepFunctions.ListStateMachines"), "{not json")
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["__type"],
        "com.amazon.coral.service#SerializationException"
    );

    let (status, body) = server
        .raw(Some("AWSStepFunctions.StartExecution"), "{}")
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"__type": "com.amazon.coral.validate#ValidationException",
               "message": "1 validation error detected: Value null at 'stateMachineArn' failed to satisfy constraint: Member must not be null"})
    );

    let (status, body) = server
        .raw(Some("AWSStepFunctions.FlyToTheMoon"), "{}")
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["__type"],
        "com.amazon.coral.service#UnknownOperationException"
    );
    let (status, body) = server.raw(None, "{}").await;
    assert_eq!(status, 400);
    assert_eq!(
        body["__type"],
        "com.amazon.coral.service#UnknownOperationException"
    );

    let e = client
        .start_execution()
        .state_machine_arn("not-an-arn")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_status(&e), ("InvalidArn".to_string(), 400));
    let sm = create(
        &client,
        "Good",
        &json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}),
    )
    .await;
    let e = client
        .start_execution()
        .state_machine_arn(&sm)
        .name("has space")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_status(&e), ("InvalidName".to_string(), 400));
    let e = client
        .start_execution()
        .state_machine_arn(&sm)
        .input("{oops")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code_and_status(&e),
        ("InvalidExecutionInput".to_string(), 400)
    );
    // (raw: the SDKs send StartSyncExecution to the host `sync-<endpoint host>`)
    let (status, body) = server
        .raw(
            Some("AWSStepFunctions.StartSyncExecution"),
            &json!({"stateMachineArn": sm}).to_string(),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["__type"],
        "com.amazonaws.swf.service.v2.model#StateMachineTypeNotSupported"
    );
    // the same name with another definition is taken; the same request is idempotent
    let again = create(
        &client,
        "Good",
        &json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}),
    )
    .await;
    assert_eq!(again, sm);
    let e = client
        .create_state_machine()
        .name("Good")
        .definition(json!({"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}).to_string())
        .role_arn(support::ROLE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code_and_status(&e),
        ("StateMachineAlreadyExists".to_string(), 400)
    );
}

#[tokio::test]
async fn a_restart_keeps_state_machines_and_executions_and_fails_the_interrupted_ones() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default());
    let client = server.client().await;
    let sm = create(&client, "Doubler", &pass_task_wait()).await;
    let waiting_sm = create(&client, "Callback", &callback_machine()).await;
    client
        .tag_resource()
        .resource_arn(&sm)
        .tags(
            aws_sdk_sfn::types::Tag::builder()
                .key("team")
                .value("ml")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let done = client
        .start_execution()
        .state_machine_arn(&sm)
        .name("done")
        .input(r#"{"x": 2}"#)
        .send()
        .await
        .unwrap();
    until_done(&client, done.execution_arn()).await;
    let waiting = client
        .start_execution()
        .state_machine_arn(&waiting_sm)
        .name("waiting")
        .send()
        .await
        .unwrap();
    // the callback's message is submitted: the Task waits for its token
    until_event(
        &client,
        waiting.execution_arn(),
        HistoryEventType::TaskSubmitted,
    )
    .await;
    server.kill();

    let server = TestServer::start(dir.path(), Options::default());
    let client = server.client().await;
    let machines = client.list_state_machines().send().await.unwrap();
    let names: Vec<&str> = machines.state_machines().iter().map(|m| m.name()).collect();
    assert_eq!(names, ["Callback", "Doubler"]);
    let tags = client
        .list_tags_for_resource()
        .resource_arn(&sm)
        .send()
        .await
        .unwrap();
    let tags: Vec<(&str, &str)> = tags
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or(""), t.value().unwrap_or("")))
        .collect();
    assert_eq!(tags, [("team", "ml")]);
    let d = client
        .describe_execution()
        .execution_arn(done.execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(
        (d.status(), d.output()),
        (&ExecutionStatus::Succeeded, Some(r#"{"n":4}"#))
    );
    let h = client
        .get_execution_history()
        .execution_arn(done.execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(h.events().len(), 11);

    let w = client
        .describe_execution()
        .execution_arn(waiting.execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(w.status(), &ExecutionStatus::Failed);
    assert_eq!(w.error(), Some(mdlc_serve::app::SERVER_STOPPED_ERROR));
    assert_eq!(w.cause(), Some(mdlc_serve::app::SERVER_STOPPED_CAUSE));
    let h = client
        .get_execution_history()
        .execution_arn(waiting.execution_arn())
        .send()
        .await
        .unwrap();
    let types: Vec<&str> = h.events().iter().map(|e| e.r#type().as_str()).collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSubmitted",
            "ExecutionFailed"
        ]
    );
    // names stay taken after the restart
    let e = client
        .start_execution()
        .state_machine_arn(&sm)
        .name("done")
        .input(r#"{"x": 2}"#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_status(&e).0, "ExecutionAlreadyExists");
}

#[tokio::test]
async fn a_mock_test_case_is_chosen_by_the_arn_suffix() {
    let mock = mdlc_asl::mock::MockConfig::from_value(&json!({
        "StateMachines": {"Orders": {"TestCases": {"HappyPath": {"Charge": "Charged"}}}},
        "MockedResponses": {"Charged": {"0": {"Return": {"charged": 5}}}}
    }))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(
        dir.path(),
        Options {
            mock: Some(mock),
            ..Default::default()
        },
    );
    let client = server.client().await;
    let def = json!({"StartAt": "Charge", "States": {"Charge": {"Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:charge", "End": true}}});
    let sm = create(&client, "Orders", &def).await;
    let mocked = client
        .start_execution()
        .state_machine_arn(format!("{sm}#HappyPath"))
        .name("happy")
        .send()
        .await
        .unwrap();
    assert_eq!(
        mocked.execution_arn(),
        format!("arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:execution:Orders:happy")
    );
    let d = until_done(&client, mocked.execution_arn()).await;
    assert_eq!(
        (d.status(), d.output()),
        (&ExecutionStatus::Succeeded, Some(r#"{"charged":5}"#))
    );
    let real = client
        .start_execution()
        .state_machine_arn(&sm)
        .name("real")
        .send()
        .await
        .unwrap();
    let d = until_done(&client, real.execution_arn()).await;
    assert_eq!(
        (d.status(), d.error()),
        (&ExecutionStatus::Failed, Some("Test.NoSuchResource"))
    );
    let e = client
        .start_execution()
        .state_machine_arn(format!("{sm}#NoSuchCase"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_status(&e).0, "ValidationException");
}

#[tokio::test]
async fn start_sync_execution_runs_an_express_machine_to_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default());
    let client = server.client().await;
    let sm = client
        .create_state_machine()
        .name("Quick")
        .definition(pass_task_wait().to_string())
        .role_arn(support::ROLE)
        .r#type(aws_sdk_sfn::types::StateMachineType::Express)
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_string();
    // raw: the SDKs send StartSyncExecution to the host `sync-<endpoint host>`
    let (status, body) = server
        .raw(
            Some("AWSStepFunctions.StartSyncExecution"),
            &json!({"stateMachineArn": sm, "name": "q1", "input": "{\"x\": 5}"}).to_string(),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "SUCCEEDED");
    assert_eq!(body["output"], r#"{"n":10}"#);
    assert_eq!(body["name"], "q1");
    assert_eq!(body["stateMachineArn"], sm.as_str());
    let arn = body["executionArn"].as_str().unwrap();
    let prefix = format!("arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:express:Quick:q1:");
    assert!(arn.starts_with(&prefix), "{arn}");
    assert_eq!(
        body["stopDate"].as_f64().unwrap() - body["startDate"].as_f64().unwrap(),
        30.0
    );
}

#[tokio::test]
async fn executions_beyond_max_concurrent_wait_for_a_slot() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(
        dir.path(),
        Options {
            max_concurrent: 1,
            ..Default::default()
        },
    );
    let client = server.client().await;
    let sm = create(&client, "OneAtATime", &callback_machine()).await;
    let first = client
        .start_execution()
        .state_machine_arn(&sm)
        .name("first")
        .send()
        .await
        .unwrap();
    let token = token_of(&client, first.execution_arn()).await;
    let second = client
        .start_execution()
        .state_machine_arn(&sm)
        .name("second")
        .send()
        .await
        .unwrap();
    // the only slot is taken: the second is RUNNING but has not started its first state
    let queued = client
        .describe_execution()
        .execution_arn(second.execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), &ExecutionStatus::Running);
    let h = client
        .get_execution_history()
        .execution_arn(second.execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(h.events().len(), 0);
    client
        .send_task_success()
        .task_token(&token)
        .output("{}")
        .send()
        .await
        .unwrap();
    until_done(&client, first.execution_arn()).await;
    // now it runs, up to its own callback
    let second_token = token_of(&client, second.execution_arn()).await;
    assert_ne!(second_token, token);
    client
        .stop_execution()
        .execution_arn(second.execution_arn())
        .send()
        .await
        .unwrap();
    let d = client
        .describe_execution()
        .execution_arn(second.execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(d.status(), &ExecutionStatus::Aborted);
    let late = client
        .send_task_success()
        .task_token(&second_token)
        .output("{}")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_status(&late), ("TaskTimedOut".to_string(), 400));
}

#[tokio::test]
async fn updates_deletes_validation_tags_and_pages_of_state_machines() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default());
    let client = server.client().await;
    let v = client
        .validate_state_machine_definition()
        .definition(json!({"StartAt": "Nowhere", "States": {"A": {"Type": "Succeed"}}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        v.result(),
        &aws_sdk_sfn::types::ValidateStateMachineDefinitionResultCode::Fail
    );
    let expected: Vec<(String, Option<String>)> = match mdlc_asl::StateMachine::from_json_str(
        r#"{"StartAt": "Nowhere", "States": {"A": {"Type": "Succeed"}}}"#,
    ) {
        Err(errors) => errors
            .iter()
            .map(|e| {
                (
                    e.message.clone(),
                    (!e.pointer.is_empty()).then(|| e.pointer.clone()),
                )
            })
            .collect(),
        Ok(_) => panic!("the definition is invalid"),
    };
    let got: Vec<(String, Option<String>)> = v
        .diagnostics()
        .iter()
        .map(|d| (d.message().to_string(), d.location().map(str::to_string)))
        .collect();
    assert_eq!(got, expected);
    assert!(
        v.diagnostics()
            .iter()
            .all(|d| d.code() == "SCHEMA_VALIDATION_FAILED")
    );
    let ok = client
        .validate_state_machine_definition()
        .definition(callback_machine().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!((ok.result().as_str(), ok.diagnostics().len()), ("OK", 0));

    let sm = create(&client, "Changing", &callback_machine()).await;
    let running = client
        .start_execution()
        .state_machine_arn(&sm)
        .name("before")
        .send()
        .await
        .unwrap();
    until_event(
        &client,
        running.execution_arn(),
        HistoryEventType::TaskScheduled,
    )
    .await;
    let new_definition = json!({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}});
    let updated = client
        .update_state_machine()
        .state_machine_arn(&sm)
        .definition(new_definition.to_string())
        .send()
        .await
        .unwrap();
    let d = client
        .describe_state_machine()
        .state_machine_arn(&sm)
        .send()
        .await
        .unwrap();
    assert_eq!(d.definition(), new_definition.to_string());
    assert_eq!(d.revision_id(), updated.revision_id());
    let ran = client
        .describe_state_machine_for_execution()
        .execution_arn(running.execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(ran.definition(), callback_machine().to_string());
    let e = client
        .update_state_machine()
        .state_machine_arn(&sm)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code_and_status(&e),
        ("MissingRequiredParameter".to_string(), 400)
    );

    for name in ["B", "C"] {
        create(&client, name, &new_definition).await;
    }
    let first = client
        .list_state_machines()
        .max_results(2)
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = first.state_machines().iter().map(|m| m.name()).collect();
    assert_eq!(names, ["B", "C"]);
    let rest = client
        .list_state_machines()
        .max_results(2)
        .next_token(first.next_token().unwrap())
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = rest.state_machines().iter().map(|m| m.name()).collect();
    assert_eq!((names, rest.next_token()), (vec!["Changing"], None));

    let tag = |k: &str, v: &str| aws_sdk_sfn::types::Tag::builder().key(k).value(v).build();
    client
        .tag_resource()
        .resource_arn(&sm)
        .tags(tag("a", "1"))
        .tags(tag("b", "2"))
        .send()
        .await
        .unwrap();
    client
        .tag_resource()
        .resource_arn(&sm)
        .tags(tag("a", "3"))
        .send()
        .await
        .unwrap();
    client
        .untag_resource()
        .resource_arn(&sm)
        .tag_keys("b")
        .send()
        .await
        .unwrap();
    let tags = client
        .list_tags_for_resource()
        .resource_arn(&sm)
        .send()
        .await
        .unwrap();
    let tags: Vec<(&str, &str)> = tags
        .tags()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert_eq!(tags, [("a", "3")]);
    let e = client
        .list_tags_for_resource()
        .resource_arn(format!("{sm}-gone"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_status(&e), ("ResourceNotFound".to_string(), 400));

    client
        .delete_state_machine()
        .state_machine_arn(&sm)
        .send()
        .await
        .unwrap();
    let gone = client
        .describe_state_machine()
        .state_machine_arn(&sm)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code_and_status(&gone),
        ("StateMachineDoesNotExist".to_string(), 400)
    );
    let stopped = client
        .describe_execution()
        .execution_arn(running.execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(stopped.status(), &ExecutionStatus::Aborted);
    let e = client
        .start_execution()
        .state_machine_arn(&sm)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code_and_status(&e),
        ("StateMachineDoesNotExist".to_string(), 400)
    );
}

#[tokio::test]
async fn a_state_machine_named_dot_dot_is_kept_like_any_other() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default());
    let client = server.client().await;
    let sm = create(
        &client,
        "..",
        &json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}),
    )
    .await;
    let e = client
        .start_execution()
        .state_machine_arn(&sm)
        .name(".")
        .send()
        .await
        .unwrap();
    until_done(&client, e.execution_arn()).await;
    server.kill();
    let server = TestServer::start(dir.path(), Options::default());
    let client = server.client().await;
    let d = client
        .describe_execution()
        .execution_arn(e.execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(
        (d.status(), d.name()),
        (&ExecutionStatus::Succeeded, Some("."))
    );
    assert!(
        !dir.path()
            .join("serve/executions/..")
            .join("..json")
            .exists()
    );
}
