//! What `/proc/<pid>/stat` says of a process: its state, process group and start time (field
//! 22, clock ticks since boot), which tells a process from a later one that got the same pid.

/// The fields of `/proc/<pid>/stat` this crate uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Field 3: `R`, `S`, `D`, `Z` (zombie), `X` (dead), ...
    pub state: char,
    /// Field 4: the parent process.
    pub ppid: u32,
    /// Field 5: the process group.
    pub pgid: u32,
    /// Field 22: the start time after boot, in clock ticks.
    pub start_time: u64,
}

impl ProcStat {
    /// Whether the process still runs (a zombie has ended; only its exit status is left).
    pub fn running(&self) -> bool {
        !matches!(self.state, 'Z' | 'X')
    }
}

/// Parses the text of `/proc/<pid>/stat`. The command name (field 2) is in parentheses and may
/// hold spaces and parentheses itself, so the fields after it are counted from the last `)`.
pub fn parse(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state), fields[1] field 4 (ppid), fields[2] field 5 (pgrp),
    // fields[19] field 22 (starttime).
    let state = fields.first()?.chars().next()?;
    let ppid = fields.get(1)?.parse().ok()?;
    let pgid = fields.get(2)?.parse().ok()?;
    let start_time = fields.get(19)?.parse().ok()?;
    Some(ProcStat {
        state,
        ppid,
        pgid,
        start_time,
    })
}

/// `/proc/<pid>/stat` of `pid`; `None` when there is no such process (or no `/proc`).
#[cfg(target_os = "linux")]
pub fn of(pid: u32) -> Option<ProcStat> {
    parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Without `/proc` nothing is known of other processes.
#[cfg(not(target_os = "linux"))]
pub fn of(_pid: u32) -> Option<ProcStat> {
    None
}

/// The start time of `pid` (field 22), if it runs.
pub fn start_time(pid: u32) -> Option<u64> {
    of(pid).filter(ProcStat::running).map(|s| s.start_time)
}

/// Whether `pid` is the running process that started at `start_time` (not a zombie, not a
/// later process with the same pid).
pub fn is_running(pid: u32, start_time: u64) -> bool {
    self::start_time(pid) == Some(start_time)
}

/// This process's start time (0 where it cannot be read).
pub fn own_start_time() -> u64 {
    static OWN: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *OWN.get_or_init(|| start_time(std::process::id()).unwrap_or(0))
}

/// The pids of the running processes in process group `pgid` (empty without `/proc`).
pub fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| of(pid).is_some_and(|s| s.running() && s.pgid == pgid))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields() {
        let text =
            "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(
            parse(text),
            Some(ProcStat {
                state: 'S',
                ppid: 1,
                pgid: 4242,
                start_time: 987654
            })
        );
    }

    #[test]
    fn a_truncated_stat_line_is_not_read() {
        assert_eq!(parse("4242 (x) S 1 4242"), None);
        assert_eq!(parse("no parenthesis"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_runs_and_leads_no_other_start_time() {
        let me = std::process::id();
        let own = own_start_time();
        assert!(own > 0, "no start time read for this process");
        assert!(is_running(me, own));
        assert!(!is_running(me, own + 1));
    }
}
