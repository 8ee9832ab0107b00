//! monitor-performance: reads the batch transform's predictions (`<output>/<rel>.out` for each
//! features object `<features>/<rel>`) and the ground truth (`<groundTruth>/<rel>`, label in the
//! first CSV column), computes the problem type's metrics, records an evaluation item in the
//! registry and logs a CloudWatch embedded-metric-format (EMF) line.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mdlc_core::drift::{BaselineProfile, DriftAccumulator, DriftError};
use mdlc_core::input::{Flow, ProblemType};
use mdlc_core::io::{MonitorPerformanceInput, MonitorPerformanceOutput, parse_event, to_value};
use mdlc_core::metrics;
use mdlc_core::ports::{Clock, ObjectStore, RegistryRead, RegistryWrite};
use mdlc_core::registry::{EvaluationRecord, format_timestamp};
use mdlc_core::s3uri::S3Uri;
use mdlc_core::{Dependencies, FnError, HandlerFailure, PortError};
use serde_json::{Value, json};

/// CloudWatch namespace of the EMF metrics.
pub const EMF_NAMESPACE: &str = "MDLC/ModelPerformance";

async fn read_text(store: &dyn ObjectStore, uri: &S3Uri, what: &str) -> Result<String, FnError> {
    let bytes = store.get(uri).await.map_err(|e| match e {
        PortError::NotFound { .. } => FnError::PredictionsMismatch {
            file: uri.to_string(),
            line: None,
            message: format!("the {what} file does not exist"),
        },
        other => FnError::from_port("object store get", other),
    })?;
    String::from_utf8(bytes).map_err(|e| FnError::PredictionsMismatch {
        file: uri.to_string(),
        line: None,
        message: format!("not UTF-8 text: {e}"),
    })
}

/// The EMF line: one JSON object CloudWatch turns into metrics (dimension: model, version).
pub fn emf_line(
    model: &str,
    version: u64,
    metrics: &BTreeMap<String, f64>,
    rows: u64,
    at: DateTime<Utc>,
) -> String {
    let mut doc = serde_json::Map::new();
    let mut names: Vec<Value> = metrics
        .keys()
        .map(|k| json!({"Name": k, "Unit": "None"}))
        .collect();
    names.push(json!({"Name": "Rows", "Unit": "Count"}));
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": EMF_NAMESPACE,
                "Dimensions": [["ModelName"], ["ModelName", "ModelVersion"]],
                "Metrics": names
            }]
        }),
    );
    doc.insert("ModelName".into(), json!(model));
    doc.insert("ModelVersion".into(), json!(version.to_string()));
    for (k, v) in metrics {
        doc.insert(k.clone(), json!(v));
    }
    doc.insert("Rows".into(), json!(rows));
    Value::Object(doc).to_string()
}

