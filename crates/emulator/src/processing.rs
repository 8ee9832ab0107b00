//! Processing jobs: inputs under `/opt/ml/processing/...`, outputs uploaded at the end.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use mdlc_core::S3Uri;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, Problems};
use crate::fields::{self, check_name};
use crate::files;
use crate::jobs::{
    Inner, JobCell, JobKind, PROCESSING_IMAGE_FIELD, StopKind, map_opt_ml, now_ms, spawn_job,
};
use crate::training::{Exit, program_for_image, run_process};

#[derive(Debug, Clone)]
struct Mount {
    uri: S3Uri,
    /// Relative to the job directory (the `/opt/ml` stand-in).
    local: PathBuf,
    /// An input whose `S3DataType` is ManifestFile: its `InputName` (`uri` is the manifest).
    manifest_of: Option<String>,
}

/// The `S3Uri` and `LocalPath` of a processing input's `S3Input` or an output's `S3Output`
/// (`sp` is its field path); every bad field is reported.
fn mount(s3: &Value, sp: &str, p: &mut Problems) -> Option<Mount> {
    let uri = fields::req_s3_uri(s3, sp, "S3Uri", p);
    let local = fields::req_str(s3, sp, "LocalPath", p)
        .and_then(|l| local_path(&l, &format!("{sp}.LocalPath"), p));
    Some(Mount {
        uri: uri?,
        local: local?,
        manifest_of: None,
    })
}

#[derive(Debug, Clone)]
struct ProcessingSpec {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    environment: BTreeMap<String, String>,
    inputs: Vec<Mount>,
    outputs: Vec<Mount>,
    max_runtime: u64,
}

fn local_path(path: &str, field: &str, p: &mut Problems) -> Option<PathBuf> {
    let rel = path
        .strip_prefix("/opt/ml/processing/")
        .filter(|r| !r.is_empty());
    match rel {
        Some(r) if !r.split('/').any(|c| c == "..") => Some(PathBuf::from("processing").join(r)),
        _ => {
            p.push(
                field,
                format!("has value {path:?}, which must be a path under /opt/ml/processing/"),
            );
            None
        }
    }
}

