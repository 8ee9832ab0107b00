//! The operations, by their `X-Amz-Target` name.

mod common;
pub(crate) mod executions;
mod machines;
mod map_runs;
mod tags;
mod tasks;
mod test_state;

use serde_json::{Map, Value};

use crate::app::App;
use crate::error::ApiError;

/// Runs operation `op` on `body`.
pub async fn dispatch(app: &App, op: &str, body: &Map<String, Value>) -> Result<Value, ApiError> {
    match op {
        "CreateStateMachine" => machines::create(app, body),
        "DescribeStateMachine" => machines::describe(app, body),
        "ListStateMachines" => machines::list(app, body),
        "UpdateStateMachine" => machines::update(app, body),
        "DeleteStateMachine" => machines::delete(app, body),
        "ValidateStateMachineDefinition" => machines::validate(body),
        "StartExecution" => executions::start(app, body),
        "StartSyncExecution" => executions::start_sync(app, body).await,
        "DescribeExecution" => executions::describe(app, body),
        "ListExecutions" => executions::list(app, body),
        "GetExecutionHistory" => executions::history(app, body),
        "StopExecution" => executions::stop(app, body),
        "DescribeStateMachineForExecution" => executions::describe_machine(app, body),
        "DescribeMapRun" => map_runs::describe(app, body),
        "ListMapRuns" => map_runs::list(app, body),
        "SendTaskSuccess" => tasks::success(app, body),
        "SendTaskFailure" => tasks::failure(app, body),
        "SendTaskHeartbeat" => tasks::heartbeat(app, body),
        "TagResource" => tags::tag(app, body),
        "UntagResource" => tags::untag(app, body),
        "ListTagsForResource" => tags::list(app, body),
        "TestState" => test_state::test_state(app, body).await,
        other => Err(ApiError::unknown_operation(other)),
    }
}
