//! The SageMaker inference HTTP contract (`serve`), on axum.
//!
//! * `GET /ping` → 200 once the model is loaded (the server only listens after loading).
//! * `POST /invocations` with `text/csv` rows of features (no label) → `text/csv`, one
//!   prediction per line. Bad payloads get 4xx with a plain-text reason: 400 (malformed CSV,
//!   wrong column count, empty body), 413 (over the payload limit), 415 (content type).
//! * `GET /execution-parameters` → the batch-transform hints SageMaker asks for.
//!
//! The port is `SAGEMAKER_BIND_TO_PORT` (default 8080). In a batch transform SageMaker sets
//! `SAGEMAKER_MAX_PAYLOAD_IN_MB` to the largest payload it sends (the job's `MaxPayloadInMB`;
//! 0 means chunked payloads of any size); a larger request gets 413. Without it the limit is
//! 100 MiB, the largest `MaxPayloadInMB` there is.

use crate::dataset::{Layout, parse_csv};
use crate::model::Model;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Environment variable with the port to listen on.
pub const PORT_ENV: &str = "SAGEMAKER_BIND_TO_PORT";
pub const DEFAULT_PORT: u16 = 8080;
/// Environment variable with the largest payload of a batch transform, in MB (MiB).
pub const MAX_PAYLOAD_ENV: &str = "SAGEMAKER_MAX_PAYLOAD_IN_MB";
/// Largest accepted request body without [`MAX_PAYLOAD_ENV`]: 100 MiB, the largest
/// `MaxPayloadInMB` of a transform job.
pub const MAX_PAYLOAD_BYTES: usize = 100 * 1024 * 1024;

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {message}")]
    Bind { addr: String, message: String },
    #[error("{PORT_ENV}={0:?} is not a port number")]
    BadPort(String),
    #[error("{MAX_PAYLOAD_ENV}={0:?} is not a whole number of MB from 0 to 100")]
    BadMaxPayload(String),
}

/// The port from `SAGEMAKER_BIND_TO_PORT`, or 8080.
pub fn port_from_env(value: Option<&str>) -> Result<u16, ServeError> {
    match value.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(DEFAULT_PORT),
        Some(s) => s.parse().map_err(|_| ServeError::BadPort(s.to_string())),
    }
}

/// The request body limit from `SAGEMAKER_MAX_PAYLOAD_IN_MB`: N (1-100) MiB, or
/// [`MAX_PAYLOAD_BYTES`] when unset or 0 (chunked payloads of any size: still capped, so that a
/// request cannot exhaust memory).
pub fn max_payload_from_env(value: Option<&str>) -> Result<usize, ServeError> {
    match value.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(MAX_PAYLOAD_BYTES),
        Some(s) => match s.parse::<usize>() {
            Ok(0) => Ok(MAX_PAYLOAD_BYTES),
            Ok(mb) if mb <= 100 => Ok(mb * 1024 * 1024),
            _ => Err(ServeError::BadMaxPayload(s.to_string())),
        },
    }
}

/// How the server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Threads answering requests (at least 1).
    pub workers: usize,
    /// Largest accepted request body in bytes.
    pub max_payload_bytes: usize,
}

/// A running inference server.
pub struct Server {
    addr: SocketAddr,
    runtime: tokio::runtime::Runtime,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Starts listening on `addr` (for example `127.0.0.1:8080`, or port 0 for any free port)
    /// with `workers` request threads and the default payload limit.
    pub fn start(model: Model, addr: &str, workers: usize) -> Result<Server, ServeError> {
        let options = Options {
            workers,
            max_payload_bytes: MAX_PAYLOAD_BYTES,
        };
        Server::start_with(model, addr, options)
    }

    /// Starts listening on `addr` with the given options.
    pub fn start_with(model: Model, addr: &str, options: Options) -> Result<Server, ServeError> {
        let bind_error = |message: String| ServeError::Bind {
            addr: addr.to_string(),
            message,
        };
        let listener = std::net::TcpListener::bind(addr).map_err(|e| bind_error(e.to_string()))?;
        let local = listener
            .local_addr()
            .map_err(|e| bind_error(e.to_string()))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| bind_error(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.workers.max(1))
            .thread_name("mdlc-serve")
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| bind_error(e.to_string()))?;
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(|e| bind_error(e.to_string()))?
        };
        let app = router(Arc::new(model), options.max_payload_bytes);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        // Answers go out at once (no Nagle delay behind a small reply on a kept-alive connection).
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let serving = runtime.spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Server {
            addr: local,
            runtime,
            stop,
            serving,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Blocks until the server ends (it runs until the process is stopped).
    pub fn wait(self) {
        let _ = self.runtime.block_on(self.serving);
    }

    /// Stops accepting requests, lets the requests under way finish (for up to 5 s) and ends
    /// the request threads.
    pub fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self
            .runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(5), self.serving).await });
        self.runtime.shutdown_timeout(Duration::from_secs(1));
    }
}

/// What the request handlers share: the model and the payload limit.
#[derive(Clone)]
struct Served {
    model: Arc<Model>,
    max_payload_bytes: usize,
}

