//! Registry operations on DynamoDB (approve, reject, retire, roll back; `mdlc_core::registry_ops`).
//!
//! One operation is one `TransactWriteItems`:
//! - the model's `REVISION` item, put under the condition that it still holds the revision the
//!   operation was decided on (`attribute_not_exists` for revision 0): the compare-and-swap that
//!   makes two operators unable to lose each other's change;
//! - per changed version, an Update of its status under `#status = :from`, and the Put of its
//!   history item `H#<version>#<revision>` (`attribute_not_exists`);
//! - for a rollback, a ConditionCheck that the `COUNTER` still holds the last version read (no
//!   version was registered meanwhile).
//!
//! A cancelled transaction is a `RegistryConflict` naming the state read after it. The actor is
//! the caller's STS identity (`sts:GetCallerIdentity`), asked once per registry handle.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem, Update};
use mdlc_core::PortError;
use mdlc_core::ports::RegistryRead;
use mdlc_core::registry::{
    COUNTER_SORT_KEY, ModelVersion, REVISION_SORT_KEY, history_prefix, history_sort_key,
    version_sort_key,
};
use mdlc_core::registry_ops::{self, Action, Operation, OperationError, VersionChange};

use super::DynamoDbRegistry;
use super::items::{self, Item, ItemReader, LAST_VERSION, PK, STATUS, VERSION};
use crate::error::map_sdk_error;

/// The `revision` attribute of the `REVISION` and history items.
const REVISION: &str = "revision";

/// The history item of `change`.
pub(crate) fn history_item(change: &VersionChange) -> Item {
    let s = |v: &str| AttributeValue::S(v.to_string());
    let n = |v: u64| AttributeValue::N(v.to_string());
    let mut item = items::key(
        &change.model_name,
        history_sort_key(change.version, change.revision),
    );
    item.insert("modelName".into(), s(&change.model_name));
    item.insert(VERSION.into(), n(change.version));
    item.insert(REVISION.into(), n(change.revision));
    item.insert("action".into(), s(change.action.as_str()));
    item.insert("from".into(), s(change.from.as_str()));
    item.insert("to".into(), s(change.to.as_str()));
    item.insert("actor".into(), s(&change.actor));
    item.insert("at".into(), s(&change.at));
    item.insert("reason".into(), s(&change.reason));
    if let Some(target) = change.rolled_back_to {
        item.insert("rolledBackTo".into(), n(target));
    }
    item
}

/// Decodes a history item.
pub(crate) fn parse_change(item: &Item) -> Result<VersionChange, PortError> {
    let r = ItemReader::new(item);
    let action_text = r.string("action")?;
    let action = Action::parse(&action_text).ok_or_else(|| {
        r.corrupt(
            "action",
            format!(
                "has unknown value {action_text:?} (expected Approve, Reject, Retire or RollBack)"
            ),
        )
    })?;
    Ok(VersionChange {
        model_name: match r.opt_string("modelName")? {
            Some(name) => name,
            None => r.string(PK)?,
        },
        version: r.u64(VERSION)?,
        revision: r.u64(REVISION)?,
        action,
        from: r.status_named("from")?,
        to: r.status_named("to")?,
        actor: r.string("actor")?,
        at: r.string("at")?,
        reason: r.string("reason")?,
        rolled_back_to: r.opt_u64("rolledBackTo")?,
    })
}

/// The `REVISION` item after `changes` (the target's change first).
fn revision_item(change: &VersionChange) -> Item {
    let mut item = items::key(&change.model_name, REVISION_SORT_KEY.to_string());
    item.insert(
        REVISION.into(),
        AttributeValue::N(change.revision.to_string()),
    );
    item.insert(
        VERSION.into(),
        AttributeValue::N(change.version.to_string()),
    );
    item.insert(
        "action".into(),
        AttributeValue::S(change.action.as_str().into()),
    );
    item.insert("actor".into(), AttributeValue::S(change.actor.clone()));
    item.insert("at".into(), AttributeValue::S(change.at.clone()));
    item
}

/// What the operation read before deciding.
struct ReadState {
    revision: u64,
    /// The counter (rollbacks only).
    last_version: Option<u64>,
    versions: Vec<ModelVersion>,
}

impl DynamoDbRegistry {
    /// Records operations as made by the caller of `sts` (`sts:GetCallerIdentity`'s ARN). The
    /// CLI builds the client with [`sts_client`]; without one, `operate` is refused.
    pub fn with_caller_identity(mut self, sts: aws_sdk_sts::Client) -> Self {
        self.sts = Some(sts);
        self
    }

