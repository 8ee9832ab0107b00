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
    let mut c = Collector::default();
    let model = parse::parse(def, &mut c)
        .and_then(|doc| validate::validate(doc, &mut c))
        .and_then(compile::compile);
    match model {
        Some(m) => Ok(m),
        None => {
            if c.errors.is_empty() {
                c.push("", "invalid state machine definition");
            }
            Err(c.errors)
        }
    }
}

#[cfg(test)]
mod tests;
