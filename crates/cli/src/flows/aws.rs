//! The flows of a deployed stack, through Step Functions: StartExecution, ListExecutions,
//! DescribeExecution, GetExecutionHistory and DescribeStateMachine (IAM: `states:StartExecution`
//! and `states:ListExecutions` on the state machines, `states:DescribeExecution` and
//! `states:GetExecutionHistory` on their executions, `states:DescribeStateMachine` for
//! `mdlc report`). History events become the local cloud's `HistoryEvent`s, so the path, the
//! per-state durations and the report come from the same code as locally.

use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::HistoryEvent as SfnEvent;
use aws_smithy_types::DateTime;
use mdlc_asl::{Execution, HistoryEvent};
use mdlc_local::journal::ExecutionRecord;
use serde_json::{Map, Value, json};

use super::{
    Definitions, ExecutionDetail, ExecutionSummary, Flow, RUNNING, detail_of, pick, running_detail,
    sort_newest_first, terminal_status,
};
use crate::error::{CliError, sdk_error};

/// The stack's two state machines.
#[derive(Debug, Clone)]
pub struct AwsFlows {
    sfn: Client,
    training_arn: String,
    evaluation_arn: String,
}

/// RFC 3339 with milliseconds, as the local records are.
fn rfc3339(t: &DateTime) -> String {
    chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())
        .map(mdlc_core::registry::format_timestamp)
        .unwrap_or_else(|| t.to_string())
}

/// A JSON text as a value (a string when it is not JSON).
fn parse_json(text: Option<&str>) -> Option<Value> {
    text.map(|t| serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_string())))
}

/// `arn:…:stateMachine:<name>` → `arn:…:execution:<name>:<execution>`.
pub fn execution_arn_of(machine_arn: &str, execution: &str) -> Option<String> {
    let (prefix, name) = machine_arn.split_once(":stateMachine:")?;
    Some(format!("{prefix}:execution:{name}:{execution}"))
}

/// The error and cause of an event that carries them.
fn error_and_cause(e: &SfnEvent) -> Option<(Option<&str>, Option<&str>)> {
    if let Some(d) = e.execution_failed_event_details() {
        return Some((d.error(), d.cause()));
    }
    if let Some(d) = e.execution_aborted_event_details() {
        return Some((d.error(), d.cause()));
    }
    if let Some(d) = e.execution_timed_out_event_details() {
        return Some((d.error(), d.cause()));
    }
    if let Some(d) = e.task_failed_event_details() {
        return Some((d.error(), d.cause()));
    }
    if let Some(d) = e.task_timed_out_event_details() {
        return Some((d.error(), d.cause()));
    }
    if let Some(d) = e.lambda_function_failed_event_details() {
        return Some((d.error(), d.cause()));
    }
    if let Some(d) = e.activity_failed_event_details() {
        return Some((d.error(), d.cause()));
    }
    None
}

/// One Step Functions history event as the local cloud records it (`details.name` of a state,
/// its input/output, an error and cause).
pub fn convert_event(e: &SfnEvent) -> HistoryEvent {
    let mut details = Map::new();
    if let Some(d) = e.state_entered_event_details() {
        details.insert("name".into(), json!(d.name()));
        if let Some(input) = parse_json(d.input()) {
            details.insert("input".into(), input);
        }
    }
    if let Some(d) = e.state_exited_event_details() {
        details.insert("name".into(), json!(d.name()));
        if let Some(output) = parse_json(d.output()) {
            details.insert("output".into(), output);
        }
    }
    if let Some((error, cause)) = error_and_cause(e) {
        details.insert("error".into(), json!(error));
        details.insert("cause".into(), json!(cause));
    }
    HistoryEvent {
        id: u64::try_from(e.id()).unwrap_or(0),
        previous_event_id: u64::try_from(e.previous_event_id()).unwrap_or(0),
        timestamp: rfc3339(e.timestamp()),
        event_type: e.r#type().as_str().to_string(),
        details: Value::Object(details),
    }
}

/// What DescribeExecution says of one execution.
struct Described {
    summary: ExecutionSummary,
    state_machine_arn: String,
    input: Value,
    output: Option<Value>,
    error: Option<String>,
    cause: Option<String>,
}

impl AwsFlows {
    pub fn new(sfn: Client, training_arn: String, evaluation_arn: String) -> Self {
        AwsFlows {
            sfn,
            training_arn,
            evaluation_arn,
        }
    }

    pub fn machine_arn(&self, flow: Flow) -> &str {
        match flow {
            Flow::Training => &self.training_arn,
            Flow::Evaluation => &self.evaluation_arn,
        }
    }

