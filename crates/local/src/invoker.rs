//! `LocalInvoker`: routes the Task states of a local execution.
//!
//! | resource | runs |
//! | --- | --- |
//! | `arn:aws:states:::lambda:invoke[.waitForTaskToken]` (`FunctionName`, `Payload`) | the function, result wrapped like `lambda:invoke` (`Payload`, `StatusCode`, ...) |
//! | `arn:aws:lambda:<region>:<account>:function:<name>[:qualifier]` | the function, result as it is |
//! | `arn:aws:states:::sagemaker:<action>[.sync]` | the SageMaker backend (the emulator) |
//! | `arn:aws:states:::states:startExecution[.sync[:2]]` | a nested local execution |
//! | `arn:aws:states:::events:putEvents` (`Entries`) | the event publisher (the state directory's event log), `EventBridge.FailedEntry` on a refused entry |
//! | `arn:aws:states:::sqs:sendMessage[.waitForTaskToken]` (`QueueUrl`, `MessageBody`) | the SQS stand-in ([`crate::sqs`]): the message appended to its queue in the state directory |
//! | `arn:aws:states:::http:invoke` (`ApiEndpoint`, `Method`, `Authentication.ConnectionArn`, ...) | the HTTP Task ([`crate::http_task`]): the request sent, with the local EventBridge connection's authorization |
//! | anything else | `States.Runtime`, naming the resource |
//!
//! A function runs, in this order of precedence: as a `--function NAME=COMMAND` child process; on
//! the `--lambda-endpoint` (the Lambda Invoke API of `cargo lambda watch`); in process, when it is
//! one of the project's handlers; otherwise the task fails with `Lambda.ResourceNotFoundException`.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use mdlc_asl::{
    Clock as AslClock, Execution, ExecutionObserver, ExecutionOptions, ExecutionStatus, ItemStore,
    StateMachine, Submission, TaskFailure, TaskInvoker, TaskRequest,
};
use mdlc_core::{Dependencies, HandlerFailure};
use mdlc_proc::PidBook;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::http_task::{HTTP_INVOKE, HttpTasks};
use crate::journal::{ExecutionRecord, Journal, JournalError, MarkerGuard, RunningMarker};
use crate::sqs::SqsQueues;
use crate::substitute::{LOCAL_ACCOUNT, LOCAL_REGION};
use mdlc_emulator::http::{BaseUrl, HttpClient, HttpError, Method};

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// An in-process function: the uniform `invoke(event, &Dependencies)` entry point.
pub type HandlerFn =
    Arc<dyn Fn(Value, Arc<Dependencies>) -> BoxFuture<Result<Value, HandlerFailure>> + Send + Sync>;

/// Wraps an async function into a [`HandlerFn`].
pub fn handler_fn<F, Fut>(f: F) -> HandlerFn
where
    F: Fn(Value, Arc<Dependencies>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, HandlerFailure>> + Send + 'static,
{
    Arc::new(move |event, deps| Box::pin(f(event, deps)))
}

/// The Step Functions SageMaker service integrations (`arn:aws:states:::sagemaker:*`).
#[async_trait]
pub trait SageMakerBackend: Send + Sync {
    /// Runs `action` (`createTrainingJob`, ...); with `sync`, reports the Create* response as
    /// the Task's `submission`, waits for the job's end and returns its Describe* response.
    async fn call(
        &self,
        action: &str,
        sync: bool,
        request: Value,
        submission: Submission,
    ) -> Result<Value, TaskFailure>;
}

/// How executions started by the invoker run.
#[derive(Clone)]
pub struct RunSettings {
    pub clock: Arc<dyn AslClock>,
    pub record_history: bool,
    pub observer: Option<Arc<dyn ExecutionObserver>>,
    pub item_store: Option<Arc<dyn ItemStore>>,
    pub max_transitions: Option<u64>,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            clock: Arc::new(mdlc_asl::VirtualClock::new()),
            record_history: true,
            observer: None,
            item_store: None,
            max_transitions: None,
        }
    }
}

/// Builds a [`LocalInvoker`].
pub struct LocalInvokerBuilder {
    deps: Arc<Dependencies>,
    handlers: BTreeMap<String, HandlerFn>,
    commands: BTreeMap<String, String>,
    command_env: BTreeMap<String, String>,
    lambda_endpoint: Option<LambdaEndpoint>,
    sagemaker: Option<Arc<dyn SageMakerBackend>>,
    state_machines: BTreeMap<String, Arc<StateMachine>>,
    settings: RunSettings,
    journal: Arc<Journal>,
    faults: FunctionFaults,
    sqs: Option<SqsQueues>,
    pid_book: Option<PidBook>,
    http_tasks: Option<Arc<HttpTasks>>,
}

impl LocalInvokerBuilder {
    /// An invoker whose in-process handlers get `deps`.
    pub fn new(deps: Dependencies) -> Self {
        LocalInvokerBuilder {
            deps: Arc::new(deps),
            handlers: BTreeMap::new(),
            commands: BTreeMap::new(),
            command_env: BTreeMap::new(),
            lambda_endpoint: None,
            sagemaker: None,
            state_machines: BTreeMap::new(),
            settings: RunSettings::default(),
            journal: Arc::new(Journal::default()),
            faults: FunctionFaults::default(),
            sqs: None,
            pid_book: None,
            http_tasks: None,
        }
    }

