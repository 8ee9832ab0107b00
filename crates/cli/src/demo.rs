//! `mdlc demo [--json] [--state-dir DIR] [--dataset DIR --problem regression|binary] [--mlflow URI]`: the whole
//! life cycle on the local cloud (see `mdlc_local::demo`). Progress goes to stderr; the summary
//! table (or, with `--json`, one JSON object) to stdout; the report to `<state dir>/report.html`.
//! The last progress line is the process's peak resident memory (`VmHWM`).

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use mdlc_local::demo::{DemoOptions, Problem, run_demo, summary_table};
use mdlc_local::progress::ProgressObserver;

use crate::exit;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProblemArg {
    Regression,
    Binary,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Print one JSON object (`versions`, `evaluations`, ...) instead of the summary table.
    #[arg(long)]
    pub json: bool,
    /// Where the local cloud keeps its state; a demo starts from a clean directory.
    #[arg(long, value_name = "DIR", default_value = ".mdlc")]
    pub state_dir: PathBuf,
    /// Use your own train.csv, validation.csv and holdout.csv (label first, no header).
    #[arg(long, value_name = "DIR")]
    pub dataset: Option<PathBuf>,
    /// The kind of problem (of --dataset, or of the generated data).
    #[arg(long, value_enum, default_value = "regression")]
    pub problem: ProblemArg,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// No progress lines on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Log the runs to this MLflow tracking server (http(s)://HOST:PORT, or a SageMaker
    /// tracking server ARN) and show their addresses in the summary. Default: MDLC_TRACKING_URI,
    /// else MLFLOW_TRACKING_URI, else no tracking.
    #[arg(long, value_name = "URI")]
    pub mlflow: Option<String>,
}

/// Runs the demo; returns the exit code.
pub fn run(args: &DemoArgs) -> i32 {
    if !args.quiet {
        crate::local::init_tracing("mdlc_emulator=info,warn");
    }
    let mut opts = DemoOptions::new(&args.state_dir);
    opts.dataset = args.dataset.clone();
    opts.problem = match args.problem {
        ProblemArg::Regression => Problem::Regression,
        ProblemArg::Binary => Problem::Binary,
    };
    opts.seed = args.seed;
    if let Some(uri) = &args.mlflow {
        let uri = uri.trim();
        if let Err(why) = mdlc_core::input::check_tracking_uri(uri) {
            eprintln!("error: --mlflow {uri:?}: {why}");
            return exit::USAGE;
        }
        opts.tracking_uri = Some(uri.to_string());
    }
    if !args.quiet {
        opts.observer = Some(Arc::new(ProgressObserver::stderr()));
    }
    let rt = match crate::local::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::FAILED;
        }
    };
    let quiet = args.quiet;
    let log = move |line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    let result = rt.block_on(run_demo(&opts, &log));
    if let Some(kib) = peak_resident_kib() {
        log(&format!(
            "mdlc: peak memory of this process (VmHWM): {kib} KiB ({:.1} MiB)",
            kib as f64 / 1024.0
        ));
    }
    match result {
        Ok(summary) => {
            if args.json {
                match serde_json::to_string_pretty(&summary) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return exit::FAILED;
                    }
                }
            } else {
                print!("{}", summary_table(&summary));
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::FAILED
        }
    }
}

/// This process's peak resident memory so far in KiB (`VmHWM` of `/proc/self/status`; `None`
/// where there is no `/proc`). The scale benchmark (scripts/bench-scale.sh) reads the line the
/// demo prints with it.
fn peak_resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}
