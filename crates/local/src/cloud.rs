//! `LocalCloud`: the composition of the local runtime — object store, registry, SageMaker
//! emulator, the project's handlers and state machines — under one state directory.
//!
//! ```text
//! <state dir>/            (default .mdlc)
//!   s3/<bucket>/<key>     the object store
//!   registry/             the embedded registry database
//!   sagemaker/            job directories of the emulator (laid out like /opt/ml)
//!   executions/<machine>/<execution>.json   every finished execution with its history
//!   pids/<pid>-<start>.json   a record per running child process (mdlc_proc::PidBook)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use mdlc_asl::{
    Execution, ItemStore, ItemStoreError, StateMachine, StoredObject, Submission, TaskFailure,
    TaskInvoker,
};
use mdlc_core::events::publishing::PublishingRegistry;
use mdlc_core::history::TrainingHistory;
use mdlc_core::ports::{ObjectStore, RegistryWrite, SystemClock};
use mdlc_core::{Dependencies, FunctionConfig, PortError, S3Uri};
use mdlc_emulator::{EmulatorConfig, FaultConfig, ImageMap, SageMakerEmulator};
use mdlc_proc::PidBook;
use serde_json::Value;
use thiserror::Error;
use track_experiment::TrackDeps;

use crate::events::EventLog;
use crate::functions::{TRACK_EXPERIMENT, track_experiment_handler};
use crate::http_task::{Connections, HttpTasks};
use crate::invoker::{
    FunctionFaults, HandlerFn, LocalInvoker, LocalInvokerBuilder, RunSettings, SageMakerBackend,
};
use crate::journal::Journal;
use crate::sqs::SqsQueues;
use crate::substitute::{
    self, LOCAL_ACCOUNT, LOCAL_REGION, SubstitutionError, local_substitutions, sagemaker_role_arn,
    state_machine_arn,
};
use crate::{FsObjectStore, FsRegistry};

/// The default artifact bucket of the local cloud.
pub const DEFAULT_BUCKET: &str = "mdlc-artifacts";
/// The registry "table" name the local handlers are configured with.
pub const LOCAL_TABLE: &str = "mdlc-local-registry";
/// The project's state machines: name → file in the state machine directory.
pub const PROJECT_STATE_MACHINES: [(&str, &str); 2] = [
    ("training", "training.asl.json"),
    ("evaluation", "evaluation.asl.json"),
];

/// Errors of setting up or using the local cloud.
#[derive(Debug, Error)]
pub enum LocalError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path} is not valid JSON: {message}")]
    Json { path: String, message: String },
    #[error("{path}: {source}")]
    Substitution {
        path: String,
        #[source]
        source: SubstitutionError,
    },
    #[error("{path} is not a valid state machine:\n{message}")]
    Invalid { path: String, message: String },
    #[error("emulator configuration: {0}")]
    Emulator(#[from] mdlc_emulator::ConfigError),
    #[error("{0}")]
    Faults(#[from] crate::invoker::FunctionFaultError),
    #[error(transparent)]
    HttpTasks(#[from] crate::http_task::HttpClientError),
    #[error("invalid --lambda-endpoint: {0}")]
    Endpoint(#[from] mdlc_emulator::http::HttpError),
    #[error(
        "the project's state machine directory was not found (looked for {looked}); pass it explicitly"
    )]
    NoStateMachines { looked: String },
    /// The state directory cannot be made.
    #[error("state directory {path}: {message}")]
    StateDir { path: String, message: String },
    /// An execution could not be started or recorded (its name is taken, or the state
    /// directory cannot be written).
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    #[error(
        "invalid artifact bucket {0:?}: 3-63 characters of lowercase letters, digits, '-' and '.'"
    )]
    Bucket(String),
}

