//! StartExecution, StartSyncExecution, DescribeExecution, ListExecutions, GetExecutionHistory,
//! StopExecution, DescribeStateMachineForExecution.

use std::sync::Arc;

use mdlc_asl::mock::MockInvoker;
use mdlc_asl::{Clock, ExecutionInputError, RealClock, StateMachine, TaskInvoker, VirtualClock};
use serde_json::{Map, Value, json};

use super::common::{find_execution, internal, paged};
use super::machines::find;
use crate::app::{App, Launch, epoch};
use crate::arn;
use crate::callback::CallbackInvoker;
use crate::error::ApiError;
use crate::history;
use crate::nested::NestedInvoker;
use crate::request::{
    ARN, CAUSE, DATA, ERROR, EXECUTIONS_PAGE_TOKEN, LONG_ARN, NAME, PAGE_TOKEN, Request,
    TRACE_HEADER,
};
use crate::store::{ExecutionRecord, MachineRecord, MachineSnapshot};

const STATUSES: &[&str] = &[
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
    "TIMED_OUT",
    "ABORTED",
    "PENDING_REDRIVE",
];
const INCLUDED_DATA: &[&str] = &["ALL_DATA", "METADATA_ONLY"];

/// The members StartExecution and StartSyncExecution share.
struct StartRequest<'a> {
    machine: MachineRecord,
    test_case: Option<&'a str>,
    name: String,
    input_text: &'a str,
    input: Value,
}

/// Reads and checks a start request: the state machine (`<arn>#<TestCase>` picks a test case of
/// the MockConfigFile), the name, the input.
fn read_start<'a>(
    app: &App,
    body: &'a Map<String, Value>,
    sync: bool,
) -> Result<StartRequest<'a>, ApiError> {
    let mut r = Request::new(body);
    let sm_arn = r.required("stateMachineArn", ARN);
    let name = r.string("name", NAME);
    let input_text = r.string("input", DATA).unwrap_or("{}");
    r.string("traceHeader", TRACE_HEADER);
    if sync {
        r.enumeration("includedData", INCLUDED_DATA);
    }
    r.finish()?;
    let (machine_arn, test_case) = match sm_arn.split_once('#') {
        Some((a, tc)) if app.config.mock.is_some() => (a, Some(tc)),
        _ => (sm_arn, None),
    };
    let machine = find(app, machine_arn)?;
    let name = match name {
        Some(n) => {
            arn::check_name(n)?;
            n.to_string()
        }
        None => uuid::Uuid::new_v4().to_string(),
    };
    let input: Value = serde_json::from_str(input_text)
        .map_err(|e| ApiError::invalid_execution_input(&e.to_string()))?;
    mdlc_asl::check_execution_input(&input).map_err(|e| match e {
        ExecutionInputError::TooLarge => ApiError::validation_message(e.to_string()),
        ExecutionInputError::TooDeep => ApiError::invalid_execution_input(&e.to_string()),
    })?;
    Ok(StartRequest {
        machine,
        test_case,
        name,
        input_text,
        input,
    })
}

/// The invoker of execution `execution_arn`: the server's, nested `startExecution` as
/// executions of this server, with the callback pattern (its tokens the execution's), under the
/// test case's mocked responses when one is chosen.
fn invoker_for(
    app: &App,
    machine: &str,
    test_case: Option<&str>,
    execution_arn: &str,
) -> Result<Arc<dyn TaskInvoker>, ApiError> {
    let nested: Arc<dyn TaskInvoker> = Arc::new(NestedInvoker {
        inner: app.config.invoker.clone(),
        app: app.weak(),
        start: start_child,
    });
    let base: Arc<dyn TaskInvoker> = Arc::new(CallbackInvoker {
        inner: nested,
        tokens: app.tokens.clone(),
        execution: execution_arn.to_string(),
    });
    let (Some(tc), Some(config)) = (test_case, &app.config.mock) else {
        return Ok(base);
    };
    for problem in config.problems_outside(machine, tc) {
        tracing::warn!(target: "mdlc::serve", "MockConfigFile (test case {tc} is run; this one is not): {problem}");
    }
    let mock = MockInvoker::new(config.clone(), machine, tc, Some(base))
        .map_err(|e| ApiError::validation_message(format!("MockConfigFile: {e}")))?;
    Ok(Arc::new(mock))
}

fn clock(app: &App) -> Arc<dyn Clock> {
    if app.config.real_time {
        Arc::new(RealClock)
    } else {
        Arc::new(VirtualClock::new())
    }
}

