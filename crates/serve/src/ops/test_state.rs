//! TestState: one state run alone, as Step Functions' TestState API runs it.
//!
//! The state (a single state's definition, or `stateName` of a whole state machine) runs on the
//! engine inside a small state machine of its own: the state under test without its `Retry`,
//! each state it can lead to (`Next`, a Choice rule's or `Default`, a Catcher's `Next`) as a
//! `Succeed` placeholder, and, when `variables` are given, a first Pass state assigning them. Its
//! Task runs once, on the server's invoker or answered by `mock`. From the run come:
//!
//! - `status`: `SUCCEEDED`; `FAILED`; `RETRIABLE` when a Retrier of the state matches the error
//!   and has attempts left after `stateConfiguration.retrierRetryCount`; `CAUGHT_ERROR` when a
//!   Catcher took it;
//! - `output` and `nextState` (the placeholder entered), `error` and `cause`;
//! - with `inspectionLevel` `DEBUG` or `TRACE`, `inspectionData`: the data flow of a JSONPath
//!   state (`input`, `afterInputPath`, `afterParameters`, `result`, `afterResultSelector`,
//!   `afterResultPath`), each step computed by the engine itself (the Task's parameters and result
//!   as its invoker saw them; the other steps as one-state Pass machines doing just that step);
//!   for a JSONata state `input`, `afterArguments` and `result`; `errorDetails` (`retryIndex` and
//!   `retryBackoffIntervalSeconds`, or `catchIndex`);
//! - with `inspectionLevel` `TRACE`, an HTTP Task's `request` and `response` as it sent and
//!   received them, without what its EventBridge connection added unless `revealSecrets`.
//!
//! As TestState documents: Map, Parallel, activity, `.sync` and `.waitForTaskToken` states need a
//! `mock`; a `mock` is only for Task, Map and Parallel states; `context` only with a `mock`. A
//! mocked Map or Parallel state is run as a Task answering the mocked result (its items and
//! branches are not run).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use mdlc_asl::{
    Execution, ExecutionOptions, ExecutionStatus, StateMachine, TaskFailure, TaskInvoker,
    TaskRequest, VirtualClock,
};
use mdlc_local::http_task::{HTTP_INVOKE, HttpTasks, HttpTrace};
use serde_json::{Map, Value, json};

use crate::api_models::{FieldValidationMode, Operation, operation_of};
use crate::app::App;
use crate::error::ApiError;
use crate::request::{ARN, CAUSE, DATA, DEFINITION, ERROR, Len, Request};

const LEVELS: &[&str] = &["INFO", "DEBUG", "TRACE"];
const VALIDATION_MODES: &[&str] = &["STRICT", "PRESENT", "NONE"];
const STATE_NAME: Len = Len { min: 1, max: 80 };
/// TestState runs for at most five minutes, then fails with `States.Timeout` (TestState's
/// documentation).
const TIME_LIMIT: Duration = Duration::from_secs(300);
/// The name of the state under test when the definition is a single state.
const SINGLE_STATE_NAME: &str = "TestState";
/// The first state, assigning `variables`.
const PRELUDE: &str = "TestState variables";
/// The resource of a mocked Map or Parallel state, run as a Task answering the mock.
const MOCKED_RESOURCE: &str = "arn:aws:states:::mdlc:testState.mock";
/// State transitions of one run: the prelude, the state, a placeholder (and slack).
const MAX_TRANSITIONS: u64 = 8;

/// A TestState request, checked.
struct TestRequest {
    /// The state's definition (a mocked Map or Parallel already turned into a Task).
    state: Map<String, Value>,
    name: String,
    /// The `QueryLanguage` of the state machine the state was taken from.
    machine_ql: Option<Value>,
    input: Value,
    debug: bool,
    /// `inspectionLevel` `TRACE`: an HTTP Task's request and response too.
    trace: bool,
    reveal_secrets: bool,
    variables: Option<Map<String, Value>>,
    mock: Option<Result<Value, TaskFailure>>,
    retry_count: u64,
    /// The context object (`$$`) given with the mock.
    context: Option<Value>,
    /// The operation whose output the mocked result must match, and how strictly.
    mock_check: Option<(Operation, FieldValidationMode)>,
    /// A mocked Map state's own definition (`state` is the Task standing in for it).
    mocked_map: Option<Map<String, Value>>,
}

/// What the state's Task was asked and answered.
#[derive(Clone)]
struct Call {
    parameters: Value,
    outcome: Result<Value, TaskFailure>,
}

/// The invoker of the state under test: the mock or the server's invoker (an HTTP Task on the
/// server's HTTP Tasks, its exchange kept), each call recorded.
struct Capture {
    inner: Arc<dyn TaskInvoker>,
    mock: Option<Result<Value, TaskFailure>>,
    calls: Mutex<Vec<Call>>,
    http: Option<Arc<HttpTasks>>,
    reveal_secrets: bool,
    /// The last HTTP Task's exchange.
    http_trace: Mutex<Option<HttpTrace>>,
}

