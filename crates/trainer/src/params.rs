//! XGBoost hyperparameters: names, defaults, validation.
//!
//! SageMaker passes hyperparameters as a JSON object of strings; numbers and booleans are
//! accepted too. Every problem is collected, so one failure message lists all bad fields.

use crate::metrics::Metric;
use serde_json::{Map, Value};
use std::fmt;

/// The learning objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    SquaredError,
    Logistic,
}

impl Objective {
    pub fn parse(s: &str) -> Option<Objective> {
        match s {
            "reg:squarederror" | "reg:linear" => Some(Objective::SquaredError),
            "binary:logistic" => Some(Objective::Logistic),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Objective::SquaredError => "reg:squarederror",
            Objective::Logistic => "binary:logistic",
        }
    }

    pub fn default_metric(self) -> Metric {
        match self {
            Objective::SquaredError => Metric::Rmse,
            Objective::Logistic => Metric::Logloss,
        }
    }
}

/// Validated training parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainParams {
    pub num_round: usize,
    pub max_depth: usize,
    pub eta: f64,
    pub gamma: f64,
    pub alpha: f64,
    pub lambda: f64,
    pub min_child_weight: f64,
    pub max_delta_step: f64,
    pub subsample: f64,
    pub colsample_bytree: f64,
    pub colsample_bylevel: f64,
    pub colsample_bynode: f64,
    pub objective: Objective,
    /// Metrics to report; the last one drives early stopping (as in XGBoost).
    pub eval_metrics: Vec<Metric>,
    pub early_stopping_rounds: Option<usize>,
    pub seed: u64,
    pub nthread: usize,
    pub max_bin: usize,
    /// `None`: estimated from the labels (mean, or the positive rate for logistic).
    pub base_score: Option<f64>,
    pub scale_pos_weight: f64,
    pub verbosity: u8,
}

impl TrainParams {
    /// XGBoost's defaults with the given number of rounds.
    pub fn new(num_round: usize) -> TrainParams {
        TrainParams {
            num_round,
            max_depth: 6,
            eta: 0.3,
            gamma: 0.0,
            alpha: 0.0,
            lambda: 1.0,
            min_child_weight: 1.0,
            max_delta_step: 0.0,
            subsample: 1.0,
            colsample_bytree: 1.0,
            colsample_bylevel: 1.0,
            colsample_bynode: 1.0,
            objective: Objective::SquaredError,
            eval_metrics: Vec::new(),
            early_stopping_rounds: None,
            seed: 0,
            nthread: default_threads(),
            max_bin: 256,
            base_score: None,
            scale_pos_weight: 1.0,
            verbosity: 1,
        }
    }

    /// The metrics to report: the configured ones, or the objective's default.
    pub fn metrics(&self) -> Vec<Metric> {
        if self.eval_metrics.is_empty() {
            vec![self.objective.default_metric()]
        } else {
            self.eval_metrics.clone()
        }
    }

