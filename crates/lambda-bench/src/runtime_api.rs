//! The Lambda Runtime API (version 2018-06-01) on loopback, serving one invocation to one
//! process, as the AWS Lambda Developer Guide's "Using the Lambda runtime API for custom
//! runtimes" and its OpenAPI specification (runtime-api.zip) describe it:
//!
//! - `GET /2018-06-01/runtime/invocation/next`: 200 with the event as body and the headers
//!   `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`,
//!   `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id`. There is one invocation
//!   per process: a later poll is parked until the run is over, then answered 500 (the
//!   specification's "container error, runtime should exit"; by then the process is stopped).
//! - `POST .../invocation/{AwsRequestId}/response` and `.../error`: 202 `{"status":"OK"}`; an id
//!   that is not the invocation's, or an invocation already answered, is 400
//!   `{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}` as the Runtime
//!   Interface Emulator answers it (here also an answer before any invocation was handed out,
//!   which the emulator refuses as a 403 state-transition error).
//! - `POST .../init/error`: 202 `{"status":"OK"}`.
//!
//! An error's type is the body's `errorType`, or else the `Lambda-Runtime-Function-Error-Type`
//! header (the specification's fallback when the body cannot be read). Bodies are limited to
//! Lambda's 6 MB synchronous payload quota (413 beyond).

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// The request id of the one invocation.
pub const REQUEST_ID: &str = "00000000-0000-4000-8000-000000000001";
/// The X-Ray trace header of the one invocation.
pub const TRACE_ID: &str = "Root=1-00000000-000000000000000000000001;Sampled=0";
/// Lambda's synchronous invocation payload quota (request and response): 6 MB.
pub const PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;
/// The invocation's deadline, from the moment it is handed out.
const DEADLINE: Duration = Duration::from_secs(30);
/// How long a second poll of `next` is parked at most.
const PARK_LIMIT: Duration = Duration::from_secs(60);
/// How long [`RuntimeApi::stop`] waits for open connections to close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// How the process answered its invocation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Answer {
    /// `POST .../invocation/{id}/response`.
    Response,
    /// `POST .../invocation/{id}/error`, with its error type.
    Error(String),
    /// `POST .../init/error`, with its error type.
    InitError(String),
}

impl Answer {
    /// The error type of an error or init error.
    pub fn error_type(&self) -> Option<&str> {
        match self {
            Answer::Response => None,
            Answer::Error(t) | Answer::InitError(t) => Some(t),
        }
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Response => f.write_str("response"),
            Answer::Error(t) => write!(f, "error: {t}"),
            Answer::InitError(t) => write!(f, "init error: {t}"),
        }
    }
}

/// The process's first answer: when (since its start), what, and the body it posted.
#[derive(Clone, Debug)]
pub struct Answered {
    pub after: Duration,
    pub answer: Answer,
    pub body: Bytes,
}

/// What the API saw of the process.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// Process start → its first `GET .../invocation/next`.
    pub ready: Option<Duration>,
    /// Its first answer.
    pub answered: Option<Answered>,
}

/// The one invocation and what became of it, shared by the API's handlers and the benchmark.
#[derive(Debug)]
pub struct Invocation {
    event: Bytes,
    function_arn: String,
    started: OnceLock<Instant>,
    served: AtomicBool,
    observed: Mutex<Observed>,
    answered: Notify,
    released: watch::Sender<bool>,
}

impl Invocation {
    pub fn new(event: Bytes, function_arn: String) -> Arc<Invocation> {
        Arc::new(Invocation {
            event,
            function_arn,
            started: OnceLock::new(),
            served: AtomicBool::new(false),
            observed: Mutex::new(Observed::default()),
            answered: Notify::new(),
            released: watch::Sender::new(false),
        })
    }

    /// Marks the process start: the times of [`Observed`] count from here.
    pub fn start_clock(&self) {
        let _ = self.started.set(Instant::now());
    }