pub async fn handle(
    input: MonitorPerformanceInput,
    store: &dyn ObjectStore,
    registry_read: &dyn RegistryRead,
    registry_write: &dyn RegistryWrite,
    clock: &dyn Clock,
) -> Result<MonitorPerformanceOutput, FnError> {
    let plan = &input.plan;
    plan.require_flow(
        Flow::Evaluation,
        "models are evaluated by the evaluation flow",
    )?;
    if input.model.record.model_name != plan.input.model_name {
        return Err(FnError::invalid(
            "/model/modelName",
            format!(
                "{:?} is not the execution's model {:?}",
                input.model.record.model_name, plan.input.model_name
            ),
        ));
    }
    let eval = &plan.input.data.evaluation;
    let mut features: Vec<S3Uri> = store
        .list(&eval.features)
        .await
        .map_err(|e| FnError::from_port("object store list", e))?
        .into_iter()
        .filter(|o| !o.uri.key.ends_with('/'))
        .map(|o| o.uri)
        .collect();
    features.sort();
    if features.is_empty() {
        return Err(FnError::PredictionsMismatch {
            file: eval.features.to_string(),
            line: None,
            message: "no feature files under this prefix".to_string(),
        });
    }
    // The baseline: the input's profile, else the one the version was trained with.
    let profile = match (&eval.profile, &input.model.record.profile_uri) {
        (Some(uri), _) => {
            Some(read_profile(store, uri, "/plan/input/data/evaluation/profile").await?)
        }
        (None, Some(text)) => {
            let uri = text.parse::<S3Uri>().map_err(|e| FnError::CorruptData {
                message: format!(
                    "version {} of {} has an invalid profileUri {text:?}: {e}",
                    input.model.version, input.model.record.model_name
                ),
            })?;
            Some(read_profile(store, &uri, "/model/profileUri").await?)
        }
        (None, None) => None,
    };
    let mut drift = profile.as_ref().map(DriftAccumulator::new);
    // The retrain's processing job reads the batch as labelled rows (see mdlc_core::retrain).
    let labelled_batch = plan
        .retrain
        .as_ref()
        .and_then(|r| r.labelled_batch.as_ref());
    let (mut labels, mut scores, mut files) = (Vec::new(), Vec::new(), Vec::new());
    for f in &features {
        let features_text = match drift.is_some() || labelled_batch.is_some() {
            true => Some(read_text(store, f, "features").await?),
            false => None,
        };
        if let (Some(acc), Some(text)) = (drift.as_mut(), &features_text) {
            acc.add_csv(&f.to_string(), text).map_err(drift_error)?;
        }
        let rel = f.key.strip_prefix(&eval.features.key).unwrap_or(&f.key);
        let pred_uri = plan.locations.transform_output.join(&format!("{rel}.out"));
        let truth_uri = eval.ground_truth.join(rel);
        let pred_file = pred_uri.to_string();
        let truth_file = truth_uri.to_string();
        let p = metrics::parse_predictions(
            &pred_file,
            &read_text(store, &pred_uri, "predictions").await?,
        )?;
        let truth_text = read_text(store, &truth_uri, "ground truth").await?;
        let y = metrics::parse_ground_truth(&truth_file, &truth_text)?;
        if let (Some(batch), Some(text)) = (labelled_batch, &features_text) {
            write_labelled(
                store,
                &batch.join(rel),
                (f, text),
                (&truth_uri, &truth_text),
            )
            .await?;
        }
        if p.len() != y.len() {
            return Err(FnError::PredictionsMismatch {
                file: pred_file,
                line: Some(p.len().min(y.len()) as u64 + 1),
                message: format!(
                    "{} predictions for {} ground-truth rows in {truth_file}",
                    p.len(),
                    y.len()
                ),
            });
        }
        if plan.input.problem_type == ProblemType::Binary {
            metrics::check_binary(&y, &truth_file, &p, &pred_file)?;
        }
        labels.extend(y);
        scores.extend(p);
        files.push(pred_file);
    }
    if labels.is_empty() {
        return Err(FnError::PredictionsMismatch {
            file: eval.ground_truth.to_string(),
            line: None,
            message: "the evaluation data has no rows".to_string(),
        });
    }
    let computed = metrics::compute(plan.input.problem_type, &labels, &scores);
    let drift = match drift {
        Some(acc) => Some(acc.finish().map_err(drift_error)?),
        None => None,
    };
    let now = clock.now();
    // A retry of this state reuses the item its first try wrote (same key), never adds one.
    let since = format_timestamp(now - chrono::Duration::days(1));
    let evaluated_at = registry_read
        .list_evaluations(&plan.input.model_name, Some(&since))
        .await
        .map_err(|e| FnError::from_port("registry list_evaluations", e))?
        .into_iter()
        .find(|e| e.execution_arn == plan.execution_arn)
        .map(|e| e.evaluated_at)
        .unwrap_or_else(|| format_timestamp(now));
    let record = EvaluationRecord {
        model_name: plan.input.model_name.clone(),
        version: input.model.version,
        evaluated_at: evaluated_at.clone(),
        execution_arn: plan.execution_arn.clone(),
        data_date: plan.input.data_date.clone(),
        metrics: computed.clone(),
        retrain: None,
        reason: None,
        drift: drift.clone(),
    };
    registry_write
        .put_evaluation(record)
        .await
        .map_err(|e| FnError::from_port("registry put_evaluation", e))?;
    let rows = labels.len() as u64;
    let line = emf_line(
        &plan.input.model_name,
        input.model.version,
        &computed,
        rows,
        now,
    );
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        // On Lambda, stdout lines that are EMF documents become CloudWatch metrics.
        println!("{line}");
    } else {
        tracing::debug!(emf = %line, "metrics");
    }
    tracing::info!(model = %plan.input.model_name, version = input.model.version, rows, metrics = ?computed, "model evaluated");
    if let Some(d) = &drift {
        tracing::info!(model = %plan.input.model_name, max_psi = d.max_psi, level = %d.level, "feature drift");
    }
    Ok(MonitorPerformanceOutput {
        model_name: plan.input.model_name.clone(),
        version: input.model.version,
        metrics: computed,
        rows,
        evaluated_at,
        files,
        drift,
    })
}