    /// Parses and validates a hyperparameter object (SageMaker's `hyperparameters.json`).
    pub fn from_json(hps: &Map<String, Value>) -> Result<TrainParams, HyperparameterErrors> {
        let mut errors = Vec::new();
        let mut p = TrainParams::new(0);
        let mut num_round = None;
        for (raw_name, value) in hps {
            let name = raw_name.as_str();
            if is_platform_key(name) {
                continue;
            }
            let text = match value {
                Value::String(s) => s.trim().to_string(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => {
                    errors.push(HyperparameterError::new(
                        name,
                        format!("must be a string, got {other}"),
                    ));
                    continue;
                }
            };
            let mut ctx = Ctx {
                name,
                text: &text,
                errors: &mut errors,
            };
            match name {
                "num_round" | "num_boost_round" | "n_estimators" => {
                    num_round = ctx.int(1, 1_000_000)
                }
                "max_depth" => {
                    if let Some(v) = ctx.int(1, 30) {
                        p.max_depth = v;
                    }
                }
                "eta" | "learning_rate" => set(&mut p.eta, ctx.float(0.0, 1.0, true, true)),
                "gamma" | "min_split_loss" => {
                    set(&mut p.gamma, ctx.float(0.0, f64::MAX, true, true))
                }
                "alpha" | "reg_alpha" => set(&mut p.alpha, ctx.float(0.0, f64::MAX, true, true)),
                "lambda" | "reg_lambda" => set(&mut p.lambda, ctx.float(0.0, f64::MAX, true, true)),
                "min_child_weight" => set(
                    &mut p.min_child_weight,
                    ctx.float(0.0, f64::MAX, true, true),
                ),
                "max_delta_step" => {
                    set(&mut p.max_delta_step, ctx.float(0.0, f64::MAX, true, true))
                }
                "subsample" => set(&mut p.subsample, ctx.float(0.0, 1.0, false, true)),
                "colsample_bytree" => {
                    set(&mut p.colsample_bytree, ctx.float(0.0, 1.0, false, true))
                }
                "colsample_bylevel" => {
                    set(&mut p.colsample_bylevel, ctx.float(0.0, 1.0, false, true))
                }
                "colsample_bynode" => {
                    set(&mut p.colsample_bynode, ctx.float(0.0, 1.0, false, true))
                }
                "scale_pos_weight" => set(
                    &mut p.scale_pos_weight,
                    ctx.float(0.0, f64::MAX, false, true),
                ),
                "base_score" => {
                    if let Some(v) = ctx.float(f64::MIN, f64::MAX, true, true) {
                        p.base_score = Some(v);
                    }
                }
                "objective" => match Objective::parse(&text) {
                    Some(o) => p.objective = o,
                    None => ctx.fail(format!(
                        "{text:?} is not supported; use reg:squarederror or binary:logistic"
                    )),
                },
                "eval_metric" => {
                    let mut metrics = Vec::new();
                    for part in text
                        .trim_matches(|c| c == '[' || c == ']')
                        .split(',')
                        .map(|s| s.trim().trim_matches(|c| c == '\'' || c == '"'))
                        .filter(|s| !s.is_empty())
                    {
                        match Metric::parse(part) {
                            Some(m) if !metrics.contains(&m) => metrics.push(m),
                            Some(_) => {}
                            None => ctx.fail(format!(
                                "{part:?} is not supported; use rmse, mae, auc, logloss or error"
                            )),
                        }
                    }
                    if metrics.is_empty() && !text.is_empty() {
                        ctx.fail("names no metric".into());
                    }
                    p.eval_metrics = metrics;
                }
                "early_stopping_rounds" => {
                    if let Some(v) = ctx.int(1, 1_000_000) {
                        p.early_stopping_rounds = Some(v);
                    }
                }
                "seed" | "random_state" => match text.parse::<i64>() {
                    Ok(v) => p.seed = v as u64,
                    Err(_) => ctx.fail(format!("{text:?} is not an integer")),
                },
                "nthread" | "n_jobs" => {
                    if let Some(v) = ctx.int(0, 1024) {
                        p.nthread = if v == 0 { default_threads() } else { v };
                    }
                }
                "max_bin" => {
                    if let Some(v) = ctx.int(2, 256) {
                        p.max_bin = v;
                    }
                }
                "verbosity" => {
                    if let Some(v) = ctx.int(0, 3) {
                        p.verbosity = v as u8;
                    }
                }
                "silent" => {
                    if let Some(v) = ctx.int(0, 1) {
                        if v == 1 {
                            p.verbosity = 0;
                        }
                    }
                }
                "tree_method" => ctx.one_of(&["auto", "hist", "approx", "exact"]),
                "booster" => ctx.one_of(&["gbtree"]),
                "grow_policy" => ctx.one_of(&["depthwise"]),
                "num_parallel_tree" => {
                    ctx.int(1, 1);
                }
                "csv_weights" => {
                    ctx.int(0, 0);
                }
                "disable_default_eval_metric" => {
                    ctx.int(0, 1);
                }
                "validate_parameters" => ctx.one_of(&["0", "1", "true", "false"]),
                _ => errors.push(HyperparameterError::new(
                    name,
                    "is not a known hyperparameter".into(),
                )),
            }
        }
        match num_round {
            Some(n) => p.num_round = n,
            None if !hps.contains_key("num_round")
                && !hps.contains_key("num_boost_round")
                && !hps.contains_key("n_estimators") =>
            {
                errors.push(HyperparameterError::new("num_round", "is required".into()))
            }
            None => {}
        }
        if let Some(b) = p.base_score {
            if p.objective == Objective::Logistic && !(b > 0.0 && b < 1.0) {
                errors.push(HyperparameterError::new(
                    "base_score",
                    format!("must be between 0 and 1 (exclusive) for binary:logistic, got {b}"),
                ));
            }
        }
        if p.objective == Objective::SquaredError {
            for m in &p.eval_metrics {
                if matches!(m, Metric::Auc | Metric::Logloss | Metric::Error) {
                    errors.push(HyperparameterError::new(
                        "eval_metric",
                        format!("{m} needs objective binary:logistic"),
                    ));
                }
            }
        }
        if errors.is_empty() {
            Ok(p)
        } else {
            Err(HyperparameterErrors(errors))
        }
    }
}

/// Keys that SageMaker or the SDK add to hyperparameters; they are not XGBoost's.
fn is_platform_key(name: &str) -> bool {
    name.starts_with('_') || name.starts_with("sagemaker_")
}

fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn set<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
    }
}

struct Ctx<'a> {
    name: &'a str,
    text: &'a str,
    errors: &'a mut Vec<HyperparameterError>,
}

