//! `mdlc-fake-container`: a tiny program that obeys the SageMaker container contract, used by
//! the emulator's tests in place of a real algorithm image.
//!
//! * `train`: reads `input/config/hyperparameters.json` under `MDLC_OPT_ML`; hyperparameters
//!   `mode` (`ok` | `fail` | `crash` | `sleep`), `x`, `y` (the objective is `(x-0.3)^2 + y`),
//!   `epochs`, `epoch_ms`, `concurrency_log` (a file to append `start`/`end` lines to).
//!   Logs `epoch=N loss=V` and XGBoost-style `[N]#011train-rmse:V#011validation-rmse:V` lines,
//!   writes `model/model.json` (hyperparameters, channel files, `SM_*` environment).
//!   Pipe channels are read through their FIFOs for `pipe_epochs` epochs (`pipe_read_bytes`:
//!   close each early after that many bytes); `model.json`'s `pipes` reports what was read.
//! * `serve`: answers `GET /ping` and `POST /invocations` on `SAGEMAKER_BIND_TO_PORT`; each input
//!   line `a,b,...` becomes `bias + a + b + ...` where `bias` is the model's `x`. A request whose
//!   content type names `recordio` or `tfrecord` is split by that framing and answered with a
//!   line `k/n data` per record (400 if it is not such records).
//! * `copy IN OUT`: (processing) copies every file of IN to OUT with its text upper-cased.
//! * `host WORK_DIR GRANDCHILD_FILE`: not a container but the emulator's parent in the test of
//!   child processes (`tests/child_processes.rs`): an emulator on WORK_DIR starts a processing
//!   job whose program is `sh -c` that starts a background `sleep` (writing its pid to
//!   GRANDCHILD_FILE) and becomes a `sleep` itself; then it waits to be killed (ten minutes at
//!   most).

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn opt_ml() -> PathBuf {
    std::env::var_os("MDLC_OPT_ML")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/ml"))
}

fn fail(message: &str, code: i32) -> ! {
    let _ = std::fs::write(opt_ml().join("output/failure"), message);
    eprintln!("{message}");
    std::process::exit(code)
}

fn list_files(dir: &Path, out: &mut Vec<String>, base: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            list_files(&p, out, base);
        } else if let Ok(rel) = p.strip_prefix(base) {
            out.push(rel.display().to_string());
        }
    }
}

fn append(path: &str, line: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        // One write(2) per line: O_APPEND keeps it whole when jobs log at the same moment
        // (`writeln!` writes the text and the newline separately, which can interleave).
        let _ = f.write_all(format!("{line}\n").as_bytes());
    }
}

