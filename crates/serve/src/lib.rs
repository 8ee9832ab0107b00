//! mdlc-serve: the AWS Step Functions API on loopback (`mdlc serve`), a drop-in for Step
//! Functions Local, backed by the ASL engine (`mdlc-asl`) and the local cloud (`mdlc-local`).
//!
//! - [`protocol`]: AWS JSON 1.0 over HTTP (`POST /`, `X-Amz-Target: AWSStepFunctions.<Op>`);
//! - `answer`: a JSON answer's content type and request id (below `protocol` and `error`);
//! - [`error`]: the errors as botocore and the SDKs parse them;
//! - [`request`]: the request members and their constraints;
//! - [`arn`]: ARNs and names;
//! - `ops`: the operations;
//! - [`app`]: state machines, executions (Tokio tasks, bounded), their live histories;
//! - [`callback`]: `.waitForTaskToken` and SendTask*;
//! - [`nested`]: `arn:aws:states:::states:startExecution[...]` Tasks as executions of the server;
//! - [`history`]: the engine's events in GetExecutionHistory's shape;
//! - [`store`]: persistence under `<state dir>/serve/`;
//! - [`dashboard`]: the dashboard at `GET /` and its JSON endpoints.
//!
//! See docs/serve.md.

mod answer;
pub mod api_models;
pub mod app;
pub mod arn;
pub mod callback;
pub mod dashboard;
pub mod error;
pub mod history;
pub mod nested;
mod ops;
pub mod protocol;
pub mod request;
pub mod store;

use std::future::Future;
use std::sync::Arc;

pub use app::{App, DEFAULT_MAX_CONCURRENT, ServeConfig};
pub use error::ApiError;
pub use store::StoreError;

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, protocol::router(app))
        .with_graceful_shutdown(shutdown)
        .await
}
