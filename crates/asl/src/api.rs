//! The public runtime types: options, results, history, and the ports (task invoker, clock,
//! item store, observer) through which an execution reaches the outside world.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A boxed, sendable future (what [`Clock::sleep`] returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Terminal status of an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl ExecutionStatus {
    /// The name Step Functions uses: `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
        }
    }
}

impl std::fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub status: ExecutionStatus,
    /// The output, when the execution succeeded.
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// Recorded events (empty unless [`ExecutionOptions::record_history`]).
    pub history: Vec<HistoryEvent>,
}

/// One event, as Step Functions' GetExecutionHistory reports it. It is serialised in
/// GetExecutionHistory's shape (`crate::aws_history::to_aws`, with the data) and read back from
/// it (`crate::aws_history::from_aws`, which also reads the older shape of these fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "Value", try_from = "Value")]
pub struct HistoryEvent {
    pub id: u64,
    pub previous_event_id: u64,
    /// RFC 3339.
    pub timestamp: String,
    /// `ExecutionStarted`, `TaskStateEntered`, `TaskSucceeded`, ...
    pub event_type: String,
    /// e.g. `{"name": "Train", "input": ...}`.
    pub details: Value,
}

/// Sees each history event as it happens (progress display).
pub trait ExecutionObserver: Send + Sync {
    fn on_event(&self, event: &HistoryEvent);

    /// A Distributed Map's Map Run, when it starts and when it ends, with its child executions
    /// and their histories (which are not part of this execution's history).
    fn on_map_run(&self, _run: &MapRunReport) {}
}

/// A Distributed Map's Map Run, as the engine reports it to the [`ExecutionObserver`]: the
/// run as DescribeMapRun shows it and its child executions as DescribeExecution and
/// GetExecutionHistory show them (the parent's history holds only `MapRunStarted` and
/// `MapRunSucceeded`/`MapRunFailed`). Reported once when it starts (`RUNNING`, every item
/// pending, no children) and once when it ends (`SUCCEEDED` or `FAILED`, with every child
/// started).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MapRunReport {
    /// `arn:aws:states:<region>:<account>:mapRun:<machine>/<label>:<id>`.
    pub map_run_arn: String,
    /// The execution whose Map state started the run.
    pub execution_arn: String,
    /// The children's state machine:
    /// `arn:aws:states:<region>:<account>:stateMachine:<machine>/<label>`.
    pub state_machine_arn: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `ABORTED`.
    pub status: String,
    pub start_date: DateTime<Utc>,
    pub stop_date: Option<DateTime<Utc>>,
    /// `MaxConcurrency` (0: no limit).
    pub max_concurrency: u64,
    /// `ToleratedFailurePercentage` (0 unless set).
    pub tolerated_failure_percentage: f64,
    /// `ToleratedFailureCount` (0 unless set).
    pub tolerated_failure_count: u64,
    /// How many items the children process (with an ItemBatcher, a child processes a batch).
    pub total_items: u64,
    /// How many child executions the run starts (one per item or batch).
    pub total_executions: u64,
    /// The children started so far, in the order of their items; a child that was running
    /// when the run failed is `ABORTED`.
    pub children: Vec<ChildExecution>,
}

