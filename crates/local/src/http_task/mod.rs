//! Step Functions' HTTP Task (`"Resource": "arn:aws:states:::http:invoke"`), as the developer
//! guide's "Call HTTPS APIs in Step Functions workflows" describes it.
//!
//! Parameters: `ApiEndpoint` and `Method` (GET, POST, PUT, DELETE, PATCH, OPTIONS, HEAD) are
//! required, and the EventBridge connection in `Authentication.ConnectionArn` or
//! `InvocationConfig.ConnectionArn`; `Headers` (none of the headers the page forbids),
//! `QueryParameters`, `RequestBody` and `Transform` (`RequestBodyEncoding` `NONE` or
//! `URL_ENCODED`, `RequestEncodingOptions.ArrayFormat`) are optional. A problem with them fails
//! the Task with `States.Runtime` (the error the page names for a forbidden header; its wording
//! here is this module's, AWS's messages were not found).
//!
//! The request: the connection's `InvocationHttpParameters` are merged in (its headers, query
//! parameters and body members win over the Task's; a string `RequestBody` cannot take body
//! members: `States.Runtime`), then its authorization (an API key header, `Authorization: Basic`,
//! or `Authorization: Bearer` with a token from the OAuth endpoint, reused while it is valid as
//! EventBridge reuses it: `oauth`); a JSON body gets
//! `Content-Type: application/json; charset=UTF-8`, and every request `Range: bytes=0-262144`
//! and `User-Agent: Amazon|StepFunctions|HttpInvoke|<region>`, as the page's example requests
//! show. The connection comes from [`Connections`] (a local file); an ARN it does not define
//! fails the Task with `Events.ConnectionResource.ResourceNotFound`, naming the ARN.
//!
//! The answer: `{"Headers": {name: [values]}, "ResponseBody", "StatusCode", "StatusText"}`, the
//! body parsed when its content type is JSON. A status outside 2xx fails the Task with
//! `States.Http.StatusCode.<code>` (that output as the cause); no answer within 60 seconds, or no
//! connection at all, with `States.Http.Socket`; a body of type `application/octet-stream`,
//! `image/*`, `video/*` or `audio/*`, or one that is not text, with `States.Runtime`. At most
//! 8 MiB of an answer is read (a limit of this module's: AWS's was not found); a larger one fails
//! the Task with `States.DataLimitExceeded`, a larger OAuth token answer with
//! `Events.ConnectionResource.InvalidConnectionState`.
//!
//! The one local difference: AWS calls only `https` endpoints; here `http` is accepted for a
//! loopback host (`localhost`, `127.0.0.0/8`, `::1`), so that tests can run a server of their own.

mod connections;
pub mod encode;
mod oauth;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use base64::Engine;
use mdlc_asl::TaskFailure;
use mdlc_core::error::error_chain;
use serde_json::{Map, Value, json};

pub use connections::{
    Authorization, CONNECTIONS_ENV, Connection, Connections, ConnectionsError, HttpParameters,
};
use encode::{ArrayFormat, Pair};

/// The HTTP Task's resource.
pub const HTTP_INVOKE: &str = "arn:aws:states:::http:invoke";
/// The timeout of an HTTP Task's request (60 seconds, the developer guide's "Timeouts for
/// connections").
pub const TIMEOUT: Duration = Duration::from_secs(60);
/// The methods an HTTP Task may use.
pub const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"];
/// The headers a Task's `Headers` may not set (the page's list; compared in lower case), and the
/// prefixes it forbids.
const FORBIDDEN_HEADERS: &[&str] = &[
    "a-im",
    "accept-charset",
    "accept-datetime",
    "accept-encoding",
    "authorization",
    "cache-control",
    "connection",
    "content-encoding",
    "content-md5",
    "date",
    "expect",
    "forwarded",
    "from",
    "host",
    "http2-settings",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "max-forwards",
    "origin",
    "pragma",
    "proxy-authorization",
    "referer",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "via",
    "warning",
];
const FORBIDDEN_PREFIXES: &[&str] = &["x-forwarded-", "x-amz-", "x-amzn-"];
const RANGE: &str = "bytes=0-262144";
const JSON_CONTENT_TYPE: &str = "application/json; charset=UTF-8";
/// The most of a response body read (the payload quota is far smaller; what is over it fails
/// as `States.DataLimitExceeded` when the engine checks the result).
const MAX_BODY_BYTES: usize = 8 << 20;

/// The HTTP Task's errors.
pub const RUNTIME: &str = "States.Runtime";
pub const SOCKET: &str = "States.Http.Socket";
pub const STATUS_CODE_PREFIX: &str = "States.Http.StatusCode.";
pub const CONNECTION_NOT_FOUND: &str = "Events.ConnectionResource.ResourceNotFound";
pub const CONNECTION_INVALID_STATE: &str = "Events.ConnectionResource.InvalidConnectionState";

/// The HTTP client could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot set up the HTTP Task's client: {0}")]
pub struct HttpClientError(String);