    pub(crate) async fn caller_arn(&self) -> Result<String, PortError> {
        let sts = self.sts.as_ref().ok_or_else(|| PortError::Rejected {
            message: "the registry has no STS client to identify the operator \
                      (DynamoDbRegistry::with_caller_identity)"
                .into(),
        })?;
        self.caller
            .get_or_try_init(|| async {
                let out = sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| map_sdk_error("GetCallerIdentity", "STS", &e))?;
                out.arn
                    .filter(|arn| !arn.is_empty())
                    .ok_or_else(|| PortError::Corrupt {
                        message: "GetCallerIdentity returned no Arn".into(),
                    })
            })
            .await
            .cloned()
    }

    pub(crate) async fn read_revision(&self, model: &str) -> Result<u64, PortError> {
        match self.get_item(model, REVISION_SORT_KEY.to_string()).await? {
            None => Ok(0),
            Some(item) => ItemReader::new(&item).u64(REVISION),
        }
    }

    pub(crate) async fn read_history(
        &self,
        model: &str,
        version: u64,
    ) -> Result<Vec<VersionChange>, PortError> {
        let values = HashMap::from([(
            ":prefix".to_string(),
            AttributeValue::S(history_prefix(version)),
        )]);
        self.query(
            model,
            "begins_with(#sk, :prefix)",
            values,
            None,
            true,
            false,
        )
        .await?
        .iter()
        .map(parse_change)
        .collect()
    }

    /// The state `operation` is decided on: the revision first, then (for a rollback) the
    /// counter and the target with every later version, else the target alone.
    async fn read_state(&self, operation: &Operation) -> Result<ReadState, PortError> {
        let model = &operation.model_name;
        let revision = self.read_revision(model).await?;
        if operation.action != Action::RollBack {
            let versions = self
                .get_version(model, operation.version)
                .await?
                .into_iter()
                .collect();
            return Ok(ReadState {
                revision,
                last_version: None,
                versions,
            });
        }
        let last_version = self.last_version(model).await?;
        let values = HashMap::from([
            (
                ":lo".to_string(),
                AttributeValue::S(version_sort_key(operation.version)),
            ),
            (":hi".to_string(), AttributeValue::S("V$".to_string())),
        ]);
        let versions = self
            .query(model, "#sk BETWEEN :lo AND :hi", values, None, true, false)
            .await?
            .iter()
            .map(items::parse_version)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ReadState {
            revision,
            last_version: Some(last_version),
            versions,
        })
    }

    /// Reads the model and plans `operation` on it. The revision is read before the versions,
    /// so an operation that commits between the two reads shows its statuses at the old
    /// revision; a refusal decided on such a torn read (an approval of what is now Approved) is
    /// decided again on a fresh read once the revision has moved, where a stale
    /// `expected_revision` is then the conflict it is.
    async fn decide(
        &self,
        operation: &Operation,
        actor: &str,
    ) -> Result<(ReadState, Vec<VersionChange>), OperationError> {
        let state = self.read_state(operation).await?;
        match registry_ops::plan(operation, actor, state.revision, &state.versions) {
            Ok(changes) => Ok((state, changes)),
            Err(e @ OperationError::InvalidTransition { .. }) => {
                if self.read_revision(&operation.model_name).await? == state.revision {
                    return Err(e);
                }
                let state = self.read_state(operation).await?;
                let changes =
                    registry_ops::plan(operation, actor, state.revision, &state.versions)?;
                Ok((state, changes))
            }
            Err(e) => Err(e),
        }
    }

    /// The transaction of `changes`, decided at `state`.
    fn operation_items(
        &self,
        state: &ReadState,
        changes: &[VersionChange],
    ) -> Result<Vec<TransactWriteItem>, PortError> {
        let build_err = |e: aws_sdk_dynamodb::error::BuildError| PortError::Rejected {
            message: format!("TransactWriteItems on {}: {e}", self.target()),
        };
        let first = changes.first().ok_or_else(|| PortError::Rejected {
            message: "an operation without changes".into(),
        })?;
        let model = &first.model_name;
        let revision = Put::builder()
            .table_name(&self.table)
            .set_item(Some(revision_item(first)))
            .expression_attribute_names("#rev", REVISION);
        let revision = if state.revision == 0 {
            revision.condition_expression("attribute_not_exists(#rev)")
        } else {
            revision
                .condition_expression("#rev = :rev")
                .expression_attribute_values(":rev", AttributeValue::N(state.revision.to_string()))
        }
        .build()
        .map_err(build_err)?;
        let mut out = vec![TransactWriteItem::builder().put(revision).build()];
        if let Some(last) = state.last_version {
            let check = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(items::key(model, COUNTER_SORT_KEY.to_string())))
                .condition_expression("#last = :last")
                .expression_attribute_names("#last", LAST_VERSION)
                .expression_attribute_values(":last", AttributeValue::N(last.to_string()))
                .build()
                .map_err(build_err)?;
            out.push(TransactWriteItem::builder().condition_check(check).build());
        }
        for change in changes {
            let update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(items::key(model, version_sort_key(change.version))))
                .update_expression("SET #status = :to")
                .condition_expression("attribute_exists(#pk) AND #status = :from")
                .expression_attribute_names("#status", STATUS)
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":to", AttributeValue::S(change.to.as_str().into()))
                .expression_attribute_values(
                    ":from",
                    AttributeValue::S(change.from.as_str().into()),
                )
                .build()
                .map_err(build_err)?;
            let history = Put::builder()
                .table_name(&self.table)
                .set_item(Some(history_item(change)))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .build()
                .map_err(build_err)?;
            out.push(TransactWriteItem::builder().update(update).build());
            out.push(TransactWriteItem::builder().put(history).build());
        }
        Ok(out)
    }

    /// The conflict error of a cancelled operation: the state read after the cancellation.
    async fn conflict(
        &self,
        operation: &Operation,
        state: &ReadState,
        reasons: &[String],
    ) -> OperationError {
        let model = &operation.model_name;
        let current_revision = match self.read_revision(model).await {
            Ok(r) => r,
            Err(e) => return e.into(),
        };
        let current = match self.get_version(model, operation.version).await {
            Ok(Some(v)) => v.status,
            Ok(None) => {
                return OperationError::VersionNotFound {
                    model: model.clone(),
                    version: operation.version,
                };
            }
            Err(e) => return e.into(),
        };
        let mut detail = if current_revision != state.revision {
            format!(
                "another operation changed the model (revision {} → {current_revision})",
                state.revision
            )
        } else {
            "a concurrent write to the same items won".to_string()
        };
        if let Some(last) = state.last_version
            && self.last_version(model).await.is_ok_and(|now| now != last)
        {
            detail = format!("a version after {last} was registered meanwhile");
        }
        if !reasons.is_empty() {
            detail = format!("{detail} [{}]", reasons.join(", "));
        }
        OperationError::RegistryConflict {
            model: model.clone(),
            version: operation.version,
            current,
            expected_revision: state.revision,
            current_revision,
            detail,
        }
    }

    pub(crate) async fn apply_operation(
        &self,
        operation: Operation,
    ) -> Result<Vec<VersionChange>, OperationError> {
        let actor = self.caller_arn().await?;
        registry_ops::validate(&operation, &actor)?;
        let (state, changes) = self.decide(&operation, &actor).await?;
        let transaction = self.operation_items(&state, &changes)?;
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(transaction))
            .send()
            .await;
        let err = match result {
            Ok(_) => {
                tracing::info!(model = %operation.model_name, version = operation.version, action = %operation.action, revision = state.revision + 1, actor = %actor, "registry operation applied");
                return Ok(changes);
            }
            Err(err) => err,
        };
        let cancelled = err.as_service_error().and_then(|e| match e {
            TransactWriteItemsError::TransactionCanceledException(c) => {
                Some(c.cancellation_reasons().to_vec())
            }
            _ => None,
        });
        let Some(reasons) = cancelled else {
            return Err(map_sdk_error("TransactWriteItems", &self.target(), &err).into());
        };
        let codes: Vec<String> = reasons
            .iter()
            .filter_map(|r| r.code())
            .filter(|c| *c != "None")
            .map(str::to_string)
            .collect();
        let lost = codes.is_empty()
            || codes
                .iter()
                .all(|c| c == "ConditionalCheckFailed" || c == "TransactionConflict");
        if !lost {
            let message = reasons
                .iter()
                .filter(|r| r.code().is_some_and(|c| c != "None"))
                .map(|r| format!("{}: {}", r.code().unwrap_or(""), r.message().unwrap_or("")))
                .collect::<Vec<_>>()
                .join("; ");
            let transient = codes.iter().any(|c| {
                matches!(
                    c.as_str(),
                    "ThrottlingError" | "ProvisionedThroughputExceeded" | "RequestLimitExceeded"
                )
            });
            let message = format!(
                "TransactWriteItems on {}: cancelled: {message}",
                self.target()
            );
            return Err(if transient {
                PortError::Unavailable { message }
            } else {
                PortError::Rejected { message }
            }
            .into());
        }
        tracing::info!(model = %operation.model_name, version = operation.version, action = %operation.action, "registry operation lost a race");
        Err(self.conflict(&operation, &state, &codes).await)
    }
}

/// An STS client for [`DynamoDbRegistry::with_caller_identity`], configured like the other
/// clients (region and endpoint of `config`).
pub fn sts_client(sdk: &aws_config::SdkConfig, config: &crate::AwsConfig) -> aws_sdk_sts::Client {
    let mut builder = aws_sdk_sts::config::Builder::from(sdk);
    if let Some(url) = &config.endpoint_url {
        builder = builder.endpoint_url(url.clone());
    }
    if let Some(region) = &config.region {
        builder = builder.region(aws_sdk_sts::config::Region::new(region.clone()));
    }
    aws_sdk_sts::Client::from_conf(builder.build())
}
