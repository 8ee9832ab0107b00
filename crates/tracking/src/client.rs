//! A small MLflow REST client (`/api/2.0/mlflow/...`).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thiserror::Error;
use url::Url;

use crate::sigv4::{self, Credentials, SignableRequest};

/// Why a tracking call failed. Tracking failures are reported, never fatal to a training.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum TrackingError {
    #[error("invalid tracking server {target:?}: {reason}")]
    InvalidTarget { target: String, reason: String },
    #[error(
        "no AWS credentials for the SageMaker managed tracking server (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"
    )]
    MissingCredentials,
    #[error("MLflow {endpoint} answered {status} {error_code}: {message}")]
    Http {
        endpoint: String,
        status: u16,
        error_code: String,
        message: String,
    },
    #[error("MLflow {endpoint} unreachable: {message}")]
    Transport { endpoint: String, message: String },
    #[error("MLflow {endpoint} answered something unexpected: {message}")]
    Decode { endpoint: String, message: String },
}

impl TrackingError {
    /// The stable name of this error (for flow outputs and logs).
    pub fn name(&self) -> &'static str {
        match self {
            TrackingError::InvalidTarget { .. } => "TrackingInvalidTarget",
            TrackingError::MissingCredentials => "TrackingMissingCredentials",
            TrackingError::Http { .. } => "TrackingRejected",
            TrackingError::Transport { .. } => "TrackingUnavailable",
            TrackingError::Decode { .. } => "TrackingDecode",
        }
    }

    fn is_code(&self, code: &str) -> bool {
        matches!(self, TrackingError::Http { error_code, .. } if error_code == code)
    }
}

/// A failed exchange with the server, its message led by what failed: `connect` (nothing
/// accepted the connection within the connect timeout), `timed out` (no answer within the
/// request timeout) or `transport` (anything else).
fn transport_error(endpoint: &str, e: &reqwest::Error) -> TrackingError {
    let kind = if e.is_connect() {
        "connect"
    } else if e.is_timeout() {
        "timed out"
    } else {
        "transport"
    };
    TrackingError::Transport {
        endpoint: endpoint.to_string(),
        message: format!("{kind}: {e}"),
    }
}

/// Where runs are logged: a plain tracking server by URI, or a SageMaker managed one by ARN.
#[derive(Debug, Clone, PartialEq)]
pub enum TrackingTarget {
    Plain {
        base: Url,
    },
    SageMaker {
        arn: String,
        region: String,
        base: Url,
    },
}

impl TrackingTarget {
    /// `http(s)://host[:port][/prefix]`, or
    /// `arn:aws:sagemaker:<region>:<account>:mlflow-tracking-server/<name>` (its endpoint is
    /// `https://<region>.experiments.sagemaker.aws`, or `SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT`).
    pub fn parse(target: &str) -> Result<TrackingTarget, TrackingError> {
        let invalid = |reason: &str| TrackingError::InvalidTarget {
            target: target.to_string(),
            reason: reason.to_string(),
        };
        if let Some(rest) = target.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let [partition, service, region, account, resource] = parts.as_slice() else {
                return Err(invalid(
                    "an ARN has the form arn:aws:sagemaker:REGION:ACCOUNT:mlflow-tracking-server/NAME",
                ));
            };
            if *service != "sagemaker" {
                return Err(invalid("the ARN's service must be sagemaker"));
            }
            let dns = match *partition {
                "aws" | "aws-us-gov" => "aws",
                _ => return Err(invalid("partition not supported (aws, aws-us-gov)")),
            };
            if region.is_empty() || account.is_empty() {
                return Err(invalid("the ARN needs a region and an account"));
            }
            match resource.split_once('/') {
                Some(("mlflow-tracking-server", name)) if !name.is_empty() => {}
                _ => {
                    return Err(invalid(
                        "the ARN's resource must be mlflow-tracking-server/NAME",
                    ));
                }
            }
            let endpoint = std::env::var("SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT")
                .ok()
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| format!("https://{region}.experiments.sagemaker.{dns}"));
            let base = Url::parse(&endpoint).map_err(|e| invalid(&e.to_string()))?;
            return Ok(TrackingTarget::SageMaker {
                arn: target.to_string(),
                region: region.to_string(),
                base,
            });
        }
        let base = Url::parse(target).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(invalid(
                "expected an http(s):// URI or a SageMaker tracking server ARN",
            ));
        }
        Ok(TrackingTarget::Plain { base })
    }

    fn base(&self) -> &Url {
        match self {
            TrackingTarget::Plain { base } | TrackingTarget::SageMaker { base, .. } => base,
        }
    }
}

/// A metric value at a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub key: String,
    pub value: f64,
    pub timestamp: i64,
    #[serde(default)]
    pub step: i64,
}

