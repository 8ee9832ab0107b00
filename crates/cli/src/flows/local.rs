//! The flows on the local cloud, read from the local cloud's journal (`mdlc_local::journal`):
//! ended executions are its records, `<state dir>/executions/<machine>/<execution>.json` (with
//! their history); a running execution has a marker `<state dir>/running/<machine>/<execution>.json`
//! (its ARN, start and process) until its record is written. A marker whose process is gone
//! without a record reads as `FAILED`, with the cause saying so.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mdlc_asl::{ExecutionObserver, ExecutionOptions};
use mdlc_local::LocalError;
use mdlc_local::invoker::valid_execution_name;
use mdlc_local::journal::{
    EXECUTIONS_DIR, ExecutionRecord, JournalError, RUNNING_DIR, RunningMarker, marker_path,
    record_path,
};
use mdlc_local::substitute::{LOCAL_ACCOUNT, LOCAL_REGION};
use mdlc_local::{LocalCloud, LocalCloudConfig, RunSettings};
use serde::Deserialize;
use serde_json::Value;

use super::{
    Definitions, ExecutionDetail, ExecutionSummary, Flow, RUNNING, detail_of, pick, running_detail,
    sort_newest_first, summary_of,
};
use crate::error::CliError;

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
            let running = m.process_alive();
            let summary = ExecutionSummary {
                name: m.name.clone(),
                execution_arn: m.execution_arn.clone(),
                state_machine: m.state_machine.clone(),
                status: if running { RUNNING } else { "FAILED" }.to_string(),
                started_at: Some(m.started_at.clone()),
                stopped_at: None,
            };
            let mut detail = running_detail(summary, Vec::new());
            if !running {
                let interrupted = m.interrupted();
                detail.error = Some(interrupted.error.into());
                detail.cause = Some(interrupted.cause);
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
        marker_path(&self.state_dir, flow.name(), name)
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
        let record = record_path(&self.state_dir, flow.name(), name);
        if record.exists() || self.marker_path(flow, name).exists() {
            return Err(already_exists(flow, name));
        }
        Ok(())
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
        self.check_name(flow, name)?;
        cloud
            .execute(flow.name(), &machine, name, input, None)
            .await
            .map_err(|e| match e {
                LocalError::Journal(JournalError::ExecutionAlreadyExists { .. }) => {
                    already_exists(flow, name)
                }
                e => CliError::Unavailable(e.to_string()),
            })?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
    }

    fn marker(flow: Flow, name: &str) -> RunningMarker {
        RunningMarker::of_this_process(
            flow.name(),
            name,
            &LocalFlows::execution_arn(flow, name),
            "2026-01-01T00:00:00.000Z",
        )
    }

    #[test]
    fn given_a_marker_then_the_execution_runs_until_its_process_is_gone() {
        let dir = tempdir();
        let flows = LocalFlows::new(dir.path());
        let journal = mdlc_local::journal::Journal::durable(dir.path());
        let guard = journal.begin(&marker(Flow::Training, "t-1"));
        let guard = guard.unwrap_or_else(|e| panic!("{e}"));
        let list = flows.list().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].status, RUNNING);
        assert_eq!(
            list[0].execution_arn,
            "arn:aws:states:us-east-1:000000000000:execution:training:t-1"
        );
        let again = flows.check_name(Flow::Training, "t-1").unwrap_err();
        assert_eq!(again.name(), "ExecutionAlreadyExists");
        assert!(flows.check_name(Flow::Evaluation, "t-1").is_ok());
        drop(guard);
        assert!(!flows.marker_path(Flow::Training, "t-1").exists());

        // A marker of a process that no longer exists: failed, with the reason.
        let path = flows.marker_path(Flow::Training, "gone");
        let gone = RunningMarker {
            pid: u32::MAX,
            ..marker(Flow::Training, "gone")
        };
        std::fs::write(&path, serde_json::to_vec(&gone).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        let d = flows.show("gone").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.summary.status, "FAILED");
        assert_eq!(d.error.as_deref(), Some("States.Runtime"));
        let cause = d.cause.unwrap_or_default();
        assert!(
            cause.contains(&format!("pid {}", u32::MAX)) && cause.contains("without recording"),
            "{cause}"
        );
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
