//! Domain of the model-development life cycle (MDLC) pipeline.
//!
//! Everything here is pure: Lambda input/output types ([`io`]), the execution input schema
//! ([`input`]), registry records, metrics math ([`metrics`]), the retrain policy ([`policy`]),
//! job-name rules ([`names`]), error enums with stable names ([`error`]), and the *ports*
//! (traits) that handlers use to reach the outside world. Adapters live in `mdlc-aws` (AWS SDK)
//! and `mdlc-local` (the local cloud). Test doubles are compiled only with the `testing` feature
//! (which the crates that use them enable in their `[dev-dependencies]`, so that no release
//! build links them): the in-memory adapters in `memory`, the behaviour every registry adapter
//! must have in `contract`, and `history::InMemoryTrainingHistory`.

#[cfg(any(test, feature = "testing"))]
pub mod contract;
pub mod deps;
pub mod drift;
pub mod error;
pub mod events;
pub mod history;
pub mod images;
pub mod input;
pub mod io;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
#[cfg(test)]
mod memory_tests;
pub mod metrics;
pub mod names;
pub mod object_lines;
pub mod policy;
pub mod ports;
pub mod registry;
pub mod registry_ops;
pub mod registry_state;
pub mod retrain;
pub mod s3uri;
pub mod sync;

pub use deps::{ConfigError, Dependencies, FunctionConfig};
pub use error::{ErrorName, FnError, HandlerFailure, PortError, Problem};
pub use s3uri::S3Uri;
