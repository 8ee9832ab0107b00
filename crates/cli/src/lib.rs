//! mdlc-cli: the `mdlc` command. `main.rs` only parses arguments and dispatches; each
//! subcommand lives in its own module under [`commands`].

pub mod commands;
pub mod demo;
pub mod error;
pub mod flows;
pub mod local;
pub mod output;
pub mod s3;
pub mod target;

/// Exit codes shared by the subcommands (listed in `mdlc --help` and the README's "Operate").
pub mod exit {
    /// The execution succeeded / the definition is valid / the operation was applied.
    pub const OK: i32 = 0;
    /// The execution ended in another terminal status (FAILED, TIMED_OUT, ABORTED).
    pub const FAILED: i32 = 1;
    /// Invalid definition, input or usage.
    pub const USAGE: i32 = 2;
    /// A conflicting or impossible change (the message names the current state): a registry
    /// operation not allowed from the version's status, lost to a concurrent change, or an
    /// execution name already taken.
    pub const CONFLICT: i32 = 3;
    /// The model, version, execution or stack does not exist.
    pub const NOT_FOUND: i32 = 4;
    /// AWS or another dependency is unavailable or refused the call (credentials, permissions,
    /// throttling, network), or local state could not be read or written.
    pub const UNAVAILABLE: i32 = 5;

    /// The table of `mdlc --help`.
    pub const HELP: &str = "Exit codes: 0 ok; 1 the flow failed (FAILED, TIMED_OUT, ABORTED); \
2 usage or input error; 3 conflict or impossible change (names the current state); \
4 not found; 5 AWS or a dependency unavailable.";
}
