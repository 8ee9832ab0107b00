//! mdlc-cli: the `mdlc` command. `main.rs` only parses arguments and dispatches; each
//! subcommand lives in its own module under [`commands`].

pub mod commands;
pub mod demo;
pub mod local;
pub mod s3;

/// Exit codes shared by the subcommands.
pub mod exit {
    /// The execution succeeded / the definition is valid.
    pub const OK: i32 = 0;
    /// The execution ended in another terminal status.
    pub const FAILED: i32 = 1;
    /// Invalid definition, input or usage.
    pub const USAGE: i32 = 2;
}
