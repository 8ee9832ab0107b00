//! The HTTP Task (`arn:aws:states:::http:invoke`) through a local execution (what `mdlc execute
//! --local` and `mdlc serve` run), against a server of the test's own on a loopback port: the
//! request as the developer guide describes it (query parameters, JSON and URL-encoded bodies,
//! the EventBridge connection's authorization and parameters), its answer as the Task's result,
//! and its failures by Step Functions' error names, caught by `Catch`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use mdlc_asl::mock::{MockConfig, MockInvoker};
use mdlc_asl::{Execution, ExecutionStatus, StateMachine, TaskInvoker};
use mdlc_local::http_task::Connections;
use mdlc_local::{LocalCloud, LocalCloudConfig};
use serde_json::{Value, json};

const API_KEY: &str = "arn:aws:events:us-east-1:000000000000:connection/ApiKey/1";
const BASIC: &str = "arn:aws:events:us-east-1:000000000000:connection/Basic/2";
const OAUTH: &str = "arn:aws:events:us-east-1:000000000000:connection/OAuth/3";
/// An OAuth connection whose token endpoint answers more than an HTTP Task reads.
const OAUTH_HUGE: &str = "arn:aws:events:us-east-1:000000000000:connection/OAuthHuge/4";
/// OAuth connections whose tokens last an hour, and 30 seconds (`expires_in`).
const OAUTH_HOUR: &str = "arn:aws:events:us-east-1:000000000000:connection/OAuthHour/5";
const OAUTH_30S: &str = "arn:aws:events:us-east-1:000000000000:connection/OAuth30s/6";
/// More than the 8 MiB of a response the HTTP Task reads.
const HUGE: usize = (8 << 20) + 1;