/// Runs HTTP Tasks with a set of connections.
pub struct HttpTasks {
    connections: Connections,
    region: String,
    /// For other hosts: the system's proxy settings apply.
    proxied: reqwest::Client,
    /// For loopback hosts: never through a proxy.
    direct: reqwest::Client,
    /// The OAuth connections' tokens, reused while they are valid.
    tokens: oauth::TokenCache,
}

/// The request as sent, or as TestState shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracedRequest {
    /// `https` or `http`.
    pub protocol: String,
    pub method: String,
    /// With the query string.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// The response as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracedResponse {
    pub protocol: String,
    pub status_code: u16,
    pub status_message: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// An HTTP Task's exchange, as TestState's TRACE level shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTrace {
    pub request: TracedRequest,
    /// None when no answer came.
    pub response: Option<TracedResponse>,
}

/// Headers as TestState shows them: the JSON text of an object, header name → value (a header
/// sent or received more than once: its values joined with `, `).
fn headers_text(headers: &[(String, String)]) -> String {
    let mut m = Map::new();
    for (k, v) in headers {
        match m.get_mut(k) {
            Some(Value::String(s)) => {
                s.push_str(", ");
                s.push_str(v);
            }
            _ => {
                m.insert(k.clone(), Value::String(v.clone()));
            }
        }
    }
    Value::Object(m).to_string()
}

impl TracedRequest {
    /// TestState's `inspectionData.request` (every member a string, as the API model has them).
    pub fn to_inspection(&self) -> Value {
        json!({"protocol": self.protocol, "method": self.method, "url": self.url,
            "headers": headers_text(&self.headers), "body": self.body})
    }
}

impl TracedResponse {
    /// TestState's `inspectionData.response` (every member a string).
    pub fn to_inspection(&self) -> Value {
        json!({"protocol": self.protocol, "statusCode": self.status_code.to_string(),
            "statusMessage": self.status_message, "headers": headers_text(&self.headers),
            "body": self.body})
    }
}

fn runtime(cause: impl Into<String>) -> TaskFailure {
    TaskFailure::new(RUNTIME, cause)
}

/// The request body before encoding.
#[derive(Debug, Clone, PartialEq)]
enum Encoding {
    Json,
    UrlEncoded(ArrayFormat),
}

/// An HTTP Task's parameters, checked.
#[derive(Debug, Clone)]
struct Spec {
    endpoint: url::Url,
    loopback: bool,
    method: String,
    connection_arn: String,
    headers: Vec<(String, String)>,
    query: Vec<Pair>,
    body: Option<Value>,
    encoding: Encoding,
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

fn forbidden_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    FORBIDDEN_HEADERS.contains(&lower.as_str())
        || FORBIDDEN_PREFIXES.iter().any(|p| lower.starts_with(p))
}

/// The parameters: an object of the HTTP Task's fields only.
fn parameters(params: &Value) -> Result<&Map<String, Value>, TaskFailure> {
    const KNOWN: &[&str] = &[
        "ApiEndpoint",
        "Method",
        "Authentication",
        "InvocationConfig",
        "Headers",
        "QueryParameters",
        "RequestBody",
        "Transform",
    ];
    let p = params
        .as_object()
        .ok_or_else(|| runtime("The parameters of an HTTP Task must be a JSON object"))?;
    if let Some(k) = p.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(runtime(format!(
            "The HTTP Task parameter '{k}' is not one of {}",
            KNOWN.join(", ")
        )));
    }
    Ok(p)
}

/// A required, non-empty string parameter.
fn required_text(p: &Map<String, Value>, key: &str) -> Result<String, TaskFailure> {
    match p.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(other) => Err(runtime(format!(
            "The HTTP Task parameter '{key}' must be a non-empty string, not {other}"
        ))),
        None => Err(runtime(format!(
            "The HTTP Task parameter '{key}' is required"
        ))),
    }
}

/// `ApiEndpoint`: an https URL (http for a loopback host, the one local difference), and
/// whether its host is a loopback one.
fn endpoint(p: &Map<String, Value>) -> Result<(url::Url, bool), TaskFailure> {
    let text = required_text(p, "ApiEndpoint")?;
    let endpoint = url::Url::parse(&text).map_err(|e| {
        runtime(format!(
            "The HTTP Task parameter 'ApiEndpoint' ('{text}') is not a URL: {e}"
        ))
    })?;
    let loopback = is_loopback(&endpoint);
    match endpoint.scheme() {
        "https" => {}
        "http" if loopback => {}
        other => {
            return Err(runtime(format!(
                "The HTTP Task parameter 'ApiEndpoint' ('{text}') must be an https URL (scheme '{other}'; locally http is accepted for a loopback host only)"
            )));
        }
    }
    Ok((endpoint, loopback))
}

/// `Method`: one of [`METHODS`].
fn method(p: &Map<String, Value>) -> Result<String, TaskFailure> {
    let method = required_text(p, "Method")?;
    if !METHODS.contains(&method.as_str()) {
        return Err(runtime(format!(
            "The HTTP Task parameter 'Method' ('{method}') must be one of {}",
            METHODS.join(", ")
        )));
    }
    Ok(method)
}