/// Writes one features file of the batch with its labels (label first) to `to`.
async fn write_labelled(
    store: &dyn ObjectStore,
    to: &S3Uri,
    (features_uri, features): (&S3Uri, &str),
    (truth_uri, truth): (&S3Uri, &str),
) -> Result<(), FnError> {
    let rows = mdlc_core::retrain::labelled_rows(features, truth).map_err(|(line, message)| {
        FnError::PredictionsMismatch {
            file: truth_uri.to_string(),
            line: Some(line),
            message: format!("{message} (features {features_uri})"),
        }
    })?;
    store
        .put(to, rows.into_bytes())
        .await
        .map_err(|e| FnError::from_port("object store put", e))
}

/// Reads and validates a baseline data profile; `pointer` names where its URI came from.
async fn read_profile(
    store: &dyn ObjectStore,
    uri: &S3Uri,
    pointer: &str,
) -> Result<BaselineProfile, FnError> {
    let bytes = store.get(uri).await.map_err(|e| match e {
        PortError::NotFound { .. } => {
            FnError::invalid(pointer, format!("the data profile {uri} does not exist"))
        }
        other => FnError::from_port("object store get", other),
    })?;
    BaselineProfile::from_json(&bytes).map_err(|e| FnError::CorruptData {
        message: format!("data profile {uri}: {e}"),
    })
}

/// A feature file that does not fit the profile, as the handler's error.
fn drift_error(e: DriftError) -> FnError {
    let message = e.to_string();
    match e {
        DriftError::FeatureMismatch { file, line, .. }
        | DriftError::NotANumber { file, line, .. } => FnError::PredictionsMismatch {
            file,
            line: Some(line as u64),
            message,
        },
        DriftError::InvalidProfile { .. } | DriftError::EmptyBatch => {
            FnError::CorruptData { message }
        }
    }
}

/// The uniform JSON entry point (Lambda bin and local runtime).
pub async fn invoke(event: Value, deps: &Dependencies) -> Result<Value, HandlerFailure> {
    let input: MonitorPerformanceInput = parse_event(event, &["plan", "model"], &[])?;
    let out = handle(
        input,
        deps.store.as_ref(),
        deps.registry_read.as_ref(),
        deps.registry_write.as_ref(),
        deps.clock.as_ref(),
    )
    .await?;
    Ok(to_value(&out)?)
}

#[cfg(test)]
mod tests {
    use mdlc_core::contract::sample_version;
    use mdlc_core::io::{InitializeInput, RunPlan};
    use mdlc_core::memory::InMemoryWorld;
    use mdlc_core::registry::{ModelVersion, NewVersion, VersionStatus};

    use super::*;

    fn plan(world: &InMemoryWorld, problem: &str) -> RunPlan {
        let input = json!({"modelName": "churn", "problemType": problem,
                           "data": {"evaluation": {"features": "s3://data-1/x/", "groundTruth": "s3://data-1/y/"}}});
        initialize::plan_for(world, Flow::Evaluation, "e1", input).unwrap()
    }

