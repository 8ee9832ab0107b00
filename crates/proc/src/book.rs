//! The pid book: a record per live child of the local cloud, under the state directory
//! (`<state dir>/pids/<pid>-<start time>.json`), and the sweep that ends what a crashed run left.
//!
//! A record names the child (pid, process group, start time) and its owner (the process that
//! started it, by pid and start time), so that
//!
//! * a record whose owner still runs is never touched: several processes may use one state
//!   directory at once (`mdlc serve` and a CLI command, a detached `mdlc` run);
//! * a reused pid is never killed: a process whose start time is not the recorded one is
//!   another process.
//!
//! Records are written atomically (a temporary file renamed into place) and not synced: they
//! matter while the machine runs, and a file a power loss left empty is removed as unreadable.
//!
//! A record can only be written once the child runs. An owner killed in between leaves a child
//! with no record, and its parent-death signal reaches that child alone, not what the child has
//! started. So every child also carries its book and its owner in its environment
//! ([`BOOK_ENV`], [`OWNER_ENV`]), which the processes it starts inherit, and the sweep ends
//! every process so tagged whose owner is gone.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::signal::{Signal, signal_group, signal_process};
use crate::stat;

/// The environment variable naming the pid book of a child's state directory.
pub const BOOK_ENV: &str = "MDLC_PID_BOOK";
/// The environment variable naming a child's owner: `<pid>:<start time>`.
pub const OWNER_ENV: &str = "MDLC_PID_OWNER";

/// One child of the local cloud, as recorded when it started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildRecord {
    pub pid: u32,
    /// Its process group; equal to `pid` when it leads a group of its own (every child that
    /// [`crate::spawn`] starts does), and only then is the group signalled.
    pub pgid: u32,
    /// Field 22 of `/proc/<pid>/stat` when it was recorded.
    pub start_time: u64,
    /// The process that started it.
    pub owner_pid: u32,
    pub owner_start_time: u64,
    /// What it is: `training job NAME`, `transform job NAME`, `function NAME`, ...
    pub what: String,
}

impl ChildRecord {
    /// The record of `pid`, a child this process has just started, as `/proc` shows it now;
    /// `None` when it does not run (any more).
    pub fn of_child(pid: u32, what: &str) -> Option<ChildRecord> {
        let stat = stat::of(pid).filter(stat::ProcStat::running)?;
        Some(ChildRecord {
            pid,
            pgid: stat.pgid,
            start_time: stat.start_time,
            owner_pid: std::process::id(),
            owner_start_time: stat::own_start_time(),
            what: what.to_string(),
        })
    }

    /// Whether the process that started the child still runs.
    pub fn owner_running(&self) -> bool {
        stat::is_running(self.owner_pid, self.owner_start_time)
    }

    /// Whether the child itself still runs.
    pub fn child_running(&self) -> bool {
        stat::is_running(self.pid, self.start_time)
    }

    /// What of the child is left to end: its group (when it leads one and the group still has
    /// a running process), the child alone, or nothing. A pid now held by another process
    /// means the child and its group are gone: Linux does not hand out a pid while a process
    /// group of that number exists.
    fn survivor(&self) -> Option<Survivor> {
        let now = stat::of(self.pid);
        if now.is_some_and(|s| s.start_time != self.start_time) {
            return None;
        }
        if self.pgid == self.pid {
            let running = self.child_running() || !stat::group_members(self.pgid).is_empty();
            running.then_some(Survivor::Group(self.pgid))
        } else {
            self.child_running().then_some(Survivor::Process(self.pid))
        }
    }

    fn file_name(&self) -> String {
        format!("{}-{}.json", self.pid, self.start_time)
    }
}