/// The `ConnectionArn` of `InvocationConfig` or `Authentication`.
fn connection_arn(p: &Map<String, Value>) -> Result<String, TaskFailure> {
    let Some((key, holder)) = ["InvocationConfig", "Authentication"]
        .iter()
        .find_map(|k| p.get(*k).map(|v| (*k, v)))
    else {
        return Err(runtime(
            "An HTTP Task needs an EventBridge connection: the parameter 'Authentication' (or 'InvocationConfig') with its 'ConnectionArn'",
        ));
    };
    match holder.get("ConnectionArn") {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(runtime(format!(
            "The HTTP Task parameter '{key}' needs the string field 'ConnectionArn'"
        ))),
    }
}

/// `Headers`: an object of header names (none forbidden) and values (a scalar, or an array of
/// them sent joined with `, `).
fn headers(v: Option<&Value>) -> Result<Vec<(String, String)>, TaskFailure> {
    let m = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(runtime(
                "The HTTP Task parameter 'Headers' must be a JSON object of header names and values",
            ));
        }
    };
    m.iter().map(|(k, v)| header(k, v)).collect()
}

/// One header of `Headers`.
fn header(name: &str, v: &Value) -> Result<(String, String), TaskFailure> {
    if forbidden_header(name) {
        return Err(runtime(format!(
            "The header '{name}' cannot be used in the Headers of an HTTP Task"
        )));
    }
    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(runtime(format!(
            "'{name}' in Headers is not an HTTP header name"
        )));
    }
    let value = match v {
        Value::Array(items) => items
            .iter()
            .map(encode::scalar_text)
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(_) => {
            return Err(runtime(format!(
                "The value of header '{name}' in Headers must be a string, number, boolean or array of them"
            )));
        }
        other => encode::scalar_text(other),
    };
    Ok((name.to_string(), value))
}

/// `QueryParameters`: an object (an array value repeating its key), or a query string sent as
/// it is.
fn query(v: Option<&Value>) -> Result<Vec<Pair>, TaskFailure> {
    Ok(match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(m)) => encode::pairs(m, ArrayFormat::Repeat),
        Some(Value::String(s)) => s
            .trim_start_matches('?')
            .split('&')
            .filter(|part| !part.is_empty())
            .map(|part| Pair {
                key: part.split('=').next().unwrap_or(part).to_string(),
                encoded: part.to_string(),
            })
            .collect(),
        Some(_) => {
            return Err(runtime(
                "The HTTP Task parameter 'QueryParameters' must be a JSON object or a query string",
            ));
        }
    })
}

/// `Transform`: `RequestBodyEncoding` (`NONE` or `URL_ENCODED`) and
/// `RequestEncodingOptions.ArrayFormat`, each of its kind.
fn encoding(v: Option<&Value>) -> Result<Encoding, TaskFailure> {
    let t = match v {
        None | Some(Value::Null) => return Ok(Encoding::Json),
        Some(Value::Object(t)) => t,
        Some(_) => {
            return Err(runtime(
                "The HTTP Task parameter 'Transform' must be a JSON object",
            ));
        }
    };
    if let Some(k) = t
        .keys()
        .find(|k| !matches!(k.as_str(), "RequestBodyEncoding" | "RequestEncodingOptions"))
    {
        return Err(runtime(format!(
            "The Transform field '{k}' is not one of RequestBodyEncoding, RequestEncodingOptions"
        )));
    }
    let format = array_format(t.get("RequestEncodingOptions"))?;
    match t.get("RequestBodyEncoding") {
        None | Some(Value::Null) => Ok(Encoding::Json),
        Some(Value::String(e)) if e == "NONE" => Ok(Encoding::Json),
        Some(Value::String(e)) if e == "URL_ENCODED" => Ok(Encoding::UrlEncoded(format)),
        Some(other) => Err(runtime(format!(
            "Transform.RequestBodyEncoding ({other}) must be NONE or URL_ENCODED"
        ))),
    }
}

/// `Transform.RequestEncodingOptions`: an object whose `ArrayFormat` is one of
/// [`ArrayFormat::NAMES`] (`INDICES` when absent).
fn array_format(v: Option<&Value>) -> Result<ArrayFormat, TaskFailure> {
    let o = match v {
        None | Some(Value::Null) => return Ok(ArrayFormat::Indices),
        Some(Value::Object(o)) => o,
        Some(other) => {
            return Err(runtime(format!(
                "Transform.RequestEncodingOptions ({other}) must be a JSON object"
            )));
        }
    };
    match o.get("ArrayFormat") {
        None | Some(Value::Null) => Ok(ArrayFormat::Indices),
        Some(f) => f.as_str().and_then(ArrayFormat::parse).ok_or_else(|| {
            runtime(format!(
                "Transform.RequestEncodingOptions.ArrayFormat ({f}) must be one of {}",
                ArrayFormat::NAMES.join(", ")
            ))
        }),
    }
}

