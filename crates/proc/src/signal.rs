//! Signals to a process or a process group (safe wrappers of `kill(2)` and `killpg(3)`).

/// The signals the local cloud sends its children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Asks the program to stop (SageMaker sends it to a stopped job's container).
    Term,
    /// Ends it.
    Kill,
}

impl Signal {
    fn number(self) -> libc::c_int {
        match self {
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
        }
    }
}

/// Sends `signal` to every process of group `pgid`. An error (`ESRCH`: the group has no
/// process left) is returned, not logged.
#[allow(unsafe_code)]
pub fn signal_group(pgid: u32, signal: Signal) -> std::io::Result<()> {
    let pgid = checked(pgid)?;
    // SAFETY: killpg only reads its two integer arguments; pgid is positive (checked), so it
    // names one group and never "every process" (-1) or the caller's own group (0).
    let rc = unsafe { libc::killpg(pgid, signal.number()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Sends `signal` to process `pid` alone.
#[allow(unsafe_code)]
pub fn signal_process(pid: u32, signal: Signal) -> std::io::Result<()> {
    let pid = checked(pid)?;
    // SAFETY: kill only reads its two integer arguments; pid is positive (checked), so it names
    // one process and never a group or every process.
    let rc = unsafe { libc::kill(pid, signal.number()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// A pid as `pid_t`, refusing 0 and values that would turn negative (both mean groups or
/// "every process" to kill(2)).
fn checked(pid: u32) -> std::io::Result<libc::pid_t> {
    match libc::pid_t::try_from(pid) {
        Ok(p) if p > 1 => Ok(p),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("refusing to signal pid {pid}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_that_mean_more_than_one_process_are_refused() {
        for pid in [0, 1, u32::MAX] {
            let e = signal_group(pid, Signal::Kill).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "pid {pid}");
            let e = signal_process(pid, Signal::Kill).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "pid {pid}");
        }
    }
}
