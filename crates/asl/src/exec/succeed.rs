//! The Succeed state: ends its graph with its input (through InputPath and OutputPath in
//! JSONPath; `Assign` and `Output` in JSONata).

use serde_json::Value;

use super::Run;
use super::eval::apply_io_path;
use super::failure::Failure;
use super::types::{Env, Flow, Scope, StateRun};
use crate::model::Ql;

impl Run<'_> {
    pub(super) fn exec_succeed(
        &self,
        sr: &StateRun<'_>,
        raw: Value,
        scope: &mut Scope<'_>,
    ) -> Result<Flow, Failure> {
        let out = match sr.st.ql {
            Ql::JsonPath => {
                let ctx = self.state_context(sr);
                let env = Env {
                    ctx: ctx.as_ref(),
                    scope,
                };
                let effective = apply_io_path(sr, &sr.st.input_path, raw, &env)?;
                apply_io_path(sr, &sr.st.output_path, effective, &env)?
            }
            Ql::Jsonata => self.assign_and_output(sr, raw, scope)?,
        };
        Ok(Flow::End(out))
    }
}