/// A key/value pair (params and tags).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

impl KeyValue {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        KeyValue {
            key: key.into(),
            value: value.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub run_id: String,
    pub experiment_id: String,
    #[serde(default)]
    pub run_name: String,
    #[serde(default)]
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunData {
    #[serde(default)]
    pub metrics: Vec<Metric>,
    #[serde(default)]
    pub params: Vec<KeyValue>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub info: RunInfo,
    #[serde(default)]
    pub data: RunData,
}

impl Run {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.data
            .tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_str())
    }

    pub fn param(&self, key: &str) -> Option<&str> {
        self.data
            .params
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_str())
    }

    pub fn metric(&self, key: &str) -> Option<f64> {
        self.data
            .metrics
            .iter()
            .find(|m| m.key == key)
            .map(|m| m.value)
    }
}

/// Terminal and running states of an MLflow run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Finished,
    Failed,
    Killed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    /// From a SageMaker job status.
    pub fn from_sagemaker(status: &str) -> RunStatus {
        match status {
            "Completed" => RunStatus::Finished,
            "Failed" => RunStatus::Failed,
            "Stopped" | "Stopping" => RunStatus::Killed,
            _ => RunStatus::Running,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersionInfo {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub run_id: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

/// MLflow's per-request limits of `runs/log-batch`.
const BATCH_METRICS: usize = 1000;
const BATCH_PARAMS: usize = 100;
const BATCH_TAGS: usize = 100;

/// The client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MlflowClient {
    http: reqwest::Client,
    target: TrackingTarget,
    credentials: Option<Credentials>,
}

impl MlflowClient {
    /// A client for `target` (see [`TrackingTarget::parse`]); credentials for a SageMaker
    /// managed server come from the environment.
    pub fn from_uri(target: &str) -> Result<MlflowClient, TrackingError> {
        let target = TrackingTarget::parse(target)?;
        let credentials = match &target {
            TrackingTarget::SageMaker { .. } => {
                Some(Credentials::from_env().ok_or(TrackingError::MissingCredentials)?)
            }
            TrackingTarget::Plain { .. } => None,
        };
        MlflowClient::new(target, credentials, Duration::from_secs(15))
    }

    pub fn new(
        target: TrackingTarget,
        credentials: Option<Credentials>,
        timeout: Duration,
    ) -> Result<MlflowClient, TrackingError> {
        if matches!(target, TrackingTarget::SageMaker { .. }) && credentials.is_none() {
            return Err(TrackingError::MissingCredentials);
        }
        // TLS with rustls' `ring` provider, like the AWS SDK clients of the same binaries (one
        // crypto library per Lambda). Installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| TrackingError::Transport {
                endpoint: target.base().to_string(),
                message: e.to_string(),
            })?;
        Ok(MlflowClient {
            http,
            target,
            credentials,
        })
    }

    pub fn target(&self) -> &TrackingTarget {
        &self.target
    }

    /// The web UI address of a run (plain servers; for a managed server, its ARN and run id).
    pub fn run_url(&self, experiment_id: &str, run_id: &str) -> String {
        match &self.target {
            TrackingTarget::Plain { base } => {
                let base = base.as_str().trim_end_matches('/');
                format!("{base}/#/experiments/{experiment_id}/runs/{run_id}")
            }
            TrackingTarget::SageMaker { arn, .. } => format!("{arn} run {run_id}"),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        endpoint: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Value, TrackingError> {
        let mut url = self
            .target
            .base()
            .join(&format!("api/2.0/mlflow/{endpoint}"))
            .map_err(|e| TrackingError::InvalidTarget {
                target: self.target.base().to_string(),
                reason: e.to_string(),
            })?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        let body_bytes = match body {
            Some(b) => serde_json::to_vec(b).map_err(|e| TrackingError::Decode {
                endpoint: endpoint.to_string(),
                message: e.to_string(),
            })?,
            None => Vec::new(),
        };
        let mut req = self.http.request(method.clone(), url.clone());
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        if let (TrackingTarget::SageMaker { arn, region, .. }, Some(creds)) =
            (&self.target, &self.credentials)
        {
            let host = match (url.host_str(), url.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_string(),
                (None, _) => String::new(),
            };
            let content_sha = sigv4::payload_sha256(&body_bytes);
            let mut headers = vec![
                ("host".to_string(), host),
                ("x-amz-content-sha256".to_string(), content_sha.clone()),
                ("x-mlflow-sm-tracking-server-arn".to_string(), arn.clone()),
            ];
            if body.is_some() {
                headers.push(("content-type".to_string(), "application/json".to_string()));
            }
            let signable = SignableRequest {
                method: method.as_str(),
                path: url.path(),
                query,
                headers: &headers,
                body: &body_bytes,
            };
            let signed = sigv4::sign(
                &signable,
                creds,
                region,
                "sagemaker-mlflow",
                chrono::Utc::now(),
            );
            req = req
                .header("x-amz-content-sha256", content_sha)
                .header("x-mlflow-sm-tracking-server-arn", arn.as_str());
            for (k, v) in signed {
                req = req.header(k, v);
            }
        }
        if body.is_some() {
            req = req.body(body_bytes);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| transport_error(endpoint, &e))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| transport_error(endpoint, &e))?;
        if !status.is_success() {
            let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            return Err(TrackingError::Http {
                endpoint: endpoint.to_string(),
                status: status.as_u16(),
                error_code: parsed["error_code"].as_str().unwrap_or("").to_string(),
                message: parsed["message"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| text.chars().take(300).collect()),
            });
        }
        if text.trim().is_empty() {
            return Ok(json!({}));
        }
        serde_json::from_str(&text).map_err(|e| TrackingError::Decode {
            endpoint: endpoint.to_string(),
            message: e.to_string(),
        })
    }

    async fn post(&self, endpoint: &str, body: Value) -> Result<Value, TrackingError> {
        self.call(reqwest::Method::POST, endpoint, &[], Some(&body))
            .await
    }

    async fn get(&self, endpoint: &str, query: &[(&str, &str)]) -> Result<Value, TrackingError> {
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.call(reqwest::Method::GET, endpoint, &query, None)
            .await
    }

    fn decode<T: serde::de::DeserializeOwned>(
        endpoint: &str,
        value: Value,
    ) -> Result<T, TrackingError> {
        serde_json::from_value(value).map_err(|e| TrackingError::Decode {
            endpoint: endpoint.to_string(),
            message: e.to_string(),
        })
    }

    /// The id of the experiment named `name`, created when missing (race-safe).
    pub async fn get_or_create_experiment(&self, name: &str) -> Result<String, TrackingError> {
        match self
            .get("experiments/get-by-name", &[("experiment_name", name)])
            .await
        {
            Ok(v) => return Self::experiment_id(v),
            Err(e) if e.is_code("RESOURCE_DOES_NOT_EXIST") => {}
            Err(e) => return Err(e),
        }
        match self
            .post("experiments/create", json!({ "name": name }))
            .await
        {
            Ok(v) => v["experiment_id"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| TrackingError::Decode {
                    endpoint: "experiments/create".into(),
                    message: "no experiment_id".into(),
                }),
            Err(e) if e.is_code("RESOURCE_ALREADY_EXISTS") => {
                let v = self
                    .get("experiments/get-by-name", &[("experiment_name", name)])
                    .await?;
                Self::experiment_id(v)
            }
            Err(e) => Err(e),
        }
    }

    fn experiment_id(v: Value) -> Result<String, TrackingError> {
        v["experiment"]["experiment_id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| TrackingError::Decode {
                endpoint: "experiments/get-by-name".into(),
                message: "no experiment.experiment_id".into(),
            })
    }

    /// Starts a run.
    pub async fn create_run(
        &self,
        experiment_id: &str,
        run_name: &str,
        start_time_ms: i64,
        tags: &[KeyValue],
    ) -> Result<RunInfo, TrackingError> {
        let v = self
            .post(
                "runs/create",
                json!({
                    "experiment_id": experiment_id,
                    "run_name": run_name,
                    "start_time": start_time_ms,
                    "tags": tags,
                }),
            )
            .await?;
        Self::decode("runs/create", v["run"]["info"].clone())
    }

    /// Sets a run's status (and end time when terminal).
    pub async fn update_run(
        &self,
        run_id: &str,
        status: RunStatus,
        end_time_ms: Option<i64>,
    ) -> Result<(), TrackingError> {
        let mut body = json!({ "run_id": run_id, "status": status.as_str() });
        if let Some(end) = end_time_ms {
            body["end_time"] = json!(end);
        }
        self.post("runs/update", body).await.map(|_| ())
    }

    /// Logs params, metrics and tags, split into requests within MLflow's batch limits.
    pub async fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[KeyValue],
        tags: &[KeyValue],
    ) -> Result<(), TrackingError> {
        let (mut m, mut p, mut t) = (metrics, params, tags);
        while !(m.is_empty() && p.is_empty() && t.is_empty()) {
            let (pm, rest_p) = p.split_at(p.len().min(BATCH_PARAMS));
            let (tm, rest_t) = t.split_at(t.len().min(BATCH_TAGS));
            let room = BATCH_METRICS - pm.len() - tm.len();
            let (mm, rest_m) = m.split_at(m.len().min(room));
            self.post(
                "runs/log-batch",
                json!({ "run_id": run_id, "metrics": mm, "params": pm, "tags": tm }),
            )
            .await?;
            (m, p, t) = (rest_m, rest_p, rest_t);
        }
        Ok(())
    }

    pub async fn get_run(&self, run_id: &str) -> Result<Run, TrackingError> {
        let v = self.get("runs/get", &[("run_id", run_id)]).await?;
        Self::decode("runs/get", v["run"].clone())
    }

    /// Runs of the experiments matching an MLflow filter string (all pages).
    pub async fn search_runs(
        &self,
        experiment_ids: &[String],
        filter: &str,
    ) -> Result<Vec<Run>, TrackingError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({
                "experiment_ids": experiment_ids,
                "filter": filter,
                "max_results": 1000,
            });
            if let Some(t) = &token {
                body["page_token"] = json!(t);
            }
            let v = self.post("runs/search", body).await?;
            if let Some(runs) = v.get("runs") {
                let runs: Vec<Run> = Self::decode("runs/search", runs.clone())?;
                out.extend(runs);
            }
            match v["next_page_token"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    /// The full history of one metric of a run.
    pub async fn metric_history(
        &self,
        run_id: &str,
        key: &str,
    ) -> Result<Vec<Metric>, TrackingError> {
        let v = self
            .get(
                "metrics/get-history",
                &[("run_id", run_id), ("metric_key", key)],
            )
            .await?;
        match v.get("metrics") {
            Some(m) => Self::decode("metrics/get-history", m.clone()),
            None => Ok(Vec::new()),
        }
    }

    /// Creates the registered model unless it exists.
    pub async fn ensure_registered_model(&self, name: &str) -> Result<(), TrackingError> {
        match self
            .post("registered-models/create", json!({ "name": name }))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_code("RESOURCE_ALREADY_EXISTS") => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn create_model_version(
        &self,
        name: &str,
        source: &str,
        run_id: &str,
        tags: &[KeyValue],
    ) -> Result<ModelVersionInfo, TrackingError> {
        let v = self
            .post(
                "model-versions/create",
                json!({ "name": name, "source": source, "run_id": run_id, "tags": tags }),
            )
            .await?;
        Self::decode("model-versions/create", v["model_version"].clone())
    }

    /// Model versions matching a filter such as `name='m'` or `run_id='...'`.
    pub async fn search_model_versions(
        &self,
        filter: &str,
    ) -> Result<Vec<ModelVersionInfo>, TrackingError> {
        let v = self
            .get("model-versions/search", &[("filter", filter)])
            .await?;
        match v.get("model_versions") {
            Some(m) => Self::decode("model-versions/search", m.clone()),
            None => Ok(Vec::new()),
        }
    }

    pub async fn set_model_version_tag(
        &self,
        name: &str,
        version: &str,
        key: &str,
        value: &str,
    ) -> Result<(), TrackingError> {
        self.post(
            "model-versions/set-tag",
            json!({ "name": name, "version": version, "key": key, "value": value }),
        )
        .await
        .map(|_| ())
    }
}

/// Quotes a value for an MLflow filter string.
pub fn filter_quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        assert!(matches!(
            TrackingTarget::parse("http://127.0.0.1:5000").unwrap(),
            TrackingTarget::Plain { .. }
        ));
        match TrackingTarget::parse(
            "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/team",
        )
        .unwrap()
        {
            TrackingTarget::SageMaker { region, base, .. } => {
                assert_eq!(region, "eu-west-1");
                if std::env::var("SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT").is_err() {
                    assert_eq!(
                        base.as_str(),
                        "https://eu-west-1.experiments.sagemaker.aws/"
                    );
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn rejects_bad_targets_with_a_reason() {
        for bad in [
            "ftp://x",
            "not a uri",
            "arn:aws:s3:::bucket",
            "arn:aws:sagemaker:us-east-1:1:model/x",
            "arn:aws-cn:sagemaker:cn-north-1:1:mlflow-tracking-server/x",
        ] {
            let err = TrackingTarget::parse(bad).unwrap_err();
            assert_eq!(err.name(), "TrackingInvalidTarget", "{bad}");
        }
    }

    #[test]
    fn quotes_filters() {
        assert_eq!(filter_quote("a'b"), "'a\\'b'");
    }

    #[test]
    fn sagemaker_target_without_credentials_is_refused() {
        let t = TrackingTarget::parse("arn:aws:sagemaker:us-east-1:1:mlflow-tracking-server/x")
            .unwrap();
        let err = MlflowClient::new(t, None, Duration::from_secs(1)).unwrap_err();
        assert_eq!(err, TrackingError::MissingCredentials);
    }
}
