//! The `find-model` Lambda: composition only.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    mdlc_lambda::run("find-model", find_model::invoke).await
}
