//! `mdlc validate DEFINITION`: exit 0, or 2 with every problem and its JSON pointer on stderr.

use std::path::PathBuf;

use clap::Args;

use crate::exit;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The state machine definition (Amazon States Language, JSON).
    pub definition: PathBuf,
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: &ValidateArgs) -> i32 {
    match super::load_definition(&args.definition) {
        Ok(_) => {
            println!("{}: valid", args.definition.display());
            exit::OK
        }
        Err(e) => {
            eprintln!("{e}");
            exit::USAGE
        }
    }
}
