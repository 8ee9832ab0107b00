//! The dashboard's routes over real HTTP: `GET /` is the page (the API stays on `POST /`), and
//! the JSON endpoints under `/dashboard/api` follow the state machines and executions made
//! through the API (AWS's Rust SDK), while they run and after.

mod support;

use mdlc_local::substitute::{LOCAL_ACCOUNT, LOCAL_REGION};
use serde_json::{Value, json};
use support::{DOUBLE, Options, TestServer, create, until_done};

/// A Task waiting for its token (sent nowhere), after a Task that doubles (its Catch not taken).
fn definition() -> Value {
    json!({
        "StartAt": "Double",
        "States": {
            "Double": {"Type": "Task", "Resource": DOUBLE, "Next": "Ask",
                       "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Never"}]},
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q", "MessageBody": {"token.$": "$$.Task.Token"}},
                "Next": "Done"
            },
            "Done": {"Type": "Succeed"},
            "Never": {"Type": "Fail", "Error": "X"}
        }
    })
}

/// `GET path`: (HTTP status, content type, body).
async fn get(server: &TestServer, path: &str) -> (u16, String, String) {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let request = http::Request::builder()
        .method("GET")
        .uri(format!("{}{path}", server.endpoint))
        .body(Empty::<bytes::Bytes>::new())
        .expect("a request");
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(request).await.expect("an answer");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

async fn get_json(server: &TestServer, path: &str) -> (u16, Value) {
    let (status, content_type, body) = get(server, path).await;
    assert_eq!(content_type, "application/json", "{path}");
    (status, serde_json::from_str(&body).expect("a JSON body"))
}

/// The token of the execution's `.waitForTaskToken` Task once it has started (the execution
/// then waits), from its TaskScheduled event's parameters.
async fn callback_token(client: &aws_sdk_sfn::Client, arn: &str) -> String {
    for _ in 0..1000 {
        let history = client
            .get_execution_history()
            .execution_arn(arn)
            .send()
            .await
            .expect("GetExecutionHistory");
        let events = history.events();
        // TaskSubmitted is the callback Task's last event before its answer: from then on
        // the history stays as it is while the execution waits
        let sqs = |e: &&aws_sdk_sfn::types::HistoryEvent| {
            e.task_submitted_event_details()
                .is_some_and(|d| d.resource_type() == "sqs")
        };
        if events.iter().any(|e| sqs(&e)) {
            let scheduled = events
                .iter()
                .filter_map(|e| e.task_scheduled_event_details())
                .find(|d| d.resource_type() == "sqs")
                .expect("the sqs Task was scheduled");
            let params: Value = serde_json::from_str(scheduled.parameters()).unwrap();
            return params["MessageBody"]["token"]
                .as_str()
                .expect("the token")
                .to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("execution {arn} never started its sqs Task");
}

/// `/dashboard/api/executions/<arn, percent-encoded>`.
fn detail_path(arn: &str) -> String {
    format!("/dashboard/api/executions/{}", arn.replace(':', "%3A"))
}

#[tokio::test]
async fn get_slash_is_the_page_and_post_slash_stays_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default());
    let (status, content_type, body) = get(&server, "/").await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/html; charset=utf-8");
    assert!(body.starts_with("<!DOCTYPE html>"), "{body}");
    assert!(body.contains(&dir.path().display().to_string()));
    let (status, answer) = server
        .raw(Some("AWSStepFunctions.ListStateMachines"), "{}")
        .await;
    assert_eq!((status, answer), (200, json!({"stateMachines": []})));
    let (status, _, _) = get(&server, "/dashboard/api/nothing").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_endpoints_follow_a_running_execution_to_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default());
    let client = server.client().await;

    let (status, empty) = get_json(&server, "/dashboard/api/executions").await;
    assert_eq!(
        (status, empty),
        (200, json!({"executions": [], "total": 0}))
    );

    let machine = create(&client, "Asker", &definition()).await;
    let arn = client
        .start_execution()
        .state_machine_arn(&machine)
        .name("first")
        .input(r#"{"n": 2}"#)
        .send()
        .await
        .expect("StartExecution")
        .execution_arn()
        .to_string();
    assert_eq!(
        arn,
        format!("arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:execution:Asker:first")
    );
    let token = callback_token(&client, &arn).await;
    let events = client
        .get_execution_history()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap()
        .events()
        .len();

    let (status, machines) = get_json(&server, "/dashboard/api/state-machines").await;
    assert_eq!(status, 200);
    let created = machines["stateMachines"][0]["creationDate"].clone();
    assert_eq!(
        machines,
        json!({"stateMachines": [{
            "name": "Asker", "stateMachineArn": machine, "type": "STANDARD",
            "creationDate": created, "updateDate": created,
            "states": ["Double", "Ask", "Done", "Never"], "executions": 1, "running": 1
        }]})
    );

    let (_, list) = get_json(&server, "/dashboard/api/executions").await;
    assert_eq!(list["total"], json!(1));
    let row = &list["executions"][0];
    assert_eq!(row["executionArn"], json!(arn));
    assert_eq!(row["stateMachineName"], json!("Asker"));
    assert_eq!(row["status"], json!("RUNNING"));
    assert_eq!(row["currentStates"], json!(["Ask"]));
    assert_eq!(row["events"], json!(events));
    assert_eq!(row["stopDate"], Value::Null);

    let (status, detail) = get_json(&server, &detail_path(&arn)).await;
    assert_eq!(status, 200);
    assert_eq!(detail["status"], json!("RUNNING"));
    assert_eq!(detail["history"].as_array().unwrap().len(), events);
    assert_eq!(
        detail["states"],
        json!([
            {"name": "Double", "visits": 1, "millis": 0, "failures": 0, "current": false},
            {"name": "Ask", "visits": 1, "millis": 0, "failures": 0, "current": true}
        ])
    );
    let graph = detail["graph"].as_str().unwrap();
    assert_eq!(graph.matches("<g class=\"node").count(), 4, "{graph}");
    assert!(graph.contains(r#"<g class="node visited" data-state="Double">"#));
    assert!(graph.contains(r#"<g class="node current" data-state="Ask">"#));
    assert!(graph.contains(r#"<g class="node" data-state="Done">"#));
    assert!(graph.contains(r#"<g class="node" data-state="Never">"#));

    client
        .send_task_success()
        .task_token(token)
        .output(r#"{"ok": true}"#)
        .send()
        .await
        .expect("SendTaskSuccess");
    until_done(&client, &arn).await;
    let (_, detail) = get_json(&server, &detail_path(&arn)).await;
    assert_eq!(detail["status"], json!("SUCCEEDED"));
    assert_eq!(detail["output"], json!(r#"{"ok":true}"#));
    assert_eq!(detail["currentStates"], json!([]));
    assert_eq!(
        detail["history"].as_array().unwrap().last().unwrap()["type"],
        json!("ExecutionSucceeded")
    );
    let graph = detail["graph"].as_str().unwrap();
    for state in ["Double", "Ask", "Done"] {
        assert!(
            graph.contains(&format!(r#"<g class="node visited" data-state="{state}">"#)),
            "{state}: {graph}"
        );
    }
    assert!(graph.contains(r#"<g class="node" data-state="Never">"#));
    let (_, machines) = get_json(&server, "/dashboard/api/state-machines").await;
    assert_eq!(machines["stateMachines"][0]["running"], json!(0));
}

#[tokio::test]
async fn an_unknown_execution_is_404_with_the_apis_message() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default());
    let arn = format!("arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:execution:M:none");
    let (status, body) = get_json(&server, &detail_path(&arn)).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"message": format!("Execution Does Not Exist: '{arn}'")})
    );
}

#[tokio::test]
async fn the_registry_endpoint_says_when_the_state_directory_has_none() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), Options::default());
    let (status, body) = get_json(&server, "/dashboard/api/registry").await;
    assert_eq!(status, 200);
    assert_eq!(body["exists"], json!(false));
    assert_eq!(body["models"], json!([]));
    assert_eq!(
        body["directory"],
        json!(dir.path().join("registry").display().to_string())
    );
}