    fn model() -> ModelVersion {
        ModelVersion {
            version: 1,
            status: VersionStatus::Registered,
            record: NewVersion {
                profile_uri: None,
                ..sample_version("churn", "t1")
            },
        }
    }

    fn seed(
        world: &InMemoryWorld,
        p: &RunPlan,
        file: &str,
        features: &str,
        truth: &str,
        preds: &str,
    ) {
        world
            .store
            .insert(&format!("s3://data-1/x/{file}"), features);
        world.store.insert(&format!("s3://data-1/y/{file}"), truth);
        world.store.insert(
            &p.locations
                .transform_output
                .join(&format!("{file}.out"))
                .to_string(),
            preds,
        );
    }

    #[tokio::test]
    async fn given_regression_predictions_then_metrics_are_recorded() {
        let world = InMemoryWorld::new();
        let p = plan(&world, "regression");
        seed(
            &world,
            &p,
            "a.csv",
            "1,2\n3,4\n",
            "3,1,2\n-0.5,3,4\n",
            "2.5\n0.0\n",
        );
        seed(
            &world,
            &p,
            "sub/b.csv",
            "5,6\n7,8\n",
            "2\n7\n",
            "2.0\n8.0\n",
        );
        let out = invoke(json!({"plan": p, "model": model()}), &world.dependencies())
            .await
            .unwrap();
        assert_eq!(out["rows"], 4);
        let rmse = out["metrics"]["rmse"].as_f64().unwrap();
        assert!((rmse - (1.5f64 / 4.0).sqrt()).abs() < 1e-12);
        assert!((out["metrics"]["r2"].as_f64().unwrap() - 0.948_608_137_044_967_9).abs() < 1e-9);
        let evals = world
            .registry
            .list_evaluations("churn", None)
            .await
            .unwrap();
        assert_eq!(evals.len(), 1);
        assert_eq!(evals[0].retrain, None);
        assert_eq!(evals[0].version, 1);
        // A retry later on writes the same item again, not a second one.
        world.clock.advance(chrono::Duration::minutes(5));
        let again = invoke(json!({"plan": p, "model": model()}), &world.dependencies())
            .await
            .unwrap();
        assert_eq!(again["evaluatedAt"], out["evaluatedAt"]);
        assert_eq!(
            world
                .registry
                .list_evaluations("churn", None)
                .await
                .unwrap()
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn given_a_retrain_with_preprocessing_then_the_batch_is_written_as_labelled_rows() {
        let world = InMemoryWorld::new();
        let mut p = plan(&world, "regression");
        let batch: S3Uri = "s3://mdlc-artifacts/evaluations/churn/run/labelled/"
            .parse()
            .unwrap();
        p.retrain = Some(mdlc_core::retrain::RetrainPlan {
            source: mdlc_core::retrain::RetrainSource::Version,
            labelled_batch: Some(batch.clone()),
        });
        seed(
            &world,
            &p,
            "a.csv",
            "1,2\n3,4\n",
            "3,1,2\n-0.5,3,4\n",
            "2.5\n0.0\n",
        );
        seed(
            &world,
            &p,
            "sub/b.csv",
            "5,6\n7,8\n",
            "2\n7\n",
            "2.0\n8.0\n",
        );
        invoke(json!({"plan": p, "model": model()}), &world.dependencies())
            .await
            .unwrap();
        let read = |rel: &str| {
            let store = world.store.clone();
            let uri = batch.join(rel);
            async move { String::from_utf8(store.get(&uri).await.unwrap()).unwrap() }
        };
        assert_eq!(read("a.csv").await, "3,1,2\n-0.5,3,4\n");
        assert_eq!(read("sub/b.csv").await, "2,5,6\n7,7,8\n");
        // Without a labelled batch in the plan nothing is written.
        let world = InMemoryWorld::new();
        let p = plan(&world, "regression");
        assert_eq!(p.retrain.as_ref().unwrap().labelled_batch, None);
        seed(&world, &p, "a.csv", "1,2\n", "3\n", "2.5\n");
        invoke(json!({"plan": p, "model": model()}), &world.dependencies())
            .await
            .unwrap();
        assert!(!world.store.any_under(&batch).await.unwrap());
    }

    /// One feature, quartile bins on edges 1, 2, 3 (a quarter of the baseline in each).
    const PROFILE: &str = r#"{"rows": 8, "problem": "regression", "features": [
        {"name": "f0", "index": 0, "count": 8, "missing": 0,
         "bins": {"edges": [1.0, 2.0, 3.0], "shares": [0.25, 0.25, 0.25, 0.25], "missing_share": 0.0}}]}"#;

