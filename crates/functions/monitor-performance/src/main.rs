//! The `monitor-performance` Lambda: composition only.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    mdlc_lambda::run("monitor-performance", monitor_performance::invoke).await
}
