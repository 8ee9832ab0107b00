//! The one table of SageMaker's built-in XGBoost hyperparameters: name, type, valid range,
//! default and what the built-in trainer does with each. It drives the trainer's validation
//! ([`crate::params`]), the emulator's checks of tuning ranges for the built-in image, the
//! generated reference `docs/xgboost-hyperparameters.md` and the table tests.
//!
//! Sources (see [`Source`]): the hyperparameter validation of the SageMaker XGBoost container
//! (aws/sagemaker-xgboost-container, `algorithm_mode/hyperparameter_validation.py`, versions
//! 1.7-1 and 3.0-5), SageMaker's "XGBoost hyperparameters" page, the DMLC XGBoost parameter
//! reference it defers to, and AWS's Step Functions sample "Tune a machine learning model".
//!
//! Validation follows the container's order and words (`sagemaker_algorithm_toolkit`):
//! aliases are replaced, a missing required name is `Missing required hyperparameter: X`, an
//! unknown name `Extraneous hyperparameter found: X`, an unparsable value
//! `Hyperparameter X: could not parse value`, a value outside its range
//! `Hyperparameter X: V is not in R`, then the dependency rules. Unlike the container, which
//! stops at the first problem, every problem is reported.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

/// One end of a numeric range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    Unbounded,
    Open(f64),
    Closed(f64),
}

/// The type and valid values of a hyperparameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Integer {
        min: Bound,
        max: Bound,
    },
    Continuous {
        min: Bound,
        max: Bound,
    },
    Categorical(&'static [&'static str]),
    /// Comma-separated values, each one of the list (`updater`).
    CommaSeparatedList(&'static [&'static str]),
    /// Comma-separated metric names; `error`, `ndcg` and `map` take an `@t` threshold.
    Metrics,
    /// `validation:<metric>` for a metric of [`METRICS`] (`_tuning_objective_metric`).
    TuningMetric,
    /// A tuple of integers from the list (`monotone_constraints`, e.g. `(1,0,-1)`).
    Tuple(&'static [i64]),
    /// A list of lists of integers of at least `min` (`interaction_constraints`).
    NestedList {
        min: i64,
    },
}

/// What the built-in trainer does with a hyperparameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Used as XGBoost uses it.
    Honoured,
    /// Accepted and validated; the job's log says it has no effect on the built-in trainer.
    NoEffect(&'static str),
    /// Honoured for the values named; any other valid value fails the job.
    Limited(&'static str),
}

/// Where a hyperparameter and its range are documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The SageMaker XGBoost container's hyperparameter validation (1.7-1, 3.0-5).
    Container,
    /// SageMaker's "XGBoost hyperparameters" page (not in the container's 1.7-1 validation).
    SageMakerDocs,
    /// The DMLC XGBoost parameter reference.
    Dmlc,
    /// Sent by AWS's Step Functions sample "Tune a machine learning model".
    StepFunctionsSample,
}

