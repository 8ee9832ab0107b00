//! Hyperparameter tuning jobs: Random, Bayesian, Grid and Hyperband strategies, parallel
//! training jobs, early stopping, and the Describe/List shapes of SageMaker.
//!
//! `Grid` runs one training job per combination of categorical values, as the SageMaker
//! developer guide describes it: only `CategoricalParameterRanges` are accepted, at most
//! [`space::GRID_MAX_TRAINING_JOBS`] combinations, and `MaxNumberOfTrainingJobs` may be
//! omitted but, when given, must equal the number of combinations (never clipped to it).
//!
//! SageMaker's `Hyperband` strategy is accepted by that name, but what runs is one bracket of
//! *asynchronous successive halving* ([`StrategyKind::SuccessiveHalving`]): configurations are
//! drawn at random, every job starts from epoch 1, and at each rung (`MinResource · η^i` epochs
//! below `MaxResource`, η = 3) a job is stopped when at least ⌊n/η⌋ of the n jobs that reached
//! the rung so far did better there (a rung judges once η jobs reached it); a job that reaches
//! `MaxResource` is stopped and counts as completed. Hyperband proper
//! runs several such brackets with different starting rungs; SageMaker documents neither its
//! bracket count nor its η, so the emulator does not pretend to reproduce them.

mod builtin;
pub mod gp;
pub mod space;
pub mod strategy;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc::{self, UnboundedSender};
use tokio::task::JoinSet;

use crate::error::{ApiError, Problems};
use crate::fields::{self, check_name};
use crate::jobs::{Inner, JobCell, JobKind, StopKind, now_ms, spawn_job};
use crate::training::{self, Observation};
use space::{GRID_MAX_TRAINING_JOBS, SearchSpace};
use strategy::{BayesianSearch, GridSearch, RandomSearch, Strategy};

/// The reduction factor η of successive halving: a rung keeps the best 1/η of its jobs.
const ETA: usize = 3;
/// The static hyperparameters SageMaker reads `MaxResource` from when the request has none
/// (API reference, `HyperbandStrategyConfig`).
const MAX_RESOURCE_KEYS: [&str; 5] = ["epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs"];
/// "The maximum value is 20,000 epochs" (API reference, `HyperbandStrategyConfig.MaxResource`).
const MAX_RESOURCE: u64 = 20_000;
/// Early stopping (median rule) needs this many earlier jobs with a value at the same epoch.
const MEDIAN_RULE_MIN_JOBS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StrategyKind {
    Random,
    Bayesian,
    Grid,
    /// SageMaker's `Hyperband`, run as one bracket of asynchronous successive halving.
    SuccessiveHalving,
}

#[derive(Debug, Clone)]
struct TuningSpec {
    name: String,
    arn: String,
    strategy: StrategyKind,
    metric: String,
    maximize: bool,
    max_jobs: usize,
    max_parallel: usize,
    early_stopping: bool,
    space: SearchSpace,
    static_hps: BTreeMap<String, String>,
    definition: Value,
    /// Successive halving's (min, max) resource, in epochs (values of the objective metric).
    resource: Option<(usize, usize)>,
    seed: u64,
    target: Option<f64>,
    max_runtime: Option<u64>,
    builtin: bool,
    grid: Vec<Vec<f64>>,
}

/// The 8 hex digits of a training job name `<tuning>-<3 digits>-<8 hex>`.
fn name_hash(tuning: &str, index: usize) -> String {
    let digest = Sha256::digest(format!("{tuning}/{index}").as_bytes());
    hex::encode(digest.get(..4).unwrap_or_default())
}

