//! The local cloud: everything needed to run the project's state machines on one machine, with
//! no AWS account and no Docker.
//!
//! - [`store::FsObjectStore`]: `s3://` URIs over `.mdlc/s3/<bucket>/<key>`;
//! - [`registry::FsRegistry`]: the embedded model registry with the DynamoDB table's semantics;
//! - [`substitute`]: `${Name}` placeholders → local values;
//! - [`invoker::LocalInvoker`]: routes Task resources to the project's handlers (in process),
//!   commands, a Lambda endpoint, the SageMaker emulator and nested executions;
//! - [`events::EventLog`]: the event bus, `<state-dir>/events.jsonl` (docs/events.md);
//! - [`http_task::HttpTasks`]: the HTTP Task (`arn:aws:states:::http:invoke`) and the local
//!   EventBridge connections it names;
//! - [`sqs::SqsQueues`]: the SQS stand-in, `<state-dir>/sqs/<account>/<queue>.json`;
//! - [`cloud::LocalCloud`]: all of it composed under one state directory.

pub mod cloud;
pub mod demo;
pub mod events;
mod fsio;
pub mod functions;
pub mod http_task;
pub mod invoker;
pub mod journal;
pub mod progress;
pub mod registry;
pub mod report;
pub mod sqs;
pub mod store;
pub mod substitute;

pub use cloud::{FILE_SYSTEMS_DIR, LocalCloud, LocalCloudConfig, LocalError, STATE_MARKER};
pub use events::EventLog;
pub use invoker::{LocalInvoker, LocalInvokerBuilder, RunSettings};
pub use registry::FsRegistry;
pub use store::FsObjectStore;