impl Capture {
    fn last(&self) -> Option<Call> {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last()
            .cloned()
    }
}

#[async_trait]
impl TaskInvoker for Capture {
    async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskFailure> {
        let parameters = request.parameters.clone();
        let outcome = match (&self.mock, &self.http) {
            (Some(m), _) => m.clone(),
            (None, Some(http)) if request.resource == HTTP_INVOKE => {
                let (outcome, trace) = http
                    .invoke_traced(&request.parameters, self.reveal_secrets)
                    .await;
                *self.http_trace.lock().unwrap_or_else(|e| e.into_inner()) = trace;
                outcome
            }
            (None, _) => self.inner.invoke(request).await,
        };
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Call {
                parameters,
                outcome: outcome.clone(),
            });
        outcome
    }
}

/// A request this server refuses with AWS's `ValidationException`.
fn refused(message: impl Into<String>) -> ApiError {
    ApiError::validation_message(message.into())
}

fn parse_json(text: &str, what: &str) -> Result<Value, ApiError> {
    serde_json::from_str(text).map_err(|e| refused(format!("{what} is not valid JSON: {e}")))
}

fn read(body: &Map<String, Value>) -> Result<TestRequest, ApiError> {
    let mut r = Request::new(body);
    let definition = r.required("definition", DEFINITION);
    r.string("roleArn", ARN);
    let input_text = r.string("input", DATA).unwrap_or("{}");
    let level = r.enumeration("inspectionLevel", LEVELS).unwrap_or("INFO");
    let reveal_secrets = r.boolean("revealSecrets").unwrap_or(false);
    let variables = r.string("variables", DATA);
    let state_name = r.string("stateName", STATE_NAME);
    let context = r.string("context", DATA);
    let mock_parts = r.object("mock").map(read_mock).transpose()?;
    let retry_count = match r.object("stateConfiguration") {
        Some(c) => read_state_configuration(c)?,
        None => 0,
    };
    r.finish()?;

    let mode = mock_parts.as_ref().map(|m| m.mode);
    let mock = match mock_parts {
        None => None,
        Some(parts) => Some(parts.outcome()?),
    };
    if mock.is_some() && reveal_secrets {
        return Err(refused(
            "TestState does not support RevealSecrets when a mock is specified.",
        ));
    }
    if context.is_some() && mock.is_none() {
        return Err(refused("context may only be given together with a mock"));
    }
    let input: Value = serde_json::from_str(input_text)
        .map_err(|e| ApiError::invalid_execution_input(&e.to_string()))?;
    mdlc_asl::check_execution_input(&input)
        .map_err(|e| ApiError::invalid_execution_input(&e.to_string()))?;
    let variables = match variables {
        None => None,
        Some(text) => match parse_json(text, "variables")? {
            Value::Object(m) => Some(m),
            _ => return Err(refused("variables must be a JSON object")),
        },
    };
    let TestedState {
        state,
        name,
        machine_ql,
    } = tested_state(definition, state_name)?;
    let ty = state.get("Type").and_then(Value::as_str).unwrap_or("");
    let resource = state.get("Resource").and_then(Value::as_str).unwrap_or("");
    check_mocking(ty, mock.as_ref())?;
    if let Some(Ok(result)) = &mock {
        check_mocked_shape(&state, ty, result)?;
    }
    let context = match context {
        Some(text) => Some(checked_context(text, ty, resource)?),
        None => None,
    };
    let mock_check = match (&mock, mode) {
        (Some(Ok(_)), Some(mode)) if ty == "Task" => operation_of(resource).map(|op| (op, mode)),
        _ => None,
    };
    if mock.is_none() {
        check_runs_unmocked(ty, resource)?;
    }
    let mocked_map = (mock.is_some() && ty == "Map").then(|| state.clone());
    let state = if mock.is_some() && matches!(ty, "Map" | "Parallel") {
        as_mocked_task(&state, ty)
    } else {
        state
    };
    Ok(TestRequest {
        state,
        name,
        machine_ql,
        input,
        debug: level != "INFO",
        trace: level == "TRACE",
        reveal_secrets,
        variables,
        mock,
        retry_count: u64::try_from(retry_count).unwrap_or(0),
        context,
        mock_check,
        mocked_map,
    })
}

/// A request's `mock`, as given.
struct MockParts<'a> {
    result: Option<&'a str>,
    error: Option<TaskFailure>,
    mode: FieldValidationMode,
}

impl MockParts<'_> {
    /// The mocked outcome: exactly one of `result` (JSON) and `errorOutput`.
    fn outcome(self) -> Result<Result<Value, TaskFailure>, ApiError> {
        match (self.result, self.error) {
            (Some(result), None) => Ok(Ok(parse_json(result, "mock.result")?)),
            (None, Some(failure)) => Ok(Err(failure)),
            // AWS's words (recorded answers)
            _ => Err(refused(
                "A test mock should have only one of the following fields: [result, errorOutput].",
            )),
        }
    }
}