impl Spec {
    fn parse(params: &Value) -> Result<Spec, TaskFailure> {
        let p = parameters(params)?;
        let (endpoint, loopback) = endpoint(p)?;
        Ok(Spec {
            endpoint,
            loopback,
            method: method(p)?,
            connection_arn: connection_arn(p)?,
            headers: headers(p.get("Headers"))?,
            query: query(p.get("QueryParameters"))?,
            body: p.get("RequestBody").filter(|b| !b.is_null()).cloned(),
            encoding: encoding(p.get("Transform"))?,
        })
    }

    /// The request: with the connection's parameters and authorization header when given.
    fn assemble(
        &self,
        connection: Option<(&HttpParameters, (String, String))>,
        region: &str,
    ) -> Result<TracedRequest, TaskFailure> {
        let empty = HttpParameters::default();
        let (added, auth) = match &connection {
            Some((p, a)) => (*p, Some(a)),
            None => (&empty, None),
        };
        let body = merged_body(self.body.clone(), &added.body)?;
        let body_text = self.body_text(body.as_ref())?;
        let headers = self.headers_sent(&added.headers, auth, body_text.is_some(), region)?;
        let url = self.url_with(&merged_query(&self.query, &added.query));
        Ok(TracedRequest {
            protocol: url.scheme().to_string(),
            method: self.method.clone(),
            url: url.to_string(),
            headers,
            body: body_text.unwrap_or_default(),
        })
    }

    /// The body as sent: a string as it is, else JSON or the form encoding `Transform` asks.
    fn body_text(&self, body: Option<&Value>) -> Result<Option<String>, TaskFailure> {
        Ok(match (body, &self.encoding) {
            (None, _) => None,
            (Some(Value::String(s)), _) => Some(s.clone()),
            (Some(v), Encoding::Json) => Some(v.to_string()),
            (Some(Value::Object(m)), Encoding::UrlEncoded(format)) => {
                Some(encode::join(&encode::pairs(m, *format)))
            }
            (Some(_), Encoding::UrlEncoded(_)) => {
                return Err(runtime(
                    "A URL_ENCODED RequestBody must be a JSON object or a string",
                ));
            }
        })
    }

    /// The Task's headers with the connection's and its authorization (theirs win), a JSON
    /// body's content type, `Range` and `User-Agent`; each value checked.
    fn headers_sent(
        &self,
        added: &[(String, String)],
        auth: Option<&(String, String)>,
        has_body: bool,
        region: &str,
    ) -> Result<Vec<(String, String)>, TaskFailure> {
        let mut headers = self.headers.clone();
        for (k, v) in added.iter().chain(auth) {
            set_header(&mut headers, k, v.clone());
        }
        let has_content_type = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        if has_body && !has_content_type && self.encoding == Encoding::Json {
            headers.push(("Content-Type".into(), JSON_CONTENT_TYPE.into()));
        }
        // Step Functions' own two replace a Task's headers of the same names (AWS does not
        // document which wins; one value each is what an HTTP server expects).
        set_header(&mut headers, "Range", RANGE.into());
        set_header(
            &mut headers,
            "User-Agent",
            format!("Amazon|StepFunctions|HttpInvoke|{region}"),
        );
        for (k, v) in &headers {
            if reqwest::header::HeaderValue::from_str(v).is_err() {
                return Err(runtime(format!(
                    "The value of header '{k}' is not a valid HTTP header value"
                )));
            }
        }
        Ok(headers)
    }

    /// `ApiEndpoint` with the query pairs after its own query string.
    fn url_with(&self, query: &[Pair]) -> url::Url {
        let mut url = self.endpoint.clone();
        if !query.is_empty() {
            let added = encode::join(query);
            let joined = match url.query() {
                Some(q) if !q.is_empty() => format!("{q}&{added}"),
                _ => added,
            };
            url.set_query(Some(&joined));
        }
        url
    }
}

/// Sets header `name` (compared without case) to `value`, in place of every earlier value.
fn set_header(headers: &mut Vec<(String, String)>, name: &str, value: String) {
    headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    headers.push((name.to_string(), value));
}

/// The Task's query pairs with the connection's parameters (a connection's key replaces the
/// Task's pairs of that key).
fn merged_query(own: &[Pair], added: &[(String, String)]) -> Vec<Pair> {
    let mut query = own.to_vec();
    for (k, v) in added {
        query.retain(|p| &p.key != k);
        query.push(encode::pair(k, v));
    }
    query
}

/// The Task's `RequestBody` with the connection's body members (theirs win); a body that is not
/// an object cannot take them.
fn merged_body(
    body: Option<Value>,
    added: &[(String, String)],
) -> Result<Option<Value>, TaskFailure> {
    if added.is_empty() {
        return Ok(body);
    }
    let members = added
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())));
    match body {
        None => Ok(Some(Value::Object(members.collect()))),
        Some(Value::Object(mut m)) => {
            m.extend(members);
            Ok(Some(Value::Object(m)))
        }
        Some(Value::String(_)) => Err(runtime(
            "The RequestBody of the HTTP Task is a string and its EventBridge connection has body parameters: they cannot be merged",
        )),
        Some(_) => Err(runtime(
            "The RequestBody of the HTTP Task is not a JSON object, so the body parameters of its EventBridge connection cannot be merged into it",
        )),
    }
}

