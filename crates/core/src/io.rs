//! The seven functions' input and output types (the JSON the state machines pass around).
//!
//! Every handler after `initialize` receives the [`RunPlan`] that `initialize` produced, plus
//! the results of earlier states. Payloads stay small: S3 URIs, never data.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{FnError, Problem};
use crate::input::{ExecutionInput, Flow};
use crate::names::RunNames;
use crate::registry::ModelVersion;
use crate::s3uri::S3Uri;

/// S3 locations of one execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Locations {
    /// `OutputDataConfig.S3OutputPath` of the training jobs.
    pub output_path: S3Uri,
    /// `TransformOutput.S3OutputPath` of the evaluation's batch transform.
    pub transform_output: S3Uri,
}

/// The training flow's preprocessing step, derived by `initialize` when
/// `preprocessing.enabled`: the processing job and where it writes. The plan's train and
/// validation channels (`input.data.train` / `input.data.validation`) are these outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProcessingPlan {
    /// The processing job name (the state machine appends `-<retry count>`).
    pub job_name: String,
    /// Output prefix of the train split (with `preprocessing.split` false: the given
    /// `data.train`, which the job only profiles).
    pub train: S3Uri,
    /// Output prefix of the validation split (with `split` false: the given `data.validation`).
    pub validation: S3Uri,
    /// The data profile object (`profile.json`): the drift baseline, recorded on the version.
    pub profile: S3Uri,
    /// The CreateProcessingJob request (PascalCase, as the API takes it).
    pub request: Value,
}

/// What `initialize` produces: the validated input with defaults, the names and locations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunPlan {
    pub flow: Flow,
    pub execution_arn: String,
    pub input: ExecutionInput,
    pub names: RunNames,
    pub locations: Locations,
    /// Training with preprocessing on: the processing job (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preprocessing: Option<ProcessingPlan>,
    /// Evaluation: where a retrain's data comes from ([`crate::retrain`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrain: Option<crate::retrain::RetrainPlan>,
}

impl RunPlan {
    /// `Ok` when the plan is of `flow`; else `InvalidInput` at `/plan/flow` saying `why` (the
    /// step runs only in that flow).
    pub fn require_flow(&self, flow: Flow, why: &str) -> Result<(), FnError> {
        if self.flow == flow {
            Ok(())
        } else {
            Err(FnError::invalid("/plan/flow", why))
        }
    }
}

/// initialize: `{"flow": "training", "executionArn.$": "$$.Execution.Id", "input.$": "$"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InitializeInput {
    pub flow: Flow,
    pub execution_arn: String,
    /// The raw execution input (validated by the handler, every problem reported).
    pub input: Value,
}

/// train: the plan in, the SageMaker request out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrainInput {
    pub plan: RunPlan,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrainOutput {
    /// true → `request` is a CreateHyperParameterTuningJob request; false → CreateTrainingJob.
    pub use_tuning: bool,
    /// The SageMaker API request (PascalCase, as the API takes it).
    pub request: Value,
}

/// create-model: the training job whose artifacts become the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateModelInput {
    pub plan: RunPlan,
    /// The (best) training job.
    pub training_job_name: String,
    #[serde(default)]
    pub tuning_job_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateModelOutput {
    /// The SageMaker model name.
    pub model_name: String,
    pub model_arn: String,
    pub model_data_url: String,
    pub image: String,
    pub training_job_name: String,
    pub tuning_job_name: Option<String>,
    pub hyperparameters: BTreeMap<String, String>,
    pub objective_metric: Option<String>,
    pub objective_value: Option<f64>,
    /// false when the model existed already (a retry).
    pub created: bool,
}

/// register-model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterModelInput {
    pub plan: RunPlan,
    pub model: CreateModelOutput,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterModelOutput {
    pub model_name: String,
    pub version: u64,
    pub status: crate::registry::VersionStatus,
    pub sagemaker_model_name: String,
    /// false when this execution had registered already (a retry).
    pub created: bool,
    /// The version's data profile (null without the preprocessing step).
    #[serde(default)]
    pub profile_uri: Option<String>,
}

/// find-model: the plan (model name, pinned version); the output is [`FindModelOutput`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FindModelInput {
    pub plan: RunPlan,
}

/// find-model's output: the version to evaluate and the (checked) data a retrain of it would
/// train on. The evaluation flow keeps `model` as `$.model.Payload`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FindModelOutput {
    pub model: ModelVersion,
    pub retrain_data: crate::retrain::RetrainData,
}

/// monitor-performance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MonitorPerformanceInput {
    pub plan: RunPlan,
    pub model: ModelVersion,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MonitorPerformanceOutput {
    pub model_name: String,
    pub version: u64,
    pub metrics: BTreeMap<String, f64>,
    pub rows: u64,
    /// The evaluation item's timestamp (with the execution ARN, its key).
    pub evaluated_at: String,
    /// The prediction files read.
    pub files: Vec<String>,
    /// Feature drift against `data.evaluation.profile`, else against the version's `profileUri`
    /// (absent when there is neither).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<crate::drift::DriftReport>,
}

/// is-retraining-needed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IsRetrainingNeededInput {
    pub plan: RunPlan,
    pub model: ModelVersion,
    pub evaluation: MonitorPerformanceOutput,
    /// What a retrain trains on (find-model's `retrainData`, checked before the transform).
    pub retrain_data: crate::retrain::RetrainData,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetrainDecision {
    pub retrain: bool,
    pub reason: String,
    /// When `retrain`: the training flow's execution input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_input: Option<ExecutionInput>,
    /// When `retrain`: the training execution's name (stable across retries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_name: Option<String>,
}

/// Parses an event into `T`. A non-object event, missing and unknown top-level fields are all
/// reported together; deeper problems are reported with the JSON pointer where decoding stopped.
pub fn parse_event<T: DeserializeOwned>(
    event: Value,
    required: &[&str],
    optional: &[&str],
) -> Result<T, FnError> {
    let Value::Object(map) = &event else {
        return Err(FnError::invalid("", "the event must be a JSON object"));
    };
    let mut problems = Vec::new();
    for key in required {
        if map.get(*key).is_none_or(Value::is_null) {
            problems.push(Problem::new(format!("/{key}"), "is required"));
        }
    }
    for key in map.keys() {
        if !required.contains(&key.as_str()) && !optional.contains(&key.as_str()) {
            problems.push(Problem::new(
                format!("/{}", crate::input::pointer_token(key)),
                "unknown field",
            ));
        }
    }
    if !problems.is_empty() {
        return Err(FnError::InvalidInput { problems });
    }
    serde_path_to_error::deserialize(event).map_err(|e| {
        let pointer = path_to_pointer(e.path());
        FnError::invalid(pointer, e.into_inner().to_string())
    })
}

fn path_to_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("/{index}")),
            Segment::Map { key } => {
                out.push('/');
                out.push_str(&crate::input::pointer_token(key));
            }
            Segment::Enum { variant } => {
                out.push('/');
                out.push_str(&crate::input::pointer_token(variant));
            }
            Segment::Unknown => out.push_str("/?"),
        }
    }
    out
}

/// Serializes a handler's output (cannot fail for these types; mapped defensively).
pub fn to_value<T: Serialize>(output: &T) -> Result<Value, FnError> {
    serde_json::to_value(output).map_err(|e| FnError::CorruptData {
        message: format!("could not serialize the output: {e}"),
    })
}
