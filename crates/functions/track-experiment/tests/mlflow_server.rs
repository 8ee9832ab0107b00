//! The handler against a real `mlflow server` on loopback (`scripts/with-servers.sh` exports
//! MDLC_TEST_MLFLOW_URI; ignored unless asked for with `--run-ignored`, as `make test` does, and
//! then failing when the variable is unset):
//! a tuning job becomes one parent run with a child per training job (params, final metrics,
//! per-iteration metrics with steps, status), a retried invocation duplicates nothing, the
//! registration links an MLflow model version to the best child, and an evaluation is a run.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mdlc_core::history::{InMemoryTrainingHistory, TrainingJobSummary, TuningJobSummary};
use mdlc_tracking::MlflowClient;
use mdlc_tracking::client::filter_quote;
use mdlc_tracking::experiment::{TAG_PARENT, TAG_REGISTRY_VERSION};
use mdlc_tracking::test_support::{mlflow_server, unique_name};
use serde_json::json;
use track_experiment::{TrackDeps, invoke};

fn at(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

fn tuning_history(tuning: &str) -> (Arc<InMemoryTrainingHistory>, Vec<String>) {
    let h = Arc::new(InMemoryTrainingHistory::new());
    let names: Vec<String> = (1..=3).map(|i| format!("{tuning}-00{i}")).collect();
    h.insert_tuning_job(TuningJobSummary {
        name: tuning.into(),
        status: "Completed".into(),
        best_training_job: Some(names[1].clone()),
        config: BTreeMap::from([
            ("strategy".to_string(), "Bayesian".to_string()),
            ("objective".to_string(), "validation:rmse".to_string()),
        ]),
    });
    for (i, (name, rmse)) in names.iter().zip([0.9, 0.4, 2.0]).enumerate() {
        let failed = i == 2;
        h.insert_training_job(
            Some(tuning),
            TrainingJobSummary {
                name: name.clone(),
                status: if failed { "Failed" } else { "Completed" }.into(),
                failure_reason: failed.then(|| "AlgorithmError: diverged".to_string()),
                hyperparameters: BTreeMap::from([
                    ("eta".to_string(), format!("0.{}", i + 1)),
                    ("num_round".to_string(), "3".to_string()),
                ]),
                final_metrics: if failed {
                    BTreeMap::new()
                } else {
                    BTreeMap::from([("validation:rmse".to_string(), rmse)])
                },
                start_time: at(1_700_000_000_000),
                end_time: at(1_700_000_090_000),
                model_artifacts: (!failed)
                    .then(|| format!("s3://bucket/models/{name}/output/model.tar.gz")),
            },
        );
        if !failed {
            h.insert_log(
                name,
                format!(
                    "Train matrix 100x4\n[0]#011train-rmse:{:.2}#011validation-rmse:{:.2}\n[1]#011train-rmse:{:.2}#011validation-rmse:{:.2}\n[2]#011train-rmse:{:.2}#011validation-rmse:{:.2}",
                    rmse + 1.0,
                    rmse + 1.0,
                    rmse + 0.5,
                    rmse + 0.5,
                    rmse - 0.1,
                    rmse
                ),
            );
        }
    }
    (h, names)
}

#[tokio::test]
#[ignore = "needs mlflow: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn given_a_tuning_job_when_tracked_then_parent_children_and_the_registered_version_link_up() {
    let uri = mlflow_server();
    let model = unique_name("churn");
    let tuning = "churn-tune-ab12";
    let (history, names) = tuning_history(tuning);
    // GIVEN the server only in the function's environment (not in the event)
    let deps = TrackDeps::new(history, Some(uri.clone()));
    let event = json!({
        "kind": "tuning", "modelName": model, "tuningJobName": tuning,
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:training:e1",
        "tuningConfig": {"maxJobs": 3}
    });

    // WHEN the tuning job is tracked, twice (a retried task)
    let out = invoke(event.clone(), &deps).await.expect("tracked");
    let again = invoke(event, &deps).await.expect("tracked again");

    // THEN one parent with three children, the same on the retry
    let t = &out["tracking"];
    assert_eq!(t["status"], "logged", "{out}");
    assert_eq!(t["error"], serde_json::Value::Null);
    assert_eq!(out, again, "a retry duplicates nothing");
    let client = MlflowClient::from_uri(&uri).expect("client");
    let experiment = t["experimentId"].as_str().expect("experiment").to_string();
    let runs = client
        .search_runs(std::slice::from_ref(&experiment), "")
        .await
        .expect("runs");
    assert_eq!(runs.len(), 4, "one parent and three children");
    let parent_id = t["parentRunId"].as_str().expect("parent");
    let parent = client.get_run(parent_id).await.expect("parent run");
    assert_eq!(parent.info.run_name, tuning);
    assert_eq!(parent.param("strategy"), Some("Bayesian"));
    assert_eq!(parent.param("maxJobs"), Some("3"));
    assert_eq!(parent.info.status, "FINISHED");
    assert!(
        t["runUrl"]
            .as_str()
            .is_some_and(|u| u.starts_with(uri.trim_end_matches('/')) && u.ends_with(parent_id)),
        "{out}"
    );
    for (i, name) in names.iter().enumerate() {
        let child_id = t["childRuns"][name].as_str().expect("child run");
        let child = client.get_run(child_id).await.expect("child");
        assert_eq!(child.tag(TAG_PARENT), Some(parent_id));
        assert_eq!(child.param("eta"), Some(format!("0.{}", i + 1).as_str()));
        let status = if i == 2 { "FAILED" } else { "FINISHED" };
        assert_eq!(child.info.status, status, "{name}");
    }
    // AND the best child has its final metric and the per-iteration history with steps
    let best = t["bestRunId"].as_str().expect("best run");
    assert_eq!(t["childRuns"][&names[1]], best);
    let best_run = client.get_run(best).await.expect("best");
    assert_eq!(best_run.metric("validation-rmse"), Some(0.4));
    let mut steps: Vec<(i64, f64)> = client
        .metric_history(best, "validation-rmse")
        .await
        .expect("history")
        .iter()
        .map(|m| (m.step, m.value))
        .collect();
    steps.sort_by_key(|s| s.0);
    assert_eq!(steps, vec![(0, 1.4), (1, 0.9), (2, 0.4)]);

    // WHEN registry version 5 is registered from the best training job (twice)
    let reg = json!({
        "kind": "registration", "modelName": model, "trainingJobName": names[1],
        "registryVersion": 5, "modelDataUrl": "s3://bucket/models/best/model.tar.gz"
    });
    let r1 = invoke(reg.clone(), &deps).await.expect("registered");
    let r2 = invoke(reg, &deps).await.expect("registered again");
    assert_eq!(r1, r2);
    assert_eq!(r1["tracking"]["status"], "logged", "{r1}");
    assert_eq!(r1["tracking"]["runId"], best);
    // THEN one MLflow model version points at the best child, tagged with the registry version
    let versions = client
        .search_model_versions(&format!("name={}", filter_quote(&model)))
        .await
        .expect("versions");
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].run_id, best);
    assert_eq!(
        versions[0].version,
        r1["tracking"]["modelVersion"].as_str().unwrap_or("")
    );
    assert!(
        versions[0]
            .tags
            .iter()
            .any(|t| t.key == TAG_REGISTRY_VERSION && t.value == "5")
    );

    // WHEN an evaluation is tracked
    let ev = invoke(
        json!({
            "kind": "evaluation", "modelName": model, "trackingUri": uri,
            "executionArn": "arn:aws:states:us-east-1:123456789012:execution:evaluation:x1",
            "evaluation": {"version": 5, "dataDate": "2024-03-01", "metrics": {"rmse": 1.25},
                           "drift": {"tenure": 0.3}, "retrain": true, "reason": "rmse above 1.0"}
        }),
        &deps,
    )
    .await
    .expect("evaluation");
    // THEN it is a finished run of the same experiment with metrics, drift and decision
    assert_eq!(ev["tracking"]["status"], "logged", "{ev}");
    assert_eq!(ev["tracking"]["experimentId"], experiment.as_str());
    let run = client
        .get_run(ev["tracking"]["runId"].as_str().expect("run"))
        .await
        .expect("evaluation run");
    assert_eq!(run.metric("rmse"), Some(1.25));
    assert_eq!(run.metric("psi/tenure"), Some(0.3));
    assert_eq!(run.param("retrain"), Some("true"));
}