    /// Injected function errors (see [`FunctionFaults`]).
    pub fn function_faults(mut self, faults: FunctionFaults) -> Self {
        self.faults = faults;
        self
    }

    /// Runs function `name` in process.
    pub fn handler(mut self, name: impl Into<String>, handler: HandlerFn) -> Self {
        self.handlers.insert(name.into(), handler);
        self
    }

    /// Runs function `name` as `sh -c COMMAND` (event on stdin, result on stdout).
    pub fn command(mut self, name: impl Into<String>, command: impl Into<String>) -> Self {
        self.commands.insert(name.into(), command.into());
        self
    }

    /// Extra environment for `command` functions.
    pub fn command_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.command_env.insert(key.into(), value.into());
        self
    }

    /// Sends every function without a command to this Lambda Invoke API.
    pub fn lambda_endpoint(mut self, url: &str) -> Result<Self, HttpError> {
        self.lambda_endpoint = Some(LambdaEndpoint {
            url: BaseUrl::parse(url)?,
            client: HttpClient::new(),
        });
        Ok(self)
    }

    pub fn sagemaker(mut self, backend: Arc<dyn SageMakerBackend>) -> Self {
        self.sagemaker = Some(backend);
        self
    }

    /// Makes `startExecution` of `arn:...:stateMachine:<name>` run `machine`.
    pub fn state_machine(mut self, name: impl Into<String>, machine: Arc<StateMachine>) -> Self {
        self.state_machines.insert(name.into(), machine);
        self
    }

    /// Records the `command` functions' processes in this pid book while they run (see
    /// [`mdlc_proc`]).
    pub fn pid_book(mut self, book: PidBook) -> Self {
        self.pid_book = Some(book);
        self
    }

    /// Runs `arn:aws:states:::http:invoke` with these HTTP Tasks (their connections).
    pub fn http_tasks(mut self, tasks: Arc<HttpTasks>) -> Self {
        self.http_tasks = Some(tasks);
        self
    }

    /// Runs `arn:aws:states:::sqs:sendMessage[.waitForTaskToken]` on these queues.
    pub fn sqs(mut self, queues: SqsQueues) -> Self {
        self.sqs = Some(queues);
        self
    }

    pub fn settings(mut self, settings: RunSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Where the executions are recorded (in memory unless given a durable [`Journal`]).
    pub fn journal(mut self, journal: Arc<Journal>) -> Self {
        self.journal = journal;
        self
    }

    pub fn build(self) -> Arc<LocalInvoker> {
        Arc::new_cyclic(|me| LocalInvoker {
            me: me.clone(),
            deps: self.deps,
            handlers: self.handlers,
            commands: self.commands,
            command_env: self.command_env,
            lambda_endpoint: self.lambda_endpoint,
            sagemaker: self.sagemaker,
            state_machines: self.state_machines,
            settings: self.settings,
            journal: self.journal,
            execution_names: Mutex::new(HashSet::new()),
            faults: Mutex::new(self.faults),
            sqs: self.sqs,
            pid_book: self.pid_book,
            http_tasks: self.http_tasks,
        })
    }
}

/// A journal failure as the `startExecution` task's failure.
fn journal_failure(e: JournalError) -> TaskFailure {
    match e {
        JournalError::ExecutionAlreadyExists { .. } => TaskFailure::new(
            "StepFunctions.ExecutionAlreadyExistsException",
            e.to_string(),
        ),
        JournalError::Write { .. } => TaskFailure::new("States.Runtime", e.to_string()),
    }
}

/// An execution [`LocalInvoker::begin`] marked as started, to run with
/// [`LocalInvoker::run_started`].
#[derive(Debug)]
pub struct Started {
    machine_name: String,
    execution_name: String,
    state_machine_arn: String,
    arn: String,
    parent_arn: Option<String>,
    started_at: String,
    guard: MarkerGuard,
}

/// The local cloud's [`TaskInvoker`]; see the module documentation.
pub struct LocalInvoker {
    me: Weak<LocalInvoker>,
    deps: Arc<Dependencies>,
    handlers: BTreeMap<String, HandlerFn>,
    commands: BTreeMap<String, String>,
    command_env: BTreeMap<String, String>,
    lambda_endpoint: Option<LambdaEndpoint>,
    sagemaker: Option<Arc<dyn SageMakerBackend>>,
    state_machines: BTreeMap<String, Arc<StateMachine>>,
    settings: RunSettings,
    journal: Arc<Journal>,
    execution_names: Mutex<HashSet<(String, String)>>,
    faults: Mutex<FunctionFaults>,
    sqs: Option<SqsQueues>,
    pid_book: Option<PidBook>,
    http_tasks: Option<Arc<HttpTasks>>,
}

