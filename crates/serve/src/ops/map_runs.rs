//! DescribeMapRun, ListMapRuns, and ListExecutions of a Map Run's child executions (the Map
//! Runs of Distributed Map states, kept in the record of the execution that started them).

use serde_json::{Map, Value, json};

use super::common::paged;
use crate::app::App;
use crate::arn::{self, Target};
use crate::error::ApiError;
use crate::request::{ARN, LONG_ARN, PAGE_TOKEN, Request};
use crate::store::{ExecutionRecord, MapRunRecord};

/// AWS's answer to an unknown Map Run ARN (the message as the server's other
/// `ResourceNotFound` answers word it).
fn not_found(map_run_arn: &str) -> ApiError {
    ApiError::service(
        "ResourceNotFound",
        format!("Resource not found: '{map_run_arn}'"),
    )
}

/// The Map Run an ARN names: `InvalidArn` or `ResourceNotFound` otherwise.
fn find<T>(app: &App, arn: &str, f: impl FnOnce(&MapRunRecord) -> T) -> Result<T, ApiError> {
    match arn::parse_map_run(arn)? {
        Target::Execution => app.with_map_run(arn, f).ok_or_else(|| not_found(arn)),
        _ => Err(not_found(arn)),
    }
}

pub fn describe(app: &App, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut r = Request::new(body);
    let run_arn = r.required("mapRunArn", LONG_ARN);
    r.finish()?;
    find(app, run_arn, |m| {
        let mut out = json!({
            "mapRunArn": m.map_run_arn,
            "executionArn": m.execution_arn,
            "status": m.status,
            "startDate": m.start_date,
            "maxConcurrency": m.max_concurrency,
            "toleratedFailurePercentage": m.tolerated_failure_percentage,
            "toleratedFailureCount": m.tolerated_failure_count,
            "itemCounts": m.item_counts,
            "executionCounts": m.execution_counts,
            "redriveCount": 0,
        });
        if let Some(stop) = m.stop_date {
            out["stopDate"] = json!(stop);
        }
        out
    })
}

pub fn list(app: &App, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut r = Request::new(body);
    let ex_arn = r.required("executionArn", ARN);
    let max = r.integer("maxResults", 0, 1000);
    let token = r.string("nextToken", PAGE_TOKEN);
    r.finish()?;
    let e = super::common::find_execution(app, ex_arn)?;
    let items = e
        .map_runs
        .iter()
        .rev()
        .map(|m| {
            let mut item = json!({
                "executionArn": m.execution_arn,
                "mapRunArn": m.map_run_arn,
                "stateMachineArn": m.state_machine_arn,
                "startDate": m.start_date,
            });
            if let Some(stop) = m.stop_date {
                item["stopDate"] = json!(stop);
            }
            item
        })
        .collect();
    paged("mapRuns", items, max, token)
}

/// ListExecutions with `mapRunArn`: the run's child executions, newest first, each with its
/// `mapRunArn`.
pub fn children(app: &App, map_run_arn: &str) -> Result<Vec<ExecutionRecord>, ApiError> {
    let mut children = find(app, map_run_arn, |m| m.children.clone())?;
    children.sort_by(|a, b| {
        b.start_date
            .total_cmp(&a.start_date)
            .then(b.seq.cmp(&a.seq))
    });
    Ok(children)
}
