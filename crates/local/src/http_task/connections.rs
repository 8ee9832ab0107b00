//! Local EventBridge connections: what an HTTP Task's `ConnectionArn` names.
//!
//! On AWS a connection (EventBridge `CreateConnection`) holds the authorization of an API (an API
//! key, basic credentials or OAuth client credentials) and the header, query string and body
//! parameters added to every request; Step Functions reads it when an HTTP Task runs. Locally the
//! connections come from a JSON file (`mdlc serve --connections FILE`, `mdlc execute
//! --connections FILE`, or `MDLC_CONNECTIONS`) mapping each connection ARN to the members of
//! `CreateConnection`'s request, under the same names:
//!
//! ```json
//! {"arn:aws:events:us-east-1:000000000000:connection/Stripe/81210c42-8af1-456b-9c4a-6ff02fc664ac": {
//!    "AuthorizationType": "API_KEY",
//!    "AuthParameters": {
//!      "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "secret"},
//!      "InvocationHttpParameters": {"HeaderParameters": [{"Key": "k", "Value": "v"}]}}}}
//! ```
//!
//! `AuthorizationType` `BASIC` takes `BasicAuthParameters` (`Username`, `Password`),
//! `OAUTH_CLIENT_CREDENTIALS` takes `OAuthParameters` (`ClientParameters` with `ClientID` and
//! `ClientSecret`, `AuthorizationEndpoint`, `HttpMethod`, `OAuthHttpParameters`). Every member
//! is checked; a problem names the file and the JSON pointer.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

/// The variable naming the connections file when no `--connections` is given.
pub const CONNECTIONS_ENV: &str = "MDLC_CONNECTIONS";

/// The most items of a `HeaderParameters`, `QueryStringParameters` or `BodyParameters` list
/// (EventBridge API reference, `ConnectionHttpParameters`).
const MAX_PARAMETERS: usize = 100;
/// The longest header name or value a connection may give (API reference,
/// `ConnectionHeaderParameter` and `ApiKeyName`/`ApiKeyValue`).
const MAX_HEADER_TEXT: usize = 512;

/// A connections file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionsError {
    #[error("cannot read the connections file {path}: {message}")]
    Read { path: String, message: String },
    #[error("the connections file {path} is not valid JSON: {message}")]
    Json { path: String, message: String },
    #[error("the connections file {path}: {pointer}: {message}")]
    Invalid {
        path: String,
        pointer: String,
        message: String,
    },
}

/// Key-value parameters a connection adds to a request (`InvocationHttpParameters`) or to its
/// OAuth token request (`OAuthHttpParameters`), in the file's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpParameters {
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub body: Vec<(String, String)>,
}

/// How a connection authorizes a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// `API_KEY`: header `name: value`.
    ApiKey { name: String, value: String },
    /// `BASIC`: `Authorization: Basic base64(username:password)`.
    Basic { username: String, password: String },
    /// `OAUTH_CLIENT_CREDENTIALS`: a token from `endpoint`, sent as `Authorization: Bearer`.
    OAuthClientCredentials {
        endpoint: String,
        method: String,
        client_id: String,
        client_secret: String,
        parameters: HttpParameters,
    },
}

/// One connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub authorization: Authorization,
    /// `InvocationHttpParameters`: added to every request (they win over the Task's own).
    pub invocation: HttpParameters,
}

/// The connections an HTTP Task can name, by ARN.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connections {
    by_arn: BTreeMap<String, Connection>,
}

impl Connections {
    /// No connections: every HTTP Task fails naming its connection.
    pub fn none() -> Self {
        Connections::default()
    }

    /// Reads a connections file.
    pub fn load(path: &Path) -> Result<Self, ConnectionsError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConnectionsError::Read {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        Self::parse(&text, &shown)
    }

