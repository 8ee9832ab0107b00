//! A Lambda role of infra/template.yaml, created in moto (IAM enforced, see
//! scripts/with-servers.sh) and assumed there, with every request its adapters send recorded.
//!
//! Two checks of the template's own policies (read by `template.rs`, never copied):
//! - on the wire: moto evaluates the role's policies for each request and answers AccessDenied
//!   naming the action. moto matches resources only for S3 (for DynamoDB, SageMaker and
//!   CloudWatch Logs it authorises against "*"), so the role created in moto carries the
//!   template's statements with the resources of non-S3 statements widened to "*"; and since moto
//!   authorises a TransactWriteItems as the action `dynamodb:TransactWriteItems`, which IAM does
//!   not have (IAM authorises each contained Put/Update/Delete/ConditionCheck), and S3's
//!   ListObjectsV2 and HeadObject under those names (IAM: s3:ListBucket, s3:GetObject), a
//!   statement granting the IAM action also grants moto's name there ([`MOTO_ACTION_NAMES`]).
//! - IAM's evaluation of every recorded request (action, resource ARN, condition keys) against the
//!   template's unchanged policies by `@cloud-copilot/iam-simulate` ([`super::iam::denied`]): the
//!   resource scoping and conditions moto does not check.

#![allow(dead_code)] // shared by several test binaries, each using a part

use std::sync::{Arc, Mutex};

use aws_credential_types::Credentials;
use aws_sdk_dynamodb::config::http::HttpRequest;
use aws_sdk_dynamodb::config::{RuntimeComponents, SharedHttpClient};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use serde_json::{Value as Json, json};

use crate::iam::{self, Request};
use crate::template::{ACCOUNT, PARTITION, REGION, Stack};

/// What was sent: the signing service, X-Amz-Target, method, path and query, JSON body.
#[derive(Debug, Clone)]
pub struct Sent {
    service: String,
    target: Option<String>,
    method: String,
    path: String,
    query: String,
    body: Json,
}

#[derive(Debug, Clone)]
struct Recorder {
    inner: SharedHttpClient,
    log: Arc<Mutex<Vec<Sent>>>,
}

#[derive(Debug)]
struct RecorderConnector {
    inner: SharedHttpConnector,
    log: Arc<Mutex<Vec<Sent>>>,
}

impl HttpClient for Recorder {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(RecorderConnector {
            inner: self.inner.http_connector(settings, components),
            log: self.log.clone(),
        })
    }
}

fn sent(request: &HttpRequest) -> Sent {
    let header = |name: &str| request.headers().get(name).map(str::to_string);
    // Credential=KEY/DATE/REGION/SERVICE/aws4_request
    let service = header("authorization")
        .and_then(|a| a.split("Credential=").nth(1).map(str::to_string))
        .and_then(|c| c.split('/').nth(3).map(str::to_string))
        .unwrap_or_default();
    let uri = request.uri();
    let after_host = uri
        .split_once("://")
        .map(|(_, rest)| rest.find('/').map(|i| &rest[i..]).unwrap_or("/"))
        .unwrap_or(uri);
    let (path, query) = after_host.split_once('?').unwrap_or((after_host, ""));
    let body = request
        .body()
        .bytes()
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or(Json::Null);
    Sent {
        service,
        target: header("x-amz-target"),
        method: request.method().to_string(),
        path: path.to_string(),
        query: query.to_string(),
        body,
    }
}

impl HttpConnector for RecorderConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        self.log.lock().expect("log").push(sent(&request));
        self.inner.call(request)
    }
}

fn arn(service: &str, rest: &str) -> String {
    format!("arn:{PARTITION}:{service}:{REGION}:{ACCOUNT}:{rest}")
}

fn field<'a>(body: &'a Json, name: &str) -> Result<&'a str, String> {
    body[name]
        .as_str()
        .ok_or_else(|| format!("the request has no {name}: {body}"))
}

