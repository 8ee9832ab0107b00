//! `lambda-bench FUNCTION... --bin-dir DIR --events-dir DIR --zip-dir DIR [--runs N]`: the
//! Lambda start-up benchmark (see the library's documentation for what it measures). Prints a
//! Markdown section on stdout, progress and problems on stderr; exits with 1 when a function
//! could not be measured.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lambda_bench::measure::{Function, Measured, Settings, measure};
use lambda_bench::process;
use lambda_bench::report::{Context, markdown};

/// Lambda start-up benchmark: time from process start to the first answered invocation.
#[derive(Debug, Parser)]
#[command(name = "lambda-bench")]
struct Args {
    /// Function (package and binary) names.
    #[arg(required = true)]
    functions: Vec<String>,
    /// Directory of the native release binaries.
    #[arg(long)]
    bin_dir: PathBuf,
    /// Directory of <function>.json events.
    #[arg(long)]
    events_dir: PathBuf,
    /// Directory holding <function>/bootstrap.zip.
    #[arg(long)]
    zip_dir: PathBuf,
    /// Measured starts per function (and per environment mode).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Starts before the measured ones, not counted.
    #[arg(long, default_value_t = 1)]
    warmup: u32,
    /// Seconds to wait for one answer.
    #[arg(long, default_value = "10", value_parser = parse_timeout)]
    timeout: Duration,
    /// AWS_LAMBDA_FUNCTION_MEMORY_SIZE.
    #[arg(long, default_value_t = 256)]
    memory_mb: u32,
    /// Also write each function's last answer body to DIR/<function>.answer.json.
    #[arg(long, value_name = "DIR")]
    dump_answers: Option<PathBuf>,
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text.parse().map_err(|e| format!("{e}"))?;
    if seconds <= 0.0 {
        return Err("must be a positive number of seconds".to_owned());
    }
    Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match bench(&args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("lambda-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Measures every function and prints the section; false when one could not be measured.
async fn bench(args: &Args) -> std::io::Result<bool> {
    // A loopback port that is bound but not listening: connections to it are refused.
    let refused = tokio::net::TcpSocket::new_v4()?;
    refused.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let ca_bundle = process::ca_bundle();
    let settings = Settings {
        runs: args.runs as usize,
        warmup: args.warmup as usize,
        timeout: args.timeout,
        memory_mb: args.memory_mb,
        endpoint: format!("http://{}", refused.local_addr()?),
        ca_bundle: ca_bundle.map(str::to_owned),
    };
    let mut results = Vec::with_capacity(args.functions.len());
    for name in &args.functions {
        eprintln!("lambda-bench: {name} ...");
        let measured = measure(&function(args, name), &settings).await;
        if let Some(problem) = &measured.problem {
            eprintln!("lambda-bench: {name}: {}: {problem}", problem.name());
        }
        if let Some(dir) = &args.dump_answers {
            dump_answer(dir, &measured)?;
        }
        results.push(measured);
    }
    drop(refused);
    let (host, load) = (process::host(), process::load_average());
    let context = Context {
        runs: settings.runs,
        host: &host,
        load: &load,
        ca_bundle,
    };
    println!("{}", markdown(&results, &context));
    Ok(results.iter().all(|r| r.problem.is_none()))
}

fn function(args: &Args, name: &str) -> Function {
    let binary = args.bin_dir.join(name);
    Function {
        name: name.to_owned(),
        binary: std::path::absolute(&binary).unwrap_or(binary),
        event_file: args.events_dir.join(format!("{name}.json")),
        zip_file: args.zip_dir.join(name).join("bootstrap.zip"),
    }
}

/// Writes the body of the function's last measured answer to `dir/<function>.answer.json`.
fn dump_answer(dir: &Path, measured: &Measured) -> std::io::Result<()> {
    let Some(last) = measured.runs.last() else {
        return Ok(());
    };
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join(format!("{}.answer.json", measured.name)),
        &last.answer_body,
    )
}