fn train() {
    let root = opt_ml();
    let config = std::env::var_os("SM_INPUT_CONFIG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("input/config"));
    let text = std::fs::read_to_string(config.join("hyperparameters.json"))
        .unwrap_or_else(|_| "{}".into());
    let hps: BTreeMap<String, String> = match serde_json::from_str(&text) {
        Ok(h) => h,
        Err(e) => fail(
            &format!("hyperparameters.json is not a map of strings: {e}"),
            2,
        ),
    };
    let num = |k: &str, d: f64| hps.get(k).and_then(|v| v.parse::<f64>().ok()).unwrap_or(d);
    let me = std::env::var("TRAINING_JOB_NAME").unwrap_or_default();
    let log = hps.get("concurrency_log").cloned();
    if let Some(l) = &log {
        append(l, &format!("start {me}"));
    }
    let mode = hps.get("mode").map(String::as_str).unwrap_or("ok");
    match mode {
        "fail" => fail("ClientError: bad hyperparameter: mode=fail", 1),
        "crash" => std::process::exit(3),
        "sleep" => std::thread::sleep(Duration::from_secs_f64(num("sleep_secs", 3600.0))),
        _ => {}
    }
    let (x, y) = (num("x", 0.5), num("y", 0.0));
    let base = (x - 0.3).powi(2) + y;
    let epochs = num("epochs", 3.0) as usize;
    let epoch_ms = num("epoch_ms", 0.0) as u64;
    for e in 1..=epochs {
        let loss = base + 1.0 / e as f64;
        println!("epoch={e} loss={loss}");
        println!(
            "[{}]#011train-rmse:{}#011validation-rmse:{}",
            e - 1,
            loss * 0.9,
            loss
        );
        let _ = std::io::stdout().flush();
        if epoch_ms > 0 {
            std::thread::sleep(Duration::from_millis(epoch_ms));
        }
    }
    let mut channels = BTreeMap::new();
    let data = root.join("input/data");
    for name in serde_json::from_str::<Vec<String>>(
        &std::env::var("SM_CHANNELS").unwrap_or_else(|_| "[]".into()),
    )
    .unwrap_or_default()
    {
        let var = format!("SM_CHANNEL_{}", name.to_uppercase());
        let dir = std::env::var(&var)
            .map(PathBuf::from)
            .unwrap_or_else(|_| data.join(&name));
        let mut files = Vec::new();
        list_files(&dir, &mut files, &dir);
        let contents: Vec<String> = files
            .iter()
            .map(|f| std::fs::read_to_string(dir.join(f)).unwrap_or_default())
            .collect();
        // How the channel was presented (FastFile: links into the store, a read-only directory).
        let links: BTreeMap<String, String> = files
            .iter()
            .filter_map(|f| {
                let target = std::fs::read_link(dir.join(f)).ok()?;
                Some((f.clone(), target.display().to_string()))
            })
            .collect();
        let read_only: Vec<&String> = files
            .iter()
            .filter(|f| {
                std::fs::metadata(dir.join(f.as_str())).is_ok_and(|m| m.permissions().readonly())
            })
            .collect();
        let dir_read_only = std::fs::metadata(&dir).is_ok_and(|m| m.permissions().readonly());
        channels.insert(
            name,
            serde_json::json!({"files": files, "contents": contents, "env": var, "links": links,
                "read_only": read_only, "dir_read_only": dir_read_only}),
        );
    }
    let env: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("SM_") || k == "MDLC_OPT_ML" || k == "TRAINING_JOB_NAME")
        .collect();
    let read_json = |f: &str| {
        std::fs::read_to_string(config.join(f))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
    };
    let input_config = serde_json::json!({
        "inputdataconfig": read_json("inputdataconfig.json"),
        "resourceconfig": read_json("resourceconfig.json"),
    });
    let pipes = read_pipes(&data, &input_config["inputdataconfig"], &hps);
    let model = serde_json::json!({"hyperparameters": hps, "channels": channels, "env": env,
        "x": x, "input_config": input_config, "pipes": pipes});
    let model_dir = std::env::var_os("SM_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("model"));
    if let Err(e) = std::fs::write(model_dir.join("model.json"), model.to_string()) {
        fail(&format!("could not write the model: {e}"), 1);
    }
    let _ = std::fs::write(root.join("output/data/summary.txt"), format!("loss={base}"));
    if let Some(l) = &log {
        append(l, &format!("end {me}"));
    }
}

/// Pipe channels (`TrainingInputMode` Pipe in `inputdataconfig.json`): reads the FIFOs
/// `<channel>_0` … `<channel>_<pipe_epochs - 1>` in turn (waiting up to a minute for each to
/// appear), at most `pipe_read_bytes` bytes of each (then closes it early), and reports per
/// channel the bytes read per epoch, the text of epoch 0, and whether the next epoch's FIFO
/// existed before this one was closed (it must not).
fn read_pipes(
    data: &Path,
    inputdataconfig: &serde_json::Value,
    hps: &BTreeMap<String, String>,
) -> serde_json::Value {
    use std::io::Read;
    let epochs: u64 = hps
        .get("pipe_epochs")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let limit: u64 = hps
        .get("pipe_read_bytes")
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX);
    let mut out = serde_json::Map::new();
    let Some(channels) = inputdataconfig.as_object() else {
        return serde_json::Value::Object(out);
    };
    for (name, cfg) in channels {
        if cfg["TrainingInputMode"] != "Pipe" {
            continue;
        }
        let (mut bytes, mut early, mut first) = (Vec::new(), Vec::new(), String::new());
        for epoch in 0..epochs {
            let path = data.join(format!("{name}_{epoch}"));
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while !path.exists() {
                if std::time::Instant::now() > deadline {
                    fail(&format!("the FIFO {} never appeared", path.display()), 4);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let mut buf = Vec::new();
            let mut reader = match std::fs::File::open(&path) {
                Ok(f) => f.take(limit),
                Err(e) => fail(&format!("opening {}: {e}", path.display()), 4),
            };
            if let Err(e) = reader.read_to_end(&mut buf) {
                fail(&format!("reading {}: {e}", path.display()), 4);
            }
            // still open: the next epoch's FIFO must not exist yet
            early.push(data.join(format!("{name}_{}", epoch + 1)).exists());
            drop(reader);
            bytes.push(buf.len());
            if epoch == 0 {
                first = String::from_utf8_lossy(&buf).into_owned();
            }
        }
        let is_fifo = {
            use std::os::unix::fs::FileTypeExt;
            std::fs::metadata(data.join(format!("{name}_0"))).is_ok_and(|m| m.file_type().is_fifo())
        };
        out.insert(
            name.clone(),
            serde_json::json!({"bytes": bytes, "epoch0": first, "next_before_close": early,
                "is_fifo": is_fifo, "dir_exists": data.join(name).exists()}),
        );
    }
    serde_json::Value::Object(out)
}

/// The answer of the model to an `/invocations` body: `bias + a + b + ...` per line.
fn predict(body: &[u8], bias: f64) -> String {
    let mut out = String::new();
    for line in String::from_utf8_lossy(body)
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let sum: f64 = line
            .split(',')
            .filter_map(|v| v.trim().parse::<f64>().ok())
            .sum();
        out.push_str(&format!("{}\n", sum + bias));
    }
    out
}

/// The answer to a request of framed records (RecordIO, TFRecord): a line `k/n data` for each
/// record (k-th of the n records of this request, its data as text).
fn framed_answer(records: &[Vec<u8>]) -> String {
    let n = records.len();
    records
        .iter()
        .enumerate()
        .map(|(k, r)| format!("{}/{n} {}\n", k + 1, String::from_utf8_lossy(r)))
        .collect()
}

/// A `text/csv` answer.
fn csv(status: StatusCode, body: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, "text/csv")], body.into()).into_response()
}

