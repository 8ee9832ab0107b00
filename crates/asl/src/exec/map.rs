//! The Map state (inline, and the run of a Distributed Map's iterations): selects its items,
//! runs an iteration per item (or batch) at most `MaxConcurrency` at a time, tolerates failed
//! iterations up to `ToleratedFailureCount`/`ToleratedFailurePercentage`, and returns the
//! results in order. A Distributed Map reads, batches and writes through `crate::distributed`.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde_json::{Value, json};

use super::Run;
use super::eval::{FieldInput, dyn_f64, dyn_u64, eval_ja, eval_jp, states_var};
use super::failure::{Failure, compact, path_failure, query_error, runtime, unexpected_type};
use super::types::{Env, Progress, Scope, StateRun};
use crate::api::{ChildExecution, HistoryEvent, MapRunReport};
use crate::distributed;
use crate::model::{Graph, MapSpec, Ql};
use crate::reader;
use crate::template::Template;

/// How many iterations run at once, and how many may fail.
struct MapLimits {
    max_concurrency: Option<u64>,
    tolerated_count: Option<f64>,
    tolerated_percentage: Option<f64>,
}

impl MapLimits {
    /// `MaxConcurrency`, read before `MapStateStarted` (AWS records none when it fails).
    fn read(sr: &StateRun<'_>, m: &MapSpec, at: &FieldInput<'_, '_>) -> Result<Self, Failure> {
        let max_concurrency = dyn_u64(sr, m.max_concurrency.as_ref(), "MaxConcurrency", at)?;
        Ok(MapLimits {
            max_concurrency,
            tolerated_count: None,
            tolerated_percentage: None,
        })
    }

    /// `ToleratedFailureCount` and `ToleratedFailurePercentage` (0 to 100), read after
    /// `MapStateStarted` (AWS records it before the failure of one of them).
    fn read_tolerance(
        &mut self,
        sr: &StateRun<'_>,
        m: &MapSpec,
        at: &FieldInput<'_, '_>,
    ) -> Result<(), Failure> {
        self.tolerated_count = dyn_f64(
            sr,
            m.tolerated_count.as_ref(),
            "ToleratedFailureCount",
            true,
            at,
        )?;
        self.tolerated_percentage = dyn_f64(
            sr,
            m.tolerated_percentage.as_ref(),
            "ToleratedFailurePercentage",
            false,
            at,
        )?;
        if let Some(p) = self.tolerated_percentage
            && p > 100.0
        {
            return Err(runtime(
                sr,
                format!("ToleratedFailurePercentage must be between 0 and 100, got {p}"),
            ));
        }
        Ok(())
    }

    /// Iterations running at once for `total` of them: all of them without a limit (or with
    /// 0), never fewer than one.
    fn concurrency(&self, total: usize) -> usize {
        match self.max_concurrency {
            Some(0) | None => total.max(1),
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX).max(1),
        }
    }

    fn tolerant(&self) -> bool {
        self.tolerated_count.is_some() || self.tolerated_percentage.is_some()
    }

    /// With both set, the Map Run fails when it exceeds either. Called on a failure, so
    /// `total` is at least 1.
    fn exceeded(&self, failures: usize, total: usize) -> bool {
        let over_count = self.tolerated_count.is_some_and(|c| failures as f64 > c);
        let over_pct = self
            .tolerated_percentage
            .is_some_and(|p| failures as f64 * 100.0 / total.max(1) as f64 > p);
        over_count || over_pct
    }
}

/// The iterations' results so far: one slot per iteration, the failures tolerated, and the
/// latest iteration's closing event.
struct Results {
    slots: Vec<Option<Value>>,
    failures: usize,
    last_end: u64,
}

