//! What the server keeps, and where: every state machine (with its tags) and every execution
//! (with its history) as one JSON file, replaced atomically on each change.
//!
//! ```text
//! <state dir>/serve/
//!   state-machines/<name>.json                 a MachineRecord
//!   executions/<machine>/<execution>.json      an ExecutionRecord (Express: <execution>.<id>.json)
//!   executions/<machine>/<execution>.events    while it runs: its events since the record was
//!                                              written, one JSON line each (appended)
//! ```
//!
//! A running execution's record is written when it starts and when it ends; in between its
//! events are appended to its `.events` log, so that after a crash its history is read back up
//! to its last event (a torn last line is ignored).
//!
//! A record is written to a temp file beside it, synced and renamed over it
//! ([`mdlc_trainer::fsio::write_atomically`]); an append that fails is cut back. So a write that
//! fails (a full disk) leaves the previous record whole and no temp file or half line, and is a
//! [`StoreError::Write`] naming the record (`execution <arn>`), its file and the OS error
//! (`No space left on device (os error 28)`); the API answers it as a 500 `InternalFailure`.

use std::path::{Path, PathBuf};

use mdlc_asl::HistoryEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A state machine as DescribeStateMachine shows it, with its tags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineRecord {
    pub state_machine_arn: String,
    pub name: String,
    pub definition: String,
    pub role_arn: String,
    /// `STANDARD` or `EXPRESS`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Epoch seconds.
    pub creation_date: f64,
    /// Epoch seconds of the last update (the creation date until updated).
    pub update_date: f64,
    pub revision_id: String,
    pub logging_configuration: Option<Value>,
    pub tracing_configuration: Option<Value>,
    pub tags: Vec<(String, String)>,
}

/// What an execution ran: its state machine at its start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineSnapshot {
    pub name: String,
    pub definition: String,
    pub role_arn: String,
    pub update_date: f64,
    pub revision_id: String,
}

/// One execution as DescribeExecution shows it, with its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionRecord {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub name: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`.
    pub status: String,
    pub start_date: f64,
    pub stop_date: Option<f64>,
    /// The input as given (JSON text).
    pub input: String,
    /// The output (JSON text) when SUCCEEDED.
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub history: Vec<HistoryEvent>,
    /// The order of starts (ListExecutions lists the newest first).
    pub seq: u64,
    /// Express executions have an id in their ARN.
    pub express_id: Option<String>,
    /// The MockConfigFile test case (`<arn>#<TestCase>`), if any.
    pub test_case: Option<String>,
    pub machine: MachineSnapshot,
    /// The Map Runs of its Distributed Map states, with their child executions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub map_runs: Vec<MapRunRecord>,
    /// A child execution's Map Run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_run_arn: Option<String>,
}

/// A Map Run as DescribeMapRun shows it, with its child executions (kept in the record of the
/// execution that started it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MapRunRecord {
    pub map_run_arn: String,
    pub execution_arn: String,
    /// The children's state machine (`...:stateMachine:<machine>/<label>`).
    pub state_machine_arn: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `ABORTED`.
    pub status: String,
    pub start_date: f64,
    pub stop_date: Option<f64>,
    pub max_concurrency: u64,
    pub tolerated_failure_percentage: f64,
    pub tolerated_failure_count: u64,
    /// DescribeMapRun's `itemCounts` and `executionCounts`.
    pub item_counts: Value,
    pub execution_counts: Value,
    pub children: Vec<ExecutionRecord>,
}

impl ExecutionRecord {
    pub fn is_running(&self) -> bool {
        self.status == "RUNNING"
    }
}

/// A name as a file name: a leading `.` is written `%2E` (names cannot contain `%` or `/`), so
/// that `.`, `..` and hidden names stay ordinary files inside their directory.
fn file_stem(name: &str) -> String {
    match name.strip_prefix('.') {
        Some(rest) => format!("%2E{rest}"),
        None => name.to_string(),
    }
}

/// A failure to read or write the state directory.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A record could not be written; its file keeps its previous content.
    #[error("could not write {what} to {path}: {source}")]
    Write {
        /// `execution <arn>`, `state machine <arn>`.
        what: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
}

/// The files under `<state dir>/serve`.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl StoreError {
    /// Whether a write failed because the file system is full (or the quota exhausted).
    pub fn is_storage_full(&self) -> bool {
        matches!(
            self,
            StoreError::Write { source, .. } if matches!(
                source.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            )
        )
    }
}