/// Injected function errors, e.g. from
/// `MDLC_FUNCTION_FAULTS="register-model:DependencyUnavailable:2,find-model:ModelNotFound"`:
/// the first N invocations (every invocation without N) of the function fail with that error
/// type, as if the handler had returned it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FunctionFaults {
    rules: Vec<FunctionFault>,
}

#[derive(Debug, Clone, PartialEq)]
struct FunctionFault {
    function: String,
    error_type: String,
    remaining: Option<u32>,
}

/// A malformed function fault rule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid function fault {rule:?} in MDLC_FUNCTION_FAULTS: expected FUNCTION:ErrorType[:N]")]
pub struct FunctionFaultError {
    pub rule: String,
}

impl FunctionFaults {
    /// The variable the rules are read from.
    pub const ENV: &'static str = "MDLC_FUNCTION_FAULTS";

    /// Rules from `MDLC_FUNCTION_FAULTS` (none when unset).
    pub fn from_env() -> Result<Self, FunctionFaultError> {
        Self::parse(&std::env::var(Self::ENV).unwrap_or_default())
    }

    /// `FUNCTION:ErrorType[:N]` rules, separated as [`mdlc_emulator::config::fault_rules`] says.
    pub fn parse(text: &str) -> Result<Self, FunctionFaultError> {
        let mut rules = Vec::new();
        for raw in mdlc_emulator::config::fault_rules(text) {
            let bad = || FunctionFaultError {
                rule: raw.to_string(),
            };
            let parts: Vec<&str> = raw.split(':').collect();
            let (function, error_type, remaining) = match parts.as_slice() {
                [f, e] => (*f, *e, None),
                [f, e, n] => (*f, *e, Some(n.parse::<u32>().map_err(|_| bad())?)),
                _ => return Err(bad()),
            };
            if function_name(function) != Some(function) || error_type.is_empty() {
                return Err(bad());
            }
            rules.push(FunctionFault {
                function: function.to_string(),
                error_type: error_type.to_string(),
                remaining,
            });
        }
        Ok(FunctionFaults { rules })
    }

    /// The injected error for this invocation of `function`, if any (counts it).
    fn take(&mut self, function: &str) -> Option<String> {
        for rule in &mut self.rules {
            if rule.function != function {
                continue;
            }
            match &mut rule.remaining {
                None => return Some(rule.error_type.clone()),
                Some(0) => continue,
                Some(n) => {
                    *n -= 1;
                    return Some(rule.error_type.clone());
                }
            }
        }
        None
    }
}

const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";
const SAGEMAKER_PREFIX: &str = "arn:aws:states:::sagemaker:";
const START_EXECUTION: &str = "arn:aws:states:::states:startExecution";

/// The default time a `--function` command or endpoint call may take without a `TimeoutSeconds`.
const DEFAULT_FUNCTION_TIMEOUT: Duration = Duration::from_secs(900);

impl LocalInvoker {
    /// The executions finished so far.
    pub fn journal(&self) -> &Arc<Journal> {
        &self.journal
    }

    /// The names of the state machines `startExecution` can start.
    pub fn state_machine_names(&self) -> impl Iterator<Item = &str> {
        self.state_machines.keys().map(String::as_str)
    }

    /// The HTTP Tasks (`arn:aws:states:::http:invoke`) of this invoker, if it runs them.
    pub fn http_tasks(&self) -> Option<&Arc<HttpTasks>> {
        self.http_tasks.as_ref()
    }

    /// The dependencies the in-process handlers get.
    pub fn dependencies(&self) -> &Arc<Dependencies> {
        &self.deps
    }

    /// Runs `machine` as execution `execution_name` with this invoker (or `invoker` when given, e.g.
    /// a mock wrapper around it) and records it in the journal; fails when the journal cannot
    /// claim the name or keep the record.
    pub async fn run(
        &self,
        machine_name: &str,
        machine: &StateMachine,
        execution_name: &str,
        input: Value,
        parent_arn: Option<String>,
        invoker: Option<Arc<dyn TaskInvoker>>,
    ) -> Result<Execution, JournalError> {
        let started = self.begin(machine_name, execution_name, parent_arn)?;
        self.run_started(started, machine, input, invoker).await
    }

    /// Marks execution `execution_name` of `machine_name` as started (its running marker in a
    /// durable journal): from here on a crash cannot lose it.
    pub fn begin(
        &self,
        machine_name: &str,
        execution_name: &str,
        parent_arn: Option<String>,
    ) -> Result<Started, JournalError> {
        let options = ExecutionOptions {
            state_machine_name: machine_name.to_string(),
            execution_name: execution_name.to_string(),
            region: LOCAL_REGION.to_string(),
            account: LOCAL_ACCOUNT.to_string(),
            ..ExecutionOptions::default()
        };
        let arn = options.execution_arn();
        let started_at = mdlc_core::registry::format_timestamp(self.settings.clock.now());
        let marker =
            RunningMarker::of_this_process(machine_name, execution_name, &arn, &started_at);
        let guard = self.journal.begin(&marker)?;
        Ok(Started {
            machine_name: machine_name.to_string(),
            execution_name: execution_name.to_string(),
            state_machine_arn: options.state_machine_arn(),
            arn,
            parent_arn,
            started_at,
            guard,
        })
    }

