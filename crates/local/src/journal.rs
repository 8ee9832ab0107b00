//! The executions of the local cloud, kept so that a crash loses none of them.
//!
//! An execution that starts gets a *running marker*, `<state dir>/running/<machine>/<name>.json`
//! (its ARN, its start and the process running it, by pid and that process's start time so that
//! a reused pid is not mistaken for it), created exclusively: the name is claimed on disk, as
//! StartExecution claims it. When the execution ends its record is written,
//! `<state dir>/executions/<machine>/<name>.json` (atomically: a reader sees the whole record or
//! none), and only then is the marker removed. After a `kill -9` at any moment a reader therefore
//! finds every execution: ended (a record), still running (a marker whose process lives), or
//! interrupted (a marker whose process is gone and no record), which [`Interrupted`] describes.
//!
//! The in-memory journal (tests, the report of one run) keeps the same records without files.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use mdlc_asl::Execution;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The directory of the ended executions' records.
pub const EXECUTIONS_DIR: &str = "executions";
/// The directory of the running executions' markers.
pub const RUNNING_DIR: &str = "running";

/// The error of an execution whose process ended without recording it.
pub const INTERRUPTED_ERROR: &str = "States.Runtime";

/// One finished (or failed-to-start) execution, for reports and `.mdlc/executions/`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecutionRecord {
    pub state_machine_name: String,
    pub state_machine_arn: String,
    pub name: String,
    pub arn: String,
    /// The execution that started this one (`startExecution`), if any.
    pub parent_arn: Option<String>,
    pub input: Value,
    /// RFC 3339.
    pub started_at: String,
    pub stopped_at: String,
    pub execution: Execution,
}

/// An execution that has started and has no record yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunningMarker {
    pub name: String,
    pub execution_arn: String,
    pub state_machine: String,
    /// RFC 3339.
    pub started_at: String,
    /// The process running it.
    pub pid: u32,
    /// That process's start (`/proc/<pid>/stat` field 22, clock ticks after boot), so that a
    /// later process with the same pid does not pass for it; absent where `/proc` is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_started: Option<u64>,
}

impl RunningMarker {
    /// A marker of execution `name` of `state_machine` run by this process.
    pub fn of_this_process(
        state_machine: &str,
        name: &str,
        execution_arn: &str,
        started_at: &str,
    ) -> RunningMarker {
        RunningMarker {
            name: name.to_string(),
            execution_arn: execution_arn.to_string(),
            state_machine: state_machine.to_string(),
            started_at: started_at.to_string(),
            pid: std::process::id(),
            process_started: Some(mdlc_proc::stat::own_start_time()).filter(|t| *t > 0),
        }
    }

    /// Whether the process that wrote this marker is still running.
    pub fn process_alive(&self) -> bool {
        if !Path::new("/proc").is_dir() {
            return true;
        }
        match self.process_started {
            Some(started) => mdlc_proc::stat::is_running(self.pid, started),
            None => mdlc_proc::stat::start_time(self.pid).is_some(),
        }
    }

    /// What a reader reports for this marker's execution when its process is gone.
    pub fn interrupted(&self) -> Interrupted {
        Interrupted {
            error: INTERRUPTED_ERROR,
            cause: format!(
                "The process that ran this execution (pid {}) ended before the execution did, without recording a result; executions are not resumed.",
                self.pid
            ),
        }
    }
}

/// The failure an interrupted execution reads as (status `FAILED`).
#[derive(Debug, Clone, PartialEq)]
pub struct Interrupted {
    pub error: &'static str,
    pub cause: String,
}

/// Writing the journal failed.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The name is taken by an execution of the same state machine (ended or running).
    #[error("Execution Already Exists: '{arn}'")]
    ExecutionAlreadyExists { arn: String },
    /// A marker or record could not be written.
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
}

/// The executions run through one invoker: in memory, and on disk when durable.
#[derive(Debug, Default)]
pub struct Journal {
    records: Mutex<Vec<ExecutionRecord>>,
    /// The state directory (durable journal).
    dir: Option<PathBuf>,
}

impl Journal {
    /// A journal that writes markers and records under `state_dir`.
    pub fn durable(state_dir: impl Into<PathBuf>) -> Journal {
        Journal {
            records: Mutex::default(),
            dir: Some(state_dir.into()),
        }
    }

