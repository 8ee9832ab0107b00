//! The model registry's items and their semantics, held in memory: one implementation for every
//! stand-in registry. `memory::InMemoryRegistry` keeps a [`RegistryState`] behind a lock;
//! `mdlc_local::registry::FsRegistry` loads one from its database file, applies a change and
//! saves it under its cross-process lock.
//!
//! The items are those of the DynamoDB table (docs/ARCHITECTURE.md, "Model registry"), keyed by
//! the table's sort keys ([`crate::registry`]), so iteration order is the table's query order:
//! per model a version counter, version items, per-execution idempotency markers, evaluation
//! items, the operation revision and the history items. The serialised form is the local
//! registry's database layout (`models` of `registry.json`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::PortError;
use crate::registry::{
    EvaluationRecord, ModelVersion, NewVersion, Registration, VersionStatus, evaluated_at_or_after,
    evaluation_sort_key, execution_marker_key, history_prefix, history_sort_key,
    latest_with_status, version_sort_key,
};
use crate::registry_ops::{self, Operation, OperationError, VersionChange};

/// Every model's items: model name → items.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RegistryState {
    models: BTreeMap<String, ModelItems>,
}

/// The items of one model (one partition of the table).
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct ModelItems {
    /// `COUNTER`: the last version assigned.
    counter: u64,
    /// `V#<10 digits>` → version.
    versions: BTreeMap<String, ModelVersion>,
    /// `X#<execution>` → the version that execution registered.
    executions: BTreeMap<String, u64>,
    /// `E#<timestamp>#<execution>` → evaluation.
    evaluations: BTreeMap<String, EvaluationRecord>,
    /// `REVISION`: how many operations were applied (absent in databases written before).
    #[serde(default)]
    revision: u64,
    /// `H#<10-digit version>#<10-digit revision>` → one change of one version.
    #[serde(default)]
    history: BTreeMap<String, VersionChange>,
}

/// The registry's check of a registration: the model name and the execution (the idempotency
/// key) must not be empty (DynamoDB refuses an empty key attribute).
fn validate_new(new: &NewVersion) -> Result<(), PortError> {
    let mut missing = Vec::new();
    if new.model_name.is_empty() {
        missing.push("modelName");
    }
    if new.execution_arn.is_empty() {
        missing.push("executionArn");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(PortError::Rejected {
            message: format!("registration needs a non-empty {}", missing.join(" and ")),
        })
    }
}

/// Everything [`RegistryState::register_as`] checks before it reads the items: the keys
/// (`validate_new`) and the initial status ([`registry_ops::check_initial_status`]). An adapter
/// with storage of its own (the file registry, DynamoDB) calls it first, so that a refused
/// registration touches nothing.
pub fn check_registration(new: &NewVersion, status: VersionStatus) -> Result<(), PortError> {
    validate_new(new)?;
    registry_ops::check_initial_status(status)
}

/// What [`RegistryState::put_evaluation`] checks before it reads the items: the model name
/// must not be empty.
pub fn check_evaluation(record: &EvaluationRecord) -> Result<(), PortError> {
    if record.model_name.is_empty() {
        return Err(PortError::Rejected {
            message: "evaluation needs a non-empty modelName".into(),
        });
    }
    Ok(())
}

impl RegistryState {
    /// The models that have any item, in name order.
    pub fn model_names(&self) -> Vec<String> {
        self.models.keys().cloned().collect()
    }

    /// `RegistryRead::latest_version`.
    pub fn latest_version(&self, model: &str, statuses: &[VersionStatus]) -> Option<ModelVersion> {
        self.models
            .get(model)
            .and_then(|items| latest_with_status(items.versions.values(), statuses).cloned())
    }

    /// `RegistryRead::get_version`.
    pub fn get_version(&self, model: &str, version: u64) -> Option<ModelVersion> {
        self.models
            .get(model)
            .and_then(|items| items.versions.get(&version_sort_key(version)))
            .cloned()
    }

