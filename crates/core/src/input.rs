//! The execution input of both flows: schema, defaults and validation.
//!
//! [`validate`] reads the raw JSON and collects EVERY problem (with its JSON pointer) into one
//! list; on success it returns the resolved [`ExecutionInput`] with every default filled. The
//! resolved input serializes back to the same schema, so it can start another execution (the
//! retrain branch does exactly that).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Problem;
use crate::images;
/// The input's `problemType` (owned by [`crate::metrics`], which knows the metrics of each).
pub use crate::metrics::ProblemType;
use crate::metrics::{Direction, MetricName};
use crate::names::{self, MAX_MODEL_NAME};
use crate::s3uri::S3Uri;

/// Which state machine an execution belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Flow {
    Training,
    Evaluation,
}

/// Where a training channel's data is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum DataSource {
    /// Every object under this S3 prefix.
    S3Uri(S3Uri),
    /// A directory on an EFS or FSx for Lustre file system.
    FileSystem(FileSystemSource),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileSystemType {
    #[serde(rename = "EFS")]
    Efs,
    #[serde(rename = "FSxLustre")]
    FsxLustre,
}

impl FileSystemType {
    pub fn as_str(self) -> &'static str {
        match self {
            FileSystemType::Efs => "EFS",
            FileSystemType::FsxLustre => "FSxLustre",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileSystemSource {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: FileSystemType,
    pub directory_path: String,
    pub read_only: bool,
}

/// The VPC the training flow's SageMaker jobs run in: SageMaker's `VpcConfig` (subnets and
/// security groups), given to the training and tuning jobs, to the preprocessing job
/// (`NetworkConfig.VpcConfig`) and to the model (`CreateModel`), so the evaluation flow's batch
/// transform of that model runs in it too. Required with a file-system channel: SageMaker mounts
/// EFS and FSx for Lustre only from inside a VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VpcConfig {
    pub subnets: Vec<String>,
    pub security_group_ids: Vec<String>,
}

impl VpcConfig {
    /// The SageMaker API shape (`{"Subnets": [...], "SecurityGroupIds": [...]}`).
    pub fn sagemaker(&self) -> Value {
        serde_json::json!({
            "Subnets": self.subnets,
            "SecurityGroupIds": self.security_group_ids
        })
    }
}

/// SageMaker's `VpcConfig` limits (API reference, VpcConfig): 1-16 subnets and 1-5 security
/// groups, each ID at most 32 characters of `[-0-9a-zA-Z]`.
pub const MAX_VPC_SUBNETS: usize = 16;
pub const MAX_VPC_SECURITY_GROUPS: usize = 5;
pub const MAX_VPC_ID_LEN: usize = 32;

/// Labelled data for an evaluation: features (the batch transform's input) and ground truth.
/// For each object `<features><rel>`, the ground truth is `<groundTruth><rel>` (a CSV whose first
/// column is the label) and the predictions are `<transform output><rel>.out`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EvaluationData {
    pub features: S3Uri,
    pub ground_truth: S3Uri,
    /// The baseline data profile (`profile.json` of the preprocessing step) the features are
    /// compared with: monitor-performance then reports feature drift (PSI per feature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<S3Uri>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Data {
    pub train: DataSource,
    pub validation: DataSource,
    pub evaluation: EvaluationData,
    pub content_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricDefinition {
    pub name: String,
    pub regex: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Algorithm {
    pub image: String,
    pub instance_type: String,
    pub instance_count: u32,
    pub volume_size_gb: u32,
    pub max_runtime_seconds: u64,
    pub metric_definitions: Vec<MetricDefinition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Strategy {
    Bayesian,
    Random,
    Grid,
    Hyperband,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RangeType {
    Continuous,
    Integer,
    Categorical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScalingType {
    Auto,
    Linear,
    Logarithmic,
    ReverseLogarithmic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectiveType {
    Minimize,
    Maximize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EarlyStopping {
    Off,
    Auto,
}

impl EarlyStopping {
    /// The SageMaker `TrainingJobEarlyStoppingType` value.
    pub fn sagemaker(self) -> &'static str {
        match self {
            EarlyStopping::Off => "Off",
            EarlyStopping::Auto => "Auto",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParameterRange {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: RangeType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_value: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    pub scaling_type: ScalingType,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Objective {
    pub metric: String,
    #[serde(rename = "type")]
    pub kind: ObjectiveType,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tuning {
    /// Off → one training job with the static hyperparameters.
    pub enabled: bool,
    pub strategy: Strategy,
    pub objective: Objective,
    pub ranges: Vec<ParameterRange>,
    pub static_hyper_parameters: BTreeMap<String, String>,
    pub max_jobs: u32,
    pub max_parallel_jobs: u32,
    pub early_stopping: EarlyStopping,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Monitoring {
    pub metric: MetricName,
    /// Retrain when the metric is worse than this (by `direction`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    pub direction: Direction,
    /// Retrain when the metric is worse than the version's baseline by more than this fraction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_degradation: Option<f64>,
    pub cooldown_seconds: u64,
    pub max_retrains_per_window: u32,
    pub window_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BatchStrategy {
    MultiRecord,
    SingleRecord,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Transform {
    pub instance_type: String,
    pub instance_count: u32,
    pub max_payload_mb: u32,
    pub batch_strategy: BatchStrategy,
    pub max_concurrent_transforms: u32,
}

/// The optional preprocessing step of the training flow: a SageMaker processing job that splits
/// a raw labelled CSV (label in the first column, no header) into the train and validation
/// channels (stratified by label for binary problems) and writes a data profile, the baseline
/// monitor-performance measures feature drift against. With preprocessing on, training reads
/// the processing outputs in place of `data.train` and `data.validation`; with `split` false
/// the job only profiles `data.train` and `data.validation`, and training reads them where
/// they are (no second copy of the rows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Preprocessing {
    /// Off → the block is kept (a retrain carries it) but no processing job runs.
    pub enabled: bool,
    /// `true` (the default): split `raw` into new train and validation channels. `false`: the
    /// training flow's channels are `data.train` and `data.validation` as given, and the
    /// processing job writes only their profile (`raw` must then be absent). A retrain's
    /// processing job always splits ([`crate::retrain::training_input`]).
    #[serde(default = "split_default")]
    pub split: bool,
    /// The raw labelled CSV: one object, or every object under a prefix; or several such
    /// locations (one processing input each). Empty only in an evaluation input, where it means
    /// "a retrain uses the evaluated version's data" ([`crate::retrain`]); the training flow
    /// requires it.
    #[serde(with = "one_or_many", default, skip_serializing_if = "Vec::is_empty")]
    pub raw: Vec<S3Uri>,
    /// Share of the rows (of each class, for binary problems) that go to validation.
    pub validation_ratio: f64,
    /// Seed of the split: the same data and seed give the same split.
    pub seed: u64,
    /// Quantile bins per column in the data profile.
    pub bins: u32,
    /// The processing image (default: the built-in preprocessing program's `mdlc-preprocess`
    /// repository in the account and region of the stack).
    pub image: String,
    pub instance_type: String,
    pub volume_size_gb: u32,
    pub max_runtime_seconds: u64,
}

fn split_default() -> bool {
    true
}

/// `preprocessing.raw` on the wire: one URI as a string, several as an array.
mod one_or_many {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::s3uri::S3Uri;

    pub fn serialize<S: Serializer>(uris: &[S3Uri], s: S) -> Result<S::Ok, S::Error> {
        match uris {
            [one] => one.serialize(s),
            many => many.serialize(s),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(S3Uri),
        Many(Vec<S3Uri>),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<S3Uri>, D::Error> {
        Ok(match OneOrMany::deserialize(d)? {
            OneOrMany::One(u) => vec![u],
            OneOrMany::Many(v) => v,
        })
    }
}

/// Experiment tracking: the MLflow tracking server the flows log to (a parent run per tuning
/// job, a child run per training job, the registered model version, the evaluations).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrackingConfig {
    /// `http(s)://host[:port][/path]`, or a SageMaker managed tracking server's ARN
    /// `arn:aws:sagemaker:<region>:<account>:mlflow-tracking-server/<name>`.
    pub uri: String,
    /// The MLflow experiment (default: the model name).
    pub experiment: String,
}

/// The resolved execution input (every default filled).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecutionInput {
    pub model_name: String,
    pub data_date: String,
    pub problem_type: ProblemType,
    pub data: Data,
    pub algorithm: Algorithm,
    pub tuning: Tuning,
    pub monitoring: Monitoring,
    pub transform: Transform,
    /// Evaluation: the version to evaluate (default: the latest Registered/Approved one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<u64>,
    /// Training: why this model is trained ("initial" by default; the retrain reason otherwise).
    pub reason: String,
    /// Training: the version this one replaces (set by the retrain branch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_version: Option<u64>,
    /// Training: the optional preprocessing step (absent: no processing job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preprocessing: Option<Preprocessing>,
    /// Experiment tracking (absent: off, unless the stack names a default tracking server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking: Option<TrackingConfig>,
    /// The VPC of the training flow's SageMaker jobs (absent: SageMaker's own network).
    /// Required with a file-system channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_config: Option<VpcConfig>,
    /// The approval gate (default off): training registers a new version `PendingApproval`
    /// (used once an operator approves it), and evaluation uses the latest `Approved` version
    /// instead of the latest Registered or Approved one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub approval_required: bool,
}

/// What validation needs from outside the input.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub artifact_bucket: &'a str,
    pub region: &'a str,
    /// "today" for the default data date.
    pub today: NaiveDate,
    /// The AWS account of the stack (the default preprocessing image's registry), when known.
    pub account: Option<&'a str>,
}

// ---------------------------------------------------------------------------------------------
// defaults

pub const DEFAULT_INSTANCE_TYPE: &str = "ml.m5.xlarge";
pub const DEFAULT_TRANSFORM_INSTANCE_TYPE: &str = "ml.m5.large";
pub const DEFAULT_CONTENT_TYPE: &str = "text/csv";
pub const DEFAULT_REASON: &str = "initial";

fn default_objective(problem: ProblemType) -> Objective {
    match problem {
        ProblemType::Regression => Objective {
            metric: "validation:rmse".into(),
            kind: ObjectiveType::Minimize,
        },
        ProblemType::Binary => Objective {
            metric: "validation:auc".into(),
            kind: ObjectiveType::Maximize,
        },
    }
}

/// The direction of a training objective metric from its name, when known.
fn objective_type_of(metric: &str) -> Option<ObjectiveType> {
    let base = metric.rsplit(':').next().unwrap_or(metric);
    MetricName::parse(base)
        .map(|m| m.direction())
        .or(match base {
            "error" | "merror" | "mlogloss" | "mse" | "rmsle" | "mape" => {
                Some(Direction::LowerIsBetter)
            }
            "aucpr" | "map" | "ndcg" => Some(Direction::HigherIsBetter),
            _ => None,
        })
        .map(|d| match d {
            Direction::LowerIsBetter => ObjectiveType::Minimize,
            Direction::HigherIsBetter => ObjectiveType::Maximize,
        })
}

fn xgboost_static_defaults(
    problem: ProblemType,
    objective: &Objective,
) -> BTreeMap<String, String> {
    let eval_metric = objective
        .metric
        .split_once(':')
        .map(|(_, m)| m)
        .unwrap_or(&objective.metric);
    let mut hp = BTreeMap::new();
    hp.insert(
        "objective".to_string(),
        match problem {
            ProblemType::Regression => "reg:squarederror",
            ProblemType::Binary => "binary:logistic",
        }
        .to_string(),
    );
    hp.insert("eval_metric".to_string(), eval_metric.to_string());
    hp.insert("num_round".to_string(), "100".to_string());
    hp
}

fn xgboost_default_ranges() -> Vec<ParameterRange> {
    let continuous = |name: &str, min: f64, max: f64| ParameterRange {
        name: name.to_string(),
        kind: RangeType::Continuous,
        min_value: Some(min),
        max_value: Some(max),
        values: vec![],
        scaling_type: ScalingType::Auto,
    };
    vec![
        continuous("eta", 0.05, 0.5),
        ParameterRange {
            name: "max_depth".into(),
            kind: RangeType::Integer,
            min_value: Some(3.0),
            max_value: Some(8.0),
            values: vec![],
            scaling_type: ScalingType::Auto,
        },
        continuous("min_child_weight", 1.0, 10.0),
        continuous("subsample", 0.5, 1.0),
    ]
}

fn default_monitoring_metric(problem: ProblemType) -> MetricName {
    match problem {
        ProblemType::Regression => MetricName::Rmse,
        ProblemType::Binary => MetricName::Auc,
    }
}

/// Default dataset prefix: `s3://<bucket>/datasets/<model>/<date>/<part>/`.
pub fn default_dataset(bucket: &str, model: &str, date: &str, part: &str) -> S3Uri {
    S3Uri::new(bucket, format!("datasets/{model}/{date}/{part}/"))
}

// ---------------------------------------------------------------------------------------------
// validation

/// Escapes a key for use in a JSON pointer.
pub fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Collects problems while reading raw JSON.
#[derive(Debug, Default)]
pub struct Checker {
    pub problems: Vec<Problem>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Checker {
    pub fn problem(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::new(pointer, message));
    }

    /// `value` as an object whose keys are all in `allowed` (each unknown key is a problem).
    pub fn object<'a>(
        &mut self,
        value: &'a Value,
        pointer: &str,
        allowed: &[&str],
    ) -> Option<&'a Map<String, Value>> {
        let Value::Object(map) = value else {
            self.problem(
                pointer,
                format!("must be an object, got {}", type_name(value)),
            );
            return None;
        };
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                self.problem(
                    format!("{pointer}/{}", pointer_token(key)),
                    format!("unknown field (allowed: {})", allowed.join(", ")),
                );
            }
        }
        Some(map)
    }

    /// The field, `None` when absent or null.
    pub fn field<'a>(map: Option<&'a Map<String, Value>>, key: &str) -> Option<&'a Value> {
        map.and_then(|m| m.get(key)).filter(|v| !v.is_null())
    }

    pub fn string(&mut self, value: Option<&Value>, pointer: &str) -> Option<String> {
        match value {
            None => None,
            Some(Value::String(s)) if s.trim().is_empty() => {
                self.problem(pointer, "must not be empty");
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => {
                self.problem(pointer, format!("must be a string, got {}", type_name(v)));
                None
            }
        }
    }

    pub fn boolean(&mut self, value: Option<&Value>, pointer: &str) -> Option<bool> {
        match value {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(v) => {
                self.problem(
                    pointer,
                    format!("must be true or false, got {}", type_name(v)),
                );
                None
            }
        }
    }

    /// An integer in `min..=max`.
    pub fn integer(
        &mut self,
        value: Option<&Value>,
        pointer: &str,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        let v = value?;
        match v.as_u64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                let shown = match v {
                    Value::String(s) => format!("{s:?}"),
                    other => other.to_string(),
                };
                self.problem(
                    pointer,
                    format!("must be an integer from {min} to {max}, got {shown}"),
                );
                None
            }
        }
    }

    /// A finite number.
    pub fn number(&mut self, value: Option<&Value>, pointer: &str) -> Option<f64> {
        let v = value?;
        match v.as_f64() {
            Some(n) if n.is_finite() => Some(n),
            _ => {
                self.problem(
                    pointer,
                    format!("must be a finite number, got {}", type_name(v)),
                );
                None
            }
        }
    }

    /// One of the named values.
    pub fn choice<T: Copy>(
        &mut self,
        value: Option<&Value>,
        pointer: &str,
        options: &[(&str, T)],
    ) -> Option<T> {
        let s = self.string(value, pointer)?;
        match options.iter().find(|(name, _)| *name == s) {
            Some((_, t)) => Some(*t),
            None => {
                let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
                self.problem(
                    pointer,
                    format!("must be one of {}, got {s:?}", names.join(", ")),
                );
                None
            }
        }
    }

    /// An `s3://bucket/key` URI; with `prefix`, the key must end with `/`.
    pub fn s3uri(&mut self, value: Option<&Value>, pointer: &str, prefix: bool) -> Option<S3Uri> {
        let s = self.string(value, pointer)?;
        match s.parse::<S3Uri>() {
            Ok(u) if prefix && !(u.key.is_empty() || u.key.ends_with('/')) => {
                self.problem(
                    pointer,
                    format!("must be an S3 prefix ending with '/', got {s:?}"),
                );
                None
            }
            Ok(u) => Some(u),
            Err(e) => {
                self.problem(pointer, e.to_string());
                None
            }
        }
    }
}

const ROOT_FIELDS: &[&str] = &[
    "modelName",
    "dataDate",
    "problemType",
    "data",
    "algorithm",
    "tuning",
    "monitoring",
    "transform",
    "modelVersion",
    "reason",
    "parentVersion",
    "preprocessing",
    "tracking",
    "vpcConfig",
    "approvalRequired",
];

/// Validates a raw execution input; every problem is reported, each with its JSON pointer.
pub fn validate(raw: &Value, ctx: &Context<'_>) -> Result<ExecutionInput, Vec<Problem>> {
    let mut c = Checker::default();
    let root = c.object(raw, "", ROOT_FIELDS);
    let f = |k: &str| Checker::field(root, k);
    let model_name = read_model_name(&mut c, f("modelName"), root.is_some());
    let data_date = read_data_date(&mut c, f("dataDate"), ctx);
    let problem_type = read_problem_type(&mut c, f("problemType"));
    let problem = problem_type.unwrap_or(ProblemType::Regression);
    let data = read_data(
        &mut c,
        f("data"),
        ctx,
        model_name.as_deref().unwrap_or("model"),
        data_date.as_deref().unwrap_or("date"),
    );
    let algorithm = read_algorithm(&mut c, f("algorithm"), ctx);
    let builtin = algorithm
        .as_ref()
        .is_some_and(|a| images::is_builtin_xgboost(&a.image));
    let tuning = read_tuning(&mut c, f("tuning"), problem, builtin, algorithm.as_ref());
    let monitoring = read_monitoring(&mut c, f("monitoring"), problem);
    let transform = read_transform(&mut c, f("transform"));
    let model_version = c.integer(f("modelVersion"), "/modelVersion", 1, 9_999_999_999);
    let parent_version = c.integer(f("parentVersion"), "/parentVersion", 1, 9_999_999_999);
    // None when absent, or when invalid (then the problems are recorded).
    let preprocessing = read_preprocessing(&mut c, f("preprocessing"), ctx);
    // None when absent, or when invalid (then the problems are recorded).
    let tracking = read_tracking(&mut c, f("tracking"), model_name.as_deref());
    // None when absent, or when invalid (then the problems are recorded).
    let vpc_config = read_vpc_config(&mut c, f("vpcConfig"));
    let approval_required = c
        .boolean(f("approvalRequired"), "/approvalRequired")
        .unwrap_or(false);
    if f("vpcConfig").is_none() {
        require_vpc_for_file_systems(&mut c, f("data"));
    }
    let reason = read_reason(&mut c, f("reason"));
    // The input, when every part it needs was read.
    let input = (|| {
        Some(ExecutionInput {
            model_name: model_name?,
            data_date: data_date?,
            problem_type: problem_type?,
            data: data?,
            algorithm: algorithm?,
            tuning: tuning?,
            monitoring: monitoring?,
            transform: transform?,
            model_version,
            reason: reason?,
            parent_version,
            preprocessing,
            tracking,
            vpc_config,
            approval_required,
        })
    })();
    match input {
        Some(input) if c.problems.is_empty() => Ok(input),
        _ => {
            if c.problems.is_empty() {
                c.problem("", "invalid execution input");
            }
            Err(c.problems)
        }
    }
}

/// `/modelName`: required (when the input is an object), a valid model name.
fn read_model_name(c: &mut Checker, value: Option<&Value>, in_object: bool) -> Option<String> {
    match c.string(value, "/modelName") {
        Some(name) if names::is_valid_name(&name, MAX_MODEL_NAME) => Some(name),
        Some(name) => {
            c.problem(
                "/modelName",
                format!(
                    "must be 1-{MAX_MODEL_NAME} letters, digits and hyphens, starting and ending with a letter or digit, got {name:?}"
                ),
            );
            None
        }
        None => {
            if in_object && value.is_none() {
                c.problem("/modelName", "is required");
            }
            None
        }
    }
}

/// `/dataDate` as `YYYY-MM-DD`; today when absent.
fn read_data_date(c: &mut Checker, value: Option<&Value>, ctx: &Context<'_>) -> Option<String> {
    match c.string(value, "/dataDate") {
        Some(s) => match NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
            Ok(d) if s.len() == 10 => Some(d.format("%Y-%m-%d").to_string()),
            _ => {
                c.problem("/dataDate", format!("must be a date YYYY-MM-DD, got {s:?}"));
                None
            }
        },
        None => Some(ctx.today.format("%Y-%m-%d").to_string()),
    }
}

/// `/problemType`, regression when absent.
fn read_problem_type(c: &mut Checker, value: Option<&Value>) -> Option<ProblemType> {
    c.choice(
        value,
        "/problemType",
        &[
            ("regression", ProblemType::Regression),
            ("binary", ProblemType::Binary),
        ],
    )
    .or(if value.is_none() {
        Some(ProblemType::Regression)
    } else {
        None
    })
}

/// `/reason`, at most 256 characters; [`DEFAULT_REASON`] when absent.
fn read_reason(c: &mut Checker, value: Option<&Value>) -> Option<String> {
    match c.string(value, "/reason") {
        Some(r) if r.chars().count() > 256 => {
            c.problem("/reason", "must be at most 256 characters");
            None
        }
        Some(r) => Some(r),
        None => Some(DEFAULT_REASON.to_string()),
    }
}

fn read_source(
    c: &mut Checker,
    value: Option<&Value>,
    pointer: &str,
) -> Option<Option<DataSource>> {
    let Some(v) = value else {
        return Some(None);
    };
    if v.is_string() {
        return c
            .s3uri(Some(v), pointer, false)
            .map(|u| Some(DataSource::S3Uri(u)));
    }
    let obj = c.object(v, pointer, &["s3Uri", "fileSystem"])?;
    let s3 = Checker::field(Some(obj), "s3Uri");
    let fs = Checker::field(Some(obj), "fileSystem");
    match (s3, fs) {
        (Some(_), Some(_)) => {
            c.problem(pointer, "give either s3Uri or fileSystem, not both");
            None
        }
        (None, None) => {
            c.problem(pointer, "must have s3Uri or fileSystem");
            None
        }
        (Some(s3), None) => c
            .s3uri(Some(s3), &format!("{pointer}/s3Uri"), false)
            .map(|u| Some(DataSource::S3Uri(u))),
        (None, Some(fs)) => {
            let p = format!("{pointer}/fileSystem");
            let o = c.object(fs, &p, &["id", "type", "directoryPath", "readOnly"])?;
            let field = |k| Checker::field(Some(o), k);
            let id = c
                .string(field("id"), &format!("{p}/id"))
                .filter(|id| file_system_id_ok(c, id, &format!("{p}/id")));
            if field("id").is_none() {
                c.problem(format!("{p}/id"), "is required");
            }
            let kind = c.choice(
                field("type"),
                &format!("{p}/type"),
                &[
                    ("EFS", FileSystemType::Efs),
                    ("FSxLustre", FileSystemType::FsxLustre),
                ],
            );
            if field("type").is_none() {
                c.problem(format!("{p}/type"), "is required (EFS or FSxLustre)");
            }
            let dir = c.string(field("directoryPath"), &format!("{p}/directoryPath"));
            match &dir {
                Some(d) if !d.starts_with('/') => {
                    c.problem(format!("{p}/directoryPath"), "must be an absolute path")
                }
                Some(d) if d.len() > MAX_DIRECTORY_PATH => c.problem(
                    format!("{p}/directoryPath"),
                    format!("must be at most {MAX_DIRECTORY_PATH} characters"),
                ),
                None if field("directoryPath").is_none() => {
                    c.problem(format!("{p}/directoryPath"), "is required")
                }
                _ => {}
            }
            let read_only = c.boolean(field("readOnly"), &format!("{p}/readOnly"));
            Some(Some(DataSource::FileSystem(FileSystemSource {
                id: id?,
                kind: kind?,
                directory_path: dir
                    .filter(|d| d.starts_with('/') && d.len() <= MAX_DIRECTORY_PATH)?,
                read_only: read_only.unwrap_or(true),
            })))
        }
    }
}

/// SageMaker's `FileSystemDataSource` limits (API reference): `FileSystemId` is 11-21
/// characters matching `fs-[0-9a-f]{8,}`, `DirectoryPath` at most 4096 characters.
const MAX_DIRECTORY_PATH: usize = 4096;

fn file_system_id_ok(c: &mut Checker, id: &str, pointer: &str) -> bool {
    let ok = (11..=21).contains(&id.len())
        && id
            .strip_prefix("fs-")
            .is_some_and(|hex| hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    if !ok {
        c.problem(
            pointer,
            format!("must be a file system ID like fs-0123456789abcdef0 (fs- and 8 to 18 lowercase hex digits), got {id:?}"),
        );
    }
    ok
}

/// The pointers of the channels that mount a file system: a `fileSystem` and no `s3Uri`, read
/// from the raw `/data`, so that a channel whose file system is itself invalid (reported where
/// it is) still needs its VPC.
fn file_system_channels(data: Option<&Value>) -> Vec<&'static str> {
    [
        ("/data/train/fileSystem", "train"),
        ("/data/validation/fileSystem", "validation"),
    ]
    .into_iter()
    .filter(|(_, channel)| {
        data.and_then(|d| d.get(channel)).is_some_and(|source| {
            source.get("fileSystem").is_some() && source.get("s3Uri").is_none()
        })
    })
    .map(|(pointer, _)| pointer)
    .collect()
}

/// A file-system channel needs a VPC: SageMaker mounts EFS and FSx for Lustre only there.
fn require_vpc_for_file_systems(c: &mut Checker, data: Option<&Value>) {
    let channels = file_system_channels(data);
    if !channels.is_empty() {
        c.problem(
            "/vpcConfig",
            format!(
                "is required with a file-system channel ({}): SageMaker mounts EFS and FSx for Lustre only from a VPC; give {{\"subnets\": [\"subnet-...\"], \"securityGroupIds\": [\"sg-...\"]}} that reach the file system",
                channels.join(", ")
            ),
        );
    }
}

/// One list of `vpcConfig`: 1..=`max` IDs, each `prefix` then at most 32 characters of
/// `[-0-9a-zA-Z]` in all (SageMaker's pattern and limits).
fn read_vpc_ids(
    c: &mut Checker,
    value: Option<&Value>,
    pointer: &str,
    prefix: &str,
    max: usize,
) -> Option<Vec<String>> {
    let Some(v) = value else {
        c.problem(pointer, "is required");
        return None;
    };
    let Some(items) = v.as_array() else {
        c.problem(
            pointer,
            format!("must be an array of IDs, got {}", type_name(v)),
        );
        return None;
    };
    if items.is_empty() || items.len() > max {
        c.problem(
            pointer,
            format!("must have 1 to {max} items, got {}", items.len()),
        );
        return None;
    }
    let before = c.problems.len();
    let mut ids = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = format!("{pointer}/{i}");
        let Some(id) = c.string(Some(item), &p) else {
            continue;
        };
        let charset_ok = id.bytes().all(|b| b == b'-' || b.is_ascii_alphanumeric());
        if !(id.starts_with(prefix)
            && id.len() > prefix.len()
            && id.len() <= MAX_VPC_ID_LEN
            && charset_ok)
        {
            c.problem(
                &p,
                format!("must be an ID like {prefix}0123456789abcdef0 (at most {MAX_VPC_ID_LEN} letters, digits and hyphens), got {id:?}"),
            );
        } else if ids.contains(&id) {
            c.problem(&p, format!("duplicate ID {id:?}"));
        } else {
            ids.push(id);
        }
    }
    (c.problems.len() == before).then_some(ids)
}

fn read_vpc_config(c: &mut Checker, value: Option<&Value>) -> Option<VpcConfig> {
    let obj = c.object(value?, "/vpcConfig", &["subnets", "securityGroupIds"])?;
    let f = |k| Checker::field(Some(obj), k);
    let subnets = read_vpc_ids(
        c,
        f("subnets"),
        "/vpcConfig/subnets",
        "subnet-",
        MAX_VPC_SUBNETS,
    );
    let security_group_ids = read_vpc_ids(
        c,
        f("securityGroupIds"),
        "/vpcConfig/securityGroupIds",
        "sg-",
        MAX_VPC_SECURITY_GROUPS,
    );
    Some(VpcConfig {
        subnets: subnets?,
        security_group_ids: security_group_ids?,
    })
}

fn read_data(
    c: &mut Checker,
    value: Option<&Value>,
    ctx: &Context<'_>,
    model: &str,
    date: &str,
) -> Option<Data> {
    let obj = match value {
        Some(v) => Some(c.object(
            v,
            "/data",
            &["train", "validation", "evaluation", "contentType"],
        )?),
        None => None,
    };
    let f = |k| Checker::field(obj, k);
    let train = read_source(c, f("train"), "/data/train");
    let validation = read_source(c, f("validation"), "/data/validation");
    let evaluation = match f("evaluation") {
        None => Some(EvaluationData {
            features: default_dataset(ctx.artifact_bucket, model, date, "evaluation/features"),
            ground_truth: default_dataset(ctx.artifact_bucket, model, date, "evaluation/labels"),
            profile: None,
        }),
        Some(v) => {
            let o = c.object(
                v,
                "/data/evaluation",
                &["features", "groundTruth", "profile"],
            );
            let features = c.s3uri(
                Checker::field(o, "features"),
                "/data/evaluation/features",
                true,
            );
            let ground_truth = c.s3uri(
                Checker::field(o, "groundTruth"),
                "/data/evaluation/groundTruth",
                true,
            );
            let profile_value = Checker::field(o, "profile");
            let profile = c.s3uri(profile_value, "/data/evaluation/profile", false);
            if let Some(p) = &profile
                && (p.key.is_empty() || p.key.ends_with('/'))
            {
                c.problem(
                    "/data/evaluation/profile",
                    format!(
                        "must be the URI of a profile object, got {:?}",
                        p.to_string()
                    ),
                );
            }
            for key in ["features", "groundTruth"] {
                if o.is_some() && Checker::field(o, key).is_none() {
                    c.problem(format!("/data/evaluation/{key}"), "is required");
                }
            }
            match (features, ground_truth) {
                (Some(features), Some(ground_truth))
                    if profile.is_some() || profile_value.is_none() =>
                {
                    Some(EvaluationData {
                        features,
                        ground_truth,
                        profile,
                    })
                }
                _ => None,
            }
        }
    };
    let content_type = match c.string(f("contentType"), "/data/contentType") {
        Some(ct) if ct == "text/csv" || ct == "text/csv; label_size=1" => Some(ct),
        Some(ct) => {
            c.problem(
                "/data/contentType",
                format!("only text/csv is supported, got {ct:?}"),
            );
            None
        }
        None => Some(DEFAULT_CONTENT_TYPE.to_string()),
    };
    Some(Data {
        train: train?.unwrap_or_else(|| {
            DataSource::S3Uri(default_dataset(ctx.artifact_bucket, model, date, "train"))
        }),
        validation: validation?.unwrap_or_else(|| {
            DataSource::S3Uri(default_dataset(
                ctx.artifact_bucket,
                model,
                date,
                "validation",
            ))
        }),
        evaluation: evaluation?,
        content_type: content_type?,
    })
}

fn read_algorithm(c: &mut Checker, value: Option<&Value>, ctx: &Context<'_>) -> Option<Algorithm> {
    let obj = match value {
        Some(v) => Some(c.object(
            v,
            "/algorithm",
            &[
                "image",
                "instanceType",
                "instanceCount",
                "volumeSizeGb",
                "maxRuntimeSeconds",
                "metricDefinitions",
            ],
        )?),
        None => None,
    };
    let f = |k| Checker::field(obj, k);
    let image = match c.string(f("image"), "/algorithm/image") {
        Some(i) => Some(i),
        None if f("image").is_some() => None,
        None => match images::xgboost_image(ctx.region) {
            Some(i) => Some(i),
            None => {
                c.problem(
                    "/algorithm/image",
                    format!(
                        "is required: there is no built-in XGBoost image in region {}",
                        ctx.region
                    ),
                );
                None
            }
        },
    };
    let instance_type = read_instance_type(c, f("instanceType"), "/algorithm/instanceType")
        .unwrap_or_else(|| DEFAULT_INSTANCE_TYPE.to_string());
    let instance_count = c.integer(f("instanceCount"), "/algorithm/instanceCount", 1, 100);
    let volume = c.integer(f("volumeSizeGb"), "/algorithm/volumeSizeGb", 1, 16384);
    let runtime = c.integer(
        f("maxRuntimeSeconds"),
        "/algorithm/maxRuntimeSeconds",
        1,
        2_419_200,
    );
    let mut metric_definitions = Vec::new();
    let mut ok = true;
    if let Some(v) = f("metricDefinitions") {
        match v.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    let p = format!("/algorithm/metricDefinitions/{i}");
                    let o = c.object(item, &p, &["name", "regex"]);
                    let name = c.string(Checker::field(o, "name"), &format!("{p}/name"));
                    let regex = c.string(Checker::field(o, "regex"), &format!("{p}/regex"));
                    match (name, regex) {
                        (Some(name), Some(regex)) => {
                            metric_definitions.push(MetricDefinition { name, regex })
                        }
                        _ => {
                            if o.is_some() {
                                c.problem(p, "needs a name and a regex");
                            }
                            ok = false;
                        }
                    }
                }
            }
            None => {
                c.problem(
                    "/algorithm/metricDefinitions",
                    "must be an array of {name, regex}",
                );
                ok = false;
            }
        }
    }
    if (f("instanceCount").is_some() && instance_count.is_none())
        || (f("volumeSizeGb").is_some() && volume.is_none())
        || (f("maxRuntimeSeconds").is_some() && runtime.is_none())
        || !ok
    {
        return None;
    }
    Some(Algorithm {
        image: image?,
        instance_type,
        instance_count: instance_count.unwrap_or(1) as u32,
        volume_size_gb: volume.unwrap_or(30) as u32,
        max_runtime_seconds: runtime.unwrap_or(3600),
        metric_definitions,
    })
}