/// One child execution of a Map Run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChildExecution {
    /// `arn:aws:states:<region>:<account>:execution:<machine>/<label>:<name>`.
    pub execution_arn: String,
    /// A UUID.
    pub name: String,
    /// The item's index (the batch's, with an ItemBatcher).
    pub index: u64,
    /// How many items it processes (1, or its batch's size).
    pub items: u64,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`.
    pub status: String,
    pub input: Value,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start_date: DateTime<Utc>,
    pub stop_date: Option<DateTime<Utc>>,
    /// Its own history, `ExecutionStarted` first (empty unless the parent has an observer).
    pub history: Vec<HistoryEvent>,
}

/// DescribeMapRun's `itemCounts` or `executionCounts`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MapRunCounts {
    pub pending: u64,
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub aborted: u64,
    pub total: u64,
    /// The children whose results are part of the Map's result (those that succeeded).
    pub results_written: u64,
}

impl MapRunReport {
    /// `executionCounts`: children by status; those not started are pending.
    pub fn execution_counts(&self) -> MapRunCounts {
        self.counts(self.total_executions, |_| 1)
    }

    /// `itemCounts`: the items of the children by status; items of children not started are
    /// pending.
    pub fn item_counts(&self) -> MapRunCounts {
        self.counts(self.total_items, |c| c.items)
    }

    fn counts(&self, total: u64, weight: impl Fn(&ChildExecution) -> u64) -> MapRunCounts {
        let mut c = MapRunCounts {
            total,
            ..MapRunCounts::default()
        };
        let mut started = 0;
        for child in &self.children {
            let w = weight(child);
            started += w;
            match child.status.as_str() {
                "RUNNING" => c.running += w,
                "SUCCEEDED" => {
                    c.succeeded += w;
                    c.results_written += w;
                }
                "FAILED" => c.failed += w,
                "TIMED_OUT" => c.timed_out += w,
                _ => c.aborted += w,
            }
        }
        c.pending = total.saturating_sub(started);
        c
    }
}

/// What a Task state asks its invoker to run.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRequest {
    /// The `Resource` ARN.
    pub resource: String,
    /// The effective parameters (after `Parameters`/`Arguments`).
    pub parameters: Value,
    /// The context object (`$$`).
    pub context: Value,
    pub state_name: String,
    pub state_machine_name: String,
    pub timeout_seconds: Option<u64>,
    pub heartbeat_seconds: Option<u64>,
    /// Where the invoker reports the submission of a `.sync` job or of a `.waitForTaskToken`
    /// message (the Task's `TaskSubmitted` event); [`Submission::none`] outside a run.
    pub submission: Submission,
}

/// The invoker's report that a Task's work is submitted and now awaited: a `.sync` job started
/// (the response of the call that started it: CreateTrainingJob's, StartExecution's) or a
/// `.waitForTaskToken` message sent (SendMessage's response, ...). The engine records it as
/// `TaskSubmitted` between `TaskStarted` and the Task's outcome, as AWS does; a request-response
/// Task reports nothing. Only the first report counts.
#[derive(Clone, Default)]
pub struct Submission {
    sender: Option<Arc<std::sync::Mutex<Option<futures::channel::oneshot::Sender<Value>>>>>,
}

impl Submission {
    /// A submission that nobody listens to (a request made outside an execution).
    pub fn none() -> Self {
        Submission::default()
    }

    /// A submission and the receiver of its report.
    pub fn channel() -> (Self, futures::channel::oneshot::Receiver<Value>) {
        let (tx, rx) = futures::channel::oneshot::channel();
        let sender = Some(Arc::new(std::sync::Mutex::new(Some(tx))));
        (Submission { sender }, rx)
    }

    /// Reports the submit call's response (the first report only; later ones are ignored).
    pub fn report(&self, response: Value) {
        if let Some(slot) = &self.sender {
            let tx = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(tx) = tx {
                let _ = tx.send(response);
            }
        }
    }
}

impl std::fmt::Debug for Submission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.sender.is_some() {
            "Submission(listened)"
        } else {
            "Submission(none)"
        })
    }
}

/// Requests compare by what they ask; how a submission is reported is not part of that.
impl PartialEq for Submission {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// A named task failure, matched by `Retry`/`Catch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct TaskFailure {
    /// e.g. `States.TaskFailed`, `Lambda.ServiceException`, `InvalidInput`.
    pub error: String,
    pub cause: String,
    /// Which of the two the failure names (both, but for a SendTaskFailure that leaves one
    /// out: AWS then records the member as absent and a Catcher sees null, not "").
    #[serde(default, skip_serializing_if = "Given::is_both")]
    pub given: Given,
}

/// The members a [`TaskFailure`] gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Given {
    pub error: bool,
    pub cause: bool,
}

impl Default for Given {
    fn default() -> Self {
        Given {
            error: true,
            cause: true,
        }
    }
}

impl Given {
    fn is_both(&self) -> bool {
        self.error && self.cause
    }
}

impl TaskFailure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        TaskFailure {
            error: error.into(),
            cause: cause.into(),
            given: Given::default(),
        }
    }

    /// A failure as SendTaskFailure sends it: each member given or left out.
    pub fn sent(error: Option<&str>, cause: Option<&str>) -> Self {
        TaskFailure {
            given: Given {
                error: error.is_some(),
                cause: cause.is_some(),
            },
            ..TaskFailure::new(error.unwrap_or(""), cause.unwrap_or(""))
        }
    }

    /// The error, unless left out.
    pub fn error_given(&self) -> Option<&str> {
        self.given.error.then_some(self.error.as_str())
    }

    /// The cause, unless left out.
    pub fn cause_given(&self) -> Option<&str> {
        self.given.cause.then_some(self.cause.as_str())
    }
}

/// Runs Task states.
#[async_trait]
pub trait TaskInvoker: Send + Sync {
    async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskFailure>;
}

/// The default invoker: every Task fails with `States.TaskFailed`, naming its resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoInvoker;

#[async_trait]
impl TaskInvoker for NoInvoker {
    async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskFailure> {
        Err(TaskFailure::new(
            "States.TaskFailed",
            format!(
                "no task invoker is configured: cannot run resource '{}' of state '{}'",
                request.resource, request.state_name
            ),
        ))
    }
}