fn training_request(spec: &TuningSpec, name: &str, hps: BTreeMap<String, String>) -> Value {
    let mut m = Map::new();
    m.insert("TrainingJobName".into(), json!(name));
    if let Value::Object(def) = &spec.definition {
        for (k, v) in def {
            if !matches!(
                k.as_str(),
                "StaticHyperParameters"
                    | "DefinitionName"
                    | "TuningObjective"
                    | "HyperParameterRanges"
                    | "HyperParameterTuningResourceConfig"
            ) {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    m.insert("HyperParameters".into(), json!(hps));
    Value::Object(m)
}

fn hyperparameters(
    spec: &TuningSpec,
    tuned: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut hps = spec.static_hps.clone();
    hps.extend(tuned.clone());
    if spec.builtin {
        hps.insert("_tuning_objective_metric".into(), spec.metric.clone());
    }
    hps
}

/// The refusal of a Grid job whose `MaxNumberOfTrainingJobs` is not its number of combinations:
/// "If specified, the value of MaxNumberOfTrainingJobs should equal the total number of
/// distinct categorical combinations possible" (SageMaker developer guide, "Understand the
/// hyperparameter tuning strategies available", Grid search). SageMaker's own wording of this
/// ValidationException is not published, so the message is ours.
fn grid_job_count_mismatch(given: u64, combinations: usize) -> Option<String> {
    (given != combinations as u64).then(|| {
        format!(
            "is {given}, but the Grid strategy runs one training job per combination and the ParameterRanges give {combinations} distinct categorical combinations; give {combinations} or omit MaxNumberOfTrainingJobs"
        )
    })
}

/// The prefix of the tuning configuration's field names.
const CONFIG: &str = "HyperParameterTuningJobConfig";

/// `HyperParameterTuningJobConfig.HyperParameterTuningJobObjective`.
struct TuningObjective {
    metric: String,
    maximize: bool,
}

/// `HyperParameterTuningJobConfig.ResourceLimits`; each `None` when absent or invalid.
struct ResourceLimits {
    max_jobs: Option<u64>,
    max_parallel: Option<u64>,
    max_runtime: Option<u64>,
}

/// A CreateHyperParameterTuningJob request as the job it describes. Every field is read in
/// order and each problem is collected (one ValidationException lists them all); the training
/// job definition is then validated as the first training job would be.
fn parse(inner: &Inner, req: &Value) -> Result<TuningSpec, ApiError> {
    let mut p = Problems::new();
    let name = read_job_name(req, &mut p);
    refuse_unsupported_fields(req, &mut p);
    let cfg = fields::req_obj(req, "", CONFIG, &mut p)
        .cloned()
        .unwrap_or(Value::Null);
    let strategy = read_strategy(&cfg, &mut p);
    let objective = read_objective(&cfg, &mut p);
    let limits = read_resource_limits(&cfg, strategy, &mut p);
    let early_stopping = read_early_stopping(&cfg, strategy, &mut p);
    let space = read_parameter_ranges(&cfg, strategy, &mut p);
    let seed = read_seed(&cfg, &name, &mut p);
    let target = read_target(&cfg, &mut p);
    let def = fields::req_obj(req, "", "TrainingJobDefinition", &mut p)
        .cloned()
        .unwrap_or(Value::Null);
    let static_hps = read_static_hyperparameters(&def, &space, &mut p);
    let resource = read_strategy_config(&cfg, strategy, &static_hps, &mut p);
    let grid = if strategy == StrategyKind::Grid && p.is_empty() {
        grid_combinations(&space, limits.max_jobs, &mut p)
    } else {
        Vec::new()
    };
    p.finish()?;
    let builtin = is_builtin_image(inner, &def);
    if builtin {
        check_builtin_ranges(&space)?;
    }
    // Grid runs every combination once: its job count is the number of combinations (a given
    // MaxNumberOfTrainingJobs was checked to equal it above).
    let max_jobs = if strategy == StrategyKind::Grid {
        grid.len()
    } else {
        limits.max_jobs.map_or(1, |v| v as usize)
    };
    let spec = TuningSpec {
        arn: inner.job_arn(JobKind::Tuning, &name),
        name,
        strategy,
        metric: objective.metric,
        maximize: objective.maximize,
        max_jobs,
        max_parallel: limits.max_parallel.unwrap_or(1) as usize,
        early_stopping,
        space,
        static_hps,
        definition: def,
        resource,
        seed,
        target,
        max_runtime: limits.max_runtime,
        builtin,
        grid,
    };
    check_first_training_job(inner, &spec)?;
    Ok(spec)
}

/// `HyperParameterTuningJobName`; empty when missing or invalid (then reported).
fn read_job_name(req: &Value, p: &mut Problems) -> String {
    let name = fields::req_str(req, "", "HyperParameterTuningJobName", p).unwrap_or_default();
    if !name.is_empty() {
        check_name(&name, "HyperParameterTuningJobName", 32, p);
    }
    name
}

/// Reports the request's fields the emulator does not implement.
fn refuse_unsupported_fields(req: &Value, p: &mut Problems) {
    if fields::get(req, "TrainingJobDefinitions").is_some() {
        p.push(
            "TrainingJobDefinitions",
            "is not supported by the local emulator; give one TrainingJobDefinition",
        );
    }
    if fields::get(req, "WarmStartConfig").is_some() {
        p.push("WarmStartConfig", "is not supported by the local emulator");
    }
}

/// `Strategy` (required when there is a configuration); Bayesian when invalid.
fn read_strategy(cfg: &Value, p: &mut Problems) -> StrategyKind {
    let strategy = fields::enum_str(
        cfg,
        CONFIG,
        "Strategy",
        &["Bayesian", "Random", "Hyperband", "Grid"],
        "Bayesian",
        p,
    );
    if !cfg.is_null() && fields::get(cfg, "Strategy").is_none() {
        p.push(&fields::join(CONFIG, "Strategy"), "is required");
    }
    match strategy.as_str() {
        "Random" => StrategyKind::Random,
        "Grid" => StrategyKind::Grid,
        "Hyperband" => StrategyKind::SuccessiveHalving,
        _ => StrategyKind::Bayesian,
    }
}

/// `HyperParameterTuningJobObjective`, required when there is a configuration.
fn read_objective(cfg: &Value, p: &mut Problems) -> TuningObjective {
    let mut objective = TuningObjective {
        metric: String::new(),
        maximize: false,
    };
    if cfg.is_null() {
        return objective;
    }
    let Some(obj) = fields::req_obj(cfg, CONFIG, "HyperParameterTuningJobObjective", p) else {
        return objective;
    };
    let op = fields::join(CONFIG, "HyperParameterTuningJobObjective");
    let ty = fields::enum_str(obj, &op, "Type", &["Maximize", "Minimize"], "Minimize", p);
    if fields::get(obj, "Type").is_none() {
        p.push(&fields::join(&op, "Type"), "is required");
    }
    objective.maximize = ty == "Maximize";
    objective.metric = fields::req_str(obj, &op, "MetricName", p).unwrap_or_default();
    objective
}

/// `ResourceLimits`, required when there is a configuration; `MaxNumberOfTrainingJobs` is
/// required except for the Grid strategy.
fn read_resource_limits(cfg: &Value, strategy: StrategyKind, p: &mut Problems) -> ResourceLimits {
    let rp = fields::join(CONFIG, "ResourceLimits");
    let limits = if cfg.is_null() {
        None
    } else {
        fields::req_obj(cfg, CONFIG, "ResourceLimits", p)
    };
    let limits = limits.cloned().unwrap_or(Value::Null);
    let max_jobs = fields::opt_u64(&limits, &rp, "MaxNumberOfTrainingJobs", 1, 750, p);
    if max_jobs.is_none()
        && strategy != StrategyKind::Grid
        && !limits.is_null()
        && fields::get(&limits, "MaxNumberOfTrainingJobs").is_none()
    {
        p.push(
            &fields::join(&rp, "MaxNumberOfTrainingJobs"),
            "is required (except for the Grid strategy)",
        );
    }
    let max_parallel = if limits.is_null() {
        None
    } else {
        fields::req_u64(&limits, &rp, "MaxParallelTrainingJobs", 1, 100, p)
    };
    let max_runtime = fields::opt_u64(&limits, &rp, "MaxRuntimeInSeconds", 120, 15_768_000, p);
    ResourceLimits {
        max_jobs,
        max_parallel,
        max_runtime,
    }
}

/// `TrainingJobEarlyStoppingType` is `Auto`; Hyperband stops jobs itself and takes `Off` only.
fn read_early_stopping(cfg: &Value, strategy: StrategyKind, p: &mut Problems) -> bool {
    let early = fields::enum_str(
        cfg,
        CONFIG,
        "TrainingJobEarlyStoppingType",
        &["Off", "Auto"],
        "Off",
        p,
    );
    if early == "Auto" && strategy == StrategyKind::SuccessiveHalving {
        p.push(
            &fields::join(CONFIG, "TrainingJobEarlyStoppingType"),
            "must be Off with the Hyperband strategy (Hyperband stops jobs itself)",
        );
    }
    early == "Auto"
}

/// `ParameterRanges` as the search space (Grid takes categorical ranges only).
fn read_parameter_ranges(cfg: &Value, strategy: StrategyKind, p: &mut Problems) -> SearchSpace {
    let ranges = fields::opt_obj(cfg, CONFIG, "ParameterRanges", p)
        .cloned()
        .unwrap_or(json!({}));
    SearchSpace::parse(
        &ranges,
        &fields::join(CONFIG, "ParameterRanges"),
        strategy == StrategyKind::Grid,
        p,
    )
}

/// `RandomSeed`; when absent, the first 8 bytes of the SHA-256 of the job's name.
fn read_seed(cfg: &Value, name: &str, p: &mut Problems) -> u64 {
    fields::opt_u64(cfg, CONFIG, "RandomSeed", 0, u64::MAX, p).unwrap_or_else(|| {
        let d = Sha256::digest(name.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&d[..8]);
        u64::from_be_bytes(first)
    })
}

/// `TuningJobCompletionCriteria.TargetObjectiveMetricValue`, when it is a number.
fn read_target(cfg: &Value, p: &mut Problems) -> Option<f64> {
    fields::opt_obj(cfg, CONFIG, "TuningJobCompletionCriteria", p)
        .and_then(|t| fields::get(t, "TargetObjectiveMetricValue"))
        .and_then(Value::as_f64)
}

/// `TrainingJobDefinition.StaticHyperParameters`, none of which may also be tuned.
fn read_static_hyperparameters(
    def: &Value,
    space: &SearchSpace,
    p: &mut Problems,
) -> BTreeMap<String, String> {
    let static_hps = fields::str_map(def, "TrainingJobDefinition", "StaticHyperParameters", p);
    for prm in &space.params {
        if static_hps.contains_key(&prm.name) {
            p.push(
                "TrainingJobDefinition.StaticHyperParameters",
                format!("{:?} is both static and tuned", prm.name),
            );
        }
    }
    static_hps
}

/// `StrategyConfig`, valid with Hyperband only: successive halving's (min, max) resource.
fn read_strategy_config(
    cfg: &Value,
    strategy: StrategyKind,
    static_hps: &BTreeMap<String, String>,
    p: &mut Problems,
) -> Option<(usize, usize)> {
    let strat_cfg = fields::opt_obj(cfg, CONFIG, "StrategyConfig", p);
    if strategy == StrategyKind::SuccessiveHalving {
        let hb = strat_cfg
            .and_then(|s| fields::get(s, "HyperbandStrategyConfig"))
            .cloned()
            .unwrap_or(json!({}));
        return read_hyperband_resource(&hb, static_hps, p);
    }
    if strat_cfg.is_some() {
        p.push(
            &fields::join(CONFIG, "StrategyConfig"),
            "is only valid with the Hyperband strategy",
        );
    }
    None
}

/// `HyperbandStrategyConfig`'s `MinResource` (1 when absent) and `MaxResource`, which a static
/// epochs hyperparameter ([`MAX_RESOURCE_KEYS`]) stands in for when absent.
fn read_hyperband_resource(
    hb: &Value,
    static_hps: &BTreeMap<String, String>,
    p: &mut Problems,
) -> Option<(usize, usize)> {
    let hp = fields::join(CONFIG, "StrategyConfig.HyperbandStrategyConfig");
    let min_r = fields::opt_u64(hb, &hp, "MinResource", 1, MAX_RESOURCE, p).unwrap_or(1) as usize;
    let from_static = MAX_RESOURCE_KEYS
        .iter()
        .find_map(|k| static_hps.get(*k).and_then(|v| v.parse::<usize>().ok()));
    let max_r = fields::opt_u64(hb, &hp, "MaxResource", 1, MAX_RESOURCE, p)
        .map(|v| v as usize)
        .or(from_static);
    match max_r {
        Some(max_r) if max_r >= min_r => Some((min_r, max_r)),
        Some(_) => {
            p.push(
                &fields::join(&hp, "MaxResource"),
                "must not be less than MinResource",
            );
            None
        }
        None => {
            p.push(
                &fields::join(&hp, "MaxResource"),
                "is required unless a static hyperparameter (epochs, numepochs, n-epochs, n_epochs or num_epochs) gives the number of epochs",
            );
            None
        }
    }
}

/// Every combination of a Grid job's categorical values; a given `MaxNumberOfTrainingJobs`
/// must equal their number, and there may be at most [`GRID_MAX_TRAINING_JOBS`].
fn grid_combinations(
    space: &SearchSpace,
    max_jobs: Option<u64>,
    p: &mut Problems,
) -> Vec<Vec<f64>> {
    match space.grid(GRID_MAX_TRAINING_JOBS) {
        Ok(g) => {
            if let Some(m) = max_jobs.and_then(|n| grid_job_count_mismatch(n, g.len())) {
                p.push(
                    &fields::join(
                        &fields::join(CONFIG, "ResourceLimits"),
                        "MaxNumberOfTrainingJobs",
                    ),
                    m,
                );
            }
            g
        }
        Err(m) => {
            p.push(&fields::join(CONFIG, "ParameterRanges"), m);
            Vec::new()
        }
    }
}

/// The training definition's image is SageMaker's built-in XGBoost.
fn is_builtin_image(inner: &Inner, def: &Value) -> bool {
    let image = def
        .pointer("/AlgorithmSpecification/TrainingImage")
        .and_then(Value::as_str)
        .unwrap_or("");
    crate::config::is_builtin_xgboost(&inner.config.images, image)
}

/// The ranges fit the built-in XGBoost algorithm's hyperparameters.
fn check_builtin_ranges(space: &SearchSpace) -> Result<(), ApiError> {
    let problems = builtin::range_problems(space);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(problems.join("; ")))
    }
}

/// The training definition is validated as the first training job would be, and defines the
/// objective metric.
fn check_first_training_job(inner: &Inner, spec: &TuningSpec) -> Result<(), ApiError> {
    let sample_name = format!("{}-000-{}", spec.name, name_hash(&spec.name, 0));
    let sample = training_request(
        spec,
        &sample_name,
        hyperparameters(spec, &spec.space.values(&vec![0.5; spec.space.dims()])),
    );
    let tspec = training::parse(inner, &sample)
        .map_err(|e| ApiError::validation(format!("TrainingJobDefinition: {e}")))?;
    let names: Vec<&str> = tspec.metric_defs.iter().map(|m| m.name.as_str()).collect();
    if !names.contains(&spec.metric.as_str()) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: 'HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.MetricName' {:?} is not among the metric definitions of the training job definition [{}]",
            spec.metric,
            names.join(", ")
        )));
    }
    Ok(())
}