pub const DEFAULT_PREPROCESSING_INSTANCE_TYPE: &str = "ml.m5.large";
pub const DEFAULT_VALIDATION_RATIO: f64 = 0.2;
pub const DEFAULT_PREPROCESSING_SEED: u64 = 42;
pub const DEFAULT_PROFILE_BINS: u32 = 10;

fn read_preprocessing(
    c: &mut Checker,
    value: Option<&Value>,
    ctx: &Context<'_>,
) -> Option<Preprocessing> {
    let obj = c.object(
        value?,
        "/preprocessing",
        &[
            "enabled",
            "split",
            "raw",
            "validationRatio",
            "seed",
            "bins",
            "image",
            "instanceType",
            "volumeSizeGb",
            "maxRuntimeSeconds",
        ],
    )?;
    let f = |k| Checker::field(Some(obj), k);
    let before = c.problems.len();
    let enabled = c
        .boolean(f("enabled"), "/preprocessing/enabled")
        .unwrap_or(true);
    let split = c
        .boolean(f("split"), "/preprocessing/split")
        .unwrap_or(true);
    let raw = read_raw(c, f("raw"));
    let validation_ratio = match f("validationRatio") {
        None => Some(DEFAULT_VALIDATION_RATIO),
        v => match c.number(v, "/preprocessing/validationRatio") {
            Some(r) if r > 0.0 && r < 1.0 => Some(r),
            Some(r) => {
                c.problem(
                    "/preprocessing/validationRatio",
                    format!("must be strictly between 0 and 1 (0.2 = 20% of the rows), got {r}"),
                );
                None
            }
            None => None,
        },
    };
    let seed = c
        .integer(f("seed"), "/preprocessing/seed", 0, u64::from(u32::MAX))
        .unwrap_or(DEFAULT_PREPROCESSING_SEED);
    let bins = c
        .integer(f("bins"), "/preprocessing/bins", 2, 1000)
        .unwrap_or(u64::from(DEFAULT_PROFILE_BINS));
    let image = match c.string(f("image"), "/preprocessing/image") {
        Some(i) => Some(i),
        None if f("image").is_some() => None,
        None => match ctx.account {
            Some(account) => Some(images::preprocess_image(ctx.region, account)),
            None => {
                c.problem(
                    "/preprocessing/image",
                    "is required: the account of the default preprocessing image is unknown",
                );
                None
            }
        },
    };
    let instance_type = read_instance_type(c, f("instanceType"), "/preprocessing/instanceType")
        .unwrap_or_else(|| DEFAULT_PREPROCESSING_INSTANCE_TYPE.to_string());
    let volume = c
        .integer(f("volumeSizeGb"), "/preprocessing/volumeSizeGb", 1, 16384)
        .unwrap_or(30);
    let runtime = c
        .integer(
            f("maxRuntimeSeconds"),
            "/preprocessing/maxRuntimeSeconds",
            1,
            777_600,
        )
        .unwrap_or(3600);
    if c.problems.len() > before {
        return None;
    }
    Some(Preprocessing {
        enabled,
        split,
        raw: raw?,
        validation_ratio: validation_ratio?,
        seed,
        bins: bins as u32,
        image: image?,
        instance_type,
        volume_size_gb: volume as u32,
        max_runtime_seconds: runtime,
    })
}