impl Store {
    pub fn new(state_dir: &Path) -> Self {
        Store {
            root: state_dir.join("serve"),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn machine_path(&self, name: &str) -> PathBuf {
        self.root
            .join("state-machines")
            .join(format!("{}.json", file_stem(name)))
    }

    fn execution_path(&self, r: &ExecutionRecord) -> PathBuf {
        let file = match &r.express_id {
            Some(id) => format!("{}.{id}.json", file_stem(&r.name)),
            None => format!("{}.json", file_stem(&r.name)),
        };
        self.root
            .join("executions")
            .join(file_stem(&r.machine.name))
            .join(file)
    }

    fn events_path(&self, r: &ExecutionRecord) -> PathBuf {
        self.execution_path(r).with_extension("events")
    }

    fn write(what: String, path: &Path, value: &impl Serialize) -> Result<(), StoreError> {
        let err = |source: std::io::Error| StoreError::Write {
            what: what.clone(),
            path: path.display().to_string(),
            source,
        };
        let bytes = serde_json::to_vec(value).map_err(|e| err(e.into()))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        mdlc_trainer::fsio::write_atomically(path, &bytes).map_err(|e| err(e.into()))
    }

    pub fn save_machine(&self, m: &MachineRecord) -> Result<(), StoreError> {
        Self::write(
            format!("state machine {}", m.state_machine_arn),
            &self.machine_path(&m.name),
            m,
        )
    }

    pub fn delete_machine(&self, name: &str) -> Result<(), StoreError> {
        let path = self.machine_path(name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::Write {
                what: format!("the deletion of state machine {name}"),
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Writes an execution's record; a finished one's event log is then removed.
    pub fn save_execution(&self, r: &ExecutionRecord) -> Result<(), StoreError> {
        Self::write(
            format!("execution {}", r.execution_arn),
            &self.execution_path(r),
            r,
        )?;
        if !r.is_running() {
            let _ = std::fs::remove_file(self.events_path(r));
        }
        Ok(())
    }

    /// Appends one event of a running execution to its event log.
    pub fn append_event(&self, r: &ExecutionRecord, e: &HistoryEvent) -> Result<(), StoreError> {
        use std::io::Write;
        let path = self.events_path(r);
        let err = |source: std::io::Error| StoreError::Write {
            what: format!("event {} of execution {}", e.id, r.execution_arn),
            path: path.display().to_string(),
            source,
        };
        let mut line = serde_json::to_vec(e).map_err(|x| err(x.into()))?;
        line.push(b'\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(err)?;
        let end = f.metadata().map_err(err)?.len();
        f.write_all(&line).map_err(|x| {
            // a full disk: cut the half line, so that the next event starts a line of its own
            let _ = f.set_len(end);
            err(x)
        })
    }

    /// The events of a running execution's log (those after its record's history).
    fn logged_events(&self, r: &ExecutionRecord) -> Vec<HistoryEvent> {
        let Ok(text) = std::fs::read_to_string(self.events_path(r)) else {
            return Vec::new();
        };
        let after = r.history.iter().map(|e| e.id).max().unwrap_or(0);
        let mut events: Vec<HistoryEvent> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<HistoryEvent>(l).ok())
            .filter(|e| e.id > after)
            .collect();
        events.sort_by_key(|e| e.id);
        events.dedup_by_key(|e| e.id);
        events
    }

    /// Every JSON file directly in `dir` (none when it does not exist), in name order.
    fn json_files(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(StoreError::Read {
                    path: dir.display().to_string(),
                    message: e.to_string(),
                });
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|x| x == "json")
                    && !p
                        .file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with('.'))
            })
            .collect();
        files.sort();
        Ok(files)
    }

    fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, StoreError> {
        let err = |e: String| StoreError::Read {
            path: path.display().to_string(),
            message: e,
        };
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|e| err(e.to_string()))
    }

    pub fn load_machines(&self) -> Result<Vec<MachineRecord>, StoreError> {
        Self::json_files(&self.root.join("state-machines"))?
            .iter()
            .map(|p| Self::read(p))
            .collect()
    }

    pub fn load_executions(&self) -> Result<Vec<ExecutionRecord>, StoreError> {
        let mut out = Vec::new();
        let dir = self.root.join("executions");
        let machines = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => {
                return Err(StoreError::Read {
                    path: dir.display().to_string(),
                    message: e.to_string(),
                });
            }
        };
        let mut dirs: Vec<PathBuf> = machines
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for d in dirs {
            for f in Self::json_files(&d)? {
                let mut r: ExecutionRecord = Self::read(&f)?;
                if r.is_running() {
                    let logged = self.logged_events(&r);
                    r.history.extend(logged);
                }
                out.push(r);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_names_stay_inside_their_directory_and_are_not_hidden() {
        assert_eq!(file_stem(".."), "%2E.");
        assert_eq!(file_stem(".hidden"), "%2Ehidden");
        assert_eq!(file_stem("a.b"), "a.b");
        let store = Store::new(Path::new("/s"));
        assert_eq!(
            store.machine_path(".."),
            Path::new("/s/serve/state-machines/%2E..json")
        );
    }
}
