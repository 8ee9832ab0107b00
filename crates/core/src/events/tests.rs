use std::sync::Arc;

use serde_json::json;

use super::publishing::PublishingRegistry;
use super::*;
use crate::contract::{kinds_and_versions, sample_version};
use crate::error::PortError;
use crate::memory::{InMemoryEvents, InMemoryRegistry};
use crate::ports::{EventPublisher, RegistryRead, RegistryWrite};
use crate::registry::{ModelVersion, NewVersion};
use crate::registry_ops::{self, Operation, OperationError};

fn version(n: u64, status: VersionStatus) -> ModelVersion {
    let mut record: NewVersion = sample_version("churn", &format!("e{n}"));
    record.parent_version = None;
    ModelVersion {
        version: n,
        status,
        record,
    }
}

fn op(version: u64, action: Action) -> Operation {
    Operation {
        model_name: "churn".into(),
        version,
        action,
        reason: "checked by hand".into(),
        at: "2024-06-02T08:00:00.000Z".into(),
        expected_revision: None,
    }
}

fn event_of_size(detail_type: &str, size: usize) -> Event {
    let mut e = Event {
        source: PIPELINE_SOURCE.into(),
        detail_type: detail_type.into(),
        time: "2024-06-01T12:00:00Z".into(),
        resources: vec![],
        detail: json!({"p": ""}),
    };
    let pad = size - entry_size(&e);
    e.detail = json!({ "p": "x".repeat(pad) });
    assert_eq!(entry_size(&e), size);
    e
}

fn evaluation(decision: Decision) -> EvaluationCompleted {
    EvaluationCompleted {
        model_name: "churn".into(),
        version: 2,
        execution_arn: "arn:aws:states:us-east-1:0:execution:evaluation:e9".into(),
        evaluated_at: "2024-06-03T00:00:00.000Z".into(),
        data_date: "2024-06-03".into(),
        metrics: BTreeMap::from([("rmse".to_string(), 1.25)]),
        decision,
        retrain: decision == Decision::Retrain,
        reason: "rmse 1.25 over threshold 1.0".into(),
    }
}

#[test]
fn every_detail_type_round_trips_and_has_a_custom_source() {
    for kind in DetailType::ALL {
        assert_eq!(DetailType::parse(kind.as_str()), Some(kind));
        assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.as_str()));
        assert!(!kind.source().starts_with("aws."), "{kind}");
        assert!(kind.as_str().len() <= MAX_DETAIL_TYPE_CHARS);
    }
    assert_eq!(DetailType::parse("Model Version Deleted"), None);
    assert_eq!(DetailType::VersionApproved.source(), "mdlc.registry");
    assert_eq!(DetailType::PipelineFailed.source(), "mdlc.pipeline");
}

#[test]
fn a_registration_event_carries_the_version_its_status_and_execution() {
    let mut v = version(3, VersionStatus::PendingApproval);
    v.record.parent_version = Some(2);
    let e = version_registered(&v);
    assert_eq!(e.source, "mdlc.registry");
    assert_eq!(e.detail_type, "Model Version Registered");
    assert_eq!(e.time, v.record.created_at);
    assert_eq!(e.resources, vec![v.record.execution_arn.clone()]);
    assert_eq!(e.detail["modelName"], "churn");
    assert_eq!(e.detail["version"], 3);
    assert_eq!(e.detail["status"], "PendingApproval");
    assert_eq!(e.detail["parentVersion"], 2);
    assert_eq!(e.detail["objectiveValue"], 0.125);
    let back: VersionRegistered = serde_json::from_value(e.detail).unwrap();
    assert_eq!(back.model_data_url, v.record.model_data_url);
}

#[test]
fn each_operation_change_is_published_as_its_kind() {
    let cases = [
        (
            VersionStatus::Registered,
            Action::Approve,
            "Model Version Approved",
        ),
        (
            VersionStatus::Approved,
            Action::Reject,
            "Model Version Rejected",
        ),
        (
            VersionStatus::Rejected,
            Action::Retire,
            "Model Version Retired",
        ),
    ];
    for (status, action, detail_type) in cases {
        let changes = registry_ops::plan(&op(1, action), "ops", 4, &[version(1, status)]).unwrap();
        let e = version_changed(&changes[0]);
        assert_eq!(
            (e.source.as_str(), e.detail_type.as_str()),
            ("mdlc.registry", detail_type)
        );
        assert_eq!(e.time, "2024-06-02T08:00:00.000Z");
        assert_eq!(e.detail, serde_json::to_value(&changes[0]).unwrap());
        assert_eq!(e.detail["revision"], 5);
        assert_eq!(e.detail["actor"], "ops");
    }
}

