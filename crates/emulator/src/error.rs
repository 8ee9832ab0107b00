//! Errors of the emulator, named the way Step Functions names SageMaker integration errors.
//!
//! Step Functions reports a failed service call as `SageMaker.<Java SDK exception class>`. The
//! SageMaker API models only a few exceptions (`ResourceInUse`, `ResourceNotFound`,
//! `ResourceLimitExceeded`, `ConflictException`); every other error code (`ValidationException`,
//! `ThrottlingException`, internal failures) reaches a state machine as
//! `SageMaker.AmazonSageMakerException` whose cause carries the real code, in the SDK's
//! `(Service: AmazonSageMaker; Status Code: 400; Error Code: ValidationException; ...)` form.
//! A `.sync` task whose job ends `Failed` or `Stopped` fails with `States.TaskFailed` and the
//! Describe* output (a JSON string) as the cause.

use serde_json::Value;
use thiserror::Error;

/// Error name for SageMaker errors that the SDK does not model (validation, throttling, 5xx).
pub const ERROR_SAGEMAKER_GENERIC: &str = "SageMaker.AmazonSageMakerException";
/// Error name when a resource of that name already exists (training/tuning/transform jobs).
pub const ERROR_RESOURCE_IN_USE: &str = "SageMaker.ResourceInUseException";
/// Error name when a Describe*/Stop* names a resource that does not exist.
pub const ERROR_RESOURCE_NOT_FOUND: &str = "SageMaker.ResourceNotFoundException";
/// Error name of a `.sync` task whose job ended `Failed` or `Stopped`.
pub const ERROR_TASK_FAILED: &str = "States.TaskFailed";
/// Error name of an action this emulator does not know.
pub const ERROR_RUNTIME: &str = "States.Runtime";

/// What a Task state sees when a call fails: the Step Functions `error` and `cause`.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{error}: {cause}")]
pub struct EmulatorFailure {
    pub error: String,
    pub cause: String,
}

/// A failed API call or job, before it is turned into an [`EmulatorFailure`].
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ApiError {
    /// The request is invalid (`ValidationException`); the message names every bad field.
    #[error("{0}")]
    Validation(String),
    /// A resource of that name exists (`ResourceInUse`).
    #[error("{0}")]
    ResourceInUse(String),
    /// No such resource (`ResourceNotFound`).
    #[error("{0}")]
    ResourceNotFound(String),
    /// Injected throttling (`ThrottlingException`).
    #[error("Rate exceeded")]
    Throttling,
    /// The emulator itself failed (I/O under its work directory and the like).
    #[error("{0}")]
    Internal(String),
    /// A `.sync` job ended Failed/Stopped; the payload is the Describe* output.
    #[error("job ended {status}")]
    JobFailed { status: String, describe: Value },
    /// Unknown integration action.
    #[error("{0}")]
    UnknownAction(String),
}

impl ApiError {
    pub fn validation(message: impl Into<String>) -> Self {
        ApiError::Validation(message.into())
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::Internal(message.into())
    }

    /// The SageMaker error code (as in the HTTP response), if this is an API error.
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            ApiError::Validation(_) => Some("ValidationException"),
            ApiError::ResourceInUse(_) => Some("ResourceInUse"),
            ApiError::ResourceNotFound(_) => Some("ResourceNotFound"),
            ApiError::Throttling => Some("ThrottlingException"),
            ApiError::Internal(_) => Some("InternalFailure"),
            ApiError::JobFailed { .. } | ApiError::UnknownAction(_) => None,
        }
    }

    /// The Step Functions view of this error.
    pub fn to_failure(&self) -> EmulatorFailure {
        let sdk_cause = |message: &str, status: u16, code: &str| {
            format!(
                "{message} (Service: AmazonSageMaker; Status Code: {status}; Error Code: {code}; Request ID: {}; Proxy: null)",
                uuid::Uuid::new_v4()
            )
        };
        match self {
            ApiError::Validation(m) => EmulatorFailure {
                error: ERROR_SAGEMAKER_GENERIC.into(),
                cause: sdk_cause(m, 400, "ValidationException"),
            },
            ApiError::ResourceInUse(m) => EmulatorFailure {
                error: ERROR_RESOURCE_IN_USE.into(),
                cause: sdk_cause(m, 400, "ResourceInUse"),
            },
            ApiError::ResourceNotFound(m) => EmulatorFailure {
                error: ERROR_RESOURCE_NOT_FOUND.into(),
                cause: sdk_cause(m, 400, "ResourceNotFound"),
            },
            ApiError::Throttling => EmulatorFailure {
                error: ERROR_SAGEMAKER_GENERIC.into(),
                cause: sdk_cause("Rate exceeded", 400, "ThrottlingException"),
            },
            ApiError::Internal(m) => EmulatorFailure {
                error: ERROR_SAGEMAKER_GENERIC.into(),
                cause: sdk_cause(m, 500, "InternalFailure"),
            },
            ApiError::JobFailed { describe, .. } => EmulatorFailure {
                error: ERROR_TASK_FAILED.into(),
                cause: describe.to_string(),
            },
            ApiError::UnknownAction(m) => EmulatorFailure {
                error: ERROR_RUNTIME.into(),
                cause: m.clone(),
            },
        }
    }
}

impl From<ApiError> for EmulatorFailure {
    fn from(e: ApiError) -> Self {
        e.to_failure()
    }
}

impl From<mdlc_core::PortError> for ApiError {
    fn from(e: mdlc_core::PortError) -> Self {
        ApiError::Internal(format!("object store: {e}"))
    }
}

/// Collects validation problems so that one error names every bad field.
#[derive(Debug, Default)]
pub struct Problems(Vec<String>);

impl Problems {
    pub fn new() -> Self {
        Problems(Vec::new())
    }

    pub fn push(&mut self, field: &str, message: impl AsRef<str>) {
        self.0.push(format!("'{field}' {}", message.as_ref()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was reported, else a `ValidationException` listing everything.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(ApiError::Validation(format!(
                "1 validation error detected: {}",
                self.0.concat()
            ))),
            n => Err(ApiError::Validation(format!(
                "{n} validation errors detected: {}",
                self.0.join("; ")
            ))),
        }
    }
}