impl Source {
    pub fn label(self) -> &'static str {
        match self {
            Source::Container => "container",
            Source::SageMakerDocs => "SageMaker docs",
            Source::Dmlc => "DMLC XGBoost",
            Source::StepFunctionsSample => "Step Functions sample",
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hyperparameter {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    pub required: bool,
    /// The documented default, as text ("-" when there is none).
    pub default: &'static str,
    pub effect: Effect,
    pub source: Source,
}

const INF: Bound = Bound::Unbounded;
const fn closed(v: f64) -> Bound {
    Bound::Closed(v)
}
const fn open(v: f64) -> Bound {
    Bound::Open(v)
}
const fn int(min: Bound, max: Bound) -> Kind {
    Kind::Integer { min, max }
}
const fn cont(min: Bound, max: Bound) -> Kind {
    Kind::Continuous { min, max }
}
const fn row(
    name: &'static str,
    kind: Kind,
    default: &'static str,
    effect: Effect,
) -> Hyperparameter {
    Hyperparameter {
        name,
        aliases: &[],
        kind,
        required: false,
        default,
        effect,
        source: Source::Container,
    }
}
const fn from(mut h: Hyperparameter, source: Source) -> Hyperparameter {
    h.source = source;
    h
}
const fn aka(mut h: Hyperparameter, aliases: &'static [&'static str]) -> Hyperparameter {
    h.aliases = aliases;
    h
}

const H: Effect = Effect::Honoured;
const GPU: Effect = Effect::NoEffect("GPU or distributed training only");
const DART: Effect = Effect::NoEffect("used by the dart booster only");
const LINEAR: Effect = Effect::NoEffect("used by the gblinear booster only");
const TREE_BUILDER: Effect =
    Effect::NoEffect("the built-in trainer always grows trees depthwise from histograms");

/// The objectives the container accepts.
pub const OBJECTIVES: &[&str] = &[
    "aft_loss_distribution",
    "binary:logistic",
    "binary:logitraw",
    "binary:hinge",
    "count:poisson",
    "multi:softmax",
    "multi:softprob",
    "rank:pairwise",
    "rank:ndcg",
    "rank:map",
    "reg:linear",
    "reg:squarederror",
    "reg:logistic",
    "reg:gamma",
    "reg:pseudohubererror",
    "reg:squaredlogerror",
    "reg:absoluteerror",
    "reg:tweedie",
    "survival:aft",
    "survival:cox",
];

/// The metrics the container accepts (`XGB_MAXIMIZE_METRICS` then `XGB_MINIMIZE_METRICS`).
pub const METRICS: &[&str] = &[
    "accuracy",
    "auc",
    "aucpr",
    "balanced_accuracy",
    "f1",
    "f1_binary",
    "f1_macro",
    "map",
    "ndcg",
    "precision",
    "r2",
    "recall",
    "precision_macro",
    "precision_micro",
    "recall_macro",
    "recall_micro",
    "aft-nloglik",
    "cox-nloglik",
    "error",
    "gamma-deviance",
    "gamma-nloglik",
    "interval-regression-accuracy",
    "logloss",
    "mae",
    "mape",
    "merror",
    "mlogloss",
    "mphe",
    "mse",
    "poisson-nloglik",
    "rmse",
    "rmsle",
    "tweedie-nloglik",
];

/// The `updater` values the container's range lists (its order, duplicates removed).
const UPDATERS: &[&str] = &[
    "grow_colmaker",
    "distcol",
    "grow_histmaker",
    "grow_skmaker",
    "sync",
    "refresh",
    "prune",
    "shotgun",
    "coord_descent",
];

const TRUE_FALSE: &[&str] = &["true", "false"];
const DMLC_BOOL: &[&str] = &["true", "false", "1", "0"];

/// Every hyperparameter SageMaker's built-in XGBoost accepts, in the container's order,
/// followed by those documented elsewhere.
pub const XGBOOST_HYPERPARAMETERS: &[Hyperparameter] = &[
    Hyperparameter {
        required: true,
        ..row("num_round", int(closed(1.0), INF), "-", H)
    },
    row(
        "csv_weights",
        int(closed(0.0), closed(1.0)),
        "0",
        Effect::Limited("0; 1 (instance weights in the column after the label) fails the job"),
    ),
    row("early_stopping_rounds", int(closed(1.0), INF), "-", H),
    row(
        "booster",
        Kind::Categorical(&["gbtree", "gblinear", "dart"]),
        "gbtree",
        Effect::Limited("gbtree"),
    ),
    row("verbosity", int(closed(0.0), closed(3.0)), "1", H),
    row("nthread", int(closed(1.0), INF), "all cores", H),
    aka(
        row("eta", cont(closed(0.0), closed(1.0)), "0.3", H),
        &["learning_rate"],
    ),
    aka(
        row("gamma", cont(closed(0.0), INF), "0", H),
        &["min_split_loss"],
    ),
    row("max_depth", int(closed(0.0), INF), "6", H),
    row("min_child_weight", cont(closed(0.0), INF), "1", H),
    row("max_delta_step", cont(closed(0.0), INF), "0", H),
    row("subsample", cont(open(0.0), closed(1.0)), "1", H),
    row("colsample_bytree", cont(open(0.0), closed(1.0)), "1", H),
    row("colsample_bylevel", cont(open(0.0), closed(1.0)), "1", H),
    row("colsample_bynode", cont(open(0.0), closed(1.0)), "1", H),
    aka(
        row("lambda", cont(closed(0.0), INF), "1", H),
        &["reg_lambda"],
    ),
    aka(row("alpha", cont(closed(0.0), INF), "0", H), &["reg_alpha"]),
    row(
        "tree_method",
        Kind::Categorical(&["auto", "exact", "approx", "hist", "gpu_hist"]),
        "auto",
        TREE_BUILDER,
    ),
    row(
        "sketch_eps",
        cont(open(0.0), open(1.0)),
        "0.03",
        TREE_BUILDER,
    ),
    row("scale_pos_weight", cont(open(0.0), INF), "1", H),
    row(
        "updater",
        Kind::CommaSeparatedList(UPDATERS),
        "grow_colmaker,prune",
        TREE_BUILDER,
    ),
    row("dsplit", Kind::Categorical(&["row", "col"]), "row", GPU),
    row(
        "refresh_leaf",
        int(closed(0.0), closed(1.0)),
        "1",
        Effect::NoEffect("used by the refresh updater only"),
    ),
    row(
        "process_type",
        Kind::Categorical(&["default", "update"]),
        "default",
        Effect::Limited("default; update (refreshing an existing model) fails the job"),
    ),
    row(
        "grow_policy",
        Kind::Categorical(&["depthwise", "lossguide"]),
        "depthwise",
        TREE_BUILDER,
    ),
    row("max_leaves", int(closed(0.0), INF), "0", TREE_BUILDER),
    row(
        "max_bin",
        int(closed(0.0), INF),
        "256",
        Effect::Limited("2 and more (XGBoost's lower bound); more than 255 bins use 255"),
    ),
    row(
        "predictor",
        Kind::Categorical(&["auto", "cpu_predictor", "gpu_predictor"]),
        "auto",
        GPU,
    ),
    row(
        "monotone_constraints",
        Kind::Tuple(&[-1, 0, 1]),
        "()",
        Effect::Limited("all 0 (no constraint); any other constraint fails the job"),
    ),
    row(
        "interaction_constraints",
        Kind::NestedList { min: 1 },
        "-",
        Effect::Limited("none; any constraint fails the job"),
    ),
    row(
        "sample_type",
        Kind::Categorical(&["uniform", "weighted"]),
        "uniform",
        DART,
    ),
    row(
        "normalize_type",
        Kind::Categorical(&["tree", "forest"]),
        "tree",
        DART,
    ),
    row("rate_drop", cont(closed(0.0), closed(1.0)), "0", DART),
    row("one_drop", int(closed(0.0), closed(1.0)), "0", DART),
    row("skip_drop", cont(closed(0.0), closed(1.0)), "0", DART),
    row("lambda_bias", cont(closed(0.0), closed(1.0)), "0", LINEAR),
    row(
        "tweedie_variance_power",
        cont(open(1.0), open(2.0)),
        "1.5",
        Effect::NoEffect("used by the reg:tweedie objective only"),
    ),
    row(
        "objective",
        Kind::Categorical(OBJECTIVES),
        "reg:squarederror",
        Effect::Limited("reg:squarederror, reg:linear, binary:logistic"),
    ),
    row(
        "num_class",
        int(closed(2.0), INF),
        "-",
        Effect::NoEffect("used by the multi: objectives only"),
    ),
    row(
        "base_score",
        cont(closed(0.0), INF),
        "0.5 (built-in trainer: estimated from the labels)",
        H,
    ),
    row(
        "_kfold",
        int(closed(2.0), INF),
        "-",
        Effect::Limited("none; k-fold cross-validation fails the job"),
    ),
    row(
        "_num_cv_round",
        int(closed(1.0), INF),
        "1",
        Effect::NoEffect("used by k-fold cross-validation only"),
    ),
    row(
        "_tuning_objective_metric",
        Kind::TuningMetric,
        "-",
        Effect::Limited("validation:rmse, mae, auc, logloss, error (added to eval_metric)"),
    ),
    row(
        "eval_metric",
        Kind::Metrics,
        "by objective",
        Effect::Limited("rmse, mae, auc, logloss, error"),
    ),
    row(
        "seed",
        int(open(-2_147_483_648.0), open(2_147_483_647.0)),
        "0",
        H,
    ),
    row(
        "num_parallel_tree",
        int(closed(1.0), INF),
        "1",
        Effect::Limited("1; boosted random forests fail the job"),
    ),
    row(
        "save_model_on_termination",
        Kind::Categorical(TRUE_FALSE),
        "false",
        Effect::NoEffect("the built-in trainer writes the model only at the end"),
    ),
    row(
        "aft_loss_distribution",
        Kind::Categorical(&["normal", "logistic", "extreme"]),
        "normal",
        Effect::NoEffect("used by the survival:aft objective only"),
    ),
    row(
        "aft_loss_distribution_scale",
        cont(closed(0.0), INF),
        "1",
        Effect::NoEffect("used by the survival:aft objective only"),
    ),
    row(
        "deterministic_histogram",
        Kind::Categorical(TRUE_FALSE),
        "true",
        Effect::NoEffect("GPU only; the built-in trainer's histograms are always deterministic"),
    ),
    row(
        "sampling_method",
        Kind::Categorical(&["uniform", "gradient_based"]),
        "uniform",
        GPU,
    ),
    row("prob_buffer_row", int(open(1.0), INF), "1", GPU),
    row(
        "use_dask_gpu_training",
        Kind::Categorical(TRUE_FALSE),
        "false",
        GPU,
    ),
    from(
        row(
            "single_precision_histogram",
            Kind::Categorical(TRUE_FALSE),
            "false",
            Effect::NoEffect("the built-in trainer's histograms use double precision"),
        ),
        Source::SageMakerDocs,
    ),
    from(
        row(
            "disable_default_eval_metric",
            Kind::Categorical(DMLC_BOOL),
            "false",
            Effect::NoEffect("the default metric is always reported"),
        ),
        Source::Dmlc,
    ),
    from(
        row(
            "validate_parameters",
            Kind::Categorical(DMLC_BOOL),
            "false",
            Effect::NoEffect("every hyperparameter is always validated"),
        ),
        Source::Dmlc,
    ),
    from(
        row(
            "precision_dtype",
            Kind::Categorical(&["float32", "float16"]),
            "float32",
            Effect::NoEffect("the built-in trainer computes in 32- and 64-bit floats"),
        ),
        Source::StepFunctionsSample,
    ),
];

/// The table row for `name` or one of its aliases.
pub fn lookup(name: &str) -> Option<&'static Hyperparameter> {
    XGBOOST_HYPERPARAMETERS
        .iter()
        .find(|h| h.name == name || h.aliases.contains(&name))
}

