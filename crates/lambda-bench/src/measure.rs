//! Measuring one function: warm-up and measured starts, in each environment mode, stopping at
//! the first start that shows the function cannot be measured.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;

use crate::run::{Launch, Run, child_env, run_once};
use crate::runtime_api::Answer;

/// How many characters of the process's output a [`BenchError::NoAnswer`] shows.
const OUTPUT_TAIL_CHARS: usize = 2000;

/// Why a function could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("no binary at {}", .0.display())]
    MissingBinary(PathBuf),
    #[error("no event file {}", .0.display())]
    MissingEvent(PathBuf),
    #[error("{} is not JSON: {source}", .path.display())]
    EventNotJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("no answer within {}s ({exit}); output:\n{output}", .timeout.as_secs_f64())]
    NoAnswer {
        timeout: Duration,
        /// How the process ended, e.g. `exit status: 3` or `signal: 9 (SIGKILL)`.
        exit: String,
        /// The end of its stdout and stderr.
        output: String,
    },
    #[error("the event {} was rejected: {body}", .path.display())]
    EventRejected { path: PathBuf, body: String },
    #[error("init failed: {body}")]
    InitFailed { body: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

impl BenchError {
    /// The error's stable name.
    pub fn name(&self) -> &'static str {
        match self {
            BenchError::MissingBinary(_) => "MissingBinary",
            BenchError::MissingEvent(_) => "MissingEvent",
            BenchError::EventNotJson { .. } => "EventNotJson",
            BenchError::NoAnswer { .. } => "NoAnswer",
            BenchError::EventRejected { .. } => "EventRejected",
            BenchError::InitFailed { .. } => "InitFailed",
            BenchError::Io { .. } => "Io",
        }
    }
}

/// A function to measure.
#[derive(Clone, Debug)]
pub struct Function {
    /// Package and binary name, e.g. `train`.
    pub name: String,
    pub binary: PathBuf,
    /// `<events dir>/<name>.json`.
    pub event_file: PathBuf,
    /// `<zip dir>/<name>/bootstrap.zip`.
    pub zip_file: PathBuf,
}

