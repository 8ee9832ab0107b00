//! The Runtime API's routes called in-process: what a runtime client gets for each request.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use http_body_util::BodyExt;
use lambda_bench::runtime_api::{Answer, Invocation, PAYLOAD_LIMIT, REQUEST_ID, TRACE_ID, router};
use tower::ServiceExt;

const API: &str = "/2018-06-01/runtime";
const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:mdlc-train";

fn invocation() -> Arc<Invocation> {
    let invocation = Invocation::new(Bytes::from_static(b"{\"k\": [1]}"), ARN.to_owned());
    invocation.start_clock();
    invocation
}

async fn call(invocation: &Arc<Invocation>, request: Request<Body>) -> Response {
    router(Arc::clone(invocation))
        .oneshot(request)
        .await
        .expect("infallible")
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

fn post(path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path).body(body.into()).expect("request")
}

async fn body_text(response: Response) -> String {
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no header {name}"))
}

#[tokio::test]
async fn next_hands_out_the_event_with_the_invocation_headers() {
    let invocation = invocation();
    let response = call(&invocation, get(&format!("{API}/invocation/next"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, "Lambda-Runtime-Aws-Request-Id"),
        REQUEST_ID
    );
    assert_eq!(
        header(&response, "Lambda-Runtime-Invoked-Function-Arn"),
        ARN
    );
    assert_eq!(header(&response, "Lambda-Runtime-Trace-Id"), TRACE_ID);
    let deadline: u128 = header(&response, "Lambda-Runtime-Deadline-Ms")
        .parse()
        .expect("deadline in ms");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    assert!(deadline > now, "deadline {deadline} not after now {now}");
    assert_eq!(body_text(response).await, "{\"k\": [1]}");
    assert!(invocation.observed().ready.is_some());
}

#[tokio::test]
async fn a_second_poll_waits_for_the_end_of_the_run_then_gets_a_container_error() {
    let invocation = invocation();
    let first = call(&invocation, get(&format!("{API}/invocation/next"))).await;
    assert_eq!(first.status(), StatusCode::OK);
    let second = tokio::spawn({
        let invocation = Arc::clone(&invocation);
        async move { call(&invocation, get(&format!("{API}/invocation/next"))).await }
    });
    // on this single-threaded runtime, a poll answered at once would be finished after a few
    // turns; the parked one stays pending
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert!(
        !second.is_finished(),
        "the second poll was answered before the run ended"
    );
    invocation.release();
    let second = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("answered once released")
        .expect("task");
    assert_eq!(second.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn a_response_is_accepted_and_recorded_once() {
    let invocation = invocation();
    call(&invocation, get(&format!("{API}/invocation/next"))).await;
    let path = format!("{API}/invocation/{REQUEST_ID}/response");
    let response = call(&invocation, post(&path, "{\"ok\":true}")).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(body_text(response).await, r#"{"status":"OK"}"#);
    let answered = invocation.observed().answered.expect("answered");
    assert_eq!(answered.answer, Answer::Response);
    assert_eq!(answered.body, Bytes::from_static(b"{\"ok\":true}"));
    let again = call(&invocation, post(&path, "{}")).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        body_text(again).await,
        r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#
    );
}

#[tokio::test]
async fn an_answer_for_another_request_id_is_a_bad_request_and_not_recorded() {
    let invocation = invocation();
    call(&invocation, get(&format!("{API}/invocation/next"))).await;
    let response = call(
        &invocation,
        post(
            &format!("{API}/invocation/other/error"),
            r#"{"errorType":"X"}"#,
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(invocation.observed().answered.is_none());
}

#[tokio::test]
async fn an_answer_before_any_invocation_was_handed_out_is_refused() {
    let invocation = invocation();
    let path = format!("{API}/invocation/{REQUEST_ID}/response");
    let response = call(&invocation, post(&path, "{}")).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(invocation.observed().answered.is_none());
}

#[tokio::test]
async fn an_invocation_error_is_recorded_with_its_type() {
    let invocation = invocation();
    call(&invocation, get(&format!("{API}/invocation/next"))).await;
    let request = Request::post(format!("{API}/invocation/{REQUEST_ID}/error"))
        .header("Lambda-Runtime-Function-Error-Type", "Runtime.Unknown")
        .body(Body::from(
            r#"{"errorMessage":"m","errorType":"ModelNotFound"}"#,
        ))
        .expect("request");
    let response = call(&invocation, request).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let answered = invocation.observed().answered.expect("answered");
    assert_eq!(answered.answer, Answer::Error("ModelNotFound".into()));
}

#[tokio::test]
async fn an_init_error_is_accepted_and_recorded() {
    let invocation = invocation();
    let request = Request::post(format!("{API}/init/error"))
        .header("Lambda-Runtime-Function-Error-Type", "Runtime.ConfigError")
        .body(Body::empty())
        .expect("request");
    let response = call(&invocation, request).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let answered = invocation.observed().answered.expect("answered");
    assert_eq!(
        answered.answer,
        Answer::InitError("Runtime.ConfigError".into())
    );
}

#[tokio::test]
async fn a_response_over_the_payload_quota_is_too_large() {
    let invocation = invocation();
    call(&invocation, get(&format!("{API}/invocation/next"))).await;
    let path = format!("{API}/invocation/{REQUEST_ID}/response");
    let response = call(&invocation, post(&path, vec![b'1'; PAYLOAD_LIMIT + 1])).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(invocation.observed().answered.is_none());
    let at_limit = call(&invocation, post(&path, vec![b'1'; PAYLOAD_LIMIT])).await;
    assert_eq!(at_limit.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn unknown_paths_are_not_found() {
    let invocation = invocation();
    let response = call(&invocation, get(&format!("{API}/invocation/later"))).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = call(&invocation, get("/2018-06-01/runtime/invocation/next/")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