/// A parsed, range-checked value.
#[derive(Debug, Clone, PartialEq)]
pub enum HpValue {
    Int(i64),
    Float(f64),
    Text(String),
    List(Vec<String>),
    Tuple(Vec<i64>),
    Nested(Vec<Vec<i64>>),
}

/// Formats a bound value as Python's `str` prints the container's interval ends: integers
/// without a fraction (`0`, `1`), others in their shortest form (`0.5`). Rust's `Display` of
/// an `f64` does both (it never adds `.0`); the table has no bound of 1e16 or more, where
/// Python would switch to an exponent.
fn bound_number(v: f64) -> String {
    format!("{v}")
}

/// The range as the container prints it: `[0, +inf)`, `(0, 1]`, `['gbtree', 'gblinear', 'dart']`.
pub fn range_text(kind: &Kind) -> String {
    match kind {
        Kind::Integer { min, max } | Kind::Continuous { min, max } => {
            let lo = match min {
                Bound::Unbounded => "(-inf, ".to_string(),
                Bound::Open(v) => format!("({}, ", bound_number(*v)),
                Bound::Closed(v) => format!("[{}, ", bound_number(*v)),
            };
            let hi = match max {
                Bound::Unbounded => "+inf)".to_string(),
                Bound::Open(v) => format!("{})", bound_number(*v)),
                Bound::Closed(v) => format!("{}]", bound_number(*v)),
            };
            lo + &hi
        }
        Kind::Categorical(values) | Kind::CommaSeparatedList(values) => python_list(values),
        Kind::Metrics => "the XGBoost metrics (name, or error/ndcg/map@t)".to_string(),
        Kind::TuningMetric => "validation:<metric>".to_string(),
        Kind::Tuple(values) => format!(
            "[{}]",
            values
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Kind::NestedList { min } => format!("[{min}, +inf)"),
    }
}

fn python_list(values: &[&str]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// The type name the container gives (`hyperparameter_validation.py` classes).
pub fn type_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Integer { .. } => "Integer",
        Kind::Continuous { .. } => "Continuous",
        Kind::Categorical(_) | Kind::TuningMetric => "Categorical",
        Kind::CommaSeparatedList(_) | Kind::Metrics => "CommaSeparatedList",
        Kind::Tuple(_) => "Tuple",
        Kind::NestedList { .. } => "NestedList",
    }
}

