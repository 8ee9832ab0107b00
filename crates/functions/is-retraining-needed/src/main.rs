//! The `is-retraining-needed` Lambda: composition only.

// It publishes Evaluation Completed and Retraining Started, docs/events.md:
// a build without the EventBridge publisher fails here.
const _: () = assert!(
    mdlc_lambda::PUBLISHES_EVENTS,
    "is-retraining-needed publishes events: enable mdlc-lambda's eventbridge feature"
);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    mdlc_lambda::run("is-retraining-needed", is_retraining_needed::invoke).await
}
