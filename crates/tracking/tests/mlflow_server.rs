//! Against a real `mlflow server` on loopback (started by `scripts/with-servers.sh`, which
//! `make test` uses): the parent/child layout, params, metrics with steps, the model version and
//! its tags; idempotency on retries; the server-down path; SigV4 headers on the wire.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::time::Duration;

use chrono::DateTime;
use mdlc_core::history::{TrainingJobSummary, TuningJobSummary};
use mdlc_tracking::client::{TrackingTarget, filter_quote};
use mdlc_tracking::experiment::{TAG_PARENT, TAG_REGISTRY_VERSION};
use mdlc_tracking::sigv4::Credentials;
use mdlc_tracking::test_support::{mlflow_server, unique_name};
use mdlc_tracking::{
    EvaluationLog, MetricPoint, MlflowClient, TrackingError, TrainingRecord, TuningRecord,
    log_evaluation, log_tuning, parse_xgboost_log, register_model_version,
};

fn job(name: &str, eta: &str, rmse: f64, status: &str) -> TrainingRecord {
    let log = format!(
        "[0]#011train-rmse:{:.3}#011validation-rmse:{:.3}\n[1]#011train-rmse:{:.3}#011validation-rmse:{:.3}\n",
        rmse + 1.0,
        rmse + 0.5,
        rmse + 0.5,
        rmse
    );
    let job = TrainingJobSummary {
        name: name.into(),
        status: status.into(),
        failure_reason: (status == "Failed").then(|| "AlgorithmError: bad eta".to_string()),
        hyperparameters: BTreeMap::from([
            ("eta".to_string(), eta.to_string()),
            ("num_round".to_string(), "2".to_string()),
        ]),
        final_metrics: BTreeMap::from([("validation:rmse".to_string(), rmse)]),
        start_time: DateTime::from_timestamp_millis(1_700_000_000_000),
        end_time: DateTime::from_timestamp_millis(1_700_000_060_000),
        model_artifacts: Some(format!("s3://bucket/out/{name}/output/model.tar.gz")),
    };
    TrainingRecord::new(job, Some(&log))
}