/// A server on a free loopback port: `/missing` is a 404, `/moved` a 302 to `/items`, `/token`
/// an OAuth token endpoint
/// (client `cid`/`csecret`, `grant_type=client_credentials`), `/image` a PNG, `/huge` and
/// `/huge-token` [`HUGE`] bytes of text, `/token-3600` and `/token-30` a new token at each call
/// (`tok-<n>`, with that `expires_in`), `/status/<code>` that status; any other path
/// echoes the request as JSON (method, path, query, headers, body). Counts the requests.
async fn server(hits: Arc<AtomicUsize>) -> String {
    async fn answer(
        (hits, issued): (Arc<AtomicUsize>, Arc<AtomicUsize>),
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        hits.fetch_add(1, Ordering::SeqCst);
        let body = String::from_utf8_lossy(&body).to_string();
        if let Some(secs) = uri.path().strip_prefix("/token-") {
            let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
            let token = format!(r#"{{"access_token":"tok-{n}","expires_in":{secs}}}"#);
            return ([("content-type", "application/json")], token).into_response();
        }
        if let Some(code) = uri.path().strip_prefix("/status/") {
            let code = code.parse().unwrap_or(500);
            return (StatusCode::from_u16(code).unwrap(), "refused").into_response();
        }
        match uri.path() {
            "/missing" => (StatusCode::NOT_FOUND, "no such item").into_response(),
            "/moved" => (StatusCode::FOUND, [("location", "/items")], "").into_response(),
            "/image" => ([("content-type", "image/png")], vec![0x89u8, 0x50]).into_response(),
            "/huge" | "/huge-token" => {
                ([("content-type", "text/plain")], "x".repeat(HUGE)).into_response()
            }
            "/token" => {
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
                // base64("cid:csecret")
                if auth == Some("Basic Y2lkOmNzZWNyZXQ=") && body == "grant_type=client_credentials"
                {
                    (
                        [("content-type", "application/json")],
                        r#"{"access_token":"tok-1","token_type":"Bearer"}"#,
                    )
                        .into_response()
                } else {
                    (StatusCode::UNAUTHORIZED, format!("{auth:?} {body}")).into_response()
                }
            }
            path => {
                let headers: serde_json::Map<String, Value> = headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
                    .collect();
                let echo = json!({"method": method.as_str(), "path": path,
                    "query": uri.query().unwrap_or(""), "headers": headers, "body": body});
                ([("content-type", "application/json")], echo.to_string()).into_response()
            }
        }
    }
    let issued = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().fallback(move |m: Method, u: Uri, h: HeaderMap, b: Bytes| {
        let counters = (hits.clone(), issued.clone());
        async move { answer(counters, m, u, h, b).await }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://127.0.0.1:{port}")
}

fn connections(base: &str) -> Connections {
    let doc = json!({
        API_KEY: {"AuthorizationType": "API_KEY", "AuthParameters": {
            "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "key-123"},
            "InvocationHttpParameters": {
                "HeaderParameters": [{"Key": "X-Tenant", "Value": "connection-tenant"}],
                "QueryStringParameters": [{"Key": "tenant", "Value": "t1"}]}}},
        BASIC: {"AuthorizationType": "BASIC", "AuthParameters": {
            "BasicAuthParameters": {"Username": "user", "Password": "pass"},
            "InvocationHttpParameters": {"BodyParameters": [{"Key": "Mode", "Value": "connection"}]}}},
        OAUTH: {"AuthorizationType": "OAUTH_CLIENT_CREDENTIALS", "AuthParameters": {
            "OAuthParameters": {"ClientParameters": {"ClientID": "cid", "ClientSecret": "csecret"},
                "AuthorizationEndpoint": format!("{base}/token"), "HttpMethod": "POST",
                "OAuthHttpParameters": {"BodyParameters": [{"Key": "grant_type", "Value": "client_credentials"}]}}}},
        OAUTH_HOUR: {"AuthorizationType": "OAUTH_CLIENT_CREDENTIALS", "AuthParameters": {
            "OAuthParameters": {"ClientParameters": {"ClientID": "cid", "ClientSecret": "csecret"},
                "AuthorizationEndpoint": format!("{base}/token-3600"), "HttpMethod": "POST"}}},
        OAUTH_30S: {"AuthorizationType": "OAUTH_CLIENT_CREDENTIALS", "AuthParameters": {
            "OAuthParameters": {"ClientParameters": {"ClientID": "cid", "ClientSecret": "csecret"},
                "AuthorizationEndpoint": format!("{base}/token-30"), "HttpMethod": "POST"}}},
        OAUTH_HUGE: {"AuthorizationType": "OAUTH_CLIENT_CREDENTIALS", "AuthParameters": {
            "OAuthParameters": {"ClientParameters": {"ClientID": "cid", "ClientSecret": "csecret"},
                "AuthorizationEndpoint": format!("{base}/huge-token"), "HttpMethod": "POST"}}},
    });
    Connections::parse(&doc.to_string(), "connections.json").unwrap()
}

struct World {
    _dir: tempfile::TempDir,
    cloud: LocalCloud,
    base: String,
    hits: Arc<AtomicUsize>,
}

async fn world() -> World {
    let hits = Arc::new(AtomicUsize::new(0));
    let base = server(hits.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = LocalCloudConfig::new(dir.path().join(".mdlc"));
    config.project_state_machines = false;
    config.connections = connections(&base);
    let cloud = LocalCloud::new(config).expect("local cloud");
    World {
        _dir: dir,
        cloud,
        base,
        hits,
    }
}

impl World {
    async fn run(&self, states: Value, input: Value) -> Execution {
        self.run_with(states, input, None).await
    }

    async fn run_with(
        &self,
        states: Value,
        input: Value,
        invoker: Option<Arc<dyn TaskInvoker>>,
    ) -> Execution {
        let start = states.as_object().unwrap().keys().next().unwrap().clone();
        let machine =
            StateMachine::from_value(&json!({"StartAt": start, "States": states})).unwrap();
        let name = uuid::Uuid::new_v4().to_string();
        self.cloud
            .execute("http", &machine, &name, input, invoker)
            .await
            .unwrap()
    }
}

fn succeeded(e: &Execution) -> &Value {
    assert_eq!(
        e.status,
        ExecutionStatus::Succeeded,
        "{:?} {:?}",
        e.error,
        e.cause
    );
    e.output.as_ref().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_sends_the_query_parameters_and_the_connections_api_key_and_parameters() {
    let w = world().await;
    let e = w
        .run(
            json!({"Call": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
                "Parameters": {"ApiEndpoint.$": "$.url", "Method": "GET",
                    "Authentication": {"ConnectionArn": API_KEY},
                    "Headers": {"X-Tenant": "definition-tenant", "Accept": "application/json"},
                    "QueryParameters": {"q": "a b", "tags": ["x", "y"], "tenant": "mine"}},
                "End": true}}),
            json!({"url": format!("{}/items?page=2", w.base)}),
        )
        .await;
    let out = succeeded(&e);
    assert_eq!(out["StatusCode"], json!(200));
    assert_eq!(out["StatusText"], json!("OK"));
    assert_eq!(out["Headers"]["content-type"], json!(["application/json"]));
    let echo = &out["ResponseBody"];
    assert_eq!(echo["method"], json!("GET"));
    assert_eq!(echo["path"], json!("/items"));
    // the endpoint's own query first, the connection's tenant replaces the Task's
    assert_eq!(
        echo["query"],
        json!("page=2&q=a%20b&tags=x&tags=y&tenant=t1")
    );
    let headers = &echo["headers"];
    assert_eq!(headers["x-api-key"], json!("key-123"));
    assert_eq!(headers["x-tenant"], json!("connection-tenant"));
    assert_eq!(headers["accept"], json!("application/json"));
    assert_eq!(headers["range"], json!("bytes=0-262144"));
    assert_eq!(
        headers["user-agent"],
        json!("Amazon|StepFunctions|HttpInvoke|us-east-1")
    );
    assert_eq!(headers.get("content-type"), None, "a GET without a body");
    // the Task's events, as AWS names an HTTP Task
    for ty in ["TaskScheduled", "TaskStarted", "TaskSucceeded"] {
        let ev = e.history.iter().find(|h| h.event_type == ty).expect(ty);
        assert_eq!(ev.details["resourceType"], json!("http"), "{ty}");
        assert_eq!(ev.details["resource"], json!("invoke"), "{ty}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_sends_json_merged_with_the_connections_body_and_basic_authorization() {
    let w = world().await;
    let e = w
        .run(
            json!({"Call": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
                "Parameters": {"ApiEndpoint": format!("{}/orders", w.base), "Method": "POST",
                    "InvocationConfig": {"ConnectionArn": BASIC},
                    "RequestBody": {"Card": {"Number.$": "$.card"}, "Mode": "definition"}},
                "ResultSelector": {"echo.$": "$.ResponseBody"}, "End": true}}),
            json!({"card": "1234"}),
        )
        .await;
    let echo = &succeeded(&e)["echo"];
    assert_eq!(echo["method"], json!("POST"));
    assert_eq!(
        echo["body"],
        json!(r#"{"Card":{"Number":"1234"},"Mode":"connection"}"#)
    );
    assert_eq!(
        echo["headers"]["content-type"],
        json!("application/json; charset=UTF-8")
    );
    // base64("user:pass")
    assert_eq!(
        echo["headers"]["authorization"],
        json!("Basic dXNlcjpwYXNz")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_encoded_body_follows_its_array_format_and_an_oauth_connection_sends_its_token() {
    let w = world().await;
    let call = |format: &str| {
        json!({"Call": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
            "Parameters": {"ApiEndpoint": format!("{}/form", w.base), "Method": "PUT",
                "Authentication": {"ConnectionArn": OAUTH},
                "Headers": {"Content-Type": "application/x-www-form-urlencoded"},
                "RequestBody": {"description": "Monthly subscription",
                    "metadata": {"order_details": "monthly report data"}, "tags": ["a", "b"]},
                "Transform": {"RequestBodyEncoding": "URL_ENCODED",
                    "RequestEncodingOptions": {"ArrayFormat": format}}},
            "End": true}})
    };
    let expected = [
        ("INDICES", "tags%5B0%5D=a&tags%5B1%5D=b"),
        ("REPEAT", "tags=a&tags=b"),
        ("COMMAS", "tags=a,b"),
        ("BRACKETS", "tags%5B%5D=a&tags%5B%5D=b"),
    ];
    for (format, tags) in expected {
        let e = w.run(call(format), json!({})).await;
        let echo = &succeeded(&e)["ResponseBody"];
        assert_eq!(
            echo["body"],
            json!(format!(
                "description=Monthly%20subscription&metadata%5Border_details%5D=monthly%20report%20data&{tags}"
            )),
            "{format}"
        );
        assert_eq!(
            echo["headers"]["content-type"],
            json!("application/x-www-form-urlencoded")
        );
        assert_eq!(echo["headers"]["authorization"], json!("Bearer tok-1"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_is_states_http_status_code_404_and_a_catch_takes_it() {
    let w = world().await;
    let e = w
        .run(
            json!({"Call": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
                "Parameters": {"ApiEndpoint": format!("{}/missing", w.base), "Method": "GET",
                    "Authentication": {"ConnectionArn": API_KEY}},
                "Catch": [{"ErrorEquals": ["States.Http.StatusCode.404"], "ResultPath": "$.error", "Next": "NotFound"}],
                "End": true},
              "NotFound": {"Type": "Pass", "End": true}}),
            json!({}),
        )
        .await;
    let out = succeeded(&e);
    assert_eq!(out["error"]["Error"], json!("States.Http.StatusCode.404"));
    let cause: Value = serde_json::from_str(out["error"]["Cause"].as_str().unwrap()).unwrap();
    assert_eq!(cause["StatusCode"], json!(404));
    assert_eq!(cause["StatusText"], json!("Not Found"));
    assert_eq!(cause["ResponseBody"], json!("no such item"));
    let failed = e
        .history
        .iter()
        .find(|h| h.event_type == "TaskFailed")
        .unwrap();
    assert_eq!(failed.details["error"], json!("States.Http.StatusCode.404"));
    assert_eq!(failed.details["resourceType"], json!("http"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_have_step_functions_names_and_send_nothing_when_the_request_is_refused() {
    let w = world().await;
    let task = |params: Value| {
        json!({"Call": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
            "Parameters": params, "End": true}})
    };
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let unknown = "arn:aws:events:us-east-1:000000000000:connection/Nope/9";
    let cases = [
        (
            json!({"ApiEndpoint": format!("{}/x", w.base), "Method": "GET", "Authentication": {"ConnectionArn": unknown}}),
            "Events.ConnectionResource.ResourceNotFound",
            unknown.to_string(),
        ),
        (
            json!({"ApiEndpoint": format!("{}/x", w.base), "Method": "GET", "Authentication": {"ConnectionArn": API_KEY},
                "Headers": {"Cache-Control": "no-cache"}}),
            "States.Runtime",
            "The header 'Cache-Control' cannot be used".to_string(),
        ),
        (
            json!({"ApiEndpoint": format!("{}/x", w.base), "Method": "CONNECT", "Authentication": {"ConnectionArn": API_KEY}}),
            "States.Runtime",
            "must be one of GET, POST, PUT, DELETE, PATCH, OPTIONS, HEAD".to_string(),
        ),
        (
            json!({"ApiEndpoint": "http://example.com/x", "Method": "GET", "Authentication": {"ConnectionArn": API_KEY}}),
            "States.Runtime",
            "must be an https URL".to_string(),
        ),
        (
            json!({"ApiEndpoint": format!("{}/x", w.base), "Method": "POST", "Authentication": {"ConnectionArn": BASIC},
                "RequestBody": "plain text"}),
            "States.Runtime",
            "is a string and its EventBridge connection has body parameters".to_string(),
        ),
    ];
    for (params, error, cause) in cases {
        let e = w.run(task(params.clone()), json!({})).await;
        assert_eq!(e.status, ExecutionStatus::Failed, "{params}");
        assert_eq!(e.error.as_deref(), Some(error), "{params}");
        let c = e.cause.clone().unwrap_or_default();
        assert!(c.contains(&cause), "{params}: {c}");
    }
    assert_eq!(
        w.hits.load(Ordering::SeqCst),
        0,
        "a refused request is not sent"
    );
    let e = w
        .run(
            task(
                json!({"ApiEndpoint": format!("{}/image", w.base), "Method": "GET",
                "Authentication": {"ConnectionArn": API_KEY}}),
            ),
            json!({}),
        )
        .await;
    assert_eq!(e.error.as_deref(), Some("States.Runtime"));
    assert!(e.cause.unwrap().contains("'image/png'"));
    let e = w
        .run(
            task(
                json!({"ApiEndpoint": format!("http://127.0.0.1:{closed}/x"), "Method": "GET",
                "Authentication": {"ConnectionArn": API_KEY}}),
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        e.error.as_deref(),
        Some("States.Http.Socket"),
        "{:?}",
        e.cause
    );
    // a redirect is not followed: a 3xx is not a success
    let before = w.hits.load(Ordering::SeqCst);
    let e = w
        .run(
            task(
                json!({"ApiEndpoint": format!("{}/moved", w.base), "Method": "GET",
                "Authentication": {"ConnectionArn": API_KEY}}),
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        e.error.as_deref(),
        Some("States.Http.StatusCode.302"),
        "{:?}",
        e.cause
    );
    assert_eq!(
        w.hits.load(Ordering::SeqCst),
        before + 1,
        "one request, not followed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_over_8_mib_is_not_read_whole_for_the_task_nor_for_an_oauth_token() {
    let w = world().await;
    let task = |endpoint: String, connection: &str| {
        json!({"Call": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
            "Parameters": {"ApiEndpoint": endpoint, "Method": "GET",
                "Authentication": {"ConnectionArn": connection}}, "End": true}})
    };
    let e = w
        .run(task(format!("{}/huge", w.base), API_KEY), json!({}))
        .await;
    assert_eq!(e.status, ExecutionStatus::Failed);
    assert_eq!(e.error.as_deref(), Some("States.DataLimitExceeded"));
    let cause = e.cause.unwrap_or_default();
    assert!(
        cause.contains("/huge?tenant=t1 is over 8388608 bytes"),
        "{}",
        &cause[..cause.len().min(300)]
    );
    let e = w
        .run(task(format!("{}/x", w.base), OAUTH_HUGE), json!({}))
        .await;
    assert_eq!(e.status, ExecutionStatus::Failed);
    assert_eq!(
        e.error.as_deref(),
        Some("Events.ConnectionResource.InvalidConnectionState")
    );
    let cause = e.cause.unwrap_or_default();
    assert!(
        cause.contains("/huge-token: the answer is over 8388608 bytes"),
        "{}",
        &cause[..cause.len().min(300)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mocked_http_task_answers_the_mocked_result_without_a_request() {
    let w = world().await;
    let mock = MockConfig::from_json_str(
        &json!({"StateMachines": {"http": {"TestCases": {"Offline": {"Call": "Answer"}}}},
            "MockedResponses": {"Answer": {"0": {"Return": {"StatusCode": 200, "StatusText": "OK",
                "Headers": {}, "ResponseBody": {"id": 1}}}}}})
        .to_string(),
    )
    .unwrap();
    let fallback: Arc<dyn TaskInvoker> = w.cloud.invoker().clone();
    let invoker = Arc::new(MockInvoker::new(mock, "http", "Offline", Some(fallback)).unwrap());
    let e = w
        .run_with(
            json!({"Call": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
                "Parameters": {"ApiEndpoint": format!("{}/items", w.base), "Method": "GET",
                    "Authentication": {"ConnectionArn": API_KEY}},
                "OutputPath": "$.ResponseBody", "End": true}}),
            json!({}),
            Some(invoker),
        )
        .await;
    assert_eq!(succeeded(&e), &json!({"id": 1}));
    assert_eq!(
        w.hits.load(Ordering::SeqCst),
        0,
        "the mock answered, nothing was sent"
    );
}

/// A GET of `path` on the test server through `connection`.
fn get_through(base: &str, connection: &str, path: &str) -> Value {
    json!({"Call": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
        "Parameters": {"ApiEndpoint": format!("{base}{path}"), "Method": "GET",
            "Authentication": {"ConnectionArn": connection}},
        "End": true}})
}

/// The `Authorization` header the echo path saw through `connection`.
async fn bearer(w: &World, connection: &str) -> Value {
    let e = w
        .run(get_through(&w.base, connection, "/echo"), json!({}))
        .await;
    succeeded(&e)["ResponseBody"]["headers"]["authorization"].clone()
}

/// A call through `connection` that the API answers with `code`.
async fn refused_with(w: &World, connection: &str, code: u16) {
    let path = format!("/status/{code}");
    let e = w
        .run(get_through(&w.base, connection, &path), json!({}))
        .await;
    assert_eq!(e.status, ExecutionStatus::Failed);
    assert_eq!(e.error, Some(format!("States.Http.StatusCode.{code}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_token_is_reused_until_about_to_expire_and_fetched_again_after_a_401_or_407() {
    let w = world().await;
    // An hour's token serves three calls.
    let first = bearer(&w, OAUTH_HOUR).await;
    assert_eq!(first, json!("Bearer tok-1"));
    assert_eq!(bearer(&w, OAUTH_HOUR).await, first);
    assert_eq!(bearer(&w, OAUTH_HOUR).await, first);
    // One that expires within the minute is fetched again at each call.
    assert_eq!(bearer(&w, OAUTH_30S).await, json!("Bearer tok-2"));
    assert_eq!(bearer(&w, OAUTH_30S).await, json!("Bearer tok-3"));
    // A 403 keeps the token; a 401, then a 407, make the next call fetch a new one.
    refused_with(&w, OAUTH_HOUR, 403).await;
    assert_eq!(bearer(&w, OAUTH_HOUR).await, first);
    refused_with(&w, OAUTH_HOUR, 401).await;
    assert_eq!(bearer(&w, OAUTH_HOUR).await, json!("Bearer tok-4"));
    refused_with(&w, OAUTH_HOUR, 407).await;
    assert_eq!(bearer(&w, OAUTH_HOUR).await, json!("Bearer tok-5"));
    assert_eq!(bearer(&w, OAUTH_HOUR).await, json!("Bearer tok-5"));
}