/// CreateHyperParameterTuningJob.
pub(crate) fn create(
    inner: &Arc<Inner>,
    req: &Value,
) -> Result<(JobKind, Arc<JobCell>, Value), ApiError> {
    let spec = parse(inner, req)?;
    let now = now_ms();
    let mut d = Map::new();
    d.insert("HyperParameterTuningJobName".into(), json!(spec.name));
    d.insert("HyperParameterTuningJobArn".into(), json!(spec.arn));
    for k in [
        "HyperParameterTuningJobConfig",
        "TrainingJobDefinition",
        "Tags",
    ] {
        if let Some(v) = fields::get(req, k) {
            d.insert(k.into(), v.clone());
        }
    }
    d.insert("HyperParameterTuningJobStatus".into(), json!("InProgress"));
    d.insert("CreationTime".into(), json!(now));
    d.insert("LastModifiedTime".into(), json!(now));
    d.insert(
        "TrainingJobStatusCounters".into(),
        counters_json(&Counters::default()).0,
    );
    d.insert(
        "ObjectiveStatusCounters".into(),
        counters_json(&Counters::default()).1,
    );
    let cell = inner.register(JobKind::Tuning, &spec.name, Value::Object(d))?;
    let arn = spec.arn.clone();
    spawn_job(cell.clone(), run(inner.clone(), cell.clone(), spec));
    Ok((
        JobKind::Tuning,
        cell,
        json!({ "HyperParameterTuningJobArn": arn }),
    ))
}