    /// Runs an execution [`LocalInvoker::begin`] started until it ends and records it.
    pub async fn run_started(
        &self,
        started: Started,
        machine: &StateMachine,
        input: Value,
        invoker: Option<Arc<dyn TaskInvoker>>,
    ) -> Result<Execution, JournalError> {
        let execution = self
            .execute(&started, machine, input.clone(), invoker)
            .await;
        let Started {
            machine_name,
            execution_name,
            state_machine_arn,
            arn,
            parent_arn,
            started_at,
            guard,
        } = started;
        let record = ExecutionRecord {
            state_machine_name: machine_name,
            state_machine_arn,
            name: execution_name,
            arn,
            parent_arn,
            input,
            started_at,
            stopped_at: mdlc_core::registry::format_timestamp(self.settings.clock.now()),
            execution: execution.clone(),
        };
        match self.journal.push(record) {
            Ok(()) => {
                drop(guard);
                Ok(execution)
            }
            Err(e) => {
                guard.keep();
                Err(e)
            }
        }
    }

    async fn execute(
        &self,
        started: &Started,
        machine: &StateMachine,
        input: Value,
        invoker: Option<Arc<dyn TaskInvoker>>,
    ) -> Execution {
        let invoker: Arc<dyn TaskInvoker> = match invoker {
            Some(i) => i,
            None => match self.me.upgrade() {
                Some(me) => me,
                None => {
                    return Execution {
                        status: ExecutionStatus::Failed,
                        output: None,
                        error: Some("States.Runtime".into()),
                        cause: Some("the local invoker was dropped".into()),
                        history: Vec::new(),
                    };
                }
            },
        };
        let options = ExecutionOptions {
            invoker,
            clock: self.settings.clock.clone(),
            state_machine_name: started.machine_name.clone(),
            execution_name: started.execution_name.clone(),
            record_history: self.settings.record_history,
            observer: self.settings.observer.clone(),
            item_store: self.settings.item_store.clone(),
            region: LOCAL_REGION.to_string(),
            account: LOCAL_ACCOUNT.to_string(),
            max_transitions: self.settings.max_transitions,
            role_arn: None,
            context_object: None,
        };
        let (machine_name, execution_name) = (&started.machine_name, &started.execution_name);
        tracing::info!(target: "mdlc::execution", state_machine = %machine_name, execution = %execution_name, "execution started");
        let execution = machine.execute(input, options).await;
        tracing::info!(target: "mdlc::execution", state_machine = %machine_name, execution = %execution_name, status = %execution.status, "execution finished");
        execution
    }

    /// Reserves an execution name like Step Functions (unique per state machine).
    fn reserve_name(&self, machine: &str, name: &str) -> Result<(), TaskFailure> {
        let mut names = self
            .execution_names
            .lock()
            .map_err(|_| TaskFailure::new("States.Runtime", "execution name table poisoned"))?;
        if !names.insert((machine.to_string(), name.to_string())) {
            return Err(TaskFailure::new(
                "StepFunctions.ExecutionAlreadyExistsException",
                format!("Execution Already Exists: '{name}' of state machine '{machine}'"),
            ));
        }
        Ok(())
    }

    async fn invoke_function(
        &self,
        name: &str,
        event: Value,
        timeout: Duration,
    ) -> Result<Value, TaskFailure> {
        tracing::info!(target: "mdlc::lambda", function = name, "invoking function");
        let injected = self.faults.lock().ok().and_then(|mut f| f.take(name));
        if let Some(error_type) = injected {
            tracing::info!(target: "mdlc::lambda", function = name, error_type, "injected function fault");
            return Err(handler_failure(HandlerFailure {
                error_type,
                message: format!(
                    "fault injected by {} for function {name}",
                    FunctionFaults::ENV
                ),
            }));
        }
        if let Some(command) = self.commands.get(name) {
            return self.run_command(name, command, event, timeout).await;
        }
        if let Some(base) = &self.lambda_endpoint {
            return invoke_endpoint(base, name, &event, timeout).await;
        }
        if let Some(handler) = self.handlers.get(name) {
            return handler(event, self.deps.clone())
                .await
                .map_err(handler_failure);
        }
        let known: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        Err(TaskFailure::new(
            "Lambda.ResourceNotFoundException",
            format!(
                "Function not found: {name}. The local cloud runs the project's functions ({}); run others with --function {name}=COMMAND or --lambda-endpoint URL",
                known.join(", ")
            ),
        ))
    }