/// The routes of the contract; other paths get 404, other methods 405 (plain-text reasons).
pub fn router(model: Arc<Model>, max_payload_bytes: usize) -> Router {
    Router::new()
        .route("/ping", get(ping))
        .route("/execution-parameters", get(execution_parameters))
        .route("/invocations", post(invocations))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(no_route)
        .with_state(Served {
            model,
            max_payload_bytes,
        })
}

/// A response: status, content type, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Reply {
    fn text(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            status,
            [(header::CONTENT_TYPE, self.content_type)],
            self.body,
        )
            .into_response()
    }
}

async fn ping() -> Reply {
    Reply::text(200, "")
}

async fn execution_parameters() -> Reply {
    Reply {
        status: 200,
        content_type: "application/json",
        body: serde_json::json!({
            "MaxConcurrentTransforms": 2,
            "BatchStrategy": "MULTI_RECORD",
            "MaxPayloadInMB": 6
        })
        .to_string(),
    }
}

async fn method_not_allowed(method: Method, uri: Uri) -> Reply {
    Reply::text(
        405,
        format!("method {method} is not allowed on {}", uri.path()),
    )
}

async fn no_route(uri: Uri) -> Reply {
    Reply::text(404, format!("no route {}", uri.path()))
}

async fn invocations(State(served): State<Served>, headers: HeaderMap, body: Body) -> Reply {
    let limit = served.max_payload_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    if let Some(len) = declared.filter(|len| *len > limit) {
        return Reply::text(413, format!("payload of {len} bytes is over {limit}"));
    }
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return Reply::text(413, format!("payload is over {limit} bytes"));
        }
        Err(e) => return Reply::text(400, format!("cannot read the request body: {e}")),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    invoke(&served.model, content_type.as_deref(), &body)
}

/// Predicts CSV rows of features; used by `/invocations` and by `predict`.
pub fn predict_csv(model: &Model, text: &str, layout: Layout) -> Result<Vec<f32>, String> {
    if text.trim().is_empty() {
        return Err("empty payload: send text/csv rows of features".into());
    }
    let ds = parse_csv(text, layout, "payload", 1).map_err(|e| e.to_string())?;
    if ds.n_features() != model.num_feature {
        let hint = if ds.n_features() == model.num_feature + 1 && layout == Layout::FeaturesOnly {
            " (send features only, without the label)"
        } else {
            ""
        };
        return Err(format!(
            "rows have {} feature columns, the model expects {}{hint}",
            ds.n_features(),
            model.num_feature
        ));
    }
    Ok(model.predict(ds.features(), ds.n_features()))
}

/// Formats predictions one per line.
pub fn format_predictions(preds: &[f32]) -> String {
    let mut out = String::with_capacity(preds.len() * 12);
    for p in preds {
        out.push_str(&p.to_string());
        out.push('\n');
    }
    out
}

