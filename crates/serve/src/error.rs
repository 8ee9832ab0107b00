//! The errors of the API as AWS sends them for the AWS JSON 1.0 protocol: HTTP 400 with
//! `{"__type": "<namespace>#<Code>", "message": "..."}` (botocore and the SDKs keep the part
//! after `#` as the error code).
//!
//! Step Functions' own exceptions are in the `com.amazonaws.swf.service.v2.model` namespace;
//! a violated member constraint is `com.amazon.coral.validate#ValidationException`; an unknown
//! operation or an unreadable body comes from the service framework
//! (`com.amazon.coral.service#UnknownOperationException` / `#SerializationException`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

const SWF: &str = "com.amazonaws.swf.service.v2.model";
const CORAL_VALIDATE: &str = "com.amazon.coral.validate";
const CORAL_SERVICE: &str = "com.amazon.coral.service";

/// One error answer of the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    namespace: &'static str,
    /// The error code clients see (`ExecutionDoesNotExist`, `ValidationException`, ...).
    pub code: &'static str,
    pub message: String,
    /// The server's fault (HTTP 500), not the request's.
    server_fault: bool,
}

impl ApiError {
    /// A Step Functions exception (`InvalidArn`, `StateMachineDoesNotExist`, ...).
    pub fn service(code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            namespace: SWF,
            code,
            message: message.into(),
            server_fault: false,
        }
    }

    /// A failure of the server itself (its state directory): HTTP 500, `InternalFailure`.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            namespace: CORAL_SERVICE,
            code: "InternalFailure",
            message: message.into(),
            server_fault: true,
        }
    }

    /// Violated member constraints: `N validation error(s) detected: a; b`.
    pub fn validation(violations: &[String]) -> Self {
        let noun = if violations.len() == 1 {
            "error"
        } else {
            "errors"
        };
        ApiError {
            namespace: CORAL_VALIDATE,
            code: "ValidationException",
            message: format!(
                "{} validation {noun} detected: {}",
                violations.len(),
                violations.join("; ")
            ),
            server_fault: false,
        }
    }

    /// A `ValidationException` with a message of its own (not a member constraint).
    pub fn validation_message(message: impl Into<String>) -> Self {
        ApiError {
            namespace: SWF,
            code: "ValidationException",
            message: message.into(),
            server_fault: false,
        }
    }

    /// The target names no operation of the service.
    pub fn unknown_operation(target: &str) -> Self {
        ApiError {
            namespace: CORAL_SERVICE,
            code: "UnknownOperationException",
            message: format!(
                "The operation {target:?} is not an operation of AWSStepFunctions (X-Amz-Target: AWSStepFunctions.<Operation>)"
            ),
            server_fault: false,
        }
    }

    /// The body is not a JSON object of the operation's shape.
    pub fn serialization(message: impl Into<String>) -> Self {
        ApiError {
            namespace: CORAL_SERVICE,
            code: "SerializationException",
            message: message.into(),
            server_fault: false,
        }
    }

    pub fn invalid_arn(arn: &str) -> Self {
        if arn.starts_with("arn:") {
            Self::service("InvalidArn", format!("Invalid Arn: 'Invalid ARN: {arn}'"))
        } else {
            Self::service(
                "InvalidArn",
                format!("Invalid Arn: 'Invalid ARN prefix: {arn}'"),
            )
        }
    }

    pub fn invalid_name(name: &str) -> Self {
        Self::service("InvalidName", format!("Invalid Name: '{name}'"))
    }

    pub fn state_machine_does_not_exist(arn: &str) -> Self {
        Self::service(
            "StateMachineDoesNotExist",
            format!("State Machine Does Not Exist: '{arn}'"),
        )
    }

    pub fn state_machine_already_exists(arn: &str) -> Self {
        Self::service(
            "StateMachineAlreadyExists",
            format!("State Machine Already Exists: '{arn}'"),
        )
    }

    pub fn execution_does_not_exist(arn: &str) -> Self {
        Self::service(
            "ExecutionDoesNotExist",
            format!("Execution Does Not Exist: '{arn}'"),
        )
    }

    pub fn execution_already_exists(arn: &str) -> Self {
        Self::service(
            "ExecutionAlreadyExists",
            format!("Execution Already Exists: '{arn}'"),
        )
    }

    pub fn invalid_definition(detail: &str) -> Self {
        Self::service(
            "InvalidDefinition",
            format!("Invalid State Machine Definition: '{detail}'"),
        )
    }

    pub fn invalid_execution_input(detail: &str) -> Self {
        Self::service(
            "InvalidExecutionInput",
            format!("Invalid State Machine Execution Input: '{detail}'"),
        )
    }

    pub fn invalid_token(detail: &str) -> Self {
        Self::service("InvalidToken", format!("Invalid Token: '{detail}'"))
    }

    /// The `__type` member of the body.
    pub fn type_name(&self) -> String {
        format!("{}#{}", self.namespace, self.code)
    }
}

/// `Value 'v' at 'member' failed to satisfy constraint: ...` (`Value null at ...` when absent).
pub fn constraint(value: Option<&str>, member: &str, constraint: &str) -> String {
    match value {
        Some(v) => format!("Value '{v}' at '{member}' failed to satisfy constraint: {constraint}"),
        None => format!("Value null at '{member}' failed to satisfy constraint: {constraint}"),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"__type": self.type_name(), "message": self.message});
        let status = if self.server_fault {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::BAD_REQUEST
        };
        crate::answer::json_response(status, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_violation_is_singular_and_several_are_joined() {
        assert_eq!(
            ApiError::validation(&["a".into()]).message,
            "1 validation error detected: a"
        );
        assert_eq!(
            ApiError::validation(&["a".into(), "b".into()]).message,
            "2 validation errors detected: a; b"
        );
    }

    #[test]
    fn type_names_carry_their_namespace() {
        assert_eq!(
            ApiError::execution_does_not_exist("x").type_name(),
            "com.amazonaws.swf.service.v2.model#ExecutionDoesNotExist"
        );
        assert_eq!(
            ApiError::validation(&["a".into()]).type_name(),
            "com.amazon.coral.validate#ValidationException"
        );
        assert_eq!(
            ApiError::invalid_arn("nope").message,
            "Invalid Arn: 'Invalid ARN prefix: nope'"
        );
    }
}