    fn plan_with_profile(world: &InMemoryWorld) -> RunPlan {
        world.store.insert("s3://data-1/base/profile.json", PROFILE);
        let input = json!({"modelName": "churn", "problemType": "regression",
                           "data": {"evaluation": {"features": "s3://data-1/x/", "groundTruth": "s3://data-1/y/",
                                                   "profile": "s3://data-1/base/profile.json"}}});
        initialize::plan_for(world, Flow::Evaluation, "e2", input).unwrap()
    }

    #[tokio::test]
    async fn given_a_profile_when_features_match_it_then_drift_is_stable() {
        let world = InMemoryWorld::new();
        let p = plan_with_profile(&world);
        seed(&world, &p, "a.csv", "0.5\n1.5\n", "1\n2\n", "1\n2\n");
        seed(&world, &p, "b.csv", "2.5\n3.5\n", "3\n4\n", "3\n4\n");
        let out = invoke(json!({"plan": p, "model": model()}), &world.dependencies())
            .await
            .unwrap();
        let drift = &out["drift"];
        assert_eq!(drift["rows"], 4, "{out:#}");
        assert_eq!(drift["level"], "stable");
        assert_eq!(drift["features"][0]["feature"], "f0");
        assert!(drift["features"][0]["psi"].as_f64().unwrap().abs() < 1e-12);
        assert!(out["metrics"]["rmse"].as_f64().unwrap().abs() < 1e-12);
    }

    #[tokio::test]
    async fn given_a_profile_when_features_shifted_then_drift_is_significant() {
        let world = InMemoryWorld::new();
        let p = plan_with_profile(&world);
        seed(
            &world,
            &p,
            "a.csv",
            "3.5\n4\n9\n2.5\n",
            "1\n2\n3\n4\n",
            "1\n2\n3\n4\n",
        );
        let out = invoke(json!({"plan": p, "model": model()}), &world.dependencies())
            .await
            .unwrap();
        let f0 = &out["drift"]["features"][0];
        let expected = mdlc_core::drift::psi(&[0.25; 4], &[0.0, 0.0, 0.25, 0.75]);
        assert!(
            (f0["psi"].as_f64().unwrap() - expected).abs() < 1e-12,
            "{f0}"
        );
        assert_eq!(f0["level"], "significant");
        assert_eq!(out["drift"]["level"], "significant");
    }

