//! The model registry on one DynamoDB table (docs/ARCHITECTURE.md, "Model registry").
//!
//! Key schema: `pk` (S, hash) = model name, `sk` (S, range); item layout in [`items`].
//! Every read is strongly consistent.

mod items;
#[cfg(test)]
mod mocked_tests;
mod ops;

pub use ops::sts_client;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use mdlc_core::PortError;
use mdlc_core::ports::{RegistryRead, RegistryWrite};
use mdlc_core::registry::{
    COUNTER_SORT_KEY, EvaluationRecord, ModelVersion, NewVersion, Registration, VersionStatus,
    execution_marker_key, version_sort_key,
};
use mdlc_core::registry_ops::{Operation, OperationError, VersionChange};
use rand::Rng;

use crate::error::map_sdk_error;
use items::{Item, ItemReader, LAST_VERSION, PK, SK, STATUS, VERSION};

/// Default bound on registration attempts lost to concurrent registrations
/// ([`DynamoDbRegistry::with_max_attempts`], `AwsConfig::register_max_attempts`).
pub const DEFAULT_REGISTER_MAX_ATTEMPTS: u32 = 60;

/// First backoff ceiling after a lost registration race; doubles per attempt up to the cap.
const BACKOFF_BASE: Duration = Duration::from_millis(5);
const BACKOFF_CAP: Duration = Duration::from_millis(250);

/// The DynamoDB registry adapter ([`RegistryRead`] + [`RegistryWrite`]).
#[derive(Debug, Clone)]
pub struct DynamoDbRegistry {
    client: Client,
    table: String,
    max_attempts: u32,
    /// Identifies the operator of `operate` ([`DynamoDbRegistry::with_caller_identity`]).
    sts: Option<aws_sdk_sts::Client>,
    /// The caller's ARN, asked once.
    caller: std::sync::Arc<tokio::sync::OnceCell<String>>,
}

/// Why a registration transaction was cancelled.
#[derive(Debug, Clone, PartialEq)]
enum Cancellation {
    /// The execution marker exists: this execution registered already (the marker's `version`
    /// when DynamoDB returned the old item).
    AlreadyRegistered(Option<u64>),
    /// Another registration moved the counter (or a transaction on the same items was running).
    LostRace,
    /// The version item exists although the counter condition held: the table is inconsistent.
    VersionExists,
    /// Cancelled without reasons (some emulators): the marker decides.
    Unexplained,
    /// Any other reason (throttling, validation, capacity), as "code: message".
    Other(Vec<String>),
}

impl DynamoDbRegistry {
    /// The registry on `table` through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoDbRegistry {
            client,
            table: table.into(),
            max_attempts: DEFAULT_REGISTER_MAX_ATTEMPTS,
            sts: None,
            caller: std::sync::Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    /// Bounds the registration attempts lost to concurrent registrations (at least 1).
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn target(&self) -> String {
        format!("table {}", self.table)
    }

    /// A consistent GetItem.
    async fn get_item(&self, model: &str, sk: String) -> Result<Option<Item>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(items::key(model, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| map_sdk_error("GetItem", &self.target(), &e))?;
        Ok(out.item)
    }

    /// The highest version assigned so far (0 when none).
    async fn last_version(&self, model: &str) -> Result<u64, PortError> {
        match self.get_item(model, COUNTER_SORT_KEY.to_string()).await? {
            None => Ok(0),
            Some(item) => ItemReader::new(&item).u64(LAST_VERSION),
        }
    }

