//! `mdlc train --input FILE` and `mdlc evaluate --input FILE`: start the training or evaluation
//! flow, show its progress until it ends (or return at once with `--no-wait`), print the
//! outcome as `mdlc executions show` does. Exit 0 when it succeeded (or, with `--no-wait`,
//! started), 1 when it ended otherwise.
//!
//! Locally the flow runs in this process on the local cloud; with `--no-wait` a detached
//! `mdlc` process runs it (its output goes to `<state dir>/running/<flow>/<name>.log`) and this
//! one returns once it is marked running. On a stack the flow is started with StartExecution and
//! followed with DescribeExecution and GetExecutionHistory.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mdlc_asl::{ExecutionObserver, HistoryEvent};
use serde_json::Value;

use super::InputError;
use super::executions::print_detail;
use crate::error::CliError;
use crate::flows::aws::AwsFlows;
use crate::flows::local::LocalFlows;
use crate::flows::{ExecutionDetail, Flow, RUNNING, running_detail};
use crate::target::{Target, TargetArgs};

/// How long a detached local run may take to mark itself running.
const DETACHED_START: Duration = Duration::from_secs(60);

#[derive(Debug, Args)]
pub struct FlowArgs {
    /// The execution input: a JSON object (see statemachine/README.md; `modelName` required).
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// The execution's name (default `<flow>-<time>-<pid>`); unique per flow.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Return as soon as the execution has started (prints it RUNNING, exit 0).
    #[arg(long)]
    pub no_wait: bool,
    /// No progress on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Seconds between two status checks of an execution on a stack.
    #[arg(long, value_name = "SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub poll_seconds: u64,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// The subcommand of a flow (`train`, `evaluate`).
pub fn command_name(flow: Flow) -> &'static str {
    match flow {
        Flow::Training => "train",
        Flow::Evaluation => "evaluate",
    }
}

/// Runs `flow`; returns the exit code.
pub fn run(flow: Flow, args: &FlowArgs) -> i32 {
    let json = args.target.json;
    match super::block_on(execute(flow, args)) {
        Ok(code) => code,
        Err(e) => e.report(json),
    }
}

/// The execution input of `--input`: a JSON object within StartExecution's quota.
fn read_input(path: &Path) -> Result<Value, CliError> {
    let what = path.display().to_string();
    let usage = |e: InputError| CliError::Usage(e.to_string());
    let text = super::read_text(path).map_err(usage)?;
    let input: Value = serde_json::from_str(&text).map_err(|e| {
        usage(InputError::Json {
            what: what.clone(),
            message: e.to_string(),
        })
    })?;
    if !input.is_object() {
        return Err(CliError::Usage(format!(
            "{what}: the execution input must be a JSON object"
        )));
    }
    mdlc_asl::check_execution_input(&input)
        .map_err(|source| usage(InputError::Quota { what, source }))?;
    Ok(input)
}

async fn execute(flow: Flow, args: &FlowArgs) -> Result<i32, CliError> {
    let input = read_input(&args.input)?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| crate::local::default_execution_name(flow.name()));
    let json = args.target.json;
    let detail = match args.target.resolve().await? {
        Target::Local(flows) if args.no_wait => return start_detached(flow, args, &flows, &name),
        Target::Local(flows) => {
            let progress = Progress::new(flow, args.quiet);
            let observer: Arc<dyn ExecutionObserver> = progress.clone();
            let result = flows.run(flow, &name, input, Some(observer)).await;
            progress.finish();
            result?
        }
        Target::Aws(stack) => {
            let started = stack.flows.start(flow, Some(&name), &input).await?;
            if args.no_wait {
                running_detail(started, Vec::new())
            } else {
                let poll = Duration::from_secs(args.poll_seconds);
                let progress = Progress::new(flow, args.quiet);
                let result = wait(&stack.flows, &started.execution_arn, &progress, poll).await;
                progress.finish();
                result?
            }
        }
    };
    print_detail(&detail, json)?;
    Ok(detail.exit_code())
}