    /// A copy of what was seen so far.
    pub fn observed(&self) -> Observed {
        self.lock().clone()
    }

    /// Resolves once the process has answered (at once if it already has).
    pub async fn answered(&self) {
        self.answered.notified().await;
    }

    /// Ends the run: a parked poll of `next` is answered, and the server may shut down.
    pub fn release(&self) {
        self.released.send_replace(true);
    }

    async fn wait_released(&self) {
        let mut released = self.released.subscribe();
        let _ = tokio::time::timeout(PARK_LIMIT, released.wait_for(|r| *r)).await;
    }

    fn lock(&self) -> MutexGuard<'_, Observed> {
        self.observed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn since_start(&self, now: Instant) -> Duration {
        self.started
            .get()
            .map_or(Duration::ZERO, |t0| now.saturating_duration_since(*t0))
    }

    /// Records a poll of `next`; true for the first one, which gets the invocation.
    fn first_poll(&self, now: Instant) -> bool {
        let first = !self.served.swap(true, Ordering::SeqCst);
        if first {
            self.lock().ready = Some(self.since_start(now));
        }
        first
    }

    /// Records the process's answer to the invocation `request_id`; false when that is not the
    /// invocation handed out, or it is already answered.
    fn answer_invocation(
        &self,
        request_id: &str,
        now: Instant,
        answer: Answer,
        body: Bytes,
    ) -> bool {
        if request_id != REQUEST_ID || !self.served.load(Ordering::SeqCst) {
            return false;
        }
        self.record(now, answer, body)
    }

    /// Records the first answer; false when there already is one.
    fn record(&self, now: Instant, answer: Answer, body: Bytes) -> bool {
        let after = self.since_start(now);
        let mut observed = self.lock();
        if observed.answered.is_some() {
            return false;
        }
        observed.answered = Some(Answered {
            after,
            answer,
            body,
        });
        drop(observed);
        self.answered.notify_one();
        true
    }
}

/// The API serving on a loopback port.
#[derive(Debug)]
pub struct RuntimeApi {
    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub address: SocketAddr,
    invocation: Arc<Invocation>,
    server: JoinHandle<std::io::Result<()>>,
}

impl RuntimeApi {
    /// Binds a loopback port and serves `invocation` on it.
    pub async fn start(invocation: Arc<Invocation>) -> std::io::Result<RuntimeApi> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let mut released = invocation.released.subscribe();
        let app = router(Arc::clone(&invocation));
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = released.wait_for(|r| *r).await;
                })
                .await
        });
        Ok(RuntimeApi {
            address,
            invocation,
            server,
        })
    }

    /// Releases the invocation and shuts the server down (closing what is still open after a
    /// grace period).
    pub async fn stop(self) {
        self.invocation.release();
        let abort = self.server.abort_handle();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.server)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
}

/// The Runtime API's routes over `invocation`.
pub fn router(invocation: Arc<Invocation>) -> Router {
    const API: &str = "/2018-06-01/runtime";
    Router::new()
        .route(&format!("{API}/invocation/next"), get(next))
        .route(
            &format!("{API}/invocation/{{id}}/response"),
            post(invocation_response),
        )
        .route(
            &format!("{API}/invocation/{{id}}/error"),
            post(invocation_error),
        )
        .route(&format!("{API}/init/error"), post(init_error))
        .layer(DefaultBodyLimit::max(PAYLOAD_LIMIT))
        .with_state(invocation)
}

