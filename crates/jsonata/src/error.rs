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

/// `s` as the reference's messages show a token or an operator: a JSON string (quoted, escaped).
pub(crate) fn quoted(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

pub(crate) fn err_at(code: &str, message: impl Into<String>, position: usize) -> Error {
    JsonataError {
        code: code.to_string(),
        message: message.into(),
        position: Some(position),
    }
}

/// Memory ceiling of one evaluation: no string (and no JSON text built by `$string`, `&`,
/// `$join`, `$replace`) may be longer than this, and no result may be larger as JSON.
pub const MAX_STRING_BYTES: usize = 16 * 1024 * 1024;

/// Memory ceiling of one evaluation: no array may hold more items (the range operator's own
/// limit, JSONata's `D2014`, is the same 1e7).
pub const MAX_ARRAY_ITEMS: usize = 10_000_000;

/// The error for a value over the memory ceiling: `D2014`, JSONata's code for a value too
/// large to allocate (the range operator and `$pad` use it).
pub(crate) fn too_large(what: &str, size: usize, limit: usize, unit: &str) -> Error {
    err(
        "D2014",
        format!(
            "The size of {what} must not exceed {limit} {unit}.  Attempted to allocate {size}."
        ),
    )
}

/// Checks a string about to be built (`len` bytes) against [`MAX_STRING_BYTES`].
pub(crate) fn check_string_len(len: usize) -> Result<(), Error> {
    if len > MAX_STRING_BYTES {
        return Err(too_large("a string", len, MAX_STRING_BYTES, "bytes"));
    }
    Ok(())
}

/// Bytes of native stack that parsing or evaluating may use below its entry point on the
/// caller's thread. Callers run on threads with at least 2 MiB of stack (Rust's default for
/// spawned threads and tokio). When this is not enough, the work is redone on a helper thread
/// with [`BIG_STACK`] bytes of stack and a budget of [`BIG_STACK_BUDGET`].
pub(crate) const STACK_BUDGET: usize = 512 * 1024;
pub(crate) const BIG_STACK: usize = 256 * 1024 * 1024;
pub(crate) const BIG_STACK_BUDGET: usize = 240 * 1024 * 1024;

/// Message of the error raised when the stack budget is exhausted (used to detect it).
pub(crate) const STACK_MESSAGE: &str = "Stack overflow. Check for non-terminating recursive function.  Consider rewriting as tail-recursive";
pub(crate) const NESTING_MESSAGE: &str = "Syntax error: expression is nested too deeply";

/// An approximation of the current stack position (the address of a local).
#[inline(always)]
pub(crate) fn stack_position() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// True when the stack has grown more than `budget` bytes below `base`.
pub(crate) fn stack_exhausted(base: usize, budget: usize) -> bool {
    base.saturating_sub(stack_position()) > budget
}

/// Runs `f` with the small budget; if it ran out of stack (`exhausted` tells), runs it again
/// on a helper thread with a large stack and the large budget.
pub(crate) fn with_stack<T: Send>(
    f: impl Fn(usize) -> (Result<T, Error>, bool) + Sync,
) -> Result<T, Error> {
    let (r, exhausted) = f(STACK_BUDGET);
    if !exhausted {
        return r;
    }
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("jsonata-deep".into())
            .stack_size(BIG_STACK)
            .spawn_scoped(scope, || f(BIG_STACK_BUDGET).0);
        match handle {
            Ok(h) => h
                .join()
                .unwrap_or_else(|_| Err(err("D1011", STACK_MESSAGE))),
            Err(_) => r,
        }
    })
}