fn in_bounds(v: f64, min: Bound, max: Bound) -> bool {
    let lo = match min {
        Bound::Unbounded => true,
        Bound::Open(m) => v > m,
        Bound::Closed(m) => v >= m,
    };
    let hi = match max {
        Bound::Unbounded => true,
        Bound::Open(m) => v < m,
        Bound::Closed(m) => v <= m,
    };
    lo && hi
}

/// An integer as the container reads one in algorithm mode: Python's `int(text)` of the raw
/// string (`IntegerHyperparameter.parse`), so surrounding whitespace, a sign and underscores
/// between digits are allowed, and `2.0` or `1e3` are not numbers. Integers beyond 64 bits
/// are refused here (Python would read them and leave the failure to XGBoost).
fn parse_int(text: &str) -> Option<i64> {
    let t = text.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    let well_formed = !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    if !well_formed {
        return None;
    }
    t.replace('_', "").parse::<i64>().ok()
}

fn parse_float(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Whether `metric` is a metric the container accepts (`eval_metric_range_validator`).
fn metric_ok(metric: &str) -> Result<(), String> {
    if let Some((name, threshold)) = metric.split_once('@') {
        let name = name.trim();
        if !["error", "ndcg", "map"].contains(&name) {
            return Err(format!(
                "Metric '{metric}' is not supported. Parameter 'eval_metric' with customized threshold should be one of these options: 'error', 'ndcg', 'map'."
            ));
        }
        if threshold.trim().parse::<f64>().is_err() {
            return Err(format!(
                "Threshold value 't' in '{name}@t' expects float input."
            ));
        }
        return Ok(());
    }
    if METRICS.contains(&metric) {
        Ok(())
    } else {
        Err(String::new())
    }
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',').map(|s| s.trim().to_string()).collect()
}

