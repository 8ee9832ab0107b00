//! The engine's events in GetExecutionHistory's shape: the one conversion, owned by the engine
//! (`mdlc_asl::aws_history`), that `mdlc execute --history` and the history conformance test
//! use too.

pub use mdlc_asl::aws_history::{details_member, epoch_seconds, history_to_aws, to_aws};
