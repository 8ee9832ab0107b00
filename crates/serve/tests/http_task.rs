//! The HTTP Task (`arn:aws:states:::http:invoke`) through `mdlc serve` over HTTP: TestState's
//! TRACE level shows the request and response (what the EventBridge connection added only with
//! `revealSecrets`), DEBUG does not, a 404 caught by a Catcher is CAUGHT_ERROR; an execution
//! records the Task's events with `resourceType` `http` and `resource` `invoke`. The request and
//! answer themselves are tested in crates/local/tests/http_task.rs.

mod support;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use mdlc_local::http_task::Connections;
use serde_json::{Value, json};
use support::{Options, TestServer, create, until_done};

const CONNECTION: &str = "arn:aws:events:us-east-1:000000000000:connection/Api/1";

/// An API on a free loopback port: `/missing` answers 404, any other path echoes the query,
/// the `x-api-key` header and the body as JSON (with a header of its own, `x-echo: 1`).
async fn api() -> String {
    async fn answer(uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        if uri.path() == "/missing" {
            return (StatusCode::NOT_FOUND, "no such item").into_response();
        }
        let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
        let echo = json!({"query": uri.query(), "key": key,
            "body": String::from_utf8_lossy(&body)});
        (
            [("content-type", "application/json"), ("x-echo", "1")],
            echo.to_string(),
        )
            .into_response()
    }
    let app = axum::Router::new().fallback(answer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://127.0.0.1:{port}")
}

fn server() -> (tempfile::TempDir, TestServer) {
    let connections = Connections::parse(
        &json!({CONNECTION: {"AuthorizationType": "API_KEY", "AuthParameters": {
            "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "key-123"},
            "InvocationHttpParameters": {
                "QueryStringParameters": [{"Key": "tenant", "Value": "secret-tenant"}],
                "BodyParameters": [{"Key": "signature", "Value": "secret-signature"}]}}}})
        .to_string(),
        "connections.json",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(
        dir.path(),
        Options {
            connections: Some(connections),
            ..Options::default()
        },
    );
    (dir, server)
}

fn post(base: &str) -> Value {
    json!({"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
        "Parameters": {"ApiEndpoint": format!("{base}/orders"), "Method": "POST",
            "Authentication": {"ConnectionArn": CONNECTION},
            "QueryParameters": {"page": "1"}, "RequestBody": {"item.$": "$.item"}},
        "End": true})
}

async fn test_state(server: &TestServer, body: Value) -> Value {
    let (status, out) = server
        .raw(Some("AWSStepFunctions.TestState"), &body.to_string())
        .await;
    assert_eq!(status, 200, "{out}");
    out
}

/// A JSON text member of an answer, parsed.
fn parsed(v: &Value) -> Value {
    serde_json::from_str(v.as_str().unwrap_or_else(|| panic!("not text: {v}"))).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_state_trace_shows_the_request_and_response_and_the_connections_data_only_when_revealed()
 {
    let base = api().await;
    let (_dir, server) = server();
    let request = |reveal: bool| {
        json!({"definition": post(&base).to_string(), "input": r#"{"item": "book"}"#,
            "inspectionLevel": "TRACE", "revealSecrets": reveal})
    };

    let out = test_state(&server, request(false)).await;
    assert_eq!(out["status"], json!("SUCCEEDED"), "{out}");
    // the state's output: the request as sent, with the connection's data
    let result = parsed(&out["output"]);
    assert_eq!(result["StatusCode"], json!(200));
    assert_eq!(
        result["ResponseBody"],
        json!({"query": "page=1&tenant=secret-tenant", "key": "key-123",
            "body": r#"{"item":"book","signature":"secret-signature"}"#})
    );
    let data = &out["inspectionData"];
    let req = &data["request"];
    assert_eq!(req["protocol"], json!("http"));
    assert_eq!(req["method"], json!("POST"));
    assert_eq!(req["url"], json!(format!("{base}/orders?page=1")));
    assert_eq!(req["body"], json!(r#"{"item":"book"}"#));
    let headers = parsed(&req["headers"]);
    assert_eq!(headers["Range"], json!("bytes=0-262144"));
    assert_eq!(
        headers["User-Agent"],
        json!("Amazon|StepFunctions|HttpInvoke|us-east-1")
    );
    assert_eq!(
        headers["Content-Type"],
        json!("application/json; charset=UTF-8")
    );
    assert_eq!(headers["Host"], json!(base.trim_start_matches("http://")));
    // what the connection added is not shown without revealSecrets
    for secret in ["key-123", "secret-tenant", "secret-signature", "x-api-key"] {
        assert!(!req.to_string().contains(secret), "{secret} in {req}");
    }
    let resp = &data["response"];
    assert_eq!(resp["protocol"], json!("http"));
    assert_eq!(resp["statusCode"], json!("200"));
    assert_eq!(resp["statusMessage"], json!("OK"));
    assert_eq!(parsed(&resp["headers"])["x-echo"], json!("1"));
    // the HTTP response is never hidden (TestState's documentation)
    assert_eq!(parsed(&resp["body"])["key"], json!("key-123"));

    let out = test_state(&server, request(true)).await;
    let req = &out["inspectionData"]["request"];
    assert_eq!(
        req["url"],
        json!(format!("{base}/orders?page=1&tenant=secret-tenant"))
    );
    assert_eq!(
        req["body"],
        json!(r#"{"item":"book","signature":"secret-signature"}"#)
    );
    assert_eq!(parsed(&req["headers"])["x-api-key"], json!("key-123"));

    // DEBUG: the data flow, no HTTP exchange
    let mut debug = request(false);
    debug["inspectionLevel"] = json!("DEBUG");
    let out = test_state(&server, debug).await;
    let data = out["inspectionData"].as_object().unwrap();
    assert!(data.contains_key("afterParameters"), "{out}");
    assert!(
        !data.contains_key("request") && !data.contains_key("response"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_state_of_a_404_caught_is_caught_error_with_the_response_traced() {
    let base = api().await;
    let (_dir, server) = server();
    let state = json!({"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
        "Parameters": {"ApiEndpoint": format!("{base}/missing"), "Method": "GET",
            "Authentication": {"ConnectionArn": CONNECTION}},
        "Catch": [{"ErrorEquals": ["States.Http.StatusCode.404"], "Next": "NotFound"}],
        "End": true});
    let out = test_state(
        &server,
        json!({"definition": state.to_string(), "inspectionLevel": "TRACE"}),
    )
    .await;
    assert_eq!(out["status"], json!("CAUGHT_ERROR"), "{out}");
    assert_eq!(out["error"], json!("States.Http.StatusCode.404"));
    assert_eq!(out["nextState"], json!("NotFound"));
    assert_eq!(
        out["inspectionData"]["errorDetails"]["catchIndex"],
        json!(0)
    );
    let resp = &out["inspectionData"]["response"];
    assert_eq!(resp["statusCode"], json!("404"));
    assert_eq!(resp["statusMessage"], json!("Not Found"));
    assert_eq!(resp["body"], json!("no such item"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_state_of_an_unknown_connection_or_a_forbidden_header_fails_with_aws_error_names() {
    let base = api().await;
    let (_dir, server) = server();
    let mut unknown = post(&base);
    unknown["Parameters"]["Authentication"]["ConnectionArn"] =
        json!("arn:aws:events:us-east-1:000000000000:connection/Other/2");
    let out = test_state(
        &server,
        json!({"definition": unknown.to_string(), "input": "{\"item\": 1}", "inspectionLevel": "TRACE"}),
    )
    .await;
    assert_eq!(out["status"], json!("FAILED"), "{out}");
    assert_eq!(
        out["error"],
        json!("Events.ConnectionResource.ResourceNotFound")
    );
    assert!(
        out["cause"]
            .as_str()
            .unwrap()
            .contains("connection/Other/2"),
        "{out}"
    );
    let mut forbidden = post(&base);
    forbidden["Parameters"]["Headers"] = json!({"Authorization": "Bearer mine"});
    let out = test_state(
        &server,
        json!({"definition": forbidden.to_string(), "input": "{\"item\": 1}"}),
    )
    .await;
    assert_eq!(out["status"], json!("FAILED"), "{out}");
    assert_eq!(out["error"], json!("States.Runtime"));
    assert!(
        out["cause"]
            .as_str()
            .unwrap()
            .contains("The header 'Authorization' cannot be used"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_records_the_http_tasks_events_as_resource_type_http_and_resource_invoke() {
    let base = api().await;
    let (_dir, server) = server();
    let client = server.client().await;
    let machine = create(
        &client,
        "http",
        &json!({"StartAt": "Call", "States": {"Call": post(&base)}}),
    )
    .await;
    let started = client
        .start_execution()
        .state_machine_arn(&machine)
        .input(r#"{"item": "pen"}"#)
        .send()
        .await
        .unwrap();
    let done = until_done(&client, started.execution_arn()).await;
    assert_eq!(done.status().as_str(), "SUCCEEDED", "{:?}", done.cause());
    let output: Value = serde_json::from_str(done.output().unwrap()).unwrap();
    assert_eq!(output["ResponseBody"]["key"], json!("key-123"));
    let (status, body) = server
        .raw(
            Some("AWSStepFunctions.GetExecutionHistory"),
            &json!({"executionArn": started.execution_arn()}).to_string(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let events = body["events"].as_array().unwrap();
    for (ty, member) in [
        ("TaskScheduled", "taskScheduledEventDetails"),
        ("TaskStarted", "taskStartedEventDetails"),
        ("TaskSucceeded", "taskSucceededEventDetails"),
    ] {
        let e = events
            .iter()
            .find(|e| e["type"] == ty)
            .unwrap_or_else(|| panic!("no {ty} in {events:?}"));
        assert_eq!(e[member]["resourceType"], json!("http"), "{e}");
        assert_eq!(e[member]["resource"], json!("invoke"), "{e}");
    }
}

/// Leaves out the `sync-` host prefix the model gives TestState (as `inject_host_prefix=False`
/// does for boto3): `sync-127.0.0.1` does not resolve.
#[derive(Debug)]
struct NoHostPrefix;

impl aws_sdk_sfn::config::Intercept for NoHostPrefix {
    fn name(&self) -> &'static str {
        "NoHostPrefix"
    }

    fn modify_before_serialization(
        &self,
        _context: &mut aws_sdk_sfn::config::interceptors::BeforeSerializationInterceptorContextMut<
            '_,
        >,
        _components: &aws_sdk_sfn::config::RuntimeComponents,
        cfg: &mut aws_sdk_sfn::config::ConfigBag,
    ) -> Result<(), aws_sdk_sfn::error::BoxError> {
        cfg.interceptor_state()
            .unset::<aws_smithy_runtime_api::client::endpoint::EndpointPrefix>();
        Ok(())
    }
}

/// AWS's Rust SDK reads the TRACE answer with its own deserializer: `inspectionData.request` and
/// `.response` have the model's members, every one a string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_sdk_sfn_reads_the_trace_request_and_response() {
    let base = api().await;
    let (_dir, server) = server();
    let client = server.client().await;
    let out = client
        .test_state()
        .definition(post(&base).to_string())
        .input(r#"{"item": "cup"}"#)
        .inspection_level(aws_sdk_sfn::types::InspectionLevel::Trace)
        .reveal_secrets(true)
        .customize()
        .interceptor(NoHostPrefix)
        .send()
        .await
        .expect("TestState");
    assert_eq!(
        out.status(),
        Some(&aws_sdk_sfn::types::TestExecutionStatus::Succeeded)
    );
    let data = out.inspection_data().expect("inspectionData");
    let req = data.request().expect("request");
    assert_eq!(req.protocol(), Some("http"));
    assert_eq!(req.method(), Some("POST"));
    assert_eq!(
        req.url(),
        Some(format!("{base}/orders?page=1&tenant=secret-tenant").as_str())
    );
    assert_eq!(
        req.body(),
        Some(r#"{"item":"cup","signature":"secret-signature"}"#)
    );
    let headers: Value = serde_json::from_str(req.headers().unwrap()).unwrap();
    assert_eq!(headers["x-api-key"], json!("key-123"));
    let resp = data.response().expect("response");
    assert_eq!(resp.protocol(), Some("http"));
    assert_eq!(resp.status_code(), Some("200"));
    assert_eq!(resp.status_message(), Some("OK"));
    let body: Value = serde_json::from_str(resp.body().unwrap()).unwrap();
    assert_eq!(body["query"], json!("page=1&tenant=secret-tenant"));
}