/// Starts an execution; returns its record and the task running it (none when an identical
/// request found the execution already running).
fn launch(
    app: &App,
    s: StartRequest<'_>,
    bounded: bool,
) -> Result<(ExecutionRecord, Option<tokio::task::JoinHandle<()>>), ApiError> {
    let machine = StateMachine::from_json_str(&s.machine.definition)
        .map_err(|e| ApiError::invalid_definition(&e.to_string()))?;
    let express = s.machine.kind == "EXPRESS";
    let express_id = express.then(|| uuid::Uuid::new_v4().to_string());
    let execution_arn = match &express_id {
        Some(id) => arn::express_execution(&s.machine.name, &s.name, id),
        None => arn::execution(&s.machine.name, &s.name),
    };
    let invoker = invoker_for(app, &s.machine.name, s.test_case, &execution_arn)?;
    let clock = clock(app);
    let record = ExecutionRecord {
        execution_arn,
        state_machine_arn: s.machine.state_machine_arn.clone(),
        name: s.name,
        status: "RUNNING".into(),
        start_date: epoch(clock.now()),
        stop_date: None,
        input: s.input_text.to_string(),
        output: None,
        error: None,
        cause: None,
        history: Vec::new(),
        seq: app.next_seq(),
        express_id,
        test_case: s.test_case.map(str::to_string),
        machine: MachineSnapshot {
            name: s.machine.name.clone(),
            definition: s.machine.definition.clone(),
            role_arn: s.machine.role_arn.clone(),
            update_date: s.machine.update_date,
            revision_id: s.machine.revision_id.clone(),
        },
        map_runs: Vec::new(),
        map_run_arn: None,
    };
    if let Err(existing) = app.reserve(&record) {
        // StartExecution is idempotent for a RUNNING execution started with the same input;
        // otherwise the name is taken.
        if existing.is_running() && existing.input == record.input {
            return Ok((*existing, None));
        }
        return Err(ApiError::execution_already_exists(&existing.execution_arn));
    }
    let handle = app
        .launch(Launch {
            record: record.clone(),
            machine,
            input: s.input,
            invoker,
            clock,
            bounded,
        })
        .map_err(internal)?;
    Ok((record, Some(handle)))
}

pub fn start(app: &App, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let s = read_start(app, body, false)?;
    let (record, _) = launch(app, s, true)?;
    Ok(json!({"executionArn": record.execution_arn, "startDate": record.start_date}))
}

/// StartExecution of a nested `arn:aws:states:::states:startExecution[...]` Task: the same checks
/// and start as a client's request (`body` has its members); returns the child's record and the
/// task running it (none when an identical request found it already running). A child its
/// parent waits for (`parent_waits`) takes no slot of `max_concurrent` (see [`Launch::bounded`]).
pub(crate) fn start_child(
    app: &App,
    body: &Map<String, Value>,
    parent_waits: bool,
) -> Result<(ExecutionRecord, Option<tokio::task::JoinHandle<()>>), ApiError> {
    let s = read_start(app, body, false)?;
    launch(app, s, !parent_waits)
}

pub async fn start_sync(app: &App, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let s = read_start(app, body, true)?;
    if s.machine.kind != "EXPRESS" {
        return Err(ApiError::service(
            "StateMachineTypeNotSupported",
            format!(
                "This operation is not supported by STANDARD state machines: '{}'",
                s.machine.state_machine_arn
            ),
        ));
    }
    let (record, handle) = launch(app, s, true)?;
    if let Some(h) = handle {
        let _ = h.await;
    }
    let r = app
        .execution(&record.execution_arn)
        .ok_or_else(|| ApiError::execution_does_not_exist(&record.execution_arn))?;
    let mut out = json!({
        "executionArn": r.execution_arn,
        "stateMachineArn": r.state_machine_arn,
        "name": r.name,
        "startDate": r.start_date,
        "stopDate": r.stop_date.unwrap_or(r.start_date),
        "status": r.status,
        "input": r.input,
        "inputDetails": {"included": true},
    });
    insert_outcome(&mut out, &r, true);
    Ok(out)
}

/// `output`/`outputDetails` (when included), `error`, `cause` of a finished execution.
fn insert_outcome(out: &mut Value, r: &ExecutionRecord, include_data: bool) {
    if let Some(o) = r.output.as_ref().filter(|_| include_data) {
        out["output"] = json!(o);
        out["outputDetails"] = json!({"included": true});
    }
    if let Some(e) = &r.error {
        out["error"] = json!(e);
    }
    if let Some(c) = &r.cause {
        out["cause"] = json!(c);
    }
}

