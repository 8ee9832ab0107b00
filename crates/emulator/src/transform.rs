//! Batch transform jobs by the SageMaker inference contract: the model's program runs with
//! `serve` on a loopback port; records are sent to `/invocations` after `/ping` answers.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use mdlc_core::S3Uri;
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use crate::error::{ApiError, Problems};
use crate::fields::{self, check_name};
use crate::files;
use crate::http::{BaseUrl, HttpClient};
use crate::jobs::{Inner, JobCell, JobKind, StopKind, now_ms, resolve_program, spawn_job};
use crate::records::{Framing, FramingError, Next, Splitter};
use crate::training::{Exit, run_process};

/// How long one `POST /invocations` may take: SageMaker's default for a transform job
/// (`ModelClientConfig.InvocationsTimeoutInSeconds`, 600 s).
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone)]
struct TransformSpec {
    name: String,
    model_name: String,
    program: PathBuf,
    program_args: Vec<String>,
    model_data: Option<S3Uri>,
    model_env: BTreeMap<String, String>,
    environment: BTreeMap<String, String>,
    max_concurrent: usize,
    max_payload_mb: u64,
    multi_record: bool,
    input: S3Uri,
    /// `S3DataType` ManifestFile: `input` is a manifest naming the objects.
    input_manifest: bool,
    content_type: Option<String>,
    /// `None`: SplitType None (each object whole).
    split: Option<Framing>,
    output: S3Uri,
    accept: Option<String>,
    assemble_lines: bool,
}

fn parse(inner: &Inner, req: &Value) -> Result<TransformSpec, ApiError> {
    let mut p = Problems::new();
    let name = fields::req_str(req, "", "TransformJobName", &mut p).unwrap_or_default();
    if !name.is_empty() {
        check_name(&name, "TransformJobName", 63, &mut p);
    }
    let model_name = fields::req_str(req, "", "ModelName", &mut p).unwrap_or_default();
    let (max_concurrent, max_payload_mb) = parse_limits(req, &mut p);
    let batch = fields::enum_str(
        req,
        "",
        "BatchStrategy",
        &["MultiRecord", "SingleRecord"],
        "SingleRecord",
        &mut p,
    );
    let environment = fields::str_map(req, "", "Environment", &mut p);
    let input = parse_input(req, &mut p);
    let output = parse_output(req, &mut p);
    check_resources_and_processing(req, &mut p);
    let model = if model_name.is_empty() {
        ModelParts::default()
    } else {
        model_parts(inner, &model_name, &mut p)
    };
    p.finish()?;
    let (Some(input_uri), Some(output_uri)) = (input.uri, output.uri) else {
        return Err(ApiError::validation(
            "TransformInput and TransformOutput are required",
        ));
    };
    Ok(TransformSpec {
        name,
        model_name,
        program: model.program,
        program_args: model.program_args,
        model_data: model.model_data,
        model_env: model.model_env,
        environment,
        max_concurrent,
        max_payload_mb,
        multi_record: batch == "MultiRecord",
        input: input_uri,
        input_manifest: input.manifest,
        content_type: input.content_type,
        split: input.split,
        output: output_uri,
        accept: output.accept,
        assemble_lines: output.assemble_lines,
    })
}

/// `MaxConcurrentTransforms` (at least 1 transform at a time) and `MaxPayloadInMB`.
fn parse_limits(req: &Value, p: &mut Problems) -> (usize, u64) {
    let concurrent = fields::opt_u64(req, "", "MaxConcurrentTransforms", 0, 1000, p);
    let max_concurrent = concurrent.unwrap_or(1).max(1) as usize;
    // CreateTransformJob's API reference: MaxPayloadInMB is 0-100, 6 by default, and "if you
    // specify the MaxConcurrentTransforms parameter, the value of (MaxConcurrentTransforms *
    // MaxPayloadInMB) also cannot exceed 100 MB". SageMaker's message for the product was not
    // found; this one is ours.
    let max_payload_mb = fields::opt_u64(req, "", "MaxPayloadInMB", 0, 100, p).unwrap_or(6);
    if let Some(c) = concurrent
        && c * max_payload_mb > 100
    {
        p.push(
            "MaxConcurrentTransforms",
            format!(
                "MaxConcurrentTransforms ({c}) * MaxPayloadInMB ({max_payload_mb}) is {} MB; it cannot exceed 100 MB",
                c * max_payload_mb
            ),
        );
    }
    (max_concurrent, max_payload_mb)
}

