//! `mdlc`: a thin dispatcher; each subcommand lives in `mdlc_cli::commands::<name>`.

use clap::{Parser, Subcommand};
use mdlc_cli::commands::{execute, validate};
use mdlc_cli::{demo, s3};

#[derive(Debug, Parser)]
#[command(
    name = "mdlc",
    version,
    about = "Model development life cycle toolkit: run state machines locally"
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
}

fn main() {
    let cli = Cli::parse();
    let code = match &cli.command {
        Command::Execute(a) => execute::run(a),
        Command::Validate(a) => validate::run(a),
        Command::S3(a) => s3::run(a),
        Command::Demo(a) => demo::run(a),
    };
    std::process::exit(code);
}
