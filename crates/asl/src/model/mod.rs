//! The typed model of a state machine that the engine runs, and how a JSON definition becomes
//! one in three stages: [`parse`] (JSON shape, into the [`ast`] document), [`validate`] (the ASL
//! rules; every problem with its JSON pointer) and [`compile`] (to [`Model`], reporting nothing).

mod ast;
mod compile;
mod literal;
mod parse;
mod types;
mod validate;

use serde_json::Value;

use crate::error::{Collector, ValidationError};

pub(crate) use literal::parse_timestamp;
pub(crate) use types::*;

/// Parses, validates and compiles a whole definition: every problem, or the model.
pub(crate) fn validate(def: &Value) -> Result<Model, Vec<ValidationError>> {
    let mut problems = Collector::default();
    let Some(doc) = parse::parse(def, &mut problems) else {
        return Err(or_invalid(problems.errors));
    };
    let valid = validate::validate(doc, problems)?;
    compile::compile(valid).ok_or_else(|| or_invalid(Vec::new()))
}

/// `errors`, or when there is none (a stage gave up without saying why) one for the whole
/// definition: a definition that is refused always names a problem.
fn or_invalid(mut errors: Vec<ValidationError>) -> Vec<ValidationError> {
    if errors.is_empty() {
        errors.push(ValidationError {
            pointer: String::new(),
            message: "invalid state machine definition".to_string(),
        });
    }
    errors
}

#[cfg(test)]
mod tests;
