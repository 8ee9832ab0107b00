//! The local event bus (docs/events.md): `<state-dir>/events.jsonl`, one EventBridge-shaped event
//! per line, appended atomically; what the local cloud's registry, flows and report do with it.

use std::io::Write;

use mdlc_asl::ExecutionStatus;
use mdlc_core::PortError;
use mdlc_core::contract::{kinds_and_versions, operation, sample_version};
use mdlc_core::events::{DetailType, EVENTS_DOC, Event, documented_schemas, put_events_entries};
use mdlc_core::ports::EventPublisher;
use mdlc_core::registry_ops::Action;
use mdlc_local::events::{EVENT_LOG_FILE, FAILED_ENTRY, LoggedEvent, put_events_task};
use mdlc_local::report::events::events_section;
use mdlc_local::{EventLog, LocalCloud, LocalCloudConfig};
use serde_json::{Value, json};

fn event(n: usize, pad: usize) -> Event {
    Event {
        source: "mdlc.pipeline".into(),
        detail_type: "Retraining Started".into(),
        time: "2024-06-01T12:00:00.000Z".into(),
        resources: vec![],
        detail: json!({"n": n, "pad": "x".repeat(pad)}),
    }
}

/// The `n` of each event made by [`event`].
fn ns(events: &[LoggedEvent]) -> Vec<u64> {
    events
        .iter()
        .map(|e| e.detail["n"].as_u64().unwrap())
        .collect()
}

/// Appends `bytes` to the log's file as a writer outside [`EventLog`] would.
fn append_raw(log: &EventLog, bytes: &[u8]) {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(log.path())
        .unwrap();
    file.write_all(bytes).unwrap();
}

/// Every event of the log validates against its documented detail schema.
fn assert_documented(events: &[LoggedEvent]) {
    let schemas = documented_schemas(EVENTS_DOC).expect("docs/events.md schemas");
    for e in events {
        let kind = DetailType::parse(&e.detail_type)
            .unwrap_or_else(|| panic!("unknown detail-type {}", e.detail_type));
        assert_eq!(e.source, kind.source());
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schemas[&kind])
            .expect("schema");
        let errors: Vec<String> = validator
            .iter_errors(&e.detail)
            .map(|err| format!("{}: {err}", err.instance_path))
            .collect();
        assert!(errors.is_empty(), "{kind}: {errors:?}\n{}", e.detail);
    }
}

#[tokio::test]
async fn publications_are_appended_as_eventbridge_events_and_read_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::new(dir.path());
    assert!(log.read().unwrap().is_empty(), "no log yet: no events");
    log.publish(&[event(0, 0), event(1, 0)]).await.unwrap();
    log.publish(&[event(2, 0)]).await.unwrap();
    assert_eq!(log.path(), dir.path().join(EVENT_LOG_FILE));
    let text = std::fs::read_to_string(log.path()).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(text.ends_with('\n'));
    let events = log.read().unwrap();
    assert_eq!(ns(&events), [0, 1, 2]);
    let first = &events[0];
    assert_eq!(first.version, "0");
    assert_eq!(first.account, "000000000000");
    assert_eq!(first.region, "us-east-1");
    assert_eq!(first.source, "mdlc.pipeline");
    assert_eq!(first.detail_type, "Retraining Started");
    assert_eq!(first.time, "2024-06-01T12:00:00.000Z");
    assert_ne!(events[0].id, events[1].id, "every event has its own id");
    let raw: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(
        raw["detail-type"], "Retraining Started",
        "EventBridge's field names"
    );
}

#[tokio::test]
async fn a_publication_with_a_refused_entry_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::new(dir.path());
    let mut bad = event(1, 0);
    bad.source = "aws.sagemaker".into();
    let e = log.publish(&[event(0, 0), bad]).await.unwrap_err();
    assert!(
        matches!(&e, PortError::Rejected { message } if message.contains("event 1: Source")),
        "{e}"
    );
    let too_big = event(2, 256 * 1024);
    assert!(matches!(
        log.publish(&[too_big]).await,
        Err(PortError::Rejected { .. })
    ));
    assert!(!log.path().exists(), "nothing was written");
}

#[tokio::test]
async fn a_line_cut_short_by_a_crash_is_ignored_and_cut_before_the_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::new(dir.path());
    log.publish(&[event(0, 0)]).await.unwrap();
    // A writer died in the middle of its line.
    append_raw(&log, br#"{"version":"0","id":"torn","detail-ty"#);
    assert_eq!(
        log.read().unwrap().len(),
        1,
        "the torn tail is not an event"
    );
    log.publish(&[event(1, 0)]).await.unwrap();
    let text = std::fs::read_to_string(log.path()).unwrap();
    assert!(!text.contains("torn"), "{text}");
    assert_eq!(ns(&log.read().unwrap()), [0, 1]);
}

