//! What a retrain trains on — the rule, and the check that its data exists.
//!
//! The rule (documented in `statemachine/README.md`, "Retrain data"):
//!
//! 1. **The evaluation input names the data** (`preprocessing.raw`, or `data.train` and
//!    `data.validation`): the retrain trains on exactly that (newer data wins).
//! 2. **Otherwise** it trains on the evaluated version's own training data — the train and
//!    validation channels recorded on the version ([`TrainingData`], its lineage) — plus, when
//!    the input has a `preprocessing` block, the evaluated batch with its ground truth: the
//!    retrain's processing job reads the version's two channels and the labelled batch
//!    (MonitorPerformance joins each features row with its label) and splits them anew.
//!    Without preprocessing the version's channels are used unchanged.
//!
//! `initialize` decides which case applies ([`plan`]); `find-model`, which knows the version,
//! resolves the concrete locations ([`resolve`]) and checks, before the batch transform starts,
//! that every S3 location holds at least one object ([`missing`]); `is-retraining-needed`
//! builds the training flow's input from the resolved data ([`training_input`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::FnError;
use crate::input::{DataSource, ExecutionInput};
use crate::ports::ObjectStore;
use crate::registry::ModelVersion;
/// The lineage a version records (owned by [`crate::registry`], which stores it).
pub use crate::registry::TrainingData;
use crate::s3uri::S3Uri;

/// Where a retrain's data comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RetrainSource {
    /// The evaluation input names it (`preprocessing.raw` or `data.train` / `data.validation`).
    Input,
    /// The evaluated version's own training data (plus the labelled batch with preprocessing).
    Version,
}

/// `initialize`'s part of the rule, in the evaluation flow's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetrainPlan {
    pub source: RetrainSource,
    /// Where MonitorPerformance writes the evaluated batch as labelled rows (label first), for
    /// the retrain's processing job (only with the version source and preprocessing on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labelled_batch: Option<S3Uri>,
}

/// The data a retrain of the evaluated version would train on (resolved by find-model).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetrainData {
    pub source: RetrainSource,
    /// The version whose data (or whose evaluation) this is.
    pub version: u64,
    /// The training channels (without preprocessing, what the retrain trains on).
    pub train: DataSource,
    pub validation: DataSource,
    /// With preprocessing: the raw labelled inputs of the retrain's processing job.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub raw: Vec<S3Uri>,
    /// Data that must exist before the batch transform starts (S3 prefixes; the labelled batch
    /// is not among them: MonitorPerformance writes it from the ground truth, which is).
    pub required: Vec<S3Uri>,
}

fn named(raw_input: &Value, pointer: &str) -> bool {
    raw_input.pointer(pointer).is_some_and(|v| !v.is_null())
}

/// Whether the evaluation input names the retrain's data, and where the labelled batch goes.
/// `raw_input` is the execution input as given (before defaults), `input` the resolved one.
pub fn plan(raw_input: &Value, input: &ExecutionInput, evaluation_output: &S3Uri) -> RetrainPlan {
    let preprocessing = input.preprocessing.as_ref().filter(|p| p.enabled);
    let names_raw = preprocessing.is_some_and(|p| !p.raw.is_empty());
    let names_channels = named(raw_input, "/data/train") || named(raw_input, "/data/validation");
    if names_raw || names_channels {
        return RetrainPlan {
            source: RetrainSource::Input,
            labelled_batch: None,
        };
    }
    RetrainPlan {
        source: RetrainSource::Version,
        labelled_batch: preprocessing.map(|_| evaluation_output.join("labelled/")),
    }
}

/// Problems of an evaluation input's retrain data that `initialize` reports as `InvalidInput`
/// (pointer, message): both channels or neither.
pub fn input_problems(raw_input: &Value) -> Vec<(String, String)> {
    let train = named(raw_input, "/data/train");
    let validation = named(raw_input, "/data/validation");
    match (train, validation) {
        (true, false) => vec![(
            "/data/validation".into(),
            "is required with /data/train: together they name a retrain's data".into(),
        )],
        (false, true) => vec![(
            "/data/train".into(),
            "is required with /data/validation: together they name a retrain's data".into(),
        )],
        _ => vec![],
    }
}

/// Why the retrain's data cannot be resolved or is missing (`RetrainDataMissing`).
fn missing_error(model: &str, version: u64, detail: impl Into<String>) -> FnError {
    FnError::RetrainDataMissing {
        model: model.to_string(),
        version,
        detail: detail.into(),
    }
}

fn s3_of(source: &DataSource) -> Option<&S3Uri> {
    match source {
        DataSource::S3Uri(u) => Some(u),
        DataSource::FileSystem(_) => None,
    }
}

