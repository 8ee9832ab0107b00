//! Starting a child so that it ends with its parent, and the guard that ends it and removes
//! its record.

use thiserror::Error;

use crate::book::{ChildRecord, PidBook, PidBookError};
use crate::signal::{Signal, signal_group};

/// Why a child could not be started.
#[derive(Debug, Error)]
pub enum SpawnError {
    #[error("could not start {program}: {source}")]
    Start {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("started {program} (pid {pid}) but could not record it, so it was ended: {source}")]
    Record {
        program: String,
        pid: u32,
        #[source]
        source: PidBookError,
    },
}

/// Has the child of `cmd` get `SIGKILL` when the thread that spawns it ends (the process's end
/// ends its threads): `prctl(PR_SET_PDEATHSIG, SIGKILL)` in a `pre_exec` hook. If the parent
/// died before the hook ran (the child's parent is then no longer the pid this process had),
/// the child kills itself.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub fn die_with_parent(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the hook runs in the forked child before exec, where only async-signal-safe
    // functions may be called: prctl, getppid, getpid and kill are, and nothing here allocates
    // (an io::Error made from the OS error code does not).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            Ok(())
        });
    }
}

/// No parent-death signal outside Linux: the child is ended by its guard, `kill_on_drop` and
/// the owner's orderly exit only.
#[cfg(not(target_os = "linux"))]
pub fn die_with_parent(_cmd: &mut std::process::Command) {}

/// Starts `cmd` as a child of the local cloud: in a process group of its own, killed on drop
/// (Tokio's `kill_on_drop`), dying with this process ([`die_with_parent`]), and recorded in
/// `book` as `what` until the returned guard is dropped.
///
/// Call it from a Tokio worker thread or the main thread, never inside `spawn_blocking` (see the
/// crate documentation). A child that starts but cannot be recorded is killed and reaped, and
/// the record's error returned.
pub fn spawn(
    cmd: &mut tokio::process::Command,
    book: Option<&PidBook>,
    what: &str,
) -> Result<(tokio::process::Child, ChildGuard), SpawnError> {
    let program = cmd.as_std().get_program().to_string_lossy().into_owned();
    cmd.process_group(0).kill_on_drop(true);
    if let Some(book) = book {
        // what the child starts inherits these: the sweep finds it even without a record
        cmd.env(crate::book::BOOK_ENV, book.tag()).env(
            crate::book::OWNER_ENV,
            format!("{}:{}", std::process::id(), crate::stat::own_start_time()),
        );
    }
    die_with_parent(cmd.as_std_mut());
    let mut child = cmd.spawn().map_err(|source| SpawnError::Start {
        program: program.clone(),
        source,
    })?;
    let Some(pid) = child.id() else {
        // Already reaped: nothing to record or end.
        return Ok((
            child,
            ChildGuard {
                pid: None,
                entry: None,
            },
        ));
    };
    let entry = match book {
        None => None,
        // A child that has already ended (ChildRecord::of_child is None) needs no record.
        Some(book) => match ChildRecord::of_child(pid, what).map(|r| book.insert(&r).map(|_| r)) {
            None => None,
            Some(Ok(record)) => Some((book.clone(), record)),
            Some(Err(source)) => {
                let _ = signal_group(pid, Signal::Kill);
                let _ = child.start_kill();
                let _ = child.try_wait();
                return Err(SpawnError::Record {
                    program,
                    pid,
                    source,
                });
            }
        },
    };
    Ok((
        child,
        ChildGuard {
            pid: Some(pid),
            entry,
        },
    ))
}

/// Held while a child runs: dropping it sends `SIGKILL` to what is left of the child's process
/// group (nothing of a child may outlive it) and removes its record from the pid book. Drop it
/// once the child has been waited for.
#[derive(Debug)]
pub struct ChildGuard {
    pid: Option<u32>,
    entry: Option<(PidBook, ChildRecord)>,
}

impl ChildGuard {
    /// The child's pid, which is also its process group.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Its record in the pid book, if it has one.
    pub fn record(&self) -> Option<&ChildRecord> {
        self.entry.as_ref().map(|(_, r)| r)
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            // ESRCH (the group has no process left) is the usual answer.
            let _ = signal_group(pid, Signal::Kill);
        }
        if let Some((book, record)) = &self.entry {
            if let Err(e) = book.remove(record) {
                tracing::warn!(target: "mdlc::proc", "{e}");
            }
        }
    }
}