/// The IAM requests one recorded request makes (Service Authorization Reference: the action and
/// resource type of each API operation).
fn authorisations(s: &Sent) -> Result<Vec<Request>, String> {
    let op = s
        .target
        .as_deref()
        .and_then(|t| t.rsplit_once('.'))
        .map(|(_, op)| op.to_string());
    let b = &s.body;
    Ok(match (s.service.as_str(), op.as_deref()) {
        ("dynamodb", Some("TransactWriteItems")) => {
            let items = b["TransactItems"].as_array().ok_or("TransactItems")?;
            let mut out = Vec::new();
            for item in items {
                for (kind, action) in [
                    ("Put", "PutItem"),
                    ("Update", "UpdateItem"),
                    ("Delete", "DeleteItem"),
                    ("ConditionCheck", "ConditionCheckItem"),
                ] {
                    if let Some(part) = item.get(kind) {
                        let table = field(part, "TableName")?;
                        out.push(Request::new(
                            &format!("dynamodb:{action}"),
                            &arn("dynamodb", &format!("table/{table}")),
                        ));
                    }
                }
            }
            out
        }
        ("dynamodb", Some(op)) => vec![Request::new(
            &format!("dynamodb:{op}"),
            &arn("dynamodb", &format!("table/{}", field(b, "TableName")?)),
        )],
        ("sagemaker", Some(op)) => {
            let (kind, name_field) = match op {
                "DescribeTrainingJob" => ("training-job", "TrainingJobName"),
                "CreateModel" | "DescribeModel" => ("model", "ModelName"),
                "DescribeHyperParameterTuningJob"
                | "ListTrainingJobsForHyperParameterTuningJob" => {
                    ("hyper-parameter-tuning-job", "HyperParameterTuningJobName")
                }
                other => return Err(format!("no IAM mapping for sagemaker {other} in the test")),
            };
            let name = field(b, name_field)?.to_lowercase();
            let mut out = vec![Request::new(
                &format!("sagemaker:{op}"),
                &arn("sagemaker", &format!("{kind}/{name}")),
            )];
            if op == "CreateModel" {
                out.push(
                    Request::new("iam:PassRole", field(b, "ExecutionRoleArn")?)
                        .with("iam:PassedToService", "sagemaker.amazonaws.com"),
                );
            }
            out
        }
        ("logs", Some(op)) => {
            let group = field(b, "logGroupName")?;
            let resource = match op {
                "DescribeLogStreams" => arn("logs", &format!("log-group:{group}")),
                "GetLogEvents" => arn(
                    "logs",
                    &format!(
                        "log-group:{group}:log-stream:{}",
                        field(b, "logStreamName")?
                    ),
                ),
                other => return Err(format!("no IAM mapping for logs {other} in the test")),
            };
            vec![Request::new(&format!("logs:{op}"), &resource)]
        }
        ("s3", None) => {
            // path style: /bucket[/key]
            let path = s.path.trim_start_matches('/');
            let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
            let action = match (s.method.as_str(), key.is_empty()) {
                ("GET" | "HEAD", false) => "s3:GetObject", // HeadObject is authorised as GetObject
                ("PUT", false) => "s3:PutObject",
                ("GET", true) if s.query.contains("list-type=2") => "s3:ListBucket",
                _ => {
                    return Err(format!(
                        "no IAM mapping for S3 {} /{path}?{}",
                        s.method, s.query
                    ));
                }
            };
            let resource = if key.is_empty() {
                format!("arn:{PARTITION}:s3:::{bucket}")
            } else {
                format!("arn:{PARTITION}:s3:::{bucket}/{key}")
            };
            vec![Request::new(action, &resource)]
        }
        ("events", Some("PutEvents")) => {
            // events:PutEvents on each entry's bus (a name, or an ARN; none: the default bus)
            let entries = b["Entries"].as_array().ok_or("Entries")?;
            entries
                .iter()
                .map(|entry| {
                    let bus = entry["EventBusName"].as_str().unwrap_or("default");
                    let resource = if bus.starts_with("arn:") {
                        bus.to_string()
                    } else {
                        arn("events", &format!("event-bus/{bus}"))
                    };
                    Request::new("events:PutEvents", &resource)
                })
                .collect()
        }
        (service, op) => return Err(format!("no IAM mapping for {service} {op:?} in the test")),
    })
}

/// moto authorises these API operations under their operation names, which are not IAM actions;
/// IAM authorises them as the action on the left (Service Authorization Reference).
const MOTO_ACTION_NAMES: [(&str, &str); 3] = [
    ("dynamodb:PutItem", "dynamodb:TransactWriteItems"),
    ("s3:ListBucket", "s3:ListObjectsV2"),
    ("s3:GetObject", "s3:HeadObject"),
];