fn parse(inner: &Inner, req: &Value) -> Result<ProcessingSpec, ApiError> {
    let mut p = Problems::new();
    let name = fields::req_str(req, "", "ProcessingJobName", &mut p).unwrap_or_default();
    if !name.is_empty() {
        check_name(&name, "ProcessingJobName", 63, &mut p);
    }
    fields::req_str(req, "", "RoleArn", &mut p);
    if let Some(res) = fields::req_obj(req, "", "ProcessingResources", &mut p)
        && let Some(cc) = fields::req_obj(res, "ProcessingResources", "ClusterConfig", &mut p)
    {
        let at = "ProcessingResources.ClusterConfig";
        if fields::req_u64(cc, at, "InstanceCount", 1, 100, &mut p).is_some_and(|n| n > 1) {
            p.push(
                &format!("{at}.InstanceCount"),
                "above 1 is not supported by the local emulator",
            );
        }
        fields::req_str(cc, at, "InstanceType", &mut p);
        fields::req_u64(cc, at, "VolumeSizeInGB", 1, 16384, &mut p);
    }
    let (mut program, mut args) = (PathBuf::new(), Vec::new());
    if let Some(app) = fields::req_obj(req, "", "AppSpecification", &mut p) {
        let at = "AppSpecification";
        if let Some(image) = fields::req_str(app, at, "ImageUri", &mut p)
            && let Some((prog, a)) =
                program_for_image(inner, &image, PROCESSING_IMAGE_FIELD, &mut p)
        {
            program = prog;
            args = a;
        }
        for list in ["ContainerEntrypoint", "ContainerArguments"] {
            for (i, v) in fields::opt_array(app, at, list, &mut p).iter().enumerate() {
                match v.as_str() {
                    Some(s) => args.push(s.to_string()),
                    None => p.push(&format!("{at}.{list}[{i}]"), "must be a string"),
                }
            }
        }
    }
    let mut inputs = Vec::new();
    for (i, inp) in fields::opt_array(req, "", "ProcessingInputs", &mut p)
        .iter()
        .enumerate()
    {
        let at = format!("ProcessingInputs[{i}]");
        let name = fields::req_str(inp, &at, "InputName", &mut p).unwrap_or_default();
        let Some(s3) = fields::req_obj(inp, &at, "S3Input", &mut p) else {
            continue;
        };
        let sp = format!("{at}.S3Input");
        let ty = fields::enum_str(
            s3,
            &sp,
            "S3DataType",
            &["S3Prefix", "ManifestFile"],
            "S3Prefix",
            &mut p,
        );
        inputs.extend(mount(s3, &sp, &mut p).map(|m| Mount {
            manifest_of: (ty == "ManifestFile").then_some(name),
            ..m
        }));
    }
    let mut outputs = Vec::new();
    if let Some(cfg) = fields::opt_obj(req, "", "ProcessingOutputConfig", &mut p) {
        for (i, out) in fields::opt_array(cfg, "ProcessingOutputConfig", "Outputs", &mut p)
            .iter()
            .enumerate()
        {
            let at = format!("ProcessingOutputConfig.Outputs[{i}]");
            fields::req_str(out, &at, "OutputName", &mut p);
            let Some(s3) = fields::req_obj(out, &at, "S3Output", &mut p) else {
                continue;
            };
            let sp = format!("{at}.S3Output");
            fields::enum_str(
                s3,
                &sp,
                "S3UploadMode",
                &["EndOfJob", "Continuous"],
                "EndOfJob",
                &mut p,
            );
            outputs.extend(mount(s3, &sp, &mut p));
        }
    }
    let environment = fields::str_map(req, "", "Environment", &mut p);
    let max_runtime = fields::opt_obj(req, "", "StoppingCondition", &mut p)
        .and_then(|sc| {
            fields::opt_u64(
                sc,
                "StoppingCondition",
                "MaxRuntimeInSeconds",
                1,
                777_600,
                &mut p,
            )
        })
        .unwrap_or(86_400);
    if let Some(net) = fields::opt_obj(req, "", "NetworkConfig", &mut p) {
        crate::vpc::check(net, "NetworkConfig", &mut p);
    }
    p.finish()?;
    Ok(ProcessingSpec {
        name,
        program,
        args,
        environment,
        inputs,
        outputs,
        max_runtime,
    })
}

/// CreateProcessingJob.
pub(crate) fn create(
    inner: &Arc<Inner>,
    req: &Value,
) -> Result<(JobKind, Arc<JobCell>, Value), ApiError> {
    let spec = parse(inner, req)?;
    let arn = inner.job_arn(JobKind::Processing, &spec.name);
    let mut d = Map::new();
    d.insert("ProcessingJobName".into(), json!(spec.name));
    d.insert("ProcessingJobArn".into(), json!(arn));
    d.insert("ProcessingJobStatus".into(), json!("InProgress"));
    for k in [
        "ProcessingInputs",
        "ProcessingOutputConfig",
        "ProcessingResources",
        "StoppingCondition",
        "AppSpecification",
        "Environment",
        "NetworkConfig",
        "RoleArn",
        "Tags",
    ] {
        if let Some(v) = fields::get(req, k) {
            d.insert(k.into(), v.clone());
        }
    }
    d.insert("CreationTime".into(), json!(now_ms()));
    let cell = inner.register(JobKind::Processing, &spec.name, Value::Object(d))?;
    spawn_job(cell.clone(), run(inner.clone(), cell.clone(), spec));
    Ok((
        JobKind::Processing,
        cell,
        json!({ "ProcessingJobArn": arn }),
    ))
}

async fn upload_tree(inner: &Inner, dir: &std::path::Path, base: &S3Uri) -> Result<usize, String> {
    let mut stack = vec![dir.to_path_buf()];
    let mut n = 0;
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(dir).map_err(|e| e.to_string())?;
            let target = base.join(&rel.display().to_string());
            // a file copy where the store can (the local cloud's): not the whole output in memory
            inner
                .config
                .store
                .put_file(&target, &path)
                .await
                .map_err(|e| files::upload_error(&target, &e))?;
            n += 1;
        }
    }
    Ok(n)
}