/// Parses `(1, 0, -1)` or `[1,0,-1]`.
fn parse_tuple(text: &str) -> Option<Vec<i64>> {
    let t = text.trim();
    let inner = t
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .or_else(|| t.strip_prefix('[').and_then(|s| s.strip_suffix(']')))?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<i64>().ok())
        .collect()
}

/// Parses `[[1, 2], [3, 4, 5]]`.
fn parse_nested(text: &str) -> Option<Vec<Vec<i64>>> {
    let t = text.trim();
    let inner = t.strip_prefix('[')?.strip_suffix(']')?.trim();
    let mut out = Vec::new();
    let mut rest = inner;
    while !rest.is_empty() {
        let open = rest.strip_prefix('[')?;
        let end = open.find(']')?;
        out.push(parse_tuple(&format!("[{}]", &open[..end]))?);
        rest = open[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Some(out)
}

/// Parses and range-checks one value against its row; the error is the container's text.
pub fn check_value(h: &Hyperparameter, text: &str) -> Result<HpValue, String> {
    let name = h.name;
    let unparsable = || format!("Hyperparameter {name}: could not parse value");
    let outside = |shown: String| {
        format!(
            "Hyperparameter {name}: {shown} is not in {}",
            range_text(&h.kind)
        )
    };
    match h.kind {
        Kind::Integer { min, max } => {
            let v = parse_int(text).ok_or_else(unparsable)?;
            if in_bounds(v as f64, min, max) {
                Ok(HpValue::Int(v))
            } else {
                Err(outside(v.to_string()))
            }
        }
        Kind::Continuous { min, max } => {
            let v = parse_float(text).ok_or_else(unparsable)?;
            if in_bounds(v, min, max) {
                Ok(HpValue::Float(v))
            } else {
                Err(outside(format!("{v:?}")))
            }
        }
        Kind::Categorical(values) => {
            if values.contains(&text) {
                Ok(HpValue::Text(text.to_string()))
            } else {
                Err(outside(text.to_string()))
            }
        }
        Kind::CommaSeparatedList(values) => {
            let list = split_list(text);
            if list.iter().all(|v| values.contains(&v.as_str())) {
                Ok(HpValue::List(list))
            } else {
                Err(format!(
                    "Hyperparameter {name}: value {} not in range {}",
                    python_list(&list.iter().map(String::as_str).collect::<Vec<_>>()),
                    python_list(values)
                ))
            }
        }
        Kind::Metrics => {
            let list = split_list(text);
            for m in &list {
                match metric_ok(m) {
                    Ok(()) => {}
                    Err(message) if !message.is_empty() => return Err(message),
                    Err(_) => {
                        return Err(format!(
                            "Hyperparameter {name}: value {} not in range {}",
                            python_list(&list.iter().map(String::as_str).collect::<Vec<_>>()),
                            python_list(METRICS)
                        ));
                    }
                }
            }
            Ok(HpValue::List(list))
        }
        Kind::TuningMetric => match text.strip_prefix("validation:") {
            Some(m) if METRICS.contains(&m) => Ok(HpValue::Text(text.to_string())),
            _ => Err(format!(
                "Hyperparameter {name}: {text} is not in {}",
                python_list(
                    &METRICS
                        .iter()
                        .map(|m| format!("validation:{m}"))
                        .collect::<Vec<_>>()
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                )
            )),
        },
        Kind::Tuple(values) => {
            let t = parse_tuple(text).ok_or_else(unparsable)?;
            if t.iter().all(|v| values.contains(v)) {
                Ok(HpValue::Tuple(t))
            } else {
                Err(format!(
                    "Hyperparameter {name}: value {text} not in range {}",
                    range_text(&h.kind)
                ))
            }
        }
        Kind::NestedList { min } => {
            let n = parse_nested(text).ok_or_else(unparsable)?;
            if n.iter().flatten().all(|v| *v >= min) {
                Ok(HpValue::Nested(n))
            } else {
                Err(format!(
                    "Hyperparameter {name}: value {text} not in range {}",
                    range_text(&h.kind)
                ))
            }
        }
    }
}

/// One rejected hyperparameter: the (canonical) name and the container-style message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub name: String,
    pub message: String,
}

/// Hyperparameters that passed the table: canonical name → value.
pub type Validated = BTreeMap<&'static str, HpValue>;

/// Keys the SageMaker SDK adds for its own use (`sagemaker_program`, ...); not XGBoost's.
pub fn is_sdk_key(name: &str) -> bool {
    name.starts_with("sagemaker_")
}

/// Validates hyperparameters (as strings) against the table, as the container does: aliases,
/// required names, unknown names, parsing and ranges, then the dependency rules.
pub fn validate(hps: &BTreeMap<String, String>) -> Result<Validated, Vec<Rejection>> {
    let mut errors = Vec::new();
    let mut out = Validated::new();
    for (raw, text) in hps {
        if is_sdk_key(raw) {
            continue;
        }
        let Some(h) = lookup(raw) else {
            errors.push(Rejection {
                name: raw.clone(),
                message: format!("Extraneous hyperparameter found: {raw}"),
            });
            continue;
        };
        match check_value(h, text.trim()) {
            Ok(v) => {
                out.insert(h.name, v);
            }
            Err(message) => errors.push(Rejection {
                name: h.name.to_string(),
                message,
            }),
        }
    }
    for h in XGBOOST_HYPERPARAMETERS.iter().filter(|h| h.required) {
        let given = hps
            .keys()
            .any(|k| lookup(k).is_some_and(|r| r.name == h.name));
        if !given {
            errors.push(Rejection {
                name: h.name.to_string(),
                message: format!("Missing required hyperparameter: {}", h.name),
            });
        }
    }
    check_dependencies(&out, &mut errors);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn text_of<'a>(v: &'a Validated, name: &str) -> Option<&'a str> {
    match v.get(name) {
        Some(HpValue::Text(t)) => Some(t.as_str()),
        _ => None,
    }
}