/// Polls an execution on a stack until it ends; returns its detail.
async fn wait(
    flows: &AwsFlows,
    arn: &str,
    progress: &Progress,
    poll: Duration,
) -> Result<ExecutionDetail, CliError> {
    loop {
        if flows.status(arn).await? != RUNNING {
            return flows.show(arn).await;
        }
        if let Some(state) = flows.current_state(arn).await? {
            progress.state(&state);
        }
        tokio::time::sleep(poll).await;
    }
}

/// Starts a detached `mdlc` running the flow locally and returns once its execution is marked
/// running (or has ended, or was refused: then its output and exit code are this one's).
///
/// The one child of the local cloud that is meant to outlive its parent: a background execution
/// goes on after this command has answered. It is therefore started with a plain `Command`, not
/// `mdlc_proc::spawn` (no parent-death signal, no record in the pid book); the processes *it*
/// starts are its own children, which die with it and are recorded under its pid.
fn start_detached(
    flow: Flow,
    args: &FlowArgs,
    flows: &LocalFlows,
    name: &str,
) -> Result<i32, CliError> {
    flows.check_name(flow, name)?;
    let log_path = flows.log_path(flow, name);
    let io = |e: std::io::Error| CliError::Unavailable(format!("{}: {e}", log_path.display()));
    if let Some(dir) = log_path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let log = std::fs::File::create(&log_path).map_err(io)?;
    let exe = std::env::current_exe()
        .map_err(|e| CliError::Unavailable(format!("cannot find the mdlc program: {e}")))?;
    let mut child = Command::new(exe)
        .arg(command_name(flow))
        .arg("--input")
        .arg(&args.input)
        .arg("--name")
        .arg(name)
        .arg("--state-dir")
        .arg(flows.state_dir())
        .arg("--quiet")
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(io)?)
        .stderr(log)
        .spawn()
        .map_err(|e| CliError::Unavailable(format!("cannot start a detached mdlc: {e}")))?;
    let arn = LocalFlows::execution_arn(flow, name);
    let deadline = Instant::now() + DETACHED_START;
    loop {
        if let Ok(detail) = flows.show(&arn) {
            print_detail(&detail, args.target.json)?;
            return Ok(detail.exit_code());
        }
        if let Some(status) = child.try_wait().map_err(io)? {
            if let Ok(detail) = flows.show(&arn) {
                print_detail(&detail, args.target.json)?;
                return Ok(detail.exit_code());
            }
            eprint!("{}", std::fs::read_to_string(&log_path).unwrap_or_default());
            return Ok(status.code().unwrap_or(crate::exit::FAILED));
        }
        if Instant::now() > deadline {
            return Err(CliError::Unavailable(format!(
                "the detached run of {name} did not start within {} s; see {}",
                DETACHED_START.as_secs(),
                log_path.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The progress of a flow on stderr: a spinner with the current state on a terminal, a line per
/// state otherwise, nothing with `--quiet`.
struct Progress {
    label: &'static str,
    bar: Option<ProgressBar>,
    lines: bool,
    last: Mutex<Option<String>>,
}

impl Progress {
    fn new(flow: Flow, quiet: bool) -> Arc<Self> {
        let terminal = !quiet && std::io::stderr().is_terminal();
        let bar = terminal.then(|| {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}") {
                bar.set_style(style);
            }
            bar.set_message(format!("{}: starting", flow.name()));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Arc::new(Progress {
            label: flow.name(),
            bar,
            lines: !quiet && !terminal,
            last: Mutex::new(None),
        })
    }

    /// The execution entered `state`.
    fn state(&self, state: &str) {
        if let Ok(mut last) = self.last.lock() {
            if last.as_deref() == Some(state) {
                return;
            }
            *last = Some(state.to_string());
        }
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{}: {state}", self.label));
        } else if self.lines {
            eprintln!("{}: {state}", self.label);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl ExecutionObserver for Progress {
    fn on_event(&self, event: &HistoryEvent) {
        if event.event_type.ends_with("StateEntered")
            && let Some(name) = event.details.get("name").and_then(Value::as_str)
        {
            self.state(name);
        }
    }
}
