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

/// Bytes of native stack that parsing or evaluating may use below its entry point. Callers run
/// on threads with at least 2 MiB of stack (Rust's default for spawned threads and tokio).
pub(crate) const STACK_BUDGET: usize = 768 * 1024;

/// An approximation of the current stack position (the address of a local).
#[inline(always)]
pub(crate) fn stack_position() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// True when the stack has grown more than [`STACK_BUDGET`] below `base`.
pub(crate) fn stack_exhausted(base: usize) -> bool {
    base.saturating_sub(stack_position()) > STACK_BUDGET
}