impl Run<'_> {
    /// A Map state. Its items, `ItemSelector` and `ItemBatcher` come before `MapStateStarted`
    /// (its `length` their count), except a Distributed Map's `ItemReader`, which AWS reads
    /// inside the Map Run: its `MapStateStarted` has `length` 0.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn exec_map(
        &self,
        sr: &StateRun<'_>,
        m: &MapSpec,
        effective: &Value,
        raw: &Value,
        scope: &Scope<'_>,
        prev: &mut u64,
        jenv: Option<&mdlc_jsonata::Environment>,
    ) -> Result<Value, Failure> {
        let ctx = self.context(sr, None);
        let env = Env {
            ctx: Some(&ctx),
            scope,
        };
        let at = FieldInput {
            input: effective,
            env: &env,
            jenv,
        };
        if let (true, Some(reader)) = (m.distributed, &m.item_reader) {
            let mut limits = MapLimits::read(sr, m, &at)?;
            self.event(prev, "MapStateStarted", || json!({"length": 0}));
            let plan = reader::plan_read(self.opts, sr, reader, &at)?;
            limits.read_tolerance(sr, m, &at)?;
            let inputs = async {
                let items = reader::read_items(plan).await?;
                self.map_inputs(sr, m, items, effective, raw, scope, &at)
            };
            return self.distributed(sr, m, inputs, prev, &limits, &at).await;
        }
        let items = self.map_items(sr, m, raw, &at)?;
        let mut limits = MapLimits::read(sr, m, &at)?;
        let inputs = self.map_inputs(sr, m, items, effective, raw, scope, &at)?;
        self.event(prev, "MapStateStarted", || json!({"length": inputs.len()}));
        limits.read_tolerance(sr, m, &at)?;
        if m.distributed {
            let inputs = std::future::ready(Ok(inputs));
            return self.distributed(sr, m, inputs, prev, &limits, &at).await;
        }
        let results = self
            .run_iterations(sr, m, inputs, Some(scope), prev, &limits)
            .await?;
        Ok(Value::Array(results))
    }

    /// Each iteration's input: the selected items, batched by the `ItemBatcher` if any.
    #[allow(clippy::too_many_arguments)]
    fn map_inputs(
        &self,
        sr: &StateRun<'_>,
        m: &MapSpec,
        items: Vec<Value>,
        effective: &Value,
        raw: &Value,
        scope: &Scope<'_>,
        at: &FieldInput<'_, '_>,
    ) -> Result<Vec<Value>, Failure> {
        let inputs = match &m.item_selector {
            Some(t) => self.select_items(sr, t, items, effective, raw, scope)?,
            None => items,
        };
        match &m.item_batcher {
            Some(b) => distributed::batch(sr, b, inputs, at),
            None => Ok(inputs),
        }
    }

    /// A Distributed Map: its Map Run over `inputs` (a failure to produce them is the run's),
    /// then its results as its `ResultWriter` says.
    async fn distributed(
        &self,
        sr: &StateRun<'_>,
        m: &MapSpec,
        inputs: impl Future<Output = Result<Vec<Value>, Failure>>,
        prev: &mut u64,
        limits: &MapLimits,
        at: &FieldInput<'_, '_>,
    ) -> Result<Value, Failure> {
        let run = distributed::MapRun::new(self.opts, sr);
        let results = self.run_map_run(m, inputs, &run, prev, limits).await?;
        let out = Value::Array(results);
        match &m.result_writer {
            Some(w) => distributed::write_results(self.opts, sr, w, out, &run, at).await,
            None => Ok(out),
        }
    }

    /// A Distributed Map's Map Run: `MapRunStarted` (its ARN), its inputs, and
    /// `MapRunSucceeded` or `MapRunFailed` in this history; the iterations run as child
    /// executions, each with a history of its own (reported with the run to the observer,
    /// [`MapRunReport`]), seeing no variables of the parent.
    async fn run_map_run(
        &self,
        m: &MapSpec,
        inputs: impl Future<Output = Result<Vec<Value>, Failure>>,
        run: &distributed::MapRun,
        prev: &mut u64,
        limits: &MapLimits,
    ) -> Result<Vec<Value>, Failure> {
        let started = self.event(prev, "MapRunStarted", || json!({"mapRunArn": run.arn()}));
        let (inputs, unread) = match inputs.await {
            Ok(inputs) => (inputs, None),
            Err(f) => (Vec::new(), Some(f)),
        };
        let tracker = MapRunTracker::new(self, m, &inputs, run, limits);
        tracker.report(self, None);
        let r = match unread {
            Some(f) => Err(f),
            None => self.run_children(m, inputs, run, limits, &tracker).await,
        };
        *prev = started;
        let status = match &r {
            Ok(_) => "SUCCEEDED",
            Err(_) => "FAILED",
        };
        tracker.report(self, Some(status));
        match r {
            Ok(results) => {
                self.event(prev, "MapRunSucceeded", || Value::Null);
                let mut p = *prev;
                self.event(&mut p, "MapStateSucceeded", || Value::Null);
                Ok(results)
            }
            Err(f) if f.terminal => Err(f),
            Err(mut f) => {
                self.event(
                    prev,
                    "MapRunFailed",
                    || json!({"error": f.error, "cause": f.cause}),
                );
                f.closing = Some("MapStateFailed");
                Err(f)
            }
        }
    }

    /// The child executions of a Map Run, at most the concurrency limit at a time: each its own
    /// run (its own history, transitions and history limit; the parent's context object, clock
    /// and deadline), its record kept by `tracker`. The results in order, or the failure that
    /// ends the run (tolerance as for an inline Map).
    async fn run_children(
        &self,
        m: &MapSpec,
        inputs: Vec<Value>,
        run: &distributed::MapRun,
        limits: &MapLimits,
        tracker: &MapRunTracker,
    ) -> Result<Vec<Value>, Failure> {
        let total = inputs.len();
        let mut opts = self.opts.clone();
        opts.observer = None;
        opts.record_history = tracker.histories;
        let opts = &opts;
        let children = inputs.into_iter().enumerate().map(|(i, input)| async move {
            let name = uuid::Uuid::new_v4().to_string();
            let arn = run.child_execution_arn(&name);
            let items = match (&m.item_batcher, &input) {
                (Some(_), Value::Object(o)) => o
                    .get("Items")
                    .and_then(Value::as_array)
                    .map_or(0, |a| a.len() as u64),
                _ => 1,
            };
            tracker.start(ChildExecution {
                execution_arn: arn,
                name,
                index: i as u64,
                items,
                status: "RUNNING".into(),
                input: input.clone(),
                output: None,
                error: None,
                cause: None,
                start_date: self.opts.clock.now(),
                stop_date: None,
                history: Vec::new(),
            });
            let mut child = self.child_executions();
            child.opts = opts;
            child.recording = tracker.histories;
            let (result, history) = child.child_execution(&m.processor, input).await;
            tracker.finish(i, &result, history, self.opts.clock.now());
            let it = Iteration {
                result,
                end: 0,
                inner_last: 0,
            };
            (i, it)
        });
        let mut child_prev = 0;
        let results = self.drive(children, total, limits, &mut child_prev).await?;
        Ok(results
            .slots
            .into_iter()
            .map(|v| v.unwrap_or(Value::Null))
            .collect())
    }

    /// One child execution: `ExecutionStarted`, the item processor, `ExecutionSucceeded`,
    /// `ExecutionFailed` or `ExecutionTimedOut`; its result and history.
    async fn child_execution(
        self,
        g: &Graph,
        input: Value,
    ) -> (Result<Value, Failure>, Vec<HistoryEvent>) {
        let mut started = 0;
        self.event(
            &mut started,
            "ExecutionStarted",
            || json!({"input": input.clone(), "roleArn": self.opts.execution_role_arn()}),
        );
        let mut scope = Scope::child(None);
        let mut prev = 0;
        let r = self.run_graph(g, input, &mut scope, &mut prev).await;
        if prev == 0 {
            prev = started;
        }
        match &r {
            Ok(out) => {
                self.event(&mut prev, "ExecutionSucceeded", || json!({"output": out}));
            }
            Err(f) => {
                let timed_out = f.terminal && f.error.as_deref() == Some("States.Timeout");
                let ty = if timed_out {
                    "ExecutionTimedOut"
                } else {
                    "ExecutionFailed"
                };
                self.event(
                    &mut prev,
                    ty,
                    || json!({"error": f.error, "cause": f.cause}),
                );
            }
        }
        let history = self.events.into_inner().unwrap_or_else(|e| e.into_inner());
        (r, history)
    }

    /// The items of a Map without an `ItemReader`: the `ItemsPath` of the effective input
    /// (JSONPath) or `Items` (JSONata, the raw input without it).
    fn map_items(
        &self,
        sr: &StateRun<'_>,
        m: &MapSpec,
        raw: &Value,
        at: &FieldInput<'_, '_>,
    ) -> Result<Vec<Value>, Failure> {
        match sr.st.ql {
            Ql::JsonPath => items_at_path(sr, m, at),
            Ql::Jsonata => items_of_jsonata(sr, m.items.as_ref(), raw, at.jenv),
        }
    }

    /// The `ItemSelector` `t` of each item, evaluated with the item in the context object
    /// (`$$.Map.Item`).
    fn select_items(
        &self,
        sr: &StateRun<'_>,
        t: &Template,
        items: Vec<Value>,
        effective: &Value,
        raw: &Value,
        scope: &Scope<'_>,
    ) -> Result<Vec<Value>, Failure> {
        // the context object is built once and only its `Map` entry changes
        let mut ctx = self.context(sr, None);
        if let Value::Object(c) = &mut ctx {
            c.insert("Map".into(), json!({"Item": {"Index": 0, "Value": null}}));
        }
        let mut inputs = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            // Set in place: no `pointer_mut` (a String per segment) and no new keys per item.
            if let Some(Value::Object(entry)) = ctx.get_mut("Map").and_then(|m| m.get_mut("Item")) {
                for (k, v) in entry.iter_mut() {
                    match k.as_str() {
                        "Index" => *v = Value::from(i),
                        "Value" => *v = item.clone(),
                        _ => {}
                    }
                }
            }
            inputs.push(self.select_item(sr, t, &ctx, effective, raw, scope)?);
        }
        Ok(inputs)
    }

    /// One `ItemSelector`: JSONata sees `$states.input` (the Map's input) and
    /// `$states.context`; JSONPath the effective input and `$$`.
    fn select_item(
        &self,
        sr: &StateRun<'_>,
        t: &Template,
        ctx: &Value,
        effective: &Value,
        raw: &Value,
        scope: &Scope<'_>,
    ) -> Result<Value, Failure> {
        match sr.st.ql {
            Ql::Jsonata => {
                let e = self.jsonata_env(&states_var(raw, Some(ctx), None, None), scope);
                eval_ja(sr, t, "ItemSelector", &e)
            }
            Ql::JsonPath => {
                let env = Env {
                    ctx: Some(ctx),
                    scope,
                };
                eval_jp(sr, t, effective, &env)
            }
        }
    }

    /// Runs the iterations ([`Run::drive`]). The results in order (a tolerated failure as its
    /// error output), or the failure that ends the Map.
    ///
    /// History, as AWS records it: iteration k's `MapIterationStarted` points to the last event
    /// inside the iteration before it (the first to `MapStateStarted`, which `prev` names);
    /// `MapIterationSucceeded`/`MapIterationFailed` are no one's predecessor;
    /// `MapStateSucceeded` points to the last of them and `MapStateExited` to what it points to;
    /// after a failure, what follows points to the failed iteration's last event.
    async fn run_iterations(
        &self,
        sr: &StateRun<'_>,
        m: &MapSpec,
        inputs: Vec<Value>,
        parent: Option<&Scope<'_>>,
        prev: &mut u64,
        limits: &MapLimits,
    ) -> Result<Vec<Value>, Failure> {
        let total = inputs.len();
        let chain = AtomicU64::new(*prev);
        let name = &*sr.st.name;
        let chain_ref = &chain;
        let progress: Vec<Progress> = (0..total).map(|_| Progress::default()).collect();
        let progress_ref = &progress;
        let iterations = inputs.into_iter().enumerate().map(|(i, input)| async move {
            let at = Place {
                index: i,
                parent,
                progress: progress_ref.get(i),
            };
            let r = self
                .iteration(name, &m.processor, at, input, chain_ref)
                .await;
            (i, r)
        });
        let results = match self.drive(iterations, total, limits, prev).await {
            Ok(results) => results,
            Err(f) => {
                if !f.terminal {
                    self.abort_iterations(name, &progress, *prev);
                }
                return Err(f);
            }
        };
        let mut p = results.last_end;
        *prev = p;
        self.event(&mut p, "MapStateSucceeded", || Value::Null);
        Ok(results
            .slots
            .into_iter()
            .map(|v| v.unwrap_or(Value::Null))
            .collect())
    }

    /// Runs `total` iterations, at most the concurrency limit at a time; each is polled once
    /// as it starts, so one that finishes without waiting costs no scheduling. The results so
    /// far, or the failure that ends the Map ([`Run::settle`]).
    async fn drive<F>(
        &self,
        mut iterations: impl Iterator<Item = F>,
        total: usize,
        limits: &MapLimits,
        prev: &mut u64,
    ) -> Result<Results, Failure>
    where
        F: Future<Output = (usize, Iteration)>,
    {
        let limit = limits.concurrency(total);
        let mut results = Results {
            slots: vec![None; total],
            failures: 0,
            last_end: *prev,
        };
        let mut pending = FuturesUnordered::new();
        loop {
            let (i, r) = match start(&mut iterations, &mut pending, limit).await {
                Some(done) => done,
                None => match pending.next().await {
                    Some(done) => done,
                    // nothing running and nothing ready: the iterations have run out
                    None => break,
                },
            };
            self.settle(&mut results, i, r, total, limits, prev)?;
        }
        Ok(results)
    }

    /// The iterations a failure ended while they ran: each `MapIterationAborted`, then the
    /// aborted event of the state it was in, all pointing to the failure (`at`), in index order.
    fn abort_iterations(&self, name: &str, progress: &[Progress], at: u64) {
        for (i, p) in progress.iter().enumerate() {
            let Some(aborted) = p.aborted_event() else {
                continue;
            };
            self.event_after(
                at,
                "MapIterationAborted",
                || json!({"name": name, "index": i}),
            );
            if let Some(ty) = aborted {
                self.event_after(at, ty, || Value::Null);
            }
        }
    }

    /// One iteration: the item processor run on `input` in a scope of its own (below the
    /// Map's for an inline Map; a Distributed Map's child executions see no outer variables).
    /// Its result, the id of its closing event and the last event inside it.
    async fn iteration(
        &self,
        name: &str,
        g: &Graph,
        at: Place<'_, '_>,
        input: Value,
        chain: &AtomicU64,
    ) -> Iteration {
        let i = at.index;
        let mut p = chain.load(Ordering::Relaxed);
        self.event(
            &mut p,
            "MapIterationStarted",
            || json!({"name": name, "index": i}),
        );
        let mut child = match (at.parent, at.progress) {
            (Some(parent), Some(progress)) => {
                progress.started();
                Scope::tracked(parent, progress)
            }
            (parent, _) => Scope::child(parent),
        };
        let r = self.run_graph(g, input, &mut child, &mut p).await;
        chain.store(p, Ordering::Relaxed);
        let ty = if r.is_ok() {
            "MapIterationSucceeded"
        } else {
            "MapIterationFailed"
        };
        let inner_last = p;
        let end = self.event(&mut p, ty, || json!({"name": name, "index": i}));
        if let Some(progress) = at.progress {
            // the state the failure happened in, entered and never exited: aborted after the
            // iteration's failure, pointing to the event that failed it
            if let (Err(f), Some(Some(aborted))) = (&r, progress.aborted_event())
                && !f.terminal
            {
                self.event_after(inner_last, aborted, || Value::Null);
            }
            progress.finished();
        }
        Iteration {
            result: r,
            end,
            inner_last,
        }
    }

    /// Records iteration `i`'s result; a failure ends the Map when it is terminal, when no
    /// failure is tolerated, or when it exceeds the tolerance (then `prev` names the failed
    /// iteration's last event, and the failure closes the Map with `MapStateFailed`).
    fn settle(
        &self,
        results: &mut Results,
        i: usize,
        it: Iteration,
        total: usize,
        limits: &MapLimits,
        prev: &mut u64,
    ) -> Result<(), Failure> {
        results.last_end = results.last_end.max(it.end);
        let map_failed = |mut f: Failure, prev: &mut u64| {
            *prev = it.inner_last;
            f.closing = Some("MapStateFailed");
            f
        };
        let value = match it.result {
            Ok(v) => v,
            Err(f) if f.terminal => return Err(f),
            Err(f) if !limits.tolerant() => return Err(map_failed(f, prev)),
            Err(f) => {
                results.failures += 1;
                if limits.exceeded(results.failures, total) {
                    let f = Failure::new(
                        "States.ExceedToleratedFailureThreshold",
                        "The specified tolerance threshold was exceeded",
                    );
                    return Err(map_failed(f, prev));
                }
                f.output()
            }
        };
        if let Some(slot) = results.slots.get_mut(i) {
            *slot = Some(value);
        }
        Ok(())
    }
}