/// What `TransformInput` says (its members `None` where missing or refused).
#[derive(Default)]
struct InputParts {
    uri: Option<S3Uri>,
    manifest: bool,
    content_type: Option<String>,
    split: Option<Framing>,
}

/// `TransformInput`: the S3 prefix, its content type and how its objects are split.
fn parse_input(req: &Value, p: &mut Problems) -> InputParts {
    let ti = fields::req_obj(req, "", "TransformInput", p)
        .cloned()
        .unwrap_or(Value::Null);
    let mut parts = InputParts::default();
    if ti.is_null() {
        return parts;
    }
    let at = "TransformInput";
    parts.content_type = fields::opt_str(&ti, at, "ContentType", p);
    parts.split = match fields::enum_str(
        &ti,
        at,
        "SplitType",
        &["None", "Line", "RecordIO", "TFRecord"],
        "None",
        p,
    )
    .as_str()
    {
        "Line" => Some(Framing::Line),
        "RecordIO" => Some(Framing::RecordIo),
        "TFRecord" => Some(Framing::TfRecord),
        _ => None,
    };
    let comp = fields::enum_str(&ti, at, "CompressionType", &["None", "Gzip"], "None", p);
    if comp == "Gzip" {
        p.push(
            "TransformInput.CompressionType",
            "Gzip is not supported by the local emulator",
        );
    }
    if let Some(ds) = fields::req_obj(&ti, at, "DataSource", p)
        && let Some(s3) = fields::req_obj(ds, "TransformInput.DataSource", "S3DataSource", p)
    {
        (parts.uri, parts.manifest) = parse_s3_data_source(s3, p);
    }
    parts
}

/// `TransformInput.DataSource.S3DataSource`: its URI, and whether it is a `ManifestFile` (a
/// prefix otherwise; an `AugmentedManifestFile` is refused).
fn parse_s3_data_source(s3: &Value, p: &mut Problems) -> (Option<S3Uri>, bool) {
    let sp = "TransformInput.DataSource.S3DataSource";
    let ty = fields::enum_str(s3, sp, "S3DataType", fields::S3_DATA_TYPES, "S3Prefix", p);
    if ty == "AugmentedManifestFile" {
        p.push(
            &format!("{sp}.S3DataType"),
            "AugmentedManifestFile is not supported by the local emulator (use S3Prefix or ManifestFile)",
        );
    }
    (fields::req_s3_uri(s3, sp, "S3Uri", p), ty == "ManifestFile")
}

/// What `TransformOutput` says.
#[derive(Default)]
struct OutputParts {
    uri: Option<S3Uri>,
    accept: Option<String>,
    assemble_lines: bool,
}

/// `TransformOutput`: where the results go, their content type and how they are joined.
fn parse_output(req: &Value, p: &mut Problems) -> OutputParts {
    let to = fields::req_obj(req, "", "TransformOutput", p)
        .cloned()
        .unwrap_or(Value::Null);
    let mut parts = OutputParts::default();
    if to.is_null() {
        return parts;
    }
    let at = "TransformOutput";
    if let Some(u) = fields::req_str(&to, at, "S3OutputPath", p) {
        match u.parse::<S3Uri>() {
            Ok(u) => parts.uri = Some(u),
            Err(e) => p.push("TransformOutput.S3OutputPath", e.to_string()),
        }
    }
    parts.accept = fields::opt_str(&to, at, "Accept", p);
    parts.assemble_lines =
        fields::enum_str(&to, at, "AssembleWith", &["None", "Line"], "None", p) == "Line";
    parts
}

