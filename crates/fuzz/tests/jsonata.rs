//! Fuzz target of the JSONata engine: parse → evaluate (with the AWS functions) on generated
//! inputs. Properties: no panic, no hang, every error has a JSONata code and a message.

use mdlc_fuzz::{fuzz, generators as g};
use mdlc_jsonata::{AwsContext, Environment, Expression, JsonataError};
use serde_json::Value;

fn check_error(stage: &'static str, e: &JsonataError) -> Result<&'static str, String> {
    // jsonata's codes (`T2001`) or, from the AWS functions, Step Functions error names
    // (`States.QueryEvaluationError`).
    let code_ok = e.code.len() >= 2
        && e.code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.');
    if !code_ok || e.message.trim().is_empty() {
        return Err(format!("{stage} error without a code or message: {e:?}"));
    }
    Ok(stage)
}

#[test]
fn fuzz_jsonata() {
    let stats = fuzz(
        "jsonata",
        (g::jsonata(), g::execution_input()),
        |(src, input): &(String, Value)| {
            let expr = match Expression::parse(src) {
                Ok(e) => e,
                Err(e) => return check_error("parse_error", &e),
            };
            let env = Environment::new().with_aws_functions(AwsContext {
                now_millis: 1_700_000_000_000,
                random_seed: Some(7),
            });
            match expr.evaluate(Some(input), &env) {
                Ok(_) => Ok("value"),
                Err(e) => check_error("eval_error", &e),
            }
        },
    );
    stats.assert_no_crash();
    stats.assert_share(&["value", "eval_error"], 0.6);
    stats.assert_share(&["value"], 0.25);
}