/// [`BOOK_ENV`] and [`OWNER_ENV`] of a process's environment (`/proc/<pid>/environ`: NUL-ended
/// `NAME=value` entries), when it has both.
fn tags(environ: &[u8]) -> Option<(String, String)> {
    let mut book = None;
    let mut owner = None;
    for entry in environ.split(|&b| b == 0) {
        let entry = String::from_utf8_lossy(entry);
        if let Some(v) = entry
            .strip_prefix(BOOK_ENV)
            .and_then(|r| r.strip_prefix('='))
        {
            book = Some(v.to_string());
        } else if let Some(v) = entry
            .strip_prefix(OWNER_ENV)
            .and_then(|r| r.strip_prefix('='))
        {
            owner = Some(v.to_string());
        }
    }
    Some((book?, owner?))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Survivor {
    Group(u32),
    Process(u32),
}

/// Errors of the pid book, each naming the file or directory.
#[derive(Debug, Error)]
pub enum PidBookError {
    #[error("cannot create the pid book directory {path}: {source}")]
    CreateDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the pid book directory {path}: {source}")]
    ReadDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the pid record {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot remove the pid record {path}: {source}")]
    Remove {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What a sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sweep {
    /// Children of owners that are gone whose group (or process) still ran: sent `SIGKILL`,
    /// record removed.
    pub killed: Vec<ChildRecord>,
    /// Children of owners that are gone that had ended, or whose pid another process holds
    /// now: record removed, nothing signalled.
    pub ended: Vec<ChildRecord>,
    /// Children of owners that still run: left alone.
    pub kept: Vec<ChildRecord>,
    /// Files that were not records (a power loss, a stray file) or temporary files of owners
    /// that are gone: removed.
    pub unreadable: Vec<PathBuf>,
}

/// The pid book of a state directory. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidBook {
    dir: PathBuf,
}

impl PidBook {
    /// The book's directory under a state directory: `<state dir>/pids`.
    pub const DIR: &'static str = "pids";

    /// The book in `dir`, without touching the file system (to read it: [`PidBook::records`],
    /// [`PidBook::orphans`]).
    pub fn at(dir: impl Into<PathBuf>) -> PidBook {
        PidBook { dir: dir.into() }
    }

    /// Opens the book in `dir` (created if missing) and sweeps it: what every process that
    /// opens a state directory does first.
    pub fn open(dir: impl Into<PathBuf>) -> Result<(PidBook, Sweep), PidBookError> {
        let book = PidBook::at(dir);
        std::fs::create_dir_all(&book.dir).map_err(|source| PidBookError::CreateDir {
            path: book.dir.display().to_string(),
            source,
        })?;
        let sweep = book.sweep()?;
        if !sweep.killed.is_empty() {
            tracing::warn!(
                target: "mdlc::proc",
                book = %book.dir.display(),
                killed = ?sweep.killed.iter().map(|r| format!("{} (pid {})", r.what, r.pid)).collect::<Vec<_>>(),
                "ended the processes a previous run left"
            );
        }
        Ok((book, sweep))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every readable record (none when the directory does not exist).
    pub fn records(&self) -> Result<Vec<ChildRecord>, PidBookError> {
        Ok(self
            .entries()?
            .into_iter()
            .filter_map(|e| match e {
                Entry::Record(_, r) => Some(r),
                _ => None,
            })
            .collect())
    }

    /// The orphans: records whose owner is gone while the child or a process of its group
    /// still runs (what the next sweep will kill). A run that was killed leaves its children's
    /// groups here until a process opens the state directory.
    pub fn orphans(&self) -> Result<Vec<ChildRecord>, PidBookError> {
        Ok(self
            .records()?
            .into_iter()
            .filter(|r| !r.owner_running() && r.survivor().is_some())
            .collect())
    }

    /// Ends the children of owners that are gone: `SIGKILL` to the child's whole process group
    /// (the parent-death signal reached only the group leader), then removes their records.
    /// Records of running owners are kept.
    pub fn sweep(&self) -> Result<Sweep, PidBookError> {
        let mut sweep = Sweep::default();
        // groups sent SIGKILL here: their members may not have died yet when /proc is read
        let mut signalled_groups = Vec::new();
        for entry in self.entries()? {
            match entry {
                Entry::Record(path, record) => {
                    if record.owner_running() {
                        sweep.kept.push(record);
                        continue;
                    }
                    let signalled = match record.survivor() {
                        Some(Survivor::Group(pgid)) => {
                            signalled_groups.push(pgid);
                            signal_group(pgid, Signal::Kill).is_ok()
                        }
                        Some(Survivor::Process(pid)) => signal_process(pid, Signal::Kill).is_ok(),
                        None => false,
                    };
                    remove(&path)?;
                    if signalled {
                        sweep.killed.push(record);
                    } else {
                        sweep.ended.push(record);
                    }
                }
                Entry::Unreadable(path) => {
                    remove(&path)?;
                    sweep.unreadable.push(path);
                }
                Entry::Temporary(path, owner) => {
                    if stat::of(owner).is_none() {
                        remove(&path)?;
                        sweep.unreadable.push(path);
                    }
                }
            }
        }
        let unrecorded = self.unrecorded_orphans();
        for record in unrecorded
            .into_iter()
            .filter(|r| !signalled_groups.contains(&r.pgid))
        {
            if signal_process(record.pid, Signal::Kill).is_ok() {
                sweep.killed.push(record);
            }
        }
        Ok(sweep)
    }

    /// The value of [`BOOK_ENV`] for this book: its directory, canonical when it can be.
    pub fn tag(&self) -> String {
        std::fs::canonicalize(&self.dir)
            .unwrap_or_else(|_| self.dir.clone())
            .display()
            .to_string()
    }

    /// The running processes tagged with this book whose owner is gone (children started
    /// just before their owner was killed, and what they started), as records.
    fn unrecorded_orphans(&self) -> Vec<ChildRecord> {
        let tag = self.tag();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|pid| {
                let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
                let (book, owner) = tags(&environ)?;
                if book != tag {
                    return None;
                }
                let (owner_pid, owner_start_time) = owner.split_once(':')?;
                let (owner_pid, owner_start_time) =
                    (owner_pid.parse().ok()?, owner_start_time.parse().ok()?);
                if stat::is_running(owner_pid, owner_start_time) {
                    return None;
                }
                let now = stat::of(pid).filter(stat::ProcStat::running)?;
                Some(ChildRecord {
                    pid,
                    pgid: now.pgid,
                    start_time: now.start_time,
                    owner_pid,
                    owner_start_time,
                    what: "an unrecorded child".into(),
                })
            })
            .collect()
    }

    /// Writes `record` atomically; returns its path.
    pub fn insert(&self, record: &ChildRecord) -> Result<PathBuf, PidBookError> {
        let path = self.dir.join(record.file_name());
        let tmp = self.dir.join(format!(
            ".{}.{}.tmp",
            std::process::id(),
            record.file_name()
        ));
        let body = serde_json::to_vec_pretty(record).map_err(|e| PidBookError::Write {
            path: path.display().to_string(),
            source: std::io::Error::other(e),
        })?;
        std::fs::create_dir_all(&self.dir).map_err(|source| PidBookError::CreateDir {
            path: self.dir.display().to_string(),
            source,
        })?;
        if let Err(source) = std::fs::write(&tmp, body) {
            let _ = std::fs::remove_file(&tmp);
            return Err(PidBookError::Write {
                path: tmp.display().to_string(),
                source,
            });
        }
        std::fs::rename(&tmp, &path).map_err(|source| {
            let _ = std::fs::remove_file(&tmp);
            PidBookError::Write {
                path: path.display().to_string(),
                source,
            }
        })?;
        Ok(path)
    }

    /// Removes `record` (already gone is fine).
    pub fn remove(&self, record: &ChildRecord) -> Result<(), PidBookError> {
        remove(&self.dir.join(record.file_name()))
    }

    fn entries(&self) -> Result<Vec<Entry>, PidBookError> {
        let read_dir = |source| PidBookError::ReadDir {
            path: self.dir.display().to_string(),
            source,
        };
        let dir = match std::fs::read_dir(&self.dir) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(read_dir(e)),
        };
        let mut entries = Vec::new();
        for item in dir {
            let path = item.map_err(read_dir)?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                entries.push(Entry::Unreadable(path));
                continue;
            };
            if let Some(tmp) = name.strip_prefix('.') {
                if let Some(owner) = tmp.split('.').next().and_then(|p| p.parse().ok()) {
                    entries.push(Entry::Temporary(path, owner));
                } else {
                    entries.push(Entry::Unreadable(path));
                }
                continue;
            }
            let record = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<ChildRecord>(&b).ok())
                .filter(|r| r.file_name() == name);
            entries.push(match record {
                Some(r) => Entry::Record(path, r),
                None => Entry::Unreadable(path),
            });
        }
        entries.sort_by(|a, b| a.path().cmp(b.path()));
        Ok(entries)
    }
}

