//! What the server keeps, and where: every state machine (with its tags) and every execution
//! (with its history) as one JSON file, replaced atomically on each change.
//!
//! ```text
//! <state dir>/serve/
//!   state-machines/<name>.json                 a MachineRecord
//!   executions/<machine>/<execution>.json      an ExecutionRecord (Express: <execution>.<id>.json)
//! ```

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
}

impl ExecutionRecord {
    pub fn is_running(&self) -> bool {
        self.status == "RUNNING"
    }
}

/// A failure to read or write the state directory.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
}

/// The files under `<state dir>/serve`.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
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
            .join(format!("{name}.json"))
    }

    fn execution_path(&self, r: &ExecutionRecord) -> PathBuf {
        let file = match &r.express_id {
            Some(id) => format!("{}.{id}.json", r.name),
            None => format!("{}.json", r.name),
        };
        self.root
            .join("executions")
            .join(&r.machine.name)
            .join(file)
    }

    fn write(path: &Path, value: &impl Serialize) -> Result<(), StoreError> {
        let err = |e: String| StoreError::Write {
            path: path.display().to_string(),
            message: e,
        };
        let bytes = serde_json::to_vec(value).map_err(|e| err(e.to_string()))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        mdlc_trainer::fsio::write_atomically(path, &bytes).map_err(|e| err(e.to_string()))
    }

    pub fn save_machine(&self, m: &MachineRecord) -> Result<(), StoreError> {
        Self::write(&self.machine_path(&m.name), m)
    }

    pub fn delete_machine(&self, name: &str) -> Result<(), StoreError> {
        let path = self.machine_path(name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::Write {
                path: path.display().to_string(),
                message: e.to_string(),
            }),
        }
    }

    pub fn save_execution(&self, r: &ExecutionRecord) -> Result<(), StoreError> {
        Self::write(&self.execution_path(r), r)
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
                out.push(Self::read(&f)?);
            }
        }
        Ok(out)
    }
}