    async fn run_command(
        &self,
        name: &str,
        command: &str,
        event: Value,
        timeout: Duration,
    ) -> Result<Value, TaskFailure> {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c")
            .arg(command)
            .envs(&self.command_env)
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        // In a process group of its own, dying with this process, recorded in the pid book;
        // `_guard` ends what is left of the group (what `sh -c` started) when this returns or
        // times out.
        let (mut child, _guard) = mdlc_proc::spawn(
            &mut cmd,
            self.pid_book.as_ref(),
            &format!("function {name}"),
        )
        .map_err(|e| {
            TaskFailure::new(
                "Lambda.ServiceException",
                format!("cannot start function {name} ({command}): {e}"),
            )
        })?;
        let input = serde_json::to_vec(&event).unwrap_or_default();
        if let Some(mut stdin) = child.stdin.take() {
            // A program that does not read its stdin is fine: ignore a broken pipe.
            let _ = stdin.write_all(&input).await;
            drop(stdin);
        }
        let output = tokio::time::timeout(timeout, child.wait_with_output())
            .await
            .map_err(|_| {
                TaskFailure::new(
                    "Sandbox.Timedout",
                    format!(
                        "function {name} timed out after {} seconds",
                        timeout.as_secs()
                    ),
                )
            })?
            .map_err(|e| {
                TaskFailure::new("Lambda.ServiceException", format!("function {name}: {e}"))
            })?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            let diagnostic = serde_json::from_str::<Value>(stdout.trim())
                .ok()
                .filter(|v| v.get("errorType").is_some())
                .or_else(|| {
                    stderr
                        .lines()
                        .rev()
                        .find_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
                        .filter(|v| v.get("errorType").is_some())
                });
            return Err(match diagnostic {
                Some(d) => diagnostic_failure(&d),
                None => TaskFailure::new(
                    "Lambda.Unknown",
                    json!({
                        "errorType": "Lambda.Unknown",
                        "errorMessage": format!(
                            "function {name} exited with {} without an error object on stdout; stderr: {}",
                            output.status,
                            tail(&stderr, 2000)
                        ),
                    })
                    .to_string(),
                ),
            });
        }
        let text = stdout.trim();
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(text).map_err(|e| {
            TaskFailure::new(
                "Lambda.Unknown",
                format!(
                    "function {name} printed output that is not JSON ({e}): {}",
                    tail(text, 500)
                ),
            )
        })
    }

    async fn invoke_sagemaker(
        &self,
        action_part: &str,
        params: Value,
        submission: Submission,
    ) -> Result<Value, TaskFailure> {
        let (action, suffix) = match action_part.split_once('.') {
            Some((a, s)) => (a, Some(s)),
            None => (action_part, None),
        };
        let sync = match suffix {
            None => false,
            Some("sync") => true,
            Some(other) => {
                return Err(unsupported(
                    &format!("{SAGEMAKER_PREFIX}{action_part}"),
                    &format!(
                        "the integration pattern .{other} is not supported for SageMaker (use the request-response or .sync pattern)"
                    ),
                ));
            }
        };
        let backend = self.sagemaker.as_ref().ok_or_else(|| {
            unsupported(
                &format!("{SAGEMAKER_PREFIX}{action_part}"),
                "no SageMaker emulator is configured",
            )
        })?;
        tracing::info!(target: "mdlc::sagemaker", action, sync, "SageMaker call");
        backend.call(action, sync, params, submission).await
    }

    async fn start_execution(
        &self,
        pattern: &str,
        params: Value,
        context: &Value,
        submission: &Submission,
    ) -> Result<Value, TaskFailure> {
        let arn = params
            .get("StateMachineArn")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                TaskFailure::new(
                    "StepFunctions.ValidationException",
                    "startExecution needs the string parameter StateMachineArn",
                )
            })?
            .to_string();
        let machine_name = arn
            .split(":stateMachine:")
            .nth(1)
            .map(|rest| rest.split(':').next().unwrap_or(rest))
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                TaskFailure::new(
                    "StepFunctions.InvalidArnException",
                    format!("Invalid Arn: '{arn}' is not a state machine ARN"),
                )
            })?
            .to_string();
        let machine = self
            .state_machines
            .get(&machine_name)
            .cloned()
            .ok_or_else(|| {
                let known: Vec<&str> = self.state_machines.keys().map(String::as_str).collect();
                TaskFailure::new(
                    "StepFunctions.StateMachineDoesNotExistException",
                    format!(
                        "State Machine Does Not Exist: '{arn}' (local state machines: {})",
                        known.join(", ")
                    ),
                )
            })?;
        let input = match params.get("Input") {
            None | Some(Value::Null) => json!({}),
            Some(Value::String(s)) => serde_json::from_str(s).map_err(|e| {
                TaskFailure::new(
                    "StepFunctions.InvalidExecutionInputException",
                    format!("Input is not valid JSON: {e}"),
                )
            })?,
            Some(other) => other.clone(),
        };
        let name = match params.get("Name") {
            None | Some(Value::Null) => uuid::Uuid::new_v4().to_string(),
            Some(Value::String(s)) if valid_execution_name(s) => s.clone(),
            Some(other) => {
                return Err(TaskFailure::new(
                    "StepFunctions.InvalidNameException",
                    format!(
                        "Invalid Name: {other}: 1-80 characters of letters, digits, '-' and '_'"
                    ),
                ));
            }
        };
        self.reserve_name(&machine_name, &name)?;
        let parent = context
            .pointer("/Execution/Id")
            .and_then(Value::as_str)
            .map(str::to_string);
        let execution_arn = format!(
            "arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:execution:{machine_name}:{name}"
        );
        let machine_arn =
            format!("arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:stateMachine:{machine_name}");
        let start = self.settings.clock.now();
        let started = self
            .begin(&machine_name, &name, parent)
            .map_err(journal_failure)?;
        match pattern {
            "" => {
                let me = self.me.upgrade().ok_or_else(|| {
                    TaskFailure::new("States.Runtime", "the local invoker was dropped")
                })?;
                tokio::spawn(async move {
                    if let Err(e) = me.run_started(started, &machine, input, None).await {
                        tracing::error!(target: "mdlc::execution", "{e}");
                    }
                });
                Ok(json!({"ExecutionArn": execution_arn, "StartDate": start.timestamp_millis()}))
            }
            ".sync" | ".sync:2" => {
                // the Task's TaskSubmitted event: StartExecution's answer
                submission.report(
                    json!({"ExecutionArn": execution_arn, "StartDate": start.timestamp_millis()}),
                );
                let execution = Box::pin(self.run_started(started, &machine, input.clone(), None))
                    .await
                    .map_err(journal_failure)?;
                let stop = self.settings.clock.now();
                let as_json_v2 = pattern == ".sync:2";
                let encode = |v: &Value| {
                    if as_json_v2 {
                        v.clone()
                    } else {
                        Value::String(v.to_string())
                    }
                };
                let mut out = serde_json::Map::new();
                out.insert("ExecutionArn".into(), json!(execution_arn));
                out.insert("Input".into(), encode(&input));
                out.insert("InputDetails".into(), json!({"Included": true}));
                out.insert("Name".into(), json!(name));
                if let Some(output) = &execution.output {
                    out.insert("Output".into(), encode(output));
                    out.insert("OutputDetails".into(), json!({"Included": true}));
                }
                out.insert("StartDate".into(), json!(start.timestamp_millis()));
                out.insert("StateMachineArn".into(), json!(machine_arn));
                out.insert("Status".into(), json!(execution.status.as_str()));
                out.insert("StopDate".into(), json!(stop.timestamp_millis()));
                if execution.status == ExecutionStatus::Succeeded {
                    Ok(Value::Object(out))
                } else {
                    if let Some(e) = &execution.error {
                        out.insert("Error".into(), json!(e));
                    }
                    if let Some(c) = &execution.cause {
                        out.insert("Cause".into(), json!(c));
                    }
                    Err(TaskFailure::new(
                        "States.TaskFailed",
                        Value::Object(out).to_string(),
                    ))
                }
            }
            other => Err(unsupported(
                &format!("{START_EXECUTION}{other}"),
                "supported patterns: startExecution, startExecution.sync, startExecution.sync:2",
            )),
        }
    }
}