/// The container's dependency validators.
fn check_dependencies(v: &Validated, errors: &mut Vec<Rejection>) {
    let mut fail = |name: &str, message: String| {
        errors.push(Rejection {
            name: name.to_string(),
            message,
        })
    };
    let objective = text_of(v, "objective");
    if matches!(objective, Some("multi:softmax" | "multi:softprob")) && !v.contains_key("num_class")
    {
        fail(
            "objective",
            "Require input for parameter 'num_class' for multi-classification".into(),
        );
    }
    if let Some(HpValue::List(metrics)) = v.get("eval_metric") {
        let objective = objective.unwrap_or("reg:squarederror");
        if metrics.iter().any(|m| m.contains("auc"))
            && !(objective.starts_with("binary:") || objective.starts_with("rank:"))
        {
            fail(
                "eval_metric",
                "Metric 'auc' can only be applied for classification and ranking problems.".into(),
            );
        }
        if metrics.iter().any(|m| m.contains("aft-nloglik")) && objective != "survival:aft" {
            fail(
                "eval_metric",
                "Metric 'aft-nloglik' can only be applied for 'survival:aft' objective.".into(),
            );
        }
    }
    let tree_method = text_of(v, "tree_method");
    if v.contains_key("monotone_constraints") && !matches!(tree_method, Some("exact" | "hist")) {
        fail("monotone_constraints", "monotone_constraints can be used only when the tree_method parameter is set to either 'exact' or 'hist'.".into());
    }
    if v.contains_key("interaction_constraints")
        && !matches!(tree_method, Some("exact" | "hist" | "approx"))
    {
        fail("interaction_constraints", "interaction_constraints can be used only when the tree_method parameter is set to either 'exact', 'hist' or 'approx'.".into());
    }
    if let Some(HpValue::List(updaters)) = v.get("updater") {
        check_updaters(v, updaters, &mut fail);
    }
}

