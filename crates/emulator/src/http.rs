//! The plain-HTTP client of the local stand-ins, on hyper 1 with hyper-util's pooled client:
//! the model server of a transform job (`GET /ping`, `POST /invocations` on loopback) and the
//! Lambda Invoke API of `cargo lambda watch` (crates/local). `http://` only (TLS is reqwest's,
//! in crates/tracking); connections are kept alive and reused; each request has one time-out
//! for the whole exchange (connect, send, and read the whole body).

use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HeaderName, HeaderValue};
use http::{HeaderMap, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mdlc_core::error::error_chain;
use thiserror::Error;

pub use http::Method;

/// An HTTP failure.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum HttpError {
    #[error("invalid URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot reach {target}: {message}")]
    Connect { target: String, message: String },
    #[error("bad response from {target}: {message}")]
    BadResponse { target: String, message: String },
    #[error("request to {target} timed out after {seconds} s")]
    Timeout { target: String, seconds: u64 },
}

/// A parsed `http://host[:port][/base]` URL that request paths are appended to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    pub host: String,
    pub port: u16,
    /// Path prefix without a trailing `/` (may be empty).
    pub base_path: String,
}

impl BaseUrl {
    pub fn parse(url: &str) -> Result<Self, HttpError> {
        let bad = |reason: String| HttpError::BadUrl {
            url: url.to_string(),
            reason,
        };
        let parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
        if parsed.scheme() != "http" {
            return Err(bad("only http:// URLs are supported".into()));
        }
        let host = match parsed.host() {
            Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
            Some(host) => host.to_string(),
            None => return Err(bad("missing host".into())),
        };
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(bad("a query or fragment has no place in a base URL".into()));
        }
        Ok(BaseUrl {
            host,
            port: parsed.port_or_known_default().unwrap_or(80),
            base_path: parsed.path().trim_end_matches('/').to_string(),
        })
    }

    /// The loopback base URL of a port.
    pub fn loopback(port: u16) -> Self {
        BaseUrl {
            host: "127.0.0.1".into(),
            port,
            base_path: String::new(),
        }
    }

    /// `host:port`, as errors name it.
    pub fn target(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The URI of `path` (starting with `/`) under this base.
    fn uri(&self, path: &str) -> Result<Uri, HttpError> {
        let text = format!("http://{}{}{path}", self.target(), self.base_path);
        text.parse()
            .map_err(|e: http::uri::InvalidUri| HttpError::BadUrl {
                url: text.clone(),
                reason: e.to_string(),
            })
    }
}

/// A response: status, headers and the whole body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    /// The value of header `name` (any case), if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A pooled plain-HTTP/1.1 client; cheap to clone (clones share the pool).
#[derive(Clone)]
pub struct HttpClient {
    inner: Client<HttpConnector, Full<Bytes>>,
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient::new()
    }
}

impl HttpClient {
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let inner = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        HttpClient { inner }
    }

    /// Sends `method base+path` with these headers and body, and reads the whole response;
    /// all of it within `timeout`.
    pub async fn request(
        &self,
        base: &BaseUrl,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
        timeout: Duration,
    ) -> Result<Response, HttpError> {
        let target = base.target();
        let request = build_request(base, method, path, headers, body.into())?;
        let exchange = async {
            let response = self
                .inner
                .request(request)
                .await
                .map_err(|e| HttpError::Connect {
                    target: target.clone(),
                    message: error_chain(&e),
                })?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| HttpError::BadResponse {
                    target: target.clone(),
                    message: error_chain(&e),
                })?
                .to_bytes();
            Ok(Response {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| HttpError::Timeout {
                target: target.clone(),
                seconds: timeout.as_secs(),
            })?
    }
}

