//! Evaluation of a validated model: [`Run`] (one execution), its run loop, the dispatcher from a
//! state's type to the module that executes it, and what every state uses (the history's
//! events, the execution's limits, the context object, the JSONata environment).
//!
//! Layers, each using only those below it (`tests/layering.rs` checks there is no cycle):
//!
//! ```text
//! pass, choice, wait, succeed, fail, work, retry, task, parallel, map   (one per state type)
//! exec (this module: Run, the run loop, the dispatcher)
//! crate::distributed                                 (a Distributed Map's items and results)
//! types, failure, eval                               (shared run types and field evaluation)
//! ```
//!
//! Each state module adds the methods of its state to [`Run`]; the run loop calls them, and a
//! Parallel or Map state runs its branches through [`Run::run_graph`]: method calls on `Run`,
//! not imports, so no module below names one above it.

mod choice;
pub(crate) mod eval;
mod fail;
pub(crate) mod failure;
mod map;
mod parallel;
mod pass;
mod retry;
mod succeed;
mod task;
pub(crate) mod types;
mod wait;
mod work;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use chrono::{DateTime, SecondsFormat, Utc};
use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

use self::eval::{FieldInput, apply_io_path, assigns_of, output_of, states_var};
use self::failure::{Failure, check_state_output};
pub(crate) use self::retry::matches_error;
use self::types::{Decided, Env, Flow, Scope, StateRun, WaitPlan};
use crate::api::{Execution, ExecutionOptions, ExecutionStatus, HistoryEvent};
use crate::limits::{HISTORY_LIMIT_CAUSE, MAX_EXECUTION_SECONDS, MAX_HISTORY_EVENTS};
use crate::model::{Graph, Kind, Model, Ql, State, StateType};