/// Where an iteration runs: its index, the scope it sits below (an inline Map's) and where it
/// reports its progress.
struct Place<'s, 'p> {
    index: usize,
    parent: Option<&'s Scope<'p>>,
    progress: Option<&'s Progress>,
}

/// What one iteration left: its result, the id of its `MapIteration{Succeeded,Failed}` event
/// and the id of the last event inside it.
struct Iteration {
    result: Result<Value, Failure>,
    end: u64,
    inner_last: u64,
}

/// Starts iterations until `limit` run; an iteration that finishes at its first poll is
/// returned at once (none is started after it).
async fn start<I, F, T>(
    iterations: &mut I,
    pending: &mut FuturesUnordered<Pin<Box<F>>>,
    limit: usize,
) -> Option<T>
where
    I: Iterator<Item = F>,
    F: Future<Output = T>,
{
    while pending.len() < limit {
        let mut f = Box::pin(iterations.next()?);
        match futures::poll!(f.as_mut()) {
            Poll::Ready(r) => return Some(r),
            Poll::Pending => pending.push(f),
        }
    }
    None
}

/// The `ItemsPath` of the effective input (the whole of it without one): an array.
fn items_at_path(
    sr: &StateRun<'_>,
    m: &MapSpec,
    at: &FieldInput<'_, '_>,
) -> Result<Vec<Value>, Failure> {
    let v: Cow<'_, Value> = match &m.items_path {
        Some(p) => p
            .lookup(at.input, at.env)
            .map_err(|e| path_failure(sr, p, e))?,
        None => Cow::Borrowed(at.input),
    };
    match v.into_owned() {
        Value::Array(a) => Ok(a),
        other => Err(runtime(
            sr,
            format!(
                "Map state input must be an array but was: {}",
                compact(&other)
            ),
        )),
    }
}

