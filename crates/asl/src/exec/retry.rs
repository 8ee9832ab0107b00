//! Retry and Catch of the Task, Parallel and Map states: attempts until one succeeds, the
//! error matches no Retrier or the matching one is spent; then the first matching Catcher.

use std::time::Duration;

use serde_json::Value;

use super::Run;
use super::eval::{apply_result_path, assigns_of, eval_ja, states_var};
use super::failure::Failure;
use super::types::{Env, Flow, Scope, StateRun};
use crate::model::{Catcher, Ql, Retrier, State, StateType};

impl Run<'_> {
    pub(super) async fn exec_with_retry(
        &self,
        st: &State,
        raw: Value,
        scope: &mut Scope<'_>,
        prev: &mut u64,
        (entered_prev, entered_id): (u64, u64),
    ) -> Result<Flow, Failure> {
        let mut sr = self.enter(st, entered_id);
        let mut attempts = vec![0u64; st.retry.len()];
        loop {
            let mut f = match self.exec_work(&sr, &raw, scope, prev).await {
                Ok((out, assigns)) => {
                    scope.assign(assigns);
                    return Ok(Flow::after(st, out));
                }
                Err(f) if f.terminal => return Err(f),
                Err(f) => f,
            };
            if f.evaluation.is_some() && st.ty == StateType::Map {
                // AWS: EvaluationFailed, then MapStateFailed
                f.closing = Some("MapStateFailed");
            }
            let mut f = self.evaluation_failed(st, f, entered_prev, prev);
            if let Some(delay) = self.retry_delay(st, &mut attempts, f.name()) {
                // the next attempt starts again at MapStateStarted/ParallelStateStarted; the
                // state is closed as failed only after its last attempt
                f.closing = None;
                sr.retry_count += 1;
                self.opts.clock.sleep(delay).await;
                self.limits_check()?;
                continue;
            }
            self.close_failed(&mut f, prev);
            return match st.catch.iter().find(|c| matches_error(&c.errors, f.name())) {
                Some(c) => self.catch(&sr, c, &f, &raw, scope),
                None => Err(f),
            };
        }
    }

    /// The wait before the next attempt after the error `error`, counted against the first
    /// Retrier that matches it; `None` when none matches or that one is spent.
    fn retry_delay(&self, st: &State, attempts: &mut [u64], error: &str) -> Option<Duration> {
        let ri = st
            .retry
            .iter()
            .position(|r| matches_error(&r.errors, error))?;
        let r = &st.retry[ri];
        let n = attempts[ri];
        if n >= r.max_attempts {
            return None;
        }
        attempts[ri] += 1;
        Some(Duration::from_secs_f64(self.backoff(r, n)))
    }

    /// Seconds before retry `n` (from 0): `IntervalSeconds × BackoffRate^n`, at most
    /// `MaxDelaySeconds`, scaled by full jitter, never past the deadline (the run times out
    /// there).
    fn backoff(&self, r: &Retrier, n: u64) -> f64 {
        let mut delay = r.interval * r.backoff.powi(i32::try_from(n).unwrap_or(i32::MAX));
        if let Some(m) = r.max_delay {
            delay = delay.min(m);
        }
        if r.jitter {
            delay *= rand::random::<f64>();
        }
        let left = (self.deadline - self.opts.clock.now())
            .to_std()
            .unwrap_or_default()
            .as_secs_f64()
            + 0.001;
        if delay.is_finite() {
            delay.clamp(0.0, left)
        } else {
            left
        }
    }

    /// Catches `f`: the Catcher's `ResultPath` (JSONPath) or `Output` (JSONata) and `Assign`,
    /// on to its `Next`.
    fn catch(
        &self,
        sr: &StateRun<'_>,
        c: &Catcher,
        f: &Failure,
        raw: &Value,
        scope: &mut Scope<'_>,
    ) -> Result<Flow, Failure> {
        let err_out = f.output();
        let out = match sr.st.ql {
            Ql::JsonPath => {
                let env = Env { ctx: None, scope };
                let assigns = assigns_of(sr, c.assign.as_ref(), &err_out, &env, None)?;
                let out = apply_result_path(sr, &c.result_path, raw.clone(), err_out)?;
                scope.assign(assigns);
                out
            }
            Ql::Jsonata => self.catch_jsonata(sr, c, err_out, raw, scope)?,
        };
        Ok(Flow::Next(c.next, out))
    }

    fn catch_jsonata(
        &self,
        sr: &StateRun<'_>,
        c: &Catcher,
        err_out: Value,
        raw: &Value,
        scope: &mut Scope<'_>,
    ) -> Result<Value, Failure> {
        let ctx = self.context(sr, None);
        let sv = states_var(raw, Some(&ctx), None, Some(&err_out));
        let jenv = self.jsonata_env(&sv, scope);
        let env = Env { ctx: None, scope };
        let assigns = assigns_of(sr, c.assign.as_ref(), raw, &env, Some(&jenv))?;
        let out = match &c.output {
            Some(t) => eval_ja(sr, t, "Output", &jenv)?,
            None => err_out,
        };
        scope.assign(assigns);
        Ok(out)
    }
}

/// Whether `errors` (an ErrorEquals list) matches the error name. `States.ALL` matches a
/// task's `States.DataLimitExceeded` (recorded on AWS: a Lambda result over 256 KiB is caught
/// by a `States.ALL` catcher); the terminal data-limit failures never reach a matcher.
pub(crate) fn matches_error(errors: &[String], name: &str) -> bool {
    errors.iter().any(|e| match e.as_str() {
        "States.ALL" => name != "States.Runtime",
        "States.TaskFailed" => {
            !matches!(
                name,
                "States.Timeout"
                    | "States.Runtime"
                    | "States.DataLimitExceeded"
                    | "States.HeartbeatTimeout"
            ) && !name.is_empty()
        }
        other => other == name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_all_does_not_match_runtime_errors() {
        let all = vec!["States.ALL".to_string()];
        assert!(matches_error(&all, "Custom"));
        assert!(!matches_error(&all, "States.Runtime"));
        let tf = vec!["States.TaskFailed".to_string()];
        assert!(matches_error(&tf, "Lambda.ServiceException"));
        assert!(!matches_error(&tf, "States.Timeout"));
    }
}
