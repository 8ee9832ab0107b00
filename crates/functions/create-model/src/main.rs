//! The `create-model` Lambda: composition only.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    mdlc_lambda::run("create-model", create_model::invoke).await
}
