//! The `initialize` Lambda: composition only.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    mdlc_lambda::run("initialize", initialize::invoke).await
}