#[tokio::test]
#[ignore = "needs mlflow: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn tuning_job_becomes_a_parent_run_with_one_child_per_training_job() {
    let uri = mlflow_server();
    let client = MlflowClient::from_uri(&uri).unwrap();
    let model = unique_name("churn");
    let record = TuningRecord {
        model_name: model.clone(),
        tuning: TuningJobSummary {
            name: "churn-20240101-ab12".into(),
            status: "Completed".into(),
            config: BTreeMap::from([
                ("strategy".to_string(), "Bayesian".to_string()),
                (
                    "objective".to_string(),
                    "validation:rmse Minimize".to_string(),
                ),
            ]),
            best_training_job: Some("churn-20240101-ab12-002-aaaa".into()),
        },
        training_jobs: vec![
            job("churn-20240101-ab12-001-aaaa", "0.1", 0.9, "Completed"),
            job("churn-20240101-ab12-002-aaaa", "0.3", 0.7, "Completed"),
            job("churn-20240101-ab12-003-aaaa", "9", 5.0, "Failed"),
        ],
        execution_arn: Some("arn:aws:states:us-east-1:1:execution:training:e1".into()),
    };

    // WHEN the tuning job is logged twice (a retried Lambda)
    let runs = log_tuning(&client, &record).await.unwrap();
    let again = log_tuning(&client, &record).await.unwrap();

    // THEN the same runs come back: nothing is duplicated
    assert_eq!(runs, again);
    assert_eq!(runs.child_runs.len(), 3);
    let all = client
        .search_runs(std::slice::from_ref(&runs.experiment_id), "")
        .await
        .unwrap();
    assert_eq!(all.len(), 4, "one parent and three children");

    // AND the parent carries the tuning configuration and is finished
    let parent = client.get_run(&runs.parent_run_id).await.unwrap();
    assert_eq!(parent.info.run_name, "churn-20240101-ab12");
    assert_eq!(parent.param("strategy"), Some("Bayesian"));
    assert_eq!(parent.info.status, "FINISHED");

    // AND each child points at the parent, with hyperparameters, final metrics and status
    let etas: BTreeMap<&str, &str> = BTreeMap::from([
        ("churn-20240101-ab12-001-aaaa", "0.1"),
        ("churn-20240101-ab12-002-aaaa", "0.3"),
        ("churn-20240101-ab12-003-aaaa", "9"),
    ]);
    assert_eq!(
        runs.child_runs
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        etas.keys().copied().collect::<Vec<_>>()
    );
    for (job_name, run_id) in &runs.child_runs {
        let child = client.get_run(run_id).await.unwrap();
        assert_eq!(child.tag(TAG_PARENT), Some(runs.parent_run_id.as_str()));
        assert_eq!(child.info.run_name, *job_name);
        assert_eq!(
            child.param("eta"),
            Some(etas[job_name.as_str()]),
            "{job_name}"
        );
        let expected_status = if job_name.ends_with("003-aaaa") {
            "FAILED"
        } else {
            "FINISHED"
        };
        assert_eq!(child.info.status, expected_status, "{job_name}");
    }
    let best = runs.best_run_id.clone().unwrap();
    let best_run = client.get_run(&best).await.unwrap();
    assert_eq!(best_run.metric("validation-rmse"), Some(0.7));

    // AND per-iteration metrics keep their steps
    let history = client
        .metric_history(&best, "validation-rmse")
        .await
        .unwrap();
    let mut steps: Vec<(i64, f64)> = history.iter().map(|m| (m.step, m.value)).collect();
    steps.sort_by_key(|s| s.0);
    assert_eq!(steps, vec![(0, 1.2), (1, 0.7)]);

    // WHEN the best run is registered as registry version 3 (twice)
    let v1 = register_model_version(&client, &model, &best, "s3://bucket/model.tar.gz", 3)
        .await
        .unwrap();
    let v2 = register_model_version(&client, &model, &best, "s3://bucket/model.tar.gz", 3)
        .await
        .unwrap();
    // THEN one model version points at the best child run, tagged with the registry version
    assert_eq!(v1, v2);
    let versions = client
        .search_model_versions(&format!("name={}", filter_quote(&model)))
        .await
        .unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].run_id, best);
    assert!(
        versions[0]
            .tags
            .iter()
            .any(|t| t.key == TAG_REGISTRY_VERSION && t.value == "3")
    );
}

#[tokio::test]
#[ignore = "needs mlflow: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn evaluation_is_logged_once_per_execution_with_metrics_drift_and_decision() {
    let uri = mlflow_server();
    let client = MlflowClient::from_uri(&uri).unwrap();
    let eval = EvaluationLog {
        model_name: unique_name("eval"),
        version: 2,
        data_date: "2024-02-01".into(),
        execution_arn: "arn:aws:states:us-east-1:1:execution:evaluation:e9".into(),
        metrics: BTreeMap::from([("rmse".to_string(), 1.5), ("r2".to_string(), 0.4)]),
        drift: BTreeMap::from([("f1".to_string(), 0.31)]),
        retrain: true,
        reason: "rmse 1.5 above threshold 1.2".into(),
    };
    let id = log_evaluation(&client, &eval).await.unwrap();
    assert_eq!(log_evaluation(&client, &eval).await.unwrap(), id);
    let run = client.get_run(&id).await.unwrap();
    assert_eq!(run.metric("rmse"), Some(1.5));
    assert_eq!(run.metric("psi/f1"), Some(0.31));
    assert_eq!(run.param("retrain"), Some("true"));
    assert_eq!(run.info.status, "FINISHED");
}

fn one_job_record() -> TuningRecord {
    TuningRecord {
        model_name: "m".into(),
        tuning: TuningJobSummary {
            name: "t".into(),
            ..Default::default()
        },
        training_jobs: vec![job("t-001", "0.1", 1.0, "Completed")],
        ..Default::default()
    }
}

