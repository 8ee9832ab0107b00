//! `mdlc registry list MODEL`, `show MODEL VERSION`, `approve|reject|retire MODEL VERSION
//! --reason TEXT` and `rollback MODEL VERSION --reason TEXT`, on the local registry or the
//! stack's table, through the registry port (`RegistryRead`, `RegistryWrite::operate`; the rules
//! are in `mdlc_core::registry_ops`). An operation not allowed from the version's status, or
//! lost to a concurrent change, exits 3 naming the current state.

use clap::{Args, Subcommand};
use mdlc_core::registry::{ModelVersion, VersionStatus, format_timestamp};
use mdlc_core::registry_ops::{Action, Operation, VersionChange, allowed_actions};
use serde::Serialize;

use crate::error::CliError;
use crate::output::{Table, or_dash, print_json};
use crate::target::{Registry, TargetArgs};

#[derive(Debug, Args)]
pub struct RegistryArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(subcommand)]
    pub command: RegistryCommand,
}

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Every version of a model with its status, and the model's revision.
    List { model: String },
    /// One version, the actions allowed on it, and its history of changes.
    Show { model: String, version: u64 },
    /// Approve a version (Registered, PendingApproval or Rejected → Approved).
    Approve(OperationArgs),
    /// Reject a version (Registered, PendingApproval or Approved → Rejected).
    Reject(OperationArgs),
    /// Retire a version for good (any status but Retired → Retired).
    Retire(OperationArgs),
    /// Make VERSION (Registered or Approved) the one evaluations use: every later Registered,
    /// PendingApproval or Approved version is retired.
    Rollback(OperationArgs),
}

#[derive(Debug, Clone, Args)]
pub struct OperationArgs {
    pub model: String,
    pub version: u64,
    /// Why (recorded in the version's history; at most 1024 characters).
    #[arg(long)]
    pub reason: String,
    /// Apply only if the model is still at this revision (the one `registry show` printed).
    #[arg(long, value_name = "N")]
    pub expected_revision: Option<u64>,
    /// Who, on the local cloud (default: the OS user); on a stack the STS identity is recorded.
    #[arg(long, value_name = "NAME")]
    pub actor: Option<String>,
}

/// A version as the registry commands print it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionView {
    pub model_name: String,
    pub version: u64,
    pub status: VersionStatus,
    pub allowed_actions: Vec<Action>,
    pub objective_metric: Option<String>,
    pub objective_value: Option<f64>,
    pub data_date: String,
    pub created_at: String,
    pub parent_version: Option<u64>,
    pub reason: String,
    pub training_job_name: String,
    pub sagemaker_model_name: String,
    pub model_data_url: String,
    pub execution_arn: String,
}

impl From<&ModelVersion> for VersionView {
    fn from(v: &ModelVersion) -> Self {
        let r = &v.record;
        VersionView {
            model_name: r.model_name.clone(),
            version: v.version,
            status: v.status,
            allowed_actions: allowed_actions(v.status),
            objective_metric: r.objective_metric.clone(),
            objective_value: r.objective_value,
            data_date: r.data_date.clone(),
            created_at: r.created_at.clone(),
            parent_version: r.parent_version,
            reason: r.reason.clone(),
            training_job_name: r.training_job_name.clone(),
            sagemaker_model_name: r.sagemaker_model_name.clone(),
            model_data_url: r.model_data_url.clone(),
            execution_arn: r.execution_arn.clone(),
        }
    }
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: &RegistryArgs) -> i32 {
    let json = args.target.json;
    match super::block_on(execute(args)) {
        Ok(()) => crate::exit::OK,
        Err(e) => e.report(json),
    }
}

async fn execute(args: &RegistryArgs) -> Result<(), CliError> {
    let target = args.target.resolve().await?;
    let json = args.target.json;
    let (action, op) = match &args.command {
        RegistryCommand::List { model } => {
            return list(&target.registry(None)?, model, json).await;
        }
        RegistryCommand::Show { model, version } => {
            return show(&target.registry(None)?, model, *version, json).await;
        }
        RegistryCommand::Approve(op) => (Action::Approve, op),
        RegistryCommand::Reject(op) => (Action::Reject, op),
        RegistryCommand::Retire(op) => (Action::Retire, op),
        RegistryCommand::Rollback(op) => (Action::RollBack, op),
    };
    if matches!(target, crate::target::Target::Local(_))
        && op.actor.is_none()
        && mdlc_local::registry::os_user().is_none()
    {
        return Err(CliError::Usage(format!(
            "no operator to record: none of {} is set; name one with --actor",
            mdlc_local::registry::USER_VARIABLES.join(", ")
        )));
    }
    let registry = target.registry(op.actor.as_deref())?;
    let operation = Operation {
        model_name: op.model.clone(),
        version: op.version,
        action,
        reason: op.reason.clone(),
        at: format_timestamp(chrono::Utc::now()),
        expected_revision: op.expected_revision,
    };
    let changes = registry.write.operate(operation).await?;
    print_changes(&op.model, op.version, action, &changes, json)
}