async fn next(State(invocation): State<Arc<Invocation>>) -> Response {
    let now = Instant::now();
    if !invocation.first_poll(now) {
        invocation.wait_released().await;
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let headers = [
        (CONTENT_TYPE.as_str(), "application/json".to_owned()),
        ("Lambda-Runtime-Aws-Request-Id", REQUEST_ID.to_owned()),
        ("Lambda-Runtime-Deadline-Ms", deadline_ms().to_string()),
        (
            "Lambda-Runtime-Invoked-Function-Arn",
            invocation.function_arn.clone(),
        ),
        ("Lambda-Runtime-Trace-Id", TRACE_ID.to_owned()),
    ];
    (StatusCode::OK, headers, invocation.event.clone()).into_response()
}

async fn invocation_response(
    State(invocation): State<Arc<Invocation>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let now = Instant::now();
    accepted_or_invalid_id(invocation.answer_invocation(&id, now, Answer::Response, body))
}

async fn invocation_error(
    State(invocation): State<Arc<Invocation>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = Instant::now();
    let answer = Answer::Error(error_type(&body, &headers));
    accepted_or_invalid_id(invocation.answer_invocation(&id, now, answer, body))
}

async fn init_error(
    State(invocation): State<Arc<Invocation>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = Instant::now();
    let answer = Answer::InitError(error_type(&body, &headers));
    invocation.record(now, answer, body);
    accepted()
}

fn accepted_or_invalid_id(recorded: bool) -> Response {
    if recorded {
        accepted()
    } else {
        json_response(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}),
        )
    }
}

fn accepted() -> Response {
    json_response(StatusCode::ACCEPTED, serde_json::json!({"status": "OK"}))
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The error type of an error post: the body's `errorType`, else the
/// `Lambda-Runtime-Function-Error-Type` header, else `unknown`.
pub fn error_type(body: &[u8], headers: &HeaderMap) -> String {
    let from_body = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|doc| doc.get("errorType")?.as_str().map(str::to_owned));
    let from_header = || {
        headers
            .get("Lambda-Runtime-Function-Error-Type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    from_body
        .or_else(from_header)
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Milliseconds since the Unix epoch at which the invocation times out.
fn deadline_ms() -> u128 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    (now + DEADLINE).as_millis()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn error_header(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            "Lambda-Runtime-Function-Error-Type",
            HeaderValue::from_static(value),
        );
        headers
    }

    #[test]
    fn the_error_type_comes_from_the_body_first() {
        let body = br#"{"errorType":"DependencyUnavailable","errorMessage":"x"}"#;
        assert_eq!(
            error_type(body, &error_header("Runtime.Unknown")),
            "DependencyUnavailable"
        );
    }

    #[test]
    fn the_error_type_falls_back_to_the_header_then_unknown() {
        assert_eq!(
            error_type(b"", &error_header("Runtime.ExitError")),
            "Runtime.ExitError"
        );
        assert_eq!(
            error_type(b"not json", &error_header("Runtime.X")),
            "Runtime.X"
        );
        assert_eq!(
            error_type(br#"{"errorType":7}"#, &HeaderMap::new()),
            "unknown"
        );
    }

    #[test]
    fn answers_read_as_the_report_shows_them() {
        assert_eq!(Answer::Response.to_string(), "response");
        assert_eq!(Answer::Error("E".into()).to_string(), "error: E");
        assert_eq!(Answer::InitError("I".into()).to_string(), "init error: I");
    }

    #[test]
    fn only_the_first_answer_to_the_served_invocation_is_recorded() {
        let invocation = Invocation::new(Bytes::from_static(b"{}"), "arn".into());
        invocation.start_clock();
        let now = Instant::now();
        assert!(!invocation.answer_invocation(REQUEST_ID, now, Answer::Response, Bytes::new()));
        assert!(invocation.first_poll(now));
        assert!(!invocation.first_poll(now));
        assert!(!invocation.answer_invocation("other-id", now, Answer::Response, Bytes::new()));
        assert!(invocation.answer_invocation(
            REQUEST_ID,
            now,
            Answer::Response,
            Bytes::from_static(b"1")
        ));
        assert!(!invocation.answer_invocation(REQUEST_ID, now, Answer::Response, Bytes::new()));
        let observed = invocation.observed();
        assert!(observed.ready.is_some());
        let answered = observed.answered.expect("answered");
        assert_eq!(answered.answer, Answer::Response);
        assert_eq!(answered.body, Bytes::from_static(b"1"));
    }
}
