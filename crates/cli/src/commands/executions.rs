//! `mdlc executions list` and `mdlc executions show NAME|ARN`: status, path taken, per-state
//! durations and failure cause of the flows' executions, locally (the local cloud's records)
//! or on a stack (ListExecutions, DescribeExecution, GetExecutionHistory).

use clap::{Args, Subcommand};
use mdlc_local::report::format_millis;

use crate::error::CliError;
use crate::flows::{ExecutionDetail, ExecutionSummary};
use crate::output::{Table, or_dash, print_json};
use crate::target::{Target, TargetArgs};

#[derive(Debug, Args)]
pub struct ExecutionsArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(subcommand)]
    pub command: ExecutionsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ExecutionsCommand {
    /// The executions of the training and evaluation flows, newest first.
    List {
        /// At most this many (on a stack: per flow, then the newest overall).
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One execution: status, path taken, per-state durations, error and cause, output.
    Show {
        /// The execution's name or ARN.
        execution: String,
    },
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: &ExecutionsArgs) -> i32 {
    let json = args.target.json;
    match super::block_on(execute(args)) {
        Ok(code) => code,
        Err(e) => e.report(json),
    }
}

async fn execute(args: &ExecutionsArgs) -> Result<i32, CliError> {
    let target = args.target.resolve().await?;
    let json = args.target.json;
    match &args.command {
        ExecutionsCommand::List { limit } => {
            let list = match &target {
                Target::Local(flows) => {
                    let mut list = flows.list()?;
                    list.truncate(*limit);
                    list
                }
                Target::Aws(stack) => stack.flows.list(*limit).await?,
            };
            print_list(&list, json)?;
            Ok(crate::exit::OK)
        }
        ExecutionsCommand::Show { execution } => {
            let detail = match &target {
                Target::Local(flows) => flows.show(execution)?,
                Target::Aws(stack) => stack.flows.show(execution).await?,
            };
            print_detail(&detail, json)?;
            Ok(crate::exit::OK)
        }
    }
}

/// The list as a table, or `{"executions": [...]}`.
pub fn print_list(list: &[ExecutionSummary], json: bool) -> Result<(), CliError> {
    if json {
        return print_json(&serde_json::json!({ "executions": list }));
    }
    let mut t = Table::new(&["NAME", "FLOW", "STATUS", "STARTED", "STOPPED"]);
    for e in list {
        t.row(vec![
            e.name.clone(),
            e.state_machine.clone(),
            e.status.clone(),
            or_dash(e.started_at.as_ref()),
            or_dash(e.stopped_at.as_ref()),
        ]);
    }
    if t.is_empty() {
        println!("no executions");
    } else {
        print!("{}", t.render());
    }
    Ok(())
}

/// One execution as text, or as its JSON document.
pub fn print_detail(d: &ExecutionDetail, json: bool) -> Result<(), CliError> {
    if json {
        return print_json(d);
    }
    let s = &d.summary;
    let mut head = Table::new(&["execution", &s.name]);
    head.row(vec!["arn".into(), s.execution_arn.clone()]);
    head.row(vec!["flow".into(), s.state_machine.clone()]);
    head.row(vec!["status".into(), s.status.clone()]);
    head.row(vec!["started".into(), or_dash(s.started_at.as_ref())]);
    head.row(vec!["stopped".into(), or_dash(s.stopped_at.as_ref())]);
    if let Some(p) = &d.parent_arn {
        head.row(vec!["started by".into(), p.clone()]);
    }
    if let Some(e) = &d.error {
        head.row(vec!["error".into(), e.clone()]);
    }
    if let Some(c) = &d.cause {
        head.row(vec!["cause".into(), c.clone()]);
    }
    head.row(vec!["path".into(), or_dash(path_text(&d.path))]);
    print!("{}", head.render());
    if !d.states.is_empty() {
        let mut t = Table::new(&["STATE", "VISITS", "FAILURES", "DURATION"]);
        for st in &d.states {
            t.row(vec![
                st.state.clone(),
                st.visits.to_string(),
                st.failures.to_string(),
                if st.unfinished {
                    format!("{} (unfinished)", format_millis(st.duration_ms))
                } else {
                    format_millis(st.duration_ms)
                },
            ]);
        }
        println!();
        print!("{}", t.render());
    }
    if let Some(o) = &d.output {
        println!("\noutput {o}");
    }
    Ok(())
}

/// `A → B → C`, `None` for no state.
fn path_text(path: &[String]) -> Option<String> {
    (!path.is_empty()).then(|| path.join(" → "))
}