#[derive(Debug, Default, Clone)]
struct Counters {
    completed: u64,
    in_progress: u64,
    non_retryable: u64,
    stopped: u64,
    succeeded: u64,
    pending: u64,
    failed: u64,
}

fn counters_json(c: &Counters) -> (Value, Value) {
    (
        json!({"Completed": c.completed, "InProgress": c.in_progress, "RetryableError": 0, "NonRetryableError": c.non_retryable, "Stopped": c.stopped}),
        json!({"Succeeded": c.succeeded, "Pending": c.pending, "Failed": c.failed}),
    )
}

struct Trial {
    name: String,
    u: Vec<f64>,
    cell: Option<Arc<JobCell>>,
    /// Objective values per epoch (as reported).
    curve: Vec<f64>,
    finished: bool,
}

/// The objective of a finished training job: the last value of the metric.
fn objective_of(d: &Value, metric: &str) -> Option<f64> {
    d.get("FinalMetricDataList")?
        .as_array()?
        .iter()
        .find(|m| m.get("MetricName").and_then(Value::as_str) == Some(metric))?
        .get("Value")?
        .as_f64()
}

/// A `HyperParameterTrainingJobSummary` of a training job's Describe document.
fn summary(
    d: &Value,
    tuning_name: &str,
    metric: &str,
    objective_type: &str,
    tuned: &[String],
) -> Value {
    let status = d
        .get("TrainingJobStatus")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut s = Map::new();
    for k in [
        "TrainingJobName",
        "TrainingJobArn",
        "CreationTime",
        "TrainingStartTime",
        "TrainingEndTime",
        "TrainingJobStatus",
        "FailureReason",
    ] {
        if let Some(v) = fields::get(d, k) {
            s.insert(k.into(), v.clone());
        }
    }
    s.insert("TuningJobName".into(), json!(tuning_name));
    let hps = d.get("HyperParameters").and_then(Value::as_object);
    let tuned_hps: Map<String, Value> = tuned
        .iter()
        .filter_map(|n| Some((n.clone(), hps?.get(n)?.clone())))
        .collect();
    s.insert("TunedHyperParameters".into(), Value::Object(tuned_hps));
    let objective = objective_of(d, metric);
    let objective_status = match (status, objective) {
        ("InProgress" | "Stopping", _) => "Pending",
        ("Completed" | "Stopped", Some(_)) => "Succeeded",
        _ => "Failed",
    };
    if let (Some(v), "Succeeded") = (objective, objective_status) {
        s.insert(
            "FinalHyperParameterTuningJobObjectiveMetric".into(),
            json!({"Type": objective_type, "MetricName": metric, "Value": v}),
        );
    }
    s.insert("ObjectiveStatus".into(), json!(objective_status));
    Value::Object(s)
}

