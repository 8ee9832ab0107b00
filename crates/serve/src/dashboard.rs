//! The dashboard: `GET /` (a browser; the API stays on `POST /`) answers one self-contained page
//! (inline style and script, nothing fetched from elsewhere) that polls small JSON endpoints of
//! this server and shows the state machines, the executions live (status, the state graph with
//! the states visited and the current one, the history) and the local cloud's model registry
//! with its metric history.
//!
//! | Route | Answer |
//! | --- | --- |
//! | `GET /` | the page |
//! | `GET /dashboard/api/state-machines` | `{"stateMachines": [...]}`, by name |
//! | `GET /dashboard/api/executions` | `{"executions": [...], "total": n}`, newest first, at most [`EXECUTIONS_LISTED`] |
//! | `GET /dashboard/api/executions/{executionArn}` | one execution with its graph (SVG) and history; 404 if unknown |
//! | `GET /dashboard/api/registry` | the models of `<state dir>/registry`, with their tables and charts (HTML) |
//!
//! The graph, the tables of versions and evaluations and the metric charts are drawn by the
//! report's renderer (`mdlc_local::report`), as `mdlc report` draws them; the page only places
//! them.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mdlc_asl::HistoryEvent;
use mdlc_core::ports::RegistryRead;
use mdlc_local::FsRegistry;
use mdlc_local::report::{self, escape};
use serde_json::{Value, json};

use crate::app::App;
use crate::history;
use crate::store::ExecutionRecord;

/// Where the JSON endpoints are.
pub const API: &str = "/dashboard/api";
/// How many executions the list holds (the newest).
pub const EXECUTIONS_LISTED: usize = 200;

/// The page, with `/*STYLE*/`, `<!--STATE-DIR-->` and `<!--GRAPH-KEY-->` filled in when served.
const PAGE: &str = include_str!("dashboard/page.html");

/// The dashboard's routes other than `GET /` ([`page`], wired in [`crate::protocol::router`]).
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/dashboard/api/state-machines", get(get_state_machines))
        .route("/dashboard/api/executions", get(get_executions))
        .route("/dashboard/api/executions/{arn}", get(get_execution))
        .route("/dashboard/api/registry", get(get_registry))
}

/// `GET /`: the page.
pub async fn page(State(app): State<Arc<App>>) -> Response {
    let html = render_page(&app.config.state_dir);
    let mut response = html.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The page for a server on `state_dir`.
pub fn render_page(state_dir: &Path) -> String {
    PAGE.replacen("/*STYLE*/", report::STYLE, 1)
        .replacen(
            "<!--STATE-DIR-->",
            &escape(&state_dir.display().to_string()),
            1,
        )
        .replacen("<!--GRAPH-KEY-->", &report::graph_key(true), 1)
}

/// A JSON answer of the dashboard (`application/json`, never cached).
fn json_answer(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn get_state_machines(State(app): State<Arc<App>>) -> Response {
    json_answer(StatusCode::OK, &state_machines(&app))
}

async fn get_executions(State(app): State<Arc<App>>) -> Response {
    json_answer(StatusCode::OK, &executions(&app))
}

async fn get_execution(State(app): State<Arc<App>>, UrlPath(arn): UrlPath<String>) -> Response {
    match app.execution(&arn) {
        Some(record) => json_answer(StatusCode::OK, &execution_detail(&record)),
        None => json_answer(
            StatusCode::NOT_FOUND,
            &json!({"message": format!("Execution Does Not Exist: '{arn}'")}),
        ),
    }
}

async fn get_registry(State(app): State<Arc<App>>) -> Response {
    match registry(&app.config.state_dir).await {
        Ok(v) => json_answer(StatusCode::OK, &v),
        Err(message) => json_answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"message": message}),
        ),
    }
}