/// The most raw inputs a processing job may read (CreateProcessingJob accepts at most 10
/// `ProcessingInputs`; a retrain's processing job reads them all).
pub const MAX_RAW_INPUTS: usize = 10;

/// `preprocessing.raw`: an S3 URI, or an array of 1 to [`MAX_RAW_INPUTS`]
/// (absent: empty; the training flow's `initialize` requires it).
fn read_raw(c: &mut Checker, value: Option<&Value>) -> Option<Vec<S3Uri>> {
    const POINTER: &str = "/preprocessing/raw";
    let Some(Value::Array(items)) = value else {
        return match value {
            None => Some(Vec::new()),
            v => c.s3uri(v, POINTER, false).map(|u| vec![u]),
        };
    };
    let max = MAX_RAW_INPUTS;
    if items.is_empty() || items.len() > max {
        c.problem(
            POINTER,
            format!("must be an S3 URI or an array of 1 to {max} S3 URIs (one processing input each), got {} items", items.len()),
        );
        return None;
    }
    let uris: Vec<Option<S3Uri>> = items
        .iter()
        .enumerate()
        .map(|(i, v)| c.s3uri(Some(v), &format!("{POINTER}/{i}"), false))
        .collect();
    uris.into_iter().collect()
}

fn read_instance_type(c: &mut Checker, value: Option<&Value>, pointer: &str) -> Option<String> {
    let s = c.string(value, pointer)?;
    if s.starts_with("ml.") && s.len() > 3 {
        Some(s)
    } else {
        c.problem(
            pointer,
            format!("must be a SageMaker instance type like ml.m5.xlarge, got {s:?}"),
        );
        None
    }
}