    #[tokio::test]
    async fn given_no_input_profile_when_the_version_has_one_then_its_drift_is_reported_and_recorded()
     {
        let world = InMemoryWorld::new();
        world
            .store
            .insert("s3://mdlc-artifacts/models/churn/r/profile.json", PROFILE);
        let p = plan(&world, "regression");
        assert_eq!(p.input.data.evaluation.profile, None);
        seed(
            &world,
            &p,
            "a.csv",
            "3.5\n4\n9\n2.5\n",
            "1\n2\n3\n4\n",
            "1\n2\n3\n4\n",
        );
        let mut m = model();
        m.record.profile_uri = Some("s3://mdlc-artifacts/models/churn/r/profile.json".into());
        let out = invoke(json!({"plan": p, "model": m}), &world.dependencies())
            .await
            .unwrap();
        assert_eq!(out["drift"]["level"], "significant", "{out:#}");
        let recorded = world
            .registry
            .list_evaluations("churn", None)
            .await
            .unwrap();
        assert_eq!(recorded.len(), 1);
        let drift = recorded[0]
            .drift
            .as_ref()
            .expect("the evaluation record keeps the drift");
        assert_eq!(serde_json::to_value(drift).unwrap(), out["drift"]);

        // An input profile wins over the version's.
        let world = InMemoryWorld::new();
        let p = plan_with_profile(&world);
        seed(&world, &p, "a.csv", "0.5\n1.5\n", "1\n2\n", "1\n2\n");
        seed(&world, &p, "b.csv", "2.5\n3.5\n", "3\n4\n", "3\n4\n");
        let mut m = model();
        m.record.profile_uri = Some("s3://mdlc-artifacts/nowhere/profile.json".into());
        let out = invoke(
            json!({"plan": p, "model": m.clone()}),
            &world.dependencies(),
        )
        .await
        .unwrap();
        assert_eq!(out["drift"]["level"], "stable");

        // A version whose profile is gone or malformed fails naming it.
        let p = plan(&world, "regression");
        seed(&world, &p, "a.csv", "0.5\n", "1\n", "1\n");
        let f = invoke(
            json!({"plan": p, "model": m.clone()}),
            &world.dependencies(),
        )
        .await
        .unwrap_err();
        f.assert_is("InvalidInput", "/model/profileUri");
        m.record.profile_uri = Some("not a uri".into());
        let f = invoke(json!({"plan": p, "model": m}), &world.dependencies())
            .await
            .unwrap_err();
        f.assert_is("CorruptData", "profileUri");
    }