    /// Every item of `model` whose sort key satisfies `sk_condition` (with `:lo`/`:hi` or
    /// `:prefix` in `values`), consistent, paginated, in the given order. Stops after the first
    /// page that yields an item when `first_only`.
    async fn query(
        &self,
        model: &str,
        sk_condition: &str,
        values: HashMap<String, AttributeValue>,
        filter: Option<(String, HashMap<String, AttributeValue>)>,
        ascending: bool,
        first_only: bool,
    ) -> Result<Vec<Item>, PortError> {
        let mut names = HashMap::from([
            ("#pk".to_string(), PK.to_string()),
            ("#sk".to_string(), SK.to_string()),
        ]);
        let mut all_values = values;
        all_values.insert(":pk".to_string(), AttributeValue::S(model.to_string()));
        let mut filter_expression = None;
        if let Some((expression, filter_values)) = filter {
            names.insert("#status".to_string(), STATUS.to_string());
            all_values.extend(filter_values);
            filter_expression = Some(expression);
        }
        let mut out = Vec::new();
        let mut start_key: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(format!("#pk = :pk AND {sk_condition}"))
                .set_filter_expression(filter_expression.clone())
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(all_values.clone()))
                .scan_index_forward(ascending)
                .consistent_read(true)
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(|e| map_sdk_error("Query", &self.target(), &e))?;
            out.extend(page.items.unwrap_or_default());
            if first_only && !out.is_empty() {
                break;
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start_key = Some(key),
                _ => break,
            }
        }
        Ok(out)
    }

    fn version_prefix_query() -> (&'static str, HashMap<String, AttributeValue>) {
        (
            "begins_with(#sk, :prefix)",
            HashMap::from([(":prefix".to_string(), AttributeValue::S("V#".to_string()))]),
        )
    }

    /// The registration transaction for `next` after `last`.
    fn registration_items(
        &self,
        new: &NewVersion,
        status: VersionStatus,
        last: u64,
        next: u64,
    ) -> Result<Vec<TransactWriteItem>, PortError> {
        let build_err = |e: aws_sdk_dynamodb::error::BuildError| PortError::Rejected {
            message: format!("TransactWriteItems on {}: {e}", self.target()),
        };
        let counter = if last == 0 {
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(items::counter_item(&new.model_name, next)))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
        } else {
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(items::counter_item(&new.model_name, next)))
                .condition_expression("#last = :last")
                .expression_attribute_names("#last", LAST_VERSION)
                .expression_attribute_values(":last", AttributeValue::N(last.to_string()))
        }
        .build()
        .map_err(build_err)?;
        let version = Put::builder()
            .table_name(&self.table)
            .set_item(Some(items::version_item(new, next, status)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(build_err)?;
        let marker = Put::builder()
            .table_name(&self.table)
            .set_item(Some(items::marker_item(new, next)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_err)?;
        Ok(vec![
            TransactWriteItem::builder().put(counter).build(),
            TransactWriteItem::builder().put(version).build(),
            TransactWriteItem::builder().put(marker).build(),
        ])
    }

    /// The registration of an execution that registered already.
    async fn existing_registration(
        &self,
        new: &NewVersion,
        known_version: Option<u64>,
    ) -> Result<Registration, PortError> {
        let version = match known_version {
            Some(v) => v,
            None => {
                let sk = execution_marker_key(&new.execution_arn);
                let marker = self.get_item(&new.model_name, sk.clone()).await?.ok_or_else(|| {
                    PortError::Corrupt {
                        message: format!(
                            "registration of {:?} was cancelled on its execution marker, but no item {sk:?} exists",
                            new.model_name
                        ),
                    }
                })?;
                ItemReader::new(&marker).u64(VERSION)?
            }
        };
        let existing = self.get_version(&new.model_name, version).await?.ok_or_else(|| {
            PortError::Corrupt {
                message: format!(
                    "execution marker of {:?} for model {:?} points at version {version}, which does not exist",
                    new.execution_arn, new.model_name
                ),
            }
        })?;
        Ok(Registration {
            version: existing,
            created: false,
        })
    }
}

/// Reads the cancellation reasons of a registration transaction (counter, version, marker).
fn cancellation(reasons: &[CancellationReason]) -> Cancellation {
    let code = |i: usize| reasons.get(i).and_then(|r| r.code()).unwrap_or("None");
    if code(2) == "ConditionalCheckFailed" {
        let version = reasons
            .get(2)
            .and_then(|r| r.item())
            .and_then(|item| ItemReader::new(item).u64(VERSION).ok());
        return Cancellation::AlreadyRegistered(version);
    }
    let retryable = |c: &str| matches!(c, "ConditionalCheckFailed" | "TransactionConflict");
    if retryable(code(0)) || code(1) == "TransactionConflict" || code(2) == "TransactionConflict" {
        return Cancellation::LostRace;
    }
    if code(1) == "ConditionalCheckFailed" {
        return Cancellation::VersionExists;
    }
    let other: Vec<String> = reasons
        .iter()
        .filter(|r| r.code().is_some_and(|c| c != "None"))
        .map(|r| format!("{}: {}", r.code().unwrap_or(""), r.message().unwrap_or("")))
        .collect();
    if other.is_empty() {
        Cancellation::Unexplained
    } else {
        Cancellation::Other(other)
    }
}

/// The error of a transaction cancelled for reasons other than its conditions: throttling or
/// capacity reasons are retryable, anything else is a rejection.
fn cancellation_error(
    target: &str,
    reasons: &[String],
    parts: &crate::error::ServiceErrorParts,
) -> PortError {
    let transient = reasons.iter().any(|r| {
        r.starts_with("ThrottlingError")
            || r.starts_with("ProvisionedThroughputExceeded")
            || r.starts_with("RequestLimitExceeded")
    });
    let message = format!(
        "TransactWriteItems on {target}: cancelled: {}",
        parts.describe()
    );
    if transient {
        PortError::Unavailable { message }
    } else {
        PortError::Rejected { message }
    }
}

/// Full-jitter backoff before attempt `attempt` (1-based count of lost races).
fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(1u32 << attempt.min(16))
        .min(BACKOFF_CAP);
    let millis = u64::try_from(ceiling.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    Duration::from_millis(rand::rng().random_range(0..=millis))
}

#[async_trait]
impl RegistryWrite for DynamoDbRegistry {
    async fn register_as(
        &self,
        new: NewVersion,
        status: VersionStatus,
    ) -> Result<Registration, PortError> {
        mdlc_core::registry_state::check_registration(&new, status)?;
        let mut races = 0u32;
        loop {
            let last = self.last_version(&new.model_name).await?;
            let next = last.checked_add(1).ok_or_else(|| PortError::Corrupt {
                message: format!("version counter of {:?} is at its maximum", new.model_name),
            })?;
            let transaction = self.registration_items(&new, status, last, next)?;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(transaction))
                .send()
                .await;
            let err = match result {
                Ok(_) => {
                    tracing::info!(model = %new.model_name, version = next, execution = %new.execution_arn, "registered model version");
                    return Ok(Registration {
                        version: ModelVersion {
                            version: next,
                            status,
                            record: new,
                        },
                        created: true,
                    });
                }
                Err(err) => err,
            };
            let reasons = match &err {
                SdkError::ServiceError(ctx) => match ctx.err() {
                    TransactWriteItemsError::TransactionCanceledException(e) => {
                        Some(cancellation(e.cancellation_reasons()))
                    }
                    _ => None,
                },
                _ => None,
            };
            match reasons {
                Some(Cancellation::AlreadyRegistered(version)) => {
                    tracing::info!(model = %new.model_name, execution = %new.execution_arn, "execution registered already");
                    return self.existing_registration(&new, version).await;
                }
                Some(Cancellation::Unexplained) => {
                    // No reasons given: the marker tells whether this execution won already.
                    let marker_sk = execution_marker_key(&new.execution_arn);
                    if self.get_item(&new.model_name, marker_sk).await?.is_some() {
                        return self.existing_registration(&new, None).await;
                    }
                }
                Some(Cancellation::LostRace) => {}
                Some(Cancellation::VersionExists) => {
                    return Err(PortError::Corrupt {
                        message: format!(
                            "{}: version item {} of {:?} exists although the counter says the last version is {last}",
                            self.target(),
                            version_sort_key(next),
                            new.model_name
                        ),
                    });
                }
                Some(Cancellation::Other(reasons)) => {
                    let parts = crate::error::service_error_parts(&err);
                    return Err(match parts {
                        Some(mut parts) => {
                            parts.message = Some(reasons.join("; "));
                            cancellation_error(&self.target(), &reasons, &parts)
                        }
                        None => map_sdk_error("TransactWriteItems", &self.target(), &err),
                    });
                }
                None => return Err(map_sdk_error("TransactWriteItems", &self.target(), &err)),
            }
            races += 1;
            if races >= self.max_attempts {
                return Err(PortError::Conflict {
                    message: format!(
                        "registration of {:?} lost {races} races to concurrent registrations; giving up",
                        new.model_name
                    ),
                });
            }
            tracing::debug!(model = %new.model_name, races, "registration lost a race; retrying");
            tokio::time::sleep(backoff(races)).await;
        }
    }

    async fn put_evaluation(&self, record: EvaluationRecord) -> Result<(), PortError> {
        mdlc_core::registry_state::check_evaluation(&record)?;
        let item = items::evaluation_item(&record)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| map_sdk_error("PutItem", &self.target(), &e))?;
        Ok(())
    }

    async fn caller(&self) -> Result<String, PortError> {
        self.caller_arn().await
    }

    async fn operate(&self, operation: Operation) -> Result<Vec<VersionChange>, OperationError> {
        self.apply_operation(operation).await
    }

    async fn set_status(
        &self,
        model: &str,
        version: u64,
        status: VersionStatus,
    ) -> Result<(), PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(items::key(model, version_sort_key(version))))
            .update_expression("SET #status = :status")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":status", AttributeValue::S(status.as_str().to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(PortError::not_found(format!(
                    "version {version} of model {model:?}"
                )))
            }
            Err(err) => Err(map_sdk_error("UpdateItem", &self.target(), &err)),
        }
    }
}

