//! Training jobs by the SageMaker container contract.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use mdlc_core::S3Uri;
use mdlc_proc::PidBook;
use mdlc_proc::signal::{Signal, signal_group};
use mdlc_trainer::fsio::write_atomically;
use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

use crate::error::{ApiError, Problems};
use crate::fields::{self, check_name};
use crate::files;
use crate::jobs::{Inner, JobCell, JobKind, StopKind, now_ms, resolve_program, spawn_job};
use crate::metrics::{self, MetricDef};

/// A metric value seen in a job's log.
#[derive(Debug, Clone)]
pub(crate) struct Observation {
    pub job: String,
    pub metric: String,
    pub value: f64,
    /// 1-based count of this metric's values so far in the job (its "epoch").
    pub index: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum ChannelSource {
    S3 {
        uri: S3Uri,
    },
    /// A manifest object: `[{"prefix": "s3://bucket/prefix/"}, "relative/key", ...]`.
    Manifest {
        uri: S3Uri,
    },
    FileSystem {
        local: PathBuf,
        read_only: bool,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Channel {
    pub name: String,
    pub source: ChannelSource,
    pub input_config: Value,
    /// `ShuffleConfig.Seed` ([`crate::shuffle`]).
    pub shuffle_seed: Option<i64>,
}

/// A validated CreateTrainingJob request.
#[derive(Debug, Clone)]
pub(crate) struct TrainingSpec {
    pub name: String,
    pub image: String,
    pub program: PathBuf,
    pub program_args: Vec<String>,
    pub metric_defs: Vec<MetricDef>,
    pub hyperparameters: BTreeMap<String, String>,
    pub environment: BTreeMap<String, String>,
    pub channels: Vec<Channel>,
    pub output_path: S3Uri,
    pub instance_type: String,
    pub max_runtime: u64,
}

/// The program (and its leading arguments) for a job's image; a failure is reported
/// against `field`.
pub(crate) fn program_for_image(
    inner: &Inner,
    image: &str,
    field: &str,
    p: &mut Problems,
) -> Option<(PathBuf, Vec<String>)> {
    match resolve_program(inner, image, field) {
        Ok(program) => Some(program),
        Err(e) => {
            p.push(field, e.trim_start_matches(&format!("'{field}' ")));
            None
        }
    }
}

fn channel_name_ok(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Validates a CreateTrainingJob request (every problem in one `ValidationException`).
pub(crate) fn parse(inner: &Inner, req: &Value) -> Result<TrainingSpec, ApiError> {
    let mut p = Problems::new();
    let name = fields::req_str(req, "", "TrainingJobName", &mut p).unwrap_or_default();
    if !name.is_empty() {
        check_name(&name, "TrainingJobName", 63, &mut p);
    }
    let algo = fields::req_obj(req, "", "AlgorithmSpecification", &mut p)
        .cloned()
        .unwrap_or(Value::Null);
    let a = "AlgorithmSpecification";
    if fields::get(&algo, "AlgorithmName").is_some() {
        p.push(
            &format!("{a}.AlgorithmName"),
            "is not supported by the local emulator; give TrainingImage",
        );
    }
    let image = if algo.is_null() {
        String::new()
    } else {
        fields::req_str(&algo, a, "TrainingImage", &mut p).unwrap_or_default()
    };
    let mode = fields::enum_str(
        &algo,
        a,
        "TrainingInputMode",
        &["File", "FastFile", "Pipe"],
        "File",
        &mut p,
    );
    let mut metric_defs = Vec::new();
    let (mut program, mut program_args) = (PathBuf::new(), Vec::new());
    if !image.is_empty() {
        if crate::config::is_builtin_xgboost(&inner.config.images, &image) {
            metric_defs = metrics::builtin_xgboost();
        }
        if let Some((prog, args)) = program_for_image(
            inner,
            &image,
            "AlgorithmSpecification.TrainingImage",
            &mut p,
        ) {
            program = prog;
            program_args = args;
        }
    }
    let defs_list = fields::opt_array(&algo, a, "MetricDefinitions", &mut p);
    for d in metrics::parse_definitions(defs_list, &format!("{a}.MetricDefinitions"), &mut p) {
        metric_defs.retain(|m| m.name != d.name);
        metric_defs.push(d);
    }
    let role = fields::req_str(req, "", "RoleArn", &mut p).unwrap_or_default();
    if !role.is_empty() && !crate::fields::is_role_arn(&role) {
        p.push(
            "RoleArn",
            format!("has value {role:?}, which is not an IAM role ARN"),
        );
    }
    let hyperparameters = fields::str_map(req, "", "HyperParameters", &mut p);
    if hyperparameters.len() > 100 {
        p.push("HyperParameters", "must have at most 100 entries");
    }
    let environment = fields::str_map(req, "", "Environment", &mut p);
    let out = fields::req_obj(req, "", "OutputDataConfig", &mut p)
        .cloned()
        .unwrap_or(Value::Null);
    let mut output_path = S3Uri::new("invalid", "");
    let out_path = if out.is_null() {
        None
    } else {
        fields::req_str(&out, "OutputDataConfig", "S3OutputPath", &mut p)
    };
    if let Some(s) = out_path {
        match s.parse::<S3Uri>() {
            Ok(u) => output_path = u,
            Err(e) => p.push("OutputDataConfig.S3OutputPath", e.to_string()),
        }
    }
    let rc = fields::req_obj(req, "", "ResourceConfig", &mut p)
        .cloned()
        .unwrap_or(Value::Null);
    let mut instance_type = String::new();
    if !rc.is_null() {
        instance_type =
            fields::req_str(&rc, "ResourceConfig", "InstanceType", &mut p).unwrap_or_default();
        if fields::req_u64(&rc, "ResourceConfig", "InstanceCount", 1, 100, &mut p)
            .is_some_and(|n| n > 1)
        {
            p.push(
                "ResourceConfig.InstanceCount",
                "above 1 (distributed training) is not supported by the local emulator",
            );
        }
        fields::req_u64(&rc, "ResourceConfig", "VolumeSizeInGB", 1, 16384, &mut p);
    }
    let sc = fields::req_obj(req, "", "StoppingCondition", &mut p)
        .cloned()
        .unwrap_or(Value::Null);
    let max_runtime = if sc.is_null() {
        0
    } else {
        fields::opt_u64(
            &sc,
            "StoppingCondition",
            "MaxRuntimeInSeconds",
            1,
            2_419_200,
            &mut p,
        )
        .unwrap_or(86_400)
    };
    let has_vpc = crate::vpc::check(req, "", &mut p);
    let channels = parse_channels(inner, req, &mode, has_vpc, &mut p);
    p.finish()?;
    for c in &channels {
        let file_system = matches!(c.source, ChannelSource::FileSystem { .. });
        crate::pipe::check_input_mode(&c.name, &c.input_config, file_system)?;
    }
    Ok(TrainingSpec {
        name,
        image,
        program,
        program_args,
        metric_defs,
        hyperparameters,
        environment,
        channels,
        output_path,
        instance_type,
        max_runtime,
    })
}

/// SageMaker's `FileSystemId` (API reference, `FileSystemDataSource`): 11-21 characters
/// matching `fs-[0-9a-f]{8,}`.
fn file_system_id_ok(id: &str) -> bool {
    (11..=21).contains(&id.len())
        && id
            .strip_prefix("fs-")
            .is_some_and(|hex| hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// The local directory of a file system: its own entry, else `<"*" root>/<FileSystemId>`.
fn file_system_root(inner: &Inner, id: &str) -> Option<PathBuf> {
    let systems = &inner.config.file_systems;
    systems
        .get(id)
        .cloned()
        .or_else(|| systems.get("*").map(|root| root.join(id)))
}

/// A channel's `ShuffleConfig.Seed`: `ShuffleConfig` is optional, its `Seed` required and a
/// Long (API reference, `ShuffleConfig`). The wording of the problems is the emulator's, as for
/// every field: SageMaker's own messages for them were not found.
fn shuffle_seed(ch: &Value, at: &str, p: &mut Problems) -> Option<i64> {
    let sc = fields::opt_obj(ch, at, "ShuffleConfig", p)?;
    let field = format!("{at}.ShuffleConfig.Seed");
    match fields::get(sc, "Seed") {
        None => {
            p.push(&field, "is required");
            None
        }
        Some(v) => match v.as_i64() {
            Some(seed) => Some(seed),
            None => {
                p.push(
                    &field,
                    format!("must be a Long (a whole number from -2^63 to 2^63-1), got {v}"),
                );
                None
            }
        },
    }
}

fn parse_channels(
    inner: &Inner,
    req: &Value,
    mode: &str,
    has_vpc: bool,
    p: &mut Problems,
) -> Vec<Channel> {
    let list = fields::opt_array(req, "", "InputDataConfig", p);
    if list.len() > 20 {
        p.push("InputDataConfig", "must have at most 20 channels");
    }
    let mut out: Vec<Channel> = Vec::new();
    for (i, ch) in list.iter().enumerate() {
        let at = format!("InputDataConfig[{i}]");
        let Some(name) = fields::req_str(ch, &at, "ChannelName", p) else {
            continue;
        };
        if !channel_name_ok(&name) {
            p.push(&format!("{at}.ChannelName"), format!("has value {name:?}, which must match [A-Za-z0-9\\.\\-_]+ (at most 64 characters)"));
        }
        if out.iter().any(|c| c.name == name) {
            p.push(
                &format!("{at}.ChannelName"),
                format!("{name:?} is used by more than one channel"),
            );
        }
        let content_type = fields::opt_str(ch, &at, "ContentType", p);
        let compression =
            fields::enum_str(ch, &at, "CompressionType", &["None", "Gzip"], "None", p);
        let input_mode =
            fields::opt_str(ch, &at, "InputMode", p).unwrap_or_else(|| mode.to_string());
        let shuffle_seed = shuffle_seed(ch, &at, p);
        let Some(ds) = fields::req_obj(ch, &at, "DataSource", p) else {
            continue;
        };
        let dsp = format!("{at}.DataSource");
        let s3 = fields::opt_obj(ds, &dsp, "S3DataSource", p);
        let fs = fields::opt_obj(ds, &dsp, "FileSystemDataSource", p);
        let source = match (s3, fs) {
            (Some(s3), None) => s3_source(s3, &format!("{dsp}.S3DataSource"), &input_mode, p),
            (None, Some(fs)) => {
                let fp = format!("{dsp}.FileSystemDataSource");
                crate::fast_file::check_file_system(&input_mode, &at, p);
                if !has_vpc {
                    crate::vpc::require_for_file_system(&at, &name, p);
                }
                file_system_source(inner, fs, &fp, p)
            }
            _ => {
                p.push(
                    &dsp,
                    "needs exactly one of S3DataSource or FileSystemDataSource",
                );
                None
            }
        };
        let Some((source, distribution)) = source else {
            continue;
        };
        out.push(Channel {
            name,
            source,
            input_config: input_config(content_type, &input_mode, &distribution, &compression),
            shuffle_seed,
        });
    }
    out
}

/// A channel's input configuration as the container sees it (`inputdataconfig.json`).
fn input_config(
    content_type: Option<String>,
    input_mode: &str,
    distribution: &str,
    compression: &str,
) -> Value {
    let mut cfg = Map::new();
    if let Some(ct) = content_type {
        cfg.insert("ContentType".into(), json!(ct));
    }
    cfg.insert("TrainingInputMode".into(), json!(input_mode));
    cfg.insert("S3DistributionType".into(), json!(distribution));
    cfg.insert("RecordWrapperType".into(), json!("None"));
    cfg.insert("CompressionType".into(), json!(compression));
    Value::Object(cfg)
}

/// An `S3DataSource` (at `sp`): its objects (or the manifest's) and its distribution type.
fn s3_source(
    s3: &Value,
    sp: &str,
    input_mode: &str,
    p: &mut Problems,
) -> Option<(ChannelSource, String)> {
    let ty = fields::enum_str(s3, sp, "S3DataType", fields::S3_DATA_TYPES, "S3Prefix", p);
    if fields::get(s3, "S3DataType").is_none() {
        p.push(&format!("{sp}.S3DataType"), "is required");
    }
    if ty == "AugmentedManifestFile" && input_mode == crate::fast_file::FAST_FILE {
        p.push(
            &format!("{sp}.S3DataType"),
            crate::fast_file::AUGMENTED_NEEDS_PIPE,
        );
    } else if ty == "AugmentedManifestFile" {
        p.push(
            &format!("{sp}.S3DataType"),
            "AugmentedManifestFile is not supported by the local emulator (use S3Prefix or ManifestFile)",
        );
    }
    let dist = fields::enum_str(
        s3,
        sp,
        "S3DataDistributionType",
        &["FullyReplicated", "ShardedByS3Key"],
        "FullyReplicated",
        p,
    );
    let uri = fields::req_s3_uri(s3, sp, "S3Uri", p)?;
    let source = if ty == "ManifestFile" {
        ChannelSource::Manifest { uri }
    } else {
        ChannelSource::S3 { uri }
    };
    Some((source, dist))
}

/// A `FileSystemDataSource` (at `fp`): the local directory the emulator maps its file system
/// to, read-only unless `rw`; always `FullyReplicated`.
fn file_system_source(
    inner: &Inner,
    fs: &Value,
    fp: &str,
    p: &mut Problems,
) -> Option<(ChannelSource, String)> {
    let id = fields::req_str(fs, fp, "FileSystemId", p).unwrap_or_default();
    if !id.is_empty() && !file_system_id_ok(&id) {
        p.push(
            &format!("{fp}.FileSystemId"),
            format!("has value {id:?}, which must match fs-[0-9a-f]{{8,}} (11 to 21 characters)"),
        );
    }
    let access = fields::enum_str(fs, fp, "FileSystemAccessMode", &["rw", "ro"], "ro", p);
    if fields::get(fs, "FileSystemAccessMode").is_none() {
        p.push(&format!("{fp}.FileSystemAccessMode"), "is required");
    }
    if fields::get(fs, "FileSystemType").is_none() {
        p.push(&format!("{fp}.FileSystemType"), "is required");
    }
    fields::enum_str(fs, fp, "FileSystemType", &["EFS", "FSxLustre"], "EFS", p);
    let dir = fields::req_str(fs, fp, "DirectoryPath", p).unwrap_or_default();
    let Some(root) = file_system_root(inner, &id) else {
        if !id.is_empty() {
            p.push(
                &format!("{fp}.FileSystemId"),
                format!(
                    "{id:?} has no local directory in the emulator configuration (file_systems)"
                ),
            );
        }
        return None;
    };
    let rel = Path::new(dir.trim_start_matches('/'));
    if rel
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        p.push(&format!("{fp}.DirectoryPath"), "must not contain '..'");
        return None;
    }
    let source = ChannelSource::FileSystem {
        local: root.join(rel),
        read_only: access == "ro",
    };
    Some((source, "FullyReplicated".to_string()))
}

/// The first Describe* document of a training job.
fn initial_describe(
    inner: &Inner,
    req: &Value,
    spec: &TrainingSpec,
    tuning_arn: Option<&str>,
) -> Value {
    let now = now_ms();
    let mut d = Map::new();
    d.insert("TrainingJobName".into(), json!(spec.name));
    d.insert(
        "TrainingJobArn".into(),
        json!(inner.job_arn(JobKind::Training, &spec.name)),
    );
    if let Some(t) = tuning_arn {
        d.insert("TuningJobArn".into(), json!(t));
    }
    d.insert("TrainingJobStatus".into(), json!("InProgress"));
    d.insert("SecondaryStatus".into(), json!("Starting"));
    d.insert("HyperParameters".into(), json!(spec.hyperparameters));
    for key in [
        "AlgorithmSpecification",
        "RoleArn",
        "InputDataConfig",
        "OutputDataConfig",
        "ResourceConfig",
        "StoppingCondition",
        "Environment",
        "VpcConfig",
        "Tags",
    ] {
        if let Some(v) = fields::get(req, key) {
            d.insert(key.into(), v.clone());
        }
    }
    for key in [
        "EnableNetworkIsolation",
        "EnableInterContainerTrafficEncryption",
        "EnableManagedSpotTraining",
    ] {
        d.insert(
            key.into(),
            fields::get(req, key).cloned().unwrap_or(json!(false)),
        );
    }
    d.insert("CreationTime".into(), json!(now));
    d.insert("LastModifiedTime".into(), json!(now));
    d.insert(
        "SecondaryStatusTransitions".into(),
        json!([{"Status": "Starting", "StartTime": now, "StatusMessage": "Preparing the instances for training"}]),
    );
    Value::Object(d)
}

/// Sets `SecondaryStatus` and records the transition.
pub(crate) fn set_secondary(cell: &JobCell, status: &str, message: &str) {
    let now = now_ms();
    cell.update(|m| {
        m.insert("SecondaryStatus".into(), json!(status));
        if let Some(Value::Array(t)) = m.get_mut("SecondaryStatusTransitions") {
            if let Some(Value::Object(last)) = t.last_mut() {
                last.insert("EndTime".into(), json!(now));
            }
            t.push(json!({"Status": status, "StartTime": now, "StatusMessage": message}));
        }
    });
}

/// Validates and registers a training job (not started). `tuning_arn` links it to a tuning job.
pub(crate) fn prepare(
    inner: &Arc<Inner>,
    req: &Value,
    tuning_arn: Option<&str>,
) -> Result<(Arc<JobCell>, TrainingSpec), ApiError> {
    let spec = parse(inner, req)?;
    let cell = inner.register(
        JobKind::Training,
        &spec.name,
        initial_describe(inner, req, &spec, tuning_arn),
    )?;
    Ok((cell, spec))
}

/// CreateTrainingJob.
pub(crate) fn create(
    inner: &Arc<Inner>,
    req: &Value,
) -> Result<(JobKind, Arc<JobCell>, Value), ApiError> {
    let (cell, spec) = prepare(inner, req, None)?;
    let arn = inner.job_arn(JobKind::Training, &spec.name);
    spawn_job(cell.clone(), run(inner.clone(), cell.clone(), spec, None));
    Ok((JobKind::Training, cell, json!({ "TrainingJobArn": arn })))
}

/// How a job's process ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Exit {
    Exited { code: Option<i32>, success: bool },
    TimedOut,
    Stopped(StopKind),
    SpawnFailed(String),
}

/// A metric value with its time.
#[derive(Debug, Clone)]
pub(crate) struct MetricPoint {
    pub name: String,
    pub value: f64,
    pub timestamp: i64,
}

/// SIGTERM to the job's process group, SIGKILL two seconds later (SageMaker waits 120 s).
fn terminate(pid: Option<u32>) {
    if let Some(pid) = pid {
        let _ = signal_group(pid, Signal::Term);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let _ = signal_group(pid, Signal::Kill);
        });
    }
}

/// Runs `program args` in its own process group, logging every output line to the job and
/// reading metrics with `defs`; enforces `max_runtime` and stop requests. The process dies with
/// this one and is recorded in `pids` while it runs (see [`mdlc_proc::spawn`]); nothing of its
/// group outlives the job.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_process(
    cell: &JobCell,
    pids: &PidBook,
    program: &Path,
    args: &[String],
    env: &BTreeMap<String, String>,
    cwd: &Path,
    max_runtime: Option<u64>,
    defs: &[MetricDef],
    mut on_metric: impl FnMut(&str, f64, usize),
    mut stop_rx: tokio::sync::watch::Receiver<Option<StopKind>>,
) -> (Exit, Vec<MetricPoint>) {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .current_dir(cwd)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let what = format!(
        "{} {} ({})",
        cell.kind.label(),
        cell.name,
        program.display()
    );
    // On this task's worker thread (never a spawn_blocking thread: the parent-death signal
    // fires when the spawning thread ends).
    let (mut child, guard) = match mdlc_proc::spawn(&mut cmd, Some(pids), &what) {
        Ok(spawned) => spawned,
        Err(e) => return (Exit::SpawnFailed(e.to_string()), Vec::new()),
    };
    let pid = guard.pid();
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    if let Some(out) = child.stdout.take() {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(out).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
    }
    if let Some(err) = child.stderr.take() {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(err).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let limit = Duration::from_secs(max_runtime.unwrap_or(u64::MAX).min(100 * 365 * 86_400));
    let deadline = tokio::time::Instant::now() + limit;
    let mut grace = tokio::time::Instant::now() + limit;
    let mut stop_open = true;
    let mut lines_open = true;
    let mut waited: Option<std::io::Result<std::process::ExitStatus>> = None;
    let already = *stop_rx.borrow_and_update();
    let mut forced: Option<Exit> = already.map(Exit::Stopped);
    if forced.is_some() {
        terminate(pid);
    }
    let mut points: Vec<MetricPoint> = Vec::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    loop {
        if waited.is_some() && !lines_open {
            break;
        }
        tokio::select! {
            line = rx.recv(), if lines_open => match line {
                Some(l) => {
                    cell.log(&l);
                    for (name, value) in metrics::scan_line(defs, &l) {
                        let n = counts.entry(name.clone()).or_insert(0);
                        *n += 1;
                        tracing::debug!(target: "mdlc_emulator", job = %cell.name, metric = %name, value, "metric");
                        on_metric(&name, value, *n);
                        points.push(MetricPoint { name, value, timestamp: now_ms() });
                    }
                }
                None => lines_open = false,
            },
            st = child.wait(), if waited.is_none() => {
                waited = Some(st);
                grace = tokio::time::Instant::now() + Duration::from_secs(2);
            }
            _ = tokio::time::sleep_until(grace), if waited.is_some() => break,
            _ = tokio::time::sleep_until(deadline), if waited.is_none() && forced.is_none() => {
                cell.log(&format!("MaxRuntimeInSeconds ({}) exceeded: stopping the job", limit.as_secs()));
                forced = Some(Exit::TimedOut);
                terminate(pid);
            }
            changed = stop_rx.changed(), if stop_open && waited.is_none() && forced.is_none() => {
                match changed {
                    Err(_) => stop_open = false,
                    Ok(()) => {
                        let requested = *stop_rx.borrow();
                        if let Some(kind) = requested {
                            forced = Some(Exit::Stopped(kind));
                            terminate(pid);
                        }
                    }
                }
            }
        }
    }
    // Nothing of the job may outlive it (children that kept the pipes open): the guard kills
    // what is left of the group and removes the job's record from the pid book.
    drop(guard);
    let exit = match (forced, waited) {
        (Some(f), _) => f,
        (None, Some(Ok(st))) => Exit::Exited {
            code: st.code(),
            success: st.success(),
        },
        (None, Some(Err(e))) => {
            Exit::SpawnFailed(format!("could not wait for {}: {e}", program.display()))
        }
        (None, None) => Exit::SpawnFailed("the job process vanished".into()),
    };
    (exit, points)
}

fn env_key(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes `/opt/ml/input/config/*` (each file atomically: a full disk leaves none half written,
/// and the error names the step and the file) and builds the training toolkit environment.
fn write_config(
    dir: &Path,
    spec: &TrainingSpec,
    arn: &str,
) -> std::io::Result<BTreeMap<String, String>> {
    let config = dir.join("input/config");
    std::fs::create_dir_all(&config)?;
    for sub in ["model", "output/data", "input/data", "output/intermediate"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    write_atomically(
        &config.join("hyperparameters.json"),
        &serde_json::to_vec_pretty(&spec.hyperparameters)?,
    )?;
    let input: Map<String, Value> = spec
        .channels
        .iter()
        .map(|c| (c.name.clone(), c.input_config.clone()))
        .collect();
    write_atomically(
        &config.join("inputdataconfig.json"),
        &serde_json::to_vec_pretty(&input)?,
    )?;
    let resource = json!({
        "current_host": "algo-1",
        "current_instance_type": spec.instance_type,
        "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1"],
        "instance_groups": [{"instance_group_name": "homogeneousCluster", "instance_type": spec.instance_type, "hosts": ["algo-1"]}],
        "network_interface_name": "eth0",
    });
    write_atomically(
        &config.join("resourceconfig.json"),
        &serde_json::to_vec_pretty(&resource)?,
    )?;
    let hps: Map<String, Value> = spec
        .hyperparameters
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                serde_json::from_str::<Value>(v).unwrap_or_else(|_| json!(v)),
            )
        })
        .collect();
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let d = |p: &str| dir.join(p).display().to_string();
    let mut env = BTreeMap::new();
    env.extend(spec.environment.clone());
    env.insert("MDLC_OPT_ML".into(), dir.display().to_string());
    env.insert("SM_MODEL_DIR".into(), d("model"));
    env.insert("SM_INPUT_DIR".into(), d("input"));
    env.insert("SM_INPUT_CONFIG_DIR".into(), d("input/config"));
    env.insert("SM_OUTPUT_DIR".into(), d("output"));
    env.insert("SM_OUTPUT_DATA_DIR".into(), d("output/data"));
    env.insert(
        "SM_OUTPUT_INTERMEDIATE_DIR".into(),
        d("output/intermediate"),
    );
    env.insert(
        "SM_CHANNELS".into(),
        json!(spec.channels.iter().map(|c| &c.name).collect::<Vec<_>>()).to_string(),
    );
    for c in &spec.channels {
        env.insert(
            format!("SM_CHANNEL_{}", env_key(&c.name)),
            d(&format!("input/data/{}", c.name)),
        );
    }
    env.insert("SM_HPS".into(), Value::Object(hps).to_string());
    for (k, v) in &spec.hyperparameters {
        env.insert(format!("SM_HP_{}", env_key(k)), v.clone());
    }
    env.insert(
        "SM_INPUT_DATA_CONFIG".into(),
        Value::Object(input).to_string(),
    );
    env.insert("SM_RESOURCE_CONFIG".into(), resource.to_string());
    env.insert("SM_NUM_CPUS".into(), cpus.to_string());
    env.insert("SM_NUM_GPUS".into(), "0".into());
    env.insert("SM_CURRENT_HOST".into(), "algo-1".into());
    env.insert("SM_HOSTS".into(), "[\"algo-1\"]".into());
    env.insert("SM_NETWORK_INTERFACE_NAME".into(), "eth0".into());
    env.insert("TRAINING_JOB_NAME".into(), spec.name.clone());
    env.insert("TRAINING_JOB_ARN".into(), arn.to_string());
    Ok(env)
}

/// Whether a channel is in FastFile mode (its own `InputMode`, else the job's).
fn is_fast_file(c: &Channel) -> bool {
    c.input_config
        .get("TrainingInputMode")
        .and_then(Value::as_str)
        == Some(crate::fast_file::FAST_FILE)
}

/// A FastFile channel: the objects of its prefix or manifest linked into `dest`, not copied.
async fn link_fast_file(
    inner: &Inner,
    cell: &JobCell,
    source: &ChannelSource,
    uri: &S3Uri,
    dest: &Path,
    channel: &str,
) -> Result<(), String> {
    let store = inner.config.store.as_ref();
    let copied = if matches!(source, ChannelSource::Manifest { .. }) {
        let items = crate::manifest::objects(inner.config.store.as_ref(), uri, channel).await?;
        crate::fast_file::present(store, &items, dest).await?
    } else {
        crate::fast_file::link_prefix(store, uri, dest, channel).await?
    };
    if copied > 0 {
        cell.log(&format!(
            "FastFile channel {channel}: the object store keeps no local files, so {copied} object(s) were copied as in File mode"
        ));
    }
    Ok(())
}

async fn fetch_channels(
    inner: &Inner,
    cell: &JobCell,
    dir: &Path,
    spec: &TrainingSpec,
) -> Result<Vec<crate::pipe::PipeFeed>, String> {
    let mut feeds = Vec::new();
    for c in &spec.channels {
        if crate::pipe::input_mode(&c.input_config) == "Pipe" {
            feeds.push(pipe_channel(inner, dir, c).await?);
            continue;
        }
        let dest = dir.join("input/data").join(&c.name);
        match &c.source {
            ChannelSource::S3 { uri } | ChannelSource::Manifest { uri } if is_fast_file(c) => {
                link_fast_file(inner, cell, &c.source, uri, &dest, &c.name).await?;
            }
            ChannelSource::S3 { uri } => {
                // SageMaker's FailureReason for a failed input download reads
                // "ClientError: Data download failed:<why>"
                let n = files::download_prefix(inner.config.store.as_ref(), uri, &dest)
                    .await
                    .map_err(|e| format!("ClientError: Data download failed:{e}"))?;
                if n == 0 {
                    return Err(format!(
                        "ClientError: No S3 objects found under S3 URL \"{uri}\" given in input data source (channel {})",
                        c.name
                    ));
                }
            }
            ChannelSource::Manifest { uri } => {
                download_manifest(inner, uri, &dest, &c.name).await?;
            }
            ChannelSource::FileSystem { local, read_only } => {
                if !local.is_dir() {
                    return Err(format!(
                        "ClientError: the file system directory {} of channel {} does not exist",
                        local.display(),
                        c.name
                    ));
                }
                let (local, dest, ro) = (local.clone(), dest.clone(), *read_only);
                let copied = tokio::task::spawn_blocking(move || {
                    if ro {
                        files::copy_tree(&local, &dest, true).map(|_| ())
                    } else {
                        std::os::unix::fs::symlink(&local, &dest)
                    }
                })
                .await
                .map_err(|e| format!("InternalServerError: {e}"))?;
                copied.map_err(|e| {
                    format!(
                        "ClientError: could not mount the file system directory of channel {}: {e}",
                        c.name
                    )
                })?;
            }
        }
    }
    Ok(feeds)
}

/// A Pipe channel: FIFOs `<channel>_<epoch>` in the input data directory, streamed while the
/// returned feed lives ([`crate::pipe`]).
async fn pipe_channel(
    inner: &Inner,
    dir: &Path,
    c: &Channel,
) -> Result<crate::pipe::PipeFeed, String> {
    let store = inner.config.store.clone();
    let objects = match &c.source {
        ChannelSource::S3 { uri } => {
            crate::pipe::prefix_objects(store.as_ref(), uri, &c.name).await?
        }
        ChannelSource::Manifest { uri } => crate::manifest::objects(store.as_ref(), uri, &c.name)
            .await?
            .into_iter()
            .map(|(_, object)| object)
            .collect(),
        ChannelSource::FileSystem { .. } => {
            return Err(format!(
                "ClientError: channel {} is a file system channel, which Pipe mode cannot stream",
                c.name
            ));
        }
    };
    let gzip = crate::pipe::is_gzip(&c.input_config);
    let options = crate::pipe::StreamOptions {
        gzip,
        shuffle_seed: c.shuffle_seed,
    };
    crate::pipe::prepare_channel(store, &dir.join("input/data"), &c.name, objects, options)
}

/// Downloads the objects a manifest file lists into `dest`, each as a File channel's objects
/// are (a file copy from a store that keeps files, else ranged reads: never an object whole in
/// memory, [`files::download_object`]).
pub(crate) async fn download_manifest(
    inner: &Inner,
    uri: &S3Uri,
    dest: &Path,
    channel: &str,
) -> Result<(), String> {
    let store = inner.config.store.as_ref();
    let bad = |m: String| format!("ClientError: the manifest file {uri} of channel {channel} {m}");
    for (relative, object) in crate::manifest::objects(store, uri, channel).await? {
        let path = dest.join(&relative);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| bad(format!("could not create {}: {e}", parent.display())))?;
        }
        files::download_object(store, &object, &path)
            .await
            .map_err(|e| format!("ClientError: Data download failed:{e} (listed by the manifest file {uri} of channel {channel})"))?;
    }
    Ok(())
}

