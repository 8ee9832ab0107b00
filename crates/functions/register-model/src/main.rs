//! The `register-model` Lambda: composition only.

// It publishes its registrations (Model Version Registered), docs/events.md:
// a build without the EventBridge publisher fails here.
const _: () = assert!(
    mdlc_lambda::PUBLISHES_EVENTS,
    "register-model publishes events: enable mdlc-lambda's eventbridge feature"
);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    mdlc_lambda::run("register-model", register_model::invoke).await
}
