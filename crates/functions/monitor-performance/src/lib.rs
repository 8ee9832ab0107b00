//! monitor-performance: reads the batch transform's predictions (`<output>/<rel>.out` for each
//! features object `<features>/<rel>`) and the ground truth (`<groundTruth>/<rel>`, label in the
//! first CSV column), computes the problem type's metrics, records an evaluation item in the
//! registry and logs a CloudWatch embedded-metric-format (EMF) line.
//!
//! The evaluation is one streaming pass: each object is read a range at a time
//! ([`ObjectStore::get_range`], [`DEFAULT_RANGE_BYTES`] per request) and a line at a time, the
//! features, ground-truth and prediction files of one part in step, and the metrics
//! ([`MetricsAccumulator`]) and drift bins ([`DriftAccumulator`]) are accumulated row by row. What
//! is kept grows by 8 bytes a row only (the labels for r2, or the scores for AUC), not with the
//! size of the files: a 2,000,000-row batch of 20 features (342 MB of CSV) peaks at 73 MiB as a
//! Lambda, against 261 MiB when objects were read whole (BENCHMARKS.md,
//! `scripts/bench-monitor-memory.sh`). Errors name the object and its line. With a labelled
//! batch (a retrain with preprocessing) each part's labelled rows go to a temp file as they are
//! read, uploaded with `ObjectStore::put_file` when the part ends.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mdlc_core::drift::{BaselineProfile, DriftAccumulator, DriftError};
use mdlc_core::input::{Flow, ProblemType};
use mdlc_core::io::{MonitorPerformanceInput, MonitorPerformanceOutput, parse_event, to_value};
use mdlc_core::metrics::{self, MetricsAccumulator};
use mdlc_core::object_lines::{DEFAULT_RANGE_BYTES, LinesError, ObjectLines, Row, Rows};
use mdlc_core::ports::{Clock, ObjectStore, RegistryRead, RegistryWrite};
use mdlc_core::registry::{EvaluationRecord, format_timestamp};
use mdlc_core::s3uri::S3Uri;
use mdlc_core::{Dependencies, FnError, HandlerFailure, PortError};
use serde_json::{Value, json};

/// CloudWatch namespace of the EMF metrics.
pub const EMF_NAMESPACE: &str = "MDLC/ModelPerformance";

/// The object store's error reading `uri`, as the handler's: a missing file is a mismatch of
/// the evaluation data.
fn read_error(uri: &S3Uri, what: &str, e: LinesError) -> FnError {
    match e {
        LinesError::Store(PortError::NotFound { .. }) => FnError::PredictionsMismatch {
            file: uri.to_string(),
            line: None,
            message: format!("the {what} file does not exist"),
        },
        LinesError::Store(other) => FnError::from_port("object store get", other),
        LinesError::NotUtf8 { line, source, .. } => FnError::PredictionsMismatch {
            file: uri.to_string(),
            line: Some(line),
            message: format!("not UTF-8 text: {source}"),
        },
    }
}

/// The rows of one evaluation file, read in ranges; `what` names it in errors.
struct File<'s> {
    rows: Rows<'s>,
    uri: S3Uri,
    name: String,
    what: &'static str,
    count: u64,
}

impl<'s> File<'s> {
    fn new(store: &'s dyn ObjectStore, uri: &S3Uri, what: &'static str, range: u64) -> Self {
        File {
            rows: Rows::new(ObjectLines::new(store, uri.clone(), range)),
            uri: uri.clone(),
            name: uri.to_string(),
            what,
            count: 0,
        }
    }

    async fn next(&mut self) -> Result<Option<Row<'_>>, FnError> {
        let row = match self.rows.next_row().await {
            Ok(row) => row,
            Err(e) => return Err(read_error(&self.uri, self.what, e)),
        };
        if row.is_some() {
            self.count += 1;
        }
        Ok(row)
    }
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
    let ports = (store, registry_read, registry_write, clock);
    handle_in_ranges(input, ports, DEFAULT_RANGE_BYTES).await
}