/// `TransformResources` (required) and `DataProcessing` (only the default filters and no join).
fn check_resources_and_processing(req: &Value, p: &mut Problems) {
    if let Some(tr) = fields::req_obj(req, "", "TransformResources", p) {
        fields::req_str(tr, "TransformResources", "InstanceType", p);
        fields::req_u64(tr, "TransformResources", "InstanceCount", 1, 100, p);
    }
    if let Some(dp) = fields::opt_obj(req, "", "DataProcessing", p) {
        for (k, default) in [
            ("InputFilter", "$"),
            ("OutputFilter", "$"),
            ("JoinSource", "None"),
        ] {
            if let Some(v) = fields::opt_str(dp, "DataProcessing", k, p)
                && v != default
            {
                p.push(
                    &format!("DataProcessing.{k}"),
                    format!("{v:?} is not supported by the local emulator (only {default:?})"),
                );
            }
        }
    }
}

/// What the model `ModelName` names gives the job: its program, artifacts and environment.
#[derive(Default)]
struct ModelParts {
    program: PathBuf,
    program_args: Vec<String>,
    model_data: Option<S3Uri>,
    model_env: BTreeMap<String, String>,
}

/// The model's parts; a model that does not exist, or whose image has no program, is a problem.
fn model_parts(inner: &Inner, model_name: &str, p: &mut Problems) -> ModelParts {
    let mut parts = ModelParts::default();
    let Some(m) = inner.model(model_name) else {
        p.push(
            "ModelName",
            format!(
                "Could not find model \"{}\".",
                inner.arn("model", model_name)
            ),
        );
        return parts;
    };
    let image = m
        .pointer("/PrimaryContainer/Image")
        .and_then(Value::as_str)
        .unwrap_or("");
    match resolve_program(inner, image, "ModelName") {
        Ok((prog, args)) => {
            parts.program = prog;
            parts.program_args = args;
        }
        Err(e) => p.push("ModelName", format!("has image {image:?}: {e}")),
    }
    parts.model_data = m
        .pointer("/PrimaryContainer/ModelDataUrl")
        .and_then(Value::as_str)
        .and_then(|u| u.parse().ok());
    if let Some(Value::Object(env)) = m.pointer("/PrimaryContainer/Environment") {
        parts.model_env = env
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect();
    }
    parts
}

