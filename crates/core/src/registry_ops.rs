//! Operating the model registry: approve, reject, retire and roll back versions.
//!
//! The statuses follow SageMaker Model Registry's `ModelApprovalStatus` (`Approved`, `Rejected`,
//! `PendingManualApproval`, here `PendingApproval`), plus the registry's own `Registered` (no
//! approval gate) and `Retired` (taken out of service for good). The allowed changes:
//!
//! | from \ action | Approve | Reject | Retire | RollBack (to it) |
//! | --- | --- | --- | --- | --- |
//! | Registered | Approved | Rejected | Retired | stays Registered |
//! | PendingApproval | Approved | Rejected | Retired | — |
//! | Approved | — | Rejected | Retired | stays Approved |
//! | Rejected | Approved | — | Retired | — |
//! | Retired | — | — | — | — |
//!
//! **Roll back to version N** makes N the version `latest_version(model, SERVABLE)` returns:
//! N must be Registered or Approved, and every later version that is Registered,
//! PendingApproval or Approved becomes Retired (Rejected and Retired ones are not servable and
//! stay as they are). Under the approval gate evaluations use the latest *Approved* version, so
//! roll back to an Approved version there (or approve N first). A rollback changes at most
//! [`MAX_ROLLBACK_VERSIONS`] later versions at once (one DynamoDB transaction holds at most 100
//! actions).
//!
//! **Concurrency.** Every model has an operation *revision*: how many operations were applied
//! to it. An operation is decided on the state read at one revision and written only if the
//! revision is still that one (a DynamoDB condition; locally a compare-and-swap under the
//! registry's lock); a rollback also requires that no version was registered meanwhile. An
//! operation may name the revision its caller saw (`expected_revision`, for example the one
//! `mdlc registry show` printed): then it applies only on exactly that state. The loser of a
//! race gets [`OperationError::RegistryConflict`] naming the current state, and nothing of it is
//! written.
//!
//! **History.** Each change is recorded with who (the adapter's caller: on AWS the STS identity,
//! locally the OS user or `--actor`), when and why, as one history item per changed version
//! (`H#<version>#<revision>`), so a version item never grows with its history.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::error::PortError;
use crate::registry::{ModelVersion, VersionStatus};

/// At most this many characters of reason (SageMaker's `ApprovalDescription` limit).
pub const MAX_REASON_CHARS: usize = 1024;
/// At most this many characters of actor (an IAM ARN is at most 2048).
pub const MAX_ACTOR_CHARS: usize = 2048;
/// At most this many later versions are retired by one rollback: its DynamoDB transaction holds
/// the revision, the counter check, the target's check and history, and two actions per
/// retired version, within the 100 actions of one `TransactWriteItems`.
pub const MAX_ROLLBACK_VERSIONS: usize = 48;

/// An operator's action on a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    Approve,
    Reject,
    Retire,
    /// Roll back to this version (make it the latest servable one).
    RollBack,
}

