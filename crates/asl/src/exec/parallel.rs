//! The Parallel state: runs its branches at once on the same input, each in a variable scope
//! of its own; the output is their outputs in order, or the first failure.

use std::sync::Arc;

use serde_json::{Value, json};

use super::Run;
use super::failure::Failure;
use super::types::Scope;
use crate::model::Graph;

impl Run<'_> {
    pub(super) async fn exec_parallel(
        &self,
        branches: &[Arc<Graph>],
        params: Value,
        scope: &Scope<'_>,
        prev: &mut u64,
    ) -> Result<Value, Failure> {
        self.event(prev, "ParallelStateStarted", || Value::Null);
        let base = *prev;
        let futs = branches.iter().map(|g| {
            let input = params.clone();
            async move {
                let mut child = Scope::child(Some(scope));
                let mut p = base;
                self.run_graph(g, input, &mut child, &mut p).await
            }
        });
        match futures::future::try_join_all(futs).await {
            Ok(outs) => {
                self.event(prev, "ParallelStateSucceeded", || Value::Null);
                Ok(Value::Array(outs))
            }
            Err(f) => {
                self.event(
                    prev,
                    "ParallelStateFailed",
                    || json!({"error": f.error, "cause": f.cause}),
                );
                Err(f)
            }
        }
    }
}