    /// Marks an execution as running (durable journals; nothing otherwise) until the guard is
    /// dropped. A name already recorded or marked is [`JournalError::ExecutionAlreadyExists`].
    pub fn begin(&self, marker: &RunningMarker) -> Result<MarkerGuard, JournalError> {
        let Some(dir) = &self.dir else {
            return Ok(MarkerGuard(None));
        };
        let exists = || JournalError::ExecutionAlreadyExists {
            arn: marker.execution_arn.clone(),
        };
        if record_path(dir, &marker.state_machine, &marker.name).exists() {
            return Err(exists());
        }
        let path = marker_path(dir, &marker.state_machine, &marker.name);
        let write = |e: &dyn std::fmt::Display| JournalError::Write {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let bytes = serde_json::to_vec_pretty(marker).map_err(|e| write(&e))?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| write(&e))?;
        }
        // Claim the name with a file of our own, then publish it whole under the marker's name
        // (a reader never sees half a marker; a second claimant finds the name taken).
        let claim = path.with_extension(format!("claim-{}", std::process::id()));
        mdlc_trainer::fsio::write_atomically(&claim, &bytes).map_err(|e| write(&e))?;
        let linked = std::fs::hard_link(&claim, &path);
        let _ = std::fs::remove_file(&claim);
        match linked {
            Ok(()) => Ok(MarkerGuard(Some(path))),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(exists()),
            Err(e) => Err(write(&e)),
        }
    }

    /// Keeps the record of an ended execution (written atomically when durable).
    pub fn push(&self, record: ExecutionRecord) -> Result<(), JournalError> {
        let written = match &self.dir {
            Some(dir) => write_record(dir, &record),
            None => Ok(()),
        };
        if let Ok(mut records) = self.records.lock() {
            records.push(record);
        }
        written
    }

    /// A copy of every record this journal kept, in the order the executions ended.
    pub fn records(&self) -> Vec<ExecutionRecord> {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

fn write_record(dir: &Path, record: &ExecutionRecord) -> Result<(), JournalError> {
    let path = record_path(dir, &record.state_machine_name, &record.name);
    let write = |e: &dyn std::fmt::Display| JournalError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let bytes = serde_json::to_vec_pretty(record).map_err(|e| write(&e))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| write(&e))?;
    }
    mdlc_trainer::fsio::write_atomically(&path, &bytes).map_err(|e| write(&e))
}

/// Where the record of execution `name` of `machine` is.
pub fn record_path(state_dir: &Path, machine: &str, name: &str) -> PathBuf {
    state_dir
        .join(EXECUTIONS_DIR)
        .join(machine)
        .join(format!("{name}.json"))
}

/// Where the marker of running execution `name` of `machine` is.
pub fn marker_path(state_dir: &Path, machine: &str, name: &str) -> PathBuf {
    state_dir
        .join(RUNNING_DIR)
        .join(machine)
        .join(format!("{name}.json"))
}

/// Removes a running marker when dropped (after the record is written).
#[derive(Debug)]
pub struct MarkerGuard(Option<PathBuf>);

impl MarkerGuard {
    /// Leaves the marker in place (its record could not be written: a reader then reports the
    /// execution as interrupted once this process is gone, instead of not at all).
    pub fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for MarkerGuard {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(name: &str) -> RunningMarker {
        RunningMarker::of_this_process(
            "training",
            name,
            &format!("arn:aws:states:us-east-1:000000000000:execution:training:{name}"),
            "2026-01-01T00:00:00.000Z",
        )
    }

    #[test]
    fn this_process_is_alive_and_a_marker_of_a_reused_pid_is_not() {
        let mine = marker("a");
        assert!(mine.process_started.is_some(), "Linux has /proc");
        assert!(mine.process_alive());
        let reused = RunningMarker {
            process_started: mine.process_started.map(|t| t + 1),
            ..mine.clone()
        };
        assert!(!reused.process_alive(), "same pid, another start time");
        let gone = RunningMarker {
            pid: u32::MAX,
            ..mine
        };
        assert!(!gone.process_alive());
        assert!(
            gone.interrupted()
                .cause
                .contains(&format!("pid {}", u32::MAX))
        );
    }

    #[test]
    fn a_name_is_claimed_once_and_the_marker_goes_with_its_guard() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::durable(dir.path());
        let guard = journal.begin(&marker("t-1")).unwrap();
        let path = marker_path(dir.path(), "training", "t-1");
        let on_disk: RunningMarker =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(on_disk, marker("t-1"));
        let again = journal.begin(&marker("t-1")).unwrap_err();
        assert!(
            matches!(again, JournalError::ExecutionAlreadyExists { ref arn } if arn.ends_with(":training:t-1")),
            "{again}"
        );
        drop(guard);
        assert!(!path.exists());
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(names.is_empty(), "no claim file left: {names:?}");
    }

    #[test]
    fn a_pushed_record_is_on_disk_whole_and_its_name_stays_taken() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::durable(dir.path());
        let guard = journal.begin(&marker("t-2")).unwrap();
        let record = ExecutionRecord {
            state_machine_name: "training".into(),
            state_machine_arn: "arn:aws:states:us-east-1:000000000000:stateMachine:training".into(),
            name: "t-2".into(),
            arn: marker("t-2").execution_arn,
            parent_arn: None,
            input: serde_json::json!({"a": 1}),
            started_at: "2026-01-01T00:00:00.000Z".into(),
            stopped_at: "2026-01-01T00:00:01.000Z".into(),
            execution: Execution {
                status: mdlc_asl::ExecutionStatus::Succeeded,
                output: Some(serde_json::json!({"ok": true})),
                error: None,
                cause: None,
                history: Vec::new(),
            },
        };
        journal.push(record).unwrap();
        drop(guard);
        let path = record_path(dir.path(), "training", "t-2");
        let back: ExecutionRecord = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(back.input, serde_json::json!({"a": 1}));
        assert_eq!(journal.records().len(), 1);
        assert!(!marker_path(dir.path(), "training", "t-2").exists());
        let again = journal.begin(&marker("t-2")).unwrap_err();
        assert!(
            matches!(again, JournalError::ExecutionAlreadyExists { .. }),
            "{again}"
        );
    }
}