fn check_updaters(v: &Validated, updaters: &[String], fail: &mut impl FnMut(&str, String)) {
    let linear = ["shotgun", "coord_descent"];
    let build = ["grow_colmaker", "distcol", "grow_histmaker"];
    if text_of(v, "booster") == Some("gblinear") {
        if !(updaters.len() == 1 && linear.contains(&updaters[0].as_str())) {
            fail(
                "updater",
                "Linear updater should be one of these options: 'shotgun', 'coord_descent'.".into(),
            );
        }
    } else if text_of(v, "process_type") == Some("update") {
        if !updaters.iter().all(|u| u == "refresh" || u == "prune") {
            fail(
                "updater",
                "process_type 'update' can only be used with updater 'refresh' and 'prune'".into(),
            );
        }
    } else if updaters.iter().any(|u| linear.contains(&u.as_str())) {
        fail("updater", "Tree updater should be selected from these options: 'grow_colmaker', 'distcol', 'grow_histmaker', 'grow_skmaker', 'grow_quantile_histmaker', 'sync', 'refresh', 'prune', 'shortgun', 'coord_descent'.".into());
    } else if updaters
        .iter()
        .filter(|u| build.contains(&u.as_str()))
        .count()
        > 1
    {
        fail("updater", "Only one tree grow plugin can be selected. Choose one from thefollowing: 'grow_colmaker', 'distcol', 'grow_histmaker', 'grow_skmaker'".into());
    }
}