/// How every function is measured.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Measured starts per mode (at least 1).
    pub runs: usize,
    /// Starts before those, not counted.
    pub warmup: usize,
    /// How long to wait for one answer.
    pub timeout: Duration,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`.
    pub memory_mb: u32,
    /// `AWS_ENDPOINT_URL`: a loopback port that refuses connections.
    pub endpoint: String,
    /// The system's CA bundle: when set, every function is measured again with `SSL_CERT_FILE`
    /// pointing at it.
    pub ca_bundle: Option<String>,
}

/// What was measured of one function.
#[derive(Debug)]
pub struct Measured {
    pub name: String,
    /// Size of the arm64 bootstrap.zip, if built.
    pub zip_bytes: Option<u64>,
    /// The measured starts with the environment as it is.
    pub runs: Vec<Run>,
    /// The measured starts with `SSL_CERT_FILE` set to the CA bundle.
    pub bundle_runs: Vec<Run>,
    /// Why it could not be (fully) measured.
    pub problem: Option<BenchError>,
}

/// Measures `function`: `warmup + runs` starts in each mode.
pub async fn measure(function: &Function, settings: &Settings) -> Measured {
    let mut measured = Measured {
        name: function.name.clone(),
        zip_bytes: file_size(&function.zip_file),
        runs: Vec::new(),
        bundle_runs: Vec::new(),
        problem: None,
    };
    if let Err(problem) = measure_modes(function, settings, &mut measured).await {
        measured.problem = Some(problem);
    }
    measured
}

async fn measure_modes(
    function: &Function,
    settings: &Settings,
    measured: &mut Measured,
) -> Result<(), BenchError> {
    let event = read_event(function)?;
    let home = tempfile::Builder::new()
        .prefix(&format!("lambda-bench-{}-", function.name))
        .tempdir()
        .map_err(|source| io_error("cannot create a home directory", source))?;
    let log = home.path().join("output.log");
    let base_env = child_env(
        &function.name,
        &settings.endpoint,
        home.path(),
        settings.memory_mb,
    );
    let mut launch = Launch {
        name: &function.name,
        binary: &function.binary,
        event,
        env: base_env.clone(),
        home: home.path(),
        log: &log,
        timeout: settings.timeout,
    };
    measured.runs = measure_mode(&launch, function, settings).await?;
    if let Some(bundle) = &settings.ca_bundle {
        launch.env = base_env;
        launch
            .env
            .push(("SSL_CERT_FILE".to_owned(), bundle.clone()));
        measured.bundle_runs = measure_mode(&launch, function, settings).await?;
    }
    Ok(())
}

/// `warmup + runs` starts with one environment; the measured ones.
async fn measure_mode(
    launch: &Launch<'_>,
    function: &Function,
    settings: &Settings,
) -> Result<Vec<Run>, BenchError> {
    let mut runs = Vec::with_capacity(settings.runs);
    for i in 0..settings.warmup + settings.runs {
        let run = run_once(launch).await.map_err(|source| {
            io_error(
                &format!("cannot start {}", function.binary.display()),
                source,
            )
        })?;
        check(&run, function, settings, launch.log)?;
        if i >= settings.warmup {
            runs.push(run);
        }
    }
    Ok(runs)
}

/// The function's event, once its binary and event file are known to be there.
fn read_event(function: &Function) -> Result<Bytes, BenchError> {
    if !function.binary.is_file() {
        return Err(BenchError::MissingBinary(function.binary.clone()));
    }
    if !function.event_file.is_file() {
        return Err(BenchError::MissingEvent(function.event_file.clone()));
    }
    let event = std::fs::read(&function.event_file).map_err(|source| {
        io_error(
            &format!("cannot read {}", function.event_file.display()),
            source,
        )
    })?;
    serde_json::from_slice::<serde_json::Value>(&event).map_err(|source| {
        BenchError::EventNotJson {
            path: function.event_file.clone(),
            source,
        }
    })?;
    Ok(Bytes::from(event))
}

/// Whether a start shows the function cannot be measured: no answer, the event rejected as
/// invalid input (a stale event file), or an init error.
fn check(
    run: &Run,
    function: &Function,
    settings: &Settings,
    log: &Path,
) -> Result<(), BenchError> {
    let body = || String::from_utf8_lossy(&run.answer_body).into_owned();
    match &run.answer {
        None => Err(BenchError::NoAnswer {
            timeout: settings.timeout,
            exit: run
                .exit
                .map_or_else(|| "still running".to_owned(), |s| s.to_string()),
            output: output_tail(log),
        }),
        Some(answer) if answer.error_type() == Some("InvalidInput") => {
            Err(BenchError::EventRejected {
                path: function.event_file.clone(),
                body: body(),
            })
        }
        Some(Answer::InitError(_)) => Err(BenchError::InitFailed { body: body() }),
        Some(_) => Ok(()),
    }
}

/// The last [`OUTPUT_TAIL_CHARS`] characters of the process's output (read from the end of the
/// file: a handler may have written a lot).
fn output_tail(log: &Path) -> String {
    let text = String::from_utf8_lossy(&file_tail(log, 4 * OUTPUT_TAIL_CHARS as u64)).into_owned();
    let skip = text.chars().count().saturating_sub(OUTPUT_TAIL_CHARS);
    text.chars().skip(skip).collect()
}

/// The last `max_bytes` bytes of a file (nothing if it cannot be read).
fn file_tail(path: &Path, max_bytes: u64) -> Vec<u8> {
    let read = || -> std::io::Result<Vec<u8>> {
        let mut file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(max_bytes)))?;
        let mut tail = Vec::new();
        file.take(max_bytes).read_to_end(&mut tail)?;
        Ok(tail)
    };
    read().unwrap_or_default()
}

fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

fn io_error(what: &str, source: std::io::Error) -> BenchError {
    BenchError::Io {
        what: what.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_tail_is_the_last_characters_of_a_long_log() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("output.log");
        let text = format!(
            "{}é{}",
            "a".repeat(100_000),
            "z".repeat(OUTPUT_TAIL_CHARS - 1)
        );
        std::fs::write(&log, &text).expect("log");
        let tail = output_tail(&log);
        assert_eq!(tail.chars().count(), OUTPUT_TAIL_CHARS);
        assert!(tail.starts_with('é'), "{}", &tail[..10]);
        assert!(tail[2..].chars().all(|c| c == 'z'));
    }

    #[test]
    fn a_missing_log_has_no_output() {
        assert_eq!(output_tail(Path::new("/nonexistent/output.log")), "");
    }
}
