//! `mdlc registry` operations publish their changes (docs/events.md): on the local cloud to the
//! state directory's event log.

mod common;

use common::{mdlc_exits, registry_with_versions, tempdir};
use mdlc_local::EventLog;

const MODEL: &str = "churn";

#[test]
fn registry_operations_on_the_local_cloud_are_appended_to_its_event_log() {
    let dir = tempdir();
    registry_with_versions(dir.path(), MODEL, 3);
    let s = dir.path().display().to_string();
    let op = |args: &[&str]| {
        let mut all = vec!["registry"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--state-dir", &s, "--actor", "alice"]);
        mdlc_exits(&all, 0);
    };
    op(&["approve", MODEL, "1", "--reason", "metrics ok"]);
    op(&["approve", MODEL, "3", "--reason", "better"]);
    op(&["rollback", MODEL, "1", "--reason", "3 misbehaves"]);
    let events = EventLog::new(dir.path())
        .read()
        .unwrap_or_else(|e| panic!("event log: {e}"));
    let seen: Vec<(&str, u64, &str)> = events
        .iter()
        .map(|e| {
            (
                e.detail_type.as_str(),
                e.detail["version"].as_u64().unwrap_or(0),
                e.detail["actor"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("Model Version Approved", 1, "alice"),
            ("Model Version Approved", 3, "alice"),
            ("Model Version Rolled Back", 1, "alice"),
            ("Model Version Retired", 2, "alice"),
            ("Model Version Retired", 3, "alice"),
        ]
    );
    assert!(events.iter().all(|e| e.source == "mdlc.registry"));
    assert_eq!(events[4].detail["reason"], "3 misbehaves");
    assert_eq!(events[4].detail["rolledBackTo"], 1);
}