/// `GET /ping` and `POST /invocations`; 404 for anything else.
fn app(bias: f64, fail_all: bool) -> Router {
    let invocations = move |headers: axum::http::HeaderMap, body: Bytes| async move {
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let framing = if ct.contains("recordio") {
            Some("RecordIO")
        } else if ct.contains("tfrecord") {
            Some("TFRecord")
        } else {
            None
        };
        match (fail_all, framing) {
            (true, _) => csv(StatusCode::INTERNAL_SERVER_ERROR, "model error"),
            (false, None) => csv(StatusCode::OK, predict(&body, bias)),
            (false, Some(f)) => match mdlc_emulator::records::decode(f, &body) {
                Ok(records) => csv(StatusCode::OK, framed_answer(&records)),
                Err(e) => csv(StatusCode::BAD_REQUEST, e),
            },
        }
    };
    Router::new()
        .route("/ping", get(|| async { csv(StatusCode::OK, "ok") }))
        .route("/invocations", post(invocations))
        .fallback(|| async { csv(StatusCode::NOT_FOUND, "not found") })
        // The largest MaxPayloadInMB of a transform job.
        .layer(DefaultBodyLimit::max(100 * 1024 * 1024))
}

fn serve() {
    let port: u16 = std::env::var("SAGEMAKER_BIND_TO_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let model_dir = std::env::var_os("SM_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| opt_ml().join("model"));
    let model: serde_json::Value = std::fs::read_to_string(model_dir.join("model.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| {
            eprintln!("no model.json in {}", model_dir.display());
            std::process::exit(4)
        });
    let bias = model
        .get("x")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(0.0);
    let fail_all = model.pointer("/hyperparameters/serve_fail").is_some();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the server's runtime: {e}");
            std::process::exit(5)
        }
    };
    let served = runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("cannot bind port {port}: {e}");
                std::process::exit(5)
            }
        };
        println!("serving on {port}");
        axum::serve(listener, app(bias, fail_all)).await
    });
    if let Err(e) = served {
        eprintln!("the server stopped: {e}");
        std::process::exit(5)
    }
}

