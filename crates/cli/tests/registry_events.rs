//! `mdlc registry` operations publish their changes (docs/events.md): on the local cloud to the
//! state directory's event log.

use std::path::Path;
use std::process::Command;

use mdlc_core::ports::RegistryWrite;
use mdlc_core::registry::NewVersion;
use mdlc_local::EventLog;

const MODEL: &str = "churn";

fn version(n: u64) -> NewVersion {
    NewVersion {
        model_name: MODEL.into(),
        sagemaker_model_name: format!("sm-{n}"),
        training_job_name: format!("job-{n}"),
        tuning_job_name: None,
        model_data_url: format!("s3://mdlc-artifacts/models/{n}/model.tar.gz"),
        image: "mdlc/xgboost".into(),
        hyperparameters: Default::default(),
        objective_metric: None,
        objective_value: None,
        data_date: "2026-01-01".into(),
        created_at: format!("2026-01-0{n}T00:00:00.000Z"),
        execution_arn: format!("arn:aws:states:us-east-1:000000000000:execution:training:t-{n}"),
        parent_version: None,
        reason: "initial".into(),
        profile_uri: None,
        training_data: None,
    }
}

fn mdlc_ok(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_mdlc"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run mdlc: {e}"));
    assert!(
        out.status.success(),
        "mdlc {args:?}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn seed(state: &Path, count: u64) {
    let registry = mdlc_local::FsRegistry::new(state.join("registry"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    for n in 1..=count {
        rt.block_on(registry.register(version(n)))
            .unwrap_or_else(|e| panic!("register {n}: {e}"));
    }
}

#[test]
fn registry_operations_on_the_local_cloud_are_appended_to_its_event_log() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("no temp dir: {e}"));
    seed(dir.path(), 3);
    let s = dir.path().display().to_string();
    let op = |args: &[&str]| {
        let mut all = vec!["registry"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--state-dir", &s, "--actor", "alice"]);
        mdlc_ok(&all);
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
