//! Evaluation of a validated model.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

use crate::api::{Execution, ExecutionOptions, ExecutionStatus, HistoryEvent, TaskRequest};
use crate::choice::eval_cond;
use crate::intrinsic::IntrinsicError;
use crate::limits::{
    HISTORY_LIMIT_CAUSE, MAX_EXECUTION_SECONDS, MAX_HISTORY_EVENTS, MAX_PAYLOAD_BYTES,
    MAX_SECONDS_FIELD, PayloadError, check_payload, data_limit_cause,
};
use crate::model::*;
use crate::path::{JsonPath, PathEnv, PathError};
use crate::template::{Jexpr, Template, empty_object};

/// A named failure travelling up the state graph.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    pub error: Option<String>,
    pub cause: Option<String>,
    /// Ends the execution: no Retry or Catch sees it (the execution's timeout, the history
    /// limit, a state output over the payload quota).
    pub terminal: bool,
}

impl Failure {
    pub fn new(error: &str, cause: impl Into<String>) -> Self {
        Failure {
            error: Some(error.to_string()),
            cause: Some(cause.into()),
            terminal: false,
        }
    }

    /// A failure that ends the execution whatever Retry/Catch say.
    pub fn terminal(error: &str, cause: impl Into<String>) -> Self {
        Failure {
            terminal: true,
            ..Failure::new(error, cause)
        }
    }

    fn name(&self) -> &str {
        self.error.as_deref().unwrap_or("")
    }

    fn output(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            "Error".into(),
            self.error.clone().map(Value::String).unwrap_or(Value::Null),
        );
        m.insert(
            "Cause".into(),
            self.cause.clone().map(Value::String).unwrap_or(Value::Null),
        );
        Value::Object(m)
    }
}

/// Variables: one frame per scope (the state machine, each Parallel branch, each Map iteration).
pub(crate) struct Scope<'p> {
    vars: HashMap<String, Value>,
    parent: Option<&'p Scope<'p>>,
}

impl<'p> Scope<'p> {
    fn root() -> Self {
        Scope {
            vars: HashMap::new(),
            parent: None,
        }
    }

    fn child(parent: Option<&'p Scope<'p>>) -> Self {
        Scope {
            vars: HashMap::new(),
            parent,
        }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        match self.vars.get(name) {
            Some(v) => Some(v),
            None => self.parent.and_then(|p| p.get(name)),
        }
    }

    fn all(&self, out: &mut Vec<(String, Value)>) {
        if let Some(p) = self.parent {
            p.all(out);
        }
        for (k, v) in &self.vars {
            out.push((k.clone(), v.clone()));
        }
    }
}

/// What the paths of one state can see.
pub(crate) struct Env<'a> {
    ctx: Option<&'a Value>,
    scope: &'a Scope<'a>,
}

impl PathEnv for Env<'_> {
    fn context(&self) -> Option<&Value> {
        self.ctx
    }
    fn variable(&self, name: &str) -> Option<&Value> {
        self.scope.get(name)
    }
}

/// Per-state runtime facts that error messages and the context object use.
pub(crate) struct StateRun<'a> {
    pub st: &'a State,
    pub entered_id: u64,
    pub entered_time: String,
    pub retry_count: u64,
    pub map_item: Option<(usize, &'a Value)>,
}

enum Flow {
    Next(usize, Value),
    End(Value),
}

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

/// How a numeric field's path or JSONata value is read; `kind` names the type in errors.
struct Number<T> {
    kind: &'static str,
    from_path: fn(&Value) -> Option<T>,
    from_jsonata: fn(&Value) -> Option<T>,
}