    /// Parses a connections file's text; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<Self, ConnectionsError> {
        let doc: Value = serde_json::from_str(text).map_err(|e| ConnectionsError::Json {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        let r = Reader { path };
        let top = r.object(&doc, "")?;
        let mut by_arn = BTreeMap::new();
        for (arn, v) in top {
            let ptr = format!("/{}", escape_pointer(arn));
            if !is_connection_arn(arn) {
                return Err(r.invalid(
                    &ptr,
                    "not an EventBridge connection ARN (arn:aws:events:<region>:<account>:connection/<name>/<id>)",
                ));
            }
            by_arn.insert(arn.clone(), r.connection(v, &ptr)?);
        }
        Ok(Connections { by_arn })
    }

    /// The connection of this ARN.
    pub fn get(&self, arn: &str) -> Option<&Connection> {
        self.by_arn.get(arn)
    }

    /// The ARNs defined, in order.
    pub fn arns(&self) -> impl Iterator<Item = &str> {
        self.by_arn.keys().map(String::as_str)
    }
}

/// `arn:<partition>:events:<region>:<account>:connection/<name>[/<id>]`.
fn is_connection_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", p, "events", _, _, rest]
        if !p.is_empty() && rest.strip_prefix("connection/").is_some_and(|n| !n.is_empty()))
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

struct Reader<'a> {
    path: &'a str,
}

