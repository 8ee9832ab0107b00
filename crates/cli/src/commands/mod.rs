//! One module per subcommand.

pub mod execute;
pub mod executions;
pub mod flow;
pub mod registry;
pub mod report;
pub mod serve;
pub mod validate;

use std::path::Path;

/// A problem reading the command's inputs (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{what} is not valid JSON: {message}")]
    Json { what: String, message: String },
    #[error("{0}")]
    Usage(String),
    /// The execution input is over Step Functions' quota (StartExecution refuses it).
    #[error("{what}: {source}")]
    Quota {
        what: String,
        source: mdlc_asl::ExecutionInputError,
    },
}

/// Reads a file as text.
pub fn read_text(path: &Path) -> Result<String, InputError> {
    std::fs::read_to_string(path).map_err(|source| InputError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Loads and validates a definition file; on failure returns every problem as text.
pub fn load_definition(path: &Path) -> Result<mdlc_asl::StateMachine, String> {
    let text = read_text(path).map_err(|e| e.to_string())?;
    mdlc_asl::StateMachine::from_json_str(&text)
        .map_err(|e| format!("{}: invalid state machine definition:\n{e}", path.display()))
}

/// Runs an operating command's future on the local runtime; a runtime that cannot start is
/// [`crate::error::CliError::Unavailable`].
pub fn block_on<T>(
    future: impl std::future::Future<Output = Result<T, crate::error::CliError>>,
) -> Result<T, crate::error::CliError> {
    let rt = crate::local::runtime().map_err(crate::error::CliError::Unavailable)?;
    rt.block_on(future)
}
