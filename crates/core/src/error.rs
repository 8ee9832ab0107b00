//! Errors that adapters report through the ports.

use thiserror::Error;

/// An error reported by an adapter behind a port. Handlers map these to their own typed errors
/// (for example [`PortError::Unavailable`] to the retryable `DependencyUnavailable`).
#[derive(Debug, Error, Clone, PartialEq)]
pub enum PortError {
    /// The named thing (object, model, job, version) does not exist.
    #[error("not found: {what}")]
    NotFound { what: String },
    /// A conditional write lost (for example a concurrent registration); the caller may retry.
    #[error("conflict: {message}")]
    Conflict { message: String },
    /// The dependency is throttling, returned 5xx or could not be reached: retryable.
    #[error("dependency unavailable: {message}")]
    Unavailable { message: String },
    /// The dependency rejected the request as invalid (4xx other than throttling).
    #[error("rejected by dependency: {message}")]
    Rejected { message: String },
    /// Data read through the port could not be decoded.
    #[error("corrupt data: {message}")]
    Corrupt { message: String },
}

impl PortError {
    /// Whether a retry of the same call may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, PortError::Unavailable { .. } | PortError::Conflict { .. })
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        PortError::NotFound { what: what.into() }
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        PortError::Unavailable {
            message: message.into(),
        }
    }
}