    #[tokio::test]
    async fn given_a_bad_profile_or_feature_file_then_typed_errors() {
        let world = InMemoryWorld::new();
        let p = plan_with_profile(&world);
        seed(&world, &p, "a.csv", "1,2\n", "1\n", "1\n");
        let f = invoke(json!({"plan": p, "model": model()}), &world.dependencies())
            .await
            .unwrap_err();
        f.assert_is("PredictionsMismatch", "x/a.csv line 1");
        world
            .store
            .insert("s3://data-1/base/profile.json", r#"{"features": []}"#);
        let f = invoke(json!({"plan": p, "model": model()}), &world.dependencies())
            .await
            .unwrap_err();
        f.assert_is("CorruptData", "/features");
        let mut missing = plan_with_profile(&world);
        missing.input.data.evaluation.profile =
            Some("s3://data-1/none/profile.json".parse().unwrap());
        let f = invoke(
            json!({"plan": missing, "model": model()}),
            &world.dependencies(),
        )
        .await
        .unwrap_err();
        f.assert_is("InvalidInput", "/data/evaluation/profile");
        // initialize rejects a profile prefix or a non-string.
        for bad in [json!("s3://data-1/base/"), json!(3)] {
            let err = initialize::handle(
                InitializeInput {
                    flow: Flow::Evaluation,
                    execution_arn: "arn:aws:states:us-east-1:0:execution:evaluation:e3".into(),
                    input: json!({"modelName": "churn", "problemType": "regression",
                                  "data": {"evaluation": {"features": "s3://data-1/x/", "groundTruth": "s3://data-1/y/",
                                                          "profile": bad}}}),
                },
                &world.config,
                world.clock.as_ref(),
            )
            .unwrap_err();
            assert!(
                err.to_string().contains("/data/evaluation/profile"),
                "{err}"
            );
        }
    }

    #[tokio::test]
    async fn given_binary_predictions_then_classification_metrics() {
        let world = InMemoryWorld::new();
        let p = plan(&world, "binary");
        seed(
            &world,
            &p,
            "a.csv",
            "x\nx\nx\nx\n",
            "0\n0\n1\n1\n",
            "0.1\n0.4\n0.35\n0.8\n",
        );
        let out = invoke(json!({"plan": p, "model": model()}), &world.dependencies())
            .await
            .unwrap();
        assert_eq!(out["metrics"]["auc"], 0.75);
        assert_eq!(out["metrics"]["accuracy"], 0.75);
        assert!(out["metrics"]["logloss"].as_f64().unwrap() > 0.0);
    }

    #[tokio::test]
    async fn given_row_count_mismatch_then_predictions_mismatch_names_file_and_line() {
        let world = InMemoryWorld::new();
        let p = plan(&world, "regression");
        seed(&world, &p, "a.csv", "1\n2\n3\n", "1\n2\n3\n", "1\n2\n");
        let f = invoke(json!({"plan": p, "model": model()}), &world.dependencies())
            .await
            .unwrap_err();
        f.assert_is("PredictionsMismatch", "a.csv.out line 3");
        f.assert_mentions("2 predictions for 3 ground-truth rows");
        assert!(
            world
                .registry
                .list_evaluations("churn", None)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn given_unparsable_or_missing_files_then_predictions_mismatch() {
        let world = InMemoryWorld::new();
        let p = plan(&world, "regression");
        seed(&world, &p, "a.csv", "1\n2\n", "1\n2\n", "1\noops\n");
        let f = invoke(json!({"plan": p, "model": model()}), &world.dependencies())
            .await
            .unwrap_err();
        f.assert_is("PredictionsMismatch", "a.csv.out line 2");
        let world = InMemoryWorld::new();
        world.store.insert("s3://data-1/x/a.csv", "1\n");
        let f = invoke(json!({"plan": p, "model": model()}), &world.dependencies())
            .await
            .unwrap_err();
        f.assert_mentions("predictions file does not exist");
        let world = InMemoryWorld::new();
        let f = invoke(json!({"plan": p, "model": model()}), &world.dependencies())
            .await
            .unwrap_err();
        f.assert_mentions("no feature files");
    }

    #[tokio::test]
    async fn given_binary_labels_out_of_range_then_predictions_mismatch() {
        let world = InMemoryWorld::new();
        let p = plan(&world, "binary");
        seed(&world, &p, "a.csv", "x\nx\n", "0\n3\n", "0.2\n0.9\n");
        let f = invoke(json!({"plan": p, "model": model()}), &world.dependencies())
            .await
            .unwrap_err();
        f.assert_is("PredictionsMismatch", "y/a.csv line 2");
    }

    #[tokio::test]
    async fn given_store_throttling_then_dependency_unavailable() {
        let world = InMemoryWorld::new();
        let p = plan(&world, "regression");
        world.store.fail_next(PortError::unavailable("SlowDown"));
        let f = invoke(json!({"plan": p, "model": model()}), &world.dependencies())
            .await
            .unwrap_err();
        assert_eq!(f.error_type, "DependencyUnavailable");
    }

    #[tokio::test]
    async fn given_bad_events_then_invalid_input() {
        let world = InMemoryWorld::new();
        let f = invoke(json!({"plan": {}}), &world.dependencies())
            .await
            .unwrap_err();
        f.assert_mentions("/model: is required");
        let p = plan(&world, "regression");
        let mut m = serde_json::to_value(model()).unwrap();
        m["modelName"] = json!("other");
        let f = invoke(json!({"plan": p, "model": m}), &world.dependencies())
            .await
            .unwrap_err();
        f.assert_mentions("/model/modelName");
        let mut m = serde_json::to_value(model()).unwrap();
        m["status"] = json!("Shiny");
        let f = invoke(json!({"plan": p, "model": m}), &world.dependencies())
            .await
            .unwrap_err();
        f.assert_mentions("/model/status");
    }

    #[test]
    fn emf_line_declares_every_metric() {
        let m = BTreeMap::from([("rmse".to_string(), 0.5)]);
        let at = DateTime::parse_from_rfc3339("2024-06-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let v: Value = serde_json::from_str(&emf_line("churn", 3, &m, 10, at)).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_717_200_000_000i64);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "rmse"
        );
        assert_eq!(v["rmse"], 0.5);
        assert_eq!(v["ModelVersion"], "3");
        assert_eq!(v["Rows"], 10);
    }
}
