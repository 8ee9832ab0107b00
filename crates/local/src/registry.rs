//! `FsRegistry`: the embedded model registry of the local cloud.
//!
//! The same semantics as the DynamoDB table (docs/ARCHITECTURE.md, "Model registry"): per model
//! a version counter, version items, per-execution idempotency markers and evaluation items.
//! The database is one JSON file (`registry.json`) in the registry directory. Every write is one
//! transaction: it takes an exclusive lock on `registry.lock` (an OS file lock, so concurrent
//! *processes* are serialised too), reads the current state, applies the change and replaces the
//! file atomically (temp file + fsync + rename). Readers read the last committed file without a
//! lock — a rename is atomic, so they always see a whole transaction.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use mdlc_core::PortError;
use mdlc_core::ports::{RegistryRead, RegistryWrite};
use mdlc_core::registry::{
    EvaluationRecord, ModelVersion, NewVersion, Registration, VersionStatus,
};
use mdlc_core::registry_ops::{Operation, OperationError, VersionChange};
use mdlc_core::registry_state::{self, RegistryState};
use serde::{Deserialize, Serialize};

use crate::fsio::{io_error, lock_file, replace_file};

const DB_FILE: &str = "registry.json";
const LOCK_FILE: &str = "registry.lock";

/// The whole database: the registry's items ([`RegistryState`], keyed like the DynamoDB
/// table's sort keys, so iteration order is the table's order).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Database {
    /// Format marker, so a future layout can be told apart.
    format: u32,
    models: RegistryState,
}

/// The embedded registry; cheap to clone (shares its in-process lock).
#[derive(Debug, Clone)]
pub struct FsRegistry {
    dir: PathBuf,
    /// Serialises this process's writers before they queue on the OS file lock.
    local: Arc<tokio::sync::Mutex<()>>,
    /// Who operations are recorded as; `None`: the OS user ([`os_user`]).
    actor: Option<String>,
}

/// The environment variables naming the OS user, in the order they are read.
pub const USER_VARIABLES: [&str; 3] = ["USER", "USERNAME", "LOGNAME"];

/// The OS user (the first non-empty of [`USER_VARIABLES`]), or `None`.
pub fn os_user() -> Option<String> {
    USER_VARIABLES
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
}

impl FsRegistry {
    /// A registry stored in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FsRegistry {
            dir: dir.into(),
            local: Arc::new(tokio::sync::Mutex::new(())),
            actor: None,
        }
    }

    /// Records operations as made by `actor` (the CLI's `--actor`) instead of the OS user.
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// The registry directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The models in the registry, in name order (none before the first write).
    pub async fn models(&self) -> Result<Vec<String>, PortError> {
        Ok(self.read().await?.models.model_names())
    }

    async fn read(&self) -> Result<Database, PortError> {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || load(&dir))
            .await
            .map_err(|e| PortError::unavailable(format!("registry read task: {e}")))?
    }

    /// Runs `change` as one transaction; nothing is written when it returns an error. `change`
    /// returns its value and, when it changed the database, the record it wrote (`model m
    /// version 3`): the one a failed write (a full disk) names; the file is then as it was.
    async fn transact<T, F>(&self, change: F) -> Result<T, PortError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Database) -> Result<(T, Option<String>), PortError> + Send + 'static,
    {
        let _guard = self.local.lock().await;
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir).map_err(|e| io_error("creating", &dir, e))?;
            let lock_path = dir.join(LOCK_FILE);
            let lock = lock_file(&lock_path)?;
            let result = (|| {
                let mut db = load(&dir)?;
                let (value, written) = change(&mut db)?;
                if let Some(record) = written {
                    store(&dir, &db, &record)?;
                }
                Ok(value)
            })();
            let _ = lock.unlock();
            result
        })
        .await
        .map_err(|e| PortError::unavailable(format!("registry write task: {e}")))?
    }
}

fn load(dir: &Path) -> Result<Database, PortError> {
    let path = dir.join(DB_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| PortError::Corrupt {
            message: format!("registry database {}: {e}", path.display()),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Database {
            format: 1,
            ..Database::default()
        }),
        Err(e) => Err(io_error("reading", &path, e)),
    }
}

