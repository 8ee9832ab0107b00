//! The `register-model` Lambda: composition only.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    mdlc_lambda::run("register-model", register_model::invoke).await
}
