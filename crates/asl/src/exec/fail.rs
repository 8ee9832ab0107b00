//! The Fail state: fails its graph with its `Error` and `Cause`, each fixed, a path, an
//! intrinsic function (JSONPath) or JSONata.

use serde_json::Value;

use super::Run;
use super::eval::{eval_expr, eval_jp, states_var};
use super::failure::{Failure, compact, path_failure, unexpected_type};
use super::types::{Env, Scope, StateRun};
use crate::model::{DynStr, Ql};
use crate::template::Template;

impl Run<'_> {
    /// The state's failure, or the failure of evaluating its `Error` or `Cause`.
    pub(super) fn exec_fail(
        &self,
        sr: &StateRun<'_>,
        error: Option<&DynStr>,
        cause: Option<&DynStr>,
        raw: &Value,
        scope: &Scope<'_>,
    ) -> Failure {
        let ctx = self.state_context(sr);
        let env = Env {
            ctx: ctx.as_ref(),
            scope,
        };
        let jenv = (sr.st.ql == Ql::Jsonata)
            .then(|| self.jsonata_env(&states_var(raw, ctx.as_ref(), None, None), scope));
        let fields = FailFields {
            sr,
            raw,
            env: &env,
            jenv: jenv.as_ref(),
        };
        let error = match fields.eval(error, "Error") {
            Ok(e) => e,
            Err(f) => return f,
        };
        match fields.eval(cause, "Cause") {
            Ok(cause) => Failure {
                error,
                cause,
                terminal: false,
                evaluation: None,
                closing: None,
                caught_cause_empty: false,
            },
            Err(f) => f,
        }
    }
}

/// What the `Error` and `Cause` of a Fail state are evaluated against.
struct FailFields<'a, 'e> {
    sr: &'a StateRun<'a>,
    raw: &'a Value,
    env: &'a Env<'e>,
    jenv: Option<&'a mdlc_jsonata::Environment>,
}

impl FailFields<'_, '_> {
    /// A field's text: a string as it is, any other value from a path or intrinsic as JSON;
    /// JSONata must give a string.
    fn eval(&self, d: Option<&DynStr>, field: &str) -> Result<Option<String>, Failure> {
        let sr = self.sr;
        let v = match d {
            None => return Ok(None),
            Some(DynStr::Fixed(s)) => return Ok(Some(s.clone())),
            Some(DynStr::Path(p)) => p
                .read(self.raw, self.env)
                .map_err(|e| path_failure(sr, p, e))?,
            Some(DynStr::Intrinsic(i)) => {
                let t = Template::Intrinsic(i.clone());
                eval_jp(sr, &t, self.raw, self.env)?
            }
            Some(DynStr::Jsonata(j)) => {
                let Some(env) = self.jenv else {
                    return Ok(None);
                };
                return match eval_expr(sr, j, field, env)? {
                    Value::String(s) => Ok(Some(s)),
                    other => Err(unexpected_type(sr, &j.src, field, "string", &other)),
                };
            }
        };
        Ok(Some(match v {
            Value::String(s) => s,
            other => compact(&other),
        }))
    }
}
