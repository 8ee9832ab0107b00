//! Domain of the model-development life cycle (MDLC) pipeline.
//!
//! Everything here is pure: Lambda input/output types, registry records, metrics math, the
//! retrain policy, job-name rules, error enums with stable names, and the *ports* (traits) that
//! handlers use to reach the outside world. Adapters live in `mdlc-aws` (AWS SDK) and
//! `mdlc-local` (the local cloud); in-memory adapters for tests live in [`memory`].

pub mod error;
pub mod memory;
pub mod ports;
pub mod registry;
pub mod s3uri;

pub use error::PortError;
pub use s3uri::S3Uri;