    /// The flow name of a state machine of the stack, else the state machine's own name.
    fn machine_label(&self, machine_arn: &str) -> String {
        Flow::ALL
            .into_iter()
            .find(|f| self.machine_arn(*f) == machine_arn)
            .map(|f| f.name().to_string())
            .unwrap_or_else(|| {
                machine_arn
                    .rsplit(':')
                    .next()
                    .unwrap_or(machine_arn)
                    .to_string()
            })
    }

    /// StartExecution; returns the new execution (RUNNING).
    pub async fn start(
        &self,
        flow: Flow,
        name: Option<&str>,
        input: &Value,
    ) -> Result<ExecutionSummary, CliError> {
        let out = self
            .sfn
            .start_execution()
            .state_machine_arn(self.machine_arn(flow))
            .set_name(name.map(str::to_string))
            .input(input.to_string())
            .send()
            .await
            .map_err(|e| sdk_error("StartExecution", e))?;
        let arn = out.execution_arn().to_string();
        Ok(ExecutionSummary {
            name: arn.rsplit(':').next().unwrap_or(&arn).to_string(),
            execution_arn: arn,
            state_machine: flow.name().to_string(),
            status: RUNNING.to_string(),
            started_at: Some(rfc3339(out.start_date())),
            stopped_at: None,
        })
    }

    async fn describe(&self, arn: &str) -> Result<Described, CliError> {
        let out = self
            .sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeExecution", e))?;
        let summary = ExecutionSummary {
            name: out
                .name()
                .map(str::to_string)
                .unwrap_or_else(|| arn.rsplit(':').next().unwrap_or(arn).to_string()),
            execution_arn: out.execution_arn().to_string(),
            state_machine: self.machine_label(out.state_machine_arn()),
            status: out.status().as_str().to_string(),
            started_at: Some(rfc3339(out.start_date())),
            stopped_at: out.stop_date().map(rfc3339),
        };
        Ok(Described {
            summary,
            state_machine_arn: out.state_machine_arn().to_string(),
            input: parse_json(out.input()).unwrap_or(Value::Null),
            output: parse_json(out.output()),
            error: out.error().map(str::to_string),
            cause: out.cause().map(str::to_string),
        })
    }

    /// The execution's status (DescribeExecution).
    pub async fn status(&self, arn: &str) -> Result<String, CliError> {
        Ok(self.describe(arn).await?.summary.status)
    }