/// A response's media type, lower case, without parameters.
fn media_type(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

fn is_json_media(media: &str) -> bool {
    media == "application/json" || media.ends_with("+json")
}

impl HttpTasks {
    /// HTTP Tasks with these connections; `region` is the one of the `User-Agent` header.
    pub fn new(connections: Connections, region: &str) -> Result<Self, HttpClientError> {
        // TLS with rustls' `ring` provider, as the workspace's other clients (installing it twice
        // is harmless).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let build = |direct: bool| {
            let mut b = reqwest::Client::builder()
                .timeout(TIMEOUT)
                .redirect(reqwest::redirect::Policy::none());
            if direct {
                b = b.no_proxy();
            }
            b.build().map_err(|e| HttpClientError(error_chain(&e)))
        };
        Ok(HttpTasks {
            connections,
            region: region.to_string(),
            proxied: build(false)?,
            direct: build(true)?,
            tokens: oauth::TokenCache::default(),
        })
    }

    /// The connections these Tasks use.
    pub fn connections(&self) -> &Connections {
        &self.connections
    }

    /// Runs an HTTP Task with these parameters.
    pub async fn invoke(&self, params: &Value) -> Result<Value, TaskFailure> {
        self.invoke_traced(params, false).await.0
    }

    /// Runs an HTTP Task, and gives the exchange as TestState shows it: with `reveal_secrets`
    /// false the request is shown without what the connection added (its headers, query
    /// parameters, body members and authorization): the TestState API reference counts what a
    /// connection adds to the request's headers, query parameters and body as secret.
    pub async fn invoke_traced(
        &self,
        params: &Value,
        reveal_secrets: bool,
    ) -> (Result<Value, TaskFailure>, Option<HttpTrace>) {
        let unsent = |request: TracedRequest, f: TaskFailure| {
            let trace = HttpTrace {
                request,
                response: None,
            };
            (Err(f), Some(trace))
        };
        let (spec, connection) = match Spec::parse(params).and_then(|spec| {
            let connection = self.connection(&spec.connection_arn)?;
            Ok((spec, connection))
        }) {
            Ok(found) => found,
            Err(f) => return (Err(f), None),
        };
        let plain = match spec.assemble(None, &self.region) {
            Ok(r) => r,
            Err(f) => return (Err(f), None),
        };
        let full = match self.full_request(&spec, connection).await {
            Ok(r) => r,
            Err(f) => return unsent(plain, f),
        };
        let client = if spec.loopback {
            &self.direct
        } else {
            &self.proxied
        };
        let answer = send(client, &full).await;
        if let Ok(response) = &answer
            && oauth::refuses_token(response.status_code)
        {
            self.tokens.forget(&spec.connection_arn);
        }
        let shown = with_host(&spec.endpoint, if reveal_secrets { full } else { plain });
        match answer {
            Err(f) => unsent(shown, f),
            Ok(response) => {
                let outcome = outcome(&response);
                let trace = HttpTrace {
                    request: shown,
                    response: Some(response),
                };
                (outcome, Some(trace))
            }
        }
    }

    /// The connection of `arn`, or `Events.ConnectionResource.ResourceNotFound` naming it.
    fn connection(&self, arn: &str) -> Result<&Connection, TaskFailure> {
        self.connections.get(arn).ok_or_else(|| {
            let defined: Vec<&str> = self.connections.arns().collect();
            TaskFailure::new(
                CONNECTION_NOT_FOUND,
                format!(
                    "The EventBridge connection '{arn}' is not defined locally (connections defined: {}); define it in the connections file (--connections FILE or {CONNECTIONS_ENV})",
                    if defined.is_empty() {
                        "none".to_string()
                    } else {
                        defined.join(", ")
                    }
                ),
            )
        })
    }

    /// The request with everything the connection adds: its authorization and parameters.
    async fn full_request(
        &self,
        spec: &Spec,
        connection: &Connection,
    ) -> Result<TracedRequest, TaskFailure> {
        let auth = self.authorization(spec, connection).await?;
        spec.assemble(Some((&connection.invocation, auth)), &self.region)
    }

    /// The authorization header of a connection (an OAuth token kept, or fetched from its
    /// endpoint).
    async fn authorization(
        &self,
        spec: &Spec,
        connection: &Connection,
    ) -> Result<(String, String), TaskFailure> {
        Ok(match &connection.authorization {
            Authorization::ApiKey { name, value } => (name.clone(), value.clone()),
            Authorization::Basic { username, password } => {
                ("Authorization".into(), basic(username, password))
            }
            Authorization::OAuthClientCredentials {
                endpoint,
                method,
                client_id,
                client_secret,
                parameters,
            } => {
                let failed = |why: String| {
                    TaskFailure::new(
                        CONNECTION_INVALID_STATE,
                        format!(
                            "The OAuth token of EventBridge connection '{}' could not be obtained from {endpoint}: {why}",
                            spec.connection_arn
                        ),
                    )
                };
                let arn = &spec.connection_arn;
                let token = match self.tokens.get(arn, Instant::now()) {
                    Some(kept) => kept,
                    None => {
                        let request = self
                            .token_request(endpoint, method, (client_id, client_secret), parameters)
                            .map_err(failed)?;
                        let fetched = token_of(request).await.map_err(failed)?;
                        let value = fetched.value.clone();
                        self.tokens.keep(arn, fetched, Instant::now());
                        value
                    }
                };
                ("Authorization".into(), format!("Bearer {token}"))
            }
        })
    }

    /// The OAuth client credentials request: `Authorization: Basic` of the client, the
    /// connection's `OAuthHttpParameters` (query parameters, headers, a form body).
    fn token_request(
        &self,
        endpoint: &str,
        method: &str,
        (client_id, client_secret): (&str, &str),
        parameters: &HttpParameters,
    ) -> Result<reqwest::RequestBuilder, String> {
        let form = |pairs: &[(String, String)]| {
            let pairs: Vec<Pair> = pairs.iter().map(|(k, v)| encode::pair(k, v)).collect();
            encode::join(&pairs)
        };
        let mut url = url::Url::parse(endpoint).map_err(|e| e.to_string())?;
        if !parameters.query.is_empty() {
            url.set_query(Some(&form(&parameters.query)));
        }
        let client = if is_loopback(&url) {
            &self.direct
        } else {
            &self.proxied
        };
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let mut request = client
            .request(method, url)
            .header("Authorization", basic(client_id, client_secret));
        for (k, v) in &parameters.headers {
            request = request.header(k, v);
        }
        if !parameters.body.is_empty() {
            request = request
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form(&parameters.body));
        }
        Ok(request)
    }
}

