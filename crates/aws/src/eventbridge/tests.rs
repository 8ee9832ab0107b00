use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::ErrorMetadata;
use aws_sdk_eventbridge::operation::put_events::{PutEventsError, PutEventsOutput};
use aws_smithy_mocks::mock;
use mdlc_core::events::{DetailType, MAX_ENTRY_BYTES};
use serde_json::json;

use super::*;
use crate::test_support::mocked_client;

/// Event `n` (its number in the detail), a `Retraining Started` of about `size` bytes.
fn event(n: u64) -> Event {
    Event::new(
        DetailType::RetrainingStarted,
        "2024-06-01T12:00:00.250Z",
        vec!["arn:aws:states:us-east-1:0:execution:evaluation:e1".into()],
        json!({"n": n}),
    )
}

/// What each call sent: the `n` of every entry.
type Calls = Arc<Mutex<Vec<Vec<u64>>>>;

/// A PutEvents mock: entry `n` fails (`InternalFailure`) as many times as `failures[n]` says,
/// then succeeds; every call is recorded.
fn bus(failures: BTreeMap<u64, u32>) -> (Client, Calls, aws_smithy_mocks::Rule) {
    let calls: Calls = Arc::default();
    let failures = Arc::new(Mutex::new(failures));
    let recorded = calls.clone();
    let rule = mock!(Client::put_events).then_compute_output(move |input| {
        let mut failures = failures.lock().unwrap();
        let mut sent = Vec::new();
        let mut results = Vec::new();
        let mut failed = 0;
        for entry in input.entries() {
            let detail: serde_json::Value =
                serde_json::from_str(entry.detail().unwrap_or("{}")).unwrap();
            let n = detail["n"].as_u64().unwrap_or(u64::MAX);
            sent.push(n);
            let left = failures.entry(n).or_default();
            if *left > 0 {
                *left -= 1;
                failed += 1;
                results.push(
                    PutEventsResultEntry::builder()
                        .error_code("InternalFailure")
                        .error_message("try again")
                        .build(),
                );
            } else {
                results.push(
                    PutEventsResultEntry::builder()
                        .event_id(format!("id-{n}"))
                        .build(),
                );
            }
        }
        recorded.lock().unwrap().push(sent);
        PutEventsOutput::builder()
            .failed_entry_count(failed)
            .set_entries(Some(results))
            .build()
    });
    let client = mocked_client!(aws_sdk_eventbridge, [&rule]);
    (client, calls, rule)
}