fn hyperparameter_value(c: &mut Checker, v: &Value, pointer: &str) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => {
            c.problem(
                pointer,
                format!(
                    "must be a string, number or boolean, got {}",
                    type_name(other)
                ),
            );
            None
        }
    }
}

/// The fields of a range of `/tuning/ranges`.
const RANGE_FIELDS: &[&str] = &[
    "name",
    "type",
    "minValue",
    "maxValue",
    "values",
    "scalingType",
];

/// One range of `/tuning/ranges` at `p`; `None` when any of its problems is reported.
fn read_range(c: &mut Checker, v: &Value, p: &str) -> Option<ParameterRange> {
    let o = c.object(v, p, RANGE_FIELDS)?;
    let f = |k| Checker::field(Some(o), k);
    let name = c.string(f("name"), &format!("{p}/name"));
    if f("name").is_none() {
        c.problem(format!("{p}/name"), "is required");
    }
    let kind = read_range_type(c, f("type"), p);
    let scaling = read_scaling_type(c, f("scalingType"), p);
    let kind = kind?;
    let scaling = scaling?;
    let (min_value, max_value, values) = match kind {
        RangeType::Continuous | RangeType::Integer => {
            let (min, max) = read_numeric_bounds(c, o, p, kind, scaling)?;
            (Some(min), Some(max), Vec::new())
        }
        RangeType::Categorical => (None, None, read_categorical_values(c, o, p, scaling)?),
    };
    Some(ParameterRange {
        name: name?,
        kind,
        min_value,
        max_value,
        values,
        scaling_type: scaling,
    })
}