    /// `RegistryRead::list_versions`: ascending.
    pub fn list_versions(&self, model: &str) -> Vec<ModelVersion> {
        self.models
            .get(model)
            .map(|items| items.versions.values().cloned().collect())
            .unwrap_or_default()
    }

    /// `RegistryRead::list_evaluations`: in sort-key order (time, then execution), those
    /// evaluated at or after `since`.
    pub fn list_evaluations(&self, model: &str, since: Option<&str>) -> Vec<EvaluationRecord> {
        self.models
            .get(model)
            .map(|items| {
                items
                    .evaluations
                    .values()
                    .filter(|e| since.is_none_or(|s| evaluated_at_or_after(&e.evaluated_at, s)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `RegistryRead::revision`: 0 for an unknown model.
    pub fn revision(&self, model: &str) -> u64 {
        self.models.get(model).map_or(0, |items| items.revision)
    }

    /// `RegistryRead::version_history`: oldest first.
    pub fn version_history(&self, model: &str, version: u64) -> Vec<VersionChange> {
        let prefix = history_prefix(version);
        self.models
            .get(model)
            .map(|items| {
                items
                    .history
                    .range(prefix.clone()..)
                    .take_while(|(key, _)| key.starts_with(&prefix))
                    .map(|(_, change)| change.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `RegistryWrite::register_as`, as one transaction: counter, version and execution marker
    /// together; a repeated execution gets its version back (`created: false`, nothing
    /// changed).
    pub fn register_as(
        &mut self,
        new: NewVersion,
        status: VersionStatus,
    ) -> Result<Registration, PortError> {
        check_registration(&new, status)?;
        let items = self.models.entry(new.model_name.clone()).or_default();
        let marker = execution_marker_key(&new.execution_arn);
        if let Some(existing) = items.executions.get(&marker) {
            let version = items
                .versions
                .get(&version_sort_key(*existing))
                .cloned()
                .ok_or_else(|| PortError::Corrupt {
                    message: format!(
                        "execution marker {marker} points at version {existing}, which does not exist"
                    ),
                })?;
            return Ok(Registration {
                version,
                created: false,
            });
        }
        let number = items.counter + 1;
        let key = version_sort_key(number);
        if items.versions.contains_key(&key) {
            return Err(PortError::Conflict {
                message: format!(
                    "version {number} of {} exists although the counter says {}",
                    new.model_name, items.counter
                ),
            });
        }
        let version = ModelVersion {
            version: number,
            status,
            record: new,
        };
        items.counter = number;
        items.versions.insert(key, version.clone());
        items.executions.insert(marker, number);
        Ok(Registration {
            version,
            created: true,
        })
    }

    /// `RegistryWrite::put_evaluation`: one item per (time, execution); a repeat overwrites it.
    pub fn put_evaluation(&mut self, record: EvaluationRecord) -> Result<(), PortError> {
        check_evaluation(&record)?;
        let key = evaluation_sort_key(&record.evaluated_at, &record.execution_arn);
        self.models
            .entry(record.model_name.clone())
            .or_default()
            .evaluations
            .insert(key, record);
        Ok(())
    }

    /// `RegistryWrite::operate` by `actor`: decided on the model's current revision and applied
    /// at once (the caller holds the lock: the compare-and-swap). Nothing changes on an error.
    pub fn operate(
        &mut self,
        operation: &Operation,
        actor: &str,
    ) -> Result<Vec<VersionChange>, OperationError> {
        let Some(items) = self.models.get_mut(&operation.model_name) else {
            registry_ops::validate(operation, actor)?;
            return Err(OperationError::VersionNotFound {
                model: operation.model_name.clone(),
                version: operation.version,
            });
        };
        let versions: Vec<ModelVersion> = items
            .versions
            .range(version_sort_key(operation.version)..)
            .map(|(_, v)| v.clone())
            .collect();
        let changes = registry_ops::plan(operation, actor, items.revision, &versions)?;
        for change in &changes {
            if let Some(v) = items.versions.get_mut(&version_sort_key(change.version)) {
                v.status = change.to;
            }
            items.history.insert(
                history_sort_key(change.version, change.revision),
                change.clone(),
            );
        }
        if let Some(first) = changes.first() {
            items.revision = first.revision;
        }
        Ok(changes)
    }

    /// `RegistryWrite::set_status`: `NotFound` for a version that does not exist.
    pub fn set_status(
        &mut self,
        model: &str,
        version: u64,
        status: VersionStatus,
    ) -> Result<(), PortError> {
        let found = self
            .models
            .get_mut(model)
            .and_then(|items| items.versions.get_mut(&version_sort_key(version)))
            .ok_or_else(|| PortError::not_found(format!("version {version} of model {model}")))?;
        found.status = status;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{operation, sample_evaluation, sample_version};
    use crate::registry_ops::Action;

    #[test]
    fn the_serialised_form_is_the_local_database_layout_keyed_by_the_table_sort_keys() {
        let mut state = RegistryState::default();
        state
            .register_as(sample_version("m", "e1"), VersionStatus::Registered)
            .unwrap();
        state
            .put_evaluation(sample_evaluation("m", 1, "2024-06-02T00:00:00.000Z", "e2"))
            .unwrap();
        state
            .operate(&operation("m", 1, Action::Approve, "ok"), "op")
            .unwrap();
        let json = serde_json::to_value(&state).unwrap();
        let items = &json["m"];
        assert_eq!(items["counter"], 1);
        assert_eq!(items["revision"], 1);
        assert_eq!(items["versions"]["V#0000000001"]["status"], "Approved");
        let marker = execution_marker_key(&sample_version("m", "e1").execution_arn);
        assert_eq!(items["executions"][&marker], 1);
        let evaluation = sample_evaluation("m", 1, "2024-06-02T00:00:00.000Z", "e2");
        let key = evaluation_sort_key(&evaluation.evaluated_at, &evaluation.execution_arn);
        assert_eq!(items["evaluations"][&key]["version"], 1);
        assert_eq!(items["history"]["H#0000000001#0000000001"]["actor"], "op");
        let back: RegistryState = serde_json::from_value(json).unwrap();
        assert_eq!(back, state);
    }

    #[test]
    fn empty_keys_are_refused_and_change_nothing() {
        let mut state = RegistryState::default();
        let mut new = sample_version("m", "e1");
        new.model_name.clear();
        new.execution_arn.clear();
        let e = state
            .register_as(new.clone(), VersionStatus::Registered)
            .unwrap_err();
        assert!(e.to_string().contains("modelName and executionArn"), "{e}");
        new.model_name = "m".into();
        let e = state
            .register_as(new, VersionStatus::Registered)
            .unwrap_err();
        assert!(e.to_string().contains("non-empty executionArn"), "{e}");
        let mut record = sample_evaluation("m", 1, "2024-06-02T00:00:00.000Z", "e2");
        record.model_name.clear();
        let e = state.put_evaluation(record).unwrap_err();
        assert!(matches!(e, PortError::Rejected { .. }), "{e:?}");
        assert_eq!(state, RegistryState::default());
    }

    #[test]
    fn a_marker_pointing_at_a_missing_version_is_corrupt() {
        let mut state = RegistryState::default();
        state
            .register_as(sample_version("m", "e1"), VersionStatus::Registered)
            .unwrap();
        if let Some(items) = state.models.get_mut("m") {
            items.versions.clear();
        }
        let e = state
            .register_as(sample_version("m", "e1"), VersionStatus::Registered)
            .unwrap_err();
        assert!(matches!(e, PortError::Corrupt { .. }), "{e:?}");
    }

    #[test]
    fn a_version_above_the_counter_is_a_conflict() {
        let mut state = RegistryState::default();
        state
            .register_as(sample_version("m", "e1"), VersionStatus::Registered)
            .unwrap();
        if let Some(items) = state.models.get_mut("m") {
            items.counter = 0;
        }
        let e = state
            .register_as(sample_version("m", "e2"), VersionStatus::Registered)
            .unwrap_err();
        assert!(matches!(e, PortError::Conflict { .. }), "{e:?}");
        assert_eq!(state.list_versions("m").len(), 1);
    }
}