/// One execution.
pub(crate) struct Run<'o> {
    opts: &'o ExecutionOptions,
    input: Value,
    exec_arn: String,
    sm_arn: String,
    start_time: String,
    recording: bool,
    events: Mutex<Vec<HistoryEvent>>,
    counter: AtomicU64,
    transitions: AtomicU64,
    /// No further event fits in the history (the next one would be event 25,000).
    history_full: AtomicBool,
    /// When the execution times out: its TimeoutSeconds, at most one year after the start.
    deadline: DateTime<Utc>,
    /// The cause of the timeout at the deadline (TimeoutSeconds or the one-year maximum).
    timeout_cause: &'static str,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl<'o> Run<'o> {
    pub fn new(opts: &'o ExecutionOptions, input: Value, timeout_seconds: Option<u64>) -> Self {
        let now = opts.clock.now();
        Run {
            opts,
            input,
            exec_arn: opts.execution_arn(),
            sm_arn: opts.state_machine_arn(),
            start_time: ts(now),
            recording: opts.record_history || opts.observer.is_some(),
            events: Mutex::new(Vec::new()),
            counter: AtomicU64::new(0),
            transitions: AtomicU64::new(0),
            history_full: AtomicBool::new(false),
            deadline: execution_deadline(now, timeout_seconds),
            timeout_cause: match timeout_seconds {
                Some(t) if t <= MAX_EXECUTION_SECONDS => TIMEOUT_CAUSE,
                _ => MAX_TIME_CAUSE,
            },
        }
    }

    /// The run of a Distributed Map's child executions: the same execution as far as the
    /// context object, the clock and the deadline go, with a history of its own that is not
    /// kept (AWS keeps the iterations out of the parent's history).
    fn child_executions(&self) -> Run<'o> {
        Run {
            opts: self.opts,
            input: self.input.clone(),
            exec_arn: self.exec_arn.clone(),
            sm_arn: self.sm_arn.clone(),
            start_time: self.start_time.clone(),
            recording: false,
            events: Mutex::new(Vec::new()),
            counter: AtomicU64::new(0),
            transitions: AtomicU64::new(0),
            history_full: AtomicBool::new(false),
            deadline: self.deadline,
            timeout_cause: self.timeout_cause,
        }
    }

    /// Records an event. The history holds at most 25,000 events and the last one must end the
    /// execution: once only that one fits, other events are dropped and the run is stopped at
    /// its next check ([`Run::limits_check`]).
    fn event(&self, prev: &mut u64, ty: &str, details: impl FnOnce() -> Value) -> u64 {
        let ends_execution = ty.starts_with("Execution") && ty != "ExecutionStarted";
        let taken = self
            .counter
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                (ends_execution || c + 1 < MAX_HISTORY_EVENTS).then_some(c + 1)
            });
        let Ok(before) = taken else {
            self.history_full.store(true, Ordering::Relaxed);
            return *prev;
        };
        let id = before + 1;
        if self.recording {
            self.record(HistoryEvent {
                id,
                previous_event_id: *prev,
                timestamp: ts(self.opts.clock.now()),
                event_type: ty.to_string(),
                details: details(),
            });
        }
        *prev = id;
        id
    }

    /// Records an event that points to `at` and that no later event points to (a state a
    /// failure aborted).
    fn event_after(&self, at: u64, ty: &str, details: impl FnOnce() -> Value) {
        let mut after = at;
        self.event(&mut after, ty, details);
    }

    /// Hands an event to the observer and keeps it in the history when asked to.
    fn record(&self, ev: HistoryEvent) {
        if let Some(o) = &self.opts.observer {
            o.on_event(&ev);
        }
        if self.opts.record_history
            && let Ok(mut evs) = self.events.lock()
        {
            evs.push(ev);
        }
    }

    pub async fn run(self, model: &Model) -> Execution {
        let mut started = 0;
        let input = self.input.clone();
        self.event(
            &mut started,
            "ExecutionStarted",
            || json!({"input": input.clone(), "roleArn": self.opts.execution_role_arn()}),
        );
        let mut scope = Scope::root();
        // As AWS records it (../shared/conformance/asl-aws-histories), the first state's Entered
        // event has previousEventId 0, not ExecutionStarted's id.
        let mut prev = 0;
        let result = self
            .run_graph(&model.graph, input, &mut scope, &mut prev)
            .await;
        if prev == 0 {
            prev = started;
        }
        let mut execution = self.finish(result, &mut prev);
        execution.history = self.events.into_inner().unwrap_or_else(|e| e.into_inner());
        execution
    }

    /// The execution's end event and outcome (its history still to come): succeeded, timed
    /// out or failed.
    fn finish(&self, result: Result<Value, Failure>, prev: &mut u64) -> Execution {
        let (status, output, error, cause) = match result {
            Ok(out) => {
                self.event(
                    prev,
                    "ExecutionSucceeded",
                    || json!({"output": out.clone()}),
                );
                (ExecutionStatus::Succeeded, Some(out), None, None)
            }
            Err(f) => {
                let timed_out = f.terminal && f.error.as_deref() == Some("States.Timeout");
                let (ty, status) = if timed_out {
                    ("ExecutionTimedOut", ExecutionStatus::TimedOut)
                } else {
                    ("ExecutionFailed", ExecutionStatus::Failed)
                };
                self.event(prev, ty, || json!({"error": f.error, "cause": f.cause}));
                (status, None, f.error, f.cause)
            }
        };
        Execution {
            status,
            output,
            error,
            cause,
            history: Vec::new(),
        }
    }

    /// Runs a graph (the state machine, a Parallel branch, a Map iteration) from its start to
    /// its end.
    fn run_graph<'a>(
        &'a self,
        g: &'a Graph,
        input: Value,
        scope: &'a mut Scope<'_>,
        prev: &'a mut u64,
    ) -> BoxFuture<'a, Result<Value, Failure>> {
        Box::pin(async move {
            let mut idx = g.start;
            let mut input = input;
            // whether `input` passed the payload check: every state's output does
            let mut input_checked = false;
            loop {
                self.count_transition()?;
                self.limits_check()?;
                let Some(st) = g.states.get(idx) else {
                    return Err(Failure::new(
                        "States.Runtime",
                        "internal error: bad state index",
                    ));
                };
                let entered_prev = *prev;
                let entered_id = self.event(
                    prev,
                    entered_event(st.ty),
                    || json!({"name": &*st.name, "input": input.clone()}),
                );
                scope.entered(st.ty);
                let flow = match &st.kind {
                    Kind::Task(_) | Kind::Parallel { .. } | Kind::Map(_) => {
                        // boxed: keeps the loop's own future small (Map iterations allocate one)
                        let entered = (entered_prev, entered_id);
                        Box::pin(self.exec_with_retry(st, input, scope, prev, entered)).await?
                    }
                    _ => {
                        let (flow, plan) = self
                            .exec_sync(st, input, scope, entered_id)
                            .map_err(|f| self.evaluation_failed(st, f, entered_prev, prev))?;
                        if let Some(plan) = plan {
                            self.apply_wait(plan).await?;
                        }
                        flow
                    }
                };
                match self.leave(st, flow, input_checked, scope, prev)? {
                    Flow::Next(next, out) => {
                        idx = next;
                        input = out;
                        input_checked = true;
                    }
                    Flow::End(out) => return Ok(out),
                }
            }
        })
    }

    /// Counts a state transition against the execution's `max_transitions`.
    fn count_transition(&self) -> Result<(), Failure> {
        let n = self.transitions.fetch_add(1, Ordering::Relaxed) + 1;
        match self.opts.max_transitions {
            Some(max) if n > max => Err(Failure::new(
                "States.Runtime",
                format!("the execution exceeded the limit of {max} state transitions"),
            )),
            _ => Ok(()),
        }
    }

    /// Checks a state's output and records its exited event (a Fail state has none), with
    /// the variables the state assigned. The output of a state that passes its input on
    /// unchanged ([`State::passes_input`]) is not measured again when its input was
    /// (`input_checked`).
    fn leave(
        &self,
        st: &State,
        flow: Flow,
        input_checked: bool,
        scope: &mut Scope<'_>,
        prev: &mut u64,
    ) -> Result<Flow, Failure> {
        let (Flow::Next(_, out) | Flow::End(out)) = &flow;
        if !(input_checked && st.passes_input) {
            check_state_output(&st.name, out)?;
        }
        let assigned = scope.take_assigned();
        if matches!(flow, Flow::End(_)) || st.ty != StateType::Fail {
            self.event(prev, exited_event(st.ty), || {
                let mut d = json!({"name": &*st.name, "output": out.clone()});
                if let (Some(a), Value::Object(m)) = (assigned, &mut d) {
                    m.insert("assignedVariables".into(), a);
                }
                d
            });
        }
        Ok(flow)
    }

    /// Records the `EvaluationFailed` event of a state whose own evaluation failed (it points
    /// where the state's entered event points, as AWS records it); the failure goes on.
    fn evaluation_failed(
        &self,
        st: &State,
        mut f: Failure,
        entered_prev: u64,
        prev: &mut u64,
    ) -> Failure {
        if f.terminal {
            return f;
        }
        if let Some(e) = f.evaluation.take() {
            if !e.after_entered {
                *prev = entered_prev;
            }
            self.event(prev, "EvaluationFailed", || {
                let mut d = json!({"error": f.error, "cause": f.cause, "state": &*st.name});
                if let (Some(l), Value::Object(m)) = (e.location, &mut d) {
                    m.insert("location".into(), Value::String(l));
                }
                d
            });
        }
        f
    }

    /// Records the event that closes a Map or Parallel whose failure is final
    /// (`MapStateFailed`, `ParallelStateFailed`; no details, as AWS records them).
    fn close_failed(&self, f: &mut Failure, prev: &mut u64) {
        if let Some(ty) = f.closing.take() {
            self.event(prev, ty, || Value::Null);
        }
    }

    /// The dispatcher of the states that need no await: Pass, Choice, Wait (planning only),
    /// Succeed and Fail.
    fn exec_sync(
        &self,
        st: &State,
        raw: Value,
        scope: &mut Scope<'_>,
        entered_id: u64,
    ) -> Result<(Flow, Option<WaitPlan>), Failure> {
        let sr = self.enter(st, entered_id);
        match &st.kind {
            Kind::Pass { result } => Ok((self.exec_pass(&sr, result.as_ref(), raw, scope)?, None)),
            Kind::Choice { rules, default } => {
                Ok((self.exec_choice(&sr, rules, *default, raw, scope)?, None))
            }
            Kind::Wait(w) => self.exec_wait(&sr, w, raw, scope),
            Kind::Succeed => Ok((self.exec_succeed(&sr, raw, scope)?, None)),
            Kind::Fail { error, cause } => {
                Err(self.exec_fail(&sr, error.as_ref(), cause.as_ref(), &raw, scope))
            }
            Kind::Task(_) | Kind::Parallel { .. } | Kind::Map(_) => Err(Failure::new(
                "States.Runtime",
                "internal error: not a simple state",
            )),
        }
    }

    fn context(&self, sr: &StateRun<'_>, token: Option<&str>) -> Value {
        if let Some(given) = &self.opts.context_object {
            return given.clone();
        }
        let mut m = Map::new();
        m.insert(
            "Execution".into(),
            json!({
                "Id": self.exec_arn,
                "Input": self.input.clone(),
                "Name": self.opts.execution_name,
                "RoleArn": self.opts.execution_role_arn(),
                "StartTime": self.start_time,
                "RedriveCount": 0,
            }),
        );
        m.insert(
            "StateMachine".into(),
            json!({"Id": self.sm_arn, "Name": self.opts.state_machine_name}),
        );
        m.insert(
            "State".into(),
            json!({"Name": &*sr.st.name, "EnteredTime": sr.entered_time, "RetryCount": sr.retry_count}),
        );
        if let Some(t) = token {
            m.insert("Task".into(), json!({"Token": t}));
        }
        if let Some((i, v)) = sr.map_item {
            m.insert(
                "Map".into(),
                json!({"Item": {"Index": i, "Value": v.clone()}}),
            );
        }
        Value::Object(m)
    }

    /// The context object, when the state reads it.
    fn state_context(&self, sr: &StateRun<'_>) -> Option<Value> {
        sr.st.uses_context.then(|| self.context(sr, None))
    }

    fn jsonata_env(&self, states: &Value, scope: &Scope<'_>) -> mdlc_jsonata::Environment {
        let now = self.opts.clock.now().timestamp_millis();
        let mut env =
            mdlc_jsonata::Environment::new().with_aws_functions(mdlc_jsonata::AwsContext {
                now_millis: now,
                random_seed: None,
            });
        let mut vars = Vec::new();
        scope.all(&mut vars);
        for (k, v) in vars {
            env.bind(&k, v);
        }
        env.bind("states", states.clone());
        env
    }

    /// A state without a result of its own: `decide` on its effective input, then its `Assign`,
    /// then its output (`InputPath` and `OutputPath` in JSONPath, `Output` in JSONata).
    fn decide_and_output<'r, T>(
        &self,
        sr: &StateRun<'r>,
        raw: Value,
        scope: &mut Scope<'_>,
        decide: impl FnOnce(&FieldInput<'_, '_>) -> Result<Decided<'r, T>, Failure>,
    ) -> Result<(Value, T), Failure> {
        let st = sr.st;
        let ctx = self.state_context(sr);
        match st.ql {
            Ql::JsonPath => {
                let env = Env {
                    ctx: ctx.as_ref(),
                    scope,
                };
                let effective = apply_io_path(sr, &st.input_path, raw, &env)?;
                let d = decide(&FieldInput {
                    input: &effective,
                    env: &env,
                    jenv: None,
                })?;
                let assigns = assigns_of(sr, d.assign, &effective, &env, None)?;
                let out = apply_io_path(sr, &st.output_path, effective, &env)?;
                scope.assign(assigns);
                Ok((out, d.value))
            }
            Ql::Jsonata => {
                let jenv = self.jsonata_env(&states_var(&raw, ctx.as_ref(), None, None), scope);
                let penv = Env {
                    ctx: ctx.as_ref(),
                    scope,
                };
                let d = decide(&FieldInput {
                    input: &raw,
                    env: &penv,
                    jenv: Some(&jenv),
                })?;
                let assigns = assigns_of(sr, d.assign, &raw, &penv, Some(&jenv))?;
                let out = output_of(sr, d.output, raw, &jenv)?;
                scope.assign(assigns);
                Ok((out, d.value))
            }
        }
    }

    /// Stops the run once it has reached its deadline or its history is full. Reaching it is
    /// enough: on AWS the states before a Wait that ends exactly then always take some time.
    fn limits_check(&self) -> Result<(), Failure> {
        if self.opts.clock.now() >= self.deadline {
            return Err(Failure::terminal("States.Timeout", self.timeout_cause));
        }
        if self.history_full.load(Ordering::Relaxed) {
            return Err(Failure::terminal("States.Runtime", HISTORY_LIMIT_CAUSE));
        }
        Ok(())
    }

    /// The run of a state just entered (its entered time only when it reads the context).
    fn enter<'s>(&self, st: &'s State, entered_id: u64) -> StateRun<'s> {
        let entered_time = if st.uses_context {
            ts(self.opts.clock.now())
        } else {
            String::new()
        };
        StateRun {
            st,
            entered_id,
            entered_time,
            retry_count: 0,
            map_item: None,
        }
    }
}