/// A range's `type`, required.
fn read_range_type(c: &mut Checker, value: Option<&Value>, p: &str) -> Option<RangeType> {
    let kind = c.choice(
        value,
        &format!("{p}/type"),
        &[
            ("Continuous", RangeType::Continuous),
            ("Integer", RangeType::Integer),
            ("Categorical", RangeType::Categorical),
        ],
    );
    if value.is_none() {
        c.problem(
            format!("{p}/type"),
            "is required (Continuous, Integer or Categorical)",
        );
    }
    kind
}

/// A range's `scalingType`, Auto when absent.
fn read_scaling_type(c: &mut Checker, value: Option<&Value>, p: &str) -> Option<ScalingType> {
    match value {
        None => Some(ScalingType::Auto),
        v => c.choice(
            v,
            &format!("{p}/scalingType"),
            &[
                ("Auto", ScalingType::Auto),
                ("Linear", ScalingType::Linear),
                ("Logarithmic", ScalingType::Logarithmic),
                ("ReverseLogarithmic", ScalingType::ReverseLogarithmic),
            ],
        ),
    }
}

/// A Continuous or Integer range's `minValue` and `maxValue` (required, whole numbers for an
/// Integer range, fitting its scaling); it takes no `values`.
fn read_numeric_bounds(
    c: &mut Checker,
    o: &Map<String, Value>,
    p: &str,
    kind: RangeType,
    scaling: ScalingType,
) -> Option<(f64, f64)> {
    let f = |k| Checker::field(Some(o), k);
    let mut ok = true;
    if f("values").is_some() {
        c.problem(format!("{p}/values"), "only Categorical ranges take values");
        ok = false;
    }
    let min = c.number(f("minValue"), &format!("{p}/minValue"));
    let max = c.number(f("maxValue"), &format!("{p}/maxValue"));
    for (key, val) in [("minValue", min), ("maxValue", max)] {
        if f(key).is_none() {
            c.problem(format!("{p}/{key}"), "is required");
        }
        if kind == RangeType::Integer && val.is_some_and(|x| x.fract() != 0.0) {
            c.problem(
                format!("{p}/{key}"),
                "must be an integer for an Integer range",
            );
            ok = false;
        }
    }
    if let (Some(lo), Some(hi)) = (min, max) {
        ok &= bounds_fit_scaling(c, p, kind, scaling, lo, hi);
    }
    if !ok {
        return None;
    }
    Some((min?, max?))
}