/// How to build a [`LocalCloud`].
#[derive(Clone)]
pub struct LocalCloudConfig {
    /// Root of all local state (default `.mdlc`).
    pub state_dir: PathBuf,
    pub artifact_bucket: String,
    /// Extra or overriding `${Name}` values.
    pub substitutions: BTreeMap<String, String>,
    /// Where `training.asl.json` and `evaluation.asl.json` are; `None`: found automatically
    /// (see [`find_state_machine_dir`]); a missing directory is fine for user definitions.
    pub state_machine_dir: Option<PathBuf>,
    /// Whether to load the project's `training`/`evaluation` state machines at all (for nested
    /// `startExecution`); user definitions do not need them.
    pub project_state_machines: bool,
    /// `--function NAME=COMMAND`.
    pub commands: Vec<(String, String)>,
    /// `--lambda-endpoint URL`.
    pub lambda_endpoint: Option<String>,
    /// Image map file (JSON); `None`: `<state dir>/images.json` when it exists, else the defaults.
    pub image_map: Option<PathBuf>,
    /// SageMaker faults; `None`: from `MDLC_FAULTS`.
    pub faults: Option<FaultConfig>,
    /// Function faults; `None`: from `MDLC_FUNCTION_FAULTS`.
    pub function_faults: Option<FunctionFaults>,
    /// `FileSystemDataSource` roots for the emulator: `FileSystemId` → local directory, `*` →
    /// the directory of one directory per file system. Without `*`, file systems live in
    /// `<state dir>/filesystems/<FileSystemId>/` ([`FILE_SYSTEMS_DIR`]).
    pub file_systems: BTreeMap<String, PathBuf>,
    /// Clock, observer, history recording of executions.
    pub settings: RunSettings,
    /// In-process handlers by function name (the project's by default, see
    /// [`crate::functions::project_handlers`]; `track-experiment` is added over the emulator
    /// unless given here).
    pub handlers: BTreeMap<String, HandlerFn>,
    /// The default MLflow tracking server of executions whose input has no `tracking` block
    /// (what `MDLC_TRACKING_URI` is on AWS); `None`: tracking off unless the input turns it on.
    /// Default: [`tracking_uri_from_env`].
    pub tracking_uri: Option<String>,
    /// The EventBridge connections HTTP Tasks (`arn:aws:states:::http:invoke`) name
    /// (`--connections FILE`, `MDLC_CONNECTIONS`); none by default.
    pub connections: Connections,
}

/// The tracking server from the environment: `MDLC_TRACKING_URI`, else MLflow's own
/// `MLFLOW_TRACKING_URI`. A value this project cannot log to (`file:`, `databricks`, ...) is
/// ignored with a warning.
pub fn tracking_uri_from_env() -> Option<String> {
    tracking_uri_from_lookup(|name| std::env::var(name).ok())
}

/// [`tracking_uri_from_env`] over any variable lookup.
pub fn tracking_uri_from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    for name in [
        mdlc_core::deps::ENV_TRACKING_URI,
        track_experiment::ENV_MLFLOW_TRACKING_URI,
    ] {
        let Some(value) = lookup(name).map(|v| v.trim().to_string()) else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        match mdlc_core::input::check_tracking_uri(&value) {
            Ok(()) => return Some(value),
            Err(why) => tracing::warn!(
                target: "mdlc::local",
                "ignoring {name}={value:?} for experiment tracking: {why}"
            ),
        }
    }
    None
}

/// Where the local cloud keeps the file systems of `FileSystemDataSource` channels, under its
/// state directory: `<state dir>/filesystems/<FileSystemId>/<DirectoryPath>`.
pub const FILE_SYSTEMS_DIR: &str = "filesystems";

/// The emulator's file-system roots: the configured ones, with `*` defaulting to
/// `<state dir>/filesystems`.
fn file_system_roots(
    state_dir: &Path,
    configured: &BTreeMap<String, PathBuf>,
) -> BTreeMap<String, PathBuf> {
    let mut roots = configured.clone();
    roots
        .entry("*".to_string())
        .or_insert_with(|| state_dir.join(FILE_SYSTEMS_DIR));
    roots
}

impl LocalCloudConfig {
    /// Defaults under `state_dir`, with the project's handlers.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        LocalCloudConfig {
            state_dir: state_dir.into(),
            artifact_bucket: DEFAULT_BUCKET.to_string(),
            substitutions: BTreeMap::new(),
            state_machine_dir: None,
            project_state_machines: true,
            commands: Vec::new(),
            lambda_endpoint: None,
            image_map: None,
            faults: None,
            function_faults: None,
            file_systems: BTreeMap::new(),
            settings: RunSettings::default(),
            handlers: crate::functions::project_handlers(),
            tracking_uri: tracking_uri_from_env(),
            connections: Connections::none(),
        }
    }
}