/// "Quickly" without a clock: the client does not retry, so a refused connection ends the
/// whole logging at the first call (the experiment lookup), as a typed connect error.
#[tokio::test]
async fn a_tracking_server_that_is_down_fails_the_first_call_with_a_typed_connect_error() {
    // GIVEN a port nobody listens on
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = MlflowClient::from_uri(&format!("http://127.0.0.1:{port}")).unwrap();

    // WHEN a tuning job with a child is logged
    let err = log_tuning(&client, &one_job_record()).await.unwrap_err();

    // THEN the first call fails as unavailable, with the connection as the cause
    assert_eq!(err.name(), "TrackingUnavailable", "{err}");
    let TrackingError::Transport { endpoint, message } = &err else {
        panic!("not a transport error: {err:?}");
    };
    assert_eq!(endpoint, "experiments/get-by-name", "{err}");
    assert!(message.starts_with("connect: "), "{err}");
}

/// A server that accepts connections and never answers costs one request timeout, not one per
/// call: exactly one connection is made and the error says it timed out.
#[tokio::test]
async fn a_tracking_server_that_never_answers_costs_one_request_timeout() {
    // GIVEN a socket that completes connections (the kernel's backlog) but never answers
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let target = TrackingTarget::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let client = MlflowClient::new(target, None, Duration::from_millis(300)).unwrap();

    // WHEN a tuning job with a child is logged
    let err = log_tuning(&client, &one_job_record()).await.unwrap_err();

    // THEN the first call times out and nothing else is tried
    let TrackingError::Transport { endpoint, message } = &err else {
        panic!("not a transport error: {err:?}");
    };
    assert_eq!(endpoint, "experiments/get-by-name", "{err}");
    assert!(message.starts_with("timed out: "), "{err}");
    listener.set_nonblocking(true).unwrap();
    let connections = std::iter::from_fn(|| listener.accept().ok()).count();
    assert_eq!(connections, 1);
}

#[tokio::test]
async fn sagemaker_managed_server_requests_are_sigv4_signed_with_the_server_arn() {
    // GIVEN a loopback endpoint standing in for <region>.experiments.sagemaker.aws, which
    // records the first request's method, path and headers (`name: value`, lower-cased)
    let (seen_tx, seen_rx) = tokio::sync::oneshot::channel::<String>();
    let seen_tx = std::sync::Arc::new(std::sync::Mutex::new(Some(seen_tx)));
    let record = move |request: axum::extract::Request| {
        let mut text = format!("{} {}\n", request.method(), request.uri());
        for (name, value) in request.headers() {
            let value = String::from_utf8_lossy(value.as_bytes());
            text.push_str(&format!("{name}: {value}\n"));
        }
        if let Some(tx) = seen_tx.lock().unwrap().take() {
            let _ = tx.send(text.to_lowercase());
        }
        let body = r#"{"experiment":{"experiment_id":"42"}}"#;
        async move { ([("content-type", "application/json")], body) }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().fallback(record);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let arn = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/team";
    let mut target = TrackingTarget::parse(arn).unwrap();
    if let TrackingTarget::SageMaker { base, .. } = &mut target {
        *base = url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    }
    let creds = Credentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "secret".into(),
        session_token: Some("tok".into()),
    };
    let client = MlflowClient::new(target, Some(creds), Duration::from_secs(5)).unwrap();

    // WHEN a call is made
    let id = client.get_or_create_experiment("m").await.unwrap();
    let request = seen_rx.await.unwrap();

    // THEN it carries the routing header and a SigV4 authorization for sagemaker-mlflow
    assert_eq!(id, "42");
    assert!(
        request.contains(&format!("x-mlflow-sm-tracking-server-arn: {arn}")),
        "{request}"
    );
    assert!(
        request.contains("authorization: aws4-hmac-sha256 credential=akidexample/"),
        "{request}"
    );
    assert!(
        request.contains("/us-east-1/sagemaker-mlflow/aws4_request"),
        "{request}"
    );
    assert!(request.contains("x-amz-security-token: tok"), "{request}");
    assert!(
        request.contains("x-amz-content-sha256: e3b0c442"),
        "{request}"
    );
}

#[test]
fn metric_points_keep_xgboost_names() {
    let pts = parse_xgboost_log("[7]#011validation-auc:0.91");
    assert_eq!(
        pts,
        vec![MetricPoint {
            key: "validation-auc".into(),
            step: 7,
            value: 0.91
        }]
    );
}
