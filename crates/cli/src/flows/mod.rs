//! The project's two flows (training, evaluation) and their executions, the same on the local
//! cloud ([`local`]: `<state dir>/executions/`) and on a deployed stack ([`aws`]: Step Functions'
//! ListExecutions, DescribeExecution and GetExecutionHistory).

pub mod aws;
pub mod local;

use std::collections::BTreeMap;

use mdlc_asl::{Execution, ExecutionStatus, HistoryEvent};
use mdlc_local::journal::ExecutionRecord;
use mdlc_local::report::analyse;
use serde::Serialize;
use serde_json::Value;

use crate::error::CliError;

/// One of the project's flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Training,
    Evaluation,
}

impl Flow {
    pub const ALL: [Flow; 2] = [Flow::Training, Flow::Evaluation];

    /// The state machine's name in the local cloud and in reports (`training`, `evaluation`).
    pub fn name(self) -> &'static str {
        match self {
            Flow::Training => "training",
            Flow::Evaluation => "evaluation",
        }
    }
}

/// `RUNNING`: the status of an execution that has not ended (the terminal ones are
/// [`ExecutionStatus::as_str`]).
pub const RUNNING: &str = "RUNNING";

/// One execution in a list (`mdlc executions list`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionSummary {
    pub name: String,
    pub execution_arn: String,
    /// The flow (`training`, `evaluation`) or, for other state machines, their name.
    pub state_machine: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT` or `ABORTED`.
    pub status: String,
    /// RFC 3339.
    pub started_at: Option<String>,
    pub stopped_at: Option<String>,
}

/// What happened in one state during an execution.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StateTiming {
    pub state: String,
    pub visits: u32,
    pub failures: u32,
    /// Time between entering and leaving, summed over the visits.
    pub duration_ms: i64,
    /// Entered but never left (where a failed execution stopped, or where it runs now).
    pub unfinished: bool,
}

/// One execution in detail (`mdlc executions show`, and the outcome of `mdlc train`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDetail {
    #[serde(flatten)]
    pub summary: ExecutionSummary,
    /// The execution that started this one (an evaluation's retrain), when known.
    pub parent_arn: Option<String>,
    /// The top-level states in the order they were entered.
    pub path: Vec<String>,
    /// Per state, in the order of first entry.
    pub states: Vec<StateTiming>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// The output of a succeeded execution.
    pub output: Option<Value>,
}

impl ExecutionDetail {
    /// Whether the execution has ended.
    pub fn ended(&self) -> bool {
        self.summary.status != RUNNING
    }

    /// 0 when it succeeded (or still runs), 1 for another terminal status.
    pub fn exit_code(&self) -> i32 {
        match self.summary.status.as_str() {
            "SUCCEEDED" | RUNNING => crate::exit::OK,
            _ => crate::exit::FAILED,
        }
    }
}

/// A terminal status from its Step Functions name.
pub fn terminal_status(name: &str) -> Option<ExecutionStatus> {
    [
        ExecutionStatus::Succeeded,
        ExecutionStatus::Failed,
        ExecutionStatus::TimedOut,
        ExecutionStatus::Aborted,
    ]
    .into_iter()
    .find(|s| s.as_str() == name)
}

/// The summary of a recorded (ended) execution.
pub fn summary_of(record: &ExecutionRecord) -> ExecutionSummary {
    ExecutionSummary {
        name: record.name.clone(),
        execution_arn: record.arn.clone(),
        state_machine: record.state_machine_name.clone(),
        status: record.execution.status.as_str().to_string(),
        started_at: Some(record.started_at.clone()),
        stopped_at: Some(record.stopped_at.clone()),
    }
}

/// The detail of a recorded (ended) execution: path and timings from its history.
pub fn detail_of(record: &ExecutionRecord) -> ExecutionDetail {
    let (path, states) = path_and_states(record);
    ExecutionDetail {
        summary: summary_of(record),
        parent_arn: record.parent_arn.clone(),
        path,
        states,
        error: record.execution.error.clone(),
        cause: record.execution.cause.clone(),
        output: record.execution.output.clone(),
    }
}

/// The detail of an execution still running, from its history so far.
pub fn running_detail(summary: ExecutionSummary, history: Vec<HistoryEvent>) -> ExecutionDetail {
    // The report's analysis reads only the history of a record; the status is not looked at.
    let record = ExecutionRecord {
        state_machine_name: summary.state_machine.clone(),
        state_machine_arn: String::new(),
        name: summary.name.clone(),
        arn: summary.execution_arn.clone(),
        parent_arn: None,
        input: Value::Null,
        started_at: String::new(),
        stopped_at: String::new(),
        execution: Execution {
            status: ExecutionStatus::Aborted,
            output: None,
            error: None,
            cause: None,
            history,
        },
    };
    let (path, states) = path_and_states(&record);
    ExecutionDetail {
        summary,
        parent_arn: None,
        path,
        states,
        error: None,
        cause: None,
        output: None,
    }
}

fn path_and_states(record: &ExecutionRecord) -> (Vec<String>, Vec<StateTiming>) {
    let (stats, path) = analyse(record);
    let mut order: Vec<&String> = Vec::new();
    for name in &path {
        if !order.contains(&name) {
            order.push(name);
        }
    }
    let states = order
        .into_iter()
        .filter_map(|name| {
            stats.get(name).map(|s| StateTiming {
                state: name.clone(),
                visits: s.visits,
                failures: s.failures,
                duration_ms: s.millis,
                unfinished: s.unfinished,
            })
        })
        .collect();
    (path, states)
}

/// Newest first (as ListExecutions), then by name.
pub fn sort_newest_first(list: &mut [ExecutionSummary]) {
    list.sort_by(|a, b| {
        b.started_at
            .cmp(&a.started_at)
            .then_with(|| a.name.cmp(&b.name))
    });
}

/// The execution `id` (a name or an ARN) among `candidates`; a name of several executions is a
/// usage error listing their ARNs.
pub fn pick<T>(id: &str, candidates: Vec<T>, arn_of: impl Fn(&T) -> &str) -> Result<T, CliError> {
    match candidates.len() {
        0 => Err(CliError::NotFound(format!(
            "execution {id:?} does not exist"
        ))),
        1 => candidates
            .into_iter()
            .next()
            .ok_or_else(|| CliError::NotFound(format!("execution {id:?} does not exist"))),
        _ => Err(CliError::Usage(format!(
            "execution name {id:?} is ambiguous; give one of the ARNs: {}",
            candidates
                .iter()
                .map(|c| arn_of(c).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The project state machines' definitions by flow name (for the report).
pub type Definitions = BTreeMap<String, Value>;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(id: u64, at: &str, kind: &str, name: &str) -> HistoryEvent {
        HistoryEvent {
            id,
            previous_event_id: id.saturating_sub(1),
            timestamp: at.into(),
            event_type: kind.into(),
            details: json!({ "name": name }),
        }
    }

    #[test]
    fn given_a_history_then_the_path_and_per_state_durations_follow_it() {
        let history = vec![
            event(1, "2026-01-01T00:00:00.000Z", "ExecutionStarted", ""),
            event(2, "2026-01-01T00:00:00.000Z", "TaskStateEntered", "Init"),
            event(3, "2026-01-01T00:00:01.500Z", "TaskStateExited", "Init"),
            event(4, "2026-01-01T00:00:01.500Z", "TaskStateEntered", "Train"),
            event(5, "2026-01-01T00:00:04.000Z", "TaskFailed", "Train"),
        ];
        let summary = ExecutionSummary {
            name: "x".into(),
            execution_arn: "arn:x".into(),
            state_machine: "training".into(),
            status: RUNNING.into(),
            started_at: None,
            stopped_at: None,
        };
        let d = running_detail(summary, history);
        assert_eq!(d.path, vec!["Init", "Train"]);
        assert_eq!(
            d.states,
            vec![
                StateTiming {
                    state: "Init".into(),
                    visits: 1,
                    failures: 0,
                    duration_ms: 1500,
                    unfinished: false
                },
                StateTiming {
                    state: "Train".into(),
                    visits: 1,
                    failures: 1,
                    duration_ms: 0,
                    unfinished: true
                }
            ]
        );
        assert!(!d.ended());
        assert_eq!(d.exit_code(), 0);
    }

    #[test]
    fn given_one_or_several_candidates_then_pick_finds_or_names_the_ambiguity() {
        assert_eq!(pick("n", vec!["arn:1"], |s| s).ok(), Some("arn:1"));
        let err = pick("n", vec!["arn:1", "arn:2"], |s| s).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("arn:1, arn:2"), "{err}");
        assert_eq!(
            pick("n", Vec::<&str>::new(), |s| s)
                .unwrap_err()
                .exit_code(),
            4
        );
    }
}