/// [`handle`], reading objects `range` bytes at a time.
async fn handle_in_ranges(
    input: MonitorPerformanceInput,
    (store, registry_read, registry_write, clock): (
        &dyn ObjectStore,
        &dyn RegistryRead,
        &dyn RegistryWrite,
        &dyn Clock,
    ),
    range: u64,
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
    let features = feature_files(store, &eval.features).await?;
    let profile = baseline_profile(store, &input).await?;
    let mut drift = profile.as_ref().map(DriftAccumulator::new);
    // The retrain's processing job reads the batch as labelled rows (see mdlc_core::retrain).
    let labelled_batch = plan
        .retrain
        .as_ref()
        .and_then(|r| r.labelled_batch.as_ref());
    let mut acc = MetricsAccumulator::new(plan.input.problem_type);
    let mut files = Vec::new();
    for f in &features {
        let rel = f.key.strip_prefix(&eval.features.key).unwrap_or(&f.key);
        let pred_uri = plan.locations.transform_output.join(&format!("{rel}.out"));
        let truth_uri = eval.ground_truth.join(rel);
        let labelled = labelled_batch
            .map(|b| LabelledFile::create(b.join(rel)))
            .transpose()?;
        let part = Part {
            features: (drift.is_some() || labelled.is_some())
                .then(|| File::new(store, f, "features", range)),
            predictions: File::new(store, &pred_uri, "predictions", range),
            truth: File::new(store, &truth_uri, "ground truth", range),
            problem: plan.input.problem_type,
        };
        let labelled = part.evaluate(&mut acc, drift.as_mut(), labelled).await?;
        if let Some(file) = labelled {
            file.upload(store).await?;
        }
        files.push(pred_uri.to_string());
    }
    if acc.rows() == 0 {
        return Err(FnError::PredictionsMismatch {
            file: eval.ground_truth.to_string(),
            line: None,
            message: "the evaluation data has no rows".to_string(),
        });
    }
    let rows = acc.rows();
    let computed = acc.finish();
    let drift = match drift {
        Some(acc) => Some(acc.finish().map_err(drift_error)?),
        None => None,
    };
    let now = clock.now();
    let evaluated_at = evaluation_time(registry_read, plan, now).await?;
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

/// The feature files under the evaluation prefix, in key order (none is an error).
async fn feature_files(store: &dyn ObjectStore, prefix: &S3Uri) -> Result<Vec<S3Uri>, FnError> {
    let mut features: Vec<S3Uri> = store
        .list(prefix)
        .await
        .map_err(|e| FnError::from_port("object store list", e))?
        .into_iter()
        .filter(|o| !o.uri.key.ends_with('/'))
        .map(|o| o.uri)
        .collect();
    features.sort();
    if features.is_empty() {
        return Err(FnError::PredictionsMismatch {
            file: prefix.to_string(),
            line: None,
            message: "no feature files under this prefix".to_string(),
        });
    }
    Ok(features)
}

/// The drift baseline: the input's profile, else the one the version was trained with.
async fn baseline_profile(
    store: &dyn ObjectStore,
    input: &MonitorPerformanceInput,
) -> Result<Option<BaselineProfile>, FnError> {
    let eval = &input.plan.input.data.evaluation;
    Ok(match (&eval.profile, &input.model.record.profile_uri) {
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
    })
}

/// When this evaluation happened: `now`, unless an earlier try of this state (the same
/// execution, within a day) already wrote its item, whose key a retry reuses, never adding one.
async fn evaluation_time(
    registry_read: &dyn RegistryRead,
    plan: &mdlc_core::io::RunPlan,
    now: DateTime<Utc>,
) -> Result<String, FnError> {
    let since = format_timestamp(now - chrono::Duration::days(1));
    Ok(registry_read
        .list_evaluations(&plan.input.model_name, Some(&since))
        .await
        .map_err(|e| FnError::from_port("registry list_evaluations", e))?
        .into_iter()
        .find(|e| e.execution_arn == plan.execution_arn)
        .map(|e| e.evaluated_at)
        .unwrap_or_else(|| format_timestamp(now)))
}

/// One part of the evaluation batch: a features file, its predictions and its ground truth,
/// read in step, row by row.
struct Part<'s> {
    /// Read only for drift or a labelled batch.
    features: Option<File<'s>>,
    predictions: File<'s>,
    truth: File<'s>,
    problem: ProblemType,
}

