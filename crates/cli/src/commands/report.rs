//! `mdlc report [--model MODEL] [--out FILE]`: the HTML report (`mdlc_local::report`) of one
//! model: its versions and evaluations from the registry, the flows' executions with their state
//! graphs. Locally from the local cloud's records; on a stack from Step Functions (the newest
//! `--limit` executions, their histories and the state machines' definitions) and the table.

use std::path::PathBuf;

use clap::Args;
use mdlc_local::EventLog;
use mdlc_local::journal::ExecutionRecord;
use mdlc_local::report::{ReportInput, render_html_with_events};
use serde_json::{Value, json};

use crate::error::CliError;
use crate::flows::Definitions;
use crate::output::print_json;
use crate::target::{Target, TargetArgs};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The model (default: the `modelName` of the newest execution).
    #[arg(long)]
    pub model: Option<String>,
    /// Where to write the page (default `<state dir>/report.html`, or `report-<stack>.html`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// On a stack: how many of the newest executions to include.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: &ReportArgs) -> i32 {
    let json = args.target.json;
    match super::block_on(execute(args)) {
        Ok(()) => crate::exit::OK,
        Err(e) => e.report(json),
    }
}

fn model_of(record: &ExecutionRecord) -> Option<&str> {
    record.input.get("modelName").and_then(Value::as_str)
}

/// The model of `--model`, else of the newest execution.
fn choose_model(explicit: Option<&str>, records: &[ExecutionRecord]) -> Result<String, CliError> {
    if let Some(m) = explicit {
        return Ok(m.to_string());
    }
    records
        .iter()
        .max_by(|a, b| a.started_at.cmp(&b.started_at))
        .and_then(model_of)
        .map(str::to_string)
        .ok_or_else(|| {
            CliError::NotFound(
                "no execution names a model to report on; give --model MODEL".to_string(),
            )
        })
}

async fn execute(args: &ReportArgs) -> Result<(), CliError> {
    let target = args.target.resolve().await?;
    let (records, definitions, out, title_where): (
        Vec<ExecutionRecord>,
        Definitions,
        PathBuf,
        String,
    ) = match &target {
        Target::Local(flows) => (
            flows.records()?,
            flows.definitions()?,
            args.out
                .clone()
                .unwrap_or_else(|| flows.state_dir().join("report.html")),
            "the local cloud".to_string(),
        ),
        Target::Aws(stack) => (
            stack.flows.records(args.limit).await?,
            stack.flows.definitions().await?,
            args.out
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("report-{}.html", stack.name))),
            format!("stack {}", stack.name),
        ),
    };
    let model = choose_model(args.model.as_deref(), &records)?;
    let mut records: Vec<ExecutionRecord> = records
        .into_iter()
        .filter(|r| model_of(r) == Some(model.as_str()))
        .collect();
    records.sort_by(|a, b| a.started_at.cmp(&b.started_at));
    let registry = target.registry(None)?;
    let versions = registry.read.list_versions(&model).await?;
    let evaluations = registry.read.list_evaluations(&model, None).await?;
    // The local event log (a stack's events are on its EventBridge bus, not read back here).
    let events = match &target {
        Target::Local(flows) => EventLog::new(flows.state_dir()).read()?,
        Target::Aws(_) => Vec::new(),
    };
    // this model's events, and the failures (which may precede any model name)
    let events: Vec<_> = events
        .into_iter()
        .filter(|e| {
            e.detail
                .get("modelName")
                .is_none_or(|m| *m == model.as_str())
        })
        .collect();
    let html = render_html_with_events(
        &ReportInput {
            title: &format!("mdlc — life cycle of {model} on {title_where}"),
            executions: &records,
            definitions: &definitions,
            versions: &versions,
            evaluations: &evaluations,
        },
        &events,
    );
    // atomically: a failed write (a full disk) leaves no half report and names it
    mdlc_trainer::fsio::write_atomically(&out, html.as_bytes()).map_err(|e| {
        CliError::Unavailable(format!("could not write the report {}: {e}", out.display()))
    })?;
    if args.target.json {
        print_json(&json!({
            "report": out.display().to_string(),
            "modelName": model,
            "executions": records.len(),
            "versions": versions.len(),
            "evaluations": evaluations.len(),
        }))
    } else {
        println!(
            "{}: {model}, {} versions, {} evaluations, {} executions",
            out.display(),
            versions.len(),
            evaluations.len(),
            records.len()
        );
        Ok(())
    }
}
