//! The Parallel state: runs its branches at once on the same input, each in a variable scope
//! of its own; the output is their outputs in order, or the first failure.
//!
//! History, as AWS records it: each branch's events chain from `ParallelStateStarted`;
//! `ParallelStateSucceeded` points to the last branch event and is no one's predecessor
//! (`ParallelStateExited` points to that branch event too); a failure leaves the state's
//! `ParallelStateFailed` to [`Run::exec_with_retry`], which records it after the last attempt
//! only.

use std::sync::Arc;

use serde_json::Value;

use super::Run;
use super::failure::Failure;
use super::types::{Progress, Scope};
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
        let progress: Vec<Progress> = branches.iter().map(|_| Progress::default()).collect();
        let futs = branches.iter().zip(&progress).map(|(g, progress)| {
            let input = params.clone();
            async move {
                progress.started();
                let mut child = Scope::tracked(scope, progress);
                let mut p = base;
                let r = self.run_graph(g, input, &mut child, &mut p).await;
                // the state the failure happened in: entered and never exited
                let failed_in = progress.aborted_event().flatten().filter(|_| r.is_err());
                progress.finished();
                match r {
                    Ok(v) => Ok((v, p)),
                    Err(f) => Err((f, p, failed_in)),
                }
            }
        });
        match futures::future::try_join_all(futs).await {
            Ok(outs) => {
                let last = outs.iter().map(|(_, p)| *p).max().unwrap_or(base);
                *prev = last;
                let mut p = last;
                self.event(&mut p, "ParallelStateSucceeded", || Value::Null);
                Ok(Value::Array(outs.into_iter().map(|(v, _)| v).collect()))
            }
            Err((mut f, p, failed_in)) => {
                *prev = p;
                // After the failure, which what follows still points to: the failed branch's
                // state, then the states the other branches were running, in branch order.
                let still_running = progress.iter().filter_map(Progress::aborted_event);
                let aborted = failed_in.into_iter().chain(still_running.flatten());
                if !f.terminal {
                    for ty in aborted {
                        self.event_after(p, ty, || Value::Null);
                    }
                }
                f.closing = Some("ParallelStateFailed");
                Err(f)
            }
        }
    }
}