/// `lo < hi`, and the bounds the scaling needs: Logarithmic above 0, ReverseLogarithmic
/// (Continuous only) within `[0, 1)`. Reports what does not hold.
fn bounds_fit_scaling(
    c: &mut Checker,
    p: &str,
    kind: RangeType,
    scaling: ScalingType,
    lo: f64,
    hi: f64,
) -> bool {
    let mut ok = true;
    if lo >= hi {
        c.problem(format!("{p}/maxValue"), "must be greater than minValue");
        ok = false;
    }
    match scaling {
        ScalingType::Logarithmic if lo <= 0.0 => {
            c.problem(
                format!("{p}/minValue"),
                "must be greater than 0 for Logarithmic scaling",
            );
            false
        }
        ScalingType::ReverseLogarithmic if kind == RangeType::Integer => {
            c.problem(
                format!("{p}/scalingType"),
                "ReverseLogarithmic applies only to Continuous ranges",
            );
            false
        }
        ScalingType::ReverseLogarithmic if !(lo >= 0.0 && hi < 1.0) => {
            c.problem(
                format!("{p}/minValue"),
                "ReverseLogarithmic scaling needs 0 <= minValue < maxValue < 1",
            );
            false
        }
        _ => ok,
    }
}

/// A Categorical range's `values` (1 to 30, each a string, number or boolean); it takes no
/// bounds and no scaling type other than Auto.
fn read_categorical_values(
    c: &mut Checker,
    o: &Map<String, Value>,
    p: &str,
    scaling: ScalingType,
) -> Option<Vec<String>> {
    let f = |k| Checker::field(Some(o), k);
    let mut ok = true;
    for key in ["minValue", "maxValue"] {
        if f(key).is_some() {
            c.problem(
                format!("{p}/{key}"),
                "Categorical ranges take values, not bounds",
            );
            ok = false;
        }
    }
    if scaling != ScalingType::Auto {
        c.problem(
            format!("{p}/scalingType"),
            "Categorical ranges take no scaling type",
        );
        ok = false;
    }
    let mut values = Vec::new();
    match f("values").and_then(Value::as_array) {
        Some(items) if !items.is_empty() && items.len() <= 30 => {
            for (i, item) in items.iter().enumerate() {
                match hyperparameter_value(c, item, &format!("{p}/values/{i}")) {
                    Some(s) => values.push(s),
                    None => ok = false,
                }
            }
        }
        _ => {
            c.problem(format!("{p}/values"), "must be an array of 1 to 30 values");
            ok = false;
        }
    }
    ok.then_some(values)
}

/// SageMaker's quota: "[Grid] Number of training jobs per hyperparameter tuning job, either
/// specified explicitly or inferred from the search space": 750, not adjustable (Resource
/// Limits for Automatic Model Tuning, SageMaker developer guide).
pub const GRID_MAX_TRAINING_JOBS: u64 = 750;

/// The number of training jobs of a Grid tuning job: one per combination of the values of
/// its ranges. "Only categorical parameters are supported when using the grid search
/// strategy [...] If specified, the value of MaxNumberOfTrainingJobs should equal the total
/// number of distinct categorical combinations possible" (SageMaker developer guide,
/// "Understand the hyperparameter tuning strategies available", Grid search). Reports each
/// combination count above [`GRID_MAX_TRAINING_JOBS`] and a `maxJobs` that differs from it;
/// `None` when either is reported. (Integer and Continuous ranges are reported before, from the
/// raw input: [`grid_ranges_are_categorical`].)
/// SageMaker's own wording of these ValidationExceptions is not published; the messages are ours.
fn grid_job_count(
    c: &mut Checker,
    ranges: &[ParameterRange],
    max_jobs: Option<u64>,
) -> Option<u64> {
    let combinations = ranges
        .iter()
        .try_fold(1u128, |n, r| n.checked_mul(r.values.len() as u128));
    let count = match combinations {
        Some(n) if n <= u128::from(GRID_MAX_TRAINING_JOBS) => n as u64,
        too_many => {
            let n = too_many.map_or_else(|| format!("more than {}", u128::MAX), |n| n.to_string());
            c.problem(
                "/tuning/ranges",
                format!(
                    "give {n} combinations of values; the Grid strategy runs one training job per combination and allows at most {GRID_MAX_TRAINING_JOBS}"
                ),
            );
            return None;
        }
    };
    if let Some(given) = max_jobs.filter(|given| *given != count) {
        c.problem(
            "/tuning/maxJobs",
            format!(
                "is {given}, but the Grid strategy runs one training job per combination and the ranges give {count} combinations; give {count} or omit maxJobs"
            ),
        );
        return None;
    }
    Some(count)
}

/// The fields of `/tuning`.
const TUNING_FIELDS: &[&str] = &[
    "enabled",
    "strategy",
    "objective",
    "ranges",
    "staticHyperParameters",
    "maxJobs",
    "maxParallelJobs",
    "earlyStopping",
];

/// `/tuning`, with its defaults filled in. Its fields are read in order, so that problems are
/// reported in that order; `None` when any is reported.
fn read_tuning(
    c: &mut Checker,
    value: Option<&Value>,
    problem: ProblemType,
    builtin: bool,
    algorithm: Option<&Algorithm>,
) -> Option<Tuning> {
    let obj = match value {
        Some(v) => Some(c.object(v, "/tuning", TUNING_FIELDS)?),
        None => None,
    };
    let f = |k| Checker::field(obj, k);
    let before = c.problems.len();
    let enabled = c.boolean(f("enabled"), "/tuning/enabled").unwrap_or(true);
    let strategy = read_strategy(c, f("strategy"));
    let objective = read_objective(c, f("objective"), problem);
    let ranges_given = f("ranges").is_some();
    // the ranges as given, for the checks that must see an invalid range too
    let raw_ranges = f("ranges")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let mut ranges = read_ranges(c, f("ranges"), enabled, builtin, algorithm.is_some());
    let user_statics = f("staticHyperParameters").and_then(Value::as_object);
    let defaults = match (builtin, objective.as_ref()) {
        (true, Some(o)) => xgboost_static_defaults(problem, o),
        _ => BTreeMap::new(),
    };
    let mut statics = read_static_hyper_parameters(c, f("staticHyperParameters"), defaults);
    if !ranges_given && let (Some(ranges), Some(user)) = (ranges.as_mut(), user_statics) {
        drop_default_ranges_fixed_by_user(ranges, user);
    }
    if enabled {
        let parsed = ranges.as_deref().unwrap_or_default();
        keep_tuned_out_of_statics(c, raw_ranges, parsed, &mut statics, user_statics);
    }
    let given_max_jobs = c.integer(f("maxJobs"), "/tuning/maxJobs", 1, 750);
    let grid_jobs = if enabled && strategy == Some(Strategy::Grid) {
        grid_tuning_jobs(
            c,
            ranges_given,
            raw_ranges,
            builtin,
            ranges.as_deref(),
            given_max_jobs,
        )
    } else {
        None
    };
    let max_jobs = grid_jobs.or(given_max_jobs).unwrap_or(8);
    let max_parallel =
        read_max_parallel_jobs(c, f("maxParallelJobs"), max_jobs, grid_jobs.is_some());
    let early_stopping = read_early_stopping(c, f("earlyStopping"));
    if enabled {
        check_hyperband_stops_jobs_itself(c, strategy, early_stopping);
        if !builtin && let (Some(alg), Some(o)) = (algorithm, objective.as_ref()) {
            check_objective_metric_is_defined(c, o, alg);
        }
    }
    if c.problems.len() > before {
        return None;
    }
    Some(Tuning {
        enabled,
        strategy: strategy?,
        objective: objective?,
        ranges: ranges?,
        static_hyper_parameters: statics,
        max_jobs: max_jobs as u32,
        max_parallel_jobs: max_parallel as u32,
        early_stopping: early_stopping?,
    })
}

/// `/tuning/strategy`, Bayesian when absent.
fn read_strategy(c: &mut Checker, value: Option<&Value>) -> Option<Strategy> {
    match value {
        None => Some(Strategy::Bayesian),
        v => c.choice(
            v,
            "/tuning/strategy",
            &[
                ("Bayesian", Strategy::Bayesian),
                ("Random", Strategy::Random),
                ("Grid", Strategy::Grid),
                ("Hyperband", Strategy::Hyperband),
            ],
        ),
    }
}

