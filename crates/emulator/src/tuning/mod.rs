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
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::error::{ApiError, Problems};
use crate::fields::{self, check_name};
use crate::jobs::{Inner, JobCell, JobKind, StopKind, now_ms, spawn_job};
use crate::metrics;
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

fn parse(inner: &Inner, req: &Value) -> Result<TuningSpec, ApiError> {
    let mut p = Problems::new();
    let name = fields::req_str(req, "", "HyperParameterTuningJobName", &mut p).unwrap_or_default();
    if !name.is_empty() {
        check_name(&name, "HyperParameterTuningJobName", 32, &mut p);
    }
    if fields::get(req, "TrainingJobDefinitions").is_some() {
        p.push(
            "TrainingJobDefinitions",
            "is not supported by the local emulator; give one TrainingJobDefinition",
        );
    }
    if fields::get(req, "WarmStartConfig").is_some() {
        p.push("WarmStartConfig", "is not supported by the local emulator");
    }
    let c = "HyperParameterTuningJobConfig";
    let cfg = fields::req_obj(req, "", c, &mut p)
        .cloned()
        .unwrap_or(Value::Null);
    let strategy_s = fields::enum_str(
        &cfg,
        c,
        "Strategy",
        &["Bayesian", "Random", "Hyperband", "Grid"],
        "Bayesian",
        &mut p,
    );
    if !cfg.is_null() && fields::get(&cfg, "Strategy").is_none() {
        p.push(&fields::join(c, "Strategy"), "is required");
    }
    let strategy = match strategy_s.as_str() {
        "Random" => StrategyKind::Random,
        "Grid" => StrategyKind::Grid,
        "Hyperband" => StrategyKind::SuccessiveHalving,
        _ => StrategyKind::Bayesian,
    };
    let op = fields::join(c, "HyperParameterTuningJobObjective");
    let (mut metric, mut maximize) = (String::new(), false);
    if !cfg.is_null()
        && let Some(obj) = fields::req_obj(&cfg, c, "HyperParameterTuningJobObjective", &mut p)
    {
        let ty = fields::enum_str(
            obj,
            &op,
            "Type",
            &["Maximize", "Minimize"],
            "Minimize",
            &mut p,
        );
        if fields::get(obj, "Type").is_none() {
            p.push(&fields::join(&op, "Type"), "is required");
        }
        maximize = ty == "Maximize";
        metric = fields::req_str(obj, &op, "MetricName", &mut p).unwrap_or_default();
    }
    let rp = fields::join(c, "ResourceLimits");
    let limits = if cfg.is_null() {
        None
    } else {
        fields::req_obj(&cfg, c, "ResourceLimits", &mut p)
    };
    let limits = limits.cloned().unwrap_or(Value::Null);
    let max_jobs = fields::opt_u64(&limits, &rp, "MaxNumberOfTrainingJobs", 1, 750, &mut p);
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
        fields::req_u64(&limits, &rp, "MaxParallelTrainingJobs", 1, 100, &mut p)
    };
    let max_runtime = fields::opt_u64(&limits, &rp, "MaxRuntimeInSeconds", 120, 15_768_000, &mut p);
    let early = fields::enum_str(
        &cfg,
        c,
        "TrainingJobEarlyStoppingType",
        &["Off", "Auto"],
        "Off",
        &mut p,
    );
    if early == "Auto" && strategy == StrategyKind::SuccessiveHalving {
        p.push(
            &fields::join(c, "TrainingJobEarlyStoppingType"),
            "must be Off with the Hyperband strategy (Hyperband stops jobs itself)",
        );
    }
    let ranges = fields::opt_obj(&cfg, c, "ParameterRanges", &mut p)
        .cloned()
        .unwrap_or(json!({}));
    let space = SearchSpace::parse(
        &ranges,
        &fields::join(c, "ParameterRanges"),
        strategy == StrategyKind::Grid,
        &mut p,
    );
    let seed = fields::opt_u64(&cfg, c, "RandomSeed", 0, u64::MAX, &mut p).unwrap_or_else(|| {
        let d = Sha256::digest(name.as_bytes());
        d.iter().take(8).fold(0u64, |a, b| (a << 8) | u64::from(*b))
    });
    let target = fields::opt_obj(&cfg, c, "TuningJobCompletionCriteria", &mut p)
        .and_then(|t| fields::get(t, "TargetObjectiveMetricValue"))
        .and_then(Value::as_f64);
    let def = fields::req_obj(req, "", "TrainingJobDefinition", &mut p)
        .cloned()
        .unwrap_or(Value::Null);
    let static_hps = fields::str_map(
        &def,
        "TrainingJobDefinition",
        "StaticHyperParameters",
        &mut p,
    );
    for prm in &space.params {
        if static_hps.contains_key(&prm.name) {
            p.push(
                "TrainingJobDefinition.StaticHyperParameters",
                format!("{:?} is both static and tuned", prm.name),
            );
        }
    }
    let strat_cfg = fields::opt_obj(&cfg, c, "StrategyConfig", &mut p);
    let mut resource = None;
    if strategy == StrategyKind::SuccessiveHalving {
        let hp = fields::join(c, "StrategyConfig.HyperbandStrategyConfig");
        let hb = strat_cfg
            .and_then(|s| fields::get(s, "HyperbandStrategyConfig"))
            .cloned()
            .unwrap_or(json!({}));
        let min_r =
            fields::opt_u64(&hb, &hp, "MinResource", 1, MAX_RESOURCE, &mut p).unwrap_or(1) as usize;
        let from_static = MAX_RESOURCE_KEYS
            .iter()
            .find_map(|k| static_hps.get(*k).and_then(|v| v.parse::<usize>().ok()));
        match fields::opt_u64(&hb, &hp, "MaxResource", 1, MAX_RESOURCE, &mut p).map(|v| v as usize).or(from_static) {
            Some(max_r) if max_r >= min_r => resource = Some((min_r, max_r)),
            Some(_) => p.push(&fields::join(&hp, "MaxResource"), "must not be less than MinResource"),
            None => p.push(&fields::join(&hp, "MaxResource"), "is required unless a static hyperparameter (epochs, numepochs, n-epochs, n_epochs or num_epochs) gives the number of epochs"),
        }
    } else if strat_cfg.is_some() {
        p.push(
            &fields::join(c, "StrategyConfig"),
            "is only valid with the Hyperband strategy",
        );
    }
    let grid = if strategy == StrategyKind::Grid && p.is_empty() {
        match space.grid(GRID_MAX_TRAINING_JOBS) {
            Ok(g) => {
                if let Some(m) = max_jobs.and_then(|n| grid_job_count_mismatch(n, g.len())) {
                    p.push(&fields::join(&rp, "MaxNumberOfTrainingJobs"), m);
                }
                g
            }
            Err(m) => {
                p.push(&fields::join(c, "ParameterRanges"), m);
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    p.finish()?;
    // The training definition is validated as the first training job would be.
    let image = def
        .pointer("/AlgorithmSpecification/TrainingImage")
        .and_then(Value::as_str)
        .unwrap_or("");
    let builtin = crate::config::is_builtin_xgboost(&inner.config.images, image);
    if builtin {
        let problems = builtin::range_problems(&space);
        if !problems.is_empty() {
            return Err(ApiError::validation(problems.join("; ")));
        }
    }
    // Grid runs every combination once: its job count is the number of combinations (a given
    // MaxNumberOfTrainingJobs was checked to equal it above).
    let max_jobs = if strategy == StrategyKind::Grid {
        grid.len()
    } else {
        max_jobs.map_or(1, |v| v as usize)
    };
    let spec = TuningSpec {
        arn: inner.job_arn(JobKind::Tuning, &name),
        name,
        strategy,
        metric,
        maximize,
        max_jobs,
        max_parallel: max_parallel.unwrap_or(1) as usize,
        early_stopping: early == "Auto",
        space,
        static_hps,
        definition: def,
        resource,
        seed,
        target,
        max_runtime,
        builtin,
        grid,
    };
    let sample_name = format!("{}-000-{}", spec.name, name_hash(&spec.name, 0));
    let sample = training_request(
        &spec,
        &sample_name,
        hyperparameters(&spec, &spec.space.values(&vec![0.5; spec.space.dims()])),
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
    let _ = metrics::builtin_xgboost;
    Ok(spec)
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

async fn run(inner: Arc<Inner>, cell: Arc<JobCell>, spec: TuningSpec) {
    tracing::info!(target: "mdlc_emulator", job = %spec.name, strategy = ?spec.strategy, max_jobs = spec.max_jobs, max_parallel = spec.max_parallel, "tuning job started");
    let mut strategy: Box<dyn Strategy> = match spec.strategy {
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
    let mut stopper = Stopper {
        maximize: spec.maximize,
        early_stopping: spec.early_stopping,
        resource: spec.resource,
        rung_levels: spec.resource.map(|(a, b)| rungs(a, b)).unwrap_or_default(),
        rung_values: HashMap::new(),
    };
    let (obs_tx, mut obs_rx) = mpsc::unbounded_channel::<Observation>();
    let mut set: JoinSet<usize> = JoinSet::new();
    let mut trials: Vec<Trial> = Vec::new();
    let mut exhausted = false;
    let mut stopping = false;
    let mut user_stopped = false;
    let mut target_reached = false;
    let mut stop_rx = cell.stop_receiver();
    let deadline = tokio::time::Instant::now()
        + Duration::from_secs(spec.max_runtime.unwrap_or(100 * 365 * 86_400));
    let sign = |v: f64| if spec.maximize { -v } else { v };
    let tuned_names: Vec<String> = spec.space.params.iter().map(|p| p.name.clone()).collect();
    loop {
        while !stopping
            && !exhausted
            && trials.len() < spec.max_jobs
            && set.len() < spec.max_parallel
        {
            let done: Vec<(Vec<f64>, f64)> = trials
                .iter()
                .filter(|t| t.finished)
                .filter_map(|t| {
                    let d = t.cell.as_ref()?.describe();
                    Some((t.u.clone(), sign(objective_of(&d, &spec.metric)?)))
                })
                .collect();
            let pending: Vec<Vec<f64>> = trials
                .iter()
                .filter(|t| !t.finished)
                .map(|t| t.u.clone())
                .collect();
            let Some(u) = strategy.next(&done, &pending) else {
                exhausted = true;
                break;
            };
            let index = trials.len() + 1;
            let name = format!("{}-{index:03}-{}", spec.name, name_hash(&spec.name, index));
            let tuned = spec.space.values(&u);
            let req = training_request(&spec, &name, hyperparameters(&spec, &tuned));
            match training::prepare(&inner, &req, Some(&spec.arn)) {
                Ok((tcell, tspec)) => {
                    tracing::info!(target: "mdlc_emulator", tuning_job = %spec.name, job = %name, hyperparameters = ?tuned, "tuning launched a training job");
                    let i = trials.len();
                    trials.push(Trial {
                        name,
                        u,
                        cell: Some(tcell.clone()),
                        curve: Vec::new(),
                        finished: false,
                    });
                    let fut = training::run(inner.clone(), tcell, tspec, Some(obs_tx.clone()));
                    set.spawn(async move {
                        fut.await;
                        i
                    });
                }
                Err(e) => {
                    tracing::warn!(target: "mdlc_emulator", tuning_job = %spec.name, job = %name, "could not create a training job: {e}");
                    trials.push(Trial {
                        name,
                        u,
                        cell: None,
                        curve: Vec::new(),
                        finished: true,
                    });
                }
            }
            update_counters(&cell, &trials, &spec, &tuned_names);
        }
        if set.is_empty() {
            break;
        }
        tokio::select! {
            joined = set.join_next() => {
                if let Some(Ok(i)) = joined
                    && let Some(t) = trials.get_mut(i)
                {
                    t.finished = true;
                    if let (Some(target), Some(c)) = (spec.target, t.cell.as_ref())
                        && let Some(v) = objective_of(&c.describe(), &spec.metric)
                        && !worse(v, target, spec.maximize)
                    {
                        target_reached = true;
                        stopping = true;
                    }
                }
                update_counters(&cell, &trials, &spec, &tuned_names);
            }
            obs = obs_rx.recv() => {
                if let Some(obs) = obs
                    && obs.metric == spec.metric
                    && let Some(idx) = trials.iter().position(|t| t.name == obs.job)
                {
                    if let Some(t) = trials.get_mut(idx) {
                        t.curve.push(obs.value);
                    }
                    // A job already told to stop may log a few more epochs before SIGTERM lands;
                    // those must not enter a rung or be judged again.
                    let stop_pending = trials
                        .get(idx)
                        .and_then(|t| t.cell.as_ref())
                        .is_some_and(|c| c.stop_requested().is_some());
                    if !stop_pending
                        && let Some(kind) = stopper.decide(&trials, idx, obs.index)
                        && let Some(c) = trials.get(idx).and_then(|t| t.cell.as_ref())
                    {
                        tracing::info!(target: "mdlc_emulator", tuning_job = %spec.name, job = %obs.job, epoch = obs.index, reason = ?kind, "tuning stops a training job");
                        c.request_stop(kind);
                    }
                }
            }
            changed = stop_rx.changed(), if !user_stopped => {
                if changed.is_ok() && stop_rx.borrow().is_some() {
                    user_stopped = true;
                    stopping = true;
                    for t in &trials {
                        if let Some(c) = &t.cell && !t.finished {
                            c.request_stop(StopKind::User);
                        }
                    }
                }
            }
            _ = tokio::time::sleep_until(deadline), if !stopping => {
                stopping = true;
                for t in &trials {
                    if let Some(c) = &t.cell && !t.finished {
                        c.request_stop(StopKind::User);
                    }
                }
            }
        }
    }
    finish(
        &cell,
        &trials,
        &spec,
        &tuned_names,
        user_stopped,
        target_reached,
    );
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
    }

    #[test]
    fn given_hyperband_rungs_when_jobs_report_then_the_worst_stop_and_max_resource_completes() {
        assert_eq!(rungs(1, 27), vec![1, 3, 9]);
        let mut s = Stopper {
            maximize: true,
            early_stopping: false,
            resource: Some((1, 9)),
            rung_levels: rungs(1, 9),
            rung_values: HashMap::new(),
        };
        let trials = vec![trial(&[0.5]), trial(&[0.9]), trial(&[0.1]), trial(&[0.95])];
        assert_eq!(s.decide(&trials, 0, 1), None);
        assert_eq!(s.decide(&trials, 1, 1), None);
        assert_eq!(s.decide(&trials, 2, 1), Some(StopKind::EarlyStopped));
        assert_eq!(s.decide(&trials, 3, 1), None);
        let long = vec![trial(&[0.1; 9])];
        assert_eq!(s.decide(&long, 0, 9), Some(StopKind::MaxResource));
    }

    #[test]
    fn training_job_names_look_like_aws() {
        let n = format!("tune-{:03}-{}", 7, name_hash("tune", 7));
        assert_eq!(n.len(), "tune-007-".len() + 8);
        assert!(n.starts_with("tune-007-"));
        assert_ne!(name_hash("tune", 7), name_hash("tune", 8));
    }
}