/// What a finished job reports.
#[derive(Debug, Clone)]
struct Outcome {
    status: &'static str,
    secondary: &'static str,
    reason: Option<String>,
    upload_model: bool,
}

fn read_failure(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("output/failure")).ok()?;
    let t = text.trim();
    (!t.is_empty()).then(|| t.chars().take(1024).collect())
}

fn outcome(exit: &Exit, failure: Option<String>, max_runtime: u64) -> Outcome {
    let failed = |reason: String| Outcome {
        status: "Failed",
        secondary: "Failed",
        reason: Some(reason),
        upload_model: false,
    };
    match exit {
        Exit::Exited { success: true, .. } if failure.is_none() => Outcome {
            status: "Completed",
            secondary: "Completed",
            reason: None,
            upload_model: true,
        },
        Exit::Exited { code, .. } => {
            let mut reason = match failure {
                Some(f) if f.starts_with("ClientError") || f.starts_with("AlgorithmError") => f,
                Some(f) => format!("AlgorithmError: {f}"),
                None => "AlgorithmError: the training program failed; see the job log".to_string(),
            };
            match code {
                Some(c) if *c != 0 => reason.push_str(&format!(", exit code: {c}")),
                None => reason.push_str(", killed by a signal"),
                _ => {}
            }
            failed(reason)
        }
        Exit::TimedOut => Outcome {
            status: "Stopped",
            secondary: "MaxRuntimeExceeded",
            reason: Some(format!(
                "Training job exceeded MaxRuntimeInSeconds ({max_runtime} s) and was stopped"
            )),
            upload_model: true,
        },
        Exit::Stopped(StopKind::MaxResource) => Outcome {
            status: "Completed",
            secondary: "Completed",
            reason: None,
            upload_model: true,
        },
        Exit::Stopped(_) => Outcome {
            status: "Stopped",
            secondary: "Stopped",
            reason: None,
            upload_model: true,
        },
        Exit::SpawnFailed(m) => failed(format!("ClientError: {m}")),
    }
}