impl Action {
    pub const ALL: [Action; 4] = [
        Action::Approve,
        Action::Reject,
        Action::Retire,
        Action::RollBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Approve => "Approve",
            Action::Reject => "Reject",
            Action::Retire => "Retire",
            Action::RollBack => "RollBack",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status a version in `status` has after `action` on it; `None` when not allowed.
/// A rollback leaves its target's status as it is.
pub fn next_status(status: VersionStatus, action: Action) -> Option<VersionStatus> {
    use Action::*;
    use VersionStatus::*;
    match (status, action) {
        (Registered | PendingApproval | Rejected, Approve) => Some(Approved),
        (Registered | PendingApproval | Approved, Reject) => Some(Rejected),
        (Registered | PendingApproval | Approved | Rejected, Retire) => Some(Retired),
        (Registered | Approved, RollBack) => Some(status),
        _ => None,
    }
}

/// The actions allowed on a version in `status`, in [`Action::ALL`] order.
pub fn allowed_actions(status: VersionStatus) -> Vec<Action> {
    Action::ALL
        .into_iter()
        .filter(|a| next_status(status, *a).is_some())
        .collect()
}

/// Whether a rollback to an earlier version retires a later version in `status`.
pub fn retired_by_rollback(status: VersionStatus) -> bool {
    matches!(
        status,
        VersionStatus::Registered | VersionStatus::PendingApproval | VersionStatus::Approved
    )
}

/// The statuses a version may be registered in: `Registered`, or `PendingApproval` under the
/// approval gate.
pub fn check_initial_status(status: VersionStatus) -> Result<(), PortError> {
    match status {
        VersionStatus::Registered | VersionStatus::PendingApproval => Ok(()),
        other => Err(PortError::Rejected {
            message: format!(
                "a new version is registered as Registered or PendingApproval, not {other}"
            ),
        }),
    }
}

/// One operation on the registry, as the caller asks for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub model_name: String,
    /// The version acted on (for a rollback: the version rolled back to).
    pub version: u64,
    pub action: Action,
    /// Why (required, at most [`MAX_REASON_CHARS`] characters).
    pub reason: String,
    /// When, RFC 3339 (the caller's clock; [`crate::registry::format_timestamp`]).
    pub at: String,
    /// The model revision the caller decided on; `None`: the revision the adapter reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_revision: Option<u64>,
}

/// One recorded change of one version (an item of its history).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionChange {
    pub model_name: String,
    pub version: u64,
    /// The model revision this operation produced (the same on every version it changed).
    pub revision: u64,
    pub action: Action,
    pub from: VersionStatus,
    pub to: VersionStatus,
    /// Who: the caller's identity (an STS ARN on AWS, the OS user or `--actor` locally).
    pub actor: String,
    /// When, RFC 3339.
    pub at: String,
    pub reason: String,
    /// For a rollback: the version rolled back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_to: Option<u64>,
}

/// Why an operation was not applied. Nothing of a failed operation is written.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum OperationError {
    /// The operation itself is malformed (empty reason, bad timestamp, ...).
    #[error("invalid operation: {field}: {message}")]
    InvalidRequest {
        field: &'static str,
        message: String,
    },
    #[error("version {version} of model {model:?} does not exist")]
    VersionNotFound { model: String, version: u64 },
    /// The action is not allowed from the version's current status.
    #[error(
        "cannot {action} version {version} of model {model:?}: it is {current}; {}",
        allowed_text(*current, allowed)
    )]
    InvalidTransition {
        model: String,
        version: u64,
        action: Action,
        current: VersionStatus,
        allowed: Vec<Action>,
    },
    /// A rollback to a version that no later servable (or pending) version supersedes.
    #[error(
        "nothing to roll back: no version of model {model:?} after {version} is Registered, PendingApproval or Approved"
    )]
    NothingToRollBack { model: String, version: u64 },
    #[error(
        "rolling model {model:?} back to version {version} would retire {count} versions; at most {limit} are retired at once (retire some first)"
    )]
    TooManyVersions {
        model: String,
        version: u64,
        count: usize,
        limit: usize,
    },
    /// Another operation (or registration) changed the model after this one's state was read.
    #[error(
        "registry conflict on model {model:?}: {detail}; version {version} is now {current} at model revision {current_revision} (the operation was decided at revision {expected_revision}); nothing was changed"
    )]
    RegistryConflict {
        model: String,
        version: u64,
        current: VersionStatus,
        expected_revision: u64,
        current_revision: u64,
        detail: String,
    },
    /// The registry could not be read or written.
    #[error("{0}")]
    Port(#[from] PortError),
}

fn allowed_text(current: VersionStatus, allowed: &[Action]) -> String {
    if allowed.is_empty() {
        format!("no action is allowed on a {current} version")
    } else {
        let names: Vec<&str> = allowed.iter().map(|a| a.as_str()).collect();
        format!(
            "from {current} the allowed actions are {}",
            names.join(", ")
        )
    }
}

impl OperationError {
    /// The error's stable name (for exit codes and `--json`).
    pub fn name(&self) -> &'static str {
        match self {
            OperationError::InvalidRequest { .. } => "InvalidRequest",
            OperationError::VersionNotFound { .. } => "VersionNotFound",
            OperationError::InvalidTransition { .. } => "InvalidTransition",
            OperationError::NothingToRollBack { .. } => "NothingToRollBack",
            OperationError::TooManyVersions { .. } => "TooManyVersions",
            OperationError::RegistryConflict { .. } => "RegistryConflict",
            OperationError::Port(_) => "RegistryUnavailable",
        }
    }
}

