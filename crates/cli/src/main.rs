//! `mdlc`: a thin dispatcher; each subcommand lives in `mdlc_cli::commands::<name>`.

use clap::{Parser, Subcommand};
use mdlc_cli::commands::{execute, executions, flow, registry, report, serve, validate};
use mdlc_cli::flows::Flow;
use mdlc_cli::{demo, exit, s3};

#[derive(Debug, Parser)]
#[command(
    name = "mdlc",
    version,
    about = "Model development life cycle toolkit: run the flows, inspect their executions, operate the model registry — on the local cloud (--state-dir) or a deployed stack (--stack)",
    after_help = exit::HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a state machine locally and print its result as one JSON object.
    Execute(Box<execute::ExecuteArgs>),
    /// Check a state machine definition and list every problem.
    Validate(validate::ValidateArgs),
    /// Copy and list objects of the local cloud's object store (`<state dir>/s3`).
    S3(s3::S3Args),
    /// The whole model life cycle on this machine: tune, register, evaluate, detect drift, retrain.
    Demo(demo::DemoArgs),
    /// Start the training flow, follow it until it ends, print the outcome.
    #[command(after_help = exit::HELP)]
    Train(flow::FlowArgs),
    /// Start the evaluation flow, follow it until it ends, print the outcome.
    #[command(after_help = exit::HELP)]
    Evaluate(flow::FlowArgs),
    /// List the flows' executions, or show one: status, path, per-state durations, cause.
    #[command(after_help = exit::HELP)]
    Executions(executions::ExecutionsArgs),
    /// The model registry: list, show, approve, reject, retire, roll back.
    #[command(after_help = exit::HELP)]
    Registry(registry::RegistryArgs),
    /// Write the HTML report of a model's life cycle.
    #[command(after_help = exit::HELP)]
    Report(report::ReportArgs),
    /// Serve the Step Functions API on 127.0.0.1 (a drop-in for Step Functions Local); prints
    /// the endpoint on its first line.
    Serve(Box<serve::ServeArgs>),
}

fn main() {
    let cli = Cli::parse();
    let code = match &cli.command {
        Command::Execute(a) => execute::run(a),
        Command::Validate(a) => validate::run(a),
        Command::S3(a) => s3::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Train(a) => flow::run(Flow::Training, a),
        Command::Evaluate(a) => flow::run(Flow::Evaluation, a),
        Command::Executions(a) => executions::run(a),
        Command::Registry(a) => registry::run(a),
        Command::Report(a) => report::run(a),
        Command::Serve(a) => serve::run(a),
    };
    std::process::exit(code);
}