async fn run(inner: Arc<Inner>, cell: Arc<JobCell>, spec: ProcessingSpec) {
    tracing::info!(target: "mdlc_emulator", job = %spec.name, "processing job started");
    cell.update(|m| {
        m.insert("ProcessingStartTime".into(), json!(now_ms()));
    });
    let dir = cell.dir.clone();
    let result: Result<(), (String, Option<String>)> = async {
        if let Some(rule) = inner.config.faults.failing_rule(&spec.name) {
            return Err((
                "Failed".into(),
                Some(format!(
                    "AlgorithmError: injected failure (MDLC_FAULTS rule fail:{rule})"
                )),
            ));
        }
        for m in &spec.inputs {
            if let Some(name) = &m.manifest_of {
                // the objects the manifest lists, at their paths relative to its prefix
                crate::training::download_manifest(&inner, &m.uri, &dir.join(&m.local), name)
                    .await
                    .map_err(|e| ("Failed".to_string(), Some(e)))?;
                continue;
            }
            let n =
                files::download_prefix(inner.config.store.as_ref(), &m.uri, &dir.join(&m.local))
                    .await
                    .map_err(|e| ("Failed".to_string(), Some(format!("ClientError: {e}"))))?;
            if n == 0 {
                return Err((
                    "Failed".into(),
                    Some(format!(
                        "ClientError: No S3 objects found under S3 URL \"{}\"",
                        m.uri
                    )),
                ));
            }
        }
        for m in &spec.outputs {
            std::fs::create_dir_all(dir.join(&m.local))
                .map_err(|e| ("Failed".to_string(), Some(format!("ClientError: {e}"))))?;
        }
        std::fs::create_dir_all(dir.join("output"))
            .map_err(|e| ("Failed".to_string(), Some(format!("ClientError: {e}"))))?;
        let args: Vec<String> = spec.args.iter().map(|a| map_opt_ml(a, &dir)).collect();
        let mut env = spec.environment.clone();
        env.insert("MDLC_OPT_ML".into(), dir.display().to_string());
        env.insert("PROCESSING_JOB_NAME".into(), spec.name.clone());
        let (exit, _) = run_process(
            &cell,
            &inner.config.pids,
            &spec.program,
            &args,
            &env,
            &dir,
            Some(spec.max_runtime),
            &[],
            |_, _, _| {},
            cell.stop_receiver(),
        )
        .await;
        let message = ["output/message", "output/failure"]
            .iter()
            .find_map(|f| std::fs::read_to_string(dir.join(f)).ok())
            .map(|s| s.trim().chars().take(1024).collect::<String>())
            .filter(|s| !s.is_empty());
        match exit {
            Exit::Exited { success: true, .. } => {}
            Exit::Exited { code, .. } => {
                let what = message
                    .unwrap_or_else(|| "the processing program failed; see the job log".into());
                return Err((
                    "Failed".into(),
                    Some(format!(
                        "AlgorithmError: {what}, exit code: {}",
                        code.map(|c| c.to_string())
                            .unwrap_or_else(|| "signal".into())
                    )),
                ));
            }
            Exit::TimedOut => {
                return Err((
                    "Stopped".into(),
                    Some(format!(
                        "Processing job exceeded MaxRuntimeInSeconds ({} s)",
                        spec.max_runtime
                    )),
                ));
            }
            Exit::Stopped(StopKind::User | StopKind::EarlyStopped | StopKind::MaxResource) => {
                return Err(("Stopped".into(), None));
            }
            Exit::SpawnFailed(m) => {
                return Err(("Failed".into(), Some(format!("ClientError: {m}"))));
            }
        }
        for m in &spec.outputs {
            upload_tree(&inner, &dir.join(&m.local), &m.uri)
                .await
                .map_err(|e| ("Failed".to_string(), Some(format!("ClientError: {e}"))))?;
        }
        Ok(())
    }
    .await;
    let (status, reason) = match result {
        Ok(()) => ("Completed".to_string(), None),
        Err((s, r)) => (s, r),
    };
    cell.update(|m| {
        m.insert("ProcessingJobStatus".into(), json!(status));
        m.insert("ProcessingEndTime".into(), json!(now_ms()));
        if let Some(r) = &reason {
            m.insert("FailureReason".into(), json!(r));
            m.insert("ExitMessage".into(), json!(r));
        }
    });
    tracing::info!(target: "mdlc_emulator", job = %spec.name, status = %status, "processing job finished");
    cell.finish();
}