/// Runs a registered training job to its end. Observations go to `observer` (tuning).
pub(crate) async fn run(
    inner: Arc<Inner>,
    cell: Arc<JobCell>,
    spec: TrainingSpec,
    observer: Option<mpsc::UnboundedSender<Observation>>,
) {
    let started = now_ms();
    let arn = inner.job_arn(JobKind::Training, &spec.name);
    tracing::info!(target: "mdlc_emulator", job = %spec.name, image = %spec.image, "training job started");
    cell.update(|m| {
        m.insert("TrainingStartTime".into(), json!(started));
    });
    let dir = cell.dir.clone();
    let mut points = Vec::new();
    let result: Outcome = 'run: {
        if let Some(rule) = inner.config.faults.failing_rule(&spec.name) {
            cell.log(&format!("injected failure (fault rule fail:{rule})"));
            break 'run Outcome {
                status: "Failed",
                secondary: "Failed",
                reason: Some(format!(
                    "AlgorithmError: injected failure (MDLC_FAULTS rule fail:{rule})"
                )),
                upload_model: false,
            };
        }
        set_secondary(&cell, "Downloading", "Downloading input data");
        let env = match write_config(&dir, &spec, &arn) {
            Ok(env) => env,
            Err(e) => {
                break 'run outcome(
                    &Exit::SpawnFailed(format!("could not prepare the job directory: {e}")),
                    None,
                    0,
                );
            }
        };
        let feeds = match fetch_channels(&inner, &cell, &dir, &spec).await {
            Ok(feeds) => feeds,
            Err(reason) => {
                break 'run Outcome {
                    status: "Failed",
                    secondary: "Failed",
                    reason: Some(reason),
                    upload_model: false,
                };
            }
        };
        set_secondary(
            &cell,
            "Training",
            "Training image download completed. Training in progress.",
        );
        let mut args = spec.program_args.clone();
        args.push("train".into());
        let job = spec.name.clone();
        let (exit, pts) = run_process(
            &cell,
            &inner.config.pids,
            &spec.program,
            &args,
            &env,
            &dir,
            Some(spec.max_runtime),
            &spec.metric_defs,
            |metric, value, index| {
                if let Some(obs) = &observer {
                    let _ = obs.send(Observation {
                        job: job.clone(),
                        metric: metric.to_string(),
                        value,
                        index,
                    });
                }
            },
            cell.stop_receiver(),
        )
        .await;
        points = pts;
        // a Pipe channel whose stream broke off fails the job (the algorithm saw it cut short)
        let broken = feeds.iter().find_map(crate::pipe::PipeFeed::failure);
        drop(feeds);
        match broken {
            Some(reason) => Outcome {
                status: "Failed",
                secondary: "Failed",
                reason: Some(reason),
                upload_model: false,
            },
            None => outcome(&exit, read_failure(&dir), spec.max_runtime),
        }
    };
    let mut result = result;
    let mut artifacts: Option<String> = None;
    if result.upload_model && (result.status == "Completed" || files::has_files(&dir.join("model")))
    {
        set_secondary(&cell, "Uploading", "Uploading generated training model");
        match upload_outputs(&inner, &dir, &spec).await {
            Ok(uri) => artifacts = Some(uri),
            Err(e) => {
                // SageMaker's FailureReason for a failed output upload reads
                // "ClientError: Artifact upload failed:<why>"
                cell.log(&format!("artifact upload failed: {e}"));
                result = Outcome {
                    status: "Failed",
                    secondary: "Failed",
                    reason: Some(format!("ClientError: Artifact upload failed:{e}")),
                    upload_model: false,
                };
            }
        }
    }
    let ended = now_ms();
    let mut finals: Vec<Value> = Vec::new();
    for p in &points {
        if let Some(Value::Object(existing)) = finals
            .iter_mut()
            .find(|f| f.get("MetricName").and_then(Value::as_str) == Some(p.name.as_str()))
        {
            existing.insert("Value".into(), json!(p.value));
            existing.insert("Timestamp".into(), json!(p.timestamp));
        } else {
            finals.push(json!({"MetricName": p.name, "Value": p.value, "Timestamp": p.timestamp}));
        }
    }
    set_secondary(
        &cell,
        result.secondary,
        result.reason.as_deref().unwrap_or(result.secondary),
    );
    let secs = ((ended - started).max(0) / 1000).max(1);
    cell.update(|m| {
        m.insert("TrainingJobStatus".into(), json!(result.status));
        if let Some(r) = &result.reason {
            m.insert("FailureReason".into(), json!(r));
        }
        if let Some(a) = &artifacts {
            m.insert("ModelArtifacts".into(), json!({ "S3ModelArtifacts": a }));
        }
        m.insert("FinalMetricDataList".into(), Value::Array(finals.clone()));
        m.insert("TrainingEndTime".into(), json!(ended));
        m.insert("TrainingTimeInSeconds".into(), json!(secs));
        m.insert("BillableTimeInSeconds".into(), json!(secs));
    });
    tracing::info!(target: "mdlc_emulator", job = %spec.name, status = result.status, reason = result.reason.as_deref().unwrap_or(""), "training job finished");
    cell.finish();
}

async fn upload_outputs(inner: &Inner, dir: &Path, spec: &TrainingSpec) -> Result<String, String> {
    let model_dir = dir.join("model");
    let data_dir = dir.join("output/data");
    let (model, data) = tokio::task::spawn_blocking(move || {
        let model = files::pack_dir(&model_dir);
        let data = if files::has_files(&data_dir) {
            Some(files::pack_dir(&data_dir))
        } else {
            None
        };
        (model, data)
    })
    .await
    .map_err(|e| format!("packing the model failed: {e}"))?;
    let model = model.map_err(|e| format!("could not pack the model directory: {e}"))?;
    let base = spec.output_path.join(&format!("{}/output/", spec.name));
    let model_uri = base.join("model.tar.gz");
    inner
        .config
        .store
        .put(&model_uri, model)
        .await
        .map_err(|e| files::upload_error(&model_uri, &e))?;
    if let Some(data) = data {
        let data = data.map_err(|e| format!("could not pack output/data: {e}"))?;
        let uri = base.join("output.tar.gz");
        inner
            .config
            .store
            .put(&uri, data)
            .await
            .map_err(|e| files::upload_error(&uri, &e))?;
    }
    Ok(model_uri.to_string())
}