/// Replaces the database with `db`; `record` names what the transaction wrote (`model m version
/// 3`), for the error when it cannot be written (then the file is left as it was).
fn store(dir: &Path, db: &Database, record: &str) -> Result<(), PortError> {
    let path = dir.join(DB_FILE);
    let tmp = dir.join(format!("{DB_FILE}.{}.tmp", uuid::Uuid::new_v4()));
    let bytes = serde_json::to_vec_pretty(db).map_err(|e| PortError::Corrupt {
        message: format!("encoding the registry: {e}"),
    })?;
    replace_file(&format!("registry record {record}"), &tmp, &path, &bytes)
}

#[async_trait]
impl RegistryRead for FsRegistry {
    async fn latest_version(
        &self,
        model: &str,
        statuses: &[VersionStatus],
    ) -> Result<Option<ModelVersion>, PortError> {
        Ok(self.read().await?.models.latest_version(model, statuses))
    }

    async fn get_version(
        &self,
        model: &str,
        version: u64,
    ) -> Result<Option<ModelVersion>, PortError> {
        Ok(self.read().await?.models.get_version(model, version))
    }

    async fn list_versions(&self, model: &str) -> Result<Vec<ModelVersion>, PortError> {
        Ok(self.read().await?.models.list_versions(model))
    }

    async fn list_evaluations(
        &self,
        model: &str,
        since: Option<&str>,
    ) -> Result<Vec<EvaluationRecord>, PortError> {
        Ok(self.read().await?.models.list_evaluations(model, since))
    }

    async fn revision(&self, model: &str) -> Result<u64, PortError> {
        Ok(self.read().await?.models.revision(model))
    }

    async fn version_history(
        &self,
        model: &str,
        version: u64,
    ) -> Result<Vec<VersionChange>, PortError> {
        Ok(self.read().await?.models.version_history(model, version))
    }
}

#[async_trait]
impl RegistryWrite for FsRegistry {
    async fn register_as(
        &self,
        new: NewVersion,
        status: VersionStatus,
    ) -> Result<Registration, PortError> {
        // Refused before the lock: a refused registration touches nothing on disk.
        registry_state::check_registration(&new, status)?;
        self.transact(move |db| {
            let registration = db.models.register_as(new, status)?;
            let written = registration.created.then(|| {
                let v = &registration.version;
                format!("model {} version {}", v.record.model_name, v.version)
            });
            Ok((registration, written))
        })
        .await
    }

    async fn put_evaluation(&self, record: EvaluationRecord) -> Result<(), PortError> {
        registry_state::check_evaluation(&record)?;
        let written = format!(
            "evaluation of model {} version {} at {}",
            record.model_name, record.version, record.evaluated_at
        );
        self.transact(move |db| Ok((db.models.put_evaluation(record)?, Some(written))))
            .await
    }

    async fn caller(&self) -> Result<String, PortError> {
        self.actor
            .clone()
            .or_else(os_user)
            .ok_or_else(|| PortError::Rejected {
                message: format!(
                    "no actor: none of {} is set; name one (--actor)",
                    USER_VARIABLES.join(", ")
                ),
            })
    }

    async fn operate(&self, operation: Operation) -> Result<Vec<VersionChange>, OperationError> {
        let actor = self.caller().await?;
        mdlc_core::registry_ops::validate(&operation, &actor)?;
        // The transaction's error type is PortError; an operation's own refusal is carried out
        // of it as the value and returned after the lock is released (nothing written).
        let written = format!(
            "model {} version {} ({})",
            operation.model_name, operation.version, operation.action
        );
        self.transact(move |db| match db.models.operate(&operation, &actor) {
            Ok(changes) => Ok((Ok(changes), Some(written))),
            Err(OperationError::Port(e)) => Err(e),
            Err(refused) => Ok((Err(refused), None)),
        })
        .await?
    }