#[async_trait]
impl RegistryRead for DynamoDbRegistry {
    async fn latest_version(
        &self,
        model: &str,
        statuses: &[VersionStatus],
    ) -> Result<Option<ModelVersion>, PortError> {
        if statuses.is_empty() {
            return Ok(None);
        }
        let mut placeholders = Vec::new();
        let mut values = HashMap::new();
        for (i, status) in statuses.iter().enumerate() {
            let name = format!(":s{i}");
            values.insert(name.clone(), AttributeValue::S(status.as_str().to_string()));
            placeholders.push(name);
        }
        let filter = format!("#status IN ({})", placeholders.join(", "));
        let (condition, key_values) = Self::version_prefix_query();
        let items = self
            .query(
                model,
                condition,
                key_values,
                Some((filter, values)),
                false,
                true,
            )
            .await?;
        items.first().map(items::parse_version).transpose()
    }

    async fn get_version(
        &self,
        model: &str,
        version: u64,
    ) -> Result<Option<ModelVersion>, PortError> {
        self.get_item(model, version_sort_key(version))
            .await?
            .as_ref()
            .map(items::parse_version)
            .transpose()
    }

    async fn list_versions(&self, model: &str) -> Result<Vec<ModelVersion>, PortError> {
        let (condition, values) = Self::version_prefix_query();
        self.query(model, condition, values, None, true, false)
            .await?
            .iter()
            .map(items::parse_version)
            .collect()
    }

    async fn list_evaluations(
        &self,
        model: &str,
        since: Option<&str>,
    ) -> Result<Vec<EvaluationRecord>, PortError> {
        // Evaluation sort keys are `E#<RFC 3339 time>#<execution>`; '$' is the character after
        // '#', so `E$` bounds every evaluation key from above.
        let (condition, values) = match since {
            None => (
                "begins_with(#sk, :prefix)",
                HashMap::from([(":prefix".to_string(), AttributeValue::S("E#".to_string()))]),
            ),
            Some(since) => (
                "#sk BETWEEN :lo AND :hi",
                HashMap::from([
                    (":lo".to_string(), AttributeValue::S(format!("E#{since}"))),
                    (":hi".to_string(), AttributeValue::S("E$".to_string())),
                ]),
            ),
        };
        self.query(model, condition, values, None, true, false)
            .await?
            .iter()
            .map(items::parse_evaluation)
            .collect()
    }

    async fn revision(&self, model: &str) -> Result<u64, PortError> {
        self.read_revision(model).await
    }

    async fn version_history(
        &self,
        model: &str,
        version: u64,
    ) -> Result<Vec<VersionChange>, PortError> {
        self.read_history(model, version).await
    }
}
