//! The Wait state: plans its sleep (`Seconds`, `Timestamp` or their paths, or JSONata) without
//! sleeping, so the run loop's synchronous dispatcher can run it; the loop then sleeps.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::Run;
use super::eval::{FieldInput, eval_field, whole_i64};
use super::failure::{Failure, compact, path_failure, refused_value, runtime, unexpected_type};
use super::types::{Decided, Flow, Scope, StateRun, WaitPlan};
use crate::model::{Dyn, WaitSpec, parse_timestamp};

impl Run<'_> {
    pub(super) fn exec_wait(
        &self,
        sr: &StateRun<'_>,
        w: &WaitSpec,
        raw: Value,
        scope: &mut Scope<'_>,
    ) -> Result<(Flow, Option<WaitPlan>), Failure> {
        let (out, plan) = self.decide_and_output(sr, raw, scope, |at| {
            Ok(Decided::of_state(sr.st, self.wait_plan(sr, w, at)?))
        })?;
        Ok((Flow::after(sr.st, out), plan))
    }

    /// How long a Wait state sleeps (computed without sleeping): nothing when its time has
    /// come; up to the deadline (and then the execution times out) when it is later.
    fn wait_plan(
        &self,
        sr: &StateRun<'_>,
        w: &WaitSpec,
        at: &FieldInput<'_, '_>,
    ) -> Result<Option<WaitPlan>, Failure> {
        let now = self.opts.clock.now();
        let until = match w {
            WaitSpec::Seconds(d) => {
                let secs = wait_seconds(sr, d, at)?;
                // past the deadline (at most a year away) when it does not fit in a date
                chrono::TimeDelta::try_seconds(secs)
                    .and_then(|d| now.checked_add_signed(d))
                    .unwrap_or(DateTime::<Utc>::MAX_UTC)
            }
            WaitSpec::Timestamp(d) => {
                let until = wait_timestamp(sr, d, at)?;
                // AWS refuses a timestamp more than 2^31 - 1 seconds away (recorded: 24,856 days
                // ahead fails at once, 24,855 days waits).
                if (until - now).num_seconds() > MAX_TIMESTAMP_DELAY_SECONDS {
                    return Err(runtime(sr, "Wait state delay is too long."));
                }
                until
            }
        };
        if until <= now {
            return Ok(None);
        }
        if until >= self.deadline {
            let d = (self.deadline - now).to_std().unwrap_or_default();
            return Ok(Some(WaitPlan {
                sleep: d + Duration::from_millis(1),
                times_out: true,
            }));
        }
        Ok(Some(WaitPlan {
            sleep: (until - now).to_std().unwrap_or_default(),
            times_out: false,
        }))
    }

    /// Sleeps as planned; the execution times out when the plan reaches its deadline.
    pub(super) async fn apply_wait(&self, plan: WaitPlan) -> Result<(), Failure> {
        self.opts.clock.sleep(plan.sleep).await;
        if plan.times_out {
            return Err(Failure::terminal("States.Timeout", self.timeout_cause));
        }
        Ok(())
    }
}

/// The longest delay to a `Timestamp` AWS accepts, in seconds (`i32::MAX`).
const MAX_TIMESTAMP_DELAY_SECONDS: i64 = i32::MAX as i64;

/// `Seconds`, `SecondsPath` (a non-negative whole number) or JSONata `Seconds` (0 to
/// 99,999,999).
fn wait_seconds(sr: &StateRun<'_>, d: &Dyn<i64>, at: &FieldInput<'_, '_>) -> Result<i64, Failure> {
    match d {
        Dyn::Fixed(s) => Ok(*s),
        Dyn::Path(p) => {
            let v = p
                .read(at.input, at.env)
                .map_err(|e| path_failure(sr, p, e))?;
            match whole_i64(&v) {
                Some(s) if s < 0 => Err(runtime(
                    sr,
                    format!("The SecondsPath parameter references a negative value: {p} == {s}"),
                )),
                Some(s) => Ok(s),
                // AWS's words for 1.5 and -1.5 (recorded)
                None => Err(runtime(
                    sr,
                    format!(
                        "The SecondsPath parameter cannot be parsed as a long value: {p} == {}",
                        compact(&v)
                    ),
                )),
            }
        }
        Dyn::Jsonata(j) => {
            let v = eval_field(sr, j, "Seconds", at.jenv)?;
            match whole_i64(&v) {
                Some(s) if (0..=99_999_999).contains(&s) => Ok(s),
                _ => Err(unexpected_type(sr, &j.src, "Seconds", "integer", &v)),
            }
        }
    }
}

/// `Timestamp`, `TimestampPath` or JSONata `Timestamp`: an ISO-8601 date-time with an offset.
fn wait_timestamp(
    sr: &StateRun<'_>,
    d: &Dyn<String>,
    at: &FieldInput<'_, '_>,
) -> Result<DateTime<Utc>, Failure> {
    let invalid_path = |p: &dyn std::fmt::Display, shown: &str| {
        runtime(
            sr,
            format!(
                "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {p} == {shown}"
            ),
        )
    };
    let s: String = match d {
        Dyn::Fixed(s) => s.clone(),
        Dyn::Path(p) => {
            let v = p
                .read(at.input, at.env)
                .map_err(|e| path_failure(sr, p, e))?;
            match v {
                Value::String(s) => s,
                other => return Err(invalid_path(p, &compact(&other))),
            }
        }
        Dyn::Jsonata(j) => match eval_field(sr, j, "Timestamp", at.jenv)? {
            Value::String(s) => s,
            other => {
                return Err(unexpected_type(sr, &j.src, "Timestamp", "string", &other));
            }
        },
    };
    let parsed = parse_timestamp(&s).map(|t| t.with_timezone(&Utc));
    match (parsed, d) {
        (Some(t), _) => Ok(t),
        // AWS's words and error (recorded, with an EvaluationFailed event naming the field)
        (None, Dyn::Jsonata(_)) => Err(refused_value(
            sr,
            "Timestamp",
            format!(
                "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {s}"
            ),
        )),
        (None, Dyn::Path(p)) => Err(invalid_path(p, &s)),
        (None, Dyn::Fixed(_)) => Err(runtime(
            sr,
            format!(
                "The Timestamp parameter does not reference a valid ISO-8601 extended offset date-time format string: {s}"
            ),
        )),
    }
}
