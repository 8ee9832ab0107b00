//! Failures and their messages: the named failure travelling up the state graph, the messages
//! AWS gives for a state's runtime and query errors, and the payload checks on a state's input
//! and output.

use serde_json::{Map, Value};

use super::types::StateRun;
use crate::limits::{MAX_PAYLOAD_BYTES, PayloadError, check_payload, data_limit_cause};
use crate::path::{JsonPath, PathError};

/// A named failure travelling up the state graph.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    pub error: Option<String>,
    pub cause: Option<String>,
    /// Ends the execution: no Retry or Catch sees it (the execution's timeout, the history
    /// limit, a state output over the payload quota).
    pub terminal: bool,
    /// The state's own evaluation failed (a JSONata error, Map items that are not an array):
    /// the state records an `EvaluationFailed` event, naming the field (`location`) when known.
    /// Taken by the state that records it, so the states around it do not record it again.
    pub evaluation: Option<Evaluation>,
    /// The event that closes the state when this failure is its last (no Retrier takes it):
    /// `MapStateFailed` or `ParallelStateFailed`. Taken by the state that records it.
    pub closing: Option<&'static str>,
    /// No cause is recorded, but a Catcher's output gives `""` for it (AWS's timed-out Task:
    /// its `TaskTimedOut` has no cause, the caught error's `Cause` is an empty string).
    pub caught_cause_empty: bool,
}

/// What an `EvaluationFailed` event names besides the error, cause and state.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Evaluation {
    /// The field whose evaluation failed (`Items`, `Output/result`), when known.
    pub location: Option<String>,
    /// The event follows the state's entered event (a value evaluated but then refused, as a
    /// Wait's `Timestamp` that is no date-time); otherwise it points where the entered event
    /// points, as AWS records a failed expression.
    pub after_entered: bool,
}

impl Failure {
    pub fn new(error: &str, cause: impl Into<String>) -> Self {
        Failure {
            error: Some(error.to_string()),
            cause: Some(cause.into()),
            terminal: false,
            evaluation: None,
            closing: None,
            caught_cause_empty: false,
        }
    }

    /// A failure that ends the execution whatever Retry/Catch say.
    pub fn terminal(error: &str, cause: impl Into<String>) -> Self {
        Failure {
            terminal: true,
            ..Failure::new(error, cause)
        }
    }

    pub fn name(&self) -> &str {
        self.error.as_deref().unwrap_or("")
    }

    /// `{"Error": …, "Cause": …}`: what a Catcher or a tolerated Map iteration passes on.
    pub fn output(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            "Error".into(),
            self.error.clone().map(Value::String).unwrap_or(Value::Null),
        );
        let cause = match (&self.cause, self.caught_cause_empty) {
            (Some(c), _) => Value::String(c.clone()),
            (None, true) => Value::String(String::new()),
            (None, false) => Value::Null,
        };
        m.insert("Cause".into(), cause);
        Value::Object(m)
    }
}

/// `v` as compact JSON text.
pub(crate) fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The JSON type of `v` as AWS names it in messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

pub(crate) fn err_prefix(sr: &StateRun<'_>) -> String {
    format!(
        "An error occurred while executing the state '{}' (entered at the event id #{}).",
        sr.st.name, sr.entered_id
    )
}

pub(crate) fn runtime(sr: &StateRun<'_>, msg: impl std::fmt::Display) -> Failure {
    Failure::new("States.Runtime", format!("{} {msg}", err_prefix(sr)))
}

/// A `States.QueryEvaluationError` of the state's own evaluation (an `EvaluationFailed` event).
pub(crate) fn query_error(sr: &StateRun<'_>, msg: impl std::fmt::Display) -> Failure {
    Failure {
        evaluation: Some(Evaluation {
            location: None,
            after_entered: false,
        }),
        ..Failure::new(
            "States.QueryEvaluationError",
            format!("{} {msg}", err_prefix(sr)),
        )
    }
}

/// A `States.QueryEvaluationError` of the field `field` (the event's `location`).
pub(crate) fn query_error_at(
    sr: &StateRun<'_>,
    field: &str,
    msg: impl std::fmt::Display,
) -> Failure {
    let mut f = query_error(sr, msg);
    f.evaluation = Some(Evaluation {
        location: Some(field.to_string()),
        after_entered: false,
    });
    f
}

/// A `States.QueryEvaluationError` of a value of `field` that was evaluated and then refused:
/// its `EvaluationFailed` event follows the state's entered event (recorded for a Wait's
/// `Timestamp`).
pub(crate) fn refused_value(
    sr: &StateRun<'_>,
    field: &str,
    msg: impl std::fmt::Display,
) -> Failure {
    let mut f = query_error_at(sr, field, msg);
    if let Some(e) = &mut f.evaluation {
        e.after_entered = true;
    }
    f
}

/// A JSONata field whose result `v` is not of the `expected` type.
pub(crate) fn unexpected_type(
    sr: &StateRun<'_>,
    src: &str,
    field: &str,
    expected: &str,
    v: &Value,
) -> Failure {
    query_error_at(
        sr,
        field,
        format!(
            "The JSONata expression '{src}' specified for the field '{field}' returned an unexpected result type. Expected '{expected}', but was '{}' for value: {}",
            type_name(v),
            compact(v)
        ),
    )
}

/// A path that names an undefined variable or matches nothing.
pub(crate) fn path_failure(sr: &StateRun<'_>, p: &JsonPath, e: PathError) -> Failure {
    match e {
        PathError::UndefinedVariable(v) => query_error(
            sr,
            format!("The variable '${v}' referenced in the path '{p}' is not defined."),
        ),
        PathError::NotFound => runtime(
            sr,
            format!(
                "Invalid path '{p}' : No results for path: {}",
                p.bracketed()
            ),
        ),
    }
}

/// A state's output over the payload quota (or nested too deeply) ends the execution, as on
/// AWS: `ExecutionFailed` follows the state's entered event.
pub(crate) fn check_state_output(state: &str, out: &Value) -> Result<(), Failure> {
    match check_payload(out, MAX_PAYLOAD_BYTES) {
        Ok(_) => Ok(()),
        Err(PayloadError::TooLarge { .. }) => Err(Failure::terminal(
            "States.DataLimitExceeded",
            data_limit_cause(state),
        )),
        Err(e @ PayloadError::TooDeep { .. }) => Err(Failure::terminal(
            "States.Runtime",
            format!("The output of the state '{state}' cannot be passed on: {e}."),
        )),
    }
}

/// A state's effective input (after Parameters/Arguments) over the payload quota ends the
/// execution with `States.DataLimitExceeded`.
pub(crate) fn check_state_input(sr: &StateRun<'_>, input: &Value) -> Result<(), Failure> {
    match check_payload(input, MAX_PAYLOAD_BYTES) {
        Ok(_) => Ok(()),
        Err(PayloadError::TooLarge { .. }) => Err(Failure::terminal(
            "States.DataLimitExceeded",
            data_limit_cause(&sr.st.name),
        )),
        Err(e @ PayloadError::TooDeep { .. }) => Err(Failure::terminal(
            "States.Runtime",
            format!(
                "{} The input of the task cannot be passed on: {e}.",
                err_prefix(sr)
            ),
        )),
    }
}