pub fn describe(app: &App, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut r = Request::new(body);
    let ex_arn = r.required("executionArn", ARN);
    let included = r.enumeration("includedData", INCLUDED_DATA);
    r.finish()?;
    let e = find_execution(app, ex_arn)?;
    let include_data = included != Some("METADATA_ONLY");
    let mut out = json!({
        "executionArn": e.execution_arn,
        "stateMachineArn": e.state_machine_arn,
        "name": e.name,
        "status": e.status,
        "startDate": e.start_date,
    });
    if let Some(stop) = e.stop_date {
        out["stopDate"] = json!(stop);
    }
    if let Some(m) = &e.map_run_arn {
        out["mapRunArn"] = json!(m);
    }
    if include_data {
        out["input"] = json!(e.input);
        out["inputDetails"] = json!({"included": true});
    }
    insert_outcome(&mut out, &e, include_data);
    Ok(out)
}

pub fn list(app: &App, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut r = Request::new(body);
    let sm_arn = r.string("stateMachineArn", ARN);
    let status = r.enumeration("statusFilter", STATUSES);
    let max = r.integer("maxResults", 0, 1000);
    let token = r.string("nextToken", EXECUTIONS_PAGE_TOKEN);
    let map_run = r.string("mapRunArn", LONG_ARN);
    let redrive = r.enumeration("redriveFilter", &["REDRIVEN", "NOT_REDRIVEN"]);
    if sm_arn.is_none() && map_run.is_none() {
        r.violation(crate::error::constraint(
            None,
            "stateMachineArn",
            "Member must not be null",
        ));
    }
    r.finish()?;
    let executions = match (sm_arn, map_run) {
        (Some(_), Some(_)) => {
            // The API reference: "You can specify either a mapRunArn or a stateMachineArn, but
            // not both." AWS's own message for it was not found; this one is the server's.
            return Err(ApiError::validation_message(
                "Specify either a stateMachineArn or a mapRunArn, not both",
            ));
        }
        (_, Some(m)) => super::map_runs::children(app, m)?,
        (sm, None) => {
            let machine = find(app, sm.unwrap_or(""))?;
            app.executions_of(&machine.state_machine_arn)
        }
    };
    let items: Vec<Value> = executions
        .into_iter()
        .filter(|e| status.is_none_or(|s| s == e.status))
        // no execution of this server is ever redriven
        .filter(|_| redrive != Some("REDRIVEN"))
        .map(|e| {
            let mut item = json!({
                "executionArn": e.execution_arn,
                "stateMachineArn": e.state_machine_arn,
                "name": e.name,
                "status": e.status,
                "startDate": e.start_date,
            });
            if let Some(m) = &e.map_run_arn {
                item["mapRunArn"] = json!(m);
            }
            if let Some(stop) = e.stop_date {
                item["stopDate"] = json!(stop);
            }
            item
        })
        .collect();
    paged("executions", items, max, token)
}

pub fn history(app: &App, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut r = Request::new(body);
    let ex_arn = r.required("executionArn", ARN);
    let max = r.integer("maxResults", 0, 1000);
    let reverse = r.boolean("reverseOrder").unwrap_or(false);
    let token = r.string("nextToken", PAGE_TOKEN);
    let include_data = r.boolean("includeExecutionData").unwrap_or(true);
    r.finish()?;
    let e = find_execution(app, ex_arn)?;
    let mut events: Vec<Value> = e
        .history
        .iter()
        .map(|ev| history::to_aws(ev, include_data))
        .collect();
    if reverse {
        events.reverse();
    }
    paged("events", events, max, token)
}

pub fn stop(app: &App, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut r = Request::new(body);
    let ex_arn = r.required("executionArn", ARN);
    let error = r.string("error", ERROR);
    let cause = r.string("cause", CAUSE);
    r.finish()?;
    let e = find_execution(app, ex_arn)?;
    let stop_date = app
        .stop(&e.execution_arn, error, cause)
        .map_err(internal)?
        .unwrap_or(e.start_date);
    Ok(json!({"stopDate": stop_date}))
}

pub fn describe_machine(app: &App, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut r = Request::new(body);
    let ex_arn = r.required("executionArn", ARN);
    r.enumeration("includedData", INCLUDED_DATA);
    r.finish()?;
    let e = find_execution(app, ex_arn)?;
    let m = &e.machine;
    let mut out = json!({
        "stateMachineArn": e.state_machine_arn,
        "name": m.name,
        "definition": m.definition,
        "roleArn": m.role_arn,
        "updateDate": m.update_date,
        "loggingConfiguration": {"level": "OFF", "includeExecutionData": false},
        "tracingConfiguration": {"enabled": false},
    });
    if !m.revision_id.is_empty() {
        out["revisionId"] = json!(m.revision_id);
    }
    // a child execution of a Map Run: the run and its label (`<machine>/<label>`)
    if let Some(run) = &e.map_run_arn {
        out["mapRunArn"] = json!(run);
        if let Some((_, label)) = e.state_machine_arn.rsplit_once('/') {
            out["label"] = json!(label);
        }
    }
    Ok(out)
}
