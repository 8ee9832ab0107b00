//! The Choice state: the first rule whose condition holds (or `Default`) names the next state
//! and the `Assign` (and, in JSONata, the `Output`) that go with it. Conditions of JSONPath
//! rules are evaluated by `crate::choice`.

use serde_json::Value;

use super::Run;
use super::eval::eval_expr;
use super::failure::{Failure, err_prefix, query_error, runtime, unexpected_type};
use super::types::{Decided, Env, Flow, Scope, StateRun};
use crate::choice::{CondError, eval_cond};
use crate::model::{ChoiceRule, Cond};

impl Run<'_> {
    pub(super) fn exec_choice(
        &self,
        sr: &StateRun<'_>,
        rules: &[ChoiceRule],
        default: Option<usize>,
        raw: Value,
        scope: &mut Scope<'_>,
    ) -> Result<Flow, Failure> {
        let (out, next) = self.decide_and_output(sr, raw, scope, |at| {
            let rule = match at.jenv {
                None => first_match_jsonpath(sr, rules, at.input, at.env)?,
                Some(jenv) => first_match_jsonata(sr, rules, jenv)?,
            };
            choose(sr, rule, default)
        })?;
        Ok(Flow::Next(next, out))
    }
}

/// The next state of the matching rule, with its `Assign` and `Output` (JSONata only: the
/// rule's, else the state's), or the `Default` with the state's own `Assign` and `Output`;
/// `States.NoChoiceMatched` without either.
fn choose<'r>(
    sr: &StateRun<'r>,
    rule: Option<&'r ChoiceRule>,
    default: Option<usize>,
) -> Result<Decided<'r, usize>, Failure> {
    let st = sr.st;
    match (rule, default) {
        (Some(rule), _) => Ok(Decided {
            assign: rule.assign.as_ref(),
            output: rule.output.as_ref().or(st.output.as_ref()),
            value: rule.next,
        }),
        (None, Some(next)) => Ok(Decided::of_state(st, next)),
        (None, None) => Err(Failure::new(
            "States.NoChoiceMatched",
            format!("{} No Matches!", err_prefix(sr)),
        )),
    }
}

fn first_match_jsonpath<'r>(
    sr: &StateRun<'_>,
    rules: &'r [ChoiceRule],
    input: &Value,
    env: &Env<'_>,
) -> Result<Option<&'r ChoiceRule>, Failure> {
    for rule in rules {
        let hit = eval_cond(&rule.cond, input, env).map_err(|e| match e {
            CondError::UndefinedVariable(p, v) => query_error(
                sr,
                format!("The variable '${v}' referenced in the path '{p}' is not defined."),
            ),
            CondError::Runtime(m) => runtime(sr, m),
        })?;
        if hit {
            return Ok(Some(rule));
        }
    }
    Ok(None)
}

fn first_match_jsonata<'r>(
    sr: &StateRun<'_>,
    rules: &'r [ChoiceRule],
    jenv: &mdlc_jsonata::Environment,
) -> Result<Option<&'r ChoiceRule>, Failure> {
    for rule in rules {
        let hit = match &rule.cond {
            Cond::Const(b) => *b,
            Cond::Jsonata(j) => match eval_expr(sr, j, "Condition", jenv)? {
                Value::Bool(b) => b,
                other => {
                    return Err(unexpected_type(sr, &j.src, "Condition", "boolean", &other));
                }
            },
            _ => false,
        };
        if hit {
            return Ok(Some(rule));
        }
    }
    Ok(None)
}