/// CreateTransformJob.
pub(crate) fn create(
    inner: &Arc<Inner>,
    req: &Value,
) -> Result<(JobKind, Arc<JobCell>, Value), ApiError> {
    let spec = parse(inner, req)?;
    let now = now_ms();
    let arn = inner.job_arn(JobKind::Transform, &spec.name);
    let mut d = Map::new();
    d.insert("TransformJobName".into(), json!(spec.name));
    d.insert("TransformJobArn".into(), json!(arn));
    d.insert("TransformJobStatus".into(), json!("InProgress"));
    d.insert("ModelName".into(), json!(spec.model_name));
    d.insert("MaxConcurrentTransforms".into(), json!(spec.max_concurrent));
    d.insert("MaxPayloadInMB".into(), json!(spec.max_payload_mb));
    d.insert(
        "BatchStrategy".into(),
        json!(if spec.multi_record {
            "MultiRecord"
        } else {
            "SingleRecord"
        }),
    );
    for k in [
        "Environment",
        "TransformInput",
        "TransformOutput",
        "TransformResources",
        "DataProcessing",
        "Tags",
    ] {
        if let Some(v) = fields::get(req, k) {
            d.insert(k.into(), v.clone());
        }
    }
    d.insert("CreationTime".into(), json!(now));
    let cell = inner.register(JobKind::Transform, &spec.name, Value::Object(d))?;
    spawn_job(cell.clone(), run(inner.clone(), cell.clone(), spec));
    Ok((JobKind::Transform, cell, json!({ "TransformJobArn": arn })))
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| format!("no free loopback port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// How much of an input object a transform job reads at a time (a ranged GetObject).
const INPUT_RANGE: u64 = 4 << 20;

/// Groups the records of an object into request payloads as `BatchStrategy` asks: one record a
/// request (SingleRecord), or as many as fit in `MaxPayloadInMB` (MultiRecord); a Line record
/// ends with `\n` in its payload, a framed record (RecordIO, TFRecord) keeps its framing. The
/// records come checked against the limit ([`Splitter`]). It holds at most one payload.
struct Batcher {
    multi: bool,
    max_bytes: usize,
    line_end: bool,
    current: Vec<u8>,
}

impl Batcher {
    fn new(multi: bool, max_bytes: usize, line_end: bool) -> Self {
        Batcher {
            multi,
            max_bytes,
            line_end,
            current: Vec::new(),
        }
    }

    /// Adds a record (a line without its end, or a framed record); returns the payload it
    /// completed, if any.
    fn push(&mut self, record: &[u8]) -> Option<Vec<u8>> {
        let len = record.len() + usize::from(self.line_end);
        if !self.multi {
            let mut v = Vec::with_capacity(len);
            v.extend_from_slice(record);
            if self.line_end {
                v.push(b'\n');
            }
            return Some(v);
        }
        let full = (!self.current.is_empty() && self.current.len() + len > self.max_bytes)
            .then(|| std::mem::take(&mut self.current));
        self.current.extend_from_slice(record);
        if self.line_end {
            self.current.push(b'\n');
        }
        full
    }

    /// The last payload, if records are left.
    fn finish(&mut self) -> Option<Vec<u8>> {
        (!self.current.is_empty()).then(|| std::mem::take(&mut self.current))
    }
}

/// Why a transform job failed.
#[derive(Debug, thiserror::Error)]
enum TransformError {
    /// The model server's answer to a request was not 200 (SageMaker logs
    /// `<bucket>/<key>: ClientError: <status>` and the body, see [`TransformError::log_lines`]).
    #[error("the model server answered POST /invocations for {object} with HTTP {status}: {body}")]
    ModelServer {
        object: String,
        status: u16,
        body: String,
    },
    #[error(transparent)]
    Framing(#[from] FramingError),
    #[error(
        "the object {object} ({size} bytes) is larger than MaxPayloadInMB ({max} bytes); split it with SplitType Line, RecordIO or TFRecord"
    )]
    WholeTooLarge { object: String, size: u64, max: u64 },
    #[error("{0}")]
    Other(String),
}

impl From<String> for TransformError {
    fn from(s: String) -> Self {
        TransformError::Other(s)
    }
}

impl TransformError {
    /// The lines SageMaker writes to a transform job's log for this failure (its
    /// `[sagemaker logs]: <bucket>/<key>: ClientError: 415` lines for a model server's answer).
    fn log_lines(&self) -> Vec<String> {
        match self {
            TransformError::ModelServer {
                object,
                status,
                body,
            } => {
                let at = object.trim_start_matches("s3://");
                let mut lines = vec![
                    format!("[sagemaker logs]: {at}: ClientError: {status}"),
                    format!("[sagemaker logs]: {at}: "),
                    format!("[sagemaker logs]: {at}: Message:"),
                ];
                lines.extend(body.lines().map(|l| format!("[sagemaker logs]: {at}: {l}")));
                lines
            }
            other => vec![format!("[sagemaker logs]: {other}")],
        }
    }
}

/// The payloads of a whole object (what the streaming pass sends, for the unit tests).
#[cfg(test)]
fn batches(
    body: &[u8],
    split: Option<Framing>,
    multi: bool,
    max_bytes: usize,
) -> Result<Vec<Vec<u8>>, FramingError> {
    let Some(framing) = split else {
        return Ok(vec![body.to_vec()]);
    };
    let mut splitter = Splitter::new(
        framing,
        "s3://test/object".into(),
        body.len() as u64,
        max_bytes as u64,
        !multi,
    );
    let mut b = Batcher::new(multi, max_bytes, framing == Framing::Line);
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        match splitter.next(&body[at..], at as u64, true)? {
            Next::Record(f) => {
                let end = if multi { f.end } else { f.single_end };
                out.extend(b.push(&body[at + f.start..at + end]));
                at += f.next;
            }
            Next::Skip { next } => at += next,
            Next::End | Next::NeedMore { .. } => break,
        }
    }
    out.extend(b.finish());
    Ok(out)
}

