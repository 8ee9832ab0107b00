//! mdlc-asl: an Amazon States Language engine.
//!
//! Parse → validate (every problem, each with its JSON pointer) → typed model → evaluate. The
//! engine knows nothing of AWS: Task states go through a [`TaskInvoker`], time through a
//! [`Clock`] (virtual by default), a distributed Map's S3 items through an [`ItemStore`].
//!
//! ```
//! use mdlc_asl::{StateMachine, ExecutionOptions, ExecutionStatus};
//! let sm = StateMachine::from_json_str(r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Result":1,"End":true}}}"#).unwrap();
//! let exec = futures::executor::block_on(sm.execute(serde_json::json!({}), ExecutionOptions::default()));
//! assert_eq!(exec.status, ExecutionStatus::Succeeded);
//! assert_eq!(exec.output, Some(serde_json::json!(1)));
//! ```

mod api;
pub mod aws_history;
mod choice;
mod distributed;
mod error;
mod exec;
mod intrinsic;
pub mod limits;
pub mod mock;
mod model;
mod path;
mod reader;
mod template;

use std::sync::Arc;

use serde_json::Value;

pub use api::{
    BoxFuture, ChildExecution, Clock, Execution, ExecutionObserver, ExecutionOptions,
    ExecutionStatus, Given, HistoryEvent, ItemStore, ItemStoreError, MapRunCounts, MapRunReport,
    NoInvoker, RealClock, StoredObject, Submission, TaskFailure, TaskInvoker, TaskRequest,
    VirtualClock,
};
pub use error::{ValidationError, ValidationErrors};
pub use limits::{ExecutionInputError, check_execution_input};

/// Whether a Retrier's or Catcher's `ErrorEquals` list matches the error `name`, as the engine
/// matches them (`States.ALL` matches every error but `States.Runtime`; `States.TaskFailed` every
/// error but the timeouts, `States.Runtime` and `States.DataLimitExceeded`).
pub fn error_matches(error_equals: &[String], name: &str) -> bool {
    exec::matches_error(error_equals, name)
}

/// A parsed, validated state machine. Cheap to clone; share it across threads.
#[derive(Debug, Clone)]
pub struct StateMachine {
    definition: Arc<Value>,
    model: Arc<model::Model>,
}

impl StateMachine {
    /// Parses and validates a JSON definition.
    pub fn from_json_str(src: &str) -> Result<StateMachine, ValidationErrors> {
        if src.len() > limits::MAX_DEFINITION_BYTES {
            return Err(ValidationErrors(vec![ValidationError {
                pointer: String::new(),
                message: format!(
                    "1 validation error detected: Value at 'definition' failed to satisfy constraint: Member must have length less than or equal to {}",
                    limits::MAX_DEFINITION_BYTES
                ),
            }]));
        }
        let v: Value = serde_json::from_str(src).map_err(|e| {
            ValidationErrors(vec![ValidationError {
                pointer: String::new(),
                message: format!("the definition is not valid JSON: {e}"),
            }])
        })?;
        Self::from_value(&v)
    }

    /// Validates a definition given as a JSON value.
    pub fn from_value(def: &Value) -> Result<StateMachine, ValidationErrors> {
        let model = model::validate(def).map_err(ValidationErrors)?;
        Ok(StateMachine {
            definition: Arc::new(def.clone()),
            model: Arc::new(model),
        })
    }

    /// The raw definition (for graphs).
    pub fn definition(&self) -> &Value {
        &self.definition
    }

    /// Runs one execution to its end.
    pub async fn execute(&self, input: Value, options: ExecutionOptions) -> Execution {
        let timeout = self.model.timeout_seconds;
        let run = exec::Run::new(&options, input, timeout);
        run.run(&self.model).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<StateMachine>();
        assert_send_sync::<ExecutionOptions>();
    }

    /// A definition of `len` bytes: a one-state machine padded with spaces.
    fn definition_of_length(len: usize) -> String {
        let head = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}"#;
        format!("{head}{}}}", " ".repeat(len - head.len() - 1))
    }

    #[test]
    fn a_definition_of_exactly_the_maximum_length_is_accepted_and_one_byte_more_is_not() {
        let at = definition_of_length(limits::MAX_DEFINITION_BYTES);
        assert_eq!(at.len(), limits::MAX_DEFINITION_BYTES);
        assert!(StateMachine::from_json_str(&at).is_ok());
        let over = definition_of_length(limits::MAX_DEFINITION_BYTES + 1);
        let errors = StateMachine::from_json_str(&over).err().map(|e| e.0);
        assert_eq!(
            errors,
            Some(vec![ValidationError {
                pointer: String::new(),
                message: "1 validation error detected: Value at 'definition' failed to satisfy constraint: Member must have length less than or equal to 1048576".into(),
            }])
        );
    }

    #[test]
    fn the_definition_is_kept_as_given() {
        let src = r#"{"Comment":"c","StartAt":"A","States":{"A":{"Type":"Succeed"}}}"#;
        let sm = StateMachine::from_json_str(src).ok();
        let expected: Value = serde_json::from_str(src).unwrap_or_default();
        assert_eq!(sm.map(|s| s.definition().clone()), Some(expected));
    }

    #[test]
    fn execute_future_is_send() {
        fn is_send<T: Send>(_: &T) {}
        let sm =
            StateMachine::from_json_str(r#"{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}"#);
        if let Ok(sm) = sm {
            let fut = sm.execute(Value::Null, ExecutionOptions::default());
            is_send(&fut);
        }
    }
}