/// Finds the project's `statemachine/` directory: `MDLC_STATE_MACHINE_DIR`, then
/// `$MDLC_REPO_ROOT/statemachine`, then `statemachine/` in the current directory or an ancestor,
/// then the source tree this crate was built from.
pub fn find_state_machine_dir() -> Result<PathBuf, LocalError> {
    let mut candidates = Vec::new();
    if let Some(d) = std::env::var_os("MDLC_STATE_MACHINE_DIR") {
        candidates.push(PathBuf::from(d));
    }
    if let Some(r) = std::env::var_os("MDLC_REPO_ROOT") {
        candidates.push(PathBuf::from(r).join("statemachine"));
    }
    if let Ok(cwd) = std::env::current_dir() {
        candidates.extend(cwd.ancestors().map(|a| a.join("statemachine")));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../statemachine"));
    candidates
        .iter()
        .find(|c| c.join(PROJECT_STATE_MACHINES[0].1).is_file())
        .cloned()
        .ok_or_else(|| LocalError::NoStateMachines {
            looked: candidates
                .iter()
                .map(|c| c.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// `registry` publishing its changes to `events`.
fn publishing_registry(
    registry: &Arc<FsRegistry>,
    events: &Arc<EventLog>,
) -> Arc<dyn RegistryWrite> {
    Arc::new(PublishingRegistry::new(registry.clone(), events.clone()))
}

/// The local cloud.
pub struct LocalCloud {
    state_dir: PathBuf,
    bucket: String,
    store: Arc<FsObjectStore>,
    registry: Arc<FsRegistry>,
    events: Arc<EventLog>,
    emulator: SageMakerEmulator,
    invoker: Arc<LocalInvoker>,
    machines: BTreeMap<String, Arc<StateMachine>>,
    substitutions: BTreeMap<String, String>,
}

/// The marker file of a state directory that mdlc made (`mdlc demo` may wipe it).
pub const STATE_MARKER: &str = ".mdlc-state";

/// Creates `dir` and marks it as a local cloud's state directory ([`STATE_MARKER`]) when it does
/// not exist yet or is empty; a directory with content is left as it is (marked or not).
pub fn claim_state_dir(dir: &Path) -> std::io::Result<()> {
    let empty = match std::fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(e),
    };
    if !empty {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    mdlc_trainer::fsio::write_atomically(
        &dir.join(STATE_MARKER),
        b"state of the mdlc local cloud; `mdlc demo` wipes this directory\n",
    )
    .map_err(Into::into)
}

/// The image map: the configured file, else `images.json` in the state directory, else the
/// built-in one.
fn image_map(config: &LocalCloudConfig, state_dir: &Path) -> Result<ImageMap, LocalError> {
    Ok(match &config.image_map {
        Some(p) => ImageMap::load(p)?,
        None => {
            let default = state_dir.join("images.json");
            if default.is_file() {
                ImageMap::load(&default)?
            } else {
                ImageMap::builtin()
            }
        }
    })
}

/// The project's state machines, with the local substitutions: from `state_machine_dir` (each
/// must load), else from the directory found automatically (a broken file is skipped with a
/// warning: it must not stop user definitions); none when they are turned off.
fn project_machines(
    config: &LocalCloudConfig,
    substitutions: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Arc<StateMachine>>, LocalError> {
    let machine_dir = match &config.state_machine_dir {
        _ if !config.project_state_machines => None,
        Some(d) => Some(d.clone()),
        None => find_state_machine_dir().ok(),
    };
    let mut machines = BTreeMap::new();
    let Some(dir) = &machine_dir else {
        return Ok(machines);
    };
    for (name, file) in PROJECT_STATE_MACHINES {
        let path = dir.join(file);
        if config.state_machine_dir.is_some() {
            machines.insert(
                name.to_string(),
                Arc::new(load_definition(&path, substitutions)?),
            );
        } else if path.is_file() {
            match load_definition(&path, substitutions) {
                Ok(m) => {
                    machines.insert(name.to_string(), Arc::new(m));
                }
                Err(e) => tracing::warn!(
                    target: "mdlc::local",
                    "state machine {name} not available for startExecution: {e}"
                ),
            }
        }
    }
    Ok(machines)
}

impl LocalCloud {
    /// Sets up the local cloud. The project's state machines are loaded when their directory is
    /// found (an error only when `state_machine_dir` was given explicitly and is unusable).
    pub fn new(config: LocalCloudConfig) -> Result<Self, LocalError> {
        if format!("s3://{}/", config.artifact_bucket)
            .parse::<S3Uri>()
            .is_err()
        {
            return Err(LocalError::Bucket(config.artifact_bucket));
        }
        // Absolute, so that paths handed to job programs and functions (which may run in other
        // directories) stay valid: `mdlc demo` defaults to the relative `.mdlc`.
        let state_dir =
            std::path::absolute(&config.state_dir).unwrap_or_else(|_| config.state_dir.clone());
        claim_state_dir(&state_dir).map_err(|e| LocalError::StateDir {
            path: state_dir.display().to_string(),
            message: e.to_string(),
        })?;
        let store = Arc::new(FsObjectStore::new(state_dir.join("s3")));
        let registry = Arc::new(FsRegistry::new(state_dir.join("registry")));

        let images = image_map(&config, &state_dir)?;
        let faults = match config.faults.clone() {
            Some(f) => f,
            None => FaultConfig::from_env()?,
        };
        let pids = PidBook::at(state_dir.join(PidBook::DIR));
        let emulator = SageMakerEmulator::new(EmulatorConfig {
            work_dir: state_dir.join("sagemaker"),
            store: store.clone() as Arc<dyn ObjectStore>,
            images,
            faults,
            region: LOCAL_REGION.to_string(),
            account: LOCAL_ACCOUNT.to_string(),
            file_systems: file_system_roots(&state_dir, &config.file_systems),
            // One pid book per state directory, for the job processes and the `--function`
            // commands alike; the emulator sweeps it here, before anything is started.
            pids: pids.clone(),
        });

        let mut substitutions = local_substitutions(&config.artifact_bucket);
        substitutions.extend(config.substitutions.clone());

        let machines = project_machines(&config, &substitutions)?;

        let mut function_config = FunctionConfig::new(
            LOCAL_TABLE,
            config.artifact_bucket.clone(),
            sagemaker_role_arn(),
        );
        function_config.training_state_machine_arn = Some(state_machine_arn("training"));
        function_config.region = LOCAL_REGION.to_string();
        function_config.tracking_uri = config.tracking_uri.clone();
        let events = Arc::new(EventLog::new(&state_dir));
        let deps = Dependencies {
            store: store.clone(),
            registry_read: registry.clone(),
            registry_write: publishing_registry(&registry, &events),
            sagemaker: Arc::new(emulator.clone()),
            clock: Arc::new(SystemClock),
            events: events.clone(),
            config: function_config,
        };

        let function_faults = match config.function_faults.clone() {
            Some(f) => f,
            None => FunctionFaults::from_env()?,
        };
        let mut settings = config.settings.clone();
        if settings.item_store.is_none() {
            settings.item_store = Some(Arc::new(StoreItems(store.clone())));
        }
        let mut builder = LocalInvokerBuilder::new(deps)
            .sagemaker(Arc::new(EmulatorBackend(emulator.clone())))
            .settings(settings)
            .function_faults(function_faults)
            .sqs(SqsQueues::new(state_dir.join(crate::sqs::SQS_DIR)))
            .pid_book(pids)
            .http_tasks(Arc::new(HttpTasks::new(
                config.connections.clone(),
                LOCAL_REGION,
            )?))
            .command_env("MDLC_STATE_DIR", state_dir.display().to_string())
            .command_env("MDLC_ARTIFACT_BUCKET", config.artifact_bucket.clone());
        if !config.handlers.contains_key(TRACK_EXPERIMENT) {
            let history: Arc<dyn TrainingHistory> = Arc::new(emulator.clone());
            builder = builder.handler(
                TRACK_EXPERIMENT,
                track_experiment_handler(TrackDeps::new(history, config.tracking_uri.clone())),
            );
        }
        for (name, handler) in &config.handlers {
            builder = builder.handler(name.clone(), handler.clone());
        }
        for (name, command) in &config.commands {
            builder = builder.command(name.clone(), command.clone());
        }
        if let Some(url) = &config.lambda_endpoint {
            builder = builder.lambda_endpoint(url)?;
        }
        for (name, machine) in &machines {
            builder = builder.state_machine(name.clone(), machine.clone());
        }
        let invoker = builder
            .journal(Arc::new(Journal::durable(&state_dir)))
            .build();

        Ok(LocalCloud {
            state_dir,
            bucket: config.artifact_bucket,
            store,
            registry,
            events,
            emulator,
            invoker,
            machines,
            substitutions,
        })
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn store(&self) -> &Arc<FsObjectStore> {
        &self.store
    }

    /// The event log (the local event bus).
    pub fn events(&self) -> &Arc<EventLog> {
        &self.events
    }

    /// The registry handle whose registrations and operations are published to the event log
    /// (what the functions use; operators' changes go through it too), recording `actor` as
    /// the operator (`None`: the OS user).
    pub fn registry_writer(&self, actor: Option<&str>) -> Arc<dyn RegistryWrite> {
        let registry = match actor {
            Some(actor) => Arc::new(FsRegistry::clone(&self.registry).with_actor(actor)),
            None => self.registry.clone(),
        };
        publishing_registry(&registry, &self.events)
    }

    pub fn registry(&self) -> &Arc<FsRegistry> {
        &self.registry
    }

    pub fn emulator(&self) -> &SageMakerEmulator {
        &self.emulator
    }

    pub fn invoker(&self) -> &Arc<LocalInvoker> {
        &self.invoker
    }

    /// The substitution values in force.
    pub fn substitutions(&self) -> &BTreeMap<String, String> {
        &self.substitutions
    }

    /// A project state machine (`training`, `evaluation`).
    pub fn state_machine(&self, name: &str) -> Option<&Arc<StateMachine>> {
        self.machines.get(name)
    }

    /// Loads a user definition with this cloud's substitutions.
    pub fn load(&self, path: &Path) -> Result<StateMachine, LocalError> {
        load_definition(path, &self.substitutions)
    }

    /// Runs `machine` as `<machine_name>:<execution_name>`, through `invoker` when given (a mock
    /// wrapper around [`LocalCloud::invoker`]), records it under `executions/` and returns it.
    pub async fn execute(
        &self,
        machine_name: &str,
        machine: &StateMachine,
        execution_name: &str,
        input: Value,
        invoker: Option<Arc<dyn TaskInvoker>>,
    ) -> Result<Execution, LocalError> {
        self.invoker
            .run(machine_name, machine, execution_name, input, None, invoker)
            .await
            .map_err(LocalError::from)
    }
}

/// Reads, substitutes, parses and validates a definition file.
pub fn load_definition(
    path: &Path,
    substitutions: &BTreeMap<String, String>,
) -> Result<StateMachine, LocalError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| LocalError::Read {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    let raw: Value = serde_json::from_str(&text).map_err(|e| LocalError::Json {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    let def =
        substitute::substitute(&raw, substitutions).map_err(|source| LocalError::Substitution {
            path: shown.clone(),
            source,
        })?;
    StateMachine::from_value(&def).map_err(|e| LocalError::Invalid {
        path: shown,
        message: e.to_string(),
    })
}

/// The emulator behind the `sagemaker:*` integrations.
struct EmulatorBackend(SageMakerEmulator);

#[async_trait]
impl SageMakerBackend for EmulatorBackend {
    async fn call(
        &self,
        action: &str,
        sync: bool,
        request: Value,
        submission: Submission,
    ) -> Result<Value, TaskFailure> {
        self.0
            .call_reporting(action, sync, request, &|created| {
                submission.report(created.clone())
            })
            .await
            .map_err(|f| TaskFailure::new(f.error, f.cause))
    }
}

/// The object store as a distributed Map's item store.
struct StoreItems(Arc<FsObjectStore>);

fn item_error(e: PortError) -> ItemStoreError {
    match e {
        PortError::NotFound { what } => ItemStoreError::NotFound(what),
        other => ItemStoreError::Other(other.to_string()),
    }
}

fn parse_uri(uri: &str) -> Result<S3Uri, ItemStoreError> {
    uri.parse::<S3Uri>()
        .map_err(|e| ItemStoreError::Other(e.to_string()))
}

#[async_trait]
impl ItemStore for StoreItems {
    async fn get(&self, uri: &str) -> Result<Vec<u8>, ItemStoreError> {
        self.0.get(&parse_uri(uri)?).await.map_err(item_error)
    }

    async fn put(&self, uri: &str, body: Vec<u8>) -> Result<(), ItemStoreError> {
        self.0.put(&parse_uri(uri)?, body).await.map_err(item_error)
    }

    async fn list(&self, prefix_uri: &str) -> Result<Vec<StoredObject>, ItemStoreError> {
        let objects = self
            .0
            .list(&parse_uri(prefix_uri)?)
            .await
            .map_err(item_error)?;
        Ok(objects
            .into_iter()
            .map(|o| StoredObject {
                key: o.uri.key,
                size: o.size,
                last_modified: None,
                etag: None,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_tracking_variables_when_read_then_mdlc_first_mlflow_next_and_unusable_ignored() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(tracking_uri_from_lookup(vars(&[])), None);
        assert_eq!(
            tracking_uri_from_lookup(vars(&[("MLFLOW_TRACKING_URI", "http://m:5000")])),
            Some("http://m:5000".into())
        );
        assert_eq!(
            tracking_uri_from_lookup(vars(&[
                ("MLFLOW_TRACKING_URI", "http://m:5000"),
                ("MDLC_TRACKING_URI", " https://d ")
            ])),
            Some("https://d".into())
        );
        assert_eq!(
            tracking_uri_from_lookup(vars(&[
                ("MDLC_TRACKING_URI", "file:./mlruns"),
                ("MLFLOW_TRACKING_URI", "databricks")
            ])),
            None
        );
    }
}