/// The store of [`host`]'s emulator: its job reads and writes nothing.
struct NoStore;

#[async_trait::async_trait]
impl mdlc_core::ports::ObjectStore for NoStore {
    async fn get(&self, uri: &mdlc_core::S3Uri) -> Result<Vec<u8>, mdlc_core::PortError> {
        Err(mdlc_core::PortError::NotFound {
            what: uri.to_string(),
        })
    }
    async fn put(&self, uri: &mdlc_core::S3Uri, _: Vec<u8>) -> Result<(), mdlc_core::PortError> {
        Err(mdlc_core::PortError::Rejected {
            message: format!("the host's store takes no object ({uri})"),
        })
    }
    async fn list(
        &self,
        _: &mdlc_core::S3Uri,
    ) -> Result<Vec<mdlc_core::ports::ObjectInfo>, mdlc_core::PortError> {
        Ok(Vec::new())
    }
    async fn exists(&self, _: &mdlc_core::S3Uri) -> Result<bool, mdlc_core::PortError> {
        Ok(false)
    }
}

fn host(work_dir: &Path, grandchild: &str) {
    use mdlc_emulator::{EmulatorConfig, ImageMap, SageMakerEmulator};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    runtime.block_on(async {
        let mut config =
            EmulatorConfig::new(work_dir, std::sync::Arc::new(NoStore)).expect("a config");
        config.images = ImageMap::parse(
            r#"{"images": [{"pattern": "*/shell:*", "command": ["/usr/bin/env"]}]}"#,
            "host",
        )
        .expect("the host's image map");
        let emulator = SageMakerEmulator::new(config);
        let script = r#"sleep 1000 & echo $! > "$1.tmp" && mv "$1.tmp" "$1"; exec sleep 1000"#;
        emulator
            .call(
                "createProcessingJob",
                false,
                serde_json::json!({
                    "ProcessingJobName": "left-behind",
                    "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
                    "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}},
                    "AppSpecification": {
                        "ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/shell:1",
                        "ContainerEntrypoint": ["sh", "-c", script, "sh"],
                        "ContainerArguments": [grandchild],
                    },
                }),
            )
            .await
            .expect("the processing job starts");
        tokio::time::sleep(Duration::from_secs(600)).await;
    });
}

fn copy(input: &Path, output: &Path) {
    let mut files = Vec::new();
    list_files(input, &mut files, input);
    for f in files {
        let text = std::fs::read_to_string(input.join(&f)).unwrap_or_default();
        let target = output.join(&f);
        if let Some(parent) = target.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Err(e) = std::fs::write(&target, text.to_uppercase()) {
            eprintln!("cannot write {}: {e}", target.display());
            std::process::exit(1);
        }
        println!("copied {f}");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["train"] => train(),
        ["serve"] => serve(),
        ["copy", input, output] => copy(Path::new(input), Path::new(output)),
        ["host", work_dir, grandchild] => host(Path::new(work_dir), grandchild),
        ["fail", ..] => {
            let _ = std::fs::write(
                opt_ml().join("output/message"),
                "processing failed on purpose",
            );
            std::process::exit(2)
        }
        other => {
            eprintln!(
                "usage: mdlc-fake-container train|serve|copy IN OUT|fail|host WORK_DIR GRANDCHILD_FILE (got {other:?})"
            );
            std::process::exit(64)
        }
    }
}