/// A Step Functions execution name as the local cloud accepts it: 1-80 characters of letters,
/// digits, `-` and `_` (the CloudWatch-Logs-safe subset AWS recommends; it is also a file name).
pub fn valid_execution_name(name: &str) -> bool {
    (1..=80).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

fn unsupported(resource: &str, why: &str) -> TaskFailure {
    TaskFailure::new(
        "States.Runtime",
        format!("the local cloud cannot run resource '{resource}': {why}"),
    )
}

/// A handler's failure as Step Functions reports a Lambda function error: the error is the
/// `errorType`, the cause the JSON error object.
fn handler_failure(failure: HandlerFailure) -> TaskFailure {
    let cause = json!({"errorType": failure.error_type, "errorMessage": failure.message});
    TaskFailure::new(failure.error_type, cause.to_string())
}

fn diagnostic_failure(d: &Value) -> TaskFailure {
    let error = d
        .get("errorType")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("Lambda.Unknown")
        .to_string();
    let message = d
        .get("errorMessage")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    TaskFailure::new(
        error.clone(),
        json!({"errorType": error, "errorMessage": message}).to_string(),
    )
}

/// The function name in a `FunctionName` parameter or Lambda ARN: `name`, `name:qualifier`,
/// `123456789012:function:name`, `arn:aws:lambda:region:acct:function:name[:qualifier]`.
pub fn function_name(function: &str) -> Option<&str> {
    let name = match function.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => function.split(':').next().unwrap_or(function),
    };
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then_some(name)
}

/// A Lambda Invoke API (`cargo lambda watch`) and the pooled client that calls it.
struct LambdaEndpoint {
    url: BaseUrl,
    client: HttpClient,
}

