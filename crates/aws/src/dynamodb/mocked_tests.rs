//! Behaviour of the DynamoDB registry against mocked SDK answers (`aws-smithy-mocks`).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ErrorMetadata;
use aws_sdk_dynamodb::operation::get_item::{GetItemError, GetItemOutput};
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::error::{
    ConditionalCheckFailedException, ProvisionedThroughputExceededException,
    ResourceNotFoundException, TransactionCanceledException,
};
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason};
use aws_smithy_mocks::mock;
use mdlc_core::PortError;
use mdlc_core::ports::{RegistryRead, RegistryWrite};
use mdlc_core::registry::VersionStatus;

use super::DynamoDbRegistry;
use super::items::{self, tests::sample};
use crate::test_support::mocked_client;

fn registry(client: Client) -> DynamoDbRegistry {
    DynamoDbRegistry::new(client, "registry")
}

fn counter_output(last: u64) -> GetItemOutput {
    GetItemOutput::builder()
        .set_item(Some(items::counter_item("churn", last)))
        .build()
}

fn version_output(version: u64) -> GetItemOutput {
    GetItemOutput::builder()
        .set_item(Some(
            items::version_item(&sample("churn"), version, VersionStatus::Registered).unwrap(),
        ))
        .build()
}

/// Error metadata as the SDK's deserializer fills it from a response.
fn meta(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

fn reason(code: &str) -> CancellationReason {
    CancellationReason::builder().code(code).build()
}

fn cancelled(reasons: Vec<CancellationReason>) -> TransactWriteItemsError {
    TransactWriteItemsError::TransactionCanceledException(
        TransactionCanceledException::builder()
            .message("Transaction cancelled")
            .meta(meta(
                "TransactionCanceledException",
                "Transaction cancelled",
            ))
            .set_cancellation_reasons(Some(reasons))
            .build(),
    )
}

/// The `:last` value of the counter condition of a registration transaction ("" when the
/// counter was expected to be absent).
fn counter_condition(
    input: &aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput,
) -> String {
    input
        .transact_items()
        .first()
        .and_then(|i| i.put())
        .and_then(|p| p.expression_attribute_values())
        .and_then(|v| v.get(":last"))
        .and_then(|v| v.as_n().ok())
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn given_no_counter_when_registering_then_version_1_is_written_in_one_transaction() {
    let read = mock!(Client::get_item)
        .match_requests(|r| {
            r.key().and_then(|k| k.get("sk")) == Some(&AttributeValue::S("COUNTER".into()))
        })
        .then_output(|| GetItemOutput::builder().build());
    let write = mock!(Client::transact_write_items)
        .match_requests(|r| {
            let items = r.transact_items();
            let puts: Vec<_> = items.iter().filter_map(|i| i.put()).collect();
            puts.len() == 3
                && puts[0].condition_expression() == Some("attribute_not_exists(#pk)")
                && puts[1].item().get("sk") == Some(&AttributeValue::S("V#0000000001".into()))
                && puts[1].condition_expression() == Some("attribute_not_exists(#pk)")
                && puts[2].item().get("sk")
                    == Some(&AttributeValue::S(format!(
                        "X#{}",
                        sample("churn").execution_arn
                    )))
        })
        .then_output(|| TransactWriteItemsOutput::builder().build());
    let reg = registry(mocked_client!(aws_sdk_dynamodb, [&read, &write]));

    let registration = reg.register(sample("churn")).await.unwrap();

    assert!(registration.created);
    assert_eq!(registration.version.version, 1);
    assert_eq!(registration.version.status, VersionStatus::Registered);
    assert_eq!(registration.version.record, sample("churn"));
    assert_eq!(write.num_calls(), 1);
}

#[tokio::test]
async fn given_a_lost_counter_race_when_registering_then_it_rereads_and_retries() {
    let read = mock!(Client::get_item)
        .sequence()
        .output(|| counter_output(3))
        .output(|| counter_output(4))
        .build();
    let lose = mock!(Client::transact_write_items)
        .match_requests(|r| counter_condition(r) == "3")
        .sequence()
        .error(|| {
            cancelled(vec![
                reason("ConditionalCheckFailed"),
                reason("None"),
                reason("None"),
            ])
        })
        .build();
    let win = mock!(Client::transact_write_items)
        .match_requests(|r| counter_condition(r) == "4")
        .then_output(|| TransactWriteItemsOutput::builder().build());
    let reg = registry(mocked_client!(aws_sdk_dynamodb, [&read, &lose, &win]));

    let registration = reg.register(sample("churn")).await.unwrap();

    assert!(registration.created);
    assert_eq!(registration.version.version, 5);
    assert_eq!(
        (read.num_calls(), lose.num_calls(), win.num_calls()),
        (2, 1, 1)
    );
}

#[tokio::test]
async fn given_a_transaction_conflict_when_registering_then_it_retries() {
    let read = mock!(Client::get_item).then_output(|| counter_output(1));
    let write = mock!(Client::transact_write_items)
        .sequence()
        .error(|| {
            cancelled(vec![
                reason("None"),
                reason("TransactionConflict"),
                reason("None"),
            ])
        })
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let reg = registry(mocked_client!(aws_sdk_dynamodb, [&read, &write]));

    let registration = reg.register(sample("churn")).await.unwrap();

    assert_eq!(registration.version.version, 2);
    assert_eq!(write.num_calls(), 2);
}

#[tokio::test]
async fn given_endless_races_when_registering_then_it_gives_up_with_conflict_after_the_bound() {
    let read = mock!(Client::get_item).then_output(|| counter_output(1));
    let write = mock!(Client::transact_write_items)
        .sequence()
        .error(|| {
            cancelled(vec![
                reason("ConditionalCheckFailed"),
                reason("None"),
                reason("None"),
            ])
        })
        .repeatedly()
        .build();
    let reg = registry(mocked_client!(aws_sdk_dynamodb, [&read, &write])).with_max_attempts(3);

    let err = reg.register(sample("churn")).await.unwrap_err();

    assert!(
        matches!(&err, PortError::Conflict { message } if message.contains("3 races")),
        "{err}"
    );
    assert_eq!(write.num_calls(), 3);
}

#[tokio::test]
async fn given_the_execution_registered_already_when_registering_then_the_existing_version_is_returned()
 {
    let read_counter = mock!(Client::get_item)
        .match_requests(|r| {
            r.key().and_then(|k| k.get("sk")) == Some(&AttributeValue::S("COUNTER".into()))
        })
        .then_output(|| counter_output(9));
    let read_version = mock!(Client::get_item)
        .match_requests(|r| {
            r.key().and_then(|k| k.get("sk")) == Some(&AttributeValue::S("V#0000000007".into()))
        })
        .then_output(|| version_output(7));
    let write = mock!(Client::transact_write_items).then_error(|| {
        let marker = items::marker_item(&sample("churn"), 7);
        cancelled(vec![
            reason("None"),
            reason("None"),
            CancellationReason::builder()
                .code("ConditionalCheckFailed")
                .set_item(Some(marker))
                .build(),
        ])
    });
    let reg = registry(mocked_client!(
        aws_sdk_dynamodb,
        [&read_counter, &read_version, &write]
    ));

    let registration = reg.register(sample("churn")).await.unwrap();

    assert!(!registration.created);
    assert_eq!(registration.version.version, 7);
    assert_eq!(registration.version.record, sample("churn"));
    assert_eq!(write.num_calls(), 1, "no retry once the marker exists");
}

#[tokio::test]
async fn given_a_cancellation_without_reasons_when_the_marker_exists_then_the_existing_version_is_returned()
 {
    let marker_sk = format!("X#{}", sample("churn").execution_arn);
    let read_counter = mock!(Client::get_item)
        .match_requests(|r| {
            r.key().and_then(|k| k.get("sk")) == Some(&AttributeValue::S("COUNTER".into()))
        })
        .then_output(|| counter_output(2));
    let read_marker = mock!(Client::get_item)
        .match_requests(move |r| {
            r.key().and_then(|k| k.get("sk")) == Some(&AttributeValue::S(marker_sk.clone()))
        })
        .then_output(|| {
            GetItemOutput::builder()
                .set_item(Some(items::marker_item(&sample("churn"), 2)))
                .build()
        });
    let read_version = mock!(Client::get_item).then_output(|| version_output(2));
    let write = mock!(Client::transact_write_items).then_error(|| cancelled(vec![]));
    let reg = registry(mocked_client!(
        aws_sdk_dynamodb,
        [&read_counter, &read_marker, &read_version, &write]
    ));

    let registration = reg.register(sample("churn")).await.unwrap();

    assert!(!registration.created);
    assert_eq!(registration.version.version, 2);
}

#[tokio::test]
async fn given_a_version_item_ahead_of_the_counter_when_registering_then_corrupt() {
    let read = mock!(Client::get_item).then_output(|| counter_output(4));
    let write = mock!(Client::transact_write_items).then_error(|| {
        cancelled(vec![
            reason("None"),
            reason("ConditionalCheckFailed"),
            reason("None"),
        ])
    });
    let reg = registry(mocked_client!(aws_sdk_dynamodb, [&read, &write]));

    let err = reg.register(sample("churn")).await.unwrap_err();

    assert!(
        matches!(&err, PortError::Corrupt { message } if message.contains("V#0000000005")),
        "{err}"
    );
}

#[tokio::test]
async fn given_throttled_cancellation_or_5xx_when_registering_then_unavailable() {
    let read = mock!(Client::get_item).then_output(|| counter_output(1));
    let write = mock!(Client::transact_write_items)
        .sequence()
        .error(|| {
            cancelled(vec![
                reason("ThrottlingError"),
                reason("None"),
                reason("None"),
            ])
        })
        .http_status(500, None)
        .build();
    let reg = registry(mocked_client!(aws_sdk_dynamodb, [&read, &write]));

    let first = reg.register(sample("churn")).await.unwrap_err();
    let second = reg.register(sample("churn")).await.unwrap_err();

    assert!(matches!(first, PortError::Unavailable { .. }), "{first}");
    assert!(matches!(second, PortError::Unavailable { .. }), "{second}");
}

#[tokio::test]
async fn given_a_corrupt_counter_when_registering_then_corrupt_names_the_attribute() {
    let read = mock!(Client::get_item).then_output(|| {
        let mut item = items::counter_item("churn", 1);
        item.insert("lastVersion".into(), AttributeValue::S("one".into()));
        GetItemOutput::builder().set_item(Some(item)).build()
    });
    let reg = registry(mocked_client!(aws_sdk_dynamodb, [&read]));

    let err = reg.register(sample("churn")).await.unwrap_err();

    assert!(
        matches!(&err, PortError::Corrupt { message } if message.contains("lastVersion") && message.contains("COUNTER")),
        "{err}"
    );
}

#[tokio::test]
async fn given_empty_keys_when_registering_then_rejected_without_any_call() {
    let reg = registry(mocked_client!(
        aws_sdk_dynamodb,
        Vec::<&aws_smithy_mocks::Rule>::new()
    ));
    let mut new = sample("churn");
    new.execution_arn.clear();
    let err = reg.register(new).await.unwrap_err();
    assert!(matches!(&err, PortError::Rejected { message } if message.contains("executionArn")));
}

#[tokio::test]
async fn given_sdk_errors_when_reading_then_each_maps_to_its_port_error() {
    let rule = mock!(Client::get_item)
        .sequence()
        .error(|| {
            GetItemError::ProvisionedThroughputExceededException(
                ProvisionedThroughputExceededException::builder()
                    .message("slow down")
                    .meta(meta("ProvisionedThroughputExceededException", "slow down"))
                    .build(),
            )
        })
        .http_status(503, None)
        .error(|| {
            GetItemError::ResourceNotFoundException(
                ResourceNotFoundException::builder()
                    .message("no table")
                    .meta(meta("ResourceNotFoundException", "no table"))
                    .build(),
            )
        })
        .error(|| {
            GetItemError::generic(
                ErrorMetadata::builder()
                    .code("ValidationException")
                    .message("bad key")
                    .build(),
            )
        })
        .error(|| {
            GetItemError::generic(
                ErrorMetadata::builder()
                    .code("ThrottlingException")
                    .message("rate")
                    .build(),
            )
        })
        .build();
    let reg = registry(mocked_client!(aws_sdk_dynamodb, [&rule]));

    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(reg.get_version("churn", 1).await.unwrap_err());
    }

    assert!(
        matches!(&got[0], PortError::Unavailable { message } if message.contains("GetItem on table registry")),
        "{:?}",
        got[0]
    );
    assert!(
        matches!(got[1], PortError::Unavailable { .. }),
        "{:?}",
        got[1]
    );
    assert!(matches!(got[2], PortError::NotFound { .. }), "{:?}", got[2]);
    assert!(
        matches!(&got[3], PortError::Rejected { message } if message.contains("ValidationException: bad key")),
        "{:?}",
        got[3]
    );
    assert!(
        matches!(got[4], PortError::Unavailable { .. }),
        "{:?}",
        got[4]
    );
}

#[tokio::test]
async fn given_two_pages_when_listing_versions_then_both_are_read_in_order() {
    let page_key = items::key("churn", "V#0000000002".into());
    let first_key = page_key.clone();
    let first = mock!(Client::query)
        .match_requests(|r| {
            r.exclusive_start_key().is_none()
                && r.scan_index_forward() == Some(true)
                && r.consistent_read() == Some(true)
        })
        .then_output(move || {
            QueryOutput::builder()
                .items(items::version_item(&sample("churn"), 1, VersionStatus::Registered).unwrap())
                .items(items::version_item(&sample("churn"), 2, VersionStatus::Approved).unwrap())
                .set_last_evaluated_key(Some(first_key.clone()))
                .build()
        });
    let second = mock!(Client::query)
        .match_requests(move |r| r.exclusive_start_key() == Some(&page_key))
        .then_output(|| {
            QueryOutput::builder()
                .items(items::version_item(&sample("churn"), 3, VersionStatus::Retired).unwrap())
                .build()
        });
    let reg = registry(mocked_client!(aws_sdk_dynamodb, [&first, &second]));

    let versions = reg.list_versions("churn").await.unwrap();

    let got: Vec<_> = versions.iter().map(|v| (v.version, v.status)).collect();
    assert_eq!(
        got,
        vec![
            (1, VersionStatus::Registered),
            (2, VersionStatus::Approved),
            (3, VersionStatus::Retired)
        ]
    );
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

#[tokio::test]
async fn given_a_filtered_empty_first_page_when_asking_latest_then_it_pages_on_and_stops_at_the_first_match()
 {
    let page_key = items::key("churn", "V#0000000009".into());
    let key_for_page = page_key.clone();
    let first = mock!(Client::query)
        .match_requests(|r| {
            r.exclusive_start_key().is_none()
                && r.scan_index_forward() == Some(false)
                && r.consistent_read() == Some(true)
                && r.filter_expression() == Some("#status IN (:s0, :s1)")
        })
        .then_output(move || {
            QueryOutput::builder()
                .set_items(Some(vec![]))
                .set_last_evaluated_key(Some(key_for_page.clone()))
                .build()
        });
    let second = mock!(Client::query)
        .match_requests(move |r| r.exclusive_start_key() == Some(&page_key))
        .then_output(|| {
            QueryOutput::builder()
                .items(items::version_item(&sample("churn"), 8, VersionStatus::Approved).unwrap())
                .items(items::version_item(&sample("churn"), 6, VersionStatus::Registered).unwrap())
                .set_last_evaluated_key(Some(items::key("churn", "V#0000000006".into())))
                .build()
        });
    let reg = registry(mocked_client!(aws_sdk_dynamodb, [&first, &second]));

    let latest = reg
        .latest_version("churn", &VersionStatus::SERVABLE)
        .await
        .unwrap()
        .unwrap();

    assert_eq!(latest.version, 8);
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

#[tokio::test]
async fn given_no_statuses_when_asking_latest_then_none_without_any_call() {
    let reg = registry(mocked_client!(
        aws_sdk_dynamodb,
        Vec::<&aws_smithy_mocks::Rule>::new()
    ));
    assert_eq!(reg.latest_version("churn", &[]).await.unwrap(), None);
}

#[tokio::test]
async fn given_an_empty_key_when_writing_then_rejected_without_any_call() {
    let reg = registry(mocked_client!(
        aws_sdk_dynamodb,
        Vec::<&aws_smithy_mocks::Rule>::new()
    ));
    let mut new = sample("churn");
    new.model_name.clear();
    let err = reg.register(new).await.unwrap_err();
    assert!(err.to_string().contains("non-empty modelName"), "{err}");
    let mut record =
        mdlc_core::contract::sample_evaluation("churn", 1, "2024-06-02T00:00:00.000Z", "e1");
    record.model_name.clear();
    let err = reg.put_evaluation(record).await.unwrap_err();
    assert!(matches!(err, PortError::Rejected { .. }), "{err:?}");
}

#[tokio::test]
async fn given_since_when_listing_evaluations_then_the_key_condition_bounds_the_range() {
    let rule = mock!(Client::query)
        .match_requests(|r| {
            let values: HashMap<String, AttributeValue> =
                r.expression_attribute_values().cloned().unwrap_or_default();
            r.key_condition_expression() == Some("#pk = :pk AND #sk BETWEEN :lo AND :hi")
                && values.get(":lo") == Some(&AttributeValue::S("E#2024-02-01T00:00:00Z".into()))
                && values.get(":hi") == Some(&AttributeValue::S("E$".into()))
        })
        .then_output(|| QueryOutput::builder().set_items(Some(vec![])).build());
    let reg = registry(mocked_client!(aws_sdk_dynamodb, [&rule]));

    let got = reg
        .list_evaluations("churn", Some("2024-02-01T00:00:00Z"))
        .await
        .unwrap();

    assert!(got.is_empty());
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn given_a_missing_version_when_setting_status_then_not_found() {
    let rule = mock!(Client::update_item)
        .match_requests(|r| r.condition_expression() == Some("attribute_exists(#pk)"))
        .then_error(|| {
            UpdateItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder()
                    .message("failed")
                    .meta(meta("ConditionalCheckFailedException", "failed"))
                    .build(),
            )
        });
    let reg = registry(mocked_client!(aws_sdk_dynamodb, [&rule]));

    let err = reg
        .set_status("churn", 42, VersionStatus::Approved)
        .await
        .unwrap_err();

    assert!(
        matches!(&err, PortError::NotFound { what } if what.contains("42")),
        "{err}"
    );
}