    /// The whole history, oldest first (every page of GetExecutionHistory).
    pub async fn history(&self, arn: &str) -> Result<Vec<HistoryEvent>, CliError> {
        let mut events = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .sfn
                .get_execution_history()
                .execution_arn(arn)
                .include_execution_data(true)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| sdk_error("GetExecutionHistory", e))?;
            events.extend(out.events().iter().map(convert_event));
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(events),
            }
        }
    }

    /// The state the execution entered last (the newest events of its history).
    pub async fn current_state(&self, arn: &str) -> Result<Option<String>, CliError> {
        let out = self
            .sfn
            .get_execution_history()
            .execution_arn(arn)
            .reverse_order(true)
            .max_results(20)
            .include_execution_data(false)
            .send()
            .await
            .map_err(|e| sdk_error("GetExecutionHistory", e))?;
        Ok(out.events().iter().find_map(|e| {
            e.state_entered_event_details()
                .map(|d| d.name().to_string())
        }))
    }

    /// A described execution with its history as a record, when it has ended.
    fn record(described: &Described, history: Vec<HistoryEvent>) -> Option<ExecutionRecord> {
        let status = terminal_status(&described.summary.status)?;
        let s = &described.summary;
        Some(ExecutionRecord {
            state_machine_name: s.state_machine.clone(),
            state_machine_arn: described.state_machine_arn.clone(),
            name: s.name.clone(),
            arn: s.execution_arn.clone(),
            parent_arn: None,
            input: described.input.clone(),
            started_at: s.started_at.clone().unwrap_or_default(),
            stopped_at: s.stopped_at.clone().unwrap_or_default(),
            execution: Execution {
                status,
                output: described.output.clone(),
                error: described.error.clone(),
                cause: described.cause.clone(),
                history,
            },
        })
    }

    /// The execution `id`: an ARN, or the name of an execution of one of the two flows.
    pub async fn show(&self, id: &str) -> Result<ExecutionDetail, CliError> {
        let arn = if id.starts_with("arn:") {
            id.to_string()
        } else {
            self.arn_of_name(id).await?
        };
        let described = self.describe(&arn).await?;
        let history = self.history(&arn).await?;
        Ok(match Self::record(&described, history.clone()) {
            Some(record) => detail_of(&record),
            None => running_detail(described.summary, history),
        })
    }

    async fn arn_of_name(&self, name: &str) -> Result<String, CliError> {
        let mut found = Vec::new();
        for flow in Flow::ALL {
            let Some(arn) = execution_arn_of(self.machine_arn(flow), name) else {
                continue;
            };
            match self.describe(&arn).await {
                Ok(_) => found.push(arn),
                Err(CliError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        pick(name, found, |a| a)
    }

    /// The newest `limit` executions of both flows, newest first.
    pub async fn list(&self, limit: usize) -> Result<Vec<ExecutionSummary>, CliError> {
        let mut list = Vec::new();
        for flow in Flow::ALL {
            let mut token: Option<String> = None;
            let mut taken = 0;
            loop {
                let out = self
                    .sfn
                    .list_executions()
                    .state_machine_arn(self.machine_arn(flow))
                    .max_results(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000))
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(|e| sdk_error("ListExecutions", e))?;
                for e in out.executions() {
                    taken += 1;
                    list.push(ExecutionSummary {
                        name: e.name().to_string(),
                        execution_arn: e.execution_arn().to_string(),
                        state_machine: flow.name().to_string(),
                        status: e.status().as_str().to_string(),
                        started_at: Some(rfc3339(e.start_date())),
                        stopped_at: e.stop_date().map(rfc3339),
                    });
                }
                match out.next_token() {
                    Some(t) if !t.is_empty() && taken < limit => token = Some(t.to_string()),
                    _ => break,
                }
            }
        }
        sort_newest_first(&mut list);
        list.truncate(limit);
        Ok(list)
    }

    /// The ended executions among the newest `limit`, with their histories (for the report).
    pub async fn records(&self, limit: usize) -> Result<Vec<ExecutionRecord>, CliError> {
        let mut records = Vec::new();
        for s in self.list(limit).await? {
            if s.status == RUNNING {
                continue;
            }
            let described = self.describe(&s.execution_arn).await?;
            let history = self.history(&s.execution_arn).await?;
            if let Some(r) = Self::record(&described, history) {
                records.push(r);
            }
        }
        Ok(records)
    }

    /// The two state machines' definitions (DescribeStateMachine).
    pub async fn definitions(&self) -> Result<Definitions, CliError> {
        let mut out = Definitions::new();
        for flow in Flow::ALL {
            let d = self
                .sfn
                .describe_state_machine()
                .state_machine_arn(self.machine_arn(flow))
                .send()
                .await
                .map_err(|e| sdk_error("DescribeStateMachine", e))?;
            let definition: Value = serde_json::from_str(d.definition()).map_err(|e| {
                CliError::Unavailable(format!(
                    "the definition of {} is not JSON: {e}",
                    self.machine_arn(flow)
                ))
            })?;
            out.insert(flow.name().to_string(), definition);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_sfn::types::{
        ExecutionFailedEventDetails, HistoryEventType, StateEnteredEventDetails,
    };

    use super::*;

    #[test]
    fn given_machine_arns_then_execution_arns_follow_step_functions_naming() {
        assert_eq!(
            execution_arn_of(
                "arn:aws:states:eu-west-1:123456789012:stateMachine:mdlc-training",
                "run-1"
            )
            .as_deref(),
            Some("arn:aws:states:eu-west-1:123456789012:execution:mdlc-training:run-1")
        );
        assert_eq!(execution_arn_of("arn:aws:lambda:x", "run-1"), None);
    }

    #[test]
    fn given_sdk_events_then_they_convert_with_names_errors_and_millisecond_times() {
        let entered = SfnEvent::builder()
            .id(2)
            .previous_event_id(1)
            .timestamp(DateTime::from_millis(1_767_225_600_250))
            .r#type(HistoryEventType::TaskStateEntered)
            .state_entered_event_details(
                StateEnteredEventDetails::builder()
                    .name("Train")
                    .input(r#"{"a":1}"#)
                    .build()
                    .unwrap_or_else(|e| panic!("{e}")),
            )
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let e = convert_event(&entered);
        assert_eq!(e.event_type, "TaskStateEntered");
        assert_eq!(e.timestamp, "2026-01-01T00:00:00.250Z");
        assert_eq!(e.details, json!({"name": "Train", "input": {"a": 1}}));
        let failed = SfnEvent::builder()
            .id(3)
            .previous_event_id(2)
            .timestamp(DateTime::from_secs(0))
            .r#type(HistoryEventType::ExecutionFailed)
            .execution_failed_event_details(
                ExecutionFailedEventDetails::builder()
                    .error("ModelNotFound")
                    .cause("no version")
                    .build(),
            )
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            convert_event(&failed).details,
            json!({"error": "ModelNotFound", "cause": "no version"})
        );
    }
}