enum Entry {
    Record(PathBuf, ChildRecord),
    Unreadable(PathBuf),
    /// A temporary file and the pid of the process writing it.
    Temporary(PathBuf, u32),
}

impl Entry {
    fn path(&self) -> &Path {
        match self {
            Entry::Record(p, _) | Entry::Unreadable(p) | Entry::Temporary(p, _) => p,
        }
    }
}

fn remove(path: &Path) -> Result<(), PidBookError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(PidBookError::Remove {
            path: path.display().to_string(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(pid: u32) -> ChildRecord {
        ChildRecord {
            pid,
            pgid: pid,
            start_time: 7,
            owner_pid: std::process::id(),
            owner_start_time: stat::own_start_time(),
            what: "training job t".into(),
        }
    }

    #[test]
    fn an_inserted_record_is_read_back_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let book = PidBook::at(dir.path().join(PidBook::DIR));
        let r = record(4242);
        let path = book.insert(&r).unwrap();
        assert_eq!(path, book.dir().join("4242-7.json"));
        assert_eq!(book.records().unwrap(), vec![r.clone()]);
        book.remove(&r).unwrap();
        assert!(book.records().unwrap().is_empty());
        book.remove(&r).expect("removing a removed record is fine");
    }

    #[test]
    fn a_file_that_is_not_a_record_is_removed_by_the_sweep() {
        let dir = tempfile::tempdir().unwrap();
        let (book, _) = PidBook::open(dir.path()).unwrap();
        std::fs::write(dir.path().join("12-3.json"), "").unwrap();
        let sweep = book.sweep().unwrap();
        assert_eq!(sweep.unreadable, vec![dir.path().join("12-3.json")]);
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    }

    #[test]
    fn a_book_that_cannot_be_written_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_dir = dir.path().join("pids");
        std::fs::write(&not_a_dir, "a file").unwrap();
        let e = PidBook::at(&not_a_dir).insert(&record(4242)).unwrap_err();
        assert!(
            e.to_string().contains(&not_a_dir.display().to_string()),
            "{e}"
        );
    }
}