fn objective(v: &VersionView) -> String {
    match (&v.objective_metric, v.objective_value) {
        (Some(m), Some(x)) => format!("{m}={}", mdlc_local::report::format_value(x)),
        (None, Some(x)) => mdlc_local::report::format_value(x),
        _ => "—".into(),
    }
}

async fn list(registry: &Registry, model: &str, json: bool) -> Result<(), CliError> {
    let versions = registry.read.list_versions(model).await?;
    if versions.is_empty() {
        return Err(CliError::NotFound(format!(
            "model {model:?} has no versions in the registry"
        )));
    }
    let revision = registry.read.revision(model).await?;
    let views: Vec<VersionView> = versions.iter().map(VersionView::from).collect();
    if json {
        return print_json(&serde_json::json!({
            "modelName": model,
            "revision": revision,
            "versions": views,
        }));
    }
    println!("model {model} (revision {revision})");
    let mut t = Table::new(&[
        "VERSION",
        "STATUS",
        "OBJECTIVE",
        "DATA DATE",
        "CREATED",
        "PARENT",
        "REASON",
    ]);
    for v in &views {
        t.row(vec![
            v.version.to_string(),
            v.status.to_string(),
            objective(v),
            v.data_date.clone(),
            v.created_at.clone(),
            or_dash(v.parent_version),
            v.reason.clone(),
        ]);
    }
    print!("{}", t.render());
    Ok(())
}

async fn show(registry: &Registry, model: &str, version: u64, json: bool) -> Result<(), CliError> {
    let found = registry.read.get_version(model, version).await?;
    let v = found.ok_or_else(|| {
        CliError::NotFound(format!(
            "version {version} of model {model:?} does not exist"
        ))
    })?;
    let revision = registry.read.revision(model).await?;
    let history = registry.read.version_history(model, version).await?;
    let view = VersionView::from(&v);
    if json {
        return print_json(&serde_json::json!({
            "version": view,
            "revision": revision,
            "history": history,
        }));
    }
    let allowed: Vec<&str> = view.allowed_actions.iter().map(|a| a.as_str()).collect();
    let mut head = Table::new(&["model", model]);
    for (k, val) in [
        ("version", view.version.to_string()),
        ("status", view.status.to_string()),
        (
            "allowed",
            or_dash((!allowed.is_empty()).then(|| allowed.join(", "))),
        ),
        ("revision", revision.to_string()),
        ("objective", objective(&view)),
        ("data date", view.data_date.clone()),
        ("created", view.created_at.clone()),
        ("parent", or_dash(view.parent_version)),
        ("reason", view.reason.clone()),
        ("training job", view.training_job_name.clone()),
        ("model data", view.model_data_url.clone()),
        ("execution", view.execution_arn.clone()),
    ] {
        head.row(vec![k.to_string(), val]);
    }
    print!("{}", head.render());
    println!();
    if history.is_empty() {
        println!("no changes since it was registered");
    } else {
        print!("{}", history_table(&history).render());
    }
    Ok(())
}

fn history_table(changes: &[VersionChange]) -> Table {
    let mut t = Table::new(&[
        "REVISION", "VERSION", "ACTION", "FROM", "TO", "ACTOR", "AT", "REASON",
    ]);
    for c in changes {
        t.row(vec![
            c.revision.to_string(),
            c.version.to_string(),
            c.action.to_string(),
            c.from.to_string(),
            c.to.to_string(),
            c.actor.clone(),
            c.at.clone(),
            c.reason.clone(),
        ]);
    }
    t
}

fn print_changes(
    model: &str,
    version: u64,
    action: Action,
    changes: &[VersionChange],
    json: bool,
) -> Result<(), CliError> {
    let revision = changes.first().map(|c| c.revision);
    if json {
        return print_json(&serde_json::json!({
            "modelName": model,
            "version": version,
            "action": action,
            "revision": revision,
            "changes": changes,
        }));
    }
    println!(
        "{action} of version {version} of model {model} applied at revision {}",
        or_dash(revision)
    );
    print!("{}", history_table(changes).render());
    Ok(())
}
