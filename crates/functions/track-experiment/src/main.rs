//! The `track-experiment` Lambda: composition only. It needs the training history and the
//! tracking settings besides the usual dependencies, so it builds its own and runs the shared
//! Lambda loop over them.

use std::sync::Arc;

use mdlc_aws::history::AwsTrainingHistory;
use track_experiment::TrackDeps;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    mdlc_lambda::init_tracing();
    let history = Arc::new(AwsTrainingHistory::from_env().await);
    let deps = TrackDeps::from_lookup(history, |n| std::env::var(n).ok());
    mdlc_lambda::serve("track-experiment", deps, track_experiment::invoke).await
}