#[tokio::test]
async fn an_event_is_sent_on_the_bus_with_its_source_type_detail_time_and_resources() {
    let seen = Arc::new(Mutex::new(None));
    let keep = seen.clone();
    let rule = mock!(Client::put_events).then_compute_output(move |input| {
        *keep.lock().unwrap() = Some(input.entries()[0].clone());
        PutEventsOutput::builder()
            .failed_entry_count(0)
            .entries(PutEventsResultEntry::builder().event_id("id-1").build())
            .build()
    });
    let publisher = EventBridgePublisher::new(mocked_client!(aws_sdk_eventbridge, [&rule]), "mdlc");
    publisher.publish(&[event(7)]).await.unwrap();
    let entry = seen.lock().unwrap().clone().unwrap();
    assert_eq!(entry.event_bus_name(), Some("mdlc"));
    assert_eq!(entry.source(), Some("mdlc.pipeline"));
    assert_eq!(entry.detail_type(), Some("Retraining Started"));
    assert_eq!(entry.detail(), Some(r#"{"n":7}"#));
    assert_eq!(
        entry.resources(),
        ["arn:aws:states:us-east-1:0:execution:evaluation:e1"]
    );
    assert_eq!(
        entry.time().unwrap().to_millis().unwrap(),
        1_717_243_200_250
    );
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn twenty_three_events_go_in_calls_of_at_most_ten() {
    let (client, calls, _rule) = bus(BTreeMap::new());
    let events: Vec<Event> = (0..23).map(event).collect();
    EventBridgePublisher::new(client, "default")
        .publish(&events)
        .await
        .unwrap();
    let sizes: Vec<usize> = calls.lock().unwrap().iter().map(Vec::len).collect();
    assert_eq!(sizes, [10, 10, 3]);
    let all: Vec<u64> = calls.lock().unwrap().concat();
    assert_eq!(all, (0..23).collect::<Vec<_>>(), "in order, each once");
}

#[tokio::test]
async fn a_partially_failed_call_resends_only_the_failed_entries() {
    let (client, calls, _rule) = bus(BTreeMap::from([(1, 1), (2, 2)]));
    EventBridgePublisher::new(client, "default")
        .publish(&[event(0), event(1), event(2), event(3)])
        .await
        .unwrap();
    assert_eq!(
        *calls.lock().unwrap(),
        vec![vec![0, 1, 2, 3], vec![1, 2], vec![2]]
    );
}

#[tokio::test]
async fn entries_still_failing_after_the_attempts_are_reported_with_their_codes() {
    let (client, calls, _rule) = bus(BTreeMap::from([(1, 99)]));
    let e = EventBridgePublisher::new(client, "ops-bus")
        .with_max_attempts(2)
        .publish(&[event(0), event(1)])
        .await
        .unwrap_err();
    assert_eq!(
        e,
        PortError::Unavailable {
            message: "PutEvents on bus ops-bus: 1 of 2 events not published after 2 attempts: Retraining Started (InternalFailure: try again)".into()
        }
    );
    assert_eq!(*calls.lock().unwrap(), vec![vec![0, 1], vec![1]]);
}

#[tokio::test]
async fn an_entry_put_events_would_refuse_is_rejected_before_any_call() {
    let (client, calls, rule) = bus(BTreeMap::new());
    let mut big = event(1);
    big.detail = json!({"n": 1, "pad": "x".repeat(MAX_ENTRY_BYTES)});
    let e = EventBridgePublisher::new(client, "default")
        .publish(&[event(0), big])
        .await
        .unwrap_err();
    assert!(
        matches!(&e, PortError::Rejected { message } if message.starts_with("event 1 (Retraining Started) is ")),
        "{e}"
    );
    assert_eq!(rule.num_calls(), 0);
    assert!(calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_response_without_error_codes_for_its_failures_is_corrupt() {
    let rule = mock!(Client::put_events).then_output(|| {
        PutEventsOutput::builder()
            .failed_entry_count(1)
            .entries(PutEventsResultEntry::builder().event_id("id").build())
            .build()
    });
    let e = EventBridgePublisher::new(mocked_client!(aws_sdk_eventbridge, [&rule]), "default")
        .publish(&[event(0)])
        .await
        .unwrap_err();
    assert!(matches!(e, PortError::Corrupt { .. }), "{e}");
}

#[tokio::test]
async fn access_denied_is_rejected_and_throttling_unavailable() {
    for (code, status_rejected) in [
        ("AccessDeniedException", true),
        ("ThrottlingException", false),
    ] {
        let rule = mock!(Client::put_events).then_error(move || {
            PutEventsError::generic(ErrorMetadata::builder().code(code).message("no").build())
        });
        let e = EventBridgePublisher::new(mocked_client!(aws_sdk_eventbridge, [&rule]), "default")
            .publish(&[event(0)])
            .await
            .unwrap_err();
        assert_eq!(
            matches!(e, PortError::Rejected { .. }),
            status_rejected,
            "{code}: {e}"
        );
        assert_eq!(e.is_retryable(), !status_rejected, "{code}: {e}");
    }
}

#[test]
fn the_bus_is_the_configured_one_or_default() {
    let sdk = SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let p = EventBridgePublisher::from_sdk_config(&sdk, None, |_| None);
    assert_eq!(p.bus(), "default");
    let p = EventBridgePublisher::from_sdk_config(&sdk, None, |name| {
        (name == ENV_EVENT_BUS_NAME).then(|| " mdlc-events ".to_string())
    });
    assert_eq!(p.bus(), "mdlc-events");
}
