//! In-memory [`TrainingHistory`] for tests (feature `testing`), with one-shot failure injection.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{TrainingHistory, TrainingJobSummary, TuningJobSummary};
use crate::error::PortError;
use crate::sync::lock;

#[derive(Default)]
struct HistoryState {
    tuning: BTreeMap<String, TuningJobSummary>,
    /// tuning job → its training job names.
    children: BTreeMap<String, Vec<String>>,
    training: BTreeMap<String, TrainingJobSummary>,
    logs: BTreeMap<String, String>,
    fail_next: Vec<PortError>,
    calls: u32,
}

/// In-memory [`TrainingHistory`] for tests, with one-shot failure injection.
#[derive(Default)]
pub struct InMemoryTrainingHistory {
    state: Mutex<HistoryState>,
}

impl InMemoryTrainingHistory {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, HistoryState> {
        lock(&self.state)
    }

    /// The next call fails with `error` (errors queue up, first in first out).
    pub fn fail_next(&self, error: PortError) {
        self.state().fail_next.push(error);
    }

    /// Adds a tuning job.
    pub fn insert_tuning_job(&self, job: TuningJobSummary) {
        self.state().tuning.insert(job.name.clone(), job);
    }

    /// Adds a training job, launched by `tuning_job` when given.
    pub fn insert_training_job(&self, tuning_job: Option<&str>, job: TrainingJobSummary) {
        let mut s = self.state();
        if let Some(t) = tuning_job {
            let list = s.children.entry(t.to_string()).or_default();
            if !list.contains(&job.name) {
                list.push(job.name.clone());
                list.sort();
            }
        }
        s.training.insert(job.name.clone(), job);
    }

    /// Sets a training job's log.
    pub fn insert_log(&self, job: &str, log: impl Into<String>) {
        self.state().logs.insert(job.to_string(), log.into());
    }

    /// How many port calls were made.
    pub fn calls(&self) -> u32 {
        self.state().calls
    }

    fn enter(&self) -> Result<std::sync::MutexGuard<'_, HistoryState>, PortError> {
        let mut s = self.state();
        s.calls += 1;
        if !s.fail_next.is_empty() {
            return Err(s.fail_next.remove(0));
        }
        Ok(s)
    }
}

#[async_trait]
impl TrainingHistory for InMemoryTrainingHistory {
    async fn tuning_job(&self, tuning_job: &str) -> Result<TuningJobSummary, PortError> {
        self.enter()?
            .tuning
            .get(tuning_job)
            .cloned()
            .ok_or_else(|| PortError::not_found(format!("tuning job {tuning_job:?}")))
    }

    async fn tuning_training_jobs(
        &self,
        tuning_job: &str,
    ) -> Result<Vec<TrainingJobSummary>, PortError> {
        let s = self.enter()?;
        if !s.tuning.contains_key(tuning_job) {
            return Err(PortError::not_found(format!("tuning job {tuning_job:?}")));
        }
        Ok(s.children
            .get(tuning_job)
            .map(|names| {
                names
                    .iter()
                    .filter_map(|n| s.training.get(n).cloned())
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn training_job(&self, job: &str) -> Result<TrainingJobSummary, PortError> {
        self.enter()?
            .training
            .get(job)
            .cloned()
            .ok_or_else(|| PortError::not_found(format!("training job {job:?}")))
    }

    async fn training_log(&self, job: &str) -> Result<String, PortError> {
        self.enter()?
            .logs
            .get(job)
            .cloned()
            .ok_or_else(|| PortError::not_found(format!("log of training job {job:?}")))
    }
}
