//! The server's state: its state machines and executions (in memory, persisted through
//! [`Store`]), the task tokens, and the running executions — each a Tokio task, at most
//! `max_concurrent` at once, its history recorded live through an [`ExecutionObserver`].

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use chrono::{DateTime, Utc};
use mdlc_asl::mock::MockConfig;
use mdlc_asl::{
    Clock, Execution, ExecutionObserver, ExecutionOptions, HistoryEvent, ItemStore, MapRunReport,
    StateMachine, TaskInvoker,
};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, oneshot};

use crate::api_models::ApiModels;
use crate::callback::Tokens;
use crate::store::{ExecutionRecord, MachineRecord, MapRunRecord, Store, StoreError};

/// The default of `--max-concurrent`: executions running at once (more wait for a slot, RUNNING).
pub const DEFAULT_MAX_CONCURRENT: usize = 64;

/// The error and cause of an execution that was RUNNING when the server stopped.
pub const SERVER_STOPPED_ERROR: &str = "States.Runtime";
pub const SERVER_STOPPED_CAUSE: &str = "The mdlc serve process stopped while this execution was running; executions are not resumed after a restart.";

/// How the server runs executions.
#[derive(Clone)]
pub struct ServeConfig {
    /// The state directory; the server keeps its files in `<state dir>/serve`.
    pub state_dir: PathBuf,
    /// Runs the Task states (the local cloud's invoker in `mdlc serve`).
    pub invoker: Arc<dyn TaskInvoker>,
    /// A distributed Map's ItemReader/ResultWriter store, if any.
    pub item_store: Option<Arc<dyn ItemStore>>,
    /// The MockConfigFile of `<arn>#<TestCase>` executions.
    pub mock: Option<MockConfig>,
    /// Wait states and retry back-off take real time (default: virtual time).
    pub real_time: bool,
    /// Executions running at once.
    pub max_concurrent: usize,
    /// botocore's API models, against which TestState checks a mocked result
    /// (`mock.fieldValidationMode`); `None`: mocked results are not checked.
    pub api_models: Option<Arc<ApiModels>>,
    /// The HTTP Tasks (`arn:aws:states:::http:invoke`) TestState runs itself, so that its TRACE
    /// level shows their request and response (the local cloud's, with its connections); `None`:
    /// TestState runs an HTTP Task on `invoker`, without them.
    pub http_tasks: Option<Arc<mdlc_local::http_task::HttpTasks>>,
}

