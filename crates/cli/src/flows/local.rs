//! The flows on the local cloud. Ended executions are the local cloud's records,
//! `<state dir>/executions/<machine>/<execution>.json` (written by `LocalCloud::execute`, with
//! their history); an execution `mdlc train`/`mdlc evaluate` is running has a marker
//! `<state dir>/running/<machine>/<execution>.json` (its ARN, start and process id) until its
//! record is written. A marker whose process is gone without a record reads as `ABORTED`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mdlc_asl::{ExecutionObserver, ExecutionOptions};
use mdlc_local::invoker::{ExecutionRecord, valid_execution_name};
use mdlc_local::substitute::{LOCAL_ACCOUNT, LOCAL_REGION};
use mdlc_local::{LocalCloud, LocalCloudConfig, RunSettings};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    Definitions, ExecutionDetail, ExecutionSummary, Flow, RUNNING, detail_of, pick, running_detail,
    sort_newest_first, summary_of,
};
use crate::error::CliError;

/// The directory of the ended executions' records (the local cloud's).
pub const EXECUTIONS_DIR: &str = "executions";
/// The directory of the running executions' markers (this command's).
pub const RUNNING_DIR: &str = "running";

/// An execution `mdlc train`/`mdlc evaluate` started and has not recorded yet.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunningMarker {
    pub name: String,
    pub execution_arn: String,
    pub state_machine: String,
    pub started_at: String,
    /// The process running it.
    pub pid: u32,
}

/// The executions of the local cloud under one state directory.
#[derive(Debug, Clone)]
pub struct LocalFlows {
    state_dir: PathBuf,
}

fn unavailable(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::Unavailable(format!("{}: {e}", path.display()))
}