#[test]
fn a_rollback_publishes_rolled_back_for_its_target_then_retired_for_each_later_version() {
    let versions = [
        version(1, VersionStatus::Approved),
        version(2, VersionStatus::Rejected),
        version(3, VersionStatus::Approved),
        version(4, VersionStatus::PendingApproval),
    ];
    let changes = registry_ops::plan(&op(1, Action::RollBack), "ops", 0, &versions).unwrap();
    let events = publishing::operation_events(&changes);
    let kinds = kinds_and_versions(&events, |e| (&e.detail_type, &e.detail));
    assert_eq!(
        kinds,
        [
            ("Model Version Rolled Back", 1),
            ("Model Version Retired", 3),
            ("Model Version Retired", 4)
        ]
    );
    assert!(events.iter().all(|e| e.detail["rolledBackTo"] == 1));
}

#[test]
fn entry_size_counts_as_eventbridge_does() {
    let e = Event {
        source: "mdlc.registry".into(),
        detail_type: "Évaluation".into(),
        time: "2024-06-01T12:00:00Z".into(),
        resources: vec!["arn:a".into(), "arn:bc".into()],
        detail: json!({"k": "é"}),
    };
    // 14 (Time) + 13 + 11 (É is two bytes) + 10 ({"k":"é"}) + 5 + 6
    assert_eq!(entry_size(&e), 14 + 13 + 11 + 10 + 5 + 6);
}

#[test]
fn check_entry_refuses_what_put_events_refuses_and_names_the_field() {
    let ok = event_of_size("Evaluation Completed", 100);
    assert_eq!(check_entry(0, &ok), Ok(100));
    let field = |e: &Event| match check_entry(2, e) {
        Err(EventError::InvalidEntry { index, field, .. }) => {
            assert_eq!(index, 2);
            field
        }
        other => panic!("{other:?}"),
    };
    let mut e = ok.clone();
    e.source = "aws.states".into();
    assert_eq!(field(&e), "Source");
    e.source = String::new();
    assert_eq!(field(&e), "Source");
    let mut e = ok.clone();
    e.detail_type = "x".repeat(MAX_DETAIL_TYPE_CHARS + 1);
    assert_eq!(field(&e), "DetailType");
    e.detail_type = "é".repeat(MAX_DETAIL_TYPE_CHARS);
    assert!(check_entry(0, &e).is_ok(), "128 characters are allowed");
    let mut e = ok.clone();
    e.detail = json!([1]);
    assert_eq!(field(&e), "Detail");
    let mut e = ok.clone();
    e.time = "yesterday".into();
    assert_eq!(field(&e), "Time");
}

#[test]
fn an_entry_of_256_kib_passes_and_one_byte_more_is_too_large() {
    let at_limit = event_of_size("Pipeline Failed", MAX_ENTRY_BYTES);
    assert_eq!(check_entry(0, &at_limit), Ok(MAX_ENTRY_BYTES));
    let over = event_of_size("Pipeline Failed", MAX_ENTRY_BYTES + 1);
    let e = check_entry(5, &over).unwrap_err();
    assert_eq!(
        e,
        EventError::TooLarge {
            index: 5,
            detail_type: "Pipeline Failed".into(),
            size: MAX_ENTRY_BYTES + 1
        }
    );
    assert!(e.to_string().contains("event 5 (Pipeline Failed)"), "{e}");
    let port: PortError = e.into();
    assert!(matches!(port, PortError::Rejected { .. }));
}

#[test]
fn batches_hold_at_most_10_entries_and_256_kib() {
    let small: Vec<Event> = (0..23)
        .map(|_| event_of_size("Retraining Started", 200))
        .collect();
    let sizes: Vec<usize> = batches(&small).unwrap().iter().map(|b| b.len()).collect();
    assert_eq!(sizes, [10, 10, 3]);
    let big: Vec<Event> = (0..5)
        .map(|_| event_of_size("Retraining Started", MAX_ENTRY_BYTES / 2))
        .collect();
    let sizes: Vec<usize> = batches(&big).unwrap().iter().map(|b| b.len()).collect();
    assert_eq!(sizes, [2, 2, 1]);
    let mut mixed = big[..1].to_vec();
    mixed.push(event_of_size("Retraining Started", MAX_ENTRY_BYTES / 2 + 1));
    let sizes: Vec<usize> = batches(&mixed).unwrap().iter().map(|b| b.len()).collect();
    assert_eq!(sizes, [1, 1], "257 KiB in all does not fit one call");
    assert!(batches(&[]).unwrap().is_empty());
    let mut bad = small.clone();
    bad[12].source = "aws.sagemaker".into();
    assert!(matches!(
        batches(&bad),
        Err(EventError::InvalidEntry { index: 12, .. })
    ));
}