impl Part<'_> {
    /// Adds the part's rows to `acc` (and its feature rows to `drift`); with `labelled`, also
    /// writes each row's label and features (`label,features`) to its file, returned once the
    /// part is read. Each error names its file and line.
    async fn evaluate(
        mut self,
        acc: &mut MetricsAccumulator,
        mut drift: Option<&mut DriftAccumulator<'_>>,
        mut labelled: Option<LabelledFile>,
    ) -> Result<Option<LabelledFile>, FnError> {
        let (pred_file, truth_file) = (self.predictions.name.clone(), self.truth.name.clone());
        let features_file = self.features.as_ref().map(|f| f.name.clone());
        let features_file = features_file.as_deref().unwrap_or_default();
        loop {
            let x = match self.features.as_mut() {
                Some(f) => f.next().await?,
                None => None,
            };
            if let (Some(row), Some(acc)) = (&x, drift.as_deref_mut()) {
                acc.add_line(features_file, row.line as usize, row.text)
                    .map_err(drift_error)?;
            }
            let p = match self.predictions.next().await? {
                Some(row) => {
                    let (line, text) = blank_or(&row);
                    Some((
                        metrics::parse_prediction_line(&pred_file, line, text)?,
                        line,
                    ))
                }
                None => None,
            };
            let y_row = self.truth.next().await?;
            let y = match &y_row {
                Some(row) => {
                    let (line, text) = blank_or(row);
                    Some((
                        metrics::parse_ground_truth_line(&truth_file, line, text)?,
                        line,
                    ))
                }
                None => None,
            };
            if let (Some(file), Some(xrow), Some(yrow)) = (labelled.as_mut(), &x, &y_row) {
                file.line.clear();
                labelled_row(&mut file.line, xrow, yrow).map_err(|(line, message)| {
                    FnError::PredictionsMismatch {
                        file: truth_file.clone(),
                        line: Some(line),
                        message: format!("{message} (features {features_file})"),
                    }
                })?;
                file.write_line()?;
            }
            match (y, p) {
                (Some((y, y_line)), Some((p, p_line))) => {
                    if self.problem == ProblemType::Binary {
                        metrics::check_binary_label(y, &truth_file, y_line)?;
                        metrics::check_binary_score(p, &pred_file, p_line)?;
                    }
                    acc.add(y, p);
                }
                (None, None) if x.is_none() => break,
                _ => {}
            }
        }
        if let (Some(f), true) = (&self.features, labelled.is_some()) {
            let (x, y) = (f.count, self.truth.count);
            if x != y {
                return Err(FnError::PredictionsMismatch {
                    file: truth_file,
                    line: Some(x.min(y) + 1),
                    message: format!(
                        "{x} feature rows but {y} ground-truth rows (features {})",
                        f.name
                    ),
                });
            }
        }
        let (p, y) = (self.predictions.count, self.truth.count);
        if p != y {
            return Err(FnError::PredictionsMismatch {
                file: pred_file,
                line: Some(p.min(y) + 1),
                message: format!("{p} predictions for {y} ground-truth rows in {truth_file}"),
            });
        }
        Ok(labelled)
    }
}

/// A row's line number and text, or the first blank line before it (and no text): the row
/// parser then fails on that blank line as the whole-text parser does.
fn blank_or<'a>(row: &Row<'a>) -> (u64, &'a str) {
    match row.blank_before {
        Some(line) => (line, ""),
        None => (row.line, row.text),
    }
}

/// A part's labelled rows, written to a file of the function's temp directory (`TMPDIR`, else
/// `/tmp`: a Lambda's ephemeral storage) as they are produced, then uploaded with
/// `ObjectStore::put_file` (the local store copies the file; the default reads it back whole),
/// so the handler holds a row of them, not the part. The file is removed when this is dropped,
/// uploaded or not.
struct LabelledFile {
    to: S3Uri,
    path: std::path::PathBuf,
    out: Option<std::io::BufWriter<std::fs::File>>,
    /// The row being written.
    line: Vec<u8>,
}