/// Epoch seconds (millisecond precision) of a time.
pub fn epoch(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// Now, in epoch seconds.
pub fn now() -> f64 {
    epoch(Utc::now())
}

/// One execution: its record, and while it runs, its clock and the way to stop it.
struct Entry {
    record: ExecutionRecord,
    clock: Option<Arc<dyn Clock>>,
    stop: Option<oneshot::Sender<()>>,
}

#[derive(Default)]
struct State {
    /// By name.
    machines: BTreeMap<String, MachineRecord>,
    /// By ARN.
    executions: HashMap<String, Entry>,
    /// The execution that holds a Map Run or a child execution, by the ARN of the run or child.
    held_by: HashMap<String, String>,
    next_seq: u64,
}

impl State {
    /// Indexes the Map Runs and child executions of `r`.
    fn index(&mut self, r: &ExecutionRecord) {
        for run in &r.map_runs {
            self.held_by
                .insert(run.map_run_arn.clone(), r.execution_arn.clone());
            for c in &run.children {
                self.held_by
                    .insert(c.execution_arn.clone(), r.execution_arn.clone());
            }
        }
    }

    /// The Map Run `arn`.
    fn map_run(&self, arn: &str) -> Option<&MapRunRecord> {
        let parent = self.executions.get(self.held_by.get(arn)?)?;
        parent.record.map_runs.iter().find(|m| m.map_run_arn == arn)
    }
}

/// The server.
pub struct App {
    pub(crate) config: ServeConfig,
    store: Store,
    state: Mutex<State>,
    pub(crate) tokens: Arc<Tokens>,
    slots: Arc<Semaphore>,
    me: Weak<App>,
}

/// What a new execution runs.
pub struct Launch {
    pub record: ExecutionRecord,
    pub machine: StateMachine,
    pub input: Value,
    pub invoker: Arc<dyn TaskInvoker>,
    pub clock: Arc<dyn Clock>,
    /// Whether it waits for one of the `max_concurrent` slots. A child whose parent's Task waits
    /// for it (`startExecution.sync`, `.sync:2`, `.waitForTaskToken`) does not: its parent holds
    /// a slot already, and waiting for another could wait forever.
    pub bounded: bool,
}

impl App {
    /// Opens the state directory: every state machine and execution stored there is loaded; an
    /// execution that was RUNNING when the server stopped is FAILED now (see
    /// [`SERVER_STOPPED_CAUSE`]).
    pub fn open(config: ServeConfig) -> Result<Arc<App>, StoreError> {
        let store = Store::new(&config.state_dir);
        let mut state = State::default();
        for m in store.load_machines()? {
            state.machines.insert(m.name.clone(), m);
        }
        for mut r in store.load_executions()? {
            if r.is_running() {
                fail_interrupted(&mut r);
                store.save_execution(&r)?;
            }
            state.next_seq = state.next_seq.max(r.seq + 1);
            state.index(&r);
            state.executions.insert(
                r.execution_arn.clone(),
                Entry {
                    record: r,
                    clock: None,
                    stop: None,
                },
            );
        }
        let slots = Arc::new(Semaphore::new(config.max_concurrent.max(1)));
        Ok(Arc::new_cyclic(|me| App {
            config,
            store,
            state: Mutex::new(state),
            tokens: Arc::new(Tokens::default()),
            slots,
            me: me.clone(),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A weak reference to this server (for the invokers of its executions).
    pub(crate) fn weak(&self) -> Weak<App> {
        self.me.clone()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    // ---- state machines

    pub fn machine(&self, name: &str) -> Option<MachineRecord> {
        self.lock().machines.get(name).cloned()
    }

    /// Every state machine, by name.
    pub fn machines(&self) -> Vec<MachineRecord> {
        self.lock().machines.values().cloned().collect()
    }

    /// Stores (creates or replaces) a state machine.
    pub fn put_machine(&self, m: MachineRecord) -> Result<(), StoreError> {
        self.store.save_machine(&m)?;
        self.lock().machines.insert(m.name.clone(), m);
        Ok(())
    }

    /// Inserts `m` unless a machine of its name exists; returns the existing one otherwise.
    pub fn insert_machine(&self, m: MachineRecord) -> Result<Option<MachineRecord>, StoreError> {
        let mut state = self.lock();
        if let Some(existing) = state.machines.get(&m.name) {
            return Ok(Some(existing.clone()));
        }
        self.store.save_machine(&m)?;
        state.machines.insert(m.name.clone(), m);
        Ok(None)
    }

    /// Deletes a state machine; its running executions are stopped (ABORTED).
    pub fn delete_machine(&self, name: &str) -> Result<(), StoreError> {
        let Some(m) = self.lock().machines.remove(name) else {
            return Ok(());
        };
        self.store.delete_machine(name)?;
        let running: Vec<String> = self
            .lock()
            .executions
            .values()
            .filter(|e| e.record.is_running() && e.record.state_machine_arn == m.state_machine_arn)
            .map(|e| e.record.execution_arn.clone())
            .collect();
        for arn in running {
            self.stop(&arn, None, None)?;
        }
        Ok(())
    }

    // ---- executions

    /// An execution, or a child execution of a Map Run.
    pub fn execution(&self, arn: &str) -> Option<ExecutionRecord> {
        let s = self.lock();
        if let Some(e) = s.executions.get(arn) {
            return Some(e.record.clone());
        }
        let parent = s.executions.get(s.held_by.get(arn)?)?;
        parent
            .record
            .map_runs
            .iter()
            .flat_map(|m| &m.children)
            .find(|c| c.execution_arn == arn)
            .cloned()
    }

    /// The Map Run `arn`.
    pub fn map_run(&self, arn: &str) -> Option<MapRunRecord> {
        self.lock().map_run(arn).cloned()
    }

    /// `f` of the Map Run `arn`, under the lock.
    pub fn with_map_run<T>(&self, arn: &str, f: impl FnOnce(&MapRunRecord) -> T) -> Option<T> {
        self.lock().map_run(arn).map(f)
    }

    /// Whether execution `arn` is RUNNING. [`Tokens`] asks it under its own lock (so this
    /// server's lock is taken after the tokens' one, never the other way round).
    pub fn is_running(&self, arn: &str) -> bool {
        self.lock()
            .executions
            .get(arn)
            .is_some_and(|e| e.record.is_running())
    }

    /// The executions of a state machine, newest first.
    pub fn executions_of(&self, machine_arn: &str) -> Vec<ExecutionRecord> {
        let mut v: Vec<ExecutionRecord> = self
            .lock()
            .executions
            .values()
            .filter(|e| e.record.state_machine_arn == machine_arn)
            .map(|e| e.record.clone())
            .collect();
        v.sort_by_key(|r| std::cmp::Reverse(r.seq));
        v
    }

    /// `f` of every execution, newest first (the dashboard's list), under one lock.
    pub fn map_executions<T>(&self, f: impl Fn(&ExecutionRecord) -> T) -> Vec<T> {
        let s = self.lock();
        let mut v: Vec<(u64, T)> = s
            .executions
            .values()
            .map(|e| (e.record.seq, f(&e.record)))
            .collect();
        v.sort_by_key(|(seq, _)| std::cmp::Reverse(*seq));
        v.into_iter().map(|(_, t)| t).collect()
    }

    /// The next start sequence number.
    pub fn next_seq(&self) -> u64 {
        let mut s = self.lock();
        let n = s.next_seq;
        s.next_seq += 1;
        n
    }

    /// Registers a new execution unless its ARN is taken; `Err(existing)` otherwise.
    pub fn reserve(&self, record: &ExecutionRecord) -> Result<(), Box<ExecutionRecord>> {
        let mut s = self.lock();
        if let Some(e) = s.executions.get(&record.execution_arn) {
            return Err(Box::new(e.record.clone()));
        }
        s.executions.insert(
            record.execution_arn.clone(),
            Entry {
                record: record.clone(),
                clock: None,
                stop: None,
            },
        );
        Ok(())
    }

    /// Starts a reserved execution as a Tokio task; the handle ends when the execution does.
    pub fn launch(&self, launch: Launch) -> Result<tokio::task::JoinHandle<()>, StoreError> {
        let arn = launch.record.execution_arn.clone();
        let (stop_tx, stop_rx) = oneshot::channel();
        {
            let mut s = self.lock();
            if let Some(e) = s.executions.get_mut(&arn) {
                e.clock = Some(launch.clock.clone());
                e.stop = Some(stop_tx);
            }
        }
        if let Err(e) = self.store.save_execution(&launch.record) {
            self.lock().executions.remove(&arn);
            return Err(e);
        }
        let me = self.me.clone();
        let options = ExecutionOptions {
            invoker: launch.invoker,
            clock: launch.clock,
            state_machine_name: launch.record.machine.name.clone(),
            execution_name: launch.record.name.clone(),
            record_history: false,
            observer: Some(Arc::new(Recorder {
                app: me.clone(),
                arn: arn.clone(),
            })),
            item_store: self.config.item_store.clone(),
            region: mdlc_local::substitute::LOCAL_REGION.to_string(),
            account: mdlc_local::substitute::LOCAL_ACCOUNT.to_string(),
            max_transitions: None,
            role_arn: Some(launch.record.machine.role_arn.clone()),
            context_object: None,
        };
        let slots = self.slots.clone();
        let machine = launch.machine;
        let input = launch.input;
        let bounded = launch.bounded;
        Ok(tokio::spawn(async move {
            let run = async {
                let _slot = if bounded {
                    match slots.acquire_owned().await {
                        Ok(slot) => Some(slot),
                        Err(_) => return None,
                    }
                } else {
                    None
                };
                Some(machine.execute(input, options).await)
            };
            tokio::select! {
                Some(execution) = run => {
                    if let Some(app) = me.upgrade() {
                        app.finish(&arn, execution);
                    }
                }
                Ok(()) = stop_rx => {}
            }
        }))
    }

    /// Records the end of an execution (unless it was stopped meanwhile).
    fn finish(&self, arn: &str, execution: Execution) {
        let record = {
            let mut s = self.lock();
            let Some(e) = s.executions.get_mut(arn) else {
                return;
            };
            if !e.record.is_running() {
                return;
            }
            let stop = e.clock.as_ref().map(|c| epoch(c.now())).unwrap_or_else(now);
            let r = &mut e.record;
            r.status = execution.status.as_str().to_string();
            r.output = (execution.status == mdlc_asl::ExecutionStatus::Succeeded)
                .then(|| execution.output.unwrap_or(Value::Null).to_string());
            r.error = execution.error;
            r.cause = execution.cause;
            r.stop_date = Some(stop);
            e.stop = None;
            e.clock = None;
            e.record.clone()
        };
        if let Err(e) = self.store.save_execution(&record) {
            tracing::error!(target: "mdlc::serve", "{e}");
        }
    }

    /// StopExecution: a RUNNING execution is ABORTED now (an ExecutionAborted event ends its
    /// history); returns the stop date. A finished execution keeps its status and stop date.
    /// Its task ends asynchronously, but its task tokens are closed from now on: an answer
    /// finds the execution not running ([`Tokens::answer`]).
    pub fn stop(
        &self,
        arn: &str,
        error: Option<&str>,
        cause: Option<&str>,
    ) -> Result<Option<f64>, StoreError> {
        let (record, stop) = {
            let mut s = self.lock();
            let Some(e) = s.executions.get_mut(arn) else {
                return Ok(None);
            };
            if !e.record.is_running() {
                return Ok(e.record.stop_date);
            }
            let clock_now = e.clock.as_ref().map(|c| c.now()).unwrap_or_else(Utc::now);
            let mut details = serde_json::Map::new();
            if let Some(er) = error {
                details.insert("error".into(), json!(er));
            }
            if let Some(c) = cause {
                details.insert("cause".into(), json!(c));
            }
            push_final_event(
                &mut e.record,
                "ExecutionAborted",
                clock_now,
                Value::Object(details),
            );
            let r = &mut e.record;
            for run in r.map_runs.iter_mut().filter(|m| m.status == "RUNNING") {
                run.status = "ABORTED".into();
                run.stop_date = Some(epoch(clock_now));
            }
            r.status = "ABORTED".into();
            r.error = error.map(str::to_string);
            r.cause = cause.map(str::to_string);
            r.stop_date = Some(epoch(clock_now));
            e.clock = None;
            (e.record.clone(), e.stop.take())
        };
        if let Some(tx) = stop {
            let _ = tx.send(());
        }
        self.store.save_execution(&record)?;
        Ok(record.stop_date)
    }

    fn on_event(&self, arn: &str, event: &HistoryEvent) {
        let mut s = self.lock();
        let Some(e) = s.executions.get_mut(arn) else {
            return;
        };
        if !e.record.is_running() {
            return;
        }
        let h = &mut e.record.history;
        let sorted = h.last().is_none_or(|last| last.id < event.id);
        h.push(event.clone());
        if !sorted {
            h.sort_by_key(|x| x.id);
        }
        // under the lock: the end of the execution (which removes the log) cannot interleave
        if let Err(err) = self.store.append_event(&e.record, event) {
            tracing::error!(target: "mdlc::serve", "{err}");
        }
    }
}

impl App {
    /// Keeps a Map Run's report in the record of the execution that started it (replacing
    /// the report of its start); it is written with that record.
    fn on_map_run(&self, arn: &str, report: &MapRunReport) {
        let mut s = self.lock();
        let Some(e) = s.executions.get_mut(arn) else {
            return;
        };
        let run = map_run_record(report, &e.record);
        let runs = &mut e.record.map_runs;
        match runs.iter_mut().find(|m| m.map_run_arn == run.map_run_arn) {
            Some(m) => *m = run,
            None => runs.push(run),
        }
        let record = e.record.clone();
        s.index(&record);
    }
}

/// A Map Run's report as the server keeps it; its children as executions (their state machine
/// snapshot is the parent's).
fn map_run_record(r: &MapRunReport, parent: &ExecutionRecord) -> MapRunRecord {
    let children = r
        .children
        .iter()
        .map(|c| ExecutionRecord {
            execution_arn: c.execution_arn.clone(),
            state_machine_arn: r.state_machine_arn.clone(),
            name: c.name.clone(),
            status: c.status.clone(),
            start_date: epoch(c.start_date),
            stop_date: c.stop_date.map(epoch),
            input: c.input.to_string(),
            output: c.output.as_ref().map(Value::to_string),
            error: c.error.clone(),
            cause: c.cause.clone(),
            history: c.history.clone(),
            seq: c.index,
            express_id: None,
            test_case: None,
            machine: parent.machine.clone(),
            map_runs: Vec::new(),
            map_run_arn: Some(r.map_run_arn.clone()),
        })
        .collect();
    let counts = |c: mdlc_asl::MapRunCounts| serde_json::to_value(c).unwrap_or_default();
    MapRunRecord {
        map_run_arn: r.map_run_arn.clone(),
        execution_arn: r.execution_arn.clone(),
        state_machine_arn: r.state_machine_arn.clone(),
        status: r.status.clone(),
        start_date: epoch(r.start_date),
        stop_date: r.stop_date.map(epoch),
        max_concurrency: r.max_concurrency,
        tolerated_failure_percentage: r.tolerated_failure_percentage,
        tolerated_failure_count: r.tolerated_failure_count,
        item_counts: counts(r.item_counts()),
        execution_counts: counts(r.execution_counts()),
        children,
    }
}

/// Adds the event that ends an execution's history (after its last event).
fn push_final_event(r: &mut ExecutionRecord, ty: &str, at: DateTime<Utc>, details: Value) {
    let last = r.history.iter().map(|e| e.id).max().unwrap_or(0);
    r.history.push(HistoryEvent {
        id: last + 1,
        previous_event_id: last,
        timestamp: at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        event_type: ty.to_string(),
        details,
    });
}

/// An execution that was RUNNING when the server stopped: FAILED, with an ExecutionFailed event.
fn fail_interrupted(r: &mut ExecutionRecord) {
    let at = Utc::now();
    push_final_event(
        r,
        "ExecutionFailed",
        at,
        json!({"error": SERVER_STOPPED_ERROR, "cause": SERVER_STOPPED_CAUSE}),
    );
    r.status = "FAILED".into();
    r.error = Some(SERVER_STOPPED_ERROR.into());
    r.cause = Some(SERVER_STOPPED_CAUSE.into());
    r.stop_date = Some(epoch(at));
}

/// Records an execution's events as they happen.
struct Recorder {
    app: Weak<App>,
    arn: String,
}

impl ExecutionObserver for Recorder {
    fn on_event(&self, event: &HistoryEvent) {
        if let Some(app) = self.app.upgrade() {
            app.on_event(&self.arn, event);
        }
    }

    fn on_map_run(&self, run: &MapRunReport) {
        if let Some(app) = self.app.upgrade() {
            app.on_map_run(&self.arn, run);
        }
    }
}