fn validators() -> BTreeMap<DetailType, jsonschema::Validator> {
    documented_schemas(EVENTS_DOC)
        .unwrap()
        .into_iter()
        .map(|(k, s)| {
            let v = jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&s)
                .unwrap_or_else(|e| panic!("{k}: {e}"));
            (k, v)
        })
        .collect()
}

fn assert_valid(validators: &BTreeMap<DetailType, jsonschema::Validator>, e: &Event) {
    let kind = e.kind().unwrap();
    assert_eq!(e.source, kind.source());
    let errors: Vec<String> = validators[&kind]
        .iter_errors(&e.detail)
        .map(|err| format!("{}: {err}", err.instance_path))
        .collect();
    assert!(errors.is_empty(), "{kind}: {errors:?}\n{}", e.detail);
}

#[test]
fn every_event_built_validates_against_its_documented_schema() {
    let v = validators();
    let mut events = vec![
        version_registered(&version(1, VersionStatus::Registered)),
        version_registered(&{
            let mut p = version(2, VersionStatus::PendingApproval);
            p.record.parent_version = Some(1);
            p.record.objective_metric = None;
            p.record.objective_value = None;
            p
        }),
    ];
    for (status, action) in [
        (VersionStatus::PendingApproval, Action::Approve),
        (VersionStatus::Registered, Action::Reject),
        (VersionStatus::Approved, Action::Retire),
    ] {
        let changes = registry_ops::plan(&op(1, action), "ops", 0, &[version(1, status)]).unwrap();
        events.extend(publishing::operation_events(&changes));
    }
    let rollback = [
        version(1, VersionStatus::Registered),
        version(2, VersionStatus::Approved),
    ];
    let changes = registry_ops::plan(&op(1, Action::RollBack), "ops", 0, &rollback).unwrap();
    events.extend(publishing::operation_events(&changes));
    for d in [
        Decision::Retrain,
        Decision::Keep,
        Decision::Cooldown,
        Decision::LimitReached,
    ] {
        events.push(evaluation_completed(
            &evaluation(d),
            "2024-06-03T00:00:01.000Z",
        ));
    }
    events.push(retraining_started(
        &RetrainingStarted {
            model_name: "churn".into(),
            version: 2,
            execution_arn: "arn:aws:states:us-east-1:0:execution:evaluation:e9".into(),
            training_execution_name: "e9-retrain".into(),
            reason: "degraded".into(),
        },
        "2024-06-03T00:00:01.000Z",
    ));
    let failed = PipelineFailed {
        flow: "training".into(),
        execution_arn: "arn:aws:states:us-east-1:0:execution:training:t1".into(),
        execution_name: "t1".into(),
        state_machine_arn: "arn:aws:states:us-east-1:0:stateMachine:training".into(),
        error: "States.TaskFailed".into(),
        cause: "boom".into(),
    };
    events.push(Event::new(
        DetailType::PipelineFailed,
        "2024-06-03T00:00:01Z",
        vec![],
        serde_json::to_value(&failed).unwrap(),
    ));
    let kinds: std::collections::BTreeSet<DetailType> =
        events.iter().filter_map(Event::kind).collect();
    assert_eq!(kinds.len(), DetailType::ALL.len(), "every kind is built");
    for e in &events {
        assert_valid(&v, e);
        check_entry(0, e).unwrap();
    }
}

#[test]
fn the_schemas_refuse_details_that_break_them() {
    let v = validators();
    let mut wrong = evaluation(Decision::Keep);
    wrong.retrain = true;
    let e = evaluation_completed(&wrong, "2024-06-03T00:00:01Z");
    assert!(!v[&DetailType::EvaluationCompleted].is_valid(&e.detail));
    let mut e = version_registered(&version(1, VersionStatus::Registered));
    e.detail["status"] = json!("Approved");
    assert!(!v[&DetailType::VersionRegistered].is_valid(&e.detail));
    e.detail["status"] = json!("Registered");
    e.detail["extra"] = json!(1);
    assert!(!v[&DetailType::VersionRegistered].is_valid(&e.detail));
    let changes = registry_ops::plan(
        &op(1, Action::Retire),
        "ops",
        0,
        &[version(1, VersionStatus::Approved)],
    )
    .unwrap();
    let mut e = version_changed(&changes[0]);
    assert!(v[&DetailType::VersionRetired].is_valid(&e.detail));
    e.detail["rolledBackTo"] = json!(1);
    assert!(
        !v[&DetailType::VersionRetired].is_valid(&e.detail),
        "a plain retirement names no rollback"
    );
}