/// Every state machine, by name, with how many of its executions there are and run now.
pub fn state_machines(app: &App) -> Value {
    let counts = app.map_executions(|r| (r.state_machine_arn.clone(), r.is_running()));
    let machines: Vec<Value> = app
        .machines()
        .iter()
        .map(|m| {
            let of: Vec<bool> = counts
                .iter()
                .filter(|(arn, _)| *arn == m.state_machine_arn)
                .map(|(_, running)| *running)
                .collect();
            json!({
                "name": m.name,
                "stateMachineArn": m.state_machine_arn,
                "type": m.kind,
                "creationDate": m.creation_date,
                "updateDate": m.update_date,
                "states": state_names(&m.definition),
                "executions": of.len(),
                "running": of.iter().filter(|r| **r).count(),
            })
        })
        .collect();
    json!({ "stateMachines": machines })
}

/// The top-level states of a definition, in its order (none if it is not JSON).
fn state_names(definition: &str) -> Vec<String> {
    serde_json::from_str::<Value>(definition)
        .ok()
        .and_then(|d| {
            d.get("States")
                .and_then(Value::as_object)
                .map(|s| s.keys().cloned().collect())
        })
        .unwrap_or_default()
}

/// The states an execution is in: entered and not left (none once it has ended).
fn current_states(r: &ExecutionRecord) -> Vec<String> {
    if !r.is_running() {
        return Vec::new();
    }
    let (stats, path) = report::analyse_history(&r.history);
    let mut current: Vec<String> = Vec::new();
    for name in path {
        if stats.get(&name).is_some_and(|s| s.unfinished) && !current.contains(&name) {
            current.push(name);
        }
    }
    current
}

/// One execution as the list shows it.
fn summary(r: &ExecutionRecord) -> Value {
    json!({
        "executionArn": r.execution_arn,
        "name": r.name,
        "stateMachineArn": r.state_machine_arn,
        "stateMachineName": r.machine.name,
        "status": r.status,
        "startDate": r.start_date,
        "stopDate": r.stop_date,
        "events": r.history.len(),
        "currentStates": current_states(r),
        "testCase": r.test_case,
    })
}

/// The newest executions (at most [`EXECUTIONS_LISTED`]) and how many there are.
pub fn executions(app: &App) -> Value {
    let all = app.map_executions(summary);
    let total = all.len();
    let listed: Vec<Value> = all.into_iter().take(EXECUTIONS_LISTED).collect();
    json!({ "executions": listed, "total": total })
}

/// The state an event belongs to, if it names one.
fn event_state(e: &HistoryEvent) -> Option<&str> {
    e.details.get("name").and_then(Value::as_str)
}

/// One execution: its summary, data, state graph (SVG, the report's), per-state statistics and
/// history (GetExecutionHistory's shape without execution data, plus the state's name).
pub fn execution_detail(r: &ExecutionRecord) -> Value {
    let (stats, path) = report::analyse_history(&r.history);
    let graph = match serde_json::from_str::<Value>(&r.machine.definition) {
        Ok(definition) => {
            report::execution_graph_svg(&definition, &stats, &path, 0, r.is_running())
        }
        Err(e) => format!(
            "<p class=\"muted\">(the definition is not JSON: {})</p>",
            escape(&e.to_string())
        ),
    };
    let mut seen = Vec::new();
    let states: Vec<Value> = path
        .iter()
        .filter(|name| {
            let first = !seen.contains(*name);
            seen.push((*name).clone());
            first
        })
        .filter_map(|name| {
            stats.get(name).map(|s| {
                json!({
                    "name": name,
                    "visits": s.visits,
                    "millis": s.millis,
                    "failures": s.failures,
                    "current": r.is_running() && s.unfinished,
                })
            })
        })
        .collect();
    let events: Vec<Value> = r
        .history
        .iter()
        .map(|e| {
            let mut v = history::to_aws(e, false);
            if let Some(name) = event_state(e) {
                v["state"] = json!(name);
            }
            v
        })
        .collect();
    let mut out = summary(r);
    let extra = json!({
        "input": r.input,
        "output": r.output,
        "error": r.error,
        "cause": r.cause,
        "graph": graph,
        "states": states,
        "history": events,
    });
    if let (Some(o), Some(x)) = (out.as_object_mut(), extra.as_object()) {
        o.extend(x.clone());
    }
    out
}