/// The statements as moto can enforce them (see the module documentation).
fn moto_view(document: &Json) -> Json {
    let mut doc = document.clone();
    for statement in doc["Statement"].as_array_mut().into_iter().flatten() {
        let actions: Vec<String> = match &statement["Action"] {
            Json::String(a) => vec![a.clone()],
            Json::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        if !actions.iter().all(|a| a.starts_with("s3:")) {
            statement["Resource"] = json!("*");
        }
        let mut widened = actions.clone();
        for (iam_action, moto_name) in MOTO_ACTION_NAMES {
            if actions.iter().any(|a| a == iam_action) {
                widened.push(moto_name.to_string());
            }
        }
        if widened.len() > actions.len() {
            statement["Action"] = json!(widened);
        }
    }
    doc
}

/// A role of the template, assumed in moto.
pub struct AssumedRole {
    pub logical: String,
    pub sdk: aws_config::SdkConfig,
    policies: Vec<(String, Json)>,
    log: Arc<Mutex<Vec<Sent>>>,
}

impl AssumedRole {
    /// Creates the template's role `logical` (policies resolved for `stack`) in moto as the test
    /// administrator (`admin`), assumes it, and returns an SDK configuration signed as it.
    pub async fn create(
        admin: &aws_config::SdkConfig,
        stack: &Stack,
        logical: &str,
        endpoint: &str,
    ) -> AssumedRole {
        let policies = stack
            .role_policies(logical)
            .unwrap_or_else(|e| panic!("{logical}: {e}"));
        let iam = aws_sdk_iam::Client::new(admin);
        let name = crate::common::unique(logical);
        let admin_arn = format!("arn:{PARTITION}:iam::{ACCOUNT}:user/mdlc-test-admin");
        let trust = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": admin_arn}, "Action": "sts:AssumeRole"}]});
        let role = iam
            .create_role()
            .role_name(&name)
            .assume_role_policy_document(trust.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateRole {name} in moto: {e:?}"));
        for (policy, document) in &policies {
            iam.put_role_policy()
                .role_name(&name)
                .policy_name(policy)
                .policy_document(moto_view(document).to_string())
                .send()
                .await
                .unwrap_or_else(|e| panic!("PutRolePolicy {policy} in moto: {e:?}"));
        }
        let role_arn = role.role().map(|r| r.arn().to_string()).expect("role ARN");
        let assumed = aws_sdk_sts::Client::new(admin)
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name("wire-test")
            .send()
            .await
            .unwrap_or_else(|e| panic!("AssumeRole {role_arn} in moto: {e:?}"));
        let c = assumed.credentials().expect("credentials");
        let credentials = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "assumed-role",
        );
        let log = Arc::new(Mutex::new(Vec::new()));
        let sdk = mdlc_aws::moto::sdk_loader_as(credentials)
            .endpoint_url(endpoint)
            .http_client(SharedHttpClient::new(Recorder {
                inner: mdlc_aws::https_client(),
                log: log.clone(),
            }))
            .load()
            .await;
        AssumedRole {
            logical: logical.to_string(),
            sdk,
            policies,
            log,
        }
    }

    /// Fails naming every recorded request the template's policies do not allow (by IAM's
    /// evaluation); returns how many requests were checked.
    pub fn assert_all_allowed(&self) -> usize {
        let sent = self.log.lock().expect("log").clone();
        let mut requests = Vec::new();
        for s in &sent {
            requests.extend(authorisations(s).unwrap_or_else(|e| panic!("{e}")));
        }
        requests.sort();
        requests.dedup();
        assert!(
            !requests.is_empty(),
            "{}: no request was recorded",
            self.logical
        );
        let principal = format!(
            "arn:{PARTITION}:sts::{ACCOUNT}:assumed-role/{}/wire-test",
            self.logical
        );
        let denied = iam::denied(&principal, &self.policies, &requests);
        assert!(
            denied.is_empty(),
            "{} (infra/template.yaml) does not allow what its handler does:\n  {}",
            self.logical,
            denied.join("\n  ")
        );
        requests.len()
    }
}