fn build_request(
    base: &BaseUrl,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Request<Full<Bytes>>, HttpError> {
    let uri = base.uri(path)?;
    let bad_header = |name: &str| HttpError::BadUrl {
        url: uri.to_string(),
        reason: format!("header {name:?} is not a valid HTTP header"),
    };
    let mut request = Request::builder().method(method).uri(uri.clone());
    for (name, value) in headers {
        let name_ok = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad_header(name))?;
        let value_ok = HeaderValue::from_str(value).map_err(|_| bad_header(name))?;
        request = request.header(name_ok, value_ok);
    }
    request
        .header(CONTENT_LENGTH, body.len())
        .body(Full::new(body))
        .map_err(|e| HttpError::BadUrl {
            url: uri.to_string(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::extract::Request as ServerRequest;
    use axum::routing::{get, post};

    #[test]
    fn given_urls_when_parsed_then_host_port_and_base() {
        let u = BaseUrl::parse("http://127.0.0.1:9000/").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.base_path.as_str()),
            ("127.0.0.1", 9000, "")
        );
        let u = BaseUrl::parse("http://localhost/lambda").unwrap();
        assert_eq!((u.port, u.base_path.as_str()), (80, "/lambda"));
        let u = BaseUrl::parse("http://[::1]:9001").unwrap();
        assert_eq!(u.target(), "[::1]:9001");
        for bad in [
            "https://x",
            "http://x:99999",
            "http://",
            "x:1",
            "http://x/?q=1",
        ] {
            let err = BaseUrl::parse(bad).unwrap_err();
            assert!(matches!(err, HttpError::BadUrl { .. }), "{bad}: {err}");
        }
    }

    /// A server on a free loopback port answering with `app`.
    async fn serve(app: Router) -> BaseUrl {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        BaseUrl::loopback(port)
    }

    #[tokio::test]
    async fn given_a_server_when_posting_then_the_request_and_response_go_through_whole() {
        let echo = |request: ServerRequest| async move {
            let (parts, body) = request.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            let seen = format!(
                "{} {} ct={} len={} body={}",
                parts.method,
                parts.uri,
                parts.headers["content-type"].to_str().unwrap(),
                parts.headers["content-length"].to_str().unwrap(),
                String::from_utf8_lossy(&body)
            );
            ([("x-a", "b")], seen)
        };
        let base = serve(Router::new().route("/base/p", post(echo))).await;
        let base = BaseUrl {
            base_path: "/base".into(),
            ..base
        };
        let client = HttpClient::new();
        let headers = [("Content-Type", "application/json")];
        for _ in 0..2 {
            let resp = client
                .request(
                    &base,
                    Method::POST,
                    "/p",
                    &headers,
                    &b"{\"a\":1}"[..],
                    secs(5),
                )
                .await
                .unwrap();
            assert_eq!(resp.status, 200);
            assert_eq!(resp.header("X-A"), Some("b"));
            assert_eq!(
                String::from_utf8_lossy(&resp.body),
                "POST /base/p ct=application/json len=7 body={\"a\":1}"
            );
        }
    }

    #[tokio::test]
    async fn given_a_large_streamed_answer_when_read_then_the_body_is_whole() {
        let big = "x".repeat(3 * 1024 * 1024 + 7);
        let answer = big.clone();
        let base = serve(Router::new().route("/big", get(move || async move { answer }))).await;
        let resp = HttpClient::new()
            .request(&base, Method::GET, "/big", &[], Bytes::new(), secs(20))
            .await
            .unwrap();
        assert_eq!(resp.body.len(), big.len());
    }

    #[tokio::test]
    async fn given_no_server_when_requested_then_connect_error_names_the_target() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let base = BaseUrl::loopback(port);
        let err = HttpClient::new()
            .request(&base, Method::GET, "/ping", &[], Bytes::new(), secs(5))
            .await
            .unwrap_err();
        let HttpError::Connect { target, message } = &err else {
            panic!("not a connect error: {err:?}");
        };
        assert_eq!(target, &format!("127.0.0.1:{port}"));
        assert!(message.to_lowercase().contains("refused"), "{message}");
    }

    #[tokio::test]
    async fn given_a_server_that_never_answers_when_requested_then_it_times_out() {
        // The kernel completes the connection (backlog) but nobody ever answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = BaseUrl::loopback(listener.local_addr().unwrap().port());
        let err = HttpClient::new()
            .request(&base, Method::GET, "/ping", &[], Bytes::new(), secs(1))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            HttpError::Timeout {
                target: base.target(),
                seconds: 1
            }
        );
        drop(listener);
    }

    #[tokio::test]
    async fn given_a_bad_header_when_requested_then_it_is_refused_before_sending() {
        let base = BaseUrl::loopback(9);
        let err = HttpClient::new()
            .request(
                &base,
                Method::GET,
                "/",
                &[("bad name", "v")],
                Bytes::new(),
                secs(1),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("\"bad name\""), "{err}");
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }
}
