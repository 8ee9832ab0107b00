//! The `track-experiment` Lambda: composition only.

use lambda_runtime::{LambdaEvent, service_fn};
use mdlc_aws::history::AwsTrainingHistory;
use serde_json::Value;
use std::sync::Arc;
use track_experiment::TrackDeps;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    mdlc_lambda::init_tracing();
    let history = Arc::new(AwsTrainingHistory::from_env().await);
    let deps: &'static TrackDeps = Box::leak(Box::new(TrackDeps::from_lookup(history, |n| {
        std::env::var(n).ok()
    })));
    tracing::info!(function = "track-experiment", "initialized");
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        track_experiment::invoke(event.payload, deps)
            .await
            .map_err(mdlc_lambda::to_diagnostic)
    }))
    .await
}