/// Time, injectable: Wait states and retry back-off sleep on it.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    fn sleep(&self, d: Duration) -> BoxFuture<'_, ()>;
    /// True when time only advances through [`Clock::sleep`] (a task then takes no time, so
    /// TimeoutSeconds/HeartbeatSeconds never fire on their own).
    fn is_virtual(&self) -> bool {
        false
    }
}

/// Virtual time: starts at the real time of its creation; `sleep` returns at once and moves the
/// clock forward.
#[derive(Debug)]
pub struct VirtualClock {
    start: DateTime<Utc>,
    offset_nanos: AtomicI64,
    /// The offset last read and `start` plus it: `now` is read at every state transition, and
    /// adding a duration to a date costs more than this lock (before any sleep, `now` is
    /// `start` without either).
    last: Mutex<(i64, DateTime<Utc>)>,
}

impl VirtualClock {
    pub fn new() -> Self {
        Self::starting_at(Utc::now())
    }

    pub fn starting_at(start: DateTime<Utc>) -> Self {
        VirtualClock {
            start,
            offset_nanos: AtomicI64::new(0),
            last: Mutex::new((0, start)),
        }
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        let offset = self.offset_nanos.load(Ordering::Relaxed);
        if offset == 0 {
            // nothing has slept yet
            return self.start;
        }
        let at = |offset| self.start + chrono::Duration::nanoseconds(offset);
        let Ok(mut last) = self.last.lock() else {
            return at(offset);
        };
        if last.0 != offset {
            *last = (offset, at(offset));
        }
        last.1
    }

    fn sleep(&self, d: Duration) -> BoxFuture<'_, ()> {
        let nanos = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        let _ = self
            .offset_nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |o| {
                Some(o.saturating_add(nanos))
            });
        Box::pin(std::future::ready(()))
    }

    fn is_virtual(&self) -> bool {
        true
    }
}

/// Wall-clock time; `sleep` really sleeps (needs a Tokio runtime with the time driver).
#[derive(Debug, Clone, Copy, Default)]
pub struct RealClock;

impl Clock for RealClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep(&self, d: Duration) -> BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// An object of an [`ItemStore`] listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredObject {
    /// The key within the bucket.
    pub key: String,
    pub size: u64,
    /// RFC 3339, when known.
    pub last_modified: Option<String>,
    pub etag: Option<String>,
}

/// A failure of the item store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemStoreError {
    #[error("object not found: {0}")]
    NotFound(String),
    #[error("object store error: {0}")]
    Other(String),
}

/// The object store behind a distributed Map's ItemReader and ResultWriter (`s3://` URIs).
#[async_trait]
pub trait ItemStore: Send + Sync {
    /// The bytes of `s3://bucket/key`.
    async fn get(&self, uri: &str) -> Result<Vec<u8>, ItemStoreError>;
    /// Writes (replaces) `s3://bucket/key`.
    async fn put(&self, uri: &str, body: Vec<u8>) -> Result<(), ItemStoreError>;
    /// Every object whose key starts with the prefix of `s3://bucket/prefix`, in key order.
    async fn list(&self, prefix_uri: &str) -> Result<Vec<StoredObject>, ItemStoreError>;
}

/// How to run one execution.
#[derive(Clone)]
pub struct ExecutionOptions {
    pub invoker: Arc<dyn TaskInvoker>,
    pub clock: Arc<dyn Clock>,
    pub state_machine_name: String,
    pub execution_name: String,
    pub record_history: bool,
    pub observer: Option<Arc<dyn ExecutionObserver>>,
    /// The store for a distributed Map's ItemReader/ResultWriter; `None` makes those fail with a
    /// clear error.
    pub item_store: Option<Arc<dyn ItemStore>>,
    /// Region and account used in the ARNs of the context object.
    pub region: String,
    pub account: String,
    /// Stops a runaway execution after this many state transitions (`States.Runtime`).
    pub max_transitions: Option<u64>,
    /// The execution's role (ExecutionStarted's `roleArn`, `$$.Execution.RoleArn`): the state
    /// machine's `roleArn`; `None`: `arn:aws:iam::<account>:role/StepFunctionsRole`.
    pub role_arn: Option<String>,
    /// The context object (`$$`) of every state, as given, instead of the one the execution
    /// builds: TestState's `context`.
    pub context_object: Option<Value>,
}

