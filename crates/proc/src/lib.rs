//! mdlc-proc: the local cloud's child processes end when the process that started them ends.
//!
//! Every child the local cloud starts — training, processing and transform programs, model
//! servers (mdlc-emulator), `--function NAME=COMMAND` Lambdas (mdlc-local) — goes through
//! [`spawn`], which
//!
//! * puts the child in a process group of its own (so that it and everything it starts can be
//!   signalled at once, and a terminal's Ctrl-C goes to the parent only);
//! * on Linux, has the child ask for `SIGKILL` when its parent dies
//!   (`prctl(PR_SET_PDEATHSIG, SIGKILL)` in a `pre_exec` hook), and kill itself at once if the
//!   parent died between `fork` and that `prctl` ([`die_with_parent`]);
//! * records the child in the [`PidBook`] of the state directory (pid, process group, start
//!   time, owner, what it is) until it is reaped ([`ChildGuard`]); dropping the guard kills
//!   what is left of the child's group and removes the record.
//!
//! The parent-death signal reaches the group leader only: `sh -c` grandchildren and a
//! container's worker processes survive a parent killed with `SIGKILL`. Those are ended by the
//! sweep ([`PidBook::open`], [`PidBook::sweep`]) the next time a process opens the state
//! directory: for every record whose *owner* is gone, the child's whole group gets `SIGKILL`
//! (unless the child's pid now belongs to another process, told by its start time), and the
//! record is removed. Records of owners that are still running (another `mdlc` on the same
//! state directory) are left alone.
//!
//! Linux caveat: the parent-death signal fires when the *thread* that forked the child exits,
//! not the process. Children must therefore be spawned from threads that live as long as the
//! process's interest in them — Tokio's worker threads or the main thread — never from
//! `tokio::task::spawn_blocking` threads, which Tokio ends after ten idle seconds.
//!
//! Elsewhere than Linux there is no parent-death signal and no `/proc`: children still get
//! their own group and a record, but the sweep cannot tell a live child from a reused pid, so
//! it removes records without killing anything (see [`stat`]).

pub mod book;
pub mod signal;
mod spawn;
pub mod stat;
#[cfg(feature = "testing")]
pub mod testing;

pub use book::{ChildRecord, PidBook, PidBookError, Sweep};
pub use signal::Signal;
pub use spawn::{ChildGuard, SpawnError, die_with_parent, spawn};