    async fn set_status(
        &self,
        model: &str,
        version: u64,
        status: VersionStatus,
    ) -> Result<(), PortError> {
        let model = model.to_string();
        let written = format!("model {model} version {version} (status {status})");
        self.transact(move |db| {
            Ok((
                db.models.set_status(&model, version, status)?,
                Some(written),
            ))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mdlc_core::contract::{operation, sample_version};
    use mdlc_core::registry_ops::Action;

    #[tokio::test]
    async fn given_a_registration_when_repeated_then_same_version_and_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let reg = FsRegistry::new(dir.path());
        let a = reg.register(sample_version("m", "exec-1")).await.unwrap();
        let b = reg.register(sample_version("m", "exec-1")).await.unwrap();
        assert!(a.created && !b.created);
        assert_eq!(a.version, b.version);
        let c = reg.register(sample_version("m", "exec-2")).await.unwrap();
        assert_eq!(c.version.version, 2);
        // a second handle on the same directory (another process) sees the same data
        let other = FsRegistry::new(dir.path());
        assert_eq!(other.list_versions("m").await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn models_lists_every_registered_model_by_name_and_none_before_the_first_write() {
        let dir = tempfile::tempdir().unwrap();
        let reg = FsRegistry::new(dir.path().join("registry"));
        assert_eq!(reg.models().await.unwrap(), Vec::<String>::new());
        reg.register(sample_version("zeta", "exec-1"))
            .await
            .unwrap();
        reg.register(sample_version("alpha", "exec-2"))
            .await
            .unwrap();
        reg.register(sample_version("alpha", "exec-3"))
            .await
            .unwrap();
        assert_eq!(reg.models().await.unwrap(), vec!["alpha", "zeta"]);
    }

    #[tokio::test]
    async fn given_concurrent_handles_when_registering_then_versions_are_gap_free() {
        let dir = tempfile::tempdir().unwrap();
        let mut handles = Vec::new();
        for i in 0..20 {
            // separate instances = separate in-process locks: only the file lock serialises them
            let reg = FsRegistry::new(dir.path());
            handles.push(tokio::spawn(async move {
                reg.register(sample_version("m", &format!("exec-{i}")))
                    .await
                    .unwrap()
                    .version
                    .version
            }));
        }
        let mut got = Vec::new();
        for h in handles {
            got.push(h.await.unwrap());
        }
        got.sort_unstable();
        assert_eq!(got, (1..=20).collect::<Vec<u64>>());
    }

    #[tokio::test]
    async fn given_an_empty_key_when_writing_then_rejected_before_anything_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let reg = FsRegistry::new(dir.path().join("registry"));
        let mut new = sample_version("m", "e1");
        new.execution_arn.clear();
        let err = reg.register(new).await.unwrap_err();
        assert!(err.to_string().contains("non-empty executionArn"), "{err}");
        let mut record =
            mdlc_core::contract::sample_evaluation("m", 1, "2024-06-02T00:00:00.000Z", "e1");
        record.model_name.clear();
        let err = reg.put_evaluation(record).await.unwrap_err();
        assert!(matches!(err, PortError::Rejected { .. }), "{err:?}");
        assert!(!reg.dir().exists(), "a refused write creates nothing");
    }

    #[tokio::test]
    async fn given_a_corrupt_database_when_read_then_corrupt_error_and_file_untouched() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(DB_FILE), b"{not json").unwrap();
        let reg = FsRegistry::new(dir.path());
        let err = reg.list_versions("m").await.unwrap_err();
        assert!(matches!(err, PortError::Corrupt { .. }), "{err:?}");
        assert!(reg.register(sample_version("m", "e")).await.is_err());
        assert_eq!(
            std::fs::read(dir.path().join(DB_FILE)).unwrap(),
            b"{not json"
        );
    }

    #[tokio::test]
    async fn given_statuses_when_querying_latest_then_filtered() {
        let dir = tempfile::tempdir().unwrap();
        let reg = FsRegistry::new(dir.path());
        for i in 0..3 {
            reg.register(sample_version("m", &format!("e{i}")))
                .await
                .unwrap();
        }
        reg.set_status("m", 3, VersionStatus::Rejected)
            .await
            .unwrap();
        let latest = reg
            .latest_version("m", &VersionStatus::SERVABLE)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(latest.version, 2);
        let err = reg
            .set_status("m", 9, VersionStatus::Approved)
            .await
            .unwrap_err();
        assert!(matches!(err, PortError::NotFound { .. }));
        assert!(reg.latest_version("other", &[]).await.unwrap().is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn given_two_handles_when_both_approve_on_one_revision_then_exactly_one_wins() {
        for round in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            FsRegistry::new(dir.path())
                .register(sample_version("m", "e1"))
                .await
                .unwrap();
            // separate instances = separate in-process locks: only the file lock serialises them
            let mut tasks = Vec::new();
            for who in ["alice", "bob"] {
                let reg = FsRegistry::new(dir.path()).with_actor(who);
                let mut op = operation("m", 1, Action::Approve, who);
                op.expected_revision = Some(0);
                tasks.push(tokio::spawn(async move { reg.operate(op).await }));
            }
            let mut results = Vec::new();
            for t in tasks {
                results.push(t.await.unwrap());
            }
            let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
            assert_eq!(winners.len(), 1, "round {round}: {results:?}");
            assert!(
                results.iter().any(|r| matches!(
                    r,
                    Err(OperationError::RegistryConflict {
                        current: VersionStatus::Approved,
                        ..
                    })
                )),
                "round {round}: {results:?}"
            );
            let history = FsRegistry::new(dir.path())
                .version_history("m", 1)
                .await
                .unwrap();
            assert_eq!(&history, winners[0], "round {round}");
            assert_eq!(history[0].actor, history[0].reason, "the winner's actor");
        }
    }

    #[tokio::test]
    async fn given_a_database_written_before_operations_when_read_then_revision_zero_and_no_history()
     {
        let dir = tempfile::tempdir().unwrap();
        let reg = FsRegistry::new(dir.path()).with_actor("op");
        reg.register(sample_version("m", "e1")).await.unwrap();
        // The file as a registry without operations wrote it: no revision, no history.
        let path = dir.path().join(DB_FILE);
        let mut db: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let items = db["models"]["m"].as_object_mut().unwrap();
        assert!(items.remove("revision").is_some() && items.remove("history").is_some());
        std::fs::write(&path, serde_json::to_vec(&db).unwrap()).unwrap();
        assert_eq!(reg.revision("m").await.unwrap(), 0);
        assert!(reg.version_history("m", 1).await.unwrap().is_empty());
        let changes = reg
            .operate(operation("m", 1, Action::Retire, "old"))
            .await
            .unwrap();
        assert_eq!((changes[0].revision, changes[0].actor.as_str()), (1, "op"));
    }

    #[tokio::test]
    #[ignore = "needs root: mounts a tmpfs"]
    async fn on_a_full_disk_a_registration_names_the_record_leaves_no_half_version_and_succeeds_later()
     {
        let fs = mdlc_trainer::tmpfs::Tmpfs::mount(1 << 20);
        let reg = FsRegistry::new(fs.path().join("registry")).with_actor("op");
        reg.register(sample_version("m", "exec-1")).await.unwrap();
        let before = std::fs::read(fs.path().join("registry").join(DB_FILE)).unwrap();
        fs.fill(0);
        let err = reg
            .register(sample_version("m", "exec-2"))
            .await
            .unwrap_err();
        let PortError::Unavailable { message } = &err else {
            panic!("{err:?}");
        };
        assert!(
            message.starts_with("could not write registry record model m version 2: ")
                && message.ends_with("No space left on device (os error 28)"),
            "{message}"
        );
        let err = reg
            .operate(operation("m", 1, Action::Approve, "op"))
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("could not write registry record model m version 1 (Approve)"),
            "{err}"
        );
        // the database is the one before the failed writes; no temp file is left
        assert_eq!(
            fs.files(),
            ["registry/registry.json", "registry/registry.lock"]
        );
        assert_eq!(
            std::fs::read(fs.path().join("registry").join(DB_FILE)).unwrap(),
            before
        );
        assert_eq!(reg.list_versions("m").await.unwrap().len(), 1);
        fs.free();
        let again = reg.register(sample_version("m", "exec-2")).await.unwrap();
        assert!(again.created);
        assert_eq!(again.version.version, 2, "no version number was used up");
        let versions = reg.list_versions("m").await.unwrap();
        assert_eq!(
            versions.iter().map(|v| v.version).collect::<Vec<_>>(),
            [1, 2]
        );
    }
}