/// The requests of one object in flight, at most `limit` at a time; their answers are appended
/// to `out` in the order of the payloads (assembled as `AssembleWith` asks) as they come back,
/// so only `limit` payloads and answers are held. Dropping it aborts what is still in flight.
struct InFlight {
    queue: std::collections::VecDeque<tokio::task::JoinHandle<Result<Bytes, TransformError>>>,
    /// The object the requests are made for (errors name it).
    object: String,
    limit: usize,
    out: tokio::fs::File,
    assemble_lines: bool,
    client: HttpClient,
    server_url: BaseUrl,
    content_type: String,
    accept: String,
}

impl InFlight {
    async fn send(&mut self, payload: Vec<u8>) -> Result<(), TransformError> {
        if self.queue.len() >= self.limit {
            self.write_first().await?;
        }
        let (client, server_url) = (self.client.clone(), self.server_url.clone());
        let (ct, ac) = (self.content_type.clone(), self.accept.clone());
        let object = self.object.clone();
        self.queue.push_back(tokio::spawn(async move {
            let r = client
                .request(
                    &server_url,
                    Method::POST,
                    "/invocations",
                    &[("Content-Type", &ct), ("Accept", &ac)],
                    payload,
                    INVOCATION_TIMEOUT,
                )
                .await
                .map_err(|e| TransformError::Other(e.to_string()))?;
            if r.status != 200 {
                return Err(TransformError::ModelServer {
                    object,
                    status: r.status,
                    body: String::from_utf8_lossy(&r.body).chars().take(500).collect(),
                });
            }
            Ok(r.body)
        }));
        Ok(())
    }

    async fn write_first(&mut self) -> Result<(), TransformError> {
        use tokio::io::AsyncWriteExt;
        let Some(first) = self.queue.pop_front() else {
            return Ok(());
        };
        let body = first
            .await
            .map_err(|e| format!("request task failed: {e}"))??;
        let write = |e: std::io::Error| format!("could not write the job's output: {e}");
        if self.assemble_lines {
            let trimmed = body.strip_suffix(b"\n").unwrap_or(&body);
            self.out.write_all(trimmed).await.map_err(write)?;
            self.out.write_all(b"\n").await.map_err(write)?;
        } else {
            self.out.write_all(&body).await.map_err(write)?;
        }
        Ok(())
    }

    /// Waits for every answer and flushes the output.
    async fn finish(&mut self) -> Result<(), TransformError> {
        use tokio::io::AsyncWriteExt;
        while !self.queue.is_empty() {
            self.write_first().await?;
        }
        self.out
            .flush()
            .await
            .map_err(|e| TransformError::Other(format!("could not write the job's output: {e}")))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        for h in &self.queue {
            h.abort();
        }
    }
}