/// Checks the parts of `op` (and the actor) that do not depend on the registry's state.
pub fn validate(op: &Operation, actor: &str) -> Result<(), OperationError> {
    let invalid = |field, message: String| Err(OperationError::InvalidRequest { field, message });
    if op.model_name.is_empty() {
        return invalid("modelName", "must not be empty".into());
    }
    if op.version == 0 {
        return invalid("version", "versions start at 1".into());
    }
    if op.reason.trim().is_empty() {
        return invalid("reason", "is required (why this change is made)".into());
    }
    let reason_chars = op.reason.chars().count();
    if reason_chars > MAX_REASON_CHARS {
        return invalid(
            "reason",
            format!("must be at most {MAX_REASON_CHARS} characters, got {reason_chars}"),
        );
    }
    if chrono::DateTime::parse_from_rfc3339(&op.at).is_err() {
        return invalid("at", format!("must be an RFC 3339 time, got {:?}", op.at));
    }
    if actor.trim().is_empty() {
        return invalid("actor", "the caller's identity is empty".into());
    }
    if actor.chars().count() > MAX_ACTOR_CHARS {
        return invalid(
            "actor",
            format!("must be at most {MAX_ACTOR_CHARS} characters"),
        );
    }
    Ok(())
}

/// The changes `op` makes, decided on the model as read at `revision`: `versions` holds the
/// target version and, for a rollback, every later version (others are ignored). The first
/// change is the target's. Every change carries the new revision `revision + 1`.
pub fn plan(
    op: &Operation,
    actor: &str,
    revision: u64,
    versions: &[ModelVersion],
) -> Result<Vec<VersionChange>, OperationError> {
    validate(op, actor)?;
    let target = versions
        .iter()
        .find(|v| v.version == op.version)
        .ok_or_else(|| OperationError::VersionNotFound {
            model: op.model_name.clone(),
            version: op.version,
        })?;
    if let Some(expected) = op.expected_revision
        && expected != revision
    {
        return Err(OperationError::RegistryConflict {
            model: op.model_name.clone(),
            version: op.version,
            current: target.status,
            expected_revision: expected,
            current_revision: revision,
            detail: format!("the model changed since revision {expected}"),
        });
    }
    let to =
        next_status(target.status, op.action).ok_or_else(|| OperationError::InvalidTransition {
            model: op.model_name.clone(),
            version: op.version,
            action: op.action,
            current: target.status,
            allowed: allowed_actions(target.status),
        })?;
    let next = revision.checked_add(1).ok_or_else(|| {
        OperationError::Port(PortError::Corrupt {
            message: format!("revision of model {:?} is at its maximum", op.model_name),
        })
    })?;
    let rolled_back_to = (op.action == Action::RollBack).then_some(op.version);
    let change = |v: &ModelVersion, to| VersionChange {
        model_name: op.model_name.clone(),
        version: v.version,
        revision: next,
        action: op.action,
        from: v.status,
        to,
        actor: actor.to_string(),
        at: op.at.clone(),
        reason: op.reason.clone(),
        rolled_back_to,
    };
    let mut changes = vec![change(target, to)];
    if op.action == Action::RollBack {
        let mut later: Vec<&ModelVersion> = versions
            .iter()
            .filter(|v| v.version > op.version && retired_by_rollback(v.status))
            .collect();
        later.sort_by_key(|v| v.version);
        if later.is_empty() {
            return Err(OperationError::NothingToRollBack {
                model: op.model_name.clone(),
                version: op.version,
            });
        }
        if later.len() > MAX_ROLLBACK_VERSIONS {
            return Err(OperationError::TooManyVersions {
                model: op.model_name.clone(),
                version: op.version,
                count: later.len(),
                limit: MAX_ROLLBACK_VERSIONS,
            });
        }
        changes.extend(later.into_iter().map(|v| change(v, VersionStatus::Retired)));
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::NewVersion;
    use VersionStatus::*;

    fn version(n: u64, status: VersionStatus) -> ModelVersion {
        ModelVersion {
            version: n,
            status,
            record: NewVersion {
                model_name: "churn".into(),
                sagemaker_model_name: "sm".into(),
                training_job_name: "job".into(),
                tuning_job_name: None,
                model_data_url: "s3://b/m.tar.gz".into(),
                image: "img".into(),
                hyperparameters: Default::default(),
                objective_metric: None,
                objective_value: None,
                data_date: "2024-06-01".into(),
                created_at: "2024-06-01T00:00:00.000Z".into(),
                execution_arn: format!("arn:e{n}"),
                parent_version: None,
                reason: "initial".into(),
                profile_uri: None,
                training_data: None,
            },
        }
    }

    fn op(v: u64, action: Action) -> Operation {
        Operation {
            model_name: "churn".into(),
            version: v,
            action,
            reason: "checked the metrics".into(),
            at: "2024-06-02T10:00:00.000Z".into(),
            expected_revision: None,
        }
    }

    #[test]
    fn every_status_and_action_has_the_documented_next_status() {
        use Action::*;
        let table = [
            (
                Registered,
                [
                    Some(Approved),
                    Some(Rejected),
                    Some(Retired),
                    Some(Registered),
                ],
            ),
            (
                PendingApproval,
                [Some(Approved), Some(Rejected), Some(Retired), None],
            ),
            (
                Approved,
                [None, Some(Rejected), Some(Retired), Some(Approved)],
            ),
            (Rejected, [Some(Approved), None, Some(Retired), None]),
            (Retired, [None, None, None, None]),
        ];
        for (from, expected) in table {
            for (action, to) in [Approve, Reject, Retire, RollBack]
                .into_iter()
                .zip(expected)
            {
                assert_eq!(next_status(from, action), to, "{from} + {action}");
            }
        }
        assert_eq!(allowed_actions(Retired), Vec::<Action>::new());
        assert_eq!(allowed_actions(Rejected), vec![Approve, Retire]);
        assert_eq!(VersionStatus::ALL.len(), table.len());
    }

    #[test]
    fn statuses_and_actions_round_trip_their_names() {
        for s in VersionStatus::ALL {
            assert_eq!(VersionStatus::parse(s.as_str()), Some(s));
        }
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        assert_eq!(Action::parse("approve"), None);
        assert_eq!(VersionStatus::parse("PendingManualApproval"), None);
    }

    #[test]
    fn given_an_approval_of_a_registered_version_then_one_change_at_the_next_revision() {
        let changes = plan(
            &op(2, Action::Approve),
            "alice",
            4,
            &[version(2, Registered)],
        )
        .unwrap();
        assert_eq!(
            changes,
            vec![VersionChange {
                model_name: "churn".into(),
                version: 2,
                revision: 5,
                action: Action::Approve,
                from: Registered,
                to: Approved,
                actor: "alice".into(),
                at: "2024-06-02T10:00:00.000Z".into(),
                reason: "checked the metrics".into(),
                rolled_back_to: None,
            }]
        );
    }

    #[test]
    fn given_a_retired_version_when_approved_then_invalid_transition_names_state_and_allowed() {
        let err = plan(&op(1, Action::Approve), "alice", 0, &[version(1, Retired)]).unwrap_err();
        assert_eq!(
            err,
            OperationError::InvalidTransition {
                model: "churn".into(),
                version: 1,
                action: Action::Approve,
                current: Retired,
                allowed: vec![],
            }
        );
        assert_eq!(err.name(), "InvalidTransition");
        assert!(err.to_string().contains("it is Retired"), "{err}");
        let err = plan(&op(1, Action::Approve), "alice", 0, &[version(1, Approved)]).unwrap_err();
        assert!(
            err.to_string()
                .contains("from Approved the allowed actions are Reject, Retire, RollBack"),
            "{err}"
        );
    }

    #[test]
    fn given_a_stale_expected_revision_then_conflict_names_the_current_state() {
        let mut stale = op(1, Action::Reject);
        stale.expected_revision = Some(2);
        let err = plan(&stale, "bob", 3, &[version(1, Approved)]).unwrap_err();
        assert!(
            matches!(
                &err,
                OperationError::RegistryConflict {
                    current: Approved,
                    expected_revision: 2,
                    current_revision: 3,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.name(), "RegistryConflict");
        stale.expected_revision = Some(3);
        assert!(plan(&stale, "bob", 3, &[version(1, Approved)]).is_ok());
    }

    #[test]
    fn given_a_rollback_then_later_servable_and_pending_versions_are_retired() {
        let versions = [
            version(1, Approved),
            version(2, Registered),
            version(3, Rejected),
            version(4, PendingApproval),
            version(5, Approved),
            version(6, Retired),
        ];
        let changes = plan(&op(2, Action::RollBack), "carol", 0, &versions).unwrap();
        let summary: Vec<(u64, VersionStatus, VersionStatus)> =
            changes.iter().map(|c| (c.version, c.from, c.to)).collect();
        assert_eq!(
            summary,
            vec![
                (2, Registered, Registered),
                (4, PendingApproval, Retired),
                (5, Approved, Retired)
            ]
        );
        assert!(
            changes
                .iter()
                .all(|c| c.rolled_back_to == Some(2) && c.revision == 1)
        );
    }

    #[test]
    fn given_nothing_later_when_rolling_back_then_nothing_to_roll_back() {
        let versions = [version(1, Approved), version(2, Rejected)];
        let err = plan(&op(1, Action::RollBack), "carol", 0, &versions).unwrap_err();
        assert_eq!(err.name(), "NothingToRollBack");
        let err = plan(&op(2, Action::RollBack), "carol", 0, &versions).unwrap_err();
        assert!(
            matches!(
                err,
                OperationError::InvalidTransition {
                    current: Rejected,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn given_too_many_later_versions_when_rolling_back_then_too_many_versions() {
        let mut versions = vec![version(1, Approved)];
        versions.extend((2..=MAX_ROLLBACK_VERSIONS as u64 + 2).map(|n| version(n, Registered)));
        let err = plan(&op(1, Action::RollBack), "carol", 0, &versions).unwrap_err();
        assert_eq!(
            err,
            OperationError::TooManyVersions {
                model: "churn".into(),
                version: 1,
                count: MAX_ROLLBACK_VERSIONS + 1,
                limit: MAX_ROLLBACK_VERSIONS,
            }
        );
        versions.pop();
        assert_eq!(
            plan(&op(1, Action::RollBack), "carol", 0, &versions)
                .unwrap()
                .len(),
            MAX_ROLLBACK_VERSIONS + 1
        );
    }

    type Edit = Box<dyn Fn(&mut Operation)>;

    #[test]
    fn given_malformed_operations_then_invalid_request_names_the_field() {
        let v = [version(1, Registered)];
        let cases: [(&str, Edit, &str); 5] = [
            ("reason", Box::new(|o| o.reason = "  ".into()), "alice"),
            (
                "reason",
                Box::new(|o| o.reason = "x".repeat(MAX_REASON_CHARS + 1)),
                "alice",
            ),
            ("at", Box::new(|o| o.at = "yesterday".into()), "alice"),
            ("version", Box::new(|o| o.version = 0), "alice"),
            ("actor", Box::new(|_| {}), " "),
        ];
        for (field, edit, actor) in cases {
            let mut o = op(1, Action::Approve);
            edit(&mut o);
            match plan(&o, actor, 0, &v) {
                Err(OperationError::InvalidRequest { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        let mut o = op(1, Action::Approve);
        o.reason = "x".repeat(MAX_REASON_CHARS);
        assert!(
            plan(&o, "alice", 0, &v).is_ok(),
            "the limit itself is allowed"
        );
    }

    #[test]
    fn given_a_missing_version_then_version_not_found() {
        let err = plan(
            &op(7, Action::Retire),
            "alice",
            0,
            &[version(1, Registered)],
        )
        .unwrap_err();
        assert_eq!(
            err,
            OperationError::VersionNotFound {
                model: "churn".into(),
                version: 7
            }
        );
    }

    #[test]
    fn only_registered_and_pending_are_initial_statuses() {
        for s in VersionStatus::ALL {
            assert_eq!(
                check_initial_status(s).is_ok(),
                matches!(s, Registered | PendingApproval),
                "{s}"
            );
        }
    }
}
