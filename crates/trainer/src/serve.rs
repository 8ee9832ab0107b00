//! The SageMaker inference HTTP contract (`serve`).
//!
//! * `GET /ping` → 200 once the model is loaded (the server only listens after loading).
//! * `POST /invocations` with `text/csv` rows of features (no label) → `text/csv`, one
//!   prediction per line. Bad payloads get 4xx with a plain-text reason: 400 (malformed CSV,
//!   wrong column count, empty body), 413 (too large), 415 (content type).
//! * `GET /execution-parameters` → the batch-transform hints SageMaker asks for.

use crate::dataset::{Layout, parse_csv};
use crate::model::Model;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

/// Environment variable with the port to listen on.
pub const PORT_ENV: &str = "SAGEMAKER_BIND_TO_PORT";
pub const DEFAULT_PORT: u16 = 8080;
/// Largest accepted request body.
pub const MAX_PAYLOAD_BYTES: usize = 100 * 1024 * 1024;

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {message}")]
    Bind { addr: String, message: String },
    #[error("{PORT_ENV}={0:?} is not a port number")]
    BadPort(String),
}

/// The port from `SAGEMAKER_BIND_TO_PORT`, or 8080.
pub fn port_from_env(value: Option<&str>) -> Result<u16, ServeError> {
    match value.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(DEFAULT_PORT),
        Some(s) => s.parse().map_err(|_| ServeError::BadPort(s.to_string())),
    }
}

/// A running inference server.
pub struct Server {
    http: Arc<tiny_http::Server>,
    addr: SocketAddr,
    workers: Vec<JoinHandle<()>>,
}

impl Server {
    /// Starts listening on `addr` (for example `127.0.0.1:8080`, or port 0 for any free port)
    /// with `workers` request threads.
    pub fn start(model: Model, addr: &str, workers: usize) -> Result<Server, ServeError> {
        let http = tiny_http::Server::http(addr).map_err(|e| ServeError::Bind {
            addr: addr.to_string(),
            message: e.to_string(),
        })?;
        let local = http.server_addr().to_ip().ok_or_else(|| ServeError::Bind {
            addr: addr.to_string(),
            message: "not an IP address".into(),
        })?;
        let http = Arc::new(http);
        let model = Arc::new(model);
        let workers = (0..workers.max(1))
            .map(|_| {
                let http = Arc::clone(&http);
                let model = Arc::clone(&model);
                std::thread::spawn(move || {
                    while let Ok(request) = http.recv() {
                        handle(&model, request);
                    }
                })
            })
            .collect();
        Ok(Server {
            http,
            addr: local,
            workers,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Blocks until the workers end (they run until the process is stopped).
    pub fn wait(self) {
        for w in self.workers {
            let _ = w.join();
        }
    }

    /// Stops accepting requests and joins the workers.
    pub fn shutdown(self) {
        for _ in &self.workers {
            self.http.unblock();
        }
        for w in self.workers {
            let _ = w.join();
        }
    }
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

/// Routes one request (method, path, content type, body) to a reply.
pub fn route(
    model: &Model,
    method: &str,
    url: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Reply {
    let path = url.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/ping") => Reply::text(200, ""),
        ("GET", "/execution-parameters") => Reply {
            status: 200,
            content_type: "application/json",
            body: serde_json::json!({
                "MaxConcurrentTransforms": 2,
                "BatchStrategy": "MULTI_RECORD",
                "MaxPayloadInMB": 6
            })
            .to_string(),
        },
        ("POST", "/invocations") => {
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
        (_, "/ping" | "/invocations" | "/execution-parameters") => {
            Reply::text(405, format!("method {method} is not allowed on {path}"))
        }
        _ => Reply::text(404, format!("no route {path}")),
    }
}

fn handle(model: &Model, mut request: tiny_http::Request) {
    let method = request.method().as_str().to_string();
    let url = request.url().to_string();
    let content_type = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Content-Type"))
        .map(|h| h.value.as_str().to_string());
    let reply = match request.body_length() {
        Some(len) if len > MAX_PAYLOAD_BYTES => Reply::text(
            413,
            format!("payload of {len} bytes is over {MAX_PAYLOAD_BYTES}"),
        ),
        _ => {
            let mut body = Vec::new();
            let read = request
                .as_reader()
                .take(MAX_PAYLOAD_BYTES as u64 + 1)
                .read_to_end(&mut body);
            match read {
                Err(e) => Reply::text(400, format!("cannot read the request body: {e}")),
                Ok(n) if n > MAX_PAYLOAD_BYTES => {
                    Reply::text(413, format!("payload is over {MAX_PAYLOAD_BYTES} bytes"))
                }
                Ok(_) => route(model, &method, &url, content_type.as_deref(), &body),
            }
        }
    };
    let header = tiny_http::Header::from_bytes(&b"Content-Type"[..], reply.content_type.as_bytes());
    let mut response = tiny_http::Response::from_string(reply.body).with_status_code(reply.status);
    if let Ok(h) = header {
        response = response.with_header(h);
    }
    let _ = request.respond(response);
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

    #[test]
    fn given_routes_when_called_then_contract_statuses() {
        let m = model();
        assert_eq!(route(&m, "GET", "/ping", None, b"").status, 200);
        let r = route(
            &m,
            "POST",
            "/invocations",
            Some("text/csv"),
            b"0,9\n1,9\n,2\n",
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "1\n3\n1\n");
        assert_eq!(
            route(&m, "POST", "/invocations", Some("application/json"), b"{}").status,
            415
        );
        assert_eq!(
            route(&m, "POST", "/invocations", Some("text/csv"), b"").status,
            400
        );
        let r = route(&m, "POST", "/invocations", Some("text/csv"), b"1,2,3\n");
        assert_eq!(r.status, 400);
        assert!(r.body.contains("without the label"), "{}", r.body);
        let r = route(&m, "POST", "/invocations", Some("text/csv"), b"1,x\n");
        assert!(r.body.contains("line 1"), "{}", r.body);
        assert_eq!(route(&m, "GET", "/invocations", None, b"").status, 405);
        assert_eq!(route(&m, "GET", "/nope", None, b"").status, 404);
    }

    #[test]
    fn given_port_env_when_parsed_then_default_or_error() {
        assert_eq!(port_from_env(None).unwrap(), 8080);
        assert_eq!(port_from_env(Some("9000")).unwrap(), 9000);
        assert!(port_from_env(Some("http")).is_err());
    }
}
