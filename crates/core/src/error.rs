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
        matches!(
            self,
            PortError::Unavailable { .. } | PortError::Conflict { .. }
        )
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

/// The stable, PascalCase error names of the handlers: the only names the state machines'
/// `Retry` / `Catch` may match (listed in `statemachine/README.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorName {
    /// The event is malformed; the message lists every bad field with its JSON pointer.
    InvalidInput,
    /// No (servable) version of the model, or the pinned version does not exist.
    ModelNotFound,
    /// The training job finished without model artifacts, or they are not in the store.
    ModelArtifactsMissing,
    /// The training job did not complete.
    TrainingFailed,
    /// A registry write conflicted in a way a retry cannot fix.
    RegistryConflict,
    /// Predictions and ground truth differ in row count, or a line does not parse.
    PredictionsMismatch,
    /// The loop guard refused another retrain in the current window.
    RetrainLimitReached,
    /// The data a retrain of the evaluated version would train on does not exist (checked
    /// before the batch transform, so no job starts).
    RetrainDataMissing,
    /// A dependency throttled, failed with 5xx or could not be reached: retryable.
    DependencyUnavailable,
    /// A dependency rejected a request as invalid (not retryable).
    DependencyRejected,
    /// Data read from a dependency could not be decoded.
    CorruptData,
    /// The function's environment is missing or malformed.
    ConfigurationError,
}

impl ErrorName {
    /// Every name, in the order of the vocabulary table.
    pub const ALL: [ErrorName; 12] = [
        ErrorName::InvalidInput,
        ErrorName::ModelNotFound,
        ErrorName::ModelArtifactsMissing,
        ErrorName::TrainingFailed,
        ErrorName::RegistryConflict,
        ErrorName::PredictionsMismatch,
        ErrorName::RetrainLimitReached,
        ErrorName::RetrainDataMissing,
        ErrorName::DependencyUnavailable,
        ErrorName::DependencyRejected,
        ErrorName::CorruptData,
        ErrorName::ConfigurationError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorName::InvalidInput => "InvalidInput",
            ErrorName::ModelNotFound => "ModelNotFound",
            ErrorName::ModelArtifactsMissing => "ModelArtifactsMissing",
            ErrorName::TrainingFailed => "TrainingFailed",
            ErrorName::RegistryConflict => "RegistryConflict",
            ErrorName::PredictionsMismatch => "PredictionsMismatch",
            ErrorName::RetrainLimitReached => "RetrainLimitReached",
            ErrorName::RetrainDataMissing => "RetrainDataMissing",
            ErrorName::DependencyUnavailable => "DependencyUnavailable",
            ErrorName::DependencyRejected => "DependencyRejected",
            ErrorName::CorruptData => "CorruptData",
            ErrorName::ConfigurationError => "ConfigurationError",
        }
    }

    /// Whether the state machines retry this error.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorName::DependencyUnavailable)
    }

    pub fn parse(name: &str) -> Option<ErrorName> {
        ErrorName::ALL.into_iter().find(|n| n.as_str() == name)
    }
}

impl std::fmt::Display for ErrorName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with an input: where (a JSON pointer into the event) and what.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Problem {
    pub pointer: String,
    pub message: String,
}

impl Problem {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "(root)"
        } else {
            &self.pointer
        };
        write!(f, "{pointer}: {}", self.message)
    }
}

fn join_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A handler's failure. Each variant maps to one [`ErrorName`] (the Lambda `errorType`).
#[derive(Debug, Error, Clone, PartialEq)]
pub enum FnError {
    #[error("invalid input: {}", join_problems(.problems))]
    InvalidInput { problems: Vec<Problem> },
    #[error("model {model:?}: {detail}")]
    ModelNotFound { model: String, detail: String },
    #[error("model artifacts missing for training job {job:?}: {detail}")]
    ModelArtifactsMissing { job: String, detail: String },
    #[error("training job {job:?} did not complete: {reason}")]
    TrainingFailed { job: String, reason: String },
    #[error("registry conflict: {message}")]
    RegistryConflict { message: String },
    #[error("{file}{}: {message}", .line.map(|l| format!(" line {l}")).unwrap_or_default())]
    PredictionsMismatch {
        file: String,
        line: Option<u64>,
        message: String,
    },
    #[error(
        "model {model:?}: {retrains} retrain(s) already started in the last {window_seconds} s (maximum {max})"
    )]
    RetrainLimitReached {
        model: String,
        retrains: u32,
        max: u32,
        window_seconds: u64,
    },
    #[error("model {model:?} version {version}: retrain data missing: {detail}")]
    RetrainDataMissing {
        model: String,
        version: u64,
        detail: String,
    },
    #[error("dependency unavailable: {message}")]
    DependencyUnavailable { message: String },
    #[error("rejected by dependency: {message}")]
    DependencyRejected { message: String },
    #[error("corrupt data: {message}")]
    CorruptData { message: String },
    #[error("configuration: {message}")]
    ConfigurationError { message: String },
}

