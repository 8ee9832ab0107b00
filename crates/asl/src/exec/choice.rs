//! The Choice state: the first rule whose condition holds (or `Default`) names the next state
//! and the `Assign` (and, in JSONata, the `Output`) that go with it. Conditions of JSONPath
//! rules are evaluated by `crate::choice`.

use serde_json::Value;

use super::Run;
use super::eval::{apply_io_path, assigns_of, eval_expr, output_of, states_var};
use super::failure::{Failure, err_prefix, query_error, runtime, unexpected_type};
use super::types::{Env, Flow, Scope, StateRun};
use crate::choice::{CondError, eval_cond};
use crate::model::{ChoiceRule, Cond, Ql};
use crate::template::Template;

/// Where a Choice state goes, and what it assigns and outputs on the way.
struct Chosen<'r> {
    next: usize,
    assign: Option<&'r Template>,
    /// JSONata only: the rule's `Output`, else the state's.
    output: Option<&'r Template>,
}

impl Run<'_> {
    pub(super) fn exec_choice(
        &self,
        sr: &StateRun<'_>,
        rules: &[ChoiceRule],
        default: Option<usize>,
        raw: Value,
        scope: &mut Scope<'_>,
    ) -> Result<Flow, Failure> {
        match sr.st.ql {
            Ql::JsonPath => self.choice_jsonpath(sr, rules, default, raw, scope),
            Ql::Jsonata => self.choice_jsonata(sr, rules, default, raw, scope),
        }
    }

    fn choice_jsonpath(
        &self,
        sr: &StateRun<'_>,
        rules: &[ChoiceRule],
        default: Option<usize>,
        raw: Value,
        scope: &mut Scope<'_>,
    ) -> Result<Flow, Failure> {
        let st = sr.st;
        let ctx = self.state_context(sr);
        let env = Env {
            ctx: ctx.as_ref(),
            scope,
        };
        let effective = apply_io_path(sr, &st.input_path, raw, &env)?;
        let rule = first_match_jsonpath(sr, rules, &effective, &env)?;
        let chosen = choose(sr, rule, default)?;
        let assigns = assigns_of(sr, chosen.assign, &effective, &env, None)?;
        let out = apply_io_path(sr, &st.output_path, effective, &env)?;
        scope.assign(assigns);
        Ok(Flow::Next(chosen.next, out))
    }

    fn choice_jsonata(
        &self,
        sr: &StateRun<'_>,
        rules: &[ChoiceRule],
        default: Option<usize>,
        raw: Value,
        scope: &mut Scope<'_>,
    ) -> Result<Flow, Failure> {
        let ctx = self.state_context(sr);
        let jenv = self.jsonata_env(&states_var(&raw, ctx.as_ref(), None, None), scope);
        let penv = Env {
            ctx: ctx.as_ref(),
            scope,
        };
        let rule = first_match_jsonata(sr, rules, &jenv)?;
        let chosen = choose(sr, rule, default)?;
        let assigns = assigns_of(sr, chosen.assign, &raw, &penv, Some(&jenv))?;
        let out = output_of(sr, chosen.output, raw, &jenv)?;
        scope.assign(assigns);
        Ok(Flow::Next(chosen.next, out))
    }
}

/// The matching rule, or the `Default` with the state's own `Assign` and `Output`;
/// `States.NoChoiceMatched` without either.
fn choose<'r>(
    sr: &StateRun<'r>,
    rule: Option<&'r ChoiceRule>,
    default: Option<usize>,
) -> Result<Chosen<'r>, Failure> {
    let st = sr.st;
    match (rule, default) {
        (Some(rule), _) => Ok(Chosen {
            next: rule.next,
            assign: rule.assign.as_ref(),
            output: rule.output.as_ref().or(st.output.as_ref()),
        }),
        (None, Some(next)) => Ok(Chosen {
            next,
            assign: st.assign.as_ref(),
            output: st.output.as_ref(),
        }),
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