/// `/tuning/objective`, the problem type's default objective when absent.
fn read_objective(
    c: &mut Checker,
    value: Option<&Value>,
    problem: ProblemType,
) -> Option<Objective> {
    let Some(v) = value else {
        return Some(default_objective(problem));
    };
    let o = c.object(v, "/tuning/objective", &["metric", "type"]);
    let metric = c.string(Checker::field(o, "metric"), "/tuning/objective/metric");
    if o.is_some() && Checker::field(o, "metric").is_none() {
        c.problem("/tuning/objective/metric", "is required");
    }
    let kind = read_objective_type(c, Checker::field(o, "type"), metric.as_deref());
    Some(Objective {
        metric: metric?,
        kind: kind?,
    })
}

/// `/tuning/objective/type`; when absent, the direction of a known `metric`.
fn read_objective_type(
    c: &mut Checker,
    value: Option<&Value>,
    metric: Option<&str>,
) -> Option<ObjectiveType> {
    match value {
        None => match metric.map(objective_type_of) {
            Some(Some(k)) => Some(k),
            Some(None) => {
                c.problem(
                    "/tuning/objective/type",
                    "is required for this metric (Minimize or Maximize)",
                );
                None
            }
            None => None,
        },
        v => c.choice(
            v,
            "/tuning/objective/type",
            &[
                ("Minimize", ObjectiveType::Minimize),
                ("Maximize", ObjectiveType::Maximize),
            ],
        ),
    }
}

/// `/tuning/ranges`. When absent: the built-in algorithm's default ranges, none for a custom
/// image (which needs them when tuning is enabled).
fn read_ranges(
    c: &mut Checker,
    value: Option<&Value>,
    enabled: bool,
    builtin: bool,
    custom_image: bool,
) -> Option<Vec<ParameterRange>> {
    match value {
        None if builtin => Some(xgboost_default_ranges()),
        None => {
            // Only a valid custom image needs ranges: an invalid algorithm is reported on its own.
            if enabled && custom_image {
                c.problem(
                    "/tuning/ranges",
                    "is required when tuning is enabled with a custom algorithm image",
                );
            }
            Some(vec![])
        }
        Some(Value::Array(items)) => read_range_list(c, items, enabled),
        Some(v) => {
            c.problem(
                "/tuning/ranges",
                format!("must be an array, got {}", type_name(v)),
            );
            None
        }
    }
}

/// Each range of `/tuning/ranges`, their names distinct; not empty when tuning is enabled.
fn read_range_list(c: &mut Checker, items: &[Value], enabled: bool) -> Option<Vec<ParameterRange>> {
    let mut out = Vec::new();
    let mut ok = true;
    let mut names = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let range = read_range(c, item, &format!("/tuning/ranges/{i}"));
        // by the raw name, so that a range invalid in another way still counts
        if let Some(name) = item.get("name").and_then(Value::as_str) {
            if names.contains(&name) {
                c.problem(
                    format!("/tuning/ranges/{i}/name"),
                    format!("duplicate range {name:?}"),
                );
                ok = false;
            }
            names.push(name);
        }
        match range {
            Some(r) => out.push(r),
            None => ok = false,
        }
    }
    if enabled && items.is_empty() {
        c.problem("/tuning/ranges", "must not be empty when tuning is enabled");
        ok = false;
    }
    ok.then_some(out)
}

/// `defaults` overridden by `/tuning/staticHyperParameters`.
fn read_static_hyper_parameters(
    c: &mut Checker,
    value: Option<&Value>,
    mut statics: BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let Some(v) = value else {
        return statics;
    };
    match v.as_object() {
        Some(map) => {
            for (name, val) in map {
                if let Some(s) = read_static_hyper_parameter(c, name, val) {
                    statics.insert(name.clone(), s);
                }
            }
        }
        None => c.problem(
            "/tuning/staticHyperParameters",
            format!("must be an object of name → value, got {}", type_name(v)),
        ),
    }
    statics
}

/// One static hyperparameter's value as a string. A name or a value beyond SageMaker's
/// lengths is reported, and the value still returned.
fn read_static_hyper_parameter(c: &mut Checker, name: &str, value: &Value) -> Option<String> {
    let p = format!("/tuning/staticHyperParameters/{}", pointer_token(name));
    if name.is_empty() || name.len() > 256 {
        c.problem(&p, "hyperparameter names must be 1-256 characters");
    }
    let s = hyperparameter_value(c, value, &p)?;
    if s.len() > 2500 {
        c.problem(&p, "values must be at most 2500 characters");
    }
    Some(s)
}

/// Default ranges give way to hyperparameters the user fixed.
fn drop_default_ranges_fixed_by_user(ranges: &mut Vec<ParameterRange>, user: &Map<String, Value>) {
    ranges.retain(|r| !user.contains_key(&r.name));
}

/// A tuned hyperparameter is not static: a default static gives way to it, and one the user
/// fixed is reported, by the names of the raw ranges given (so a range that is invalid in another
/// way is reported too; the default ranges the user fixed were dropped before).
fn keep_tuned_out_of_statics(
    c: &mut Checker,
    raw_ranges: &[Value],
    ranges: &[ParameterRange],
    statics: &mut BTreeMap<String, String>,
    user_statics: Option<&Map<String, Value>>,
) {
    let fixed = |name: &str| user_statics.is_some_and(|m| m.contains_key(name));
    for (i, range) in raw_ranges.iter().enumerate() {
        if let Some(name) = range.get("name").and_then(Value::as_str)
            && fixed(name)
        {
            c.problem(
                format!("/tuning/ranges/{i}/name"),
                format!("{name:?} is both tuned and static"),
            );
        }
    }
    for r in ranges.iter().filter(|r| !fixed(&r.name)) {
        statics.remove(&r.name);
    }
}

/// The number of training jobs of an enabled Grid tuning job ([`grid_job_count`]); the
/// built-in algorithm's default ranges are no Grid ranges, so they must be given.
fn grid_tuning_jobs(
    c: &mut Checker,
    ranges_given: bool,
    raw_ranges: &[Value],
    builtin: bool,
    ranges: Option<&[ParameterRange]>,
    given_max_jobs: Option<u64>,
) -> Option<u64> {
    if !ranges_given {
        if builtin {
            c.problem(
                "/tuning/ranges",
                "is required with the Grid strategy: it takes only Categorical ranges, and the default ranges are Integer and Continuous",
            );
        }
        return None;
    }
    if !grid_ranges_are_categorical(c, raw_ranges) {
        return None;
    }
    ranges.and_then(|r| grid_job_count(c, r, given_max_jobs))
}

/// Reports each range of the raw `/tuning/ranges` whose `type` is Integer or Continuous: the
/// Grid strategy takes only Categorical ranges. Read from the raw input, so that a range that is
/// invalid in another way (reported where it is) is reported here too.
fn grid_ranges_are_categorical(c: &mut Checker, raw_ranges: &[Value]) -> bool {
    let mut categorical = true;
    for (i, range) in raw_ranges.iter().enumerate() {
        let text = |k: &str| range.get(k).and_then(Value::as_str);
        if let (Some(name), Some(kind @ ("Continuous" | "Integer"))) = (text("name"), text("type"))
        {
            c.problem(
                format!("/tuning/ranges/{i}/type"),
                format!(
                    "range {name:?} is {kind}: the Grid strategy takes only Categorical ranges"
                ),
            );
            categorical = false;
        }
    }
    categorical
}

/// `/tuning/maxParallelJobs`, at most `max_jobs`; when absent, 2 or `max_jobs` if fewer.
fn read_max_parallel_jobs(
    c: &mut Checker,
    value: Option<&Value>,
    max_jobs: u64,
    grid: bool,
) -> u64 {
    let max_parallel = c
        .integer(value, "/tuning/maxParallelJobs", 1, 100)
        .unwrap_or(2.min(max_jobs));
    if max_parallel > max_jobs {
        let limit = if grid {
            format!("the {max_jobs} training jobs of the Grid strategy (one per combination)")
        } else {
            format!("maxJobs ({max_jobs})")
        };
        c.problem(
            "/tuning/maxParallelJobs",
            format!("must not exceed {limit}"),
        );
    }
    max_parallel
}

/// `/tuning/earlyStopping`, Off when absent.
fn read_early_stopping(c: &mut Checker, value: Option<&Value>) -> Option<EarlyStopping> {
    match value {
        None => Some(EarlyStopping::Off),
        v => c.choice(
            v,
            "/tuning/earlyStopping",
            &[("Off", EarlyStopping::Off), ("Auto", EarlyStopping::Auto)],
        ),
    }
}

