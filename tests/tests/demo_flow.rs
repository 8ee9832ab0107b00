//! The whole demo life cycle end to end on the project's real state machines, handlers, emulator
//! and trainer: version 1 → keep on fresh data → retrain on drifted data (nested training
//! execution) → version 2 → keep.

use mdlc_core::ports::RegistryRead;
use mdlc_local::FsRegistry;
use mdlc_local::demo::{Problem, run_demo, summary_table};
use mdlc_tests::{demo_options, ensure_trainer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_registers_v1_keeps_it_retrains_on_drift_and_keeps_v2() {
    ensure_trainer();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".mdlc");
    let summary = run_demo(&demo_options(&state, Problem::Regression), &|_| {})
        .await
        .unwrap_or_else(|e| panic!("demo failed: {e}"));

    let versions: Vec<u64> = summary.versions.iter().map(|v| v.version).collect();
    assert_eq!(versions, vec![1, 2]);
    assert_eq!(summary.versions[1].parent_version, Some(1));
    assert!(
        summary
            .versions
            .iter()
            .all(|v| v.objective.is_some_and(f64::is_finite))
    );
    let decisions: Vec<(u64, bool, Option<u64>)> = summary
        .evaluations
        .iter()
        .map(|e| (e.version, e.retrain, e.new_version))
        .collect();
    assert_eq!(
        decisions,
        vec![(1, false, None), (1, true, Some(2)), (2, false, None)]
    );
    assert!(
        summary.evaluations[1].reason.contains("worse"),
        "{}",
        summary.evaluations[1].reason
    );
    for e in &summary.evaluations {
        assert!(e.metrics.contains_key("rmse"), "{:?}", e.metrics);
    }
    // Feature drift against the training data's profile: the drifted batch shifts features.
    let drift = |i: usize| {
        summary.evaluations[i]
            .drift
            .clone()
            .unwrap_or_else(|| panic!("evaluation {i} has no drift"))
    };
    let (fresh, drifted) = (drift(0), drift(1));
    assert!(
        fresh
            .features
            .iter()
            .all(|f| f.level != mdlc_core::drift::DriftLevel::Significant),
        "{fresh:?}"
    );
    assert_eq!(
        drifted.level,
        mdlc_core::drift::DriftLevel::Significant,
        "{drifted:?}"
    );
    assert!(drifted.max_psi > fresh.max_psi);
    // Version 2 was preprocessed from the drifted data: its own profile is the new baseline.
    assert_ne!(
        drift(2).level,
        mdlc_core::drift::DriftLevel::Significant,
        "{:?}",
        drift(2)
    );
    assert!(summary_table(&summary).contains("drift: "));

    // --json shape
    let json = serde_json::to_value(&summary).unwrap();
    for v in json["versions"].as_array().unwrap() {
        assert!(
            v["version"].is_u64() && v["objective"].is_f64() && v["metrics"].is_object(),
            "{v}"
        );
    }
    for e in json["evaluations"].as_array().unwrap() {
        assert!(
            e["version"].is_u64()
                && e["metrics"].is_object()
                && e["retrain"].is_boolean()
                && e["reason"].is_string(),
            "{e}"
        );
    }
    assert!(summary_table(&summary).contains("retrain → v2"));

    // The registry agrees, the evaluations carry their decisions.
    let registry = FsRegistry::new(state.join("registry"));
    let versions = registry.list_versions("demo-model").await.unwrap();
    assert_eq!(versions.len(), 2);
    // Each version was trained through the preprocessing step and records its data profile.
    let profiles: Vec<String> = versions
        .iter()
        .map(|v| v.record.profile_uri.clone().expect("a data profile"))
        .collect();
    assert!(
        profiles
            .iter()
            .all(|p| p.ends_with("/preprocessing/profile/profile.json"))
    );
    assert_ne!(profiles[0], profiles[1]);
    let evaluations = registry.list_evaluations("demo-model", None).await.unwrap();
    assert_eq!(
        evaluations.iter().map(|e| e.retrain).collect::<Vec<_>>(),
        vec![Some(false), Some(true), Some(false)]
    );
    assert!(
        evaluations.iter().all(|e| e.drift.is_some()),
        "drift recorded"
    );

    // The report: every execution (4 top-level + the nested retrain) with its graph.
    let html = std::fs::read_to_string(state.join("report.html")).unwrap();
    assert_eq!(
        html.matches("class=\"graph\"").count(),
        5,
        "five state graphs"
    );
    assert!(html.contains("edge taken"));
    assert!(html.contains("class=\"chart\""));
    assert!(html.contains("<h3>Feature drift</h3>"));
    assert_eq!(
        html.matches("<g class=\"cell\" ").count(),
        3 * 6,
        "a heat map cell per evaluation and feature"
    );
    assert!(!html.contains("<script"));
    // Executions were persisted with their history.
    assert!(
        state
            .join("executions/training/demo-model-train-initial.json")
            .is_file()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_on_a_users_binary_dataset_retrains_once() {
    ensure_trainer();
    let dir = tempfile::tempdir().unwrap();
    // The user's data set: written by the generator, read back as the user's files.
    let data = mdlc_trainer::data::generate(&mdlc_trainer::data::GenerateConfig::new(
        Problem::Binary,
        800,
        6,
        3,
    ))
    .unwrap();
    let user = dir.path().join("mydata");
    std::fs::create_dir_all(&user).unwrap();
    std::fs::write(user.join("train.csv"), data.train.to_csv()).unwrap();
    std::fs::write(user.join("validation.csv"), data.validation.to_csv()).unwrap();
    // A larger holdout so that each third is a meaningful batch.
    let mut holdout = data.holdout.to_csv();
    holdout.push_str(&data.validation.to_csv());
    std::fs::write(user.join("holdout.csv"), holdout).unwrap();

    let mut opts = demo_options(&dir.path().join(".mdlc"), Problem::Binary);
    opts.dataset = Some(user);
    let summary = run_demo(&opts, &|_| {})
        .await
        .unwrap_or_else(|e| panic!("demo failed: {e}"));
    let decisions: Vec<bool> = summary.evaluations.iter().map(|e| e.retrain).collect();
    assert_eq!(decisions, vec![false, true, false]);
    assert!(summary.evaluations[0].metrics.contains_key("auc"));
    assert_eq!(summary.versions.len(), 2);
}

#[tokio::test]
async fn demo_refuses_to_wipe_a_directory_it_did_not_create() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let err = run_demo(&demo_options(dir.path(), Problem::Regression), &|_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("refusing to clean"), "{err}");
    assert!(dir.path().join("notes.txt").exists());
}