/// Sends the records of object `uri` (`size` bytes) to the model server and writes the answers
/// to the file `spool`; returns how many requests were made. The object is read
/// [`INPUT_RANGE`] bytes at a time when it is split (Line, RecordIO, TFRecord: [`Splitter`]),
/// whole (at most `MaxPayloadInMB`) with SplitType None: memory is bounded by the range, the
/// payload size and the requests in flight, not by the object.
async fn transform_object(
    inner: &Inner,
    spec: &TransformSpec,
    uri: &S3Uri,
    size: u64,
    mut flight: InFlight,
) -> Result<usize, TransformError> {
    // 0: no limit (SageMaker's HTTP chunked encoding for arbitrarily large payloads)
    let max_bytes = match spec.max_payload_mb {
        0 => usize::MAX,
        mb => (mb as usize) * 1024 * 1024,
    };
    let store = &inner.config.store;
    let read_error = |e: mdlc_core::PortError| format!("could not read {uri}: {e}");
    let Some(framing) = spec.split else {
        let too_large = |size: u64| TransformError::WholeTooLarge {
            object: uri.to_string(),
            size,
            max: max_bytes as u64,
        };
        if size > max_bytes as u64 {
            return Err(too_large(size));
        }
        let body = store.get(uri).await.map_err(read_error)?;
        if body.len() > max_bytes {
            return Err(too_large(body.len() as u64));
        }
        flight.send(body).await?;
        flight.finish().await?;
        return Ok(1);
    };
    let single = !spec.multi_record;
    let mut splitter = Splitter::new(framing, uri.to_string(), size, max_bytes as u64, single);
    let mut batcher = Batcher::new(spec.multi_record, max_bytes, framing == Framing::Line);
    let mut n = 0;
    // the object's bytes from `carry_at` on that are read and not yet sent
    let mut carry: Vec<u8> = Vec::new();
    let mut carry_at = 0u64;
    let mut read_at = 0u64;
    let mut last = false;
    loop {
        let mut at = 0;
        let more = loop {
            let rest = &carry[at..];
            if rest.is_empty() && !last {
                break true;
            }
            match splitter.next(rest, carry_at + at as u64, last)? {
                Next::Record(f) => {
                    let end = if single { f.single_end } else { f.end };
                    if let Some(payload) = batcher.push(&rest[f.start..end]) {
                        n += 1;
                        flight.send(payload).await?;
                    }
                    at += f.next;
                }
                Next::Skip { next } => at += next,
                Next::NeedMore { .. } => break true,
                Next::End => break false,
            }
        };
        carry.drain(..at);
        carry_at += at as u64;
        if !more {
            break;
        }
        let part = store
            .get_range(uri, read_at, INPUT_RANGE)
            .await
            .map_err(read_error)?;
        last = (part.len() as u64) < INPUT_RANGE;
        read_at += part.len() as u64;
        carry.extend_from_slice(&part);
    }
    if let Some(payload) = batcher.finish() {
        n += 1;
        flight.send(payload).await?;
    }
    flight.finish().await?;
    Ok(n)
}