impl Default for ExecutionOptions {
    fn default() -> Self {
        ExecutionOptions {
            invoker: Arc::new(NoInvoker),
            clock: Arc::new(VirtualClock::new()),
            state_machine_name: "StateMachine".to_string(),
            execution_name: uuid::Uuid::new_v4().to_string(),
            record_history: false,
            observer: None,
            item_store: None,
            region: "us-east-1".to_string(),
            account: "123456789012".to_string(),
            max_transitions: None,
            role_arn: None,
            context_object: None,
        }
    }
}

impl std::fmt::Debug for ExecutionOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutionOptions")
            .field("state_machine_name", &self.state_machine_name)
            .field("execution_name", &self.execution_name)
            .field("record_history", &self.record_history)
            .field("has_observer", &self.observer.is_some())
            .field("has_item_store", &self.item_store.is_some())
            .finish_non_exhaustive()
    }
}

impl ExecutionOptions {
    /// `arn:aws:states:<region>:<account>:stateMachine:<name>`.
    pub fn state_machine_arn(&self) -> String {
        format!(
            "arn:aws:states:{}:{}:stateMachine:{}",
            self.region, self.account, self.state_machine_name
        )
    }

    /// `arn:aws:states:<region>:<account>:execution:<machine>:<execution>`.
    pub fn execution_arn(&self) -> String {
        format!(
            "arn:aws:states:{}:{}:execution:{}:{}",
            self.region, self.account, self.state_machine_name, self.execution_name
        )
    }

    /// The execution's role: [`ExecutionOptions::role_arn`], else
    /// `arn:aws:iam::<account>:role/StepFunctionsRole`.
    pub fn execution_role_arn(&self) -> String {
        match &self.role_arn {
            Some(r) => r.clone(),
            None => format!("arn:aws:iam::{}:role/StepFunctionsRole", self.account),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_failure_keeps_which_members_it_gives_through_json() {
        let both = TaskFailure::new("E", "c");
        let text = serde_json::to_value(&both).unwrap_or_default();
        assert_eq!(text, serde_json::json!({"error": "E", "cause": "c"}));
        for (error, cause) in [(None, Some("c")), (Some("E"), None), (None, None)] {
            let sent = TaskFailure::sent(error, cause);
            assert_eq!((sent.error_given(), sent.cause_given()), (error, cause));
            let text = serde_json::to_string(&sent).unwrap_or_default();
            let back: Option<TaskFailure> = serde_json::from_str(&text).ok();
            assert_eq!(back.as_ref(), Some(&sent), "{text}");
        }
    }

    #[test]
    fn virtual_clock_advances_only_when_sleeping() {
        let clock = VirtualClock::new();
        let t0 = clock.now();
        futures::executor::block_on(clock.sleep(Duration::from_secs(90)));
        assert_eq!((clock.now() - t0).num_seconds(), 90);
    }

    #[test]
    fn virtual_clock_read_between_sleeps_shows_every_sleep() {
        let t0 = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let clock = VirtualClock::starting_at(t0);
        let mut seen = vec![clock.now()];
        for ms in [1_500, 1, 86_400_000] {
            futures::executor::block_on(clock.sleep(Duration::from_millis(ms)));
            // read twice: the second read comes from the remembered time
            seen.push(clock.now());
            seen.push(clock.now());
        }
        let offsets: Vec<i64> = seen.iter().map(|t| (*t - t0).num_milliseconds()).collect();
        assert_eq!(
            offsets,
            [0, 1_500, 1_500, 1_501, 1_501, 86_401_501, 86_401_501]
        );
    }

    #[test]
    fn status_serializes_like_step_functions() {
        assert_eq!(
            serde_json::to_string(&ExecutionStatus::TimedOut)
                .ok()
                .as_deref(),
            Some("\"TIMED_OUT\"")
        );
    }

    #[test]
    fn status_displays_as_step_functions_names_it() {
        let shown: Vec<String> = [
            ExecutionStatus::Succeeded,
            ExecutionStatus::Failed,
            ExecutionStatus::TimedOut,
            ExecutionStatus::Aborted,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(shown, ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]);
    }

    #[test]
    fn options_debug_names_the_execution_and_what_is_attached() {
        let o = ExecutionOptions {
            state_machine_name: "m".into(),
            execution_name: "e1".into(),
            ..Default::default()
        };
        assert_eq!(
            format!("{o:?}"),
            "ExecutionOptions { state_machine_name: \"m\", execution_name: \"e1\", record_history: false, has_observer: false, has_item_store: false, .. }"
        );
    }

    #[test]
    fn arns_are_derived_from_names() {
        let o = ExecutionOptions {
            execution_name: "e1".into(),
            ..Default::default()
        };
        assert_eq!(
            o.execution_arn(),
            "arn:aws:states:us-east-1:123456789012:execution:StateMachine:e1"
        );
    }
}