async fn invoke_endpoint(
    endpoint: &LambdaEndpoint,
    name: &str,
    event: &Value,
    timeout: Duration,
) -> Result<Value, TaskFailure> {
    let body = serde_json::to_vec(event).unwrap_or_default();
    let path = format!("/2015-03-31/functions/{name}/invocations");
    let headers = [("Content-Type", "application/json")];
    let response = endpoint
        .client
        .request(&endpoint.url, Method::POST, &path, &headers, body, timeout)
        .await
        .map_err(|e| {
            TaskFailure::new(
                "Lambda.ServiceException",
                format!("{e} (is `cargo lambda watch` running?)"),
            )
        })?;
    let text = String::from_utf8_lossy(&response.body).to_string();
    match response.status {
        200..=299 => {
            let parsed: Value = if text.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).map_err(|e| {
                    TaskFailure::new(
                        "Lambda.Unknown",
                        format!(
                            "function {name} returned a body that is not JSON ({e}): {}",
                            tail(&text, 500)
                        ),
                    )
                })?
            };
            if response.header("x-amz-function-error").is_some() {
                Err(diagnostic_failure(&parsed))
            } else {
                Ok(parsed)
            }
        }
        404 => Err(TaskFailure::new(
            "Lambda.ResourceNotFoundException",
            format!(
                "Function not found: {name} at the Lambda endpoint: {}",
                tail(&text, 500)
            ),
        )),
        429 => Err(TaskFailure::new(
            "Lambda.TooManyRequestsException",
            tail(&text, 500).to_string(),
        )),
        status if status >= 500 => Err(TaskFailure::new(
            "Lambda.ServiceException",
            format!("HTTP {status}: {}", tail(&text, 500)),
        )),
        status => Err(TaskFailure::new(
            "Lambda.InvalidRequestContentException",
            format!("HTTP {status}: {}", tail(&text, 500)),
        )),
    }
}