#[tokio::test]
async fn a_log_with_only_a_torn_line_is_emptied_before_the_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::new(dir.path());
    std::fs::write(log.path(), b"{\"half").unwrap();
    assert!(log.read().unwrap().is_empty());
    log.publish(&[event(7, 0)]).await.unwrap();
    assert_eq!(log.read().unwrap().len(), 1);
    assert!(
        !std::fs::read_to_string(log.path())
            .unwrap()
            .contains("half")
    );
}

#[tokio::test]
async fn a_line_that_is_not_an_event_is_corrupt_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::new(dir.path());
    log.publish(&[event(0, 0)]).await.unwrap();
    append_raw(&log, b"not json\n");
    let e = log.read().unwrap_err();
    assert!(
        matches!(&e, PortError::Corrupt { message } if message.contains("line 2")),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_publications_from_separate_handles_never_interleave() {
    let dir = tempfile::tempdir().unwrap();
    // Large events (64 KiB lines, over any pipe-atomic size) from separate handles, as separate
    // processes would have them: only the log's lock orders their writes.
    let mut tasks = tokio::task::JoinSet::new();
    for writer in 0..6 {
        let log = EventLog::new(dir.path());
        tasks.spawn(async move {
            for batch in 0..5 {
                let events: Vec<Event> = (0..3)
                    .map(|i| {
                        let mut e = event(i, 64 * 1024);
                        e.detail["writer"] = json!(writer);
                        e.detail["batch"] = json!(batch);
                        e
                    })
                    .collect();
                log.publish(&events).await.unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let events = EventLog::new(dir.path()).read().unwrap();
    assert_eq!(events.len(), 6 * 5 * 3, "every line is a whole event");
    for publication in events.chunks(3) {
        let key = |e: &LoggedEvent| (e.detail["writer"].clone(), e.detail["batch"].clone());
        assert!(
            publication.iter().all(|e| key(e) == key(&publication[0])),
            "one publication's events are adjacent"
        );
        assert_eq!(ns(publication), [0, 1, 2]);
    }
}

fn context() -> Value {
    json!({
        "Execution": {"Id": "arn:aws:states:us-east-1:000000000000:execution:training:t1", "Name": "t1"},
        "StateMachine": {"Id": "arn:aws:states:us-east-1:000000000000:stateMachine:training", "Name": "training"}
    })
}

#[tokio::test]
async fn the_put_events_task_publishes_its_entries_with_the_execution_arns_appended() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::new(dir.path());
    let parameters = json!({"Entries": [
        {"EventBusName": "default", "Source": "mdlc.pipeline", "DetailType": "Pipeline Failed",
         "Detail": {"flow": "training"}},
        {"Source": "mdlc.pipeline", "DetailType": "Pipeline Failed",
         "Detail": "{\"flow\": \"evaluation\"}", "Resources": ["arn:aws:s3:::b"]}
    ]});
    let out = put_events_task(&log, &parameters, &context(), "2024-06-01T12:00:00.000Z")
        .await
        .unwrap();
    assert_eq!(out["FailedEntryCount"], 0);
    assert_eq!(out["Entries"].as_array().unwrap().len(), 2);
    let events = log.read().unwrap();
    assert_eq!(events[0].detail, json!({"flow": "training"}));
    assert_eq!(
        events[1].detail,
        json!({"flow": "evaluation"}),
        "Detail as JSON text"
    );
    assert_eq!(
        events[0].resources,
        [
            "arn:aws:states:us-east-1:000000000000:execution:training:t1",
            "arn:aws:states:us-east-1:000000000000:stateMachine:training"
        ]
    );
    assert_eq!(events[1].resources[0], "arn:aws:s3:::b");
    assert_eq!(events[1].resources.len(), 3);
}

#[tokio::test]
async fn a_put_events_task_with_a_refused_entry_fails_with_failed_entry_and_publishes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::new(dir.path());
    let cases = [
        (
            json!({"Entries": []}),
            "Entries must be an array of 1 to 10",
        ),
        (
            json!({"Entries": (0..11).map(|_| json!({"Source": "s", "DetailType": "d", "Detail": {}})).collect::<Vec<_>>()}),
            "Entries must be an array of 1 to 10",
        ),
        (
            json!({"Entries": [{"DetailType": "d", "Detail": {}}]}),
            "Entries[0].Source must be a string",
        ),
        (
            json!({"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{oops"}]}),
            "Entries[0].Detail is not JSON",
        ),
        (
            json!({"Entries": [{"Source": "aws.states", "DetailType": "d", "Detail": {}}]}),
            "event 0: Source",
        ),
    ];
    for (parameters, expected) in cases {
        let f = put_events_task(&log, &parameters, &context(), "2024-06-01T12:00:00Z")
            .await
            .unwrap_err();
        assert_eq!(f.error, FAILED_ENTRY);
        assert!(f.cause.contains(expected), "{expected}: {}", f.cause);
    }
    assert!(log.read().unwrap().is_empty());
    // The entries of a Task are the ones core builds from it (one implementation).
    let p = json!({"Entries": [{"Source": "s", "DetailType": "d", "Detail": {}}]});
    assert_eq!(
        put_events_entries(&p, &context(), "2024-06-01T12:00:00Z")
            .unwrap()
            .len(),
        1
    );
}

fn cloud(dir: &std::path::Path) -> LocalCloud {
    LocalCloud::new(LocalCloudConfig::new(dir.join(".mdlc"))).expect("local cloud")
}

#[tokio::test]
async fn the_local_registry_publishes_registrations_and_operations_to_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = cloud(dir.path());
    let registry = cloud.registry_writer(Some("arn:aws:iam::000000000000:user/ops"));
    for e in ["e1", "e2", "e3"] {
        registry
            .register_as(
                sample_version("churn", e),
                mdlc_core::registry::VersionStatus::PendingApproval,
            )
            .await
            .unwrap();
    }
    for (version, action, reason) in [
        (1, Action::Approve, "checked"),
        (2, Action::Reject, "worse"),
        (3, Action::Approve, "better"),
        (1, Action::RollBack, "v3 misbehaves"),
    ] {
        registry
            .operate(operation("churn", version, action, reason))
            .await
            .unwrap();
    }
    let refused = registry
        .operate(operation("churn", 2, Action::Reject, "again"))
        .await
        .unwrap_err();
    assert_eq!(refused.name(), "InvalidTransition");
    let events = cloud.events().read().unwrap();
    let kinds = kinds_and_versions(&events, |e| (&e.detail_type, &e.detail));
    assert_eq!(
        kinds,
        [
            ("Model Version Registered", 1),
            ("Model Version Registered", 2),
            ("Model Version Registered", 3),
            ("Model Version Approved", 1),
            ("Model Version Rejected", 2),
            ("Model Version Approved", 3),
            ("Model Version Rolled Back", 1),
            ("Model Version Retired", 3),
        ]
    );
    assert_documented(&events);
    assert_eq!(events[7].detail["rolledBackTo"], 1);
    assert_eq!(events[7].detail["reason"], "v3 misbehaves");
    // The report shows them.
    let html = events_section(&events);
    assert!(html.contains("<h2 id=\"events\">Events</h2>"), "{html}");
    assert_eq!(html.matches("<tr><td>").count(), events.len());
    assert!(
        html.contains("Approved → Retired by arn:aws:iam::000000000000:user/ops: v3 misbehaves"),
        "{html}"
    );
    assert_eq!(
        events[3].detail["actor"],
        "arn:aws:iam::000000000000:user/ops"
    );
    assert_eq!(events_section(&[]), "", "no events, no section");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_local_execution_logs_pipeline_failed_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = cloud(dir.path());
    let machine = cloud
        .state_machine("training")
        .cloned()
        .expect("the project's training flow");
    let execution = cloud
        .execute(
            "training",
            &machine,
            "bad-input",
            json!({"tuning": {"maxJobs": 0}}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(execution.status, ExecutionStatus::Failed);
    assert_eq!(execution.error.as_deref(), Some("InvalidInput"));
    let events = cloud.events().read().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let failed = &events[0];
    assert_eq!(failed.detail_type, "Pipeline Failed");
    assert_eq!(failed.detail["flow"], "training");
    assert_eq!(failed.detail["executionName"], "bad-input");
    assert_eq!(failed.detail["error"], "InvalidInput");
    assert_eq!(
        failed.resources,
        [
            failed.detail["executionArn"].as_str().unwrap(),
            failed.detail["stateMachineArn"].as_str().unwrap()
        ]
    );
    assert_documented(&events);
}

#[test]
fn the_report_ends_with_the_events_section() {
    use mdlc_local::report::{ReportInput, render_html, render_html_with_events};
    let logged = LoggedEvent::of(&event(3, 0));
    let definitions = std::collections::BTreeMap::new();
    let input = ReportInput {
        title: "t",
        executions: &[],
        definitions: &definitions,
        versions: &[],
        evaluations: &[],
    };
    let html = render_html_with_events(&input, std::slice::from_ref(&logged));
    let section = events_section(std::slice::from_ref(&logged));
    assert!(
        html.ends_with(&format!("{section}</body></html>\n")),
        "{html}"
    );
    assert!(section.contains("training execution"), "{section}");
    assert!(!render_html(&input).contains("id=\"events\""));
}
