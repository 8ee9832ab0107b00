//! `lambda-invoke FUNCTION --binary PATH --event FILE --endpoint URL [--env KEY=VALUE]...`: one
//! invocation of a handler binary under the benchmark's local Runtime API (the harness of
//! `lambda-bench`, [`lambda_bench::run::run_once`]), with AWS calls sent to a real endpoint (a
//! moto server) instead of a refused port. Prints one JSON object on stdout: the answer (`response`
//! or the error type), its body, the time to it, CPU time and the peak resident memory
//! (`VmHWM`, KiB) of the process right after it. Exits with 1 when there was no answer.
//!
//! Used by `scripts/bench-monitor-memory.sh` to measure monitor-performance's memory on a large
//! evaluation batch.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use lambda_bench::run::{Launch, child_env, run_once};
use lambda_bench::runtime_api::Answer;
use serde_json::json;

/// One invocation of a handler binary under the local Runtime API, its answer and peak memory.
#[derive(Debug, Parser)]
#[command(name = "lambda-invoke")]
struct Args {
    /// Function name (the deployed function is `mdlc-<name>`).
    function: String,
    /// The handler binary.
    #[arg(long)]
    binary: PathBuf,
    /// The event (JSON) of the invocation.
    #[arg(long)]
    event: PathBuf,
    /// AWS_ENDPOINT_URL of the process.
    #[arg(long)]
    endpoint: String,
    /// Environment variables set (or, with an empty value, removed) after Lambda's.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// AWS_LAMBDA_FUNCTION_MEMORY_SIZE.
    #[arg(long, default_value_t = 1024)]
    memory_mb: u32,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Where the process's output goes (default: a file in its temporary home, printed on
    /// stderr when there is no answer).
    #[arg(long)]
    log: Option<PathBuf>,
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match invoke(&args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("lambda-invoke: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn invoke(args: &Args) -> Result<bool, String> {
    let event = std::fs::read(&args.event)
        .map_err(|e| format!("cannot read {}: {e}", args.event.display()))?;
    let home = tempfile::Builder::new()
        .prefix(&format!("lambda-invoke-{}-", args.function))
        .tempdir()
        .map_err(|e| format!("cannot create a home directory: {e}"))?;
    let log = args
        .log
        .clone()
        .unwrap_or_else(|| home.path().join("output.log"));
    let mut env = child_env(&args.function, &args.endpoint, home.path(), args.memory_mb);
    for (key, value) in &args.env {
        env.retain(|(k, _)| k != key);
        if !value.is_empty() {
            env.push((key.clone(), value.clone()));
        }
    }
    let binary = std::path::absolute(&args.binary).unwrap_or_else(|_| args.binary.clone());
    let launch = Launch {
        name: &args.function,
        binary: &binary,
        event: Bytes::from(event),
        env,
        home: home.path(),
        log: &log,
        timeout: Duration::from_secs(args.timeout),
    };
    let run = run_once(&launch)
        .await
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let answer = match &run.answer {
        None => None,
        Some(Answer::Response) => Some("response".to_owned()),
        Some(Answer::Error(t)) => Some(format!("error {t}")),
        Some(Answer::InitError(t)) => Some(format!("init error {t}")),
    };
    let body: serde_json::Value = serde_json::from_slice(&run.answer_body)
        .unwrap_or_else(|_| json!(String::from_utf8_lossy(&run.answer_body)));
    println!(
        "{}",
        json!({
            "function": args.function,
            "answer": answer,
            "body": body,
            "answerMs": run.answer_ms,
            "cpuMs": run.cpu_ms,
            "peakKib": run.peak_kib,
            "exit": run.exit.map(|s| s.to_string()),
        })
    );
    if answer.is_none() {
        let output = std::fs::read_to_string(&log).unwrap_or_default();
        eprintln!("lambda-invoke: no answer; the process's output:\n{output}");
    }
    Ok(answer.is_some())
}
