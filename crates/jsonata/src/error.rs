//! The error type shared by the parser and the evaluator.

/// An error raised while parsing or evaluating, with JSONata's reference code (e.g. `T2001`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct JsonataError {
    pub code: String,
    pub message: String,
    pub position: Option<usize>,
}

pub(crate) type Error = JsonataError;

pub(crate) fn err(code: &str, message: impl Into<String>) -> Error {
    JsonataError {
        code: code.to_string(),
        message: message.into(),
        position: None,
    }
}

pub(crate) fn err_at(code: &str, message: impl Into<String>, position: usize) -> Error {
    JsonataError {
        code: code.to_string(),
        message: message.into(),
        position: Some(position),
    }
}