#[tokio::test]
#[ignore = "needs mlflow: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn given_an_untracked_job_when_registering_then_reported_as_failed() {
    let uri = mlflow_server();
    let (history, _) = tuning_history("t-unused");
    let deps = TrackDeps::new(history, None);
    let out = invoke(
        json!({"kind": "registration", "modelName": unique_name("none"), "trackingUri": uri,
               "trainingJobName": "never-logged", "registryVersion": 1,
               "modelDataUrl": "s3://b/m.tar.gz"}),
        &deps,
    )
    .await
    .expect("reported, not raised");
    assert_eq!(out["tracking"]["status"], "failed");
    assert_eq!(out["tracking"]["error"]["name"], "TrackingRunNotFound");
}

#[tokio::test]
#[ignore = "needs mlflow: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn given_a_single_training_job_when_tracked_then_a_parent_with_one_child() {
    let uri = mlflow_server();
    let (history, names) = tuning_history("single");
    let deps = TrackDeps::new(history, Some(uri.clone()));
    let out = invoke(
        json!({"kind": "training", "modelName": unique_name("single"), "trainingJobName": names[0]}),
        &deps,
    )
    .await
    .expect("tracked");
    let t = &out["tracking"];
    assert_eq!(t["status"], "logged", "{out}");
    assert_eq!(t["childRuns"].as_object().map(|m| m.len()), Some(1));
    assert_eq!(t["bestRunId"], t["childRuns"][&names[0]]);
}