/// Hyperband stops training jobs itself: it takes no early stopping.
fn check_hyperband_stops_jobs_itself(
    c: &mut Checker,
    strategy: Option<Strategy>,
    early_stopping: Option<EarlyStopping>,
) {
    if strategy == Some(Strategy::Hyperband) && early_stopping == Some(EarlyStopping::Auto) {
        c.problem(
            "/tuning/earlyStopping",
            "must be Off with the Hyperband strategy (it stops jobs itself)",
        );
    }
}

/// A custom image's objective metric is one of its metric definitions.
fn check_objective_metric_is_defined(
    c: &mut Checker,
    objective: &Objective,
    algorithm: &Algorithm,
) {
    if !algorithm
        .metric_definitions
        .iter()
        .any(|d| d.name == objective.metric)
    {
        c.problem(
            "/tuning/objective/metric",
            format!(
                "{:?} is not among /algorithm/metricDefinitions (a custom image must define its objective metric)",
                objective.metric
            ),
        );
    }
}

fn read_monitoring(
    c: &mut Checker,
    value: Option<&Value>,
    problem: ProblemType,
) -> Option<Monitoring> {
    let obj = match value {
        Some(v) => Some(c.object(
            v,
            "/monitoring",
            &[
                "metric",
                "threshold",
                "direction",
                "maxDegradation",
                "cooldownSeconds",
                "maxRetrainsPerWindow",
                "windowSeconds",
            ],
        )?),
        None => None,
    };
    let f = |k| Checker::field(obj, k);
    let before = c.problems.len();
    let allowed = MetricName::for_problem(problem);
    let metric = match f("metric") {
        None => Some(default_monitoring_metric(problem)),
        v => {
            let options: Vec<(&str, MetricName)> =
                allowed.iter().map(|m| (m.as_str(), *m)).collect();
            c.choice(v, "/monitoring/metric", &options)
        }
    };
    let threshold = c.number(f("threshold"), "/monitoring/threshold");
    let direction = match f("direction") {
        None => metric.map(MetricName::direction),
        v => c.choice(
            v,
            "/monitoring/direction",
            &[
                ("LowerIsBetter", Direction::LowerIsBetter),
                ("HigherIsBetter", Direction::HigherIsBetter),
            ],
        ),
    };
    let max_degradation = match f("maxDegradation") {
        None => Some(0.1),
        v => match c.number(v, "/monitoring/maxDegradation") {
            Some(d) if d >= 0.0 => Some(d),
            Some(_) => {
                c.problem(
                    "/monitoring/maxDegradation",
                    "must be at least 0 (a fraction, 0.1 = 10%)",
                );
                None
            }
            None => None,
        },
    };
    let cooldown = c
        .integer(
            f("cooldownSeconds"),
            "/monitoring/cooldownSeconds",
            0,
            31_536_000,
        )
        .unwrap_or(86_400);
    let max_retrains = c
        .integer(
            f("maxRetrainsPerWindow"),
            "/monitoring/maxRetrainsPerWindow",
            0,
            1000,
        )
        .unwrap_or(2);
    let window = c
        .integer(
            f("windowSeconds"),
            "/monitoring/windowSeconds",
            1,
            31_536_000,
        )
        .unwrap_or(604_800);
    if c.problems.len() > before {
        return None;
    }
    Some(Monitoring {
        metric: metric?,
        threshold,
        direction: direction?,
        max_degradation,
        cooldown_seconds: cooldown,
        max_retrains_per_window: max_retrains as u32,
        window_seconds: window,
    })
}

/// Longest tracking URI and experiment name accepted.
pub const MAX_TRACKING_URI: usize = 2048;
pub const MAX_EXPERIMENT_NAME: usize = 256;

/// Checks a tracking server reference: `http(s)://host[:port][/path]` or a SageMaker managed
/// tracking server ARN `arn:<aws|aws-us-gov>:sagemaker:<region>:<account>:mlflow-tracking-server/<name>`
/// (the rules of `mdlc_tracking::TrackingTarget::parse`). The error says what is wrong.
pub fn check_tracking_uri(uri: &str) -> Result<(), String> {
    if uri.is_empty() || uri.len() > MAX_TRACKING_URI {
        return Err(format!("must be 1-{MAX_TRACKING_URI} characters"));
    }
    if uri.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    if let Some(rest) = uri.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let [partition, service, region, account, resource] = parts.as_slice() else {
            return Err(
                "an ARN has the form arn:aws:sagemaker:REGION:ACCOUNT:mlflow-tracking-server/NAME"
                    .into(),
            );
        };
        if !matches!(*partition, "aws" | "aws-us-gov") {
            return Err("the ARN's partition must be aws or aws-us-gov".into());
        }
        if *service != "sagemaker" {
            return Err("the ARN's service must be sagemaker".into());
        }
        if region.is_empty() || account.is_empty() {
            return Err("the ARN needs a region and an account".into());
        }
        return match resource.split_once('/') {
            Some(("mlflow-tracking-server", name)) if !name.is_empty() => Ok(()),
            _ => Err("the ARN's resource must be mlflow-tracking-server/NAME".into()),
        };
    }
    let rest = uri
        .strip_prefix("http://")
        .or_else(|| uri.strip_prefix("https://"))
        .ok_or_else(|| {
            "expected an http(s):// URI or a SageMaker tracking server ARN".to_string()
        })?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if host.starts_with('[') {
        match host.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => return Err("an IPv6 host must be closed with ']'".into()),
        }
    } else {
        match host.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host, None),
        }
    };
    if host.trim_start_matches('[').is_empty() {
        return Err("the URI has no host".into());
    }
    if let Some(p) = port
        && p.parse::<u16>().is_err()
    {
        return Err(format!("the port {p:?} is not a number from 0 to 65535"));
    }
    Ok(())
}

fn read_tracking(
    c: &mut Checker,
    value: Option<&Value>,
    model_name: Option<&str>,
) -> Option<TrackingConfig> {
    let obj = c.object(value?, "/tracking", &["uri", "experiment"])?;
    let f = |k| Checker::field(Some(obj), k);
    let before = c.problems.len();
    let uri = c
        .string(f("uri"), "/tracking/uri")
        .map(|u| u.trim().to_string());
    if f("uri").is_none() {
        c.problem(
            "/tracking/uri",
            "is required (an http(s):// URI or a SageMaker tracking server ARN)",
        );
    }
    if let Some(u) = &uri
        && let Err(why) = check_tracking_uri(u)
    {
        c.problem("/tracking/uri", format!("{why}, got {u:?}"));
    }
    let experiment = match c.string(f("experiment"), "/tracking/experiment") {
        Some(e) if e.chars().count() > MAX_EXPERIMENT_NAME => {
            c.problem(
                "/tracking/experiment",
                format!("must be at most {MAX_EXPERIMENT_NAME} characters"),
            );
            None
        }
        Some(e) => Some(e),
        None => model_name.map(str::to_string),
    };
    if c.problems.len() > before {
        return None;
    }
    Some(TrackingConfig {
        uri: uri?,
        experiment: experiment?,
    })
}

fn read_transform(c: &mut Checker, value: Option<&Value>) -> Option<Transform> {
    let obj = match value {
        Some(v) => Some(c.object(
            v,
            "/transform",
            &[
                "instanceType",
                "instanceCount",
                "maxPayloadMb",
                "batchStrategy",
                "maxConcurrentTransforms",
            ],
        )?),
        None => None,
    };
    let f = |k| Checker::field(obj, k);
    let before = c.problems.len();
    let instance_type = read_instance_type(c, f("instanceType"), "/transform/instanceType")
        .unwrap_or_else(|| DEFAULT_TRANSFORM_INSTANCE_TYPE.to_string());
    let instance_count = c
        .integer(f("instanceCount"), "/transform/instanceCount", 1, 100)
        .unwrap_or(1);
    let payload = c
        .integer(f("maxPayloadMb"), "/transform/maxPayloadMb", 1, 100)
        .unwrap_or(6);
    let strategy = match f("batchStrategy") {
        None => Some(BatchStrategy::MultiRecord),
        v => c.choice(
            v,
            "/transform/batchStrategy",
            &[
                ("MultiRecord", BatchStrategy::MultiRecord),
                ("SingleRecord", BatchStrategy::SingleRecord),
            ],
        ),
    };
    let concurrent = c
        .integer(
            f("maxConcurrentTransforms"),
            "/transform/maxConcurrentTransforms",
            1,
            64,
        )
        .unwrap_or(1);
    if c.problems.len() > before {
        return None;
    }
    Some(Transform {
        instance_type,
        instance_count: instance_count as u32,
        max_payload_mb: payload as u32,
        batch_strategy: strategy?,
        max_concurrent_transforms: concurrent as u32,
    })
}