fn read_mock(m: &Map<String, Value>) -> Result<MockParts<'_>, ApiError> {
    let mut mr = Request::new(m);
    let result = mr.string("result", DATA);
    let error_output = mr.object("errorOutput");
    let mode = FieldValidationMode::parse(mr.enumeration("fieldValidationMode", VALIDATION_MODES));
    mr.finish()?;
    let error = match error_output {
        Some(e) => {
            let mut er = Request::new(e);
            let error = er.string("error", ERROR).unwrap_or("").to_string();
            let cause = er.string("cause", CAUSE).unwrap_or("").to_string();
            er.finish()?;
            Some(TaskFailure::new(error, cause))
        }
        None => None,
    };
    Ok(MockParts {
        result,
        error,
        mode,
    })
}

/// `stateConfiguration`'s members checked; its `retrierRetryCount` (0 without one).
fn read_state_configuration(c: &Map<String, Value>) -> Result<i64, ApiError> {
    let mut cr = Request::new(c);
    let retry_count = cr.integer("retrierRetryCount", 0, i64::MAX).unwrap_or(0);
    cr.string("errorCausedByState", STATE_NAME);
    cr.integer("mapIterationFailureCount", 0, i64::MAX);
    cr.string("mapItemReaderData", DATA);
    cr.finish()?;
    Ok(retry_count)
}

/// The state to test, its name and the machine's `QueryLanguage`.
struct TestedState {
    state: Map<String, Value>,
    name: String,
    machine_ql: Option<Value>,
}

/// With `stateName`, that top-level state of a whole (valid) state machine; without, the
/// definition is the state.
fn tested_state(definition: &str, state_name: Option<&str>) -> Result<TestedState, ApiError> {
    let definition: Value = serde_json::from_str(definition)
        .map_err(|e| ApiError::invalid_definition(&format!("INVALID_JSON_DESCRIPTION: {e}")))?;
    let Some(name) = state_name else {
        return match definition {
            Value::Object(state) => Ok(TestedState {
                state,
                name: SINGLE_STATE_NAME.to_string(),
                machine_ql: None,
            }),
            _ => Err(ApiError::invalid_definition(
                "SCHEMA_VALIDATION_FAILED: the definition of a state must be a JSON object",
            )),
        };
    };
    StateMachine::from_value(&definition)
        .map_err(|errors| ApiError::invalid_definition(&definition_problems(&errors)))?;
    let state = definition
        .get("States")
        .and_then(|s| s.get(name))
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| {
            refused(format!(
                "stateName '{name}' is not a state of the definition's top-level States"
            ))
        })?;
    Ok(TestedState {
        state,
        name: name.to_string(),
        machine_ql: definition.get("QueryLanguage").cloned(),
    })
}

/// Which state types a mock may stand for, and which need one (AWS's words, recorded).
fn check_mocking(ty: &str, mock: Option<&Result<Value, TaskFailure>>) -> Result<(), ApiError> {
    let mockable = matches!(ty, "Task" | "Map" | "Parallel");
    if mock.is_some() && !mockable {
        // recorded for Pass, Fail and Succeed
        return Err(refused(format!(
            "State type '{ty}' is not supported when a mock is specified"
        )));
    }
    if mock.is_none() && matches!(ty, "Map" | "Parallel") {
        return Err(ApiError::service(
            "InvalidDefinition",
            "TestState API does not support Map or Parallel states. Supported state types include: [Task, Wait, Pass, Succeed, Fail, Choice]",
        ));
    }
    Ok(())
}

/// A Task that waits for something TestState cannot give (an activity worker, a task token, a
/// job's end) runs only with a mock.
fn check_runs_unmocked(ty: &str, resource: &str) -> Result<(), ApiError> {
    let needs_mock = match ty {
        "Task" if resource.contains(":activity:") => Some("an activity Task"),
        "Task" if resource.ends_with(".waitForTaskToken") => Some("a .waitForTaskToken Task"),
        "Task" if resource.ends_with(".sync") || resource.ends_with(".sync:2") => {
            Some("a .sync Task")
        }
        _ => None,
    };
    match needs_mock {
        Some(what) => Err(refused(format!("TestState runs {what} only with a mock"))),
        None => Ok(()),
    }
}