/// `Basic base64(user:password)`.
fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// The `access_token` (and `expires_in`, if a whole number of seconds) of a token endpoint's
/// answer (at most [`MAX_BODY_BYTES`] read; a refusal's body shown up to 500 characters).
async fn token_of(request: reqwest::RequestBuilder) -> Result<oauth::Token, String> {
    let mut response = request.send().await.map_err(|e| error_chain(&e))?;
    let status = response.status();
    let body = read_body(&mut response)
        .await
        .map_err(|e| error_chain(&e))?
        .ok_or_else(|| format!("the answer is over {MAX_BODY_BYTES} bytes"))?;
    let text = String::from_utf8_lossy(&body);
    if !status.is_success() {
        let shown: String = text.chars().take(500).collect();
        return Err(format!("HTTP {}: {shown}", status.as_u16()));
    }
    let answer = serde_json::from_str::<Value>(&text).unwrap_or(Value::Null);
    let value = answer
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or_else(|| "the answer has no access_token".to_string())?;
    Ok(oauth::Token {
        value: value.to_string(),
        expires_in: answer.get("expires_in").and_then(Value::as_u64),
    })
}

/// The request as TestState shows it: with the `Host` header the client sends.
fn with_host(endpoint: &url::Url, mut request: TracedRequest) -> TracedRequest {
    if let Some(host) = endpoint.host_str() {
        let host = match endpoint.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        request.headers.push(("Host".into(), host));
    }
    request
}

/// A response's body, read a chunk at a time; `None` once it is over [`MAX_BODY_BYTES`] (the
/// rest is not read).
async fn read_body(response: &mut reqwest::Response) -> Result<Option<Vec<u8>>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// Sends the request and reads the whole answer.
async fn send(
    client: &reqwest::Client,
    request: &TracedRequest,
) -> Result<TracedResponse, TaskFailure> {
    let socket = |e: &reqwest::Error| {
        let what = if e.is_timeout() {
            format!("no answer within {} seconds", TIMEOUT.as_secs())
        } else {
            error_chain(e)
        };
        TaskFailure::new(
            SOCKET,
            format!("The HTTP Task's request to {} failed: {what}", request.url),
        )
    };
    let method = reqwest::Method::from_bytes(request.method.as_bytes())
        .map_err(|e| runtime(e.to_string()))?;
    let mut builder = client.request(method, &request.url);
    for (k, v) in &request.headers {
        builder = builder.header(k, v);
    }
    if !request.body.is_empty() {
        builder = builder.body(request.body.clone());
    }
    let mut response = builder.send().await.map_err(|e| socket(&e))?;
    let status = response.status();
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let media = media_type(&headers);
    if media == "application/octet-stream"
        || ["image/", "video/", "audio/"]
            .iter()
            .any(|p| media.starts_with(p))
    {
        return Err(runtime(format!(
            "The HTTP Task's response from {} has the content type '{media}', which an HTTP Task does not read",
            request.url
        )));
    }
    let Some(body) = read_body(&mut response).await.map_err(|e| socket(&e))? else {
        return Err(TaskFailure::new(
            "States.DataLimitExceeded",
            format!(
                "The HTTP Task's response from {} is over {MAX_BODY_BYTES} bytes",
                request.url
            ),
        ));
    };
    let body = String::from_utf8(body).map_err(|_| {
        runtime(format!(
            "The HTTP Task's response from {} cannot be read as a valid string",
            request.url
        ))
    })?;
    Ok(TracedResponse {
        protocol: request.protocol.clone(),
        status_code: status.as_u16(),
        status_message: status.canonical_reason().unwrap_or("").to_string(),
        headers,
        body,
    })
}