async fn wait_ping(
    client: &HttpClient,
    server_url: &BaseUrl,
    server: &tokio::task::JoinHandle<(Exit, Vec<crate::training::MetricPoint>)>,
) -> Result<(), String> {
    let until = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if server.is_finished() {
            return Err("the model server exited before answering GET /ping".into());
        }
        let ping = client.request(
            server_url,
            Method::GET,
            "/ping",
            &[],
            Bytes::new(),
            Duration::from_secs(2),
        );
        if let Ok(r) = ping.await
            && r.status == 200
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > until {
            return Err("the model server did not answer GET /ping with 200 within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The objects to transform, each with its size and its path relative to the input (the name
/// of its `.out` object): those under the prefix, or those the manifest lists, in its order.
async fn input_objects(
    inner: &Inner,
    spec: &TransformSpec,
) -> Result<Vec<(S3Uri, u64, PathBuf)>, String> {
    let store = inner.config.store.as_ref();
    if spec.input_manifest {
        // the job's failure reason says ClientError itself
        let listed = crate::manifest::objects(store, &spec.input, "TransformInput")
            .await
            .map_err(|e| e.trim_start_matches("ClientError: ").to_string())?;
        let mut objects = Vec::with_capacity(listed.len());
        for (rel, uri) in listed {
            let size = store
                .list(&uri)
                .await
                .map_err(|e| format!("could not list {uri}: {e}"))?
                .into_iter()
                .find(|o| o.uri == uri)
                .map(|o| o.size)
                .ok_or_else(|| {
                    format!(
                        "the manifest file {} lists {uri}, which does not exist",
                        spec.input
                    )
                })?;
            objects.push((uri, size, rel));
        }
        return Ok(objects);
    }
    let objects: Vec<_> = store
        .list(&spec.input)
        .await
        .map_err(|e| format!("could not list {}: {e}", spec.input))?
        .into_iter()
        .filter_map(|o| {
            files::relative_path(&spec.input.key, &o.uri.key).map(|r| (o.uri, o.size, r))
        })
        .collect();
    if objects.is_empty() {
        return Err(format!(
            "No S3 objects found under S3 URL \"{}\"",
            spec.input
        ));
    }
    Ok(objects)
}

async fn transform_all(
    inner: &Inner,
    cell: &Arc<JobCell>,
    spec: &TransformSpec,
    client: &HttpClient,
    server_url: &BaseUrl,
) -> Result<usize, String> {
    let objects = input_objects(inner, spec).await?;
    let content_type = spec
        .content_type
        .clone()
        .unwrap_or_else(|| "text/csv".into());
    let accept = spec.accept.clone().unwrap_or_else(|| content_type.clone());
    cell.log(&format!(
        "[sagemaker logs]: MaxConcurrentTransforms={}, MaxPayloadInMB={}, BatchStrategy={}",
        spec.max_concurrent,
        spec.max_payload_mb,
        if spec.multi_record {
            "MULTI_RECORD"
        } else {
            "SINGLE_RECORD"
        }
    ));
    let mut n_records = 0;
    // the answers of one object go to a file in the job's scratch, then to the store
    let spool = cell.dir.join("transform-output.part");
    for (uri, size, rel) in &objects {
        let out = tokio::fs::File::create(&spool)
            .await
            .map_err(|e| format!("could not create {}: {e}", spool.display()))?;
        let flight = InFlight {
            queue: Default::default(),
            object: uri.to_string(),
            limit: spec.max_concurrent,
            out,
            assemble_lines: spec.assemble_lines,
            client: client.clone(),
            server_url: server_url.clone(),
            content_type: content_type.clone(),
            accept: accept.clone(),
        };
        n_records += match transform_object(inner, spec, uri, *size, flight).await {
            Ok(n) => n,
            Err(e) => {
                for line in e.log_lines() {
                    cell.log(&line);
                }
                return Err(e.to_string());
            }
        };
        let target = spec.output.join(&format!("{}.out", rel.display()));
        inner
            .config
            .store
            .put_file(&target, &spool)
            .await
            .map_err(|e| files::upload_error(&target, &e))?;
        let _ = tokio::fs::remove_file(&spool).await;
        cell.log(&format!("transformed {uri} -> {target}"));
    }
    Ok(n_records)
}

async fn run(inner: Arc<Inner>, cell: Arc<JobCell>, spec: TransformSpec) {
    tracing::info!(target: "mdlc_emulator", job = %spec.name, model = %spec.model_name, "transform job started");
    cell.update(|m| {
        m.insert("TransformStartTime".into(), json!(now_ms()));
    });
    let result: Result<usize, String> = async {
        if let Some(rule) = inner.config.faults.failing_rule(&spec.name) {
            return Err(format!("injected failure (MDLC_FAULTS rule fail:{rule})"));
        }
        let model_dir = cell.dir.join("model");
        if let Some(uri) = &spec.model_data {
            let bytes = inner
                .config
                .store
                .get(uri)
                .await
                .map_err(|e| format!("could not download the model data {uri}: {e}"))?;
            let dir = model_dir.clone();
            tokio::task::spawn_blocking(move || files::unpack(&bytes, &dir))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("could not extract the model data {uri}: {e}"))?;
        } else {
            std::fs::create_dir_all(&model_dir).map_err(|e| e.to_string())?;
        }
        let port = free_port()?;
        let mut env = spec.model_env.clone();
        env.extend(spec.environment.clone());
        env.insert("SAGEMAKER_BIND_TO_PORT".into(), port.to_string());
        env.insert("SAGEMAKER_BATCH".into(), "true".into());
        env.insert(
            "SAGEMAKER_MAX_PAYLOAD_IN_MB".into(),
            spec.max_payload_mb.to_string(),
        );
        env.insert(
            "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS".into(),
            spec.max_concurrent.to_string(),
        );
        env.insert("MDLC_OPT_ML".into(), cell.dir.display().to_string());
        env.insert("SM_MODEL_DIR".into(), model_dir.display().to_string());
        let mut args = spec.program_args.clone();
        args.push("serve".into());
        let (stop_tx, stop_rx) = watch::channel(None);
        let (c2, prog, dir) = (cell.clone(), spec.program.clone(), cell.dir.clone());
        let pids = inner.config.pids.clone();
        let server = tokio::spawn(async move {
            run_process(
                &c2,
                &pids,
                &prog,
                &args,
                &env,
                &dir,
                None,
                &[],
                |_, _, _| {},
                stop_rx,
            )
            .await
        });
        let mut job_stop = cell.stop_receiver();
        let work = async {
            let client = HttpClient::new();
            let server_url = BaseUrl::loopback(port);
            wait_ping(&client, &server_url, &server).await?;
            transform_all(&inner, &cell, &spec, &client, &server_url).await
        };
        let outcome = tokio::select! {
            r = work => r,
            _ = job_stop.wait_for(Option::is_some) => Err("stopped".to_string()),
        };
        stop_tx.send_replace(Some(StopKind::User));
        let _ = server.await;
        outcome
    }
    .await;
    let stopped = cell.stop_requested().is_some();
    let (status, reason) = match (&result, stopped) {
        (_, true) => ("Stopped", None),
        (Ok(_), false) => ("Completed", None),
        (Err(e), false) => ("Failed", Some(format!("ClientError: {e}"))),
    };
    if let Some(r) = &reason {
        cell.log(r);
    }
    cell.update(|m| {
        m.insert("TransformJobStatus".into(), json!(status));
        m.insert("TransformEndTime".into(), json!(now_ms()));
        if let Some(r) = &reason {
            m.insert("FailureReason".into(), json!(r));
        }
    });
    tracing::info!(target: "mdlc_emulator", job = %spec.name, status, records = result.as_ref().copied().unwrap_or(0), "transform job finished");
    cell.finish();
}

#[cfg(test)]
mod tests {
    use super::{Framing, batches};
    use crate::records::{encode_recordio, encode_tfrecord};

    #[test]
    fn given_lines_when_batched_then_strategies_and_payload_limits_apply() {
        let body = b"1,2\n3,4\r\n\n5,6\n";
        let line = Some(Framing::Line);
        assert_eq!(
            batches(body, line, false, 100).unwrap(),
            vec![b"1,2\n".to_vec(), b"3,4\n".to_vec(), b"5,6\n".to_vec()]
        );
        assert_eq!(
            batches(body, line, true, 100).unwrap(),
            vec![b"1,2\n3,4\n5,6\n".to_vec()]
        );
        assert_eq!(
            batches(body, line, true, 8).unwrap(),
            vec![b"1,2\n3,4\n".to_vec(), b"5,6\n".to_vec()]
        );
        assert!(batches(body, line, true, 3).is_err());
        assert_eq!(batches(body, None, true, 100).unwrap().len(), 1);
    }

    #[test]
    fn given_framed_records_when_batched_then_they_keep_their_framing() {
        let records: Vec<Vec<u8>> = [b"ab".as_slice(), b"cdefg", b"h"]
            .iter()
            .map(|r| encode_tfrecord(r))
            .collect();
        let body = records.concat();
        let tf = Some(Framing::TfRecord);
        assert_eq!(batches(&body, tf, false, 100).unwrap(), records);
        // 18 + 21 bytes fit in 40; the third (17) does not
        assert_eq!(
            batches(&body, tf, true, 40).unwrap(),
            vec![records[..2].concat(), records[2].clone()]
        );
        let rio: Vec<Vec<u8>> = [b"ab".as_slice(), b"cdefg"]
            .iter()
            .map(|r| encode_recordio(r))
            .collect();
        let body = rio.concat();
        let io = Some(Framing::RecordIo);
        // MultiRecord: as the object has them, padding and all
        assert_eq!(batches(&body, io, true, 100).unwrap(), vec![body.clone()]);
        // SingleRecord: each without its last padding
        assert_eq!(
            batches(&body, io, false, 100).unwrap(),
            vec![rio[0][..10].to_vec(), rio[1][..13].to_vec()]
        );
    }
}