impl Ctx<'_> {
    fn fail(&mut self, message: String) {
        self.errors
            .push(HyperparameterError::new(self.name, message));
    }

    fn int(&mut self, min: usize, max: usize) -> Option<usize> {
        // XGBoost's front ends accept "6.0" for an integer; so do we when it is integral.
        let parsed = self.text.parse::<i64>().ok().or_else(|| {
            self.text
                .parse::<f64>()
                .ok()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        });
        match parsed {
            Some(v) if v >= min as i64 && v <= max as i64 => Some(v as usize),
            Some(v) => {
                self.fail(format!(
                    "must be an integer between {min} and {max}, got {v}"
                ));
                None
            }
            None => {
                self.fail(format!("{:?} is not an integer", self.text));
                None
            }
        }
    }

    fn float(&mut self, min: f64, max: f64, min_incl: bool, max_incl: bool) -> Option<f64> {
        match self.text.parse::<f64>() {
            Ok(v) if v.is_finite() => {
                let lo_ok = if min_incl { v >= min } else { v > min };
                let hi_ok = if max_incl { v <= max } else { v < max };
                if lo_ok && hi_ok {
                    Some(v)
                } else {
                    let lo = if min_incl { "[" } else { "(" };
                    let hi = if max_incl { "]" } else { ")" };
                    let max_s = if max == f64::MAX {
                        "inf".to_string()
                    } else {
                        max.to_string()
                    };
                    self.fail(format!("must be in {lo}{min}, {max_s}{hi}, got {v}"));
                    None
                }
            }
            _ => {
                self.fail(format!("{:?} is not a finite number", self.text));
                None
            }
        }
    }

    fn one_of(&mut self, allowed: &[&str]) {
        if !allowed.contains(&self.text) {
            self.fail(format!(
                "{:?} is not supported; use one of {}",
                self.text,
                allowed.join(", ")
            ));
        }
    }
}

/// One bad hyperparameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HyperparameterError {
    pub name: String,
    pub message: String,
}

impl HyperparameterError {
    fn new(name: &str, message: String) -> Self {
        HyperparameterError {
            name: name.to_string(),
            message,
        }
    }
}

/// All problems found in a hyperparameter object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct HyperparameterErrors(pub Vec<HyperparameterError>);

impl fmt::Display for HyperparameterErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid hyperparameters: ")?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{} {}", e.name, e.message)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<TrainParams, HyperparameterErrors> {
        TrainParams::from_json(v.as_object().unwrap())
    }

    #[test]
    fn given_string_values_when_parsed_then_typed_params() {
        let p = parse(json!({
            "num_round": "50", "max_depth": "4", "eta": "0.1", "gamma": "0.5",
            "alpha": "0.1", "lambda": "2", "min_child_weight": "3", "subsample": "0.8",
            "colsample_bytree": "0.7", "objective": "binary:logistic",
            "eval_metric": "logloss,auc", "early_stopping_rounds": "5", "seed": "7",
            "tree_method": "hist", "nthread": "2", "verbosity": "0", "max_bin": "128",
            "_tuning_objective_metric": "validation:auc"
        }))
        .unwrap();
        assert_eq!(p.num_round, 50);
        assert_eq!(p.max_depth, 4);
        assert_eq!(p.objective, Objective::Logistic);
        assert_eq!(p.eval_metrics, vec![Metric::Logloss, Metric::Auc]);
        assert_eq!(p.early_stopping_rounds, Some(5));
        assert_eq!(p.seed, 7);
        assert_eq!(p.nthread, 2);
        assert_eq!(p.max_bin, 128);
        assert!((p.subsample - 0.8).abs() < 1e-12);
    }

    #[test]
    fn given_integral_float_text_when_parsed_as_integer_then_accepted() {
        let p = parse(json!({"num_round": "10.0", "max_depth": 3})).unwrap();
        assert_eq!(p.num_round, 10);
        assert_eq!(p.max_depth, 3);
    }

    #[test]
    fn given_missing_num_round_when_parsed_then_required_error() {
        let err = parse(json!({"eta": "0.1"})).unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert_eq!(err.0[0].name, "num_round");
    }

    #[test]
    fn given_several_bad_values_when_parsed_then_every_one_is_named() {
        let err = parse(json!({
            "num_round": "0", "eta": "abc", "subsample": "0", "max_depth": "-1",
            "objective": "reg:gamma", "eval_metric": "mape", "bogus": "1",
            "tree_method": "gpu_hist"
        }))
        .unwrap_err();
        let names: Vec<&str> = err.0.iter().map(|e| e.name.as_str()).collect();
        for n in [
            "num_round",
            "eta",
            "subsample",
            "max_depth",
            "objective",
            "eval_metric",
            "bogus",
            "tree_method",
        ] {
            assert!(names.contains(&n), "{n} missing from {err}");
        }
        assert!(
            err.to_string()
                .contains("bogus is not a known hyperparameter")
        );
    }

    #[test]
    fn given_classification_metric_with_regression_when_parsed_then_error() {
        let err = parse(json!({"num_round": "5", "eval_metric": "auc"})).unwrap_err();
        assert_eq!(err.0[0].name, "eval_metric");
    }

    #[test]
    fn given_defaults_when_metrics_then_objective_default() {
        let p = parse(json!({"num_round": "5"})).unwrap();
        assert_eq!(p.metrics(), vec![Metric::Rmse]);
        assert_eq!(p.eta, 0.3);
        assert_eq!(p.max_depth, 6);
    }
}