#[test]
fn documented_schemas_name_a_missing_or_unknown_section() {
    let without = EVENTS_DOC.replace("### Retraining Started", "### Retraining Begun");
    assert_eq!(
        documented_schemas(&without).unwrap_err(),
        "heading \"Retraining Begun\" is not a detail-type"
    );
    let (head, _) = EVENTS_DOC.split_once("### Pipeline Failed").unwrap();
    assert_eq!(
        documented_schemas(head).unwrap_err(),
        "Pipeline Failed: no schema"
    );
    assert!(documented_schemas("# nothing").is_err());
}

async fn publishing_registry() -> (
    Arc<InMemoryRegistry>,
    Arc<InMemoryEvents>,
    PublishingRegistry,
) {
    let registry = Arc::new(InMemoryRegistry::new().with_actor("arn:aws:iam::0:user/ops"));
    let events = Arc::new(InMemoryEvents::new());
    let publishing = PublishingRegistry::new(registry.clone(), events.clone());
    (registry, events, publishing)
}

#[tokio::test]
async fn a_registration_through_the_publishing_registry_publishes_it_each_time_it_succeeds() {
    let (_, events, registry) = publishing_registry().await;
    let r = registry
        .register_as(
            sample_version("churn", "e1"),
            VersionStatus::PendingApproval,
        )
        .await
        .unwrap();
    assert!(r.created);
    assert_eq!(events.detail_types(), ["Model Version Registered"]);
    assert_eq!(events.published()[0].detail["status"], "PendingApproval");
    // The same execution again (a Step Functions retry): the same version, published again.
    let again = registry
        .register_as(
            sample_version("churn", "e1"),
            VersionStatus::PendingApproval,
        )
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(events.published().len(), 2);
    assert_eq!(events.published()[0], events.published()[1]);
}

#[tokio::test]
async fn an_operation_publishes_its_change_and_a_refused_one_publishes_nothing() {
    let (inner, events, registry) = publishing_registry().await;
    registry
        .register(sample_version("churn", "e1"))
        .await
        .unwrap();
    let changes = registry.operate(op(1, Action::Approve)).await.unwrap();
    assert_eq!(
        events.detail_types(),
        ["Model Version Registered", "Model Version Approved"]
    );
    assert_eq!(
        events.published()[1].detail,
        serde_json::to_value(&changes[0]).unwrap()
    );
    assert_eq!(
        events.published()[1].detail["actor"],
        "arn:aws:iam::0:user/ops"
    );
    let refused = registry.operate(op(1, Action::Approve)).await.unwrap_err();
    assert_eq!(refused.name(), "InvalidTransition");
    assert_eq!(events.published().len(), 2);
    assert_eq!(inner.revision("churn").await.unwrap(), 1);
}

#[tokio::test]
async fn an_applied_operation_whose_events_fail_says_it_was_applied() {
    let (inner, events, registry) = publishing_registry().await;
    registry
        .register(sample_version("churn", "e1"))
        .await
        .unwrap();
    events.fail_next(PortError::Unavailable {
        message: "1 of 1 entries failed: InternalFailure".into(),
    });
    let e = registry.operate(op(1, Action::Retire)).await.unwrap_err();
    let OperationError::Port(PortError::Unavailable { message }) = &e else {
        panic!("{e:?}");
    };
    assert!(
        message.contains("Retire of version 1 of model \"churn\" was applied (revision 1)")
            && message.contains("InternalFailure"),
        "{message}"
    );
    let v = inner.get_version("churn", 1).await.unwrap().unwrap();
    assert_eq!(v.status, VersionStatus::Retired);
    assert_eq!(events.detail_types(), ["Model Version Registered"]);
}

#[tokio::test]
async fn a_registration_whose_event_fails_is_unavailable_and_a_retry_publishes_it() {
    let (_, events, registry) = publishing_registry().await;
    events.fail_next(PortError::Unavailable {
        message: "throttled".into(),
    });
    let e = registry
        .register(sample_version("churn", "e1"))
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(
        e.to_string().contains(
            "version 1 of model \"churn\" is registered, but its event was not published"
        ),
        "{e}"
    );
    assert!(events.published().is_empty());
    registry
        .register(sample_version("churn", "e1"))
        .await
        .unwrap();
    assert_eq!(events.detail_types(), ["Model Version Registered"]);
}

#[tokio::test]
async fn the_in_memory_bus_refuses_a_publication_with_an_invalid_entry_whole() {
    let events = InMemoryEvents::new();
    let good = event_of_size("Retraining Started", 300);
    let mut bad = good.clone();
    bad.source = "aws.events".into();
    let e = events.publish(&[good.clone(), bad]).await.unwrap_err();
    assert!(
        matches!(&e, PortError::Rejected { message } if message.contains("event 1: Source")),
        "{e}"
    );
    assert!(events.published().is_empty());
    events.publish(&[good]).await.unwrap();
    assert_eq!(events.published().len(), 1);
}