/// The answer to `POST /invocations` with this content type and body.
pub fn invoke(model: &Model, content_type: Option<&str>, body: &[u8]) -> Reply {
    if let Some(ct) = content_type {
        let base = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if base != "text/csv" && base != "csv" {
            return Reply::text(
                415,
                format!("content type {ct:?} is not supported; use text/csv"),
            );
        }
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return Reply::text(400, "payload is not UTF-8 text");
    };
    match predict_csv(model, text, Layout::FeaturesOnly) {
        Ok(preds) => Reply {
            status: 200,
            content_type: "text/csv",
            body: format_predictions(&preds),
        },
        Err(message) => Reply::text(400, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Tree;
    use crate::params::Objective;

    fn model() -> Model {
        // x0 < 0.5 → 1 else 3 (plus base score 0).
        Model {
            objective: Objective::SquaredError,
            base_score: 0.0,
            num_feature: 2,
            trees: vec![Tree {
                left_children: vec![1, -1, -1],
                right_children: vec![2, -1, -1],
                parents: vec![i32::MAX, 0, 0],
                split_indices: vec![0, 0, 0],
                split_conditions: vec![0.5, 1.0, 3.0],
                default_left: vec![true, false, false],
                base_weights: vec![0.0; 3],
                loss_changes: vec![0.0; 3],
                sum_hessian: vec![0.0; 3],
            }],
            best_iteration: None,
            best_score: None,
        }
    }

    /// One request through the router: (status, content type, body).
    async fn call(
        app: &Router,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> (u16, String, String) {
        use tower::ServiceExt;
        let mut request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_LENGTH, body.len());
        if let Some(ct) = content_type {
            request = request.header(header::CONTENT_TYPE, ct);
        }
        let request = request.body(Body::from(body.to_vec())).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let ct = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, ct, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn given_routes_when_called_then_contract_statuses() {
        let app = router(Arc::new(model()), MAX_PAYLOAD_BYTES);
        assert_eq!(call(&app, "GET", "/ping", None, b"").await.0, 200);
        let (status, ct, body) = call(
            &app,
            "POST",
            "/invocations",
            Some("text/csv"),
            b"0,9\n1,9\n,2\n",
        )
        .await;
        assert_eq!(
            (status, ct.as_str(), body.as_str()),
            (200, "text/csv", "1\n3\n1\n")
        );
        let json = Some("application/json");
        assert_eq!(call(&app, "POST", "/invocations", json, b"{}").await.0, 415);
        let csv = Some("text/csv; charset=utf-8");
        assert_eq!(call(&app, "POST", "/invocations", csv, b"").await.0, 400);
        let (status, _, body) = call(&app, "POST", "/invocations", csv, b"1,2,3\n").await;
        assert_eq!(status, 400);
        assert!(body.contains("without the label"), "{body}");
        let (_, _, body) = call(&app, "POST", "/invocations", csv, b"1,x\n").await;
        assert!(body.contains("line 1"), "{body}");
        let (status, _, body) = call(&app, "POST", "/invocations", csv, b"\xff\n").await;
        assert_eq!((status, body.as_str()), (400, "payload is not UTF-8 text"));
        let (status, _, body) = call(&app, "GET", "/invocations", None, b"").await;
        assert_eq!(
            (status, body.as_str()),
            (405, "method GET is not allowed on /invocations")
        );
        let (status, _, body) = call(&app, "GET", "/nope?x=1", None, b"").await;
        assert_eq!((status, body.as_str()), (404, "no route /nope"));
        let (status, ct, body) = call(&app, "GET", "/execution-parameters", None, b"").await;
        assert_eq!((status, ct.as_str()), (200, "application/json"));
        let hints: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(hints["MaxPayloadInMB"], 6);
    }

    #[tokio::test]
    async fn given_a_payload_over_the_limit_when_invoked_then_413() {
        let app = router(Arc::new(model()), 8);
        let csv = Some("text/csv");
        assert_eq!(
            call(&app, "POST", "/invocations", csv, b"0,1\n1,1\n")
                .await
                .0,
            200
        );
        let (status, _, body) = call(&app, "POST", "/invocations", csv, b"0,1\n1,1\n0,1\n").await;
        assert_eq!(
            (status, body.as_str()),
            (413, "payload of 12 bytes is over 8")
        );
        // Without a declared length (a chunked body), the limit holds while reading.
        let stream = futures_stream(vec![b"0,1\n1,".to_vec(), b"1\n0,1\n".to_vec()]);
        use tower::ServiceExt;
        let request = axum::http::Request::post("/invocations")
            .header(header::CONTENT_TYPE, "text/csv")
            .body(stream)
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"payload is over 8 bytes");
    }

    /// A body that fails while it is read (the client went away) is 400 naming the failure,
    /// not 413; the label hint is given only for one extra column of features-only rows.
    #[tokio::test]
    async fn given_a_failing_body_then_400_and_the_label_hint_only_for_one_extra_column() {
        let app = router(Arc::new(model()), MAX_PAYLOAD_BYTES);
        let frames = vec![
            Ok(b"0,1\n".to_vec()),
            Err(std::io::Error::other("connection reset")),
        ];
        use tower::ServiceExt;
        let request = axum::http::Request::post("/invocations")
            .header(header::CONTENT_TYPE, "text/csv")
            .body(stream_of(frames))
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(text.starts_with("cannot read the request body: "), "{text}");
        let m = model();
        let one_column = predict_csv(&m, "1\n", Layout::FeaturesOnly).unwrap_err();
        assert_eq!(
            one_column,
            "rows have 1 feature columns, the model expects 2"
        );
        let labelled = predict_csv(&m, "1,2,3,4\n", Layout::LabelFirst).unwrap_err();
        assert_eq!(labelled, "rows have 3 feature columns, the model expects 2");
    }

    /// A body of these frames with no declared length.
    fn futures_stream(frames: Vec<Vec<u8>>) -> Body {
        stream_of(frames.into_iter().map(Ok).collect())
    }

    /// A body of these frames, some of which may fail, with no declared length.
    fn stream_of(frames: Vec<std::io::Result<Vec<u8>>>) -> Body {
        Body::from_stream(futures::stream::iter(frames))
    }

    #[test]
    fn given_max_payload_env_when_parsed_then_mib_default_or_error() {
        assert_eq!(max_payload_from_env(None).unwrap(), MAX_PAYLOAD_BYTES);
        assert_eq!(max_payload_from_env(Some("0")).unwrap(), MAX_PAYLOAD_BYTES);
        assert_eq!(max_payload_from_env(Some("6")).unwrap(), 6 * 1024 * 1024);
        assert_eq!(
            max_payload_from_env(Some(" 100 ")).unwrap(),
            MAX_PAYLOAD_BYTES
        );
        let err = max_payload_from_env(Some("101")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "SAGEMAKER_MAX_PAYLOAD_IN_MB=\"101\" is not a whole number of MB from 0 to 100"
        );
        assert!(max_payload_from_env(Some("6.5")).is_err());
    }

    #[test]
    fn given_port_env_when_parsed_then_default_or_error() {
        assert_eq!(port_from_env(None).unwrap(), 8080);
        assert_eq!(port_from_env(Some("9000")).unwrap(), 9000);
        assert!(port_from_env(Some("http")).is_err());
    }
}