/// Resolves the plan's rule against the evaluated version.
pub fn resolve(
    input: &ExecutionInput,
    retrain: &RetrainPlan,
    version: &ModelVersion,
) -> Result<RetrainData, FnError> {
    let model = &input.model_name;
    let preprocessing = input.preprocessing.as_ref().filter(|p| p.enabled);
    let (train, validation) = match retrain.source {
        RetrainSource::Input => (input.data.train.clone(), input.data.validation.clone()),
        RetrainSource::Version => {
            let lineage = version.record.training_data.as_ref().ok_or_else(|| {
                missing_error(
                    model,
                    version.version,
                    "the version records no training data (it was registered before versions kept their lineage); name the retrain's data in the evaluation input: preprocessing.raw, or data.train and data.validation",
                )
            })?;
            (lineage.train.clone(), lineage.validation.clone())
        }
    };
    let mut raw = Vec::new();
    let mut required = Vec::new();
    match preprocessing {
        Some(p) if retrain.source == RetrainSource::Input && !p.raw.is_empty() => {
            raw.extend(p.raw.iter().cloned());
            required.extend(p.raw.iter().cloned());
        }
        Some(_) => {
            for (name, source) in [("train", &train), ("validation", &validation)] {
                let uri = s3_of(source).ok_or_else(|| {
                    missing_error(
                        model,
                        version.version,
                        format!(
                            "the {name} data is on a file system, which the retrain's processing job cannot read (it reads S3 only); name the retrain's raw data in preprocessing.raw"
                        ),
                    )
                })?;
                raw.push(uri.clone());
                required.push(uri.clone());
            }
            if let Some(batch) = &retrain.labelled_batch {
                raw.push(batch.clone());
                required.push(input.data.evaluation.ground_truth.clone());
            }
        }
        None => required.extend([&train, &validation].into_iter().filter_map(s3_of).cloned()),
    }
    Ok(RetrainData {
        source: retrain.source,
        version: version.version,
        train,
        validation,
        raw,
        required,
    })
}

/// Every required location under which the store holds no object.
pub async fn missing(store: &dyn ObjectStore, data: &RetrainData) -> Result<Vec<S3Uri>, FnError> {
    let mut out = Vec::new();
    for uri in &data.required {
        if !store
            .any_under(uri)
            .await
            .map_err(|e| FnError::from_port("object store list", e))?
        {
            out.push(uri.clone());
        }
    }
    Ok(out)
}

/// Resolves and checks: the retrain's data, or `RetrainDataMissing` naming every location
/// without objects.
pub async fn resolve_and_check(
    store: &dyn ObjectStore,
    input: &ExecutionInput,
    retrain: &RetrainPlan,
    version: &ModelVersion,
) -> Result<RetrainData, FnError> {
    let data = resolve(input, retrain, version)?;
    let absent = missing(store, &data).await?;
    if !absent.is_empty() {
        let list: Vec<String> = absent.iter().map(S3Uri::to_string).collect();
        let whose = match data.source {
            RetrainSource::Input => "the data the evaluation input names",
            RetrainSource::Version => "the version's own training data",
        };
        return Err(missing_error(
            &input.model_name,
            version.version,
            format!(
                "a retrain would train on {whose}{}, but no S3 objects are under {}",
                if retrain.labelled_batch.is_some() {
                    " and the evaluated batch"
                } else {
                    ""
                },
                list.join(", ")
            ),
        ));
    }
    Ok(data)
}

/// The training flow's input of a retrain: the evaluation's input with the resolved data.
pub fn training_input(evaluation: &ExecutionInput, data: &RetrainData) -> ExecutionInput {
    let mut training = evaluation.clone();
    training.data.train = data.train.clone();
    training.data.validation = data.validation.clone();
    if let Some(p) = training.preprocessing.as_mut().filter(|p| p.enabled) {
        p.raw = data.raw.clone();
        // The retrain's processing job splits its raw inputs anew (they include the evaluated
        // batch, or they are the named channels), whatever the evaluation input's `split`.
        p.split = true;
    }
    training
}

/// The evaluated batch as labelled rows: each features line prefixed with the label (the first
/// CSV column) of the ground-truth line of the same number. `Err` names the line.
pub fn labelled_rows(features: &str, ground_truth: &str) -> Result<String, (u64, String)> {
    let rows = |text: &str| -> Vec<String> {
        let lines: Vec<&str> = text.lines().collect();
        let used = lines
            .iter()
            .rposition(|l| !l.trim().is_empty())
            .map_or(0, |i| i + 1);
        lines[..used].iter().map(|l| l.trim().to_string()).collect()
    };
    let (x, y) = (rows(features), rows(ground_truth));
    if x.len() != y.len() {
        return Err((
            x.len().min(y.len()) as u64 + 1,
            format!("{} feature rows but {} ground-truth rows", x.len(), y.len()),
        ));
    }
    let mut out = String::new();
    for (i, (features, truth)) in x.iter().zip(&y).enumerate() {
        let label = truth.split(',').next().unwrap_or("").trim();
        if label.is_empty() || features.is_empty() {
            return Err((i as u64 + 1, "empty line".into()));
        }
        out.push_str(label);
        out.push(',');
        out.push_str(features);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