impl LabelledFile {
    fn create(to: S3Uri) -> Result<LabelledFile, FnError> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "{LABELLED_TEMP_PREFIX}{}-{n}.csv",
            std::process::id()
        ));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| temp_file_error(&path, &to, &e))?;
        Ok(LabelledFile {
            to,
            path,
            out: Some(std::io::BufWriter::with_capacity(1 << 16, file)),
            line: Vec::new(),
        })
    }

    fn write_line(&mut self) -> Result<(), FnError> {
        use std::io::Write;
        let result = match self.out.as_mut() {
            Some(out) => out.write_all(&self.line),
            None => Ok(()),
        };
        result.map_err(|e| temp_file_error(&self.path, &self.to, &e))
    }

    /// Flushes the rows and uploads them to their object; the file goes when `self` drops.
    async fn upload(mut self, store: &dyn ObjectStore) -> Result<(), FnError> {
        use std::io::Write;
        if let Some(mut out) = self.out.take() {
            out.flush()
                .and_then(|()| out.get_ref().sync_data())
                .map_err(|e| temp_file_error(&self.path, &self.to, &e))?;
        }
        store
            .put_file(&self.to, &self.path)
            .await
            .map_err(|e| FnError::from_port("object store put", e))
    }
}

impl Drop for LabelledFile {
    fn drop(&mut self) {
        drop(self.out.take());
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The start of a labelled part's temp file name (`<prefix><pid>-<n>.csv`).
const LABELLED_TEMP_PREFIX: &str = "mdlc-labelled-";

/// The function's own temp storage failing (full, unwritable) is an unavailable dependency: a
/// retry may find room.
fn temp_file_error(path: &std::path::Path, to: &S3Uri, e: &std::io::Error) -> FnError {
    FnError::DependencyUnavailable {
        message: format!(
            "cannot write the labelled rows for {to} to the temp file {}: {e}",
            path.display()
        ),
    }
}

/// Appends `label,features` (both trimmed) for one row of a labelled batch, as
/// `mdlc_core::retrain::labelled_rows` writes them; `(line, message)` on an empty line.
fn labelled_row(
    out: &mut Vec<u8>,
    features: &Row<'_>,
    truth: &Row<'_>,
) -> Result<(), (u64, String)> {
    if let Some(line) = features.blank_before.or(truth.blank_before) {
        return Err((line, "empty line".into()));
    }
    let label = truth.text.split(',').next().unwrap_or("").trim();
    let features = features.text.trim();
    if label.is_empty() || features.is_empty() {
        return Err((truth.line, "empty line".into()));
    }
    out.extend_from_slice(label.as_bytes());
    out.push(b',');
    out.extend_from_slice(features.as_bytes());
    out.push(b'\n');
    Ok(())
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

    use mdlc_core::drift::BaselineProfile;

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

    fn labelled_temp_files() -> Vec<std::path::PathBuf> {
        let prefix = format!("{LABELLED_TEMP_PREFIX}{}-", std::process::id());
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .map(|e| e.path())
            .collect()
    }

    #[tokio::test]
    async fn given_a_labelled_part_that_fails_then_nothing_is_written_and_its_temp_file_is_gone() {
        let world = InMemoryWorld::new();
        let mut p = plan(&world, "regression");
        let batch: S3Uri = "s3://mdlc-artifacts/evaluations/churn/run/labelled/"
            .parse()
            .unwrap();
        p.retrain = Some(mdlc_core::retrain::RetrainPlan {
            source: mdlc_core::retrain::RetrainSource::Version,
            labelled_batch: Some(batch.clone()),
        });
        // three feature rows, two ground-truth rows
        seed(
            &world,
            &p,
            "a.csv",
            "1,2\n3,4\n5,6\n",
            "3\n4\n",
            "2.5\n0.0\n",
        );
        let err = invoke(json!({"plan": p, "model": model()}), &world.dependencies())
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("3 feature rows but 2 ground-truth rows"),
            "{err}"
        );
        assert!(!world.store.any_under(&batch).await.unwrap());
        assert_eq!(labelled_temp_files(), Vec::<std::path::PathBuf>::new());
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
        // The parts' temp files are gone once uploaded (tests run a process each).
        assert_eq!(labelled_temp_files(), Vec::<std::path::PathBuf>::new());
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

    /// The store of a world, except that data objects can only be read in ranges (the profile
    /// is read whole); counts the ranges read.
    struct RangesOnly {
        world: std::sync::Arc<mdlc_core::memory::InMemoryStore>,
        ranges: std::sync::atomic::AtomicU64,
    }

    #[async_trait::async_trait]
    impl ObjectStore for RangesOnly {
        async fn get(&self, uri: &S3Uri) -> Result<Vec<u8>, PortError> {
            assert!(
                uri.key.ends_with("profile.json"),
                "{uri} was read whole, not in ranges"
            );
            self.world.get(uri).await
        }
        async fn get_range(
            &self,
            uri: &S3Uri,
            offset: u64,
            len: u64,
        ) -> Result<Vec<u8>, PortError> {
            self.ranges
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.world.get_range(uri, offset, len).await
        }
        async fn put(&self, uri: &S3Uri, body: Vec<u8>) -> Result<(), PortError> {
            self.world.put(uri, body).await
        }
        async fn list(
            &self,
            prefix: &S3Uri,
        ) -> Result<Vec<mdlc_core::ports::ObjectInfo>, PortError> {
            self.world.list(prefix).await
        }
        async fn exists(&self, uri: &S3Uri) -> Result<bool, PortError> {
            self.world.exists(uri).await
        }
    }

    const PROFILE_2: &str = r#"{"rows": 8, "problem": "binary", "features": [
        {"name": "f0", "index": 0, "count": 8, "missing": 0,
         "bins": {"edges": [0.25, 0.5, 0.75], "shares": [0.25, 0.25, 0.25, 0.25], "missing_share": 0.0}},
        {"name": "f1", "index": 1, "count": 8, "missing": 1,
         "bins": {"edges": [10.0], "shares": [0.5, 0.5], "missing_share": 0.125}}]}"#;

