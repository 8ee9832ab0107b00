//! AWS Signature Version 4 for the requests to a SageMaker managed MLflow tracking server
//! (service `sagemaker-mlflow`).

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Static AWS credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Credentials {
    /// From `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optional `AWS_SESSION_TOKEN`
    /// (what the Lambda runtime provides). `None` when either required variable is missing.
    pub fn from_env() -> Option<Credentials> {
        let access_key_id = std::env::var("AWS_ACCESS_KEY_ID").ok()?;
        let secret_access_key = std::env::var("AWS_SECRET_ACCESS_KEY").ok()?;
        let session_token = std::env::var("AWS_SESSION_TOKEN")
            .ok()
            .filter(|t| !t.is_empty());
        Some(Credentials {
            access_key_id,
            secret_access_key,
            session_token,
        })
    }
}

/// The parts of an HTTP request that SigV4 covers.
#[derive(Debug, Clone)]
pub struct SignableRequest<'a> {
    pub method: &'a str,
    /// Absolute path, already percent-encoded as sent (e.g. `/api/2.0/mlflow/runs/get`).
    pub path: &'a str,
    /// Decoded query parameters.
    pub query: &'a [(String, String)],
    /// Headers to sign (must include `host`); names in any case.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// The headers to add to the request: `x-amz-date`, `x-amz-security-token` (when a session
/// token is present) and `authorization`. Callers that send `x-amz-content-sha256` (as the
/// SageMaker MLflow service expects) include it in `request.headers` so that it is signed.
pub fn sign(
    request: &SignableRequest<'_>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    time: DateTime<Utc>,
) -> Vec<(String, String)> {
    let amz_date = time.format("%Y%m%dT%H%M%SZ").to_string();
    let date = time.format("%Y%m%d").to_string();
    let payload_hash = payload_sha256(request.body);

    let mut added = vec![("x-amz-date".to_string(), amz_date.clone())];
    if let Some(token) = &credentials.session_token {
        added.push(("x-amz-security-token".to_string(), token.clone()));
    }

    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .chain(added.iter())
        .map(|(k, v)| (k.to_ascii_lowercase(), normalize_header_value(v)))
        .collect();
    headers.sort();
    let signed_headers = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();

    let mut query: Vec<(String, String)> = request
        .query
        .iter()
        .map(|(k, v)| (uri_encode(k, true), uri_encode(v, true)))
        .collect();
    query.sort();
    let canonical_query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");

    let canonical_path = canonical_uri(request.path);
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method,
        canonical_path,
        canonical_query,
        canonical_headers,
        signed_headers,
        payload_hash
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let k_date = hmac(
        format!("AWS4{}", credentials.secret_access_key).as_bytes(),
        &date,
    );
    let k_region = hmac(&k_date, region);
    let k_service = hmac(&k_region, service);
    let k_signing = hmac(&k_service, "aws4_request");
    let signature = hex::encode(hmac(&k_signing, &string_to_sign));

    added.push((
        "authorization".to_string(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            credentials.access_key_id
        ),
    ));
    added
}

/// Hex SHA-256 of a body, for the `x-amz-content-sha256` header.
pub fn payload_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 takes keys of any length"),
    };
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn normalize_header_value(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Non-S3 services encode each path segment once more (the path arrives already encoded).
fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".to_string();
    }
    path.split('/')
        .map(|seg| uri_encode(seg, true))
        .collect::<Vec<_>>()
        .join("/")
}

/// RFC 3986 encoding as SigV4 wants it: unreserved characters stay, everything else is `%XX`.
fn uri_encode(s: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if !encode_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn example_credentials() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        }
    }

    fn auth(headers: &[(String, String)]) -> String {
        headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    #[test]
    fn given_the_aws_get_vanilla_vector_when_signed_then_the_signature_matches() {
        let time = Utc.with_ymd_and_hms(2015, 8, 30, 12, 36, 0).unwrap();
        let headers = vec![("Host".to_string(), "example.amazonaws.com".to_string())];
        let req = SignableRequest {
            method: "GET",
            path: "/",
            query: &[],
            headers: &headers,
            body: b"",
        };
        let out = sign(&req, &example_credentials(), "us-east-1", "service", time);
        assert_eq!(
            auth(&out),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn given_the_aws_post_vanilla_vector_when_signed_then_the_signature_matches() {
        let time = Utc.with_ymd_and_hms(2015, 8, 30, 12, 36, 0).unwrap();
        let headers = vec![("Host".to_string(), "example.amazonaws.com".to_string())];
        let req = SignableRequest {
            method: "POST",
            path: "/",
            query: &[],
            headers: &headers,
            body: b"",
        };
        let out = sign(&req, &example_credentials(), "us-east-1", "service", time);
        assert!(auth(&out).ends_with(
            "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        ));
    }

    #[test]
    fn given_a_session_token_when_signed_then_it_is_sent_and_signed() {
        let time = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        let mut creds = example_credentials();
        creds.session_token = Some("TOKEN".into());
        let headers = vec![
            (
                "host".to_string(),
                "us-east-1.experiments.sagemaker.aws".to_string(),
            ),
            ("x-amz-content-sha256".to_string(), payload_sha256(b"")),
        ];
        let query = vec![("experiment_name".to_string(), "my model".to_string())];
        let req = SignableRequest {
            method: "GET",
            path: "/api/2.0/mlflow/experiments/get-by-name",
            query: &query,
            headers: &headers,
            body: b"",
        };
        let out = sign(&req, &creds, "us-east-1", "sagemaker-mlflow", time);
        assert!(
            out.iter()
                .any(|(k, v)| k == "x-amz-security-token" && v == "TOKEN")
        );
        let a = auth(&out);
        assert!(
            a.contains("/20240102/us-east-1/sagemaker-mlflow/aws4_request"),
            "{a}"
        );
        assert!(
            a.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token"),
            "{a}"
        );
    }

    #[test]
    fn encodes_like_sigv4() {
        assert_eq!(uri_encode("a b/c~", true), "a%20b%2Fc~");
        assert_eq!(canonical_uri("/api/2.0/x y"), "/api/2.0/x%20y");
    }
}