/// Why a tuned range does not fit the built-in algorithm (`None`: it fits). `min`/`max` are
/// the range's `MinValue`/`MaxValue`; `integer` tells an `IntegerParameterRanges` entry.
pub fn check_numeric_range(name: &str, min: &str, max: &str, integer: bool) -> Option<String> {
    let Some(h) = lookup(name) else {
        return Some(format!(
            "{name} is not a hyperparameter of the built-in XGBoost algorithm (Extraneous hyperparameter found: {name})"
        ));
    };
    match h.kind {
        Kind::Integer { .. } if !integer => {
            return Some(format!(
                "{name} is an Integer hyperparameter of the built-in XGBoost algorithm; tune it with IntegerParameterRanges"
            ));
        }
        Kind::Integer { .. } | Kind::Continuous { .. } => {}
        _ => {
            return Some(format!(
                "{name} is a {} hyperparameter of the built-in XGBoost algorithm; tune it with CategoricalParameterRanges",
                type_name(&h.kind)
            ));
        }
    }
    for end in [min, max] {
        if let Err(message) = check_value(h, end.trim()) {
            return Some(message);
        }
    }
    None
}

/// Why a tuned categorical range does not fit the built-in algorithm (`None`: it fits).
pub fn check_categorical_range(name: &str, values: &[String]) -> Option<String> {
    let Some(h) = lookup(name) else {
        return Some(format!(
            "{name} is not a hyperparameter of the built-in XGBoost algorithm (Extraneous hyperparameter found: {name})"
        ));
    };
    values.iter().find_map(|v| check_value(h, v.trim()).err())
}

/// The reference table in Markdown (docs/xgboost-hyperparameters.md).
pub fn markdown() -> String {
    let mut s = String::new();
    s.push_str("# SageMaker XGBoost hyperparameters and the built-in trainer\n\n");
    s.push_str("<!-- Generated from crates/trainer/src/hyperparameters.rs by `MDLC_UPDATE_DOCS=1 cargo nextest run -p mdlc-trainer --test hyperparameter_table`, which otherwise checks that this file is current. -->\n\n");
    s.push_str("Every hyperparameter SageMaker's built-in XGBoost algorithm accepts, with its type and\nvalid range. The built-in trainer (`mdlc-trainer`) and the emulator validate against this\ntable with the SageMaker XGBoost container's messages (`Extraneous hyperparameter found: X`,\n`Hyperparameter X: V is not in R`, `Missing required hyperparameter: num_round`). A\nhyperparameter is either honoured, honoured for the values named (another valid value fails\nthe job with a message saying so), or accepted with no effect: the job's log then has one\nline `[mdlc-trainer] hyperparameter X=V has no effect on the built-in trainer: why`.\n\nSources: *container* is the hyperparameter validation of the SageMaker XGBoost container\n(aws/sagemaker-xgboost-container, `hyperparameter_validation.py`, 1.7-1 and 3.0-5);\n*SageMaker docs* the \"XGBoost hyperparameters\" page of the SageMaker developer guide;\n*DMLC XGBoost* the XGBoost parameter reference that page defers to; *Step Functions sample*\nAWS's \"Tune a machine learning model\" sample project, which sends `precision_dtype`.\n`max_depth` 0 means no depth limit (XGBoost); with `tree_method` exact it fails, as exact\nneeds a non-zero depth.\n\n");
    s.push_str("| Name | Aliases | Type | Range | Default | Built-in trainer | Source |\n");
    s.push_str("| --- | --- | --- | --- | --- | --- | --- |\n");
    for h in XGBOOST_HYPERPARAMETERS {
        let effect = match h.effect {
            Effect::Honoured => "honoured".to_string(),
            Effect::NoEffect(why) => format!("no effect ({why})"),
            Effect::Limited(values) => format!("honoured for: {values}"),
        };
        let required = if h.required { " (required)" } else { "" };
        let _ = writeln!(
            s,
            "| `{}`{required} | {} | {} | `{}` | {} | {} | {} |",
            h.name,
            h.aliases
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", "),
            type_name(&h.kind),
            range_text(&h.kind).replace('|', "\\|"),
            h.default,
            effect,
            h.source.label()
        );
    }
    s
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