/// A mocked Map or Parallel result as TestState wants it (AWS's words, recorded): a Map's an
/// array (an object when it has a ResultWriter), a Parallel's an array of one item per branch.
fn check_mocked_shape(
    state: &Map<String, Value>,
    ty: &str,
    result: &Value,
) -> Result<(), ApiError> {
    match ty {
        "Map" if state.contains_key("ResultWriter") && !result.is_object() => {
            return Err(refused("Mocked result must be a JSON object."));
        }
        "Map" if state.contains_key("ResultWriter") => {}
        "Map" | "Parallel" => {
            let Some(items) = result.as_array() else {
                return Err(refused("Mocked result must be an array."));
            };
            let branches = state
                .get("Branches")
                .and_then(Value::as_array)
                .map(Vec::len);
            if ty == "Parallel" && branches.is_some_and(|n| n != items.len()) {
                return Err(refused(
                    "Mocked result must contain the same number of items as number of Parallel branches.",
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// The members of each section of a context object and the JSON type each must have.
const CONTEXT_SECTIONS: &[(&str, &[(&str, ContextType)])] = &[
    (
        "Execution",
        &[
            ("Id", ContextType::String),
            ("Input", ContextType::Any),
            ("Name", ContextType::String),
            ("RoleArn", ContextType::String),
            ("StartTime", ContextType::String),
            ("RedriveCount", ContextType::Number),
            ("RedriveTime", ContextType::String),
        ],
    ),
    (
        "State",
        &[
            ("EnteredTime", ContextType::String),
            ("Name", ContextType::String),
            ("RetryCount", ContextType::Number),
        ],
    ),
    (
        "StateMachine",
        &[("Id", ContextType::String), ("Name", ContextType::String)],
    ),
    ("Task", &[("Token", ContextType::String)]),
];

#[derive(Clone, Copy)]
enum ContextType {
    String,
    Number,
    Any,
}

impl ContextType {
    fn holds(self, v: &Value) -> bool {
        match self {
            ContextType::String => v.is_string(),
            ContextType::Number => v.is_number(),
            ContextType::Any => true,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ContextType::String => "a string",
            ContextType::Number => "a number",
            ContextType::Any => "any JSON value",
        }
    }
}

/// TestState's `context`: a JSON object of the context object's sections (the fields of the
/// Context object page of the developer guide), `Task` only for a `.sync` or
/// `.waitForTaskToken` Task, no `Map`. Refusals in AWS's words where its answers were recorded
/// (a field not allowed, `Map`, `Task`, `Execution.Id must be a string`); the others follow them.
fn checked_context(text: &str, ty: &str, resource: &str) -> Result<Value, ApiError> {
    let invalid = |why: String| refused(format!("Invalid Context object provided: {why}"));
    let context: Value =
        serde_json::from_str(text).map_err(|e| invalid(format!("it is not valid JSON: {e}")))?;
    let Value::Object(sections) = &context else {
        return Err(invalid("it must be a JSON object".into()));
    };
    for (name, value) in sections {
        if name == "Map" {
            return Err(invalid(
                "'Map' field is not supported when mocking a Context object".into(),
            ));
        }
        let Some((_, members)) = CONTEXT_SECTIONS.iter().find(|(s, _)| s == name) else {
            return Err(invalid(format!("Field '{name}' is not allowed")));
        };
        let Value::Object(fields) = value else {
            return Err(invalid(format!("{name} must be an object")));
        };
        for (field, v) in fields {
            let Some((_, kind)) = members.iter().find(|(m, _)| m == field) else {
                return Err(invalid(format!("Field '{field}' is not allowed")));
            };
            if !kind.holds(v) {
                return Err(invalid(format!("{name}.{field} must be {}", kind.name())));
            }
        }
    }
    let token_task =
        ty == "Task" && (resource.contains(".sync") || resource.ends_with(".waitForTaskToken"));
    if sections.contains_key("Task") && !token_task {
        return Err(invalid(
            "Context object contains 'Task' when state is not a Task state with a '.sync' or '.waitForTaskToken' service integration pattern".into(),
        ));
    }
    Ok(context)
}

/// `CODE: message at /pointer, ...`, as CreateStateMachine words an invalid definition.
fn definition_problems(errors: &mdlc_asl::ValidationErrors) -> String {
    errors
        .iter()
        .map(|e| {
            if e.pointer.is_empty() {
                format!("SCHEMA_VALIDATION_FAILED: {}", e.message)
            } else {
                format!("SCHEMA_VALIDATION_FAILED: {} at {}", e.message, e.pointer)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A mocked Map or Parallel state as a Task answering the mock: its input and output processing,
/// Retry and Catch, and transition stay; its items and branches go.
fn as_mocked_task(state: &Map<String, Value>, ty: &str) -> Map<String, Value> {
    let mut keep = vec![
        "InputPath",
        "ResultSelector",
        "ResultPath",
        "OutputPath",
        "Retry",
        "Catch",
        "Assign",
        "Output",
        "QueryLanguage",
        "Next",
        "End",
        "Comment",
    ];
    if ty == "Parallel" {
        keep.extend(["Parameters", "Arguments"]);
    }
    let mut task: Map<String, Value> = state
        .iter()
        .filter(|(k, _)| keep.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    task.insert("Type".into(), json!("Task"));
    task.insert("Resource".into(), json!(MOCKED_RESOURCE));
    task
}

/// The states a state can lead to: `Next`, `Default`, each Choice rule's and Catcher's `Next`.
fn targets(state: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |v: Option<&Value>| {
        if let Some(s) = v.and_then(Value::as_str) {
            if !out.iter().any(|o| o == s) {
                out.push(s.to_string());
            }
        }
    };
    add(state.get("Next"));
    add(state.get("Default"));
    for list in ["Choices", "Catch"] {
        for item in state
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            add(item.get("Next"));
        }
    }
    out
}

/// The machine running `state` as `name`: the prelude assigning `variables` (its input is then
/// `{"v": variables, "i": input}`), the state, a Succeed placeholder for each target.
fn machine_of(
    state: &Map<String, Value>,
    name: &str,
    machine_ql: Option<&Value>,
    variables: Option<&Map<String, Value>>,
) -> Value {
    let mut states = Map::new();
    for t in targets(state) {
        states.insert(t, json!({"Type": "Succeed"}));
    }
    states.insert(name.to_string(), Value::Object(state.clone()));
    let start = match variables {
        Some(vars) => {
            let assign: Map<String, Value> = vars
                .keys()
                .map(|k| {
                    let key = k.replace('`', "");
                    (k.clone(), json!(format!("{{% $states.input.v.`{key}` %}}")))
                })
                .collect();
            states.insert(
                PRELUDE.to_string(),
                json!({"Type": "Pass", "QueryLanguage": "JSONata", "Assign": assign,
                       "Output": "{% $states.input.i %}", "Next": name}),
            );
            PRELUDE
        }
        None => name,
    };
    let mut m = json!({"StartAt": start, "States": states});
    if let Some(ql) = machine_ql {
        m["QueryLanguage"] = ql.clone();
    }
    m
}

/// One run of a machine from [`machine_of`].
async fn run(
    app: &App,
    machine: &Value,
    input: &Value,
    variables: Option<&Map<String, Value>>,
    context: Option<&Value>,
    invoker: Arc<dyn TaskInvoker>,
) -> Result<Execution, ApiError> {
    let sm = StateMachine::from_value(machine)
        .map_err(|errors| ApiError::invalid_definition(&definition_problems(&errors)))?;
    let input = match variables {
        Some(v) => json!({"v": v, "i": input}),
        None => input.clone(),
    };
    let options = ExecutionOptions {
        invoker,
        clock: Arc::new(VirtualClock::new()),
        state_machine_name: SINGLE_STATE_NAME.to_string(),
        record_history: true,
        item_store: app.config.item_store.clone(),
        region: mdlc_local::substitute::LOCAL_REGION.to_string(),
        account: mdlc_local::substitute::LOCAL_ACCOUNT.to_string(),
        max_transitions: Some(MAX_TRANSITIONS),
        context_object: context.cloned(),
        ..ExecutionOptions::default()
    };
    match tokio::time::timeout(TIME_LIMIT, sm.execute(input, options)).await {
        Ok(execution) => Ok(execution),
        // AWS's cause for this case is not documented; this one is the server's own
        Err(_) => Ok(Execution {
            status: ExecutionStatus::Failed,
            output: None,
            error: Some("States.Timeout".into()),
            cause: Some("The state ran for more than five minutes, TestState's limit.".into()),
            history: Vec::new(),
        }),
    }
}

/// The output of one Pass state `pass` (no invoker) on `input`, if it succeeds: one step of the
/// data flow.
async fn step(
    app: &App,
    pass: Value,
    input: &Value,
    variables: Option<&Map<String, Value>>,
    context: Option<&Value>,
) -> Option<Value> {
    let Value::Object(mut st) = pass else {
        return None;
    };
    st.insert("Type".into(), json!("Pass"));
    st.insert("End".into(), json!(true));
    let machine = machine_of(&st, "Step", None, variables);
    let e = run(
        app,
        &machine,
        input,
        variables,
        context,
        Arc::new(mdlc_asl::NoInvoker),
    )
    .await
    .ok()?;
    (e.status == ExecutionStatus::Succeeded)
        .then_some(e.output)
        .flatten()
}

/// The fields of `state` among `keys`, as a Pass state's.
fn fields(state: &Map<String, Value>, keys: &[&str]) -> Value {
    Value::Object(
        keys.iter()
            .filter_map(|k| state.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect(),
    )
}

/// A Retrier or Catcher list of the state.
fn handlers(state: &Map<String, Value>, field: &str) -> Vec<Map<String, Value>> {
    state
        .get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_object().cloned())
        .collect()
}

fn error_equals(handler: &Map<String, Value>) -> Vec<String> {
    handler
        .get("ErrorEquals")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// The first Retrier matching `error` with attempts left after `count` retries: its index and
/// the seconds before the next attempt (`IntervalSeconds × BackoffRate^count`, at most
/// `MaxDelaySeconds`; defaults 1, 2.0 and 3 attempts as the language defines them).
fn retrier_for(state: &Map<String, Value>, error: &str, count: u64) -> Option<(usize, u64)> {
    let retry = handlers(state, "Retry");
    let (i, r) = retry
        .iter()
        .enumerate()
        .find(|(_, r)| mdlc_asl::error_matches(&error_equals(r), error))?;
    let max_attempts = r.get("MaxAttempts").and_then(Value::as_u64).unwrap_or(3);
    if count >= max_attempts {
        return None;
    }
    let interval = r
        .get("IntervalSeconds")
        .and_then(Value::as_f64)
        .unwrap_or(1.0);
    let rate = r.get("BackoffRate").and_then(Value::as_f64).unwrap_or(2.0);
    let mut delay = interval * rate.powi(i32::try_from(count).unwrap_or(i32::MAX));
    if let Some(max) = r.get("MaxDelaySeconds").and_then(Value::as_f64) {
        delay = delay.min(max);
    }
    // whole seconds, as the model's RetryBackoffIntervalSeconds is an integer
    Some((i, delay.round().max(0.0).min(u64::MAX as f64) as u64))
}

/// The error of a Task, Map or Parallel state that a Catcher took: the invoker's failure, else a
/// `*Failed` event of the run.
fn caught_error(execution: &Execution, call: Option<&Call>) -> Option<(String, String)> {
    if let Some(Call {
        outcome: Err(f), ..
    }) = call
    {
        return Some((f.error.clone(), f.cause.clone()));
    }
    execution
        .history
        .iter()
        .find(|e| {
            matches!(
                e.event_type.as_str(),
                "TaskFailed"
                    | "TaskTimedOut"
                    | "LambdaFunctionFailed"
                    | "LambdaFunctionTimedOut"
                    | "MapStateFailed"
                    | "ParallelStateFailed"
            )
        })
        .map(|e| {
            let text = |k: &str| {
                e.details
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            (text("error"), text("cause"))
        })
}

/// The name of the state entered after the state under test, if any.
fn entered_after(execution: &Execution, name: &str) -> Option<String> {
    let entered = |e: &&mdlc_asl::HistoryEvent| e.event_type.ends_with("StateEntered");
    let name_of = |e: &mdlc_asl::HistoryEvent| {
        e.details
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let mut after = execution
        .history
        .iter()
        .filter(entered)
        .skip_while(|e| name_of(e).as_deref() != Some(name));
    after.next()?;
    after.next().and_then(name_of)
}

fn text(v: &Value) -> Value {
    Value::String(v.to_string())
}

pub async fn test_state(app: &App, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let t = read(body)?;
    if let (Some((op, mode)), Some(Ok(result)), Some(models)) =
        (&t.mock_check, &t.mock, &app.config.api_models)
    {
        models.check(op, result, *mode).map_err(refused)?;
    }
    let mut state = t.state.clone();
    state.remove("Retry");
    // a state leading to itself is run under another name, so its placeholder can be told apart
    let run_name = if targets(&state).contains(&t.name) {
        format!("{} (under test)", t.name)
    } else {
        t.name.clone()
    };
    let machine = machine_of(
        &state,
        &run_name,
        t.machine_ql.as_ref(),
        t.variables.as_ref(),
    );
    let capture = Arc::new(Capture {
        inner: app.config.invoker.clone(),
        mock: t.mock.clone(),
        calls: Mutex::new(Vec::new()),
        http: app.config.http_tasks.clone(),
        reveal_secrets: t.reveal_secrets,
        http_trace: Mutex::new(None),
    });
    let execution = run(
        app,
        &machine,
        &t.input,
        t.variables.as_ref(),
        t.context.as_ref(),
        capture.clone(),
    )
    .await?;
    let call = capture.last();
    let next = entered_after(&execution, &run_name);

    let succeeded = execution.status == ExecutionStatus::Succeeded;
    let catch_targets: Vec<String> = handlers(&t.state, "Catch")
        .iter()
        .filter_map(|c| c.get("Next").and_then(Value::as_str).map(str::to_string))
        .collect();
    let failure_seen = matches!(
        call,
        Some(Call {
            outcome: Err(_),
            ..
        })
    ) || execution
        .history
        .iter()
        .any(|e| e.event_type.ends_with("Failed") && !e.event_type.starts_with("Execution"));
    let caught = succeeded
        && (failure_seen
            || next.as_ref().is_some_and(|n| {
                catch_targets.contains(n)
                    && t.state.get("Next").and_then(Value::as_str) != Some(n.as_str())
            }));
    let error = if succeeded {
        caught
            .then(|| caught_error(&execution, call.as_ref()))
            .flatten()
    } else {
        Some((
            execution.error.clone().unwrap_or_default(),
            execution.cause.clone().unwrap_or_default(),
        ))
    };
    let retriable = error
        .as_ref()
        .and_then(|(e, _)| retrier_for(&t.state, e, t.retry_count));

    let mut out = Map::new();
    let mut error_details = Map::new();
    let status = if let Some((index, backoff)) = retriable {
        error_details.insert("retryIndex".into(), json!(index));
        error_details.insert("retryBackoffIntervalSeconds".into(), json!(backoff));
        "RETRIABLE"
    } else if !succeeded {
        "FAILED"
    } else if caught {
        if let Some((e, _)) = &error {
            if let Some(i) = handlers(&t.state, "Catch")
                .iter()
                .position(|c| mdlc_asl::error_matches(&error_equals(c), e))
            {
                error_details.insert("catchIndex".into(), json!(i));
            }
        }
        "CAUGHT_ERROR"
    } else {
        "SUCCEEDED"
    };
    out.insert("status".into(), json!(status));
    if matches!(status, "SUCCEEDED" | "CAUGHT_ERROR") {
        out.insert(
            "output".into(),
            text(execution.output.as_ref().unwrap_or(&Value::Null)),
        );
        if let Some(n) = next {
            out.insert("nextState".into(), json!(n));
        }
    }
    if let Some((e, c)) = &error {
        out.insert("error".into(), json!(e));
        out.insert("cause".into(), json!(c));
    }
    if t.debug {
        let mut data = inspection(app, &t, call.as_ref(), status == "SUCCEEDED").await;
        if let Some(vars) = variables_after(&t, &execution, &run_name) {
            data.insert("variables".into(), text(&vars));
        }
        if !error_details.is_empty() {
            data.insert("errorDetails".into(), Value::Object(error_details));
        }
        let exchange = capture
            .http_trace
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let (true, Some(exchange)) = (t.trace, exchange) {
            data.insert("request".into(), exchange.request.to_inspection());
            if let Some(response) = &exchange.response {
                data.insert("response".into(), response.to_inspection());
            }
        }
        out.insert("inspectionData".into(), Value::Object(data));
    }
    Ok(Value::Object(out))
}

/// InspectionData's `variables`: the given `variables` with what the state assigned (its
/// `…StateExited` event's `assignedVariables`); none when there are none.
fn variables_after(t: &TestRequest, execution: &Execution, run_name: &str) -> Option<Value> {
    let mut vars = t.variables.clone().unwrap_or_default();
    let exited = execution.history.iter().rev().find(|e| {
        e.event_type.ends_with("StateExited") && e.details["name"].as_str() == Some(run_name)
    });
    if let Some(Value::Object(assigned)) = exited.and_then(|e| e.details.get("assignedVariables")) {
        vars.extend(assigned.clone());
    }
    (!vars.is_empty()).then_some(Value::Object(vars))
}

/// The data flow of the state (DEBUG and TRACE). `completed`: the state succeeded, so the
/// steps after its result apply.
async fn inspection(
    app: &App,
    t: &TestRequest,
    call: Option<&Call>,
    completed: bool,
) -> Map<String, Value> {
    let st = &t.state;
    let vars = t.variables.as_ref();
    let ty = st.get("Type").and_then(Value::as_str).unwrap_or("");
    let ql = st
        .get("QueryLanguage")
        .or(t.machine_ql.as_ref())
        .and_then(Value::as_str)
        .unwrap_or("JSONPath");
    let mut data = Map::new();
    data.insert("input".into(), text(&t.input));
    let called = call.map(|c| &c.parameters);
    let result = call.and_then(|c| c.outcome.as_ref().ok()).cloned();
    if ql == "JSONata" {
        if let Some(p) = called {
            data.insert("afterArguments".into(), text(p));
        }
        if let Some(r) = &result {
            data.insert("result".into(), text(r));
        }
        return data;
    }
    if ty == "Fail" {
        return data;
    }
    let Some(after_input) = step(
        app,
        fields(st, &["InputPath"]),
        &t.input,
        vars,
        t.context.as_ref(),
    )
    .await
    else {
        return data;
    };
    data.insert("afterInputPath".into(), text(&after_input));
    if !matches!(ty, "Pass" | "Task" | "Parallel") {
        return data;
    }
    if let Some(map) = &t.mocked_map {
        map_steps(app, t, map, &after_input, &mut data).await;
    }
    let after_parameters = match called {
        Some(p) => Some(p.clone()),
        None => {
            step(
                app,
                fields(st, &["Parameters"]),
                &after_input,
                vars,
                t.context.as_ref(),
            )
            .await
        }
    };
    let Some(after_parameters) = after_parameters else {
        return data;
    };
    if t.mocked_map.is_none() {
        data.insert("afterParameters".into(), text(&after_parameters));
    }
    let result = match ty {
        "Pass" => Some(st.get("Result").cloned().unwrap_or(after_parameters)),
        _ => result,
    };
    let Some(result) = result.filter(|_| completed) else {
        return data;
    };
    if t.mocked_map.is_none() {
        data.insert("result".into(), text(&result));
    }
    let after_selector = match st.get("ResultSelector") {
        Some(sel) if ty != "Pass" => {
            match step(
                app,
                json!({"Parameters": sel}),
                &result,
                vars,
                t.context.as_ref(),
            )
            .await
            {
                Some(v) => v,
                None => return data,
            }
        }
        _ => result,
    };
    if st.contains_key("ResultSelector") && ty != "Pass" {
        data.insert("afterResultSelector".into(), text(&after_selector));
    }
    let mut place = fields(st, &["ResultPath"]);
    place["Result"] = after_selector;
    if let Some(v) = step(app, place, &t.input, vars, t.context.as_ref()).await {
        data.insert("afterResultPath".into(), text(&v));
    }
    data
}

/// A mocked Map's own steps (DEBUG and TRACE), as AWS's recorded answers show them:
/// `afterItemsPath`; `afterItemSelector`, the input of each iteration (the engine runs the Map's
/// ItemSelector over the items, each iteration a Pass state); `afterItemBatcher` (the batches);
/// `maxConcurrency`, `toleratedFailureCount` and `toleratedFailurePercentage` when the state sets
/// them. A mocked Map has no `afterParameters` or `result` step.
async fn map_steps(
    app: &App,
    t: &TestRequest,
    map: &Map<String, Value>,
    after_input: &Value,
    data: &mut Map<String, Value>,
) {
    let vars = t.variables.as_ref();
    let context = t.context.as_ref();
    let items_path = map.get("ItemsPath").cloned().unwrap_or(json!("$"));
    if let Some(items) = step(
        app,
        json!({"InputPath": items_path}),
        after_input,
        vars,
        context,
    )
    .await
    {
        data.insert("afterItemsPath".into(), text(&items));
    }
    for (field, key) in [
        ("MaxConcurrency", "maxConcurrency"),
        ("ToleratedFailureCount", "toleratedFailureCount"),
        ("ToleratedFailurePercentage", "toleratedFailurePercentage"),
    ] {
        if let Some(n) = map.get(field).filter(|v| v.is_number()) {
            data.insert(key.into(), n.clone());
        }
    }
    let selector = map.get("ItemSelector").or_else(|| map.get("Parameters"));
    let batcher = map.get("ItemBatcher");
    if selector.is_none() && batcher.is_none() {
        return;
    }
    // the Map itself, each iteration a Pass state passing its input on
    let mut probe: Map<String, Value> = ["ItemsPath", "ItemSelector", "Parameters", "ItemBatcher"]
        .iter()
        .filter_map(|k| map.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();
    probe.insert("Type".into(), json!("Map"));
    let mut processor =
        json!({"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": true}}});
    if let Some(config) = map
        .get("ItemProcessor")
        .and_then(|p| p.get("ProcessorConfig"))
    {
        processor["ProcessorConfig"] = config.clone();
    }
    probe.insert("ItemProcessor".into(), processor);
    probe.insert("End".into(), json!(true));
    let machine = machine_of(&probe, "Step", None, vars);
    let Ok(e) = run(
        app,
        &machine,
        after_input,
        vars,
        context,
        Arc::new(mdlc_asl::NoInvoker),
    )
    .await
    else {
        return;
    };
    if let (ExecutionStatus::Succeeded, Some(out)) = (&e.status, &e.output) {
        let key = if batcher.is_some() {
            "afterItemBatcher"
        } else {
            "afterItemSelector"
        };
        data.insert(key.into(), text(out));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn targets_are_next_default_choice_rules_and_catchers_once_each() {
        let st = obj(json!({
            "Type": "Choice", "Default": "D",
            "Choices": [{"Next": "A"}, {"Next": "B"}, {"Next": "A"}],
        }));
        assert_eq!(targets(&st), vec!["D", "A", "B"]);
        let task =
            obj(json!({"Type": "Task", "Next": "N", "Catch": [{"Next": "C"}, {"Next": "N"}]}));
        assert_eq!(targets(&task), vec!["N", "C"]);
        assert!(targets(&obj(json!({"Type": "Succeed"}))).is_empty());
    }

    #[test]
    fn a_retrier_with_attempts_left_gives_its_index_and_backoff() {
        let st = obj(json!({"Retry": [
            {"ErrorEquals": ["A"], "MaxAttempts": 1},
            {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 3, "BackoffRate": 2, "MaxAttempts": 3, "MaxDelaySeconds": 10},
        ]}));
        assert_eq!(retrier_for(&st, "B", 0), Some((1, 3)));
        assert_eq!(retrier_for(&st, "B", 1), Some((1, 6)));
        // 3 × 2² = 12, capped at 10
        assert_eq!(retrier_for(&st, "B", 2), Some((1, 10)));
        assert_eq!(retrier_for(&st, "B", 3), None);
        // the first matching Retrier decides, even when spent
        assert_eq!(retrier_for(&st, "A", 0), Some((0, 1)));
        assert_eq!(retrier_for(&st, "A", 1), None);
        // States.ALL does not match States.Runtime
        assert_eq!(retrier_for(&st, "States.Runtime", 0), None);
    }

    #[test]
    fn a_mocked_map_keeps_its_data_flow_and_transitions_but_not_its_items() {
        let map = obj(json!({
            "Type": "Map", "ItemsPath": "$.xs", "ItemProcessor": {}, "ResultPath": "$.r",
            "Catch": [], "Next": "N", "MaxConcurrency": 1,
        }));
        let task = as_mocked_task(&map, "Map");
        assert_eq!(
            Value::Object(task),
            json!({"Type": "Task", "Resource": MOCKED_RESOURCE, "ResultPath": "$.r", "Catch": [], "Next": "N"})
        );
    }
}
