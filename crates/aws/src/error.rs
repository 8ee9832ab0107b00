//! The one place where AWS SDK errors become [`PortError`]s.
//!
//! | what the SDK reports | [`PortError`] |
//! | --- | --- |
//! | timeout, dispatch failure (connection refused, DNS, TLS), unparsable response | `Unavailable` |
//! | throttling codes, HTTP 429, HTTP 5xx | `Unavailable` |
//! | not-found codes, HTTP 404 | `NotFound` |
//! | condition / transaction / in-use / already-exists codes, HTTP 409 and 412 | `Conflict` |
//! | any other 4xx, a request that could not be built | `Rejected` |

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use mdlc_core::PortError;

/// Error codes that mean "try again later" whatever the HTTP status says.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "RequestThrottled",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "SlowDown",
    "PriorRequestNotComplete",
    "TransactionInProgressException",
    "EC2ThrottledException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServerException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Error codes that mean "the thing does not exist".
const NOT_FOUND_CODES: &[&str] = &[
    "ResourceNotFoundException",
    "ResourceNotFound",
    "NoSuchKey",
    "NoSuchBucket",
    "NotFound",
];

/// Error codes that mean "a condition on the current state failed".
const CONFLICT_CODES: &[&str] = &[
    "ConditionalCheckFailedException",
    "TransactionCanceledException",
    "TransactionConflictException",
    "ResourceInUse",
    "ResourceInUseException",
    "ConflictException",
    "PreconditionFailed",
    "OperationAborted",
];

/// What kind of failure an error code / status pair denotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorClass {
    Unavailable,
    NotFound,
    Conflict,
    Rejected,
}

/// Classifies a service error by its code first (codes are stable across protocols), then by
/// its HTTP status.
pub(crate) fn classify(code: Option<&str>, status: u16) -> ErrorClass {
    if let Some(code) = code {
        if THROTTLING_CODES.contains(&code) {
            return ErrorClass::Unavailable;
        }
        if NOT_FOUND_CODES.contains(&code) {
            return ErrorClass::NotFound;
        }
        if CONFLICT_CODES.contains(&code) {
            return ErrorClass::Conflict;
        }
    }
    match status {
        429 | 500..=599 => ErrorClass::Unavailable,
        404 => ErrorClass::NotFound,
        409 | 412 => ErrorClass::Conflict,
        _ => ErrorClass::Rejected,
    }
}

/// The code, message and HTTP status of a service error, when the error is one.
pub(crate) fn service_error_parts<E>(err: &SdkError<E, HttpResponse>) -> Option<ServiceErrorParts>
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(ctx) => Some(ServiceErrorParts {
            code: ctx.err().code().map(str::to_string),
            message: ctx.err().message().map(str::to_string),
            status: ctx.raw().status().as_u16(),
        }),
        _ => None,
    }
}

/// The parts of a modelled service error that the mapping looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceErrorParts {
    pub code: Option<String>,
    pub message: Option<String>,
    pub status: u16,
}

impl ServiceErrorParts {
    /// "Code: message" for error texts.
    pub fn describe(&self) -> String {
        match (&self.code, &self.message) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.clone(),
            (None, Some(m)) => format!("HTTP {}: {m}", self.status),
            (None, None) => format!("HTTP {}", self.status),
        }
    }
}