/// The `*.json` files of each subdirectory of `dir` (none when `dir` does not exist).
fn json_files(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    let mut files = Vec::new();
    let machines = match std::fs::read_dir(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(unavailable(dir, e)),
    };
    for machine in machines {
        let machine = machine.map_err(|e| unavailable(dir, e))?.path();
        if !machine.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&machine).map_err(|e| unavailable(&machine, e))? {
            let path = entry.map_err(|e| unavailable(&machine, e))?.path();
            if path.extension().is_some_and(|x| x == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, CliError> {
    let bytes = std::fs::read(path).map_err(|e| unavailable(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| unavailable(path, format!("not readable: {e}")))
}

/// Whether process `pid` still exists (where `/proc` tells; elsewhere assumed).
fn alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

impl LocalFlows {
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        LocalFlows {
            state_dir: state_dir.into(),
        }
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Every recorded (ended) execution, nested ones included.
    pub fn records(&self) -> Result<Vec<ExecutionRecord>, CliError> {
        json_files(&self.state_dir.join(EXECUTIONS_DIR))?
            .iter()
            .map(|p| read_json(p))
            .collect()
    }

    /// The running markers; one still being written (not JSON yet) is left out.
    fn markers(&self) -> Result<Vec<RunningMarker>, CliError> {
        Ok(json_files(&self.state_dir.join(RUNNING_DIR))?
            .iter()
            .filter_map(|p| read_json(p).ok())
            .collect())
    }

    /// The executions with a marker and no record yet: running, or aborted when their process
    /// is gone.
    fn unrecorded(&self, records: &[ExecutionRecord]) -> Result<Vec<ExecutionDetail>, CliError> {
        let mut out = Vec::new();
        for m in self.markers()? {
            if records.iter().any(|r| r.arn == m.execution_arn) {
                continue;
            }
            let running = alive(m.pid);
            let summary = ExecutionSummary {
                name: m.name.clone(),
                execution_arn: m.execution_arn.clone(),
                state_machine: m.state_machine.clone(),
                status: if running { RUNNING } else { "ABORTED" }.to_string(),
                started_at: Some(m.started_at.clone()),
                stopped_at: None,
            };
            let mut detail = running_detail(summary, Vec::new());
            if !running {
                detail.error = Some("States.Runtime".into());
                detail.cause = Some(format!(
                    "the process running it (pid {}) ended without recording a result",
                    m.pid
                ));
            }
            out.push(detail);
        }
        Ok(out)
    }

    /// Every execution, newest first.
    pub fn list(&self) -> Result<Vec<ExecutionSummary>, CliError> {
        let records = self.records()?;
        let mut list: Vec<ExecutionSummary> = records.iter().map(summary_of).collect();
        list.extend(self.unrecorded(&records)?.into_iter().map(|d| d.summary));
        sort_newest_first(&mut list);
        Ok(list)
    }

    /// The execution named `id` (its name or ARN).
    pub fn show(&self, id: &str) -> Result<ExecutionDetail, CliError> {
        let records = self.records()?;
        let mut details: Vec<ExecutionDetail> = records
            .iter()
            .filter(|r| r.arn == id || r.name == id)
            .map(detail_of)
            .collect();
        details.extend(
            self.unrecorded(&records)?
                .into_iter()
                .filter(|d| d.summary.execution_arn == id || d.summary.name == id),
        );
        pick(id, details, |d| &d.summary.execution_arn)
    }

    /// The local ARN of execution `name` of `flow`.
    pub fn execution_arn(flow: Flow, name: &str) -> String {
        ExecutionOptions {
            state_machine_name: flow.name().to_string(),
            execution_name: name.to_string(),
            region: LOCAL_REGION.to_string(),
            account: LOCAL_ACCOUNT.to_string(),
            ..Default::default()
        }
        .execution_arn()
    }

    /// Where the marker of a running execution is.
    pub fn marker_path(&self, flow: Flow, name: &str) -> PathBuf {
        self.state_dir
            .join(RUNNING_DIR)
            .join(flow.name())
            .join(format!("{name}.json"))
    }

    /// Where the output of an execution started with `--no-wait` goes.
    pub fn log_path(&self, flow: Flow, name: &str) -> PathBuf {
        self.marker_path(flow, name).with_extension("log")
    }

    /// Checks that `name` is a valid execution name not taken by an execution of `flow`
    /// (recorded or running), as StartExecution does.
    pub fn check_name(&self, flow: Flow, name: &str) -> Result<(), CliError> {
        if !valid_execution_name(name) {
            return Err(CliError::Usage(format!(
                "--name {name:?}: an execution name is 1-80 characters of letters, digits, '-' and '_'"
            )));
        }
        let record = self
            .state_dir
            .join(EXECUTIONS_DIR)
            .join(flow.name())
            .join(format!("{name}.json"));
        if record.exists() || self.marker_path(flow, name).exists() {
            return Err(already_exists(flow, name));
        }
        Ok(())
    }

    /// Marks execution `name` of `flow` as running in this process (atomically: a name taken
    /// meanwhile is `ExecutionAlreadyExists`); the marker goes when the guard is dropped.
    pub fn mark_running(&self, flow: Flow, name: &str) -> Result<MarkerGuard, CliError> {
        self.check_name(flow, name)?;
        let path = self.marker_path(flow, name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| unavailable(dir, e))?;
        }
        let marker = RunningMarker {
            name: name.to_string(),
            execution_arn: Self::execution_arn(flow, name),
            state_machine: flow.name().to_string(),
            started_at: mdlc_core::registry::format_timestamp(chrono::Utc::now()),
            pid: std::process::id(),
        };
        let bytes = serde_json::to_vec_pretty(&marker).map_err(|e| unavailable(&path, e))?;
        let mut file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(already_exists(flow, name));
            }
            Err(e) => return Err(unavailable(&path, e)),
        };
        std::io::Write::write_all(&mut file, &bytes).map_err(|e| unavailable(&path, e))?;
        Ok(MarkerGuard(path))
    }

    /// The local cloud on this state directory, its flows on a real clock reporting to
    /// `observer`.
    pub fn cloud(
        &self,
        observer: Option<Arc<dyn ExecutionObserver>>,
    ) -> Result<LocalCloud, CliError> {
        let mut config = LocalCloudConfig::new(&self.state_dir);
        config.settings = RunSettings {
            clock: Arc::new(mdlc_asl::RealClock),
            record_history: true,
            observer,
            item_store: None,
            max_transitions: None,
        };
        LocalCloud::new(config).map_err(|e| CliError::Unavailable(e.to_string()))
    }

    /// Runs `flow` as execution `name` in this process until it ends; returns its detail.
    pub async fn run(
        &self,
        flow: Flow,
        name: &str,
        input: Value,
        observer: Option<Arc<dyn ExecutionObserver>>,
    ) -> Result<ExecutionDetail, CliError> {
        let cloud = self.cloud(observer)?;
        let machine = cloud.state_machine(flow.name()).cloned().ok_or_else(|| {
            CliError::Unavailable(format!(
                "the project's {0} state machine is not available (statemachine/{0}.asl.json; set MDLC_STATE_MACHINE_DIR)",
                flow.name()
            ))
        })?;
        let marker = self.mark_running(flow, name)?;
        let result = cloud
            .execute(flow.name(), &machine, name, input, None)
            .await
            .map_err(|e| CliError::Unavailable(e.to_string()));
        drop(marker);
        result?;
        self.show(&Self::execution_arn(flow, name))
    }

    /// The project state machines' (substituted) definitions.
    pub fn definitions(&self) -> Result<Definitions, CliError> {
        let cloud = self.cloud(None)?;
        Ok(Flow::ALL
            .into_iter()
            .filter_map(|f| {
                cloud
                    .state_machine(f.name())
                    .map(|m| (f.name().to_string(), m.definition().clone()))
            })
            .collect())
    }
}

fn already_exists(flow: Flow, name: &str) -> CliError {
    CliError::ExecutionAlreadyExists(format!(
        "Execution Already Exists: '{}' (an execution of {} named {name:?} was already started)",
        LocalFlows::execution_arn(flow, name),
        flow.name()
    ))
}

/// Removes a running marker when dropped.
#[derive(Debug)]
pub struct MarkerGuard(PathBuf);

impl Drop for MarkerGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
    }

    #[test]
    fn given_a_marker_then_the_execution_runs_until_its_process_is_gone() {
        let dir = tempdir();
        let flows = LocalFlows::new(dir.path());
        let guard = flows.mark_running(Flow::Training, "t-1");
        let guard = guard.unwrap_or_else(|e| panic!("{e}"));
        let list = flows.list().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].status, RUNNING);
        assert_eq!(
            list[0].execution_arn,
            "arn:aws:states:us-east-1:000000000000:execution:training:t-1"
        );
        let again = flows.mark_running(Flow::Training, "t-1").unwrap_err();
        assert_eq!(again.name(), "ExecutionAlreadyExists");
        assert!(flows.mark_running(Flow::Evaluation, "t-1").is_ok());
        drop(guard);
        assert!(!flows.marker_path(Flow::Training, "t-1").exists());

        // A marker of a process that no longer exists: aborted, with the reason.
        let path = flows.marker_path(Flow::Training, "gone");
        let marker = RunningMarker {
            name: "gone".into(),
            execution_arn: LocalFlows::execution_arn(Flow::Training, "gone"),
            state_machine: "training".into(),
            started_at: "2026-01-01T00:00:00.000Z".into(),
            pid: u32::MAX,
        };
        std::fs::write(&path, serde_json::to_vec(&marker).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        let d = flows.show("gone").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.summary.status, "ABORTED");
        assert!(d.cause.unwrap_or_default().contains("without recording"));
    }

    #[test]
    fn given_bad_names_then_usage_errors_name_the_rule() {
        let dir = tempdir();
        let flows = LocalFlows::new(dir.path());
        for bad in ["", "a b", "../x", &"x".repeat(81)] {
            let err = flows.check_name(Flow::Training, bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
        assert_eq!(
            flows.show("nope").unwrap_err().exit_code(),
            4,
            "an empty state dir has no executions"
        );
    }
}