/// The model registry of the local cloud in `<state_dir>/registry`: each model's versions and
/// evaluations, and as HTML the report's version table, metric charts and drift heat map.
pub async fn registry(state_dir: &Path) -> Result<Value, String> {
    let dir = state_dir.join("registry");
    let shown = dir.display().to_string();
    if !dir.is_dir() {
        return Ok(json!({
            "directory": shown,
            "exists": false,
            "models": [],
            "html": format!(
                "<p class=\"muted\">No model registry in {} (the local cloud writes one when a model is registered).</p>",
                escape(&shown)
            ),
        }));
    }
    let registry = FsRegistry::new(&dir);
    let fail = |e: mdlc_core::PortError| format!("reading the model registry {shown}: {e}");
    let mut models = Vec::new();
    let mut html = String::new();
    let names = registry.models().await.map_err(fail)?;
    if names.is_empty() {
        let _ = write!(
            html,
            "<p class=\"muted\">No model registered in {}.</p>",
            escape(&shown)
        );
    }
    for name in names {
        let versions = registry.list_versions(&name).await.map_err(fail)?;
        let evaluations = registry.list_evaluations(&name, None).await.map_err(fail)?;
        let metrics: std::collections::BTreeSet<&str> = evaluations
            .iter()
            .flat_map(|e| e.metrics.keys().map(String::as_str))
            .collect();
        models.push(json!({
            "name": name,
            "versions": versions.len(),
            "evaluations": evaluations.len(),
            "metrics": metrics,
        }));
        let _ = write!(
            html,
            "<section class=\"model\" data-model=\"{0}\"><h3>Model {0}</h3><h4>Versions</h4>{1}<h4>Evaluations and metric history</h4>{2}</section>",
            escape(&name),
            report::versions_table(&versions),
            report::evaluations_section(&evaluations)
        );
    }
    Ok(json!({
        "directory": shown,
        "exists": true,
        "models": models,
        "html": html,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MachineSnapshot;
    use mdlc_core::ports::RegistryWrite;

    fn event(id: u64, ty: &str, name: Option<&str>) -> HistoryEvent {
        HistoryEvent {
            id,
            previous_event_id: id - 1,
            timestamp: format!("2026-12-06T10:00:0{id}.000Z"),
            event_type: ty.into(),
            details: match name {
                Some(n) => json!({"name": n, "input": {"secret": 1}}),
                None => json!({"input": {"secret": 1}, "roleArn": "r"}),
            },
        }
    }

    fn record(status: &str, history: Vec<HistoryEvent>) -> ExecutionRecord {
        let definition = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "Next": "C"},
            "C": {"Type": "Succeed"}}});
        ExecutionRecord {
            execution_arn: "arn:aws:states:us-east-1:000000000000:execution:m:e".into(),
            state_machine_arn: "arn:aws:states:us-east-1:000000000000:stateMachine:m".into(),
            name: "e".into(),
            status: status.into(),
            start_date: 1.5,
            stop_date: None,
            input: "{}".into(),
            output: None,
            error: None,
            cause: None,
            history,
            seq: 0,
            express_id: None,
            test_case: None,
            machine: MachineSnapshot {
                name: "m".into(),
                definition: definition.to_string(),
                role_arn: "r".into(),
                update_date: 1.0,
                revision_id: "x".into(),
            },
            map_runs: Vec::new(),
            map_run_arn: None,
        }
    }

    fn running_history() -> Vec<HistoryEvent> {
        vec![
            event(1, "ExecutionStarted", None),
            event(2, "PassStateEntered", Some("A")),
            event(3, "PassStateExited", Some("A")),
            event(4, "TaskStateEntered", Some("B")),
            event(5, "TaskScheduled", None),
        ]
    }

    #[test]
    fn a_running_execution_shows_its_current_state_in_the_list_and_the_graph() {
        let r = record("RUNNING", running_history());
        let s = summary(&r);
        assert_eq!(s["currentStates"], json!(["B"]));
        assert_eq!(s["events"], json!(5));
        assert_eq!(s["stateMachineName"], json!("m"));
        let d = execution_detail(&r);
        let graph = d["graph"].as_str().unwrap();
        assert!(
            graph.contains(r#"<g class="node visited" data-state="A">"#),
            "{graph}"
        );
        assert!(
            graph.contains(r#"<g class="node current" data-state="B">"#),
            "{graph}"
        );
        assert!(
            graph.contains(r#"<g class="node" data-state="C">"#),
            "{graph}"
        );
        assert_eq!(
            d["states"],
            json!([
                {"name": "A", "visits": 1, "millis": 1000, "failures": 0, "current": false},
                {"name": "B", "visits": 1, "millis": 0, "failures": 0, "current": true}
            ])
        );
        let history = d["history"].as_array().unwrap();
        assert_eq!(history.len(), 5);
        assert_eq!(history[1]["type"], json!("PassStateEntered"));
        assert_eq!(history[1]["state"], json!("A"));
        assert_eq!(history[0].get("state"), None);
        // the history as GetExecutionHistory shows it without execution data
        assert_eq!(
            history[0]["executionStartedEventDetails"],
            json!({"roleArn": "r"})
        );
        assert_eq!(history[1]["stateEnteredEventDetails"], json!({"name": "A"}));
    }

    #[test]
    fn an_ended_execution_has_no_current_state_and_marks_where_it_stopped() {
        let mut history = running_history();
        history.push(event(6, "ExecutionAborted", None));
        let r = record("ABORTED", history);
        assert_eq!(summary(&r)["currentStates"], json!([]));
        let d = execution_detail(&r);
        assert!(
            d["graph"]
                .as_str()
                .unwrap()
                .contains(r#"<g class="node failed" data-state="B">"#)
        );
        assert_eq!(d["states"][1]["current"], json!(false));
    }

    #[test]
    fn state_names_are_the_definitions_top_level_states_in_order() {
        assert_eq!(
            state_names(r#"{"StartAt":"Z","States":{"Z":{},"A":{}}}"#),
            vec!["Z", "A"]
        );
        assert_eq!(state_names("not json"), Vec::<String>::new());
    }

    #[test]
    fn the_page_is_self_contained_with_the_reports_style_and_the_state_directory() {
        let html = render_page(Path::new("/tmp/a<b>"));
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains(report::STYLE));
        assert!(html.contains("/tmp/a&lt;b&gt;"));
        assert!(
            html.contains(r#"<g class="node current">"#),
            "the graph key"
        );
        assert!(!html.contains("/*STYLE*/") && !html.contains("<!--"));
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(!html.contains(" src="), "no script or image is fetched");
    }

    #[tokio::test]
    async fn the_registry_is_reported_absent_or_with_each_models_versions_and_charts() {
        let dir = tempfile::tempdir().unwrap();
        let none = registry(dir.path()).await.unwrap();
        assert_eq!(none["exists"], json!(false));
        assert_eq!(none["models"], json!([]));

        let reg = FsRegistry::new(dir.path().join("registry"));
        let v = reg
            .register(mdlc_core::contract::sample_version("churn", "exec-1"))
            .await
            .unwrap();
        for (i, at) in ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"]
            .iter()
            .enumerate()
        {
            reg.put_evaluation(mdlc_core::contract::sample_evaluation(
                "churn",
                v.version.version,
                at,
                &format!("eval-{i}"),
            ))
            .await
            .unwrap();
        }
        let got = registry(dir.path()).await.unwrap();
        assert_eq!(got["exists"], json!(true));
        assert_eq!(
            got["models"],
            json!([{"name": "churn", "versions": 1, "evaluations": 2, "metrics": ["r2", "rmse"]}])
        );
        let html = got["html"].as_str().unwrap();
        assert!(html.contains(r#"<section class="model" data-model="churn">"#));
        assert_eq!(
            html.matches("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\"")
                .count(),
            2,
            "{html}"
        );
    }
}
