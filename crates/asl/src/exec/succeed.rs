//! The Succeed state: ends its graph with its input (through InputPath and OutputPath in
//! JSONPath; `Assign` and `Output` in JSONata).

use serde_json::Value;

use super::Run;
use super::failure::Failure;
use super::types::{Decided, Flow, Scope, StateRun};

impl Run<'_> {
    pub(super) fn exec_succeed(
        &self,
        sr: &StateRun<'_>,
        raw: Value,
        scope: &mut Scope<'_>,
    ) -> Result<Flow, Failure> {
        let (out, ()) =
            self.decide_and_output(sr, raw, scope, |_| Ok(Decided::of_state(sr.st, ())))?;
        Ok(Flow::End(out))
    }
}