fn entered_event(t: StateType) -> &'static str {
    match t {
        StateType::Pass => "PassStateEntered",
        StateType::Task => "TaskStateEntered",
        StateType::Choice => "ChoiceStateEntered",
        StateType::Wait => "WaitStateEntered",
        StateType::Succeed => "SucceedStateEntered",
        StateType::Fail => "FailStateEntered",
        StateType::Parallel => "ParallelStateEntered",
        StateType::Map => "MapStateEntered",
    }
}

fn exited_event(t: StateType) -> &'static str {
    match t {
        StateType::Pass => "PassStateExited",
        StateType::Task => "TaskStateExited",
        StateType::Choice => "ChoiceStateExited",
        StateType::Wait => "WaitStateExited",
        StateType::Succeed => "SucceedStateExited",
        StateType::Fail => "FailStateExited",
        StateType::Parallel => "ParallelStateExited",
        StateType::Map => "MapStateExited",
    }
}

const TIMEOUT_CAUSE: &str = "The execution timed out (TimeoutSeconds elapsed).";
const MAX_TIME_CAUSE: &str =
    "The execution timed out: it reached the maximum execution time of 1 year (31536000 seconds).";

/// When an execution started at `start` times out: after its `TimeoutSeconds`, and at the
/// latest after the one-year maximum execution time of a Standard workflow.
fn execution_deadline(start: DateTime<Utc>, timeout_seconds: Option<u64>) -> DateTime<Utc> {
    let secs = timeout_seconds.map_or(MAX_EXECUTION_SECONDS, |t| t.min(MAX_EXECUTION_SECONDS));
    chrono::TimeDelta::try_seconds(i64::try_from(secs).unwrap_or(i64::MAX))
        .and_then(|d| start.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}