/// The Task's result (or failure) for a response.
fn outcome(response: &TracedResponse) -> Result<Value, TaskFailure> {
    let mut headers = Map::new();
    for (k, v) in &response.headers {
        match headers
            .entry(k.clone())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            Value::Array(values) => values.push(Value::String(v.clone())),
            _ => unreachable!("every header maps to an array"),
        }
    }
    let media = media_type(&response.headers);
    let body = if is_json_media(&media) {
        serde_json::from_str(&response.body)
            .unwrap_or_else(|_| Value::String(response.body.clone()))
    } else {
        Value::String(response.body.clone())
    };
    let output = json!({
        "Headers": headers,
        "ResponseBody": body,
        "StatusCode": response.status_code,
        "StatusText": response.status_message,
    });
    if (200..300).contains(&response.status_code) {
        Ok(output)
    } else {
        Err(TaskFailure::new(
            format!("{STATUS_CODE_PREFIX}{}", response.status_code),
            output.to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: Value) -> Result<Spec, TaskFailure> {
        Spec::parse(&v)
    }

    fn base() -> Value {
        json!({"ApiEndpoint": "https://api.example.com/v1/x", "Method": "GET",
            "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:000000000000:connection/c/1"}})
    }

    fn with(key: &str, v: Value) -> Value {
        let mut b = base();
        b[key] = v;
        b
    }

    #[test]
    fn given_bad_parameters_when_parsed_then_states_runtime_naming_the_field() {
        let cases = [
            (
                json!({"Method": "GET", "Authentication": {"ConnectionArn": "a"}}),
                "'ApiEndpoint' is required",
            ),
            (
                with("Method", json!("TRACE")),
                "'Method' ('TRACE') must be one of GET, POST, PUT, DELETE, PATCH, OPTIONS, HEAD",
            ),
            (
                with("ApiEndpoint", json!("http://api.example.com/")),
                "must be an https URL",
            ),
            (with("ApiEndpoint", json!("not a url")), "is not a URL"),
            (
                with("Headers", json!({"Authorization": "Bearer x"})),
                "The header 'Authorization' cannot be used",
            ),
            (
                with("Headers", json!({"X-Amz-Date": "x"})),
                "The header 'X-Amz-Date' cannot be used",
            ),
            (
                with("Headers", json!({"x-forwarded-for": "x"})),
                "The header 'x-forwarded-for' cannot be used",
            ),
            (
                with("Headers", json!("a: b")),
                "'Headers' must be a JSON object",
            ),
            (
                with("Transform", json!({"RequestBodyEncoding": "GZIP"})),
                "must be NONE or URL_ENCODED",
            ),
            (
                with(
                    "Transform",
                    json!({"RequestBodyEncoding": "URL_ENCODED", "RequestEncodingOptions": {"ArrayFormat": "X"}}),
                ),
                "must be one of INDICES, REPEAT, COMMAS, BRACKETS",
            ),
            (
                with("Transform", json!({"RequestBodyEncoding": 5})),
                "Transform.RequestBodyEncoding (5) must be NONE or URL_ENCODED",
            ),
            (
                with(
                    "Transform",
                    json!({"RequestBodyEncoding": "URL_ENCODED", "RequestEncodingOptions": "BRACKETS"}),
                ),
                "Transform.RequestEncodingOptions (\"BRACKETS\") must be a JSON object",
            ),
            (with("Body", json!({})), "'Body' is not one of"),
            (
                json!({"ApiEndpoint": "https://x", "Method": "GET"}),
                "needs an EventBridge connection",
            ),
            (
                json!({"ApiEndpoint": "https://x", "Method": "GET", "Authentication": {}}),
                "'Authentication' needs the string field 'ConnectionArn'",
            ),
        ];
        for (params, text) in cases {
            let f = spec(params.clone()).unwrap_err();
            assert_eq!(f.error, "States.Runtime", "{params}");
            assert!(f.cause.contains(text), "{params}: {}", f.cause);
        }
        // http for loopback hosts only; InvocationConfig like Authentication
        for endpoint in [
            "http://127.0.0.1:9/x",
            "http://localhost/x",
            "http://[::1]:8/",
        ] {
            let mut p = with("ApiEndpoint", json!(endpoint));
            p.as_object_mut().unwrap().remove("Authentication");
            p["InvocationConfig"] = json!({"ConnectionArn": "arn:c"});
            let s = spec(p).unwrap();
            assert!(s.loopback, "{endpoint}");
            assert_eq!(s.connection_arn, "arn:c");
        }
    }

    #[test]
    fn given_a_connection_when_assembled_then_its_parameters_win_and_its_secrets_stay_out_of_the_plain_request()
     {
        let s = spec(json!({"ApiEndpoint": "https://example.com/path?a=1", "Method": "POST",
            "Authentication": {"ConnectionArn": "arn"},
            "Headers": {"Request-Id": "my_request_id", "Header-Param": "state_machine_header_param"},
            "RequestBody": {"Job": "Software Engineer", "Company": "AnyCompany", "BodyParam": "state_machine_body_param"},
            "QueryParameters": {"QueryParam": "state_machine_query_param"}}))
        .unwrap();
        let added = HttpParameters {
            headers: vec![("header-param".into(), "connection_header_param".into())],
            query: vec![("QueryParam".into(), "connection_query_param".into())],
            body: vec![("BodyParam".into(), "connection_body_param".into())],
        };
        let full = s
            .assemble(
                Some((&added, ("Apikey".into(), "key_value".into()))),
                "us-east-1",
            )
            .unwrap();
        assert_eq!(
            full.url,
            "https://example.com/path?a=1&QueryParam=connection_query_param"
        );
        assert_eq!(
            full.body,
            r#"{"Job":"Software Engineer","Company":"AnyCompany","BodyParam":"connection_body_param"}"#
        );
        assert_eq!(
            full.headers,
            vec![
                ("Request-Id".to_string(), "my_request_id".to_string()),
                ("header-param".into(), "connection_header_param".into()),
                ("Apikey".into(), "key_value".into()),
                (
                    "Content-Type".into(),
                    "application/json; charset=UTF-8".into()
                ),
                ("Range".into(), "bytes=0-262144".into()),
                (
                    "User-Agent".into(),
                    "Amazon|StepFunctions|HttpInvoke|us-east-1".into()
                ),
            ]
        );
        let plain = s.assemble(None, "us-east-1").unwrap();
        let text = format!("{plain:?}");
        for secret in ["key_value", "connection_"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        // a string body cannot take the connection's body members
        let mut p = base();
        p["RequestBody"] = json!("raw");
        let f = spec(p)
            .unwrap()
            .assemble(Some((&added, ("k".into(), "v".into()))), "r")
            .unwrap_err();
        assert_eq!(f.error, "States.Runtime");
        assert!(f.cause.contains("is a string"), "{}", f.cause);
    }

    #[test]
    fn given_a_query_string_and_header_arrays_then_they_are_sent_as_given_and_range_and_user_agent_once()
     {
        let mut p = base();
        p["QueryParameters"] = json!("?a=1&b=x%20y");
        p["Headers"] = json!({"Accept": ["application/json", "text/plain"], "X-Count": 3,
            "user-agent": "mine", "RANGE": "bytes=0-9"});
        let r = spec(p).unwrap().assemble(None, "eu-west-1").unwrap();
        assert_eq!(r.url, "https://api.example.com/v1/x?a=1&b=x%20y");
        assert_eq!(r.body, "");
        assert_eq!(
            r.headers,
            vec![
                (
                    "Accept".to_string(),
                    "application/json, text/plain".to_string()
                ),
                ("X-Count".into(), "3".into()),
                ("Range".into(), "bytes=0-262144".into()),
                (
                    "User-Agent".into(),
                    "Amazon|StepFunctions|HttpInvoke|eu-west-1".into()
                ),
            ]
        );
    }

    #[test]
    fn given_responses_then_output_shape_and_status_errors() {
        let response = |code: u16, ct: &str, body: &str| TracedResponse {
            protocol: "https".into(),
            status_code: code,
            status_message: "X".into(),
            headers: vec![
                ("content-type".into(), ct.into()),
                ("set-cookie".into(), "a".into()),
                ("set-cookie".into(), "b".into()),
            ],
            body: body.into(),
        };
        let ok = outcome(&response(
            200,
            "application/json; charset=utf-8",
            r#"{"a":1}"#,
        ))
        .unwrap();
        assert_eq!(
            ok,
            json!({"Headers": {"content-type": ["application/json; charset=utf-8"], "set-cookie": ["a", "b"]},
                "ResponseBody": {"a": 1}, "StatusCode": 200, "StatusText": "X"})
        );
        let text = outcome(&response(201, "text/plain", r#"{"a":1}"#)).unwrap();
        assert_eq!(text["ResponseBody"], json!(r#"{"a":1}"#));
        let f = outcome(&response(404, "text/plain", "no")).unwrap_err();
        assert_eq!(f.error, "States.Http.StatusCode.404");
        let cause: Value = serde_json::from_str(&f.cause).unwrap();
        assert_eq!(cause["ResponseBody"], json!("no"));
        assert_eq!(cause["StatusCode"], json!(404));
    }
}