#[async_trait]
impl TaskInvoker for LocalInvoker {
    async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskFailure> {
        let resource = request.resource.as_str();
        let timeout = request
            .timeout_seconds
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_FUNCTION_TIMEOUT);
        if resource == LAMBDA_INVOKE
            || resource == "arn:aws:states:::lambda:invoke.waitForTaskToken"
        {
            let function = request
                .parameters
                .get("FunctionName")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    TaskFailure::new(
                        "Lambda.InvalidParameterValueException",
                        format!(
                            "state '{}': lambda:invoke needs the string parameter FunctionName",
                            request.state_name
                        ),
                    )
                })?;
            let name = function_name(function).ok_or_else(|| {
                TaskFailure::new(
                    "Lambda.InvalidParameterValueException",
                    format!(
                        "state '{}': invalid FunctionName {function:?}",
                        request.state_name
                    ),
                )
            })?;
            let payload = request
                .parameters
                .get("Payload")
                .cloned()
                .unwrap_or(json!({}));
            let result = self.invoke_function(name, payload, timeout).await?;
            return Ok(json!({
                "ExecutedVersion": "$LATEST",
                "Payload": result,
                "SdkHttpMetadata": {"HttpStatusCode": 200},
                "SdkResponseMetadata": {"RequestId": uuid::Uuid::new_v4().to_string()},
                "StatusCode": 200
            }));
        }
        if resource.starts_with("arn:aws:lambda:") {
            let name = resource
                .split_once(":function:")
                .and_then(|_| function_name(resource))
                .ok_or_else(|| {
                    unsupported(
                        resource,
                        "not a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)",
                    )
                })?;
            return self
                .invoke_function(name, request.parameters, timeout)
                .await;
        }
        if let Some(action) = resource.strip_prefix(SAGEMAKER_PREFIX) {
            return self
                .invoke_sagemaker(action, request.parameters, request.submission)
                .await;
        }
        if let Some(pattern) = resource.strip_prefix(START_EXECUTION) {
            return self
                .start_execution(
                    pattern,
                    request.parameters,
                    &request.context,
                    &request.submission,
                )
                .await;
        }
        if resource == crate::events::PUT_EVENTS_RESOURCE {
            let time = mdlc_core::registry::format_timestamp(self.deps.clock.now());
            return crate::events::put_events_task(
                self.deps.events.as_ref(),
                &request.parameters,
                &request.context,
                &time,
            )
            .await;
        }
        if resource == crate::sqs::SEND_MESSAGE || resource == crate::sqs::SEND_MESSAGE_CALLBACK {
            let queues = self.sqs.as_ref().ok_or_else(|| {
                unsupported(
                    resource,
                    "this invoker has no state directory for SQS queues",
                )
            })?;
            let sent_at = self.deps.clock.now().timestamp_millis();
            return crate::sqs::send_message_task(queues, &request.parameters, sent_at).await;
        }
        if resource == HTTP_INVOKE {
            let tasks = self.http_tasks.as_ref().ok_or_else(|| {
                unsupported(resource, "this invoker is not set up for HTTP Tasks")
            })?;
            return tasks.invoke(&request.parameters).await;
        }
        Err(unsupported(
            resource,
            "supported: Lambda functions (arn:aws:lambda:...:function:NAME, arn:aws:states:::lambda:invoke), arn:aws:states:::sagemaker:*, arn:aws:states:::states:startExecution[.sync[:2]], arn:aws:states:::events:putEvents, arn:aws:states:::sqs:sendMessage[.waitForTaskToken], arn:aws:states:::http:invoke",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for `cargo lambda watch`'s Invoke API on a free loopback port: function `ok`
    /// echoes its event with the path it was called on, `fails` answers a function error,
    /// `slow` never answers in time, `busy` is throttled, `broken` is a server error; any other
    /// name is not found.
    async fn lambda_watch() -> LambdaEndpoint {
        use axum::extract::{Path, Request};
        use axum::http::StatusCode;
        use axum::response::IntoResponse;
        async fn invoke(Path(name): Path<String>, request: Request) -> axum::response::Response {
            let path = request.uri().path().to_string();
            let ct = request.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_string();
            let body = axum::body::to_bytes(request.into_body(), 1 << 20)
                .await
                .unwrap();
            let event: Value = serde_json::from_slice(&body).unwrap();
            match name.as_str() {
                "ok" => json!({"event": event, "path": path, "ct": ct})
                    .to_string()
                    .into_response(),
                "fails" => (
                    [("x-amz-function-error", "Unhandled")],
                    r#"{"errorType":"ModelNotFound","errorMessage":"no model m"}"#,
                )
                    .into_response(),
                "slow" => {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    "{}".into_response()
                }
                "busy" => (StatusCode::TOO_MANY_REQUESTS, "Rate exceeded").into_response(),
                "broken" => (StatusCode::BAD_GATEWAY, "bad gateway").into_response(),
                _ => (StatusCode::NOT_FOUND, "no such function").into_response(),
            }
        }
        let app = axum::Router::new().route(
            "/lambda/2015-03-31/functions/{name}/invocations",
            axum::routing::post(invoke),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        LambdaEndpoint {
            url: BaseUrl::parse(&format!("http://127.0.0.1:{port}/lambda/")).unwrap(),
            client: HttpClient::new(),
        }
    }

    #[tokio::test]
    async fn given_a_lambda_endpoint_when_invoked_then_answers_map_to_lambdas_errors() {
        let endpoint = lambda_watch().await;
        let event = json!({"modelName": "m"});
        let secs = Duration::from_secs;
        let ok = invoke_endpoint(&endpoint, "ok", &event, secs(5))
            .await
            .unwrap();
        assert_eq!(
            ok,
            json!({"event": event, "path": "/lambda/2015-03-31/functions/ok/invocations", "ct": "application/json"})
        );
        let failure = |name: &'static str, timeout: u64| {
            let (endpoint, event) = (&endpoint, &event);
            async move {
                invoke_endpoint(endpoint, name, event, secs(timeout))
                    .await
                    .unwrap_err()
            }
        };
        let f = failure("fails", 5).await;
        assert_eq!(f.error, "ModelNotFound");
        assert!(f.cause.contains("no model m"), "{f}");
        let f = failure("missing", 5).await;
        assert_eq!(f.error, "Lambda.ResourceNotFoundException", "{f}");
        assert_eq!(
            failure("busy", 5).await.error,
            "Lambda.TooManyRequestsException"
        );
        let f = failure("broken", 5).await;
        assert_eq!(
            (f.error.as_str(), f.cause.as_str()),
            ("Lambda.ServiceException", "HTTP 502: bad gateway")
        );
        let f = failure("slow", 1).await;
        assert_eq!(f.error, "Lambda.ServiceException");
        assert!(f.cause.contains("timed out after 1 s"), "{f}");
    }

    #[tokio::test]
    async fn given_no_lambda_endpoint_listening_when_invoked_then_service_exception_says_so() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let endpoint = LambdaEndpoint {
            url: BaseUrl::loopback(port),
            client: HttpClient::new(),
        };
        let f = invoke_endpoint(&endpoint, "ok", &json!({}), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(f.error, "Lambda.ServiceException");
        assert!(f.cause.contains("cannot reach 127.0.0.1:"), "{f}");
        assert!(f.cause.contains("is `cargo lambda watch` running?"), "{f}");
    }

    #[test]
    fn given_function_references_when_parsed_then_names() {
        assert_eq!(function_name("train"), Some("train"));
        assert_eq!(function_name("train:prod"), Some("train"));
        assert_eq!(function_name("123456789012:function:train"), Some("train"));
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:000000000000:function:create-model:$LATEST"),
            Some("create-model")
        );
        assert_eq!(function_name(""), None);
        assert_eq!(function_name("a/b"), None);
    }

    #[test]
    fn given_fault_rules_when_taken_then_counted_per_function() {
        let mut f = FunctionFaults::parse("a:DependencyUnavailable:2, b:ModelNotFound").unwrap();
        assert_eq!(f.take("a").as_deref(), Some("DependencyUnavailable"));
        assert_eq!(f.take("a").as_deref(), Some("DependencyUnavailable"));
        assert_eq!(f.take("a"), None);
        for _ in 0..3 {
            assert_eq!(f.take("b").as_deref(), Some("ModelNotFound"));
        }
        assert_eq!(f.take("c"), None);
        for bad in ["a", "a:", "a:B:x", "a:B:1:2", "a/b:C"] {
            let e = FunctionFaults::parse(bad).unwrap_err();
            assert!(e.to_string().contains("FUNCTION:ErrorType"), "{bad}: {e}");
        }
    }

    #[test]
    fn given_a_handler_failure_then_task_failure_like_aws() {
        let f = handler_failure(HandlerFailure {
            error_type: "ModelNotFound".into(),
            message: "no version".into(),
        });
        assert_eq!(f.error, "ModelNotFound");
        let cause: Value = serde_json::from_str(&f.cause).unwrap();
        assert_eq!(
            cause,
            json!({"errorType": "ModelNotFound", "errorMessage": "no version"})
        );
    }
}
