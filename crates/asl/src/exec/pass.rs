//! The Pass state: its input, or `Result`, or `Parameters`, placed by `ResultPath` (JSONPath);
//! `Assign` and `Output` (JSONata).

use serde_json::Value;

use super::Run;
use super::eval::{apply_io_path, apply_result_path, assigns_of, eval_jp};
use super::failure::Failure;
use super::types::{Decided, Env, Flow, Scope, StateRun};
use crate::model::{Ql, ResultPath};

impl Run<'_> {
    pub(super) fn exec_pass(
        &self,
        sr: &StateRun<'_>,
        result: Option<&Value>,
        raw: Value,
        scope: &mut Scope<'_>,
    ) -> Result<Flow, Failure> {
        let out = match sr.st.ql {
            Ql::JsonPath => self.pass_jsonpath(sr, result, raw, scope)?,
            Ql::Jsonata => {
                self.decide_and_output(sr, raw, scope, |_| Ok(Decided::of_state(sr.st, ())))?
                    .0
            }
        };
        Ok(Flow::after(sr.st, out))
    }

    fn pass_jsonpath(
        &self,
        sr: &StateRun<'_>,
        result: Option<&Value>,
        raw: Value,
        scope: &mut Scope<'_>,
    ) -> Result<Value, Failure> {
        let st = sr.st;
        let ctx = self.state_context(sr);
        let env = Env {
            ctx: ctx.as_ref(),
            scope,
        };
        // ResultPath merges the result into the raw state input
        let raw_keep = (!matches!(st.result_path, ResultPath::Replace)).then(|| raw.clone());
        let effective = apply_io_path(sr, &st.input_path, raw, &env)?;
        let r = if let Some(p) = &st.parameters {
            eval_jp(sr, p, &effective, &env)?
        } else if let Some(r) = result {
            r.clone()
        } else {
            effective
        };
        let assigns = assigns_of(sr, st.assign.as_ref(), &r, &env, None)?;
        let combined = apply_result_path(sr, &st.result_path, raw_keep.unwrap_or(Value::Null), r)?;
        let out = apply_io_path(sr, &st.output_path, combined, &env)?;
        scope.assign(assigns);
        Ok(out)
    }
}
