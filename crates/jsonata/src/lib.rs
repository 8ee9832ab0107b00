//! mdlc-jsonata: a JSONata 2.x evaluator (parser, evaluator, standard library) with the AWS Step
//! Functions extras (`$partition`, `$range`, `$hash`, `$random`, `$uuid`, `$parse`; no `$eval`).
//!
//! Parse once with [`Expression::parse`], evaluate many times with [`Expression::evaluate`].
//! Evaluation state (variable frames, sequences) lives only for the duration of one call, so a
//! reused expression does not grow in memory.
//!
//! Faithfulness is checked by `tests/differential.rs` against the reference implementation
//! (npm `jsonata` 2.2.x) on `tests/corpus.json`. Known, documented differences:
//! - regular expressions use the `regex` crate's syntax (no look-around, no back-references);
//!   an unsupported pattern is a parse error `S0303`;
//! - `$toMillis` with a picture string, `$formatInteger` and `$parseInteger` are not provided;
//!   `$fromMillis`/`$now` pictures support the common components (Y M D d F H h m s f P Z z) and
//!   minimum widths (`[D,2]`); `[f]` is the milliseconds as an integer, as in the reference; a
//!   negative offset with minutes in a one- or two-digit `[Z]` is `-6:45` (the reference gives
//!   `-6:-45`);
//! - there is no tail-call optimisation: recursion ends with `D1011` when the native stack
//!   budget is used up (evaluation first runs on the caller's thread with 512 KiB of budget and
//!   is redone on a helper thread with a 256 MiB stack when that is not enough);
//! - array constructor items are evaluated in order (the reference evaluates them concurrently,
//!   so a `:=` inside one item is not visible to its siblings there);
//! - memory is bounded: a string (or JSON text from `$string`, `&`, `$join`, `$replace`) of
//!   more than [`MAX_STRING_BYTES`], an array of more than [`MAX_ARRAY_ITEMS`] items, or a
//!   result larger than [`MAX_STRING_BYTES`] as JSON ends the evaluation with `D2014` (the
//!   reference has no such ceiling);
//! - a path that starts with a filtered array constructor that keeps one value
//!   (`[{"k":1},{"k":2}][0].k`) goes on from that value (`1`); the reference loops over the
//!   JavaScript `length` of the value instead, so it gives `undefined` for a number or an
//!   object, the characters of a string, and a TypeError for `null`;
//! - errors of the AWS functions (`$partition`, `$range`, `$hash`, `$parse`) have the code
//!   `States.QueryEvaluationError`.

mod ast;
mod datetime;
mod digest;
mod error;
mod eval;
mod format;
mod functions;
mod parser;
mod signature;
mod validate;
mod value;

use std::collections::BTreeMap;

pub use error::{JsonataError, MAX_ARRAY_ITEMS, MAX_STRING_BYTES};

use value::{Array, Value};

/// Context for the AWS Step Functions functions and for `$now`/`$millis`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AwsContext {
    pub now_millis: i64,
    pub random_seed: Option<u64>,
}

/// Variable bindings and options for an evaluation.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    bindings: BTreeMap<String, serde_json::Value>,
    aws: Option<AwsContext>,
}

impl Environment {
    /// The standard library only.
    pub fn new() -> Self {
        Self::default()
    }
    /// Enables `$partition $range $hash $random $uuid $parse` (and uses `ctx` for `$now`).
    pub fn with_aws_functions(mut self, ctx: AwsContext) -> Self {
        self.aws = Some(ctx);
        self
    }
    /// Binds `$name` (give the name without `$`).
    pub fn bind(&mut self, name: &str, value: serde_json::Value) {
        self.bindings.insert(name.to_string(), value);
    }
}

/// A parsed JSONata expression: parse once, evaluate many times. `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Expression {
    root: ast::Node,
    labels: Vec<String>,
}

fn system_now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Expression {
    /// Parses `src`; syntax errors carry JSONata's `S0xxx` codes.
    pub fn parse(src: &str) -> Result<Expression, JsonataError> {
        let (root, labels) = parser::parse(src)?;
        Ok(Expression { root, labels })
    }

    /// Evaluates against `input` (`None` is JSONata's `undefined`). `Ok(None)` means the
    /// result is `undefined`.
    pub fn evaluate(
        &self,
        input: Option<&serde_json::Value>,
        env: &Environment,
    ) -> Result<Option<serde_json::Value>, JsonataError> {
        let (now, seed, aws) = match env.aws {
            Some(c) => (c.now_millis, c.random_seed, true),
            None => (system_now_millis(), None, false),
        };
        error::with_stack(|budget| {
            let ctx = eval::Ctx::new(&self.labels, now, aws, seed, budget);
            let r = self.evaluate_in(&ctx, input, env);
            (r, ctx.stack_hit.get())
        })
    }

    fn evaluate_in<'a>(
        &'a self,
        ctx: &eval::Ctx<'a>,
        input: Option<&serde_json::Value>,
        env: &Environment,
    ) -> Result<Option<serde_json::Value>, JsonataError> {
        let root_frame = ctx.new_frame(0);
        for (k, v) in &env.bindings {
            ctx.bind(root_frame, k, value::from_json(v));
        }
        let mut input_value = match input {
            Some(v) => value::from_json(v),
            None => Value::Undefined,
        };
        ctx.bind(root_frame, "$", input_value.clone());
        if let Value::Array(a) = &input_value {
            let wrapped = Array {
                items: vec![Value::Array(a.clone())],
                sequence: true,
                outer_wrapper: true,
                ..Array::default()
            };
            input_value = Value::arr(wrapped);
        }
        let result = ctx.eval(&self.root, &input_value, root_frame)?;
        if !value::json_size_within(&result, MAX_STRING_BYTES) {
            return Err(error::too_large(
                "the result as JSON",
                MAX_STRING_BYTES.saturating_add(1),
                MAX_STRING_BYTES,
                "bytes",
            ));
        }
        Ok(value::to_json(&result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn given_expression_type_then_it_is_send_and_sync() {
        assert_send_sync::<Expression>();
        assert_send_sync::<Environment>();
    }
}