impl Reader<'_> {
    fn invalid(&self, pointer: &str, message: impl Into<String>) -> ConnectionsError {
        ConnectionsError::Invalid {
            path: self.path.to_string(),
            pointer: if pointer.is_empty() {
                "/".into()
            } else {
                pointer.to_string()
            },
            message: message.into(),
        }
    }

    fn object<'v>(
        &self,
        v: &'v Value,
        ptr: &str,
    ) -> Result<&'v Map<String, Value>, ConnectionsError> {
        v.as_object()
            .ok_or_else(|| self.invalid(ptr, "must be a JSON object"))
    }

    /// The object at `ptr`, with only `allowed` members.
    fn members<'v>(
        &self,
        v: &'v Value,
        ptr: &str,
        allowed: &[&str],
    ) -> Result<&'v Map<String, Value>, ConnectionsError> {
        let m = self.object(v, ptr)?;
        if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(self.invalid(
                &format!("{ptr}/{}", escape_pointer(k)),
                format!("unknown member (expected one of: {})", allowed.join(", ")),
            ));
        }
        Ok(m)
    }

    fn string(
        &self,
        m: &Map<String, Value>,
        key: &str,
        ptr: &str,
    ) -> Result<String, ConnectionsError> {
        match m.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(_) => Err(self.invalid(&format!("{ptr}/{key}"), "must be a non-empty string")),
            None => Err(self.invalid(ptr, format!("the member {key} is required"))),
        }
    }

    fn connection(&self, v: &Value, ptr: &str) -> Result<Connection, ConnectionsError> {
        let m = self.members(
            v,
            ptr,
            &[
                "AuthorizationType",
                "AuthParameters",
                "Name",
                "Description",
                "InvocationConnectivityParameters",
            ],
        )?;
        let kind = self.string(m, "AuthorizationType", ptr)?;
        let auth_ptr = format!("{ptr}/AuthParameters");
        let auth = match m.get("AuthParameters") {
            Some(a) => self.members(
                a,
                &auth_ptr,
                &[
                    "ApiKeyAuthParameters",
                    "BasicAuthParameters",
                    "OAuthParameters",
                    "InvocationHttpParameters",
                ],
            )?,
            None => return Err(self.invalid(ptr, "the member AuthParameters is required")),
        };
        let part = |name: &str| -> Result<(&Value, String), ConnectionsError> {
            match auth.get(name) {
                Some(v) => Ok((v, format!("{auth_ptr}/{name}"))),
                None => Err(self.invalid(
                    &auth_ptr,
                    format!("AuthorizationType {kind} needs the member {name}"),
                )),
            }
        };
        let authorization = match kind.as_str() {
            "API_KEY" => {
                let (v, p) = part("ApiKeyAuthParameters")?;
                let a = self.members(v, &p, &["ApiKeyName", "ApiKeyValue"])?;
                let (name, value) = (
                    self.string(a, "ApiKeyName", &p)?,
                    self.string(a, "ApiKeyValue", &p)?,
                );
                self.header_name(&name, &format!("{p}/ApiKeyName"))?;
                self.header_value(&value, &format!("{p}/ApiKeyValue"))?;
                Authorization::ApiKey { name, value }
            }
            "BASIC" => {
                let (v, p) = part("BasicAuthParameters")?;
                let a = self.members(v, &p, &["Username", "Password"])?;
                Authorization::Basic {
                    username: self.string(a, "Username", &p)?,
                    password: self.string(a, "Password", &p)?,
                }
            }
            "OAUTH_CLIENT_CREDENTIALS" => {
                let (v, p) = part("OAuthParameters")?;
                let a = self.members(
                    v,
                    &p,
                    &[
                        "ClientParameters",
                        "AuthorizationEndpoint",
                        "HttpMethod",
                        "OAuthHttpParameters",
                    ],
                )?;
                let cp = format!("{p}/ClientParameters");
                let client = match a.get("ClientParameters") {
                    Some(c) => self.members(c, &cp, &["ClientID", "ClientSecret"])?,
                    None => return Err(self.invalid(&p, "the member ClientParameters is required")),
                };
                let method = self.string(a, "HttpMethod", &p)?;
                if !matches!(method.as_str(), "GET" | "POST" | "PUT") {
                    return Err(
                        self.invalid(&format!("{p}/HttpMethod"), "must be one of GET, POST, PUT")
                    );
                }
                let endpoint = self.string(a, "AuthorizationEndpoint", &p)?;
                if url::Url::parse(&endpoint).is_err() {
                    return Err(self.invalid(&format!("{p}/AuthorizationEndpoint"), "is not a URL"));
                }
                Authorization::OAuthClientCredentials {
                    endpoint,
                    method,
                    client_id: self.string(client, "ClientID", &cp)?,
                    client_secret: self.string(client, "ClientSecret", &cp)?,
                    parameters: match a.get("OAuthHttpParameters") {
                        Some(h) => self.parameters(h, &format!("{p}/OAuthHttpParameters"))?,
                        None => HttpParameters::default(),
                    },
                }
            }
            _ => {
                return Err(self.invalid(
                    &format!("{ptr}/AuthorizationType"),
                    "must be one of API_KEY, BASIC, OAUTH_CLIENT_CREDENTIALS",
                ));
            }
        };
        let invocation = match auth.get("InvocationHttpParameters") {
            Some(h) => self.parameters(h, &format!("{auth_ptr}/InvocationHttpParameters"))?,
            None => HttpParameters::default(),
        };
        Ok(Connection {
            authorization,
            invocation,
        })
    }

    fn parameters(&self, v: &Value, ptr: &str) -> Result<HttpParameters, ConnectionsError> {
        let m = self.members(
            v,
            ptr,
            &[
                "HeaderParameters",
                "QueryStringParameters",
                "BodyParameters",
            ],
        )?;
        let list = |key: &str| -> Result<Vec<(String, String)>, ConnectionsError> {
            let p = format!("{ptr}/{key}");
            let Some(items) = m.get(key) else {
                return Ok(Vec::new());
            };
            let items = items
                .as_array()
                .ok_or_else(|| self.invalid(&p, "must be an array of {\"Key\", \"Value\"}"))?;
            if items.len() > MAX_PARAMETERS {
                return Err(self.invalid(
                    &p,
                    format!(
                        "has {} items, more than the {MAX_PARAMETERS} CreateConnection allows",
                        items.len()
                    ),
                ));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let ip = format!("{p}/{i}");
                    let o = self.members(item, &ip, &["Key", "Value", "IsValueSecret"])?;
                    if o.get("IsValueSecret").is_some_and(|s| !s.is_boolean()) {
                        return Err(
                            self.invalid(&format!("{ip}/IsValueSecret"), "must be a boolean")
                        );
                    }
                    Ok((self.string(o, "Key", &ip)?, self.string(o, "Value", &ip)?))
                })
                .collect()
        };
        let headers = list("HeaderParameters")?;
        for (i, (k, v)) in headers.iter().enumerate() {
            let ip = format!("{ptr}/HeaderParameters/{i}");
            self.header_name(k, &format!("{ip}/Key"))?;
            self.header_value(v, &format!("{ip}/Value"))?;
        }
        Ok(HttpParameters {
            headers,
            query: list("QueryStringParameters")?,
            body: list("BodyParameters")?,
        })
    }

    /// A header's name as CreateConnection takes it (at most 512 characters) that HTTP can send.
    /// The wording is this module's: EventBridge's messages for these were not found.
    fn header_name(&self, name: &str, ptr: &str) -> Result<(), ConnectionsError> {
        if name.len() > MAX_HEADER_TEXT {
            return Err(self.invalid(ptr, format!("is longer than {MAX_HEADER_TEXT} characters")));
        }
        reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map(|_| ())
            .map_err(|_| self.invalid(ptr, format!("'{name}' is not an HTTP header name")))
    }

    /// A header's value as CreateConnection takes it (at most 512 characters) that HTTP can send
    /// (no control character but a tab).
    fn header_value(&self, value: &str, ptr: &str) -> Result<(), ConnectionsError> {
        if value.len() > MAX_HEADER_TEXT {
            return Err(self.invalid(ptr, format!("is longer than {MAX_HEADER_TEXT} characters")));
        }
        reqwest::header::HeaderValue::from_str(value)
            .map(|_| ())
            .map_err(|_| self.invalid(ptr, "is not a valid HTTP header value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:events:us-east-1:000000000000:connection/Api/1";

    fn parse(v: Value) -> Result<Connections, ConnectionsError> {
        Connections::parse(&v.to_string(), "c.json")
    }

    #[test]
    fn given_each_authorization_type_when_parsed_then_its_parameters() {
        let c = parse(serde_json::json!({
            ARN: {"AuthorizationType": "API_KEY", "AuthParameters": {
                "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k"},
                "InvocationHttpParameters": {
                    "HeaderParameters": [{"Key": "h", "Value": "1", "IsValueSecret": true}],
                    "QueryStringParameters": [{"Key": "q", "Value": "2"}],
                    "BodyParameters": [{"Key": "b", "Value": "3"}]}}},
            "arn:aws:events:us-east-1:000000000000:connection/B/2": {"AuthorizationType": "BASIC",
                "AuthParameters": {"BasicAuthParameters": {"Username": "u", "Password": "p"}}},
            "arn:aws:events:us-east-1:000000000000:connection/O/3": {"AuthorizationType": "OAUTH_CLIENT_CREDENTIALS",
                "AuthParameters": {"OAuthParameters": {"ClientParameters": {"ClientID": "id", "ClientSecret": "s"},
                    "AuthorizationEndpoint": "https://auth.example.com/token", "HttpMethod": "POST",
                    "OAuthHttpParameters": {"BodyParameters": [{"Key": "grant_type", "Value": "client_credentials"}]}}}},
        }))
        .unwrap();
        let api = c.get(ARN).unwrap();
        assert_eq!(
            api.authorization,
            Authorization::ApiKey {
                name: "x-api-key".into(),
                value: "k".into()
            }
        );
        assert_eq!(api.invocation.headers, vec![("h".into(), "1".into())]);
        assert_eq!(api.invocation.query, vec![("q".into(), "2".into())]);
        assert_eq!(api.invocation.body, vec![("b".into(), "3".into())]);
        assert!(matches!(
            c.get("arn:aws:events:us-east-1:000000000000:connection/B/2")
                .unwrap()
                .authorization,
            Authorization::Basic { .. }
        ));
        match &c
            .get("arn:aws:events:us-east-1:000000000000:connection/O/3")
            .unwrap()
            .authorization
        {
            Authorization::OAuthClientCredentials {
                method, parameters, ..
            } => {
                assert_eq!(method, "POST");
                assert_eq!(
                    parameters.body,
                    vec![("grant_type".into(), "client_credentials".into())]
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(c.arns().count(), 3);
    }

    #[test]
    fn given_a_broken_file_when_parsed_then_the_error_names_the_pointer() {
        let cases = [
            (serde_json::json!([]), "/", "must be a JSON object"),
            (
                serde_json::json!({"arn:aws:s3:::b": {}}),
                "/arn:aws:s3:::b",
                "not an EventBridge connection ARN",
            ),
            (
                serde_json::json!({ARN: {"AuthorizationType": "DIGEST", "AuthParameters": {}}}),
                "/arn:aws:events:us-east-1:000000000000:connection~1Api~11/AuthorizationType",
                "must be one of API_KEY",
            ),
            (
                serde_json::json!({ARN: {"AuthorizationType": "BASIC", "AuthParameters": {}}}),
                "/arn:aws:events:us-east-1:000000000000:connection~1Api~11/AuthParameters",
                "needs the member BasicAuthParameters",
            ),
            (
                serde_json::json!({ARN: {"AuthorizationType": "API_KEY", "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "n"}}}}),
                "/arn:aws:events:us-east-1:000000000000:connection~1Api~11/AuthParameters/ApiKeyAuthParameters",
                "ApiKeyValue is required",
            ),
            (
                serde_json::json!({ARN: {"AuthorizationType": "API_KEY", "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "n", "ApiKeyValue": "v"},
                "InvocationHttpParameters": {"HeaderParameters": [{"Key": "k", "Valu": "v"}]}}}}),
                "/arn:aws:events:us-east-1:000000000000:connection~1Api~11/AuthParameters/InvocationHttpParameters/HeaderParameters/0/Valu",
                "unknown member",
            ),
            (
                serde_json::json!({ARN: {"AuthorizationType": "API_KEY", "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "x:key", "ApiKeyValue": "v"}}}}),
                "/arn:aws:events:us-east-1:000000000000:connection~1Api~11/AuthParameters/ApiKeyAuthParameters/ApiKeyName",
                "'x:key' is not an HTTP header name",
            ),
            (
                serde_json::json!({ARN: {"AuthorizationType": "API_KEY", "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "x-key", "ApiKeyValue": "a\nb"}}}}),
                "/arn:aws:events:us-east-1:000000000000:connection~1Api~11/AuthParameters/ApiKeyAuthParameters/ApiKeyValue",
                "is not a valid HTTP header value",
            ),
            (
                serde_json::json!({ARN: {"AuthorizationType": "BASIC", "AuthParameters": {"BasicAuthParameters": {"Username": "u", "Password": "p"},
                "InvocationHttpParameters": {"HeaderParameters": [{"Key": "ok", "Value": "v"}, {"Key": "my header", "Value": "v"}]}}}}),
                "/arn:aws:events:us-east-1:000000000000:connection~1Api~11/AuthParameters/InvocationHttpParameters/HeaderParameters/1/Key",
                "'my header' is not an HTTP header name",
            ),
            (
                serde_json::json!({ARN: {"AuthorizationType": "BASIC", "AuthParameters": {"BasicAuthParameters": {"Username": "u", "Password": "p"},
                "InvocationHttpParameters": {"HeaderParameters": [{"Key": "k", "Value": "x".repeat(513)}]}}}}),
                "/arn:aws:events:us-east-1:000000000000:connection~1Api~11/AuthParameters/InvocationHttpParameters/HeaderParameters/0/Value",
                "is longer than 512 characters",
            ),
            (
                serde_json::json!({ARN: {"AuthorizationType": "OAUTH_CLIENT_CREDENTIALS", "AuthParameters": {"OAuthParameters": {
                    "ClientParameters": {"ClientID": "i", "ClientSecret": "s"}, "AuthorizationEndpoint": "https://auth.example.com/token",
                    "HttpMethod": "POST", "OAuthHttpParameters": {"HeaderParameters": [{"Key": "k", "Value": "a\rb"}]}}}}}),
                "/arn:aws:events:us-east-1:000000000000:connection~1Api~11/AuthParameters/OAuthParameters/OAuthHttpParameters/HeaderParameters/0/Value",
                "is not a valid HTTP header value",
            ),
            (
                serde_json::json!({ARN: {"AuthorizationType": "BASIC", "AuthParameters": {"BasicAuthParameters": {"Username": "u", "Password": "p"},
                "InvocationHttpParameters": {"QueryStringParameters": (0..101).map(|i| serde_json::json!({"Key": format!("k{i}"), "Value": "v"})).collect::<Vec<_>>()}}}}),
                "/arn:aws:events:us-east-1:000000000000:connection~1Api~11/AuthParameters/InvocationHttpParameters/QueryStringParameters",
                "has 101 items, more than the 100 CreateConnection allows",
            ),
        ];
        for (doc, pointer, message) in cases {
            match parse(doc.clone()).unwrap_err() {
                ConnectionsError::Invalid {
                    pointer: p,
                    message: m,
                    path,
                } => {
                    assert_eq!(path, "c.json");
                    assert_eq!(p, pointer, "{doc}");
                    assert!(m.contains(message), "{doc}: {m}");
                }
                other => panic!("{doc}: {other}"),
            }
        }
        assert!(matches!(
            Connections::parse("{", "c.json").unwrap_err(),
            ConnectionsError::Json { .. }
        ));
    }
}