impl FnError {
    /// The stable name (Lambda `errorType`).
    pub fn name(&self) -> ErrorName {
        match self {
            FnError::InvalidInput { .. } => ErrorName::InvalidInput,
            FnError::ModelNotFound { .. } => ErrorName::ModelNotFound,
            FnError::ModelArtifactsMissing { .. } => ErrorName::ModelArtifactsMissing,
            FnError::TrainingFailed { .. } => ErrorName::TrainingFailed,
            FnError::RegistryConflict { .. } => ErrorName::RegistryConflict,
            FnError::PredictionsMismatch { .. } => ErrorName::PredictionsMismatch,
            FnError::RetrainLimitReached { .. } => ErrorName::RetrainLimitReached,
            FnError::RetrainDataMissing { .. } => ErrorName::RetrainDataMissing,
            FnError::DependencyUnavailable { .. } => ErrorName::DependencyUnavailable,
            FnError::DependencyRejected { .. } => ErrorName::DependencyRejected,
            FnError::CorruptData { .. } => ErrorName::CorruptData,
            FnError::ConfigurationError { .. } => ErrorName::ConfigurationError,
        }
    }

    /// One invalid-input problem.
    pub fn invalid(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        FnError::InvalidInput {
            problems: vec![Problem::new(pointer, message)],
        }
    }

    /// The generic mapping of a port error. `NotFound` becomes `DependencyRejected` here:
    /// handlers that give "not found" a domain meaning map it themselves first.
    pub fn from_port(context: &str, error: PortError) -> Self {
        match error {
            PortError::NotFound { what } => FnError::DependencyRejected {
                message: format!("{context}: not found: {what}"),
            },
            PortError::Conflict { message } => FnError::RegistryConflict {
                message: format!("{context}: {message}"),
            },
            PortError::Unavailable { message } => FnError::DependencyUnavailable {
                message: format!("{context}: {message}"),
            },
            PortError::Rejected { message } => FnError::DependencyRejected {
                message: format!("{context}: {message}"),
            },
            PortError::Corrupt { message } => FnError::CorruptData {
                message: format!("{context}: {message}"),
            },
        }
    }
}

/// The failure a handler reports to Lambda / the local runtime: the Lambda "Diagnostic" pair.
/// Serializes like a Lambda error response: `{"errorType": .., "errorMessage": ..}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HandlerFailure {
    #[serde(rename = "errorType")]
    pub error_type: String,
    #[serde(rename = "errorMessage")]
    pub message: String,
}

impl std::fmt::Display for HandlerFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)
    }
}

impl std::error::Error for HandlerFailure {}

/// Checks of handler tests (feature `testing`).
#[cfg(any(test, feature = "testing"))]
impl HandlerFailure {
    /// Panics, showing the whole failure, unless its message mentions `needle`.
    #[track_caller]
    pub fn assert_mentions(&self, needle: &str) {
        assert!(self.message.contains(needle), "{needle:?} is not in {self}");
    }

    /// Panics, showing the whole failure, unless it is an `error_type` failure whose message
    /// mentions `needle`: the usual check of a handler test in one line.
    #[track_caller]
    pub fn assert_is(&self, error_type: &str, needle: &str) {
        assert_eq!(self.error_type, error_type, "the failure is {self}");
        self.assert_mentions(needle);
    }
}

impl From<FnError> for HandlerFailure {
    fn from(error: FnError) -> Self {
        HandlerFailure {
            error_type: error.name().as_str().to_string(),
            message: error.to_string(),
        }
    }
}