fn worse(a: f64, b: f64, maximize: bool) -> bool {
    if maximize { a < b } else { a > b }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Successive halving's rungs: `min * η^i` below `max`.
fn rungs(min_r: usize, max_r: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut r = min_r.max(1);
    while r < max_r {
        out.push(r);
        r = r.saturating_mul(ETA);
    }
    out
}

struct Stopper {
    maximize: bool,
    early_stopping: bool,
    resource: Option<(usize, usize)>,
    rung_levels: Vec<usize>,
    rung_values: HashMap<usize, Vec<f64>>,
}

impl Stopper {
    /// Decides, after job `idx` reported its `epoch`-th objective value, whether to stop it.
    fn decide(&mut self, trials: &[Trial], idx: usize, epoch: usize) -> Option<StopKind> {
        let curve = &trials.get(idx)?.curve;
        let value = *curve.get(epoch.checked_sub(1)?)?;
        if let Some((_, max_r)) = self.resource {
            if epoch >= max_r {
                return Some(StopKind::MaxResource);
            }
            if self.rung_levels.contains(&epoch) {
                let vals = self.rung_values.entry(epoch).or_default();
                vals.push(value);
                if vals.len() >= ETA {
                    let keep = (vals.len() / ETA).max(1);
                    let better = vals
                        .iter()
                        .filter(|v| worse(value, **v, self.maximize))
                        .count();
                    if better >= keep {
                        return Some(StopKind::EarlyStopped);
                    }
                }
            }
            return None;
        }
        if !self.early_stopping || epoch < 2 {
            return None;
        }
        let averages: Vec<f64> = trials
            .iter()
            .take(idx)
            .filter(|t| t.curve.len() >= epoch)
            .map(|t| t.curve.iter().take(epoch).sum::<f64>() / epoch as f64)
            .collect();
        if averages.len() < MEDIAN_RULE_MIN_JOBS {
            return None;
        }
        let best_so_far = curve
            .iter()
            .take(epoch)
            .copied()
            .reduce(|a, b| if worse(a, b, self.maximize) { b } else { a })?;
        let m = median(averages)?;
        worse(best_so_far, m, self.maximize).then_some(StopKind::EarlyStopped)
    }
}

/// Completes at `deadline`, or never without one.
async fn until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn run(inner: Arc<Inner>, cell: Arc<JobCell>, spec: TuningSpec) {
    tracing::info!(target: "mdlc_emulator", job = %spec.name, strategy = ?spec.strategy, max_jobs = spec.max_jobs, max_parallel = spec.max_parallel, "tuning job started");
    let (obs_tx, mut obs_rx) = mpsc::unbounded_channel::<Observation>();
    let mut set: JoinSet<usize> = JoinSet::new();
    let mut stop_rx = cell.stop_receiver();
    // MaxRuntimeInSeconds, when given: without it, the deadline branch below never fires
    let deadline = spec
        .max_runtime
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let mut run = TuningRun::new(inner, cell, spec);
    loop {
        run.launch_while_room(&mut set, &obs_tx);
        if set.is_empty() {
            break;
        }
        tokio::select! {
            joined = set.join_next() => {
                if let Some(Ok(i)) = joined {
                    run.training_job_ended(i);
                }
                run.update_counters();
            }
            obs = obs_rx.recv() => {
                if let Some(obs) = obs {
                    run.observed(&obs);
                }
            }
            changed = stop_rx.changed(), if !run.user_stopped => {
                if changed.is_ok() && stop_rx.borrow().is_some() {
                    run.user_stopped = true;
                    run.stop_unfinished();
                }
            }
            _ = until(deadline), if !run.stopping => {
                run.stop_unfinished();
            }
        }
    }
    run.end();
}

/// What a strategy proposes the next point from.
struct Points {
    /// Each finished trial's point and objective, negated when maximizing (lower is better).
    done: Vec<(Vec<f64>, f64)>,
    /// The points of the trials still running.
    pending: Vec<Vec<f64>>,
}

/// The finished trials' points with their `objective` (negated when maximizing; those without
/// one are left out), and the points of the trials still running.
fn points_of(
    trials: &[Trial],
    maximize: bool,
    objective: impl Fn(&Trial) -> Option<f64>,
) -> Points {
    let sign = |v: f64| if maximize { -v } else { v };
    let done = trials
        .iter()
        .filter(|t| t.finished)
        .filter_map(|t| Some((t.u.clone(), sign(objective(t)?))))
        .collect();
    let pending = trials
        .iter()
        .filter(|t| !t.finished)
        .map(|t| t.u.clone())
        .collect();
    Points { done, pending }
}

/// A tuning job as it runs: its training jobs (trials), the strategy that proposes the next
/// one, the stopper that judges them, and why it ends.
struct TuningRun {
    inner: Arc<Inner>,
    cell: Arc<JobCell>,
    spec: TuningSpec,
    strategy: Box<dyn Strategy>,
    stopper: Stopper,
    trials: Vec<Trial>,
    tuned_names: Vec<String>,
    /// The strategy has no further point to propose.
    exhausted: bool,
    /// No further training job is launched (stopped, out of time, or the target reached).
    stopping: bool,
    user_stopped: bool,
    target_reached: bool,
}

impl TuningRun {
    fn new(inner: Arc<Inner>, cell: Arc<JobCell>, spec: TuningSpec) -> Self {
        let strategy: Box<dyn Strategy> = match spec.strategy {
            StrategyKind::Random | StrategyKind::SuccessiveHalving => {
                Box::new(RandomSearch::new(spec.space.dims(), spec.seed))
            }
            StrategyKind::Bayesian => Box::new(BayesianSearch::new(
                spec.space.clone(),
                spec.seed,
                spec.max_jobs,
            )),
            StrategyKind::Grid => Box::new(GridSearch::new(spec.grid.clone())),
        };
        let stopper = Stopper {
            maximize: spec.maximize,
            early_stopping: spec.early_stopping,
            resource: spec.resource,
            rung_levels: spec.resource.map(|(a, b)| rungs(a, b)).unwrap_or_default(),
            rung_values: HashMap::new(),
        };
        let tuned_names = spec.space.params.iter().map(|p| p.name.clone()).collect();
        TuningRun {
            inner,
            cell,
            spec,
            strategy,
            stopper,
            trials: Vec::new(),
            tuned_names,
            exhausted: false,
            stopping: false,
            user_stopped: false,
            target_reached: false,
        }
    }

    /// Launches training jobs while the job limits, the parallel limit and the strategy allow.
    fn launch_while_room(
        &mut self,
        set: &mut JoinSet<usize>,
        obs_tx: &UnboundedSender<Observation>,
    ) {
        while !self.stopping
            && !self.exhausted
            && self.trials.len() < self.spec.max_jobs
            && set.len() < self.spec.max_parallel
        {
            let points = self.points();
            let Some(u) = self.strategy.next(&points.done, &points.pending) else {
                self.exhausted = true;
                break;
            };
            self.launch(u, set, obs_tx);
            self.update_counters();
        }
    }

    /// The points of the finished trials with their objective (negated when maximizing, so
    /// that lower is better), and the points still running.
    fn points(&self) -> Points {
        points_of(&self.trials, self.spec.maximize, |t| {
            objective_of(&t.cell.as_ref()?.describe(), &self.spec.metric)
        })
    }

    /// Starts the training job of point `u`; one that cannot be created is a finished trial
    /// without a job.
    fn launch(
        &mut self,
        u: Vec<f64>,
        set: &mut JoinSet<usize>,
        obs_tx: &UnboundedSender<Observation>,
    ) {
        let spec = &self.spec;
        let index = self.trials.len() + 1;
        let name = format!("{}-{index:03}-{}", spec.name, name_hash(&spec.name, index));
        let tuned = spec.space.values(&u);
        let req = training_request(spec, &name, hyperparameters(spec, &tuned));
        match training::prepare(&self.inner, &req, Some(&spec.arn)) {
            Ok((tcell, tspec)) => {
                tracing::info!(target: "mdlc_emulator", tuning_job = %spec.name, job = %name, hyperparameters = ?tuned, "tuning launched a training job");
                let i = self.trials.len();
                self.trials.push(Trial {
                    name,
                    u,
                    cell: Some(tcell.clone()),
                    curve: Vec::new(),
                    finished: false,
                });
                let fut = training::run(self.inner.clone(), tcell, tspec, Some(obs_tx.clone()));
                set.spawn(async move {
                    fut.await;
                    i
                });
            }
            Err(e) => {
                tracing::warn!(target: "mdlc_emulator", tuning_job = %spec.name, job = %name, "could not create a training job: {e}");
                self.trials.push(Trial {
                    name,
                    u,
                    cell: None,
                    curve: Vec::new(),
                    finished: true,
                });
            }
        }
    }

    /// Training job `i` ended; one that reached the target objective ends the launching.
    fn training_job_ended(&mut self, i: usize) {
        let Some(t) = self.trials.get_mut(i) else {
            return;
        };
        t.finished = true;
        if let (Some(target), Some(c)) = (self.spec.target, t.cell.as_ref())
            && let Some(v) = objective_of(&c.describe(), &self.spec.metric)
            && !worse(v, target, self.spec.maximize)
        {
            self.target_reached = true;
            self.stopping = true;
        }
    }

    /// A training job logged a value of the objective metric: it joins the job's curve, and
    /// the stopper judges the job (once: a job already told to stop is not judged again).
    fn observed(&mut self, obs: &Observation) {
        if obs.metric != self.spec.metric {
            return;
        }
        let Some(idx) = self.trials.iter().position(|t| t.name == obs.job) else {
            return;
        };
        if let Some(t) = self.trials.get_mut(idx) {
            t.curve.push(obs.value);
        }
        // A job already told to stop may log a few more epochs before SIGTERM lands;
        // those must not enter a rung or be judged again.
        let stop_pending = self
            .trials
            .get(idx)
            .and_then(|t| t.cell.as_ref())
            .is_some_and(|c| c.stop_requested().is_some());
        if !stop_pending
            && let Some(kind) = self.stopper.decide(&self.trials, idx, obs.index)
            && let Some(c) = self.trials.get(idx).and_then(|t| t.cell.as_ref())
        {
            tracing::info!(target: "mdlc_emulator", tuning_job = %self.spec.name, job = %obs.job, epoch = obs.index, reason = ?kind, "tuning stops a training job");
            c.request_stop(kind);
        }
    }

    /// Launches nothing more and stops every training job still running.
    fn stop_unfinished(&mut self) {
        self.stopping = true;
        for t in &self.trials {
            if let Some(c) = &t.cell
                && !t.finished
            {
                c.request_stop(StopKind::User);
            }
        }
    }

    fn update_counters(&self) {
        update_counters(&self.cell, &self.trials, &self.spec, &self.tuned_names);
    }

    /// The tuning job's final state, from its trials.
    fn end(self) {
        finish(
            &self.cell,
            &self.trials,
            &self.spec,
            &self.tuned_names,
            self.user_stopped,
            self.target_reached,
        );
    }
}

fn summaries(trials: &[Trial], spec: &TuningSpec, tuned: &[String]) -> Vec<Value> {
    let ty = if spec.maximize {
        "Maximize"
    } else {
        "Minimize"
    };
    trials
        .iter()
        .filter_map(|t| {
            t.cell
                .as_ref()
                .map(|c| summary(&c.describe(), &spec.name, &spec.metric, ty, tuned))
        })
        .collect()
}

fn count(summaries: &[Value], trials_without_job: usize) -> Counters {
    let mut c = Counters {
        non_retryable: trials_without_job as u64,
        failed: trials_without_job as u64,
        ..Counters::default()
    };
    for s in summaries {
        match s
            .get("TrainingJobStatus")
            .and_then(Value::as_str)
            .unwrap_or("")
        {
            "Completed" => c.completed += 1,
            "Failed" => c.non_retryable += 1,
            "Stopped" => c.stopped += 1,
            _ => c.in_progress += 1,
        }
        match s
            .get("ObjectiveStatus")
            .and_then(Value::as_str)
            .unwrap_or("")
        {
            "Succeeded" => c.succeeded += 1,
            "Pending" => c.pending += 1,
            _ => c.failed += 1,
        }
    }
    c
}

fn update_counters(cell: &JobCell, trials: &[Trial], spec: &TuningSpec, tuned: &[String]) {
    let s = summaries(trials, spec, tuned);
    let c = count(&s, trials.iter().filter(|t| t.cell.is_none()).count());
    let (t, o) = counters_json(&c);
    cell.update(|m| {
        m.insert("TrainingJobStatusCounters".into(), t);
        m.insert("ObjectiveStatusCounters".into(), o);
    });
}

/// The best summary: Completed jobs first, then Stopped ones; ties go to the earlier job.
fn best_of(summaries: &[Value], maximize: bool) -> Option<Value> {
    let value = |s: &Value| {
        s.pointer("/FinalHyperParameterTuningJobObjectiveMetric/Value")
            .and_then(Value::as_f64)
    };
    for status in ["Completed", "Stopped"] {
        let mut best: Option<(&Value, f64)> = None;
        for s in summaries {
            if s.get("TrainingJobStatus").and_then(Value::as_str) != Some(status) {
                continue;
            }
            if let Some(v) = value(s)
                && best.is_none_or(|(_, b)| worse(b, v, maximize))
            {
                best = Some((s, v));
            }
        }
        if let Some((s, _)) = best {
            return Some(s.clone());
        }
    }
    None
}

fn finish(
    cell: &JobCell,
    trials: &[Trial],
    spec: &TuningSpec,
    tuned: &[String],
    user_stopped: bool,
    target_reached: bool,
) {
    let s = summaries(trials, spec, tuned);
    let c = count(&s, trials.iter().filter(|t| t.cell.is_none()).count());
    let best = best_of(&s, spec.maximize);
    let status = if user_stopped {
        "Stopped"
    } else if best.is_some() {
        "Completed"
    } else {
        "Failed"
    };
    let reason = (status == "Failed").then(|| {
        let first = s
            .iter()
            .find_map(|x| x.get("FailureReason").and_then(Value::as_str))
            .unwrap_or("no training job reported the objective metric");
        format!("No training job succeeded with an objective metric value; first failure: {first}")
    });
    let (t, o) = counters_json(&c);
    cell.update(|m| {
        m.insert("HyperParameterTuningJobStatus".into(), json!(status));
        m.insert("HyperParameterTuningEndTime".into(), json!(now_ms()));
        m.insert("TrainingJobStatusCounters".into(), t);
        m.insert("ObjectiveStatusCounters".into(), o);
        if let Some(b) = &best {
            m.insert("BestTrainingJob".into(), b.clone());
        }
        if let Some(r) = &reason {
            m.insert("FailureReason".into(), json!(r));
        }
        if target_reached {
            m.insert(
                "TuningJobCompletionDetails".into(),
                json!({"NumberOfTrainingJobsObjectiveNotImproving": 0}),
            );
        }
    });
    let best_name = best
        .as_ref()
        .and_then(|b| b.get("TrainingJobName"))
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    tracing::info!(target: "mdlc_emulator", job = %spec.name, status, best = %best_name, "tuning job finished");
    cell.finish();
}

/// ListTrainingJobsForHyperParameterTuningJob (all jobs, in creation order).
pub(crate) fn list_training_jobs(inner: &Inner, req: &Value) -> Result<Value, ApiError> {
    let mut p = Problems::new();
    let name = fields::req_str(req, "", "HyperParameterTuningJobName", &mut p).unwrap_or_default();
    p.finish()?;
    let tuning = inner.describe(JobKind::Tuning, &name)?;
    let arn = tuning
        .get("HyperParameterTuningJobArn")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let metric = tuning
        .pointer("/HyperParameterTuningJobConfig/HyperParameterTuningJobObjective/MetricName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let ty = tuning
        .pointer("/HyperParameterTuningJobConfig/HyperParameterTuningJobObjective/Type")
        .and_then(Value::as_str)
        .unwrap_or("Minimize")
        .to_string();
    let mut tuned: Vec<String> = Vec::new();
    if let Some(r) = tuning
        .pointer("/HyperParameterTuningJobConfig/ParameterRanges")
        .and_then(Value::as_object)
    {
        for list in r.values().filter_map(Value::as_array) {
            tuned.extend(
                list.iter()
                    .filter_map(|x| x.get("Name").and_then(Value::as_str).map(str::to_string)),
            );
        }
    }
    let dir = inner.config.work_dir.join("training-jobs");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.starts_with(&format!("{name}-")))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut out = Vec::new();
    for n in names {
        if let Ok(d) = inner.describe(JobKind::Training, &n)
            && d.get("TuningJobArn").and_then(Value::as_str) == Some(arn.as_str())
        {
            out.push(summary(&d, &name, &metric, &ty, &tuned));
        }
    }
    Ok(json!({ "TrainingJobSummaries": out }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(curve: &[f64]) -> Trial {
        Trial {
            name: String::new(),
            u: vec![],
            cell: None,
            curve: curve.to_vec(),
            finished: false,
        }
    }

    /// A summary's `ObjectiveStatus` by the job's status: Pending while it runs (or stops),
    /// Succeeded when it ended with the objective metric (which the summary then carries),
    /// Failed otherwise.
    #[test]
    fn given_job_statuses_then_the_summarys_objective_status() {
        let with_metric = |status: &str| {
            json!({
                "TrainingJobName": "t-001",
                "TrainingJobStatus": status,
                "HyperParameters": {"eta": "0.1", "max_depth": "5"},
                "FinalMetricDataList": [{"MetricName": "validation:rmse", "Value": 0.25}]
            })
        };
        let tuned = vec!["eta".to_string()];
        let of = |d: &Value| summary(d, "tune", "validation:rmse", "Minimize", &tuned);
        for (status, objective) in [
            ("InProgress", "Pending"),
            ("Stopping", "Pending"),
            ("Completed", "Succeeded"),
            ("Stopped", "Succeeded"),
            ("Failed", "Failed"),
        ] {
            let s = of(&with_metric(status));
            assert_eq!(s["ObjectiveStatus"], objective, "{status}");
            assert_eq!(
                s.get("FinalHyperParameterTuningJobObjectiveMetric")
                    .is_some(),
                objective == "Succeeded",
                "{status}"
            );
        }
        let s = of(&with_metric("Completed"));
        assert_eq!(s["TunedHyperParameters"], json!({"eta": "0.1"}));
        assert_eq!(
            s["FinalHyperParameterTuningJobObjectiveMetric"],
            json!({"Type": "Minimize", "MetricName": "validation:rmse", "Value": 0.25})
        );
        let mut no_metric = with_metric("Completed");
        no_metric["FinalMetricDataList"] = json!([]);
        assert_eq!(of(&no_metric)["ObjectiveStatus"], "Failed");
    }

    #[test]
    fn median_of_odd_even_and_no_values() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 10.0]), Some(3.5));
        assert_eq!(median(vec![2.0]), Some(2.0));
    }

    /// A tuning job's deadline fires when there is one (MaxRuntimeInSeconds), never without.
    #[tokio::test]
    async fn a_deadline_fires_and_no_deadline_never_does() {
        let soon = tokio::time::Instant::now() + Duration::from_millis(10);
        let fired = tokio::time::timeout(Duration::from_secs(30), until(Some(soon))).await;
        assert!(
            fired.is_ok(),
            "a deadline 10 ms away had not fired after 30 s"
        );
        let never = tokio::time::timeout(Duration::from_millis(50), until(None)).await;
        assert!(never.is_err(), "no deadline fired");
    }

    /// Finished trials with an objective are the strategy's observations (negated when
    /// maximizing, as the strategies minimise); running ones are pending; a finished trial
    /// without an objective is neither.
    #[test]
    fn given_trials_then_points_split_done_with_signed_objectives_from_pending() {
        let at = |u: f64, curve: &[f64], finished: bool| Trial {
            u: vec![u],
            finished,
            ..trial(curve)
        };
        let trials = vec![
            at(0.1, &[0.5], true),
            at(0.2, &[], false),
            at(0.3, &[0.9], true),
            at(0.4, &[], true),
        ];
        let last = |t: &Trial| t.curve.last().copied();
        let max = points_of(&trials, true, last);
        assert_eq!(max.done, vec![(vec![0.1], -0.5), (vec![0.3], -0.9)]);
        assert_eq!(max.pending, vec![vec![0.2]]);
        let min = points_of(&trials, false, last);
        assert_eq!(min.done, vec![(vec![0.1], 0.5), (vec![0.3], 0.9)]);
    }

    /// The counters over the jobs' summaries, with the trials whose training job could not be
    /// created counted as non-retryable errors whose objective failed.
    #[test]
    fn given_summaries_and_trials_without_a_job_then_the_counters() {
        let s = |status: &str, objective: &str| json!({"TrainingJobStatus": status, "ObjectiveStatus": objective});
        let summaries = vec![
            s("Completed", "Succeeded"),
            s("Failed", "Failed"),
            s("Stopped", "Succeeded"),
            s("InProgress", "Pending"),
        ];
        let (training, objective) = counters_json(&count(&summaries, 2));
        assert_eq!(
            training,
            json!({"Completed": 1, "InProgress": 1, "RetryableError": 0, "NonRetryableError": 3, "Stopped": 1})
        );
        assert_eq!(
            objective,
            json!({"Succeeded": 2, "Pending": 1, "Failed": 3})
        );
    }

    /// No `RandomSeed`: the first 8 bytes of SHA-256 of the name, big-endian (SHA-256 of
    /// "abc" begins ba7816bf 8f01cfea); a given seed is used as it is.
    #[test]
    fn given_no_random_seed_then_the_seed_comes_from_the_names_sha256() {
        let mut p = Problems::new();
        assert_eq!(read_seed(&json!({}), "abc", &mut p), 0xba78_16bf_8f01_cfea);
        let cfg = json!({ "RandomSeed": 7 });
        assert_eq!(read_seed(&cfg, "abc", &mut p), 7);
        assert!(p.finish().is_ok());
    }

    #[test]
    fn given_three_earlier_jobs_when_a_job_is_worse_than_their_median_then_it_is_stopped() {
        let mut s = Stopper {
            maximize: false,
            early_stopping: true,
            resource: None,
            rung_levels: vec![],
            rung_values: HashMap::new(),
        };
        let trials = vec![
            trial(&[1.0, 0.8, 0.6]),
            trial(&[1.0, 0.7, 0.5]),
            trial(&[0.9, 0.8, 0.7]),
            trial(&[2.0, 1.9]),
        ];
        assert_eq!(s.decide(&trials, 3, 2), Some(StopKind::EarlyStopped));
        let good = vec![
            trial(&[1.0, 0.8]),
            trial(&[1.0, 0.7]),
            trial(&[0.9, 0.8]),
            trial(&[0.5, 0.4]),
        ];
        assert_eq!(s.decide(&good, 3, 2), None);
        // Too few earlier jobs: no decision.
        assert_eq!(s.decide(&trials[1..], 2, 2), None);
        // The median is of the earlier jobs' average values over the first 2 epochs (0.5), not
        // of their sums: a best of 0.7 is worse.
        let averaged = vec![
            trial(&[0.5, 0.5]),
            trial(&[0.4, 0.6]),
            trial(&[0.6, 0.4]),
            trial(&[0.8, 0.7]),
        ];
        assert_eq!(s.decide(&averaged, 3, 2), Some(StopKind::EarlyStopped));
    }

    /// Hyperband's stopper over rungs 1, 3 and 9 of a maximised objective.
    fn hyperband_stopper() -> Stopper {
        Stopper {
            maximize: true,
            early_stopping: false,
            resource: Some((1, 9)),
            rung_levels: rungs(1, 9),
            rung_values: HashMap::new(),
        }
    }

    /// At a rung, a job stops when at least a third (rounded down, at least one) of the values
    /// reported there are better than its own.
    #[test]
    fn given_a_rung_when_more_jobs_report_then_a_third_of_them_must_be_better() {
        let mut s = hyperband_stopper();
        let trials: Vec<Trial> = [0.9, 0.8, 0.7, 0.6, 0.5, 0.85]
            .iter()
            .map(|v| trial(&[*v]))
            .collect();
        let decisions: Vec<Option<StopKind>> = (0..6).map(|i| s.decide(&trials, i, 1)).collect();
        let stop = Some(StopKind::EarlyStopped);
        // the 6th (0.85): 6 values, 2 must be better, only 0.9 is
        assert_eq!(decisions, vec![None, None, stop, stop, stop, None]);
    }

    #[test]
    fn given_hyperband_rungs_when_jobs_report_then_the_worst_stop_and_max_resource_completes() {
        assert_eq!(rungs(1, 27), vec![1, 3, 9]);
        let mut s = hyperband_stopper();
        let trials = vec![trial(&[0.5]), trial(&[0.9]), trial(&[0.1]), trial(&[0.95])];
        assert_eq!(s.decide(&trials, 0, 1), None);
        assert_eq!(s.decide(&trials, 1, 1), None);
        assert_eq!(s.decide(&trials, 2, 1), Some(StopKind::EarlyStopped));
        assert_eq!(s.decide(&trials, 3, 1), None);
        let long = vec![trial(&[0.1; 9])];
        assert_eq!(s.decide(&long, 0, 9), Some(StopKind::MaxResource));
    }

    /// An emulator's state whose image map runs `*/fake-algo:*` images (never started here).
    fn inner() -> Inner {
        let map = r#"{"images":[{"pattern":"*/fake-algo:*","command":["/bin/true"]}]}"#;
        Inner::new(crate::config::EmulatorConfig {
            work_dir: std::env::temp_dir().join("mdlc-tuning-parse"),
            store: Arc::new(mdlc_core::memory::InMemoryStore::new()),
            images: crate::config::ImageMap::parse(map, "test").expect("image map"),
            faults: crate::config::FaultConfig::parse("").expect("no faults"),
            region: "us-east-1".into(),
            account: "123456789012".into(),
            file_systems: Default::default(),
            pids: mdlc_proc::PidBook::at(std::env::temp_dir().join("mdlc-tuning-parse-pids")),
        })
    }

    /// A valid request of `strategy` over `ranges`, with `config` merged into its
    /// HyperParameterTuningJobConfig.
    fn request(strategy: &str, ranges: Value, statics: Value, config: Value) -> Value {
        let mut req = json!({
            "HyperParameterTuningJobName": "tune-parse",
            "HyperParameterTuningJobConfig": {
                "Strategy": strategy,
                "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "acc"},
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 5, "MaxParallelTrainingJobs": 2},
                "ParameterRanges": ranges
            },
            "TrainingJobDefinition": {
                "StaticHyperParameters": statics,
                "AlgorithmSpecification": {
                    "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/fake-algo:1",
                    "TrainingInputMode": "File",
                    "MetricDefinitions": [{"Name": "acc", "Regex": "acc=([0-9.]+)"}]
                },
                "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
                "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                    "S3DataType": "S3Prefix", "S3Uri": "s3://bucket/train/"}}}],
                "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
                "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5},
                "StoppingCondition": {"MaxRuntimeInSeconds": 600}
            }
        });
        for (k, v) in config.as_object().expect("an object") {
            req["HyperParameterTuningJobConfig"][k] = v.clone();
        }
        req
    }

    fn parsed(req: &Value) -> TuningSpec {
        parse(&inner(), req).unwrap_or_else(|e| panic!("{e}: {req:#}"))
    }

    #[test]
    fn given_a_valid_request_when_parsed_then_every_setting_reaches_the_spec() {
        let ranges = json!({"CategoricalParameterRanges": [{"Name": "x", "Values": ["1", "2"]}]});
        let req = request(
            "Random",
            ranges.clone(),
            json!({"a": "1"}),
            json!({
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 5, "MaxParallelTrainingJobs": 2, "MaxRuntimeInSeconds": 300},
                "TrainingJobEarlyStoppingType": "Auto",
                "TuningJobCompletionCriteria": {"TargetObjectiveMetricValue": 0.9}
            }),
        );
        let spec = parsed(&req);
        assert_eq!(spec.name, "tune-parse");
        assert_eq!(
            spec.arn,
            "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/tune-parse"
        );
        assert_eq!(spec.strategy, StrategyKind::Random);
        assert_eq!((spec.metric.as_str(), spec.maximize), ("acc", true));
        assert_eq!((spec.max_jobs, spec.max_parallel), (5, 2));
        assert!(spec.early_stopping);
        assert_eq!(spec.space.params.len(), 1);
        assert_eq!(spec.space.params[0].name, "x");
        assert_eq!(spec.static_hps, BTreeMap::from([("a".into(), "1".into())]));
        assert_eq!(spec.definition, req["TrainingJobDefinition"]);
        assert_eq!(spec.resource, None);
        // Without a RandomSeed, the seed is the first 8 bytes of SHA-256 of the job's name.
        let digest = Sha256::digest(b"tune-parse");
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        assert_eq!(spec.seed, u64::from_be_bytes(first));
        assert_eq!(spec.target, Some(0.9));
        assert_eq!(spec.max_runtime, Some(300));
        assert!(!spec.builtin);
        assert!(spec.grid.is_empty());

        // The defaults: a given seed, early stopping Off, no target, no runtime limit;
        // a Minimize objective.
        let mut req = request("Bayesian", ranges, json!({}), json!({"RandomSeed": 7}));
        req["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["Type"] =
            json!("Minimize");
        let spec = parsed(&req);
        assert_eq!(spec.strategy, StrategyKind::Bayesian);
        assert_eq!(spec.seed, 7);
        assert!(!spec.maximize);
        assert!(!spec.early_stopping);
        assert_eq!((spec.target, spec.max_runtime), (None, None));
    }

    #[test]
    fn given_hyperband_and_grid_requests_when_parsed_then_resources_and_combinations_are_set() {
        let ranges = json!({"CategoricalParameterRanges": [{"Name": "x", "Values": ["1", "2"]}]});
        // MaxResource from a static epochs hyperparameter; MinResource 1 by default.
        let spec = parsed(&request(
            "Hyperband",
            ranges.clone(),
            json!({"epochs": "9"}),
            json!({}),
        ));
        assert_eq!(spec.strategy, StrategyKind::SuccessiveHalving);
        assert_eq!(spec.resource, Some((1, 9)));
        // A given MaxResource wins over the static one.
        let spec = parsed(&request(
            "Hyperband",
            ranges,
            json!({"epochs": "9"}),
            json!({"StrategyConfig": {"HyperbandStrategyConfig": {"MinResource": 2, "MaxResource": 4}}}),
        ));
        assert_eq!(spec.resource, Some((2, 4)));
        // Grid: one job per combination, MaxNumberOfTrainingJobs omitted.
        let mut req = request(
            "Grid",
            json!({"CategoricalParameterRanges": [
                {"Name": "x", "Values": ["1", "2", "3"]},
                {"Name": "y", "Values": ["a", "b"]}
            ]}),
            json!({}),
            json!({}),
        );
        req["HyperParameterTuningJobConfig"]["ResourceLimits"] =
            json!({"MaxParallelTrainingJobs": 3});
        let spec = parsed(&req);
        assert_eq!(spec.strategy, StrategyKind::Grid);
        assert_eq!(spec.grid.len(), 6);
        assert_eq!(spec.max_jobs, 6);
        assert_eq!(spec.max_parallel, 3);
    }

    #[test]
    fn training_job_names_look_like_aws() {
        let n = format!("tune-{:03}-{}", 7, name_hash("tune", 7));
        assert_eq!(n.len(), "tune-007-".len() + 8);
        assert!(n.starts_with("tune-007-"));
        assert_ne!(name_hash("tune", 7), name_hash("tune", 8));
    }
}