/// An integer, or a float with no fractional part, as an `i64`.
fn whole_i64(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
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
            let ev = HistoryEvent {
                id,
                previous_event_id: *prev,
                timestamp: ts(self.opts.clock.now()),
                event_type: ty.to_string(),
                details: details(),
            };
            if let Some(o) = &self.opts.observer {
                o.on_event(&ev);
            }
            if self.opts.record_history
                && let Ok(mut evs) = self.events.lock()
            {
                evs.push(ev);
            }
        }
        *prev = id;
        id
    }

    pub async fn run(self, model: &Model) -> Execution {
        let mut prev = 0;
        let input = self.input.clone();
        self.event(&mut prev, "ExecutionStarted", || {
            json!({"input": input.clone(), "roleArn": format!("arn:aws:iam::{}:role/StepFunctionsRole", self.opts.account), "stateMachineArn": self.sm_arn})
        });
        let mut scope = Scope::root();
        let result = self
            .run_graph(&model.graph, input, &mut scope, &mut prev)
            .await;
        let (status, output, error, cause) = match result {
            Ok(out) => {
                self.event(
                    &mut prev,
                    "ExecutionSucceeded",
                    || json!({"output": out.clone()}),
                );
                (ExecutionStatus::Succeeded, Some(out), None, None)
            }
            Err(f) => {
                let timed_out = f.terminal && f.error.as_deref() == Some("States.Timeout");
                if timed_out {
                    self.event(
                        &mut prev,
                        "ExecutionTimedOut",
                        || json!({"error": f.error, "cause": f.cause}),
                    );
                    (ExecutionStatus::TimedOut, None, f.error, f.cause)
                } else {
                    self.event(
                        &mut prev,
                        "ExecutionFailed",
                        || json!({"error": f.error, "cause": f.cause}),
                    );
                    (ExecutionStatus::Failed, None, f.error, f.cause)
                }
            }
        };
        let history = self.events.into_inner().unwrap_or_else(|e| e.into_inner());
        Execution {
            status,
            output,
            error,
            cause,
            history,
        }
    }

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
            loop {
                let n = self.transitions.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(max) = self.opts.max_transitions
                    && n > max
                {
                    return Err(Failure::new(
                        "States.Runtime",
                        format!("the execution exceeded the limit of {max} state transitions"),
                    ));
                }
                self.limits_check()?;
                let Some(st) = g.states.get(idx) else {
                    return Err(Failure::new(
                        "States.Runtime",
                        "internal error: bad state index",
                    ));
                };
                let entered_id = self.event(
                    prev,
                    entered_event(st.ty),
                    || json!({"name": &*st.name, "input": input.clone()}),
                );
                let flow = match &st.kind {
                    Kind::Task(_) | Kind::Parallel { .. } | Kind::Map(_) => {
                        // boxed: keeps the loop's own future small (Map iterations allocate one)
                        Box::pin(self.exec_state(st, input, scope, prev, entered_id)).await?
                    }
                    _ => {
                        let (flow, plan) = self.exec_sync(st, input, scope, entered_id)?;
                        if let Some(plan) = plan {
                            self.apply_wait(plan).await?;
                        }
                        flow
                    }
                };
                let out = match &flow {
                    Flow::Next(_, out) | Flow::End(out) => out,
                };
                check_state_output(&st.name, out)?;
                match flow {
                    Flow::Next(next, out) => {
                        if st.ty != StateType::Fail {
                            self.event(
                                prev,
                                exited_event(st.ty),
                                || json!({"name": &*st.name, "output": out.clone()}),
                            );
                        }
                        idx = next;
                        input = out;
                    }
                    Flow::End(out) => {
                        self.event(
                            prev,
                            exited_event(st.ty),
                            || json!({"name": &*st.name, "output": out.clone()}),
                        );
                        return Ok(out);
                    }
                }
            }
        })
    }

    fn context(&self, sr: &StateRun<'_>, token: Option<&str>) -> Value {
        let mut m = Map::new();
        m.insert(
            "Execution".into(),
            json!({
                "Id": self.exec_arn,
                "Input": self.input.clone(),
                "Name": self.opts.execution_name,
                "RoleArn": format!("arn:aws:iam::{}:role/StepFunctionsRole", self.opts.account),
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

    fn err_prefix(sr: &StateRun<'_>) -> String {
        format!(
            "An error occurred while executing the state '{}' (entered at the event id #{}).",
            sr.st.name, sr.entered_id
        )
    }

    fn runtime(sr: &StateRun<'_>, msg: impl std::fmt::Display) -> Failure {
        Failure::new("States.Runtime", format!("{} {msg}", Self::err_prefix(sr)))
    }

    fn query_error(sr: &StateRun<'_>, msg: impl std::fmt::Display) -> Failure {
        Failure::new(
            "States.QueryEvaluationError",
            format!("{} {msg}", Self::err_prefix(sr)),
        )
    }

    /// A JSONata field whose result `v` is not of the `expected` type.
    fn unexpected_type(
        sr: &StateRun<'_>,
        src: &str,
        field: &str,
        expected: &str,
        v: &Value,
    ) -> Failure {
        Self::query_error(
            sr,
            format!(
                "The JSONata expression '{src}' specified for the field '{field}' returned an unexpected result type. Expected '{expected}', but was '{}' for value: {}",
                type_name(v),
                compact(v)
            ),
        )
    }

    fn path_failure(sr: &StateRun<'_>, p: &JsonPath, e: PathError, input: &Value) -> Failure {
        match e {
            PathError::UndefinedVariable(v) => Self::query_error(
                sr,
                format!("The variable '${v}' referenced in the path '{p}' is not defined."),
            ),
            PathError::NotFound => Self::runtime(
                sr,
                format!(
                    "Invalid path '{p}' : No results for path: {}",
                    p.bracketed()
                ),
            )
            .with_input_hint(input),
        }
    }

    fn apply_io_path(
        sr: &StateRun<'_>,
        p: &IoPath,
        v: Value,
        env: &Env<'_>,
    ) -> Result<Value, Failure> {
        match p {
            IoPath::Identity => Ok(v),
            IoPath::Empty => Ok(empty_object()),
            IoPath::Path(path) => path
                .read(&v, env)
                .map_err(|e| Self::path_failure(sr, path, e, &v)),
        }
    }

    /// Evaluates a JSONPath-mode template against `input`.
    fn eval_jp(
        sr: &StateRun<'_>,
        t: &Template,
        input: &Value,
        env: &Env<'_>,
    ) -> Result<Value, Failure> {
        match t {
            Template::Const(v) => Ok(v.clone()),
            Template::Path(p) => p.read(input, env).map_err(|e| match e {
                PathError::UndefinedVariable(_) => Self::path_failure(sr, p, e, input),
                PathError::NotFound => Self::runtime(
                    sr,
                    format!(
                        "The JSONPath '{p}' could not be found in the input '{}'",
                        compact(input)
                    ),
                ),
            }),
            Template::Intrinsic(i) => i.eval(input, env).map_err(|e| match e {
                IntrinsicError::Path {
                    path,
                    undefined_variable: Some(v),
                } => Self::query_error(
                    sr,
                    format!("The variable '${v}' referenced in the path '{path}' is not defined."),
                ),
                IntrinsicError::Path { path, .. } => Self::runtime(
                    sr,
                    format!(
                        "The JSONPath '{path}' could not be found in the input '{}'",
                        compact(input)
                    ),
                ),
                IntrinsicError::Failure(m) => Failure::new(
                    "States.IntrinsicFailure",
                    format!("{} {m}", Self::err_prefix(sr)),
                ),
                IntrinsicError::TooLarge {
                    error: PayloadError::TooLarge { .. },
                    ..
                } => Failure::terminal("States.DataLimitExceeded", data_limit_cause(&sr.st.name)),
                IntrinsicError::TooLarge { function, error } => Failure::terminal(
                    "States.Runtime",
                    format!(
                        "{} The value of {function} cannot be passed on: {error}.",
                        Self::err_prefix(sr)
                    ),
                ),
            }),
            Template::Object(fields) => {
                let mut m = Map::with_capacity(fields.len());
                for (k, t, dollar) in fields {
                    let v = Self::eval_jp(sr, t, input, env).map_err(|mut f| {
                        if *dollar && let Some(c) = &mut f.cause {
                            *c = c.replacen(
                                "could not be found in the input",
                                &format!("specified for the field '{k}.$' could not be found in the input"),
                                1,
                            );
                        }
                        f
                    })?;
                    m.insert(k.clone(), v);
                }
                Ok(Value::Object(m))
            }
            Template::Array(items) => items
                .iter()
                .map(|t| Self::eval_jp(sr, t, input, env))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Template::Jsonata(_) => Ok(Value::Null),
        }
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

    fn eval_expr(
        sr: &StateRun<'_>,
        j: &Jexpr,
        field: &str,
        env: &mdlc_jsonata::Environment,
    ) -> Result<Value, Failure> {
        match j.expr.evaluate(None, env) {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(Self::query_error(
                sr,
                format!(
                    "The JSONata expression '{}' specified for the field '{field}' returned nothing (undefined).",
                    j.src
                ),
            )),
            Err(e) => Err(Self::query_error(
                sr,
                format!(
                    "The JSONata expression '{}' specified for the field '{field}' threw an error during evaluation. {}: {}",
                    j.src, e.code, e.message
                ),
            )),
        }
    }

    /// Evaluates a JSONata field; without a JSONata environment the value is null.
    fn eval_field(
        sr: &StateRun<'_>,
        j: &Jexpr,
        field: &str,
        jenv: Option<&mdlc_jsonata::Environment>,
    ) -> Result<Value, Failure> {
        match jenv {
            Some(e) => Self::eval_expr(sr, j, field, e),
            None => Ok(Value::Null),
        }
    }

    /// Evaluates a JSONata-mode template.
    fn eval_ja(
        sr: &StateRun<'_>,
        t: &Template,
        field: &str,
        env: &mdlc_jsonata::Environment,
    ) -> Result<Value, Failure> {
        match t {
            Template::Const(v) => Ok(v.clone()),
            Template::Jsonata(j) => Self::eval_expr(sr, j, field, env),
            Template::Object(fields) => {
                let mut m = Map::with_capacity(fields.len());
                for (k, t, _) in fields {
                    let v = Self::eval_ja(sr, t, &format!("{field}/{k}"), env)?;
                    m.insert(k.clone(), v);
                }
                Ok(Value::Object(m))
            }
            Template::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, t)| Self::eval_ja(sr, t, &format!("{field}/{i}"), env))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Template::Path(_) | Template::Intrinsic(_) => Ok(Value::Null),
        }
    }

    fn states_var(
        input: &Value,
        ctx: Option<&Value>,
        result: Option<&Value>,
        error: Option<&Value>,
    ) -> Value {
        let mut m = Map::new();
        m.insert("input".into(), input.clone());
        m.insert("context".into(), ctx.cloned().unwrap_or_else(empty_object));
        if let Some(r) = result {
            m.insert("result".into(), r.clone());
        }
        if let Some(e) = error {
            m.insert("errorOutput".into(), e.clone());
        }
        Value::Object(m)
    }

    fn assigns_of(
        sr: &StateRun<'_>,
        t: &Template,
        input: &Value,
        penv: &Env<'_>,
        jenv: Option<&mdlc_jsonata::Environment>,
    ) -> Result<Vec<(String, Value)>, Failure> {
        let v = match (sr.st.ql, jenv) {
            (Ql::Jsonata, Some(env)) => Self::eval_ja(sr, t, "Assign", env)?,
            _ => Self::eval_jp(sr, t, input, penv)?,
        };
        Ok(match v {
            Value::Object(m) => m.into_iter().collect(),
            _ => Vec::new(),
        })
    }

    fn apply_result_path(
        sr: &StateRun<'_>,
        rp: &ResultPath,
        raw: Value,
        result: Value,
    ) -> Result<Value, Failure> {
        match rp {
            ResultPath::Replace => Ok(result),
            ResultPath::Discard => Ok(raw),
            ResultPath::Path(p) => {
                let mut out = raw;
                if p.write(&mut out, result.clone()).is_err() {
                    return Err(Failure::new(
                        "States.ResultPathMatchFailure",
                        format!(
                            "{} Unable to apply ResultPath '{p}' to input '{}'",
                            Self::err_prefix(sr),
                            compact(&out)
                        ),
                    ));
                }
                Ok(out)
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

    /// Pass, Choice, Wait (planning only), Succeed and Fail: no await needed.
    fn exec_sync(
        &self,
        st: &State,
        raw: Value,
        scope: &mut Scope<'_>,
        entered_id: u64,
    ) -> Result<(Flow, Option<WaitPlan>), Failure> {
        let mut sr = self.enter(st, entered_id);
        let end_or = |out: Value| match st.next {
            Some(n) => Flow::Next(n, out),
            None => Flow::End(out),
        };
        match &st.kind {
            Kind::Fail { error, cause } => {
                let ctx = st.uses_context.then(|| self.context(&sr, None));
                let env = Env {
                    ctx: ctx.as_ref(),
                    scope,
                };
                let jenv = (st.ql == Ql::Jsonata).then(|| {
                    self.jsonata_env(&Self::states_var(&raw, ctx.as_ref(), None, None), scope)
                });
                let eval = |d: &Option<DynStr>, field: &str| -> Result<Option<String>, Failure> {
                    Ok(match d {
                        None => None,
                        Some(DynStr::Fixed(s)) => Some(s.clone()),
                        Some(DynStr::Path(p)) => {
                            let v = p
                                .read(&raw, &env)
                                .map_err(|e| Self::path_failure(&sr, p, e, &raw))?;
                            match v {
                                Value::String(s) => Some(s),
                                other => Some(compact(&other)),
                            }
                        }
                        Some(DynStr::Intrinsic(i)) => {
                            let t = Template::Intrinsic(i.clone());
                            match Self::eval_jp(&sr, &t, &raw, &env)? {
                                Value::String(s) => Some(s),
                                other => Some(compact(&other)),
                            }
                        }
                        Some(DynStr::Jsonata(j)) => match jenv.as_ref() {
                            Some(env) => match Self::eval_expr(&sr, j, field, env)? {
                                Value::String(s) => Some(s),
                                other => {
                                    return Err(Self::unexpected_type(
                                        &sr, &j.src, field, "string", &other,
                                    ));
                                }
                            },
                            None => None,
                        },
                    })
                };
                let error = eval(error, "Error")?;
                let cause = eval(cause, "Cause")?;
                Err(Failure {
                    error,
                    cause,
                    terminal: false,
                })
            }
            Kind::Succeed | Kind::Wait(_) | Kind::Choice { .. } | Kind::Pass { .. } => {
                let (out, next, plan) = self.exec_simple(&mut sr, raw, scope)?;
                let flow = match next {
                    Some(n) => Flow::Next(n, out),
                    None => {
                        if st.ty == StateType::Succeed {
                            Flow::End(out)
                        } else {
                            end_or(out)
                        }
                    }
                };
                Ok((flow, plan))
            }
            _ => Err(Failure::new(
                "States.Runtime",
                "internal error: not a simple state",
            )),
        }
    }

    async fn exec_state(
        &self,
        st: &State,
        raw: Value,
        scope: &mut Scope<'_>,
        prev: &mut u64,
        entered_id: u64,
    ) -> Result<Flow, Failure> {
        let mut sr = self.enter(st, entered_id);
        let end_or = |out: Value| match st.next {
            Some(n) => Flow::Next(n, out),
            None => Flow::End(out),
        };
        match &st.kind {
            Kind::Task(_) | Kind::Parallel { .. } | Kind::Map(_) => {
                let mut attempts = vec![0u64; st.retry.len()];
                loop {
                    let res = self.exec_work(&mut sr, &raw, scope, prev).await;
                    match res {
                        Ok((out, assigns)) => {
                            for (k, v) in assigns {
                                scope.vars.insert(k, v);
                            }
                            return Ok(end_or(out));
                        }
                        Err(f) => {
                            if f.terminal {
                                return Err(f);
                            }
                            if let Some(ri) = st
                                .retry
                                .iter()
                                .position(|r| matches_error(&r.errors, f.name()))
                            {
                                let r = &st.retry[ri];
                                let n = attempts[ri];
                                if n < r.max_attempts {
                                    attempts[ri] += 1;
                                    sr.retry_count += 1;
                                    let mut delay = r.interval
                                        * r.backoff.powi(i32::try_from(n).unwrap_or(i32::MAX));
                                    if let Some(m) = r.max_delay {
                                        delay = delay.min(m);
                                    }
                                    if r.jitter {
                                        delay *= rand::random::<f64>();
                                    }
                                    // never past the deadline: the run times out there
                                    let left = (self.deadline - self.opts.clock.now())
                                        .to_std()
                                        .unwrap_or_default()
                                        .as_secs_f64()
                                        + 0.001;
                                    let delay = if delay.is_finite() {
                                        delay.clamp(0.0, left)
                                    } else {
                                        left
                                    };
                                    self.opts.clock.sleep(Duration::from_secs_f64(delay)).await;
                                    self.limits_check()?;
                                    continue;
                                }
                            }
                            if let Some(c) =
                                st.catch.iter().find(|c| matches_error(&c.errors, f.name()))
                            {
                                let err_out = f.output();
                                let out = match st.ql {
                                    Ql::JsonPath => {
                                        let env = Env { ctx: None, scope };
                                        let assigns = match &c.assign {
                                            Some(t) => {
                                                Self::assigns_of(&sr, t, &err_out, &env, None)?
                                            }
                                            None => Vec::new(),
                                        };
                                        let out = Self::apply_result_path(
                                            &sr,
                                            &c.result_path,
                                            raw.clone(),
                                            err_out,
                                        )?;
                                        for (k, v) in assigns {
                                            scope.vars.insert(k, v);
                                        }
                                        out
                                    }
                                    Ql::Jsonata => {
                                        let ctx = self.context(&sr, None);
                                        let sv = Self::states_var(
                                            &raw,
                                            Some(&ctx),
                                            None,
                                            Some(&err_out),
                                        );
                                        let jenv = self.jsonata_env(&sv, scope);
                                        let assigns = match &c.assign {
                                            Some(t) => Self::assigns_of(
                                                &sr,
                                                t,
                                                &raw,
                                                &Env { ctx: None, scope },
                                                Some(&jenv),
                                            )?,
                                            None => Vec::new(),
                                        };
                                        let out = match &c.output {
                                            Some(t) => Self::eval_ja(&sr, t, "Output", &jenv)?,
                                            None => err_out,
                                        };
                                        for (k, v) in assigns {
                                            scope.vars.insert(k, v);
                                        }
                                        out
                                    }
                                };
                                return Ok(Flow::Next(c.next, out));
                            }
                            return Err(f);
                        }
                    }
                }
            }
            _ => {
                let (flow, plan) = self.exec_sync(st, raw, scope, entered_id)?;
                if let Some(plan) = plan {
                    self.apply_wait(plan).await?;
                }
                Ok(flow)
            }
        }
    }

    /// Pass, Wait, Choice, Succeed. Returns the output and, for Choice, the next state.
    #[allow(clippy::type_complexity)]
    fn exec_simple(
        &self,
        sr: &mut StateRun<'_>,
        raw: Value,
        scope: &mut Scope<'_>,
    ) -> Result<(Value, Option<usize>, Option<WaitPlan>), Failure> {
        let st = sr.st;
        let mut plan = None;
        let ctx = st.uses_context.then(|| self.context(sr, None));
        let mut assigns = Vec::new();
        let (out, next) = match st.ql {
            Ql::JsonPath => {
                let env = Env {
                    ctx: ctx.as_ref(),
                    scope,
                };
                let raw_keep = (st.ty == StateType::Pass
                    && !matches!(st.result_path, ResultPath::Replace))
                .then(|| raw.clone());
                let effective = Self::apply_io_path(sr, &st.input_path, raw, &env)?;
                let mut next = None;
                let (result, raw_for_result) = match &st.kind {
                    Kind::Pass { result } => {
                        let r = if let Some(p) = &st.parameters {
                            Self::eval_jp(sr, p, &effective, &env)?
                        } else if let Some(r) = result {
                            r.clone()
                        } else {
                            effective.clone()
                        };
                        if let Some(a) = &st.assign {
                            assigns = Self::assigns_of(sr, a, &r, &env, None)?;
                        }
                        (r, Some(raw_keep.unwrap_or(Value::Null)))
                    }
                    Kind::Choice { rules, default } => {
                        let mut chosen = None;
                        for rule in rules {
                            if eval_cond(&rule.cond, &effective, &env).map_err(|e| match e {
                                crate::choice::CondError::UndefinedVariable(p, v) => Self::query_error(
                                    sr,
                                    format!("The variable '${v}' referenced in the path '{p}' is not defined."),
                                ),
                                crate::choice::CondError::Runtime(m) => Self::runtime(sr, m),
                            })? {
                                chosen = Some(rule);
                                break;
                            }
                        }
                        match chosen {
                            Some(rule) => {
                                next = Some(rule.next);
                                if let Some(a) = &rule.assign {
                                    assigns = Self::assigns_of(sr, a, &effective, &env, None)?;
                                }
                            }
                            None => match default {
                                Some(d) => {
                                    next = Some(*d);
                                    if let Some(a) = &st.assign {
                                        assigns = Self::assigns_of(sr, a, &effective, &env, None)?;
                                    }
                                }
                                None => {
                                    return Err(Failure::new(
                                        "States.NoChoiceMatched",
                                        format!("{} No Matches!", Self::err_prefix(sr)),
                                    ));
                                }
                            },
                        }
                        (effective, None)
                    }
                    Kind::Wait(w) => {
                        plan = self.wait_plan(sr, w, &effective, &env, None)?;
                        if let Some(a) = &st.assign {
                            assigns = Self::assigns_of(sr, a, &effective, &env, None)?;
                        }
                        (effective, None)
                    }
                    _ => (effective, None),
                };
                let combined = match raw_for_result {
                    Some(raw_in) => {
                        // Pass: ResultPath merges the result into the raw state input
                        Self::apply_result_path(sr, &st.result_path, raw_in, result)?
                    }
                    None => result,
                };
                let out = Self::apply_io_path(sr, &st.output_path, combined, &env)?;
                (out, next)
            }
            Ql::Jsonata => {
                let sv = Self::states_var(&raw, ctx.as_ref(), None, None);
                let jenv = self.jsonata_env(&sv, scope);
                let penv = Env {
                    ctx: ctx.as_ref(),
                    scope,
                };
                let mut next = None;
                let mut output_t = st.output.as_ref();
                match &st.kind {
                    Kind::Choice { rules, default } => {
                        let mut chosen = None;
                        for rule in rules {
                            let hit = match &rule.cond {
                                Cond::Const(b) => *b,
                                Cond::Jsonata(j) => {
                                    match Self::eval_expr(sr, j, "Condition", &jenv)? {
                                        Value::Bool(b) => b,
                                        other => {
                                            return Err(Self::unexpected_type(
                                                sr,
                                                &j.src,
                                                "Condition",
                                                "boolean",
                                                &other,
                                            ));
                                        }
                                    }
                                }
                                _ => false,
                            };
                            if hit {
                                chosen = Some(rule);
                                break;
                            }
                        }
                        match chosen {
                            Some(rule) => {
                                next = Some(rule.next);
                                if let Some(a) = &rule.assign {
                                    assigns = Self::assigns_of(sr, a, &raw, &penv, Some(&jenv))?;
                                }
                                if rule.output.is_some() {
                                    output_t = rule.output.as_ref();
                                }
                            }
                            None => match default {
                                Some(d) => {
                                    next = Some(*d);
                                    if let Some(a) = &st.assign {
                                        assigns =
                                            Self::assigns_of(sr, a, &raw, &penv, Some(&jenv))?;
                                    }
                                }
                                None => {
                                    return Err(Failure::new(
                                        "States.NoChoiceMatched",
                                        format!("{} No Matches!", Self::err_prefix(sr)),
                                    ));
                                }
                            },
                        }
                    }
                    Kind::Wait(w) => {
                        plan = self.wait_plan(sr, w, &raw, &penv, Some(&jenv))?;
                        if let Some(a) = &st.assign {
                            assigns = Self::assigns_of(sr, a, &raw, &penv, Some(&jenv))?;
                        }
                    }
                    _ => {
                        if let Some(a) = &st.assign {
                            assigns = Self::assigns_of(sr, a, &raw, &penv, Some(&jenv))?;
                        }
                    }
                }
                let out = match output_t {
                    Some(t) => Self::eval_ja(sr, t, "Output", &jenv)?,
                    None => raw,
                };
                (out, next)
            }
        };
        for (k, v) in assigns {
            scope.vars.insert(k, v);
        }
        Ok((out, next, plan))
    }

    /// How long a Wait state sleeps (computed without sleeping).
    fn wait_plan(
        &self,
        sr: &StateRun<'_>,
        w: &WaitSpec,
        input: &Value,
        env: &Env<'_>,
        jenv: Option<&mdlc_jsonata::Environment>,
    ) -> Result<Option<WaitPlan>, Failure> {
        let now = self.opts.clock.now();
        let until: DateTime<Utc> = match w {
            WaitSpec::Seconds(d) => {
                let secs: i64 = match d {
                    Dyn::Fixed(s) => *s,
                    Dyn::Path(p) => {
                        let v = p
                            .read(input, env)
                            .map_err(|e| Self::path_failure(sr, p, e, input))?;
                        match whole_i64(&v) {
                            Some(s) if s < 0 => {
                                return Err(Self::runtime(
                                    sr,
                                    format!(
                                        "The SecondsPath parameter references a negative value: {p} == {s}"
                                    ),
                                ));
                            }
                            Some(s) => s,
                            None => {
                                return Err(Self::runtime(
                                    sr,
                                    format!(
                                        "The SecondsPath parameter does not reference a valid integer value: {p} == {}",
                                        compact(&v)
                                    ),
                                ));
                            }
                        }
                    }
                    Dyn::Jsonata(j) => {
                        let v = Self::eval_field(sr, j, "Seconds", jenv)?;
                        match whole_i64(&v) {
                            Some(s) if (0..=99_999_999).contains(&s) => s,
                            _ => {
                                return Err(Self::unexpected_type(
                                    sr, &j.src, "Seconds", "integer", &v,
                                ));
                            }
                        }
                    }
                };
                // past the deadline (at most a year away) when it does not fit in a date
                chrono::TimeDelta::try_seconds(secs)
                    .and_then(|d| now.checked_add_signed(d))
                    .unwrap_or(DateTime::<Utc>::MAX_UTC)
            }
            WaitSpec::Timestamp(d) => {
                let s: String = match d {
                    Dyn::Fixed(s) => s.clone(),
                    Dyn::Path(p) => {
                        let v = p
                            .read(input, env)
                            .map_err(|e| Self::path_failure(sr, p, e, input))?;
                        match v {
                            Value::String(s) => s,
                            other => {
                                return Err(Self::runtime(
                                    sr,
                                    format!(
                                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {p} == {}",
                                        compact(&other)
                                    ),
                                ));
                            }
                        }
                    }
                    Dyn::Jsonata(j) => match Self::eval_field(sr, j, "Timestamp", jenv)? {
                        Value::String(s) => s,
                        other => {
                            return Err(Self::unexpected_type(
                                sr,
                                &j.src,
                                "Timestamp",
                                "string",
                                &other,
                            ));
                        }
                    },
                };
                match parse_timestamp(&s) {
                    Some(t) => t.with_timezone(&Utc),
                    None => {
                        let what = if matches!(d, Dyn::Jsonata(_)) {
                            "Timestamp"
                        } else {
                            "TimestampPath"
                        };
                        return Err(Self::runtime(
                            sr,
                            format!(
                                "The {what} parameter does not reference a valid ISO-8601 extended offset date-time format string: {s}"
                            ),
                        ));
                    }
                }
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

    async fn apply_wait(&self, plan: WaitPlan) -> Result<(), Failure> {
        self.opts.clock.sleep(plan.sleep).await;
        if plan.times_out {
            return Err(Failure::terminal("States.Timeout", self.timeout_cause));
        }
        Ok(())
    }

    /// Task, Parallel, Map: one attempt, from the raw input to the output. Returns the output
    /// and the variable assignments to make on success.
    async fn exec_work(
        &self,
        sr: &mut StateRun<'_>,
        raw: &Value,
        scope: &Scope<'_>,
        prev: &mut u64,
    ) -> Result<(Value, Vec<(String, Value)>), Failure> {
        let st = sr.st;
        let token = match &st.kind {
            Kind::Task(t) if t.wait_for_token => Some(uuid::Uuid::new_v4().to_string()),
            _ => None,
        };
        let ctx = st.uses_context.then(|| self.context(sr, token.as_deref()));
        match st.ql {
            Ql::JsonPath => {
                let env = Env {
                    ctx: ctx.as_ref(),
                    scope,
                };
                let effective = Self::apply_io_path(sr, &st.input_path, raw.clone(), &env)?;
                let result = match &st.kind {
                    Kind::Map(m) => {
                        self.exec_map(&*sr, m, &effective, raw, scope, prev, None)
                            .await?
                    }
                    _ => {
                        let params = match &st.parameters {
                            Some(p) => Self::eval_jp(sr, p, &effective, &env)?,
                            None => effective.clone(),
                        };
                        let io = ActionIo {
                            input: &effective,
                            env: &env,
                            jenv: None,
                        };
                        self.exec_action(sr, params, scope, prev, io, token.as_deref())
                            .await?
                    }
                };
                let result = match &st.result_selector {
                    Some(t) => Self::eval_jp(sr, t, &result, &env)?,
                    None => result,
                };
                let assigns = match &st.assign {
                    Some(a) => Self::assigns_of(sr, a, &result, &env, None)?,
                    None => Vec::new(),
                };
                let combined = Self::apply_result_path(sr, &st.result_path, raw.clone(), result)?;
                let out = Self::apply_io_path(sr, &st.output_path, combined, &env)?;
                Ok((out, assigns))
            }
            Ql::Jsonata => {
                let sv = Self::states_var(raw, ctx.as_ref(), None, None);
                let jenv = self.jsonata_env(&sv, scope);
                let penv = Env {
                    ctx: ctx.as_ref(),
                    scope,
                };
                let result = match &st.kind {
                    Kind::Map(m) => {
                        self.exec_map(&*sr, m, raw, raw, scope, prev, Some(&jenv))
                            .await?
                    }
                    _ => {
                        let args = match &st.parameters {
                            Some(p) => Self::eval_ja(sr, p, "Arguments", &jenv)?,
                            None => raw.clone(),
                        };
                        let io = ActionIo {
                            input: raw,
                            env: &penv,
                            jenv: Some(&jenv),
                        };
                        self.exec_action(sr, args, scope, prev, io, token.as_deref())
                            .await?
                    }
                };
                let sv = Self::states_var(raw, ctx.as_ref(), Some(&result), None);
                let jenv = self.jsonata_env(&sv, scope);
                let assigns = match &st.assign {
                    Some(a) => Self::assigns_of(sr, a, raw, &penv, Some(&jenv))?,
                    None => Vec::new(),
                };
                let out = match &st.output {
                    Some(t) => Self::eval_ja(sr, t, "Output", &jenv)?,
                    None => result,
                };
                Ok((out, assigns))
            }
        }
    }

    /// Runs a Task or a Parallel with its effective parameters. `TimeoutSecondsPath` and
    /// `HeartbeatSecondsPath` read the state's input (after InputPath), not the parameters.
    async fn exec_action(
        &self,
        sr: &StateRun<'_>,
        params: Value,
        scope: &Scope<'_>,
        prev: &mut u64,
        io: ActionIo<'_, '_>,
        token: Option<&str>,
    ) -> Result<Value, Failure> {
        let ActionIo { input, env, jenv } = io;
        let st = sr.st;
        match &st.kind {
            Kind::Task(t) => {
                let timeout =
                    self.dyn_u64(sr, t.timeout.as_ref(), "TimeoutSeconds", input, env, jenv)?;
                let heartbeat = self.dyn_u64(
                    sr,
                    t.heartbeat.as_ref(),
                    "HeartbeatSeconds",
                    input,
                    env,
                    jenv,
                )?;
                for (field, v) in [("TimeoutSeconds", timeout), ("HeartbeatSeconds", heartbeat)] {
                    if let Some(n) = v.filter(|n| *n > MAX_SECONDS_FIELD) {
                        return Err(Self::runtime(
                            sr,
                            format!(
                                "The {field} value {n} is out of range: Maximum value is {MAX_SECONDS_FIELD}"
                            ),
                        ));
                    }
                }
                let context = self.context(sr, token);
                let rtype = resource_type(&t.resource);
                check_state_input(sr, &params)?;
                self.event(prev, "TaskScheduled", || {
                    json!({"resource": t.resource, "resourceType": rtype, "region": self.opts.region, "parameters": compact(&params), "timeoutInSeconds": timeout, "heartbeatInSeconds": heartbeat})
                });
                self.event(
                    prev,
                    "TaskStarted",
                    || json!({"resource": t.resource, "resourceType": rtype}),
                );
                let request = TaskRequest {
                    resource: t.resource.clone(),
                    parameters: params,
                    context,
                    state_name: st.name.to_string(),
                    state_machine_name: self.opts.state_machine_name.clone(),
                    timeout_seconds: timeout,
                    heartbeat_seconds: heartbeat,
                };
                let fut = self.opts.invoker.invoke(request);
                let limit = match (timeout, heartbeat) {
                    (Some(t), Some(h)) if h < t => Some((h, "States.HeartbeatTimeout")),
                    (Some(t), _) => Some((t, "States.Timeout")),
                    (None, Some(h)) => Some((h, "States.HeartbeatTimeout")),
                    (None, None) => None,
                };
                let res = match limit {
                    Some((secs, name)) if !self.opts.clock.is_virtual() => {
                        let sleep = self.opts.clock.sleep(Duration::from_secs(secs));
                        futures::pin_mut!(fut);
                        match futures::future::select(fut, sleep).await {
                            futures::future::Either::Left((r, _)) => r,
                            futures::future::Either::Right(_) => Err(crate::api::TaskFailure::new(
                                name,
                                format!("the task did not finish within {secs} seconds"),
                            )),
                        }
                    }
                    _ => fut.await,
                };
                let res = res.and_then(|v| check_task_result(&t.resource, &rtype, v));
                match res {
                    Ok(v) => {
                        self.event(prev, "TaskSucceeded", || json!({"resource": t.resource, "resourceType": rtype, "output": compact(&v)}));
                        Ok(v)
                    }
                    Err(e) => {
                        let ty = if e.error == "States.Timeout"
                            || e.error == "States.HeartbeatTimeout"
                        {
                            "TaskTimedOut"
                        } else {
                            "TaskFailed"
                        };
                        self.event(prev, ty, || json!({"resource": t.resource, "resourceType": rtype, "error": e.error, "cause": e.cause}));
                        Err(Failure::new(&e.error, e.cause))
                    }
                }
            }
            Kind::Parallel { branches } => {
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
                let res = futures::future::try_join_all(futs).await;
                match res {
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
            _ => Ok(params),
        }
    }

    fn dyn_u64(
        &self,
        sr: &StateRun<'_>,
        d: Option<&Dyn<u64>>,
        field: &str,
        input: &Value,
        env: &Env<'_>,
        jenv: Option<&mdlc_jsonata::Environment>,
    ) -> Result<Option<u64>, Failure> {
        let number = Number {
            kind: "integer",
            from_path: as_uint,
            from_jsonata: as_uint,
        };
        self.dyn_number(sr, d, field, number, input, env, jenv)
    }

    #[allow(clippy::too_many_arguments)]
    fn dyn_f64(
        &self,
        sr: &StateRun<'_>,
        d: Option<&Dyn<f64>>,
        field: &str,
        integer: bool,
        input: &Value,
        env: &Env<'_>,
        jenv: Option<&mdlc_jsonata::Environment>,
    ) -> Result<Option<f64>, Failure> {
        let non_negative = |v: &Value| v.as_f64().filter(|f| *f >= 0.0);
        let number = if integer {
            Number {
                kind: "integer",
                from_path: |v: &Value| as_uint(v).map(|n| n as f64),
                from_jsonata: non_negative,
            }
        } else {
            Number {
                kind: "float",
                from_path: non_negative,
                from_jsonata: non_negative,
            }
        };
        self.dyn_number(sr, d, field, number, input, env, jenv)
    }

    /// The value of a numeric field that may be fixed, a path (`<field>Path`) or JSONata.
    #[allow(clippy::too_many_arguments)]
    fn dyn_number<T: Copy>(
        &self,
        sr: &StateRun<'_>,
        d: Option<&Dyn<T>>,
        field: &str,
        number: Number<T>,
        input: &Value,
        env: &Env<'_>,
        jenv: Option<&mdlc_jsonata::Environment>,
    ) -> Result<Option<T>, Failure> {
        let kind = number.kind;
        Ok(match d {
            None => None,
            Some(Dyn::Fixed(n)) => Some(*n),
            Some(Dyn::Path(p)) => {
                let v = p
                    .read(input, env)
                    .map_err(|e| Self::path_failure(sr, p, e, input))?;
                match (number.from_path)(&v) {
                    Some(n) => Some(n),
                    None => {
                        return Err(Self::runtime(
                            sr,
                            format!(
                                "The {field}Path field refers to value \"{}\" which is not a valid {kind}: {p}",
                                compact(&v)
                            ),
                        ));
                    }
                }
            }
            Some(Dyn::Jsonata(j)) => {
                let v = Self::eval_field(sr, j, field, jenv)?;
                match (number.from_jsonata)(&v) {
                    Some(n) => Some(n),
                    None => return Err(Self::unexpected_type(sr, &j.src, field, kind, &v)),
                }
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn exec_map(
        &self,
        sr: &StateRun<'_>,
        m: &MapSpec,
        effective: &Value,
        raw: &Value,
        scope: &Scope<'_>,
        prev: &mut u64,
        jenv: Option<&mdlc_jsonata::Environment>,
    ) -> Result<Value, Failure> {
        let st = sr.st;
        let ctx = self.context(sr, None);
        let env = Env {
            ctx: Some(&ctx),
            scope,
        };
        // items
        let items: Vec<Value> = if let Some(reader) = &m.item_reader {
            crate::distributed::read_items(self, sr, reader, effective, &env, jenv).await?
        } else {
            match st.ql {
                Ql::JsonPath => {
                    let v: Cow<'_, Value> = match &m.items_path {
                        Some(p) => p
                            .lookup(effective, &env)
                            .map_err(|e| Self::path_failure(sr, p, e, effective))?,
                        None => Cow::Borrowed(effective),
                    };
                    match v.into_owned() {
                        Value::Array(a) => a,
                        other => {
                            return Err(Self::runtime(
                                sr,
                                format!(
                                    "Map state input must be an array but was: {}",
                                    compact(&other)
                                ),
                            ));
                        }
                    }
                }
                Ql::Jsonata => match &m.items {
                    Some(t) => {
                        let v = match jenv {
                            Some(e) => Self::eval_ja(sr, t, "Items", e)?,
                            None => Value::Null,
                        };
                        match v {
                            Value::Array(a) => a,
                            other => {
                                let src = match t {
                                    Template::Jsonata(j) => j.src.to_string(),
                                    _ => compact(&other),
                                };
                                return Err(Self::unexpected_type(
                                    sr, &src, "Items", "array", &other,
                                ));
                            }
                        }
                    }
                    None => match raw {
                        Value::Array(a) => a.clone(),
                        other => {
                            return Err(Self::query_error(
                                sr,
                                format!(
                                    "Map state input must be an array but was: {}",
                                    compact(other)
                                ),
                            ));
                        }
                    },
                },
            }
        };
        let max_conc = self.dyn_u64(
            sr,
            m.max_concurrency.as_ref(),
            "MaxConcurrency",
            effective,
            &env,
            jenv,
        )?;
        let tol_count = self.dyn_f64(
            sr,
            m.tolerated_count.as_ref(),
            "ToleratedFailureCount",
            true,
            effective,
            &env,
            jenv,
        )?;
        let tol_pct = self.dyn_f64(
            sr,
            m.tolerated_percentage.as_ref(),
            "ToleratedFailurePercentage",
            false,
            effective,
            &env,
            jenv,
        )?;
        if let Some(p) = tol_pct
            && p > 100.0
        {
            return Err(Self::runtime(
                sr,
                format!("ToleratedFailurePercentage must be between 0 and 100, got {p}"),
            ));
        }
        // iteration inputs: the context object is built once and only its `Map` entry changes
        let mut inputs = Vec::with_capacity(items.len());
        if let Some(t) = &m.item_selector {
            let mut base_ctx = self.context(sr, None);
            if let Value::Object(c) = &mut base_ctx {
                c.insert("Map".into(), json!({"Item": {"Index": 0, "Value": null}}));
            }
            for (i, item) in items.iter().enumerate() {
                // only the item's index and value change from one iteration to the next
                if let Some(Value::Object(entry)) = base_ctx.pointer_mut("/Map/Item") {
                    entry.insert("Index".into(), Value::from(i));
                    entry.insert("Value".into(), item.clone());
                }
                let v = match st.ql {
                    Ql::Jsonata => {
                        // JSONata sees $states.input (the Map's input) and $states.context
                        let sv = Self::states_var(raw, Some(&base_ctx), None, None);
                        let e = self.jsonata_env(&sv, scope);
                        Self::eval_ja(sr, t, "ItemSelector", &e)?
                    }
                    Ql::JsonPath => {
                        let env_i = Env {
                            ctx: Some(&base_ctx),
                            scope,
                        };
                        Self::eval_jp(sr, t, effective, &env_i)?
                    }
                };
                inputs.push(v);
            }
        } else {
            inputs.extend(items);
        }
        let inputs = match &m.item_batcher {
            Some(b) => crate::distributed::batch(self, sr, b, inputs, effective, &env, jenv)?,
            None => inputs,
        };
        let total = inputs.len();
        self.event(prev, "MapStateStarted", || json!({"length": total}));
        let limit = match max_conc {
            Some(0) | None => total.max(1),
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX).max(1),
        };
        let base = *prev;
        let state_name = &*st.name;
        let parent = if m.distributed { None } else { Some(scope) };
        let futs = inputs.into_iter().enumerate().map(|(i, input)| {
            let g = &m.processor;
            async move {
                let mut p = base;
                self.event(
                    &mut p,
                    "MapIterationStarted",
                    || json!({"name": state_name, "index": i}),
                );
                let mut child = Scope::child(parent);
                let r = self.run_graph(g, input, &mut child, &mut p).await;
                match &r {
                    Ok(_) => {
                        self.event(
                            &mut p,
                            "MapIterationSucceeded",
                            || json!({"name": state_name, "index": i}),
                        );
                    }
                    Err(_) => {
                        self.event(
                            &mut p,
                            "MapIterationFailed",
                            || json!({"name": state_name, "index": i}),
                        );
                    }
                }
                r
            }
        });
        // Each iteration is polled once right away: one that finishes without waiting costs no
        // scheduling; the others run concurrently, at most `limit` at a time.
        let tolerant = tol_count.is_some() || tol_pct.is_some();
        let mut slots: Vec<Option<Value>> = Vec::with_capacity(total);
        slots.resize_with(total, || None);
        let mut failures = 0usize;
        let mut pending = futures::stream::FuturesUnordered::new();
        let mut futs = futs.enumerate();
        let mut exhausted = false;
        loop {
            let mut done: Vec<(usize, Result<Value, Failure>)> = Vec::new();
            while !exhausted && pending.len() < limit {
                match futs.next() {
                    Some((i, f)) => {
                        let mut f = Box::pin(async move { (i, f.await) });
                        match futures::poll!(f.as_mut()) {
                            std::task::Poll::Ready(r) => {
                                done.push(r);
                                break;
                            }
                            std::task::Poll::Pending => pending.push(f),
                        }
                    }
                    None => exhausted = true,
                }
            }
            if done.is_empty() {
                match pending.next().await {
                    Some(r) => done.push(r),
                    // Nothing running and nothing ready: the loop above stops short of the
                    // limit (at least 1) only when the iterations have run out.
                    None => break,
                }
            }
            for (i, r) in done {
                match r {
                    Ok(v) => {
                        if let Some(slot) = slots.get_mut(i) {
                            *slot = Some(v);
                        }
                    }
                    Err(f) => {
                        if f.terminal {
                            return Err(f);
                        }
                        if !tolerant {
                            self.event(
                                prev,
                                "MapStateFailed",
                                || json!({"error": f.error, "cause": f.cause}),
                            );
                            return Err(f);
                        }
                        failures += 1;
                        let over_count = tol_count.is_some_and(|c| failures as f64 > c);
                        let over_pct = tol_pct.is_some_and(|p| {
                            total > 0 && (failures as f64 * 100.0 / total as f64) > p
                        });
                        // With both set, the Map Run fails when it exceeds either.
                        if over_count || over_pct {
                            let f = Failure::new(
                                "States.ExceedToleratedFailureThreshold",
                                "The specified tolerance threshold was exceeded",
                            );
                            self.event(
                                prev,
                                "MapStateFailed",
                                || json!({"error": f.error, "cause": f.cause}),
                            );
                            return Err(f);
                        }
                        if let Some(slot) = slots.get_mut(i) {
                            *slot = Some(f.output());
                        }
                    }
                }
            }
        }
        drop(pending);
        let results: Vec<Value> = slots
            .into_iter()
            .map(|v| v.unwrap_or(Value::Null))
            .collect();
        self.event(prev, "MapStateSucceeded", || Value::Null);
        let out = Value::Array(results);
        match &m.result_writer {
            Some(w) => {
                crate::distributed::write_results(self, sr, w, out, effective, &env, jenv).await
            }
            None => Ok(out),
        }
    }

    pub(crate) fn options(&self) -> &ExecutionOptions {
        self.opts
    }

    pub(crate) fn fail_runtime(sr: &StateRun<'_>, msg: impl std::fmt::Display) -> Failure {
        Self::runtime(sr, msg)
    }

    pub(crate) fn template_jp(
        sr: &StateRun<'_>,
        t: &Template,
        input: &Value,
        env: &Env<'_>,
    ) -> Result<Value, Failure> {
        Self::eval_jp(sr, t, input, env)
    }

    pub(crate) fn template_ja(
        sr: &StateRun<'_>,
        t: &Template,
        field: &str,
        env: &mdlc_jsonata::Environment,
    ) -> Result<Value, Failure> {
        Self::eval_ja(sr, t, field, env)
    }

    pub(crate) fn uint(
        &self,
        sr: &StateRun<'_>,
        d: Option<&Dyn<u64>>,
        field: &str,
        input: &Value,
        env: &Env<'_>,
        jenv: Option<&mdlc_jsonata::Environment>,
    ) -> Result<Option<u64>, Failure> {
        self.dyn_u64(sr, d, field, input, env, jenv)
    }
}

/// A planned Wait: how long to sleep, and whether the execution times out meanwhile.
pub(crate) struct WaitPlan {
    sleep: Duration,
    times_out: bool,
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

/// A state's output over the payload quota (or nested too deeply) ends the execution, as on
/// AWS: `ExecutionFailed` follows the state's entered event.
fn check_state_output(state: &str, out: &Value) -> Result<(), Failure> {
    match check_payload(out, MAX_PAYLOAD_BYTES) {
        Ok(_) => Ok(()),
        Err(PayloadError::TooLarge { .. }) => Err(Failure::terminal(
            "States.DataLimitExceeded",
            data_limit_cause(state),
        )),
        Err(e @ PayloadError::TooDeep { .. }) => Err(Failure::terminal(
            "States.Runtime",
            format!("The output of the state '{state}' cannot be passed on: {e}."),
        )),
    }
}

/// A state's effective input (after Parameters/Arguments) over the payload quota ends the
/// execution with `States.DataLimitExceeded`.
fn check_state_input(sr: &StateRun<'_>, input: &Value) -> Result<(), Failure> {
    match check_payload(input, MAX_PAYLOAD_BYTES) {
        Ok(_) => Ok(()),
        Err(PayloadError::TooLarge { .. }) => Err(Failure::terminal(
            "States.DataLimitExceeded",
            data_limit_cause(&sr.st.name),
        )),
        Err(e @ PayloadError::TooDeep { .. }) => Err(Failure::terminal(
            "States.Runtime",
            format!(
                "{} The input of the task cannot be passed on: {e}.",
                Run::err_prefix(sr)
            ),
        )),
    }
}

/// A task result over the payload quota is a `States.DataLimitExceeded` task failure (Retry
/// and Catch see it); the cause names a service integration by its resource type and any other
/// resource (a Lambda function, an activity) by its ARN, as AWS does.
fn check_task_result(
    resource: &str,
    resource_type: &str,
    v: Value,
) -> Result<Value, crate::api::TaskFailure> {
    match check_payload(&v, MAX_PAYLOAD_BYTES) {
        Ok(_) => Ok(v),
        Err(PayloadError::TooLarge { .. }) => {
            let who = if resource.starts_with("arn:aws:states:::") {
                resource_type
            } else {
                resource
            };
            Err(crate::api::TaskFailure::new(
                "States.DataLimitExceeded",
                data_limit_cause(who),
            ))
        }
        Err(e @ PayloadError::TooDeep { .. }) => Err(crate::api::TaskFailure::new(
            "States.Runtime",
            format!("The result of the task '{resource}' cannot be passed on: {e}."),
        )),
    }
}

/// When an execution started at `start` times out: after its `TimeoutSeconds`, and at the
/// latest after the one-year maximum execution time of a Standard workflow.
fn execution_deadline(start: DateTime<Utc>, timeout_seconds: Option<u64>) -> DateTime<Utc> {
    let secs = timeout_seconds.map_or(MAX_EXECUTION_SECONDS, |t| t.min(MAX_EXECUTION_SECONDS));
    chrono::TimeDelta::try_seconds(i64::try_from(secs).unwrap_or(i64::MAX))
        .and_then(|d| start.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// What a Task or Parallel reads besides its parameters: the state's effective input (for the
/// `*Path` fields) and the evaluation environments.
struct ActionIo<'a, 'e> {
    input: &'a Value,
    env: &'a Env<'e>,
    jenv: Option<&'a mdlc_jsonata::Environment>,
}

fn as_uint(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                // 2^64 (`u64::MAX as f64` rounds up to it) is the first whole number too large.
                .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < u64::MAX as f64)
                .map(|f| f as u64)
        }),
        _ => None,
    }
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn resource_type(resource: &str) -> String {
    // arn:aws:states:::lambda:invoke -> lambda ; arn:aws:lambda:...:function:x -> lambda
    let parts: Vec<&str> = resource.split(':').collect();
    match parts.get(2) {
        Some(&"states") => parts.get(5).copied().unwrap_or("states").to_string(),
        Some(s) => s.to_string(),
        None => "unknown".to_string(),
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

trait WithInputHint {
    fn with_input_hint(self, input: &Value) -> Self;
}

impl WithInputHint for Failure {
    fn with_input_hint(self, _input: &Value) -> Self {
        self
    }
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

    #[test]
    fn resource_types() {
        assert_eq!(resource_type("arn:aws:states:::lambda:invoke"), "lambda");
        assert_eq!(
            resource_type("arn:aws:lambda:us-east-1:1:function:f"),
            "lambda"
        );
    }
}
