//! The `is-retraining-needed` Lambda: composition only.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    mdlc_lambda::run("is-retraining-needed", is_retraining_needed::invoke).await
}