/// Maps any SDK error of `operation` on `target` (a table, an object, a job…) to a [`PortError`].
pub(crate) fn map_sdk_error<E>(
    operation: &str,
    target: &str,
    err: &SdkError<E, HttpResponse>,
) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(_) => {
            // A ServiceError always has parts; the fallback keeps this total.
            let parts = service_error_parts(err).unwrap_or(ServiceErrorParts {
                code: None,
                message: None,
                status: 0,
            });
            from_parts(operation, target, &parts)
        }
        SdkError::TimeoutError(_) => PortError::Unavailable {
            message: format!("{operation} on {target}: timed out"),
        },
        SdkError::DispatchFailure(failure) => PortError::Unavailable {
            message: format!(
                "{operation} on {target}: request could not be sent: {}",
                chain(
                    failure
                        .as_connector_error()
                        .map(|e| e as &dyn std::error::Error)
                )
            ),
        },
        SdkError::ResponseError(_) => PortError::Unavailable {
            message: format!(
                "{operation} on {target}: response could not be read: {}",
                chain(Some(err))
            ),
        },
        SdkError::ConstructionFailure(_) => PortError::Rejected {
            message: format!(
                "{operation} on {target}: request could not be built: {}",
                chain(Some(err))
            ),
        },
        _ => PortError::Unavailable {
            message: format!("{operation} on {target}: {}", chain(Some(err))),
        },
    }
}

/// Maps the parts of a service error to a [`PortError`].
pub(crate) fn from_parts(operation: &str, target: &str, parts: &ServiceErrorParts) -> PortError {
    let text = format!("{operation} on {target}: {}", parts.describe());
    match classify(parts.code.as_deref(), parts.status) {
        ErrorClass::Unavailable => PortError::Unavailable { message: text },
        ErrorClass::NotFound => PortError::NotFound { what: text },
        ErrorClass::Conflict => PortError::Conflict { message: text },
        ErrorClass::Rejected => PortError::Rejected { message: text },
    }
}

/// An error and its sources, joined with ": ".
fn chain(err: Option<&dyn std::error::Error>) -> String {
    let mut out = Vec::new();
    let mut next = err;
    while let Some(e) = next {
        let text = e.to_string();
        if out.last() != Some(&text) {
            out.push(text);
        }
        next = e.source();
    }
    if out.is_empty() {
        "unknown error".to_string()
    } else {
        out.join(": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_throttling_codes_when_classified_then_unavailable_whatever_the_status() {
        assert_eq!(
            classify(Some("ThrottlingException"), 400),
            ErrorClass::Unavailable
        );
        assert_eq!(
            classify(Some("ProvisionedThroughputExceededException"), 400),
            ErrorClass::Unavailable
        );
        assert_eq!(classify(Some("SlowDown"), 503), ErrorClass::Unavailable);
    }

    #[test]
    fn given_statuses_without_known_code_when_classified_then_by_status() {
        assert_eq!(classify(None, 500), ErrorClass::Unavailable);
        assert_eq!(classify(Some("Weird"), 503), ErrorClass::Unavailable);
        assert_eq!(classify(None, 429), ErrorClass::Unavailable);
        assert_eq!(classify(None, 404), ErrorClass::NotFound);
        assert_eq!(classify(None, 409), ErrorClass::Conflict);
        assert_eq!(classify(None, 412), ErrorClass::Conflict);
        assert_eq!(
            classify(Some("ValidationException"), 400),
            ErrorClass::Rejected
        );
        assert_eq!(
            classify(Some("AccessDeniedException"), 403),
            ErrorClass::Rejected
        );
    }

    #[test]
    fn given_not_found_and_conflict_codes_when_classified_then_mapped() {
        assert_eq!(classify(Some("NoSuchKey"), 404), ErrorClass::NotFound);
        assert_eq!(
            classify(Some("ResourceNotFoundException"), 400),
            ErrorClass::NotFound
        );
        assert_eq!(
            classify(Some("ConditionalCheckFailedException"), 400),
            ErrorClass::Conflict
        );
        assert_eq!(classify(Some("ResourceInUse"), 400), ErrorClass::Conflict);
    }

    #[test]
    fn given_parts_when_mapped_then_message_names_operation_target_and_code() {
        let err = from_parts(
            "GetItem",
            "table t",
            &ServiceErrorParts {
                code: Some("ValidationException".into()),
                message: Some("bad key".into()),
                status: 400,
            },
        );
        assert_eq!(
            err,
            PortError::Rejected {
                message: "GetItem on table t: ValidationException: bad key".into()
            }
        );
    }
}