    /// Seeded evaluation parts: features (2 columns, some missing), labels and scores; CRLF
    /// line ends and trailing blank lines in some.
    fn generated_parts(
        problem: ProblemType,
        parts: usize,
        rows: usize,
    ) -> Vec<(String, String, String, String)> {
        let mut state = 0x5eed_u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..parts)
            .map(|part| {
                let end = if part % 2 == 1 { "\r\n" } else { "\n" };
                let (mut x, mut y, mut p) = (String::new(), String::new(), String::new());
                for _ in 0..rows {
                    let f1 = if next() < 0.1 {
                        String::new()
                    } else {
                        format!("{:.3}", 20.0 * next())
                    };
                    x.push_str(&format!("{:.4},{f1}{end}", next()));
                    let (label, score) = match problem {
                        ProblemType::Binary => {
                            let l = f64::from(next() < 0.4);
                            (l, ((0.5 * next() + 0.5 * l) * 100.0).round() / 100.0)
                        }
                        ProblemType::Regression => {
                            let l = 100.0 * next();
                            (l, l + next() - 0.5)
                        }
                    };
                    y.push_str(&format!("{label},{:.2}{end}", next()));
                    p.push_str(&format!("{score}{end}"));
                }
                if part == 0 {
                    x.push_str("\n\n");
                    p.push_str(" \n");
                }
                (format!("part-{part}.csv"), x, y, p)
            })
            .collect()
    }

    #[tokio::test]
    async fn streamed_evaluation_equals_the_whole_object_computation_at_any_range_size() {
        for (problem, name) in [
            (ProblemType::Binary, "binary"),
            (ProblemType::Regression, "regression"),
        ] {
            let world = InMemoryWorld::new();
            world
                .store
                .insert("s3://data-1/base/profile.json", PROFILE_2);
            let input = json!({"modelName": "churn", "problemType": name,
                               "data": {"evaluation": {"features": "s3://data-1/x/", "groundTruth": "s3://data-1/y/",
                                                       "profile": "s3://data-1/base/profile.json"}}});
            let p = initialize::plan_for(&world, Flow::Evaluation, "e9", input).unwrap();
            // The whole-object computation, on the texts of every part in key order.
            let profile = BaselineProfile::from_json(PROFILE_2.as_bytes()).unwrap();
            let mut whole_drift = DriftAccumulator::new(&profile);
            let (mut labels, mut scores) = (Vec::new(), Vec::new());
            for (file, x, y, preds) in generated_parts(problem, 3, 700) {
                seed(&world, &p, &file, &x, &y, &preds);
                whole_drift.add_csv(&file, &x).unwrap();
                labels.extend(metrics::parse_ground_truth(&file, &y).unwrap());
                scores.extend(metrics::parse_predictions(&file, &preds).unwrap());
            }
            let want_metrics = metrics::compute(problem, &labels, &scores);
            let want_drift = serde_json::to_value(whole_drift.finish().unwrap()).unwrap();
            assert_eq!(
                want_metrics.contains_key("auc"),
                problem == ProblemType::Binary
            );
            let input: MonitorPerformanceInput =
                serde_json::from_value(json!({"plan": p, "model": model()})).unwrap();
            for range in [1, 7, 64, 4096, DEFAULT_RANGE_BYTES] {
                let store = RangesOnly {
                    world: world.store.clone(),
                    ranges: Default::default(),
                };
                let out = handle_in_ranges(
                    input.clone(),
                    (
                        &store,
                        world.registry.as_ref(),
                        world.registry.as_ref(),
                        world.clock.as_ref(),
                    ),
                    range,
                )
                .await
                .unwrap();
                let bits = |m: &BTreeMap<String, f64>| -> Vec<(String, u64)> {
                    m.iter().map(|(k, v)| (k.clone(), v.to_bits())).collect()
                };
                assert_eq!(
                    bits(&out.metrics),
                    bits(&want_metrics),
                    "{name}, ranges of {range}"
                );
                assert_eq!(out.rows, 2100);
                assert_eq!(
                    serde_json::to_value(&out.drift).unwrap(),
                    want_drift,
                    "{name}, ranges of {range}"
                );
                assert!(
                    store.ranges.into_inner() >= 9,
                    "each of the 9 objects is read in ranges"
                );
            }
        }
    }

    #[tokio::test]
    async fn a_bad_row_deep_in_a_file_is_named_by_its_object_and_line_whatever_the_ranges() {
        let world = InMemoryWorld::new();
        let p = plan(&world, "binary");
        let rows = 3000;
        let x = "x\n".repeat(rows);
        let y = "0\n1\n".repeat(rows / 2);
        let mut bad = "0.5\r\n".repeat(rows);
        bad.replace_range(2345 * 5..2345 * 5 + 3, "0.x");
        seed(&world, &p, "a.csv", &x, &y, &bad);
        let input: MonitorPerformanceInput =
            serde_json::from_value(json!({"plan": p, "model": model()})).unwrap();
        let ports = || {
            (
                world.store.as_ref() as &dyn ObjectStore,
                world.registry.as_ref() as &dyn RegistryRead,
                world.registry.as_ref() as &dyn RegistryWrite,
                world.clock.as_ref() as &dyn Clock,
            )
        };
        for range in [3, 100, DEFAULT_RANGE_BYTES] {
            let e = handle_in_ranges(input.clone(), ports(), range)
                .await
                .unwrap_err();
            assert_eq!(
                e,
                FnError::PredictionsMismatch {
                    file: p.locations.transform_output.join("a.csv.out").to_string(),
                    line: Some(2346),
                    message: "\"0.x\" is not a finite number".into(),
                },
                "ranges of {range}"
            );
        }
        // A blank line inside the ground truth, and a line that is not UTF-8, are named too.
        let mut y_blank = "1\n".repeat(rows);
        y_blank.replace_range(1000 * 2..1000 * 2 + 1, " ");
        seed(&world, &p, "a.csv", &x, &y_blank, &"0.5\n".repeat(rows));
        let e = handle_in_ranges(input.clone(), ports(), 64)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, FnError::PredictionsMismatch { file, line: Some(1001), message }
                if file == "s3://data-1/y/a.csv" && message == "empty line"),
            "{e:?}"
        );
        seed(&world, &p, "a.csv", "x\nx\nx\n", "", "0.5\n0.5\n0.5\n");
        world
            .store
            .insert("s3://data-1/y/a.csv", b"1\n0\n\xff\n".to_vec());
        let e = handle_in_ranges(input, ports(), 2).await.unwrap_err();
        assert!(
            matches!(&e, FnError::PredictionsMismatch { file, line: Some(3), message }
                if file == "s3://data-1/y/a.csv" && message.starts_with("not UTF-8 text")),
            "{e:?}"
        );
    }
}
