//! The errors of the operating commands (train, evaluate, executions, registry, report), each
//! with a stable name (`--json`) and an exit code ([`crate::exit`]).

use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata};
use mdlc_core::PortError;
use mdlc_core::registry_ops::OperationError;
use serde_json::json;

use crate::exit;

/// Why an operating command did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad arguments or input (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The named thing does not exist (exit 4).
    #[error("{0}")]
    NotFound(String),
    /// The execution name is taken (exit 3), as StartExecution's `ExecutionAlreadyExists`.
    #[error("{0}")]
    ExecutionAlreadyExists(String),
    /// AWS or local state could not be reached, read or written (exit 5).
    #[error("{0}")]
    Unavailable(String),
    /// A registry operation was refused or failed.
    #[error("{0}")]
    Operation(#[from] OperationError),
    /// A registry read or write failed.
    #[error("{0}")]
    Port(#[from] PortError),
}

impl CliError {
    /// The error's stable name: the registry's own names ([`OperationError::name`]) for
    /// operations, else `InvalidInput`, `NotFound`, `ExecutionAlreadyExists`, `Unavailable`,
    /// `Conflict`.
    pub fn name(&self) -> &'static str {
        match self {
            CliError::Usage(_) => "InvalidInput",
            CliError::NotFound(_) => "NotFound",
            CliError::ExecutionAlreadyExists(_) => "ExecutionAlreadyExists",
            CliError::Unavailable(_) => "Unavailable",
            CliError::Operation(OperationError::Port(p)) | CliError::Port(p) => port_name(p),
            CliError::Operation(e) => e.name(),
        }
    }

    /// The exit code ([`crate::exit`]).
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => exit::USAGE,
            CliError::NotFound(_) => exit::NOT_FOUND,
            CliError::ExecutionAlreadyExists(_) => exit::CONFLICT,
            CliError::Unavailable(_) => exit::UNAVAILABLE,
            CliError::Operation(e) => operation_code(e),
            CliError::Port(p) => port_code(p),
        }
    }

    /// Prints the error on stderr, and with `json` also `{"error": NAME, "message": TEXT}` on
    /// stdout; returns the exit code.
    pub fn report(&self, json: bool) -> i32 {
        eprintln!("error: {self}");
        if json {
            println!(
                "{}",
                json!({"error": self.name(), "message": self.to_string()})
            );
        }
        self.exit_code()
    }
}

fn operation_code(e: &OperationError) -> i32 {
    match e {
        OperationError::InvalidRequest { .. } => exit::USAGE,
        OperationError::VersionNotFound { .. } => exit::NOT_FOUND,
        OperationError::InvalidTransition { .. }
        | OperationError::NothingToRollBack { .. }
        | OperationError::TooManyVersions { .. }
        | OperationError::RegistryConflict { .. } => exit::CONFLICT,
        OperationError::Port(p) => port_code(p),
    }
}

fn port_code(p: &PortError) -> i32 {
    match p {
        PortError::NotFound { .. } => exit::NOT_FOUND,
        PortError::Conflict { .. } => exit::CONFLICT,
        PortError::Unavailable { .. } | PortError::Rejected { .. } | PortError::Corrupt { .. } => {
            exit::UNAVAILABLE
        }
    }
}

fn port_name(p: &PortError) -> &'static str {
    match p {
        PortError::NotFound { .. } => "NotFound",
        PortError::Conflict { .. } => "Conflict",
        PortError::Unavailable { .. } => "Unavailable",
        PortError::Rejected { .. } => "Rejected",
        PortError::Corrupt { .. } => "Corrupt",
    }
}

/// Maps an SDK error: a missing thing → not found (4), a taken name → conflict (3), invalid
/// arguments → usage (2), anything else (credentials, permissions, throttling, network) →
/// unavailable (5). The message names the call.
pub fn sdk_error<E, R>(call: &str, e: aws_sdk_sfn::error::SdkError<E, R>) -> CliError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = e.code().unwrap_or_default().to_string();
    let text = e.message().unwrap_or_default().to_string();
    let message = format!("{call}: {}", DisplayErrorContext(&e));
    match code.as_str() {
        "ExecutionDoesNotExist" | "StateMachineDoesNotExist" | "ResourceNotFound" => {
            CliError::NotFound(message)
        }
        "ValidationError" if text.contains("does not exist") => CliError::NotFound(message),
        "ExecutionAlreadyExists" => CliError::ExecutionAlreadyExists(message),
        "InvalidName" | "InvalidExecutionInput" | "InvalidArn" | "ValidationException" => {
            CliError::Usage(message)
        }
        _ => CliError::Unavailable(message),
    }
}

#[cfg(test)]
mod tests {
    use mdlc_core::registry::VersionStatus;
    use mdlc_core::registry_ops::Action;

    use super::*;

    #[test]
    fn every_error_has_its_documented_exit_code_and_name() {
        let transition = OperationError::InvalidTransition {
            model: "m".into(),
            version: 1,
            action: Action::Approve,
            current: VersionStatus::Retired,
            allowed: vec![],
        };
        let cases: Vec<(CliError, i32, &str)> = vec![
            (CliError::Usage("x".into()), 2, "InvalidInput"),
            (CliError::NotFound("x".into()), 4, "NotFound"),
            (
                CliError::ExecutionAlreadyExists("x".into()),
                3,
                "ExecutionAlreadyExists",
            ),
            (CliError::Unavailable("x".into()), 5, "Unavailable"),
            (transition.into(), 3, "InvalidTransition"),
            (
                OperationError::VersionNotFound {
                    model: "m".into(),
                    version: 9,
                }
                .into(),
                4,
                "VersionNotFound",
            ),
            (
                OperationError::InvalidRequest {
                    field: "reason",
                    message: "empty".into(),
                }
                .into(),
                2,
                "InvalidRequest",
            ),
            (
                OperationError::Port(PortError::unavailable("down")).into(),
                5,
                "Unavailable",
            ),
            (PortError::not_found("model m").into(), 4, "NotFound"),
            (
                PortError::Rejected {
                    message: "AccessDenied".into(),
                }
                .into(),
                5,
                "Rejected",
            ),
        ];
        for (error, code, name) in cases {
            assert_eq!(error.exit_code(), code, "{error:?}");
            assert_eq!(error.name(), name, "{error:?}");
        }
    }
}