/// An error and its sources, `: `-separated: an HTTP client's own message is often only "client
/// error" or "builder error", and the cause is in its sources.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chain_joins_an_error_and_each_of_its_sources() {
        #[derive(Debug, thiserror::Error)]
        #[error("connection refused")]
        struct Bottom;
        #[derive(Debug, thiserror::Error)]
        #[error("connect")]
        struct Middle(#[source] Bottom);
        #[derive(Debug, thiserror::Error)]
        #[error("client error")]
        struct Top(#[source] Middle);
        assert_eq!(
            error_chain(&Top(Middle(Bottom))),
            "client error: connect: connection refused"
        );
        assert_eq!(error_chain(&Bottom), "connection refused");
    }

    #[test]
    fn assert_mentions_passes_on_a_mention_and_panics_without_one() {
        let f = HandlerFailure::from(FnError::invalid("/modelName", "is required"));
        f.assert_mentions("/modelName: is required");
        let missed = std::panic::catch_unwind(|| f.assert_mentions("/dataDate"));
        assert!(
            missed.is_err(),
            "a message without the needle must fail the check"
        );
    }

    #[test]
    fn assert_is_checks_the_error_type_and_the_mention() {
        let f = HandlerFailure::from(FnError::invalid("/modelName", "is required"));
        f.assert_is("InvalidInput", "/modelName: is required");
        let other_type =
            std::panic::catch_unwind(|| f.assert_is("ModelNotFound", "/modelName: is required"));
        assert!(
            other_type.is_err(),
            "another error type must fail the check"
        );
        let other_text = std::panic::catch_unwind(|| f.assert_is("InvalidInput", "/dataDate"));
        assert!(
            other_text.is_err(),
            "a message without the needle must fail the check"
        );
    }

    #[test]
    fn given_every_name_when_parsed_back_then_round_trips() {
        for name in ErrorName::ALL {
            assert_eq!(ErrorName::parse(name.as_str()), Some(name));
        }
        assert_eq!(ErrorName::parse("Nope"), None);
    }

    #[test]
    fn given_invalid_input_when_converted_then_lists_every_problem() {
        let e = FnError::InvalidInput {
            problems: vec![
                Problem::new("/modelName", "is required"),
                Problem::new("/tuning/maxJobs", "must be at least 1"),
            ],
        };
        let f = HandlerFailure::from(e);
        assert_eq!(f.error_type, "InvalidInput");
        assert!(
            f.message.contains("/modelName: is required"),
            "{}",
            f.message
        );
        assert!(
            f.message.contains("/tuning/maxJobs: must be at least 1"),
            "{}",
            f.message
        );
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["errorType"], "InvalidInput");
    }

    #[test]
    fn given_port_errors_when_mapped_then_names_are_stable() {
        let u = FnError::from_port("s3 get", PortError::unavailable("throttled"));
        assert_eq!(u.name(), ErrorName::DependencyUnavailable);
        assert!(u.name().is_retryable());
        let c = FnError::from_port(
            "register",
            PortError::Conflict {
                message: "x".into(),
            },
        );
        assert_eq!(c.name(), ErrorName::RegistryConflict);
        let p = FnError::PredictionsMismatch {
            file: "s3://b/k.out".into(),
            line: Some(3),
            message: "not a number".into(),
        };
        assert_eq!(p.to_string(), "s3://b/k.out line 3: not a number");
    }

    #[test]
    fn given_each_port_error_when_asked_then_only_unavailable_and_conflict_are_retryable() {
        let m = || "m".to_string();
        let cases = [
            (PortError::not_found("k"), false),
            (PortError::Conflict { message: m() }, true),
            (PortError::unavailable("m"), true),
            (PortError::Rejected { message: m() }, false),
            (PortError::Corrupt { message: m() }, false),
        ];
        for (e, retryable) in cases {
            assert_eq!(e.is_retryable(), retryable, "{e}");
        }
    }

    #[test]
    fn given_each_error_name_when_shown_then_it_is_its_stable_name_and_only_unavailable_retries() {
        let shown: Vec<String> = ErrorName::ALL.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "InvalidInput",
                "ModelNotFound",
                "ModelArtifactsMissing",
                "TrainingFailed",
                "RegistryConflict",
                "PredictionsMismatch",
                "RetrainLimitReached",
                "RetrainDataMissing",
                "DependencyUnavailable",
                "DependencyRejected",
                "CorruptData",
                "ConfigurationError",
            ]
        );
        let retryable: Vec<ErrorName> = ErrorName::ALL
            .into_iter()
            .filter(|n| n.is_retryable())
            .collect();
        assert_eq!(retryable, [ErrorName::DependencyUnavailable]);
    }

    #[test]
    fn given_a_handler_failure_when_shown_then_it_is_type_colon_message() {
        let f = HandlerFailure::from(FnError::from_port("s3 get", PortError::not_found("k")));
        assert_eq!(f.to_string(), format!("{}: {}", f.error_type, f.message));
        assert_eq!(
            HandlerFailure {
                error_type: "T".into(),
                message: "m".into()
            }
            .to_string(),
            "T: m"
        );
    }
}