/// JSONata `Items` (the raw input without it): an array.
fn items_of_jsonata(
    sr: &StateRun<'_>,
    items: Option<&Template>,
    raw: &Value,
    jenv: Option<&mdlc_jsonata::Environment>,
) -> Result<Vec<Value>, Failure> {
    let Some(t) = items else {
        return match raw {
            Value::Array(a) => Ok(a.clone()),
            other => Err(query_error(
                sr,
                format!(
                    "Map state input must be an array but was: {}",
                    compact(other)
                ),
            )),
        };
    };
    let v = match jenv {
        Some(e) => eval_ja(sr, t, "Items", e)?,
        None => Value::Null,
    };
    match v {
        Value::Array(a) => Ok(a),
        other => {
            let src = match t {
                Template::Jsonata(j) => j.src.to_string(),
                _ => compact(&other),
            };
            Err(unexpected_type(sr, &src, "Items", "array", &other))
        }
    }
}

/// A Map Run's record while it runs: its children as they start and end, reported to the
/// observer when the run starts and when it ends.
struct MapRunTracker {
    report: Mutex<MapRunReport>,
    /// Whether the children keep their histories (there is an observer to report them to).
    histories: bool,
}

impl MapRunTracker {
    fn new(
        parent: &Run<'_>,
        m: &MapSpec,
        inputs: &[Value],
        run: &distributed::MapRun,
        limits: &MapLimits,
    ) -> Self {
        let total_items = match &m.item_batcher {
            Some(_) => inputs
                .iter()
                .map(|b| {
                    b.get("Items")
                        .and_then(Value::as_array)
                        .map_or(0, |a| a.len() as u64)
                })
                .sum(),
            None => inputs.len() as u64,
        };
        MapRunTracker {
            report: Mutex::new(MapRunReport {
                map_run_arn: run.arn().to_string(),
                execution_arn: parent.exec_arn.clone(),
                state_machine_arn: run.child_machine_arn(),
                status: "RUNNING".into(),
                start_date: parent.opts.clock.now(),
                stop_date: None,
                max_concurrency: limits.max_concurrency.unwrap_or(0),
                tolerated_failure_percentage: limits.tolerated_percentage.unwrap_or(0.0),
                tolerated_failure_count: limits.tolerated_count.map_or(0, |c| c.max(0.0) as u64),
                total_items,
                total_executions: inputs.len() as u64,
                children: Vec::new(),
            }),
            histories: parent.opts.observer.is_some(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MapRunReport> {
        self.report.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn start(&self, child: ChildExecution) {
        self.lock().children.push(child);
    }

    /// Records child `i`'s end.
    fn finish(
        &self,
        i: usize,
        result: &Result<Value, Failure>,
        history: Vec<HistoryEvent>,
        at: chrono::DateTime<chrono::Utc>,
    ) {
        let mut r = self.lock();
        let Some(c) = r.children.iter_mut().find(|c| c.index == i as u64) else {
            return;
        };
        match result {
            Ok(out) => {
                c.status = "SUCCEEDED".into();
                c.output = Some(out.clone());
            }
            Err(f) => {
                let timed_out = f.terminal && f.error.as_deref() == Some("States.Timeout");
                c.status = if timed_out { "TIMED_OUT" } else { "FAILED" }.into();
                c.error.clone_from(&f.error);
                c.cause.clone_from(&f.cause);
            }
        }
        c.stop_date = Some(at);
        c.history = history;
    }

    /// Reports the run to the observer: as it starts (`None`) or as it ends with `status`
    /// (children still running then are ABORTED: the run no longer waits for them).
    fn report(&self, run: &Run<'_>, status: Option<&str>) {
        let Some(o) = &run.opts.observer else {
            return;
        };
        let now = run.opts.clock.now();
        let mut r = self.lock();
        if let Some(s) = status {
            r.status = s.to_string();
            r.stop_date = Some(now);
            for c in r.children.iter_mut().filter(|c| c.status == "RUNNING") {
                c.status = "ABORTED".into();
                c.stop_date = Some(now);
            }
            r.children.sort_by_key(|c| c.index);
        }
        o.on_map_run(&r);
    }
}
